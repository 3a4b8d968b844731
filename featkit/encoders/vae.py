"""The convolutional β-VAE behind featkit's features (Keras 3).

Follows ``vae-math.md``: an encoder with **separate** heads for the posterior
mean μ and log variance log σ², seeded reparameterised sampling, a
transposed-convolution decoder, and the objective (per frame, minimised)::

    L = Σ_pixels (x - x̂)² / (2 · obs_var)  +  β · KL(q(z|x) ‖ N(0, I))
    KL = -½ Σ_j (1 + log σ²_j - μ²_j - σ²_j)

The reconstruction term is the negative log-likelihood of a Gaussian decoder
with fixed variance ``obs_var`` (up to a constant), summed over pixels, so β
keeps its usual meaning (β = 1 is the plain ELBO).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
from keras import layers, ops

from featkit.posterior import LOGVAR_RANGE

__all__ = [
    "LOGVAR_RANGE",
    "VAE",
    "Architecture",
    "GaussianSampler",
    "LatentSlice",
    "LogVarClip",
    "UnitClip",
    "build_decoder",
    "build_encoder",
    "build_vae",
    "init_linear_path_from_pca",
    "kl_divergence",
    "reconstruction_nll",
]


def kl_divergence(mu: Any, logvar: Any) -> Any:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per sample, in nats.

    Parameters
    ----------
    mu, logvar : tensor of shape (n, d)

    Returns
    -------
    tensor of shape (n,)

    """
    logvar = ops.clip(logvar, *LOGVAR_RANGE)
    return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1)


def reconstruction_nll(x: Any, x_hat: Any, obs_var: float) -> Any:
    """Gaussian negative log-likelihood (without its constant) summed over pixels.

    Parameters
    ----------
    x, x_hat : tensor of shape (n, H, W, C)
        Frames and reconstructions in [0, 1].
    obs_var : float
        Fixed decoder variance.

    Returns
    -------
    tensor of shape (n,)

    """
    return ops.sum(ops.square(x - x_hat), axis=(1, 2, 3)) / (2.0 * obs_var)


