"""The Keras training loop: :class:`VAETrainer` trains a featkit VAE one epoch at a time, exactly resumably.

The data order and the flips of epoch ``e`` are a pure function of ``(seed, e)`` (see
:meth:`VAETrainer.epoch_plan`), and :meth:`VAETrainer.get_state` holds everything else that
changes while training (model weights, the sampler's seed state, the optimizer's moments and
step), so stopping after any epoch and restoring the state gives the same weights as an
uninterrupted run. Keras loads when a trainer is made; the architecture itself lives in
:mod:`featkit.encoders.vae`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from featkit.training.config import TrainConfig

__all__ = ["VAETrainer", "reconstruct"]


class VAETrainer:
    """Train a :class:`~featkit.encoders.vae.VAE` on uint8 frames one epoch at a time, resumably.

    Adam with a cosine decay over all ``epochs`` (to 5 % of ``learning_rate``),
    batches of ``batch_size`` frames scaled to [0, 1] in an order (and with
    horizontal flips) that depends only on ``(seed, epoch)``.

    Parameters
    ----------
    train : ndarray of shape (n, S, S, 3), uint8
        Training frames.
    architecture : dict, optional
        Keyword arguments of :func:`~featkit.encoders.vae.build_vae` (``seed`` is set from ``seed``).
    epochs : int, default=10
        Length of the schedule.
    batch_size : int, default=64
    learning_rate : float, default=1e-3
    seed : int, default=0
        Seeds the initial weights, the sampling layer and the data order.
    flip : bool, default=True
        Random horizontal flips.
    init_weights : str, path-like or list of ndarray, optional
        A weights file to load, or the values of ``vae.get_weights()`` of a
        model with the same architecture (fine-tuning).
    teacher_targets : ndarray of shape (n, 2, m), optional
        A frozen teacher's (whitened) features of every training frame, as
        seen (``[:, 0]``) and mirrored (``[:, 1]``, what a flipped batch
        shows). With them the model trained is
        :func:`~featkit.training.distill.build_distillation_vae`.
    teacher_weight : float, default=0.0
        Weight of its teacher term.

    Attributes
    ----------
    vae : VAE
        The model being trained.
    epoch : int
        Epochs completed.
    steps_per_epoch : int

    """

    def __init__(
        self,
        train: np.ndarray,
        *,
        architecture: dict[str, Any] | None = None,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        seed: int = 0,
        flip: bool = True,
        init_weights: str | os.PathLike[str] | list[np.ndarray] | None = None,
        teacher_targets: np.ndarray | None = None,
        teacher_weight: float = 0.0,
    ) -> None:
        import keras

        from featkit.encoders.vae import build_vae

        if train.ndim != 4 or train.dtype != np.uint8 or len(train) == 0:
            raise ValueError(
                f"train must be a non-empty uint8 array of shape (n, S, S, 3). "
                f"Received: shape={train.shape}, dtype={train.dtype}"
            )
        self.train = train
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.flip = bool(flip)
        keras.utils.set_random_seed(self.seed)
        self.architecture = {"input_size": train.shape[1], **(architecture or {}), "seed": self.seed}
        self.vae = build_vae(**self.architecture)
        if isinstance(init_weights, (str, os.PathLike)):
            self.vae.load_weights(init_weights)
        elif init_weights is not None:
            self.vae.set_weights(list(init_weights))
        if teacher_targets is not None and (teacher_targets.ndim != 3 or teacher_targets.shape[:2] != (len(train), 2)):
            raise ValueError(
                f"teacher_targets must have shape (n, 2, m) with n = {len(train)} training frames. "
                f"Received: shape={teacher_targets.shape}"
            )
        self.teacher_targets = None if teacher_targets is None else teacher_targets.astype(np.float32)
        # The model the optimizer steps: the VAE itself, or the VAE with a teacher head (same layers).
        self.model = self.vae
        if self.teacher_targets is not None:
            from featkit.training.distill import build_distillation_vae

            self.model = build_distillation_vae(self.vae, self.teacher_targets.shape[-1], teacher_weight)
        self.steps_per_epoch = int(np.ceil(len(train) / self.batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=self.steps_per_epoch * self.epochs, alpha=0.05
        )
        self.model.compile(optimizer=keras.optimizers.Adam(schedule))
        # Create the moments now, so a saved state can be restored before the first step.
        self.model.optimizer.build(self.model.trainable_variables)
        self.epoch = 0

    @classmethod
    def from_config(
        cls,
        train: np.ndarray,
        config: TrainConfig,
        architecture: dict[str, Any],
        init_weights: list[np.ndarray] | None = None,
    ) -> VAETrainer:
        """The trainer of a ``featkit train`` run: schedule, seed and flips from ``config``.

        Parameters
        ----------
        train : ndarray of shape (n, S, S, 3), uint8
        config : TrainConfig
            Supplies ``epochs``, ``batch_size``, ``seed``, ``flip`` and the effective learning rate.
        architecture : dict
            As resolved by :func:`~featkit.training.init_model.resolve_init`.
        init_weights : list of ndarray, optional
            Weights of the initial model (fine-tuning).

        """
        # The schedule's keywords are named as the config's fields.
        keywords: dict[str, Any] = {name: getattr(config, name) for name in ("epochs", "batch_size", "seed", "flip")}
        keywords.update(
            architecture=architecture, learning_rate=config.effective_learning_rate, init_weights=init_weights
        )
        return cls(train, **keywords)

    def epoch_plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame order and flip mask of one epoch, a pure function of ``(seed, epoch)``."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        order = rng.permutation(len(self.train))
        flips = rng.random(len(self.train)) < 0.5 if self.flip else np.zeros(len(self.train), dtype=bool)
        return order, flips

    def run_epoch(self, on_batch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, float]:
        """Train one epoch.

        Parameters
        ----------
        on_batch : callable, optional
            Called as ``on_batch(step, logs)`` after each batch; ``logs`` holds the
            epoch's running means of ``loss``, ``recon`` and ``kl`` (and ``teacher``).

        Returns
        -------
        dict of str to float
            ``loss``, ``recon`` and ``kl`` of the epoch (nats per frame), and
            ``teacher`` when training with teacher targets.

        """
        order, flips = self.epoch_plan(self.epoch)
        self.model.reset_metrics()
        logs: dict[str, float] = {}
        keys = ("loss", "recon", "kl") if self.teacher_targets is None else ("loss", "recon", "kl", "teacher")
        for step, lo in enumerate(range(0, len(order), self.batch_size)):
            idx = order[lo : lo + self.batch_size]
            x = self.train[idx].astype(np.float32) / np.float32(255.0)
            f = flips[lo : lo + self.batch_size]
            x[f] = x[f, :, ::-1]
            if self.teacher_targets is None:
                out = self.model.train_on_batch(x, return_dict=True)
            else:
                out = self.model.train_on_batch(x, self.teacher_targets[idx, f.astype(np.intp)], return_dict=True)
            logs = {k: float(out[k]) for k in keys}
            if on_batch is not None:
                on_batch(step, logs)
        self.epoch += 1
        return logs

    def _state_variables(self) -> list[Any]:
        # Model variables include the sampler's seed state; optimizer ones the step counter.
        return [*self.model.variables, *self.model.optimizer.variables]

    def get_state(self) -> dict[str, Any]:
        """Everything training changes: ``epoch`` and ``variables`` (a list of arrays, in a fixed order)."""
        return {"epoch": self.epoch, "variables": [np.array(v.numpy()) for v in self._state_variables()]}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state` of a trainer with the same settings.

        Raises
        ------
        ValueError
            If the state's variables do not match this trainer's in number or shape.

        """
        variables = self._state_variables()
        values = list(state["variables"])
        shapes = [tuple(v.shape) for v in variables]
        got = [tuple(np.shape(a)) for a in values]
        if shapes != got:
            raise ValueError(
                f"The saved training state does not fit this model: expected {len(shapes)} variables "
                f"of shapes {shapes}. Received: {len(got)} variables of shapes {got}"
            )
        for var, value in zip(variables, values, strict=True):
            var.assign(value)
        self.epoch = int(state["epoch"])


def reconstruct(vae: Any, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Decode the posterior mean of uint8 frames; float32 in [0, 1], same shape."""
    out = []
    for lo in range(0, len(frames), batch_size):
        x = frames[lo : lo + batch_size].astype(np.float32) / 255.0
        x_hat, _, _ = vae(x, training=False)
        out.append(np.asarray(x_hat))
    return np.concatenate(out) if out else np.zeros(frames.shape, np.float32)
