"""A second observation for the VAE: features of the frame from a frozen teacher network.

The VAE's observation becomes the pair (frame, t), where t are a teacher's
features of the frame (whitened), and the decoder gains a head that predicts
t from z under a Gaussian likelihood with fixed variance::

    L = Σ_pixels (x - x̂)² / (2 · obs_var) + w · ½ ‖t - t̂(z)‖² + β · KL(q(z|x) ‖ N(0, I))

so the ELBO now also asks z to carry what the teacher sees (the weight w is
1 / the teacher term's variance). The encoder still reads pixels only: the
teacher and the head are needed for training, never to extract features.

With a hybrid latent (``latent_global`` > 0) the head is linear on the global
code alone, which lines that part of z up with the teacher's directions (what a
linear classifier on the features sees); otherwise it is a small MLP on z.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from featkit.encoders.vae import VAE, LatentSlice, kl_divergence, reconstruction_nll

__all__ = ["DistillationVAE", "build_distillation_vae"]


class DistillationVAE(VAE):
    """A :class:`~featkit.encoders.vae.VAE` whose observation is the frame and its teacher features.

    Parameters
    ----------
    vae : VAE
        Its encoder, decoder, β, obs_var and seed are used (the layers are shared).
    head : keras.Model
        z -> predicted teacher features.
    weight : float
        Weight of the teacher term.

    """

    def __init__(self, vae: VAE, head: keras.Model, weight: float, **kwargs: Any) -> None:
        super().__init__(vae.encoder, vae.decoder, beta=vae.beta, obs_var=vae.obs_var, seed=vae.seed, **kwargs)
        self.head = head
        self.weight = float(weight)
        self.teacher_tracker = keras.metrics.Mean(name="teacher")

    def call(self, x: Any, training: bool = False) -> tuple[Any, ...]:
        mu, logvar = self.encoder(x, training=training)
        z = self.sampler([mu, logvar]) if training else mu
        return self.decoder(z, training=training), mu, logvar, self.head(z, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        x_hat, mu, logvar, t_hat = y_pred
        recon = reconstruction_nll(x, x_hat, self.obs_var)
        kl = kl_divergence(mu, logvar)
        teach = 0.5 * ops.sum(ops.square(y - t_hat), axis=-1)
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        self.teacher_tracker.update_state(teach)
        return ops.mean(recon + self.beta * kl + self.weight * teach)

    @property
    def metrics(self) -> list[Any]:
        return [*super().metrics, self.teacher_tracker]


def build_distillation_vae(vae: Any, target_dim: int, weight: float) -> DistillationVAE:
    """A model sharing ``vae``'s encoder and decoder, trained on ``(frames, teacher features)``.

    Parameters
    ----------
    vae : featkit.encoders.vae.VAE
        The model to train; its layers are shared, so training the returned
        model trains it.
    target_dim : int
        Size of the teacher features t.
    weight : float
        w, the weight of the teacher term (0: the plain VAE objective; the head
        is then built but learns nothing).

    Returns
    -------
    DistillationVAE
        ``fit``/``train_on_batch`` take frames as x and teacher features as y;
        metrics ``loss``, ``recon``, ``kl`` and ``teacher`` (½ ‖t - t̂‖², nats
        per frame before the weight).

    """
    d = int(vae.encoder.outputs[0].shape[-1])
    z_in = keras.Input((d,), name="z")
    glob = [layer.units for layer in vae.encoder.layers if layer.name == "mu_global"]
    if glob:
        h = LatentSlice(d - glob[0], d, name="teacher_global")(z_in)
    else:
        h = layers.Dense(512, activation="relu", name="teacher_hidden")(z_in)
    head = keras.Model(z_in, layers.Dense(int(target_dim), name="teacher_features")(h), name="teacher_head")
    model = DistillationVAE(vae, head, weight, name="distillation_vae")
    model.build((None, *vae.encoder.inputs[0].shape[1:]))
    return model