@dataclass(frozen=True)
class Architecture:
    """The layer settings an encoder and its decoder are built from, spelled once.

    The keys of the shipped config's ``architecture`` less the VAE's ``beta``,
    ``obs_var`` and ``seed``; :func:`build_encoder` and :func:`build_decoder` take them
    as their arguments, in this order.

    Parameters
    ----------
    input_size : int, default=64
        Side of the square RGB input; must be divisible by ``2 ** len(widths)``.
    latent_dim : int, default=32
        Size d of z.
    widths : sequence of int, default=(32, 64, 128, 128)
        Filters of the stride-2 convolutions (the decoder mirrors them).
    linear_path : bool, default=False
        Add a linear map of the pixels to μ (``pca_mu``), next to the
        convolutional head (``mu_residual``, zero-initialised), and of z back to
        the pixels in the decoder (``pca_x``). With
        :func:`init_linear_path_from_pca` the model starts as probabilistic
        PCA, the optimum of a linear VAE, and training learns the non-linear
        correction on top of it.
    train_linear_path : bool, default=True
        Whether training may change the linear maps; ``False`` keeps them at their
        initial (PCA) value, so only the non-linear correction is learnt.
    latent_grid : int, default=0
        0: one global code (Dense heads on the flattened feature map).
        Otherwise a spatial latent: a ``latent_grid`` x ``latent_grid`` grid of
        codes with ``latent_dim / latent_grid**2`` channels each, from two
        separate 3x3 convolution heads on the last feature map (whose side must
        be ``latent_grid``), flattened row-major to d = ``latent_dim``. Each
        code describes its own region, so the position of moving content
        survives in μ and per-clip statistics of it see local motion.
    latent_global : int, default=0
        With ``latent_grid``: the last ``latent_global`` entries of z form a
        global code (Dense heads on the flattened feature map) beside the grid,
        which then has ``(latent_dim - latent_global) / latent_grid**2``
        channels. The decoder adds the global code's projection to every cell,
        so it can carry what belongs to the whole frame (its kind of scene)
        while the grid keeps the layout.
    encoder_blocks : int, default=0
        Residual 3x3 convolutions (stride 1, ``widths[-1]`` filters, ``block{i}``)
        on the last feature map before the heads: depth for the encoder alone,
        the decoder is unchanged.
    global_hidden : int, default=0
        With ``latent_global``: a hidden ReLU layer of this width
        (``global_hidden``) between the flattened feature map and the global
        code's heads, so the global code is a non-linear function of the map.
    global_pool : bool, default=False
        With ``latent_global``: the global code's heads also see the map's
        mean and maximum over space (``global_mean``, ``global_max``), which
        do not change when content moves, beside the flattened map.

    Raises
    ------
    ValueError
        If the settings cannot form a model.

    """

    input_size: int = 64
    latent_dim: int = 32
    widths: Sequence[int] = (32, 64, 128, 128)
    linear_path: bool = False
    train_linear_path: bool = True
    latent_grid: int = 0
    latent_global: int = 0
    encoder_blocks: int = 0
    global_hidden: int = 0
    global_pool: bool = False

    def __post_init__(self) -> None:
        widths, input_size, latent_grid = tuple(int(w) for w in self.widths), self.input_size, self.latent_grid
        object.__setattr__(self, "widths", widths)
        if input_size % (2 ** len(widths)):
            raise ValueError(
                f"input_size must be divisible by 2**len(widths)={2 ** len(widths)}. Received: input_size={input_size}"
            )
        if self.latent_global and not (latent_grid and 0 < self.latent_global < self.latent_dim):
            raise ValueError(
                "latent_global needs a spatial latent (latent_grid > 0) and must be less than latent_dim. "
                f"Received: latent_global={self.latent_global}, latent_grid={latent_grid}, latent_dim={self.latent_dim}"
            )
        if self.encoder_blocks < 0 or self.global_hidden < 0:
            raise ValueError(
                "encoder_blocks and global_hidden must be >= 0. "
                f"Received: encoder_blocks={self.encoder_blocks}, global_hidden={self.global_hidden}"
            )
        if (self.global_hidden or self.global_pool) and not self.latent_global:
            raise ValueError(
                "global_hidden and global_pool need a global code (latent_global > 0). "
                f"Received: global_hidden={self.global_hidden}, global_pool={self.global_pool}"
            )
        if latent_grid:
            side = input_size // 2 ** len(widths)
            if latent_grid != side or (self.latent_dim - self.latent_global) % latent_grid**2:
                raise ValueError(
                    f"latent_grid must equal the last feature map's side input_size / 2**len(widths) = {side}, and "
                    f"latent_dim - latent_global must be a multiple of latent_grid**2. Received: "
                    f"latent_grid={latent_grid}, latent_dim={self.latent_dim}, latent_global={self.latent_global}"
                )
            if self.linear_path:
                raise ValueError("linear_path is only available with a global code (latent_grid=0).")


def _architecture(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Architecture:
    """The builders' arguments as an :class:`Architecture` (given one, or its fields)."""
    if len(args) == 1 and not kwargs and isinstance(args[0], Architecture):
        return args[0]
    return Architecture(*args, **kwargs)


@keras.saving.register_keras_serializable(package="featkit")
class LogVarClip(layers.Layer):
    """Clip log σ² to :data:`LOGVAR_RANGE` so ``exp`` can neither overflow nor vanish."""

    def call(self, logvar: Any) -> Any:
        return ops.clip(logvar, *LOGVAR_RANGE)


@keras.saving.register_keras_serializable(package="featkit")
class UnitClip(layers.Layer):
    """Clip reconstructions to [0, 1] at inference; identity while training.

    A decoder with a linear output path has no sigmoid. Clipping during
    training would zero the gradient of every out-of-range pixel, so the
    squared error is taken on the raw output and only what users see is clipped.
    """

    def call(self, x: Any, training: bool = False) -> Any:
        return x if training else ops.clip(x, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="featkit")
class LatentSlice(layers.Layer):
    """Columns ``start:stop`` of z (the grid part or the global part of a hybrid latent).

    Parameters
    ----------
    start, stop : int

    """

    def __init__(self, start: int, stop: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, z: Any) -> Any:
        return z[:, self.start : self.stop]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, int]:
        return (input_shape[0], self.stop - self.start)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="featkit")
class GaussianSampler(layers.Layer):
    """Draw z = μ + σ ⊙ ε with ε ~ N(0, I) from a seeded generator.

    Parameters
    ----------
    seed : int or None, default=None
        Seed of the layer's :class:`keras.random.SeedGenerator`.

    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Sequence[Any]) -> Any:
        mu, logvar = inputs
        eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator, dtype=mu.dtype)
        return mu + ops.exp(0.5 * logvar) * eps

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


def build_encoder(*args: Any, **kwargs: Any) -> keras.Model:
    """Convolutional encoder: frame in [0, 1] -> (μ, log σ²), two separate heads.

    Parameters
    ----------
    *args, **kwargs
        An :class:`Architecture`, or its fields (``input_size``, ``latent_dim``,
        ``widths``, ``linear_path``, ``train_linear_path``, ``latent_grid``,
        ``latent_global``, ``encoder_blocks``, ``global_hidden``, ``global_pool``), positionally
        in that order or by name.

    Returns
    -------
    keras.Model
        Input (n, input_size, input_size, 3) float; outputs ``[mu, logvar]``, each (n, d).

    Raises
    ------
    ValueError
        If the settings cannot form a model.

    """
    arch = _architecture(args, kwargs)
    input_size, latent_dim, widths, latent_grid = arch.input_size, arch.latent_dim, arch.widths, arch.latent_grid
    x_in = keras.Input((input_size, input_size, 3), name="frames")
    h = x_in
    for i, w in enumerate(widths):
        h = layers.Conv2D(w, 4, strides=2, padding="same", activation="relu", name=f"conv{i}")(h)
    for i in range(arch.encoder_blocks):
        step = layers.Conv2D(widths[-1], 3, padding="same", activation="relu", name=f"block{i}")(h)
        h = layers.Add(name=f"block{i}_add")([h, step])
    if latent_grid:
        g = arch.latent_global
        channels = (latent_dim - g) // latent_grid**2
        mu = layers.Conv2D(channels, 3, padding="same", name="mu_grid")(h)
        logvar = layers.Conv2D(channels, 3, padding="same", name="logvar_grid")(h)
        if g:
            flat = layers.Flatten(name="flatten")(h)
            if arch.global_pool:
                flat = layers.Concatenate(name="global_in")(
                    [
                        flat,
                        layers.GlobalAveragePooling2D(name="global_mean")(h),
                        layers.GlobalMaxPooling2D(name="global_max")(h),
                    ]
                )
            if arch.global_hidden:
                flat = layers.Dense(arch.global_hidden, activation="relu", name="global_hidden")(flat)
            mu = layers.Concatenate(name="mu")(
                [layers.Flatten(name="mu_grid_flat")(mu), layers.Dense(g, name="mu_global")(flat)]
            )
            logvar = layers.Concatenate(name="logvar")(
                [layers.Flatten(name="logvar_grid_flat")(logvar), layers.Dense(g, name="logvar_global")(flat)]
            )
            return keras.Model(x_in, [mu, LogVarClip(name="logvar_clip")(logvar)], name="encoder")
        mu = layers.Flatten(name="mu")(mu)
        logvar = LogVarClip(name="logvar_clip")(layers.Flatten(name="logvar")(logvar))
        return keras.Model(x_in, [mu, logvar], name="encoder")
    h = layers.Flatten(name="flatten")(h)
    if arch.linear_path:
        linear = layers.Dense(latent_dim, trainable=arch.train_linear_path, name="pca_mu")(
            layers.Flatten(name="pixels")(x_in)
        )
        residual = layers.Dense(latent_dim, kernel_initializer="zeros", name="mu_residual")(h)
        mu = layers.Add(name="mu")([linear, residual])
        # Start with a small posterior variance, as probabilistic PCA has.
        logvar = layers.Dense(latent_dim, bias_initializer=keras.initializers.Constant(-4.0), name="logvar")(h)
    else:
        mu = layers.Dense(latent_dim, name="mu")(h)
        logvar = layers.Dense(latent_dim, name="logvar")(h)
    logvar = LogVarClip(name="logvar_clip")(logvar)
    return keras.Model(x_in, [mu, logvar], name="encoder")


def build_decoder(*args: Any, **kwargs: Any) -> keras.Model:
    """Transposed-convolution decoder: z -> frame in [0, 1] (mirror of :func:`build_encoder`).

    Takes the arguments of :func:`build_encoder` (an :class:`Architecture` or its
    fields). With ``linear_path`` the output is a linear map of z (``pca_x``) plus the
    convolutional residual (``x_residual``, zero-initialised), clipped to
    [0, 1] at inference by :class:`UnitClip`; otherwise a sigmoid. With
    ``latent_grid`` z is reshaped back to its grid and a 3x3 convolution
    (not a Dense layer) lifts it, so each code decodes its own neighbourhood:
    a decoder of limited reach, which keeps local content in local codes.
    """
    arch = _architecture(args, kwargs)
    input_size, latent_dim, widths, latent_grid = arch.input_size, arch.latent_dim, arch.widths, arch.latent_grid
    base = input_size // 2 ** len(widths)
    z_in = keras.Input((latent_dim,), name="z")
    if latent_grid and arch.latent_global:
        cut = latent_dim - arch.latent_global
        h = LatentSlice(0, cut, name="z_grid")(z_in)
        h = layers.Reshape((base, base, cut // base**2), name="unflatten")(h)
        h = layers.Conv2D(widths[-1], 3, padding="same", name="project")(h)
        glob = layers.Dense(base * base * widths[-1], name="project_global")(
            LatentSlice(cut, latent_dim, name="z_global")(z_in)
        )
        glob = layers.Reshape((base, base, widths[-1]), name="unflatten_global")(glob)
        h = layers.ReLU(name="project_relu")(layers.Add(name="project_sum")([h, glob]))
    elif latent_grid:
        h = layers.Reshape((base, base, latent_dim // base**2), name="unflatten")(z_in)
        h = layers.Conv2D(widths[-1], 3, padding="same", activation="relu", name="project")(h)
    else:
        h = layers.Dense(base * base * widths[-1], activation="relu", name="project")(z_in)
        h = layers.Reshape((base, base, widths[-1]), name="unflatten")(h)
    for i, w in enumerate(reversed(widths[:-1])):
        h = layers.Conv2DTranspose(w, 4, strides=2, padding="same", activation="relu", name=f"deconv{i}")(h)
    if arch.linear_path:
        residual = layers.Conv2DTranspose(
            3, 4, strides=2, padding="same", kernel_initializer="zeros", name="x_residual"
        )(h)
        linear = layers.Dense(input_size * input_size * 3, trainable=arch.train_linear_path, name="pca_x")(z_in)
        linear = layers.Reshape((input_size, input_size, 3), name="pca_unflatten")(linear)
        x_hat = UnitClip(name="frames_hat")(layers.Add(name="x_sum")([linear, residual]))
    else:
        x_hat = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid", name="frames_hat")(h)
    return keras.Model(z_in, x_hat, name="decoder")


@keras.saving.register_keras_serializable(package="featkit")
class VAE(keras.Model):
    """β-VAE made of an encoder and a decoder model.

    Parameters
    ----------
    encoder : keras.Model
        Maps frames to ``[mu, logvar]``.
    decoder : keras.Model
        Maps z to frames.
    beta : float, default=1.0
        Weight of the KL term.
    obs_var : float, default=0.01
        Fixed variance of the Gaussian decoder.
    seed : int or None, default=None
        Seed of the sampling layer.

    Notes
    -----
    ``model(x, training=True)`` decodes a sampled z; with ``training=False`` it
    decodes μ, so evaluation is deterministic. Both return ``(x_hat, mu, logvar)``.

    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        obs_var: float = 0.01,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.obs_var = float(obs_var)
        self.seed = seed
        self.sampler = GaussianSampler(seed=seed, name="sampler")
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape: Any = None) -> None:
        # The encoder and decoder are functional models, built already; the
        # sampler holds only its seed state.
        self.sampler.build(None)
        self.built = True

    def call(self, x: Any, training: bool = False) -> tuple[Any, Any, Any]:
        mu, logvar = self.encoder(x, training=training)
        z = self.sampler([mu, logvar]) if training else mu
        return self.decoder(z, training=training), mu, logvar

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        x_hat, mu, logvar = y_pred
        recon = reconstruction_nll(x, x_hat, self.obs_var)
        kl = kl_divergence(mu, logvar)
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        return ops.mean(recon + self.beta * kl)

    @property
    def metrics(self) -> list[Any]:
        return [*super().metrics, self.recon_tracker, self.kl_tracker]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "obs_var": self.obs_var,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(
    input_size: int = 64,
    latent_dim: int = 32,
    widths: Sequence[int] = (32, 64, 128, 128),
    beta: float = 1.0,
    obs_var: float = 0.01,
    seed: int | None = 0,
    linear_path: bool = False,
    train_linear_path: bool = True,
    latent_grid: int = 0,
    latent_global: int = 0,
    encoder_blocks: int = 0,
    global_hidden: int = 0,
    global_pool: bool = False,
) -> VAE:
    """Build an untrained :class:`VAE` from its architecture settings (the keys of the shipped config).

    ``latent_grid`` > 0 gives the spatial latent of :func:`build_encoder`; 0
    (the default) the global code of ``featkit-default-v2``. ``latent_global``
    adds a global code to the grid (see :class:`Architecture`).
    """
    arch = Architecture(
        input_size,
        latent_dim,
        widths,
        linear_path,
        train_linear_path,
        latent_grid,
        latent_global,
        encoder_blocks,
        global_hidden,
        global_pool,
    )
    vae = VAE(
        build_encoder(arch),
        build_decoder(arch),
        beta=beta,
        obs_var=obs_var,
        seed=seed,
        name="vae",
    )
    vae.build((None, input_size, input_size, 3))
    return vae


def init_linear_path_from_pca(vae: VAE, components: Any, variances: Any, mean: Any) -> None:
    """Set a ``linear_path`` VAE's linear maps to probabilistic PCA, whitened.

    The encoder's ``pca_mu`` maps pixels to PCA coordinates divided by their
    standard deviation (so μ starts with unit variance, matching the N(0, I)
    prior) and the decoder's ``pca_x`` maps them back. With the residual heads
    at zero, the untrained VAE then reconstructs exactly as PCA does.

    Parameters
    ----------
    vae : VAE
        Built with ``linear_path=True``.
    components : array of shape (d, n_pixels)
        Orthonormal principal axes (``PCA.components_``) of flattened frames.
    variances : array of shape (d,)
        Their variances (``PCA.explained_variance_``).
    mean : array of shape (n_pixels,)
        The pixel mean (``PCA.mean_``).

    """
    import numpy as np

    comp = np.asarray(components, np.float32)
    std = np.sqrt(np.asarray(variances, np.float32))
    mean = np.asarray(mean, np.float32)
    w_enc = (comp / std[:, None]).T
    vae.encoder.get_layer("pca_mu").set_weights([w_enc, -(mean @ w_enc)])
    vae.decoder.get_layer("pca_x").set_weights([comp * std[:, None], mean])
