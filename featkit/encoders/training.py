"""Training a featkit VAE on frames of real videos, and measuring it (imports TensorFlow).

Used by the recipe that makes the shipped default (``benchmarks/train_default.py``)
and by ``featkit train`` (:mod:`featkit.train`), which trains on the user's videos.

Training is exactly resumable: the data order and the flips of epoch ``e`` are
a pure function of ``(seed, e)`` (see :meth:`VAETrainer.epoch_plan`), and
:meth:`VAETrainer.get_state` holds everything else that changes while training
(model weights, the sampler's seed state, the optimizer's moments and step), so
stopping after any epoch and restoring the state gives the same weights as an
uninterrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featkit.exceptions import EncoderError
from featkit.io.sampling import sample_frame_indices
from featkit.metrics import psnr, ssim

__all__ = [
    "VAETrainer",
    "architecture_of",
    "collect_frames",
    "load_vae_file",
    "psnr",
    "random_crops",
    "read_views",
    "reconstruct",
    "ssim",
    "train_vae",
]


def read_views(
    path: str | os.PathLike[str], *, size: int = 64, fps: float = 4.0, max_per_video: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample frames of one video as the extractor sees them (shorter side resized, centre crop).

    Parameters
    ----------
    path : path-like
        The video.
    size : int, default=64
        Side of the square frames.
    fps : float, default=4.0
        Sampling rate (by timestamp); a frame on screen at several sample times is kept once.
    max_per_video : int, optional
        Keep at most this many sampled frames, evenly spaced.

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Frame indices, sorted.
    frames : ndarray of shape (n, size, size, 3), uint8

    Raises
    ------
    VideoError
        If the video cannot be opened or decoded.

    """
    from featkit.io.backends import open_video

    reader, _ = open_video(path, size)
    try:
        idx = np.unique(sample_frame_indices(reader.info.starts, reader.info.end, fps))
        if max_per_video is not None and len(idx) > max_per_video:
            idx = idx[np.round(np.linspace(0, len(idx) - 1, max_per_video)).astype(int)]
        return idx, reader.read(idx)
    finally:
        reader.close()


def random_crops(
    path: str | os.PathLike[str],
    indices: np.ndarray,
    *,
    size: int,
    crops: int,
    scales: Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Random ``size`` x ``size`` crops of frames decoded at a larger scale (scale augmentation).

    For each of ``crops`` rounds, every frame gets one crop: a scale is drawn
    from ``scales`` (no draw when there is one), the frame is decoded with its
    shorter side at ``round(scale * size)`` and centre-cropped to a square,
    and a uniformly placed window of ``size`` is cut from it.

    Parameters
    ----------
    path : path-like
        The video.
    indices : ndarray of int, shape (n,)
        Sorted frame indices.
    size : int
        Side of the crops.
    crops : int
        Crops per frame.
    scales : sequence of float
        Scales (each >= 1) to draw from.
    rng : numpy.random.Generator
        Source of the scale and position draws.

    Returns
    -------
    ndarray of shape (crops * n, size, size, 3), uint8
        Round-major: the first ``n`` rows are round 0, and so on.

    """
    from featkit.io.backends import open_video

    n = len(indices)
    out = np.empty((crops * n, size, size, 3), dtype=np.uint8)
    if not crops or not n:
        return out
    bigs = [round(size * s) for s in scales]
    which = rng.integers(0, len(bigs), (crops, n)) if len(bigs) > 1 else np.zeros((crops, n), dtype=np.int64)
    pos = []
    for k in range(crops):
        # One scale keeps the draws of the original single-scale recipe.
        high = bigs[0] - size + 1 if len(bigs) == 1 else np.asarray(bigs)[which[k]] - size + 1
        pos.append((rng.integers(0, high, n), rng.integers(0, high, n)))
    for s, big in enumerate(bigs):
        rows = np.flatnonzero((which == s).any(axis=0))  # frames that need this scale
        if not rows.size:
            continue
        reader, _ = open_video(path, big)
        try:
            decoded = reader.read(np.asarray(indices)[rows])
        finally:
            reader.close()
        at = {int(r): j for j, r in enumerate(rows)}
        for k in range(crops):
            for i in np.flatnonzero(which[k] == s):
                y, x = int(pos[k][0][i]), int(pos[k][1][i])
                out[k * n + i] = decoded[at[int(i)], y : y + size, x : x + size]
    return out


def collect_frames(
    paths: Sequence[str | os.PathLike[str]],
    *,
    size: int = 64,
    fps: float = 4.0,
    max_per_video: int | None = None,
    crops: int = 0,
    crop_scale: float = 1.5,
    crop_scales: Sequence[float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Sample frames from videos, as the extractor sees them, plus random crops.

    Parameters
    ----------
    paths : sequence of path-like
        Videos to read.
    size : int, default=64
        Side of the square frames.
    fps : float, default=4.0
        Sampling rate (timestamp based).
    max_per_video : int, optional
        Keep at most this many sampled frames per video, evenly spaced.
    crops : int, default=0
        Extra random ``size`` x ``size`` crops per sampled frame, taken from
        the frame resized to ``crop_scale * size`` (scale augmentation).
    crop_scale : float, default=1.5
        The one crop scale, when ``crop_scales`` is not given.
    crop_scales : sequence of float, optional
        Several scales; each crop draws one (multi-scale augmentation, see
        :func:`random_crops`). Overrides ``crop_scale``.
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n, size, size, 3), uint8
        The centre views of every video first, then the crops.

    """
    rng = np.random.default_rng(seed)
    scales = tuple(crop_scales) if crop_scales is not None else (crop_scale,)
    views, extra = [], []
    for p in paths:
        idx, frames = read_views(p, size=size, fps=fps, max_per_video=max_per_video)
        views.append(frames)
        if crops:
            extra.append(random_crops(p, idx, size=size, crops=crops, scales=scales, rng=rng))
    return np.concatenate(views + extra) if views else np.zeros((0, size, size, 3), np.uint8)


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
        self.steps_per_epoch = int(np.ceil(len(train) / self.batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=self.steps_per_epoch * self.epochs, alpha=0.05
        )
        self.vae.compile(optimizer=keras.optimizers.Adam(schedule))
        # Create the moments now, so a saved state can be restored before the first step.
        self.vae.optimizer.build(self.vae.trainable_variables)
        self.epoch = 0

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
            epoch's running means of ``loss``, ``recon`` and ``kl``.

        Returns
        -------
        dict of str to float
            ``loss``, ``recon`` and ``kl`` of the epoch (nats per frame).

        """
        order, flips = self.epoch_plan(self.epoch)
        self.vae.reset_metrics()
        logs: dict[str, float] = {}
        for step, lo in enumerate(range(0, len(order), self.batch_size)):
            x = self.train[order[lo : lo + self.batch_size]].astype(np.float32) / np.float32(255.0)
            f = flips[lo : lo + self.batch_size]
            x[f] = x[f, :, ::-1]
            out = self.vae.train_on_batch(x, return_dict=True)
            logs = {k: float(out[k]) for k in ("loss", "recon", "kl")}
            if on_batch is not None:
                on_batch(step, logs)
        self.epoch += 1
        return logs

    def _state_variables(self) -> list[Any]:
        # Model variables include the sampler's seed state; optimizer ones the step counter.
        return [*self.vae.variables, *self.vae.optimizer.variables]

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


def train_vae(
    train: np.ndarray,
    *,
    architecture: dict[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    flip: bool = True,
    init_weights: str | None = None,
    verbose: int = 2,
) -> tuple[Any, dict[str, list[float]]]:
    """Train a :class:`~featkit.encoders.vae.VAE` on uint8 frames (all epochs, no checkpoints).

    Parameters
    ----------
    train : ndarray of shape (n, S, S, 3), uint8
    architecture : dict, optional
        Keyword arguments of :func:`~featkit.encoders.vae.build_vae`.
    epochs, batch_size, learning_rate : training schedule (Adam, cosine decay).
    seed : int, default=0
        Seeds the weights, the sampling layer and the data order.
    flip : bool, default=True
        Random horizontal flips.
    init_weights : str, optional
        Weights file to start from (fine-tuning).
    verbose : int, default=2
        Print one line per epoch when positive.

    Returns
    -------
    vae : VAE
    history : dict of str to list of float
        ``loss``, ``recon`` and ``kl`` per epoch (nats per frame).

    """
    import time

    trainer = VAETrainer(
        train,
        architecture=architecture,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        flip=flip,
        init_weights=init_weights,
    )
    history: dict[str, list[float]] = {"loss": [], "recon": [], "kl": []}
    for e in range(epochs):
        t0 = time.time()
        logs = trainer.run_epoch()
        for k in history:
            history[k].append(logs[k])
        if verbose:
            print(
                f"Epoch {e + 1}/{epochs} - {time.time() - t0:.0f}s - loss: {logs['loss']:.4g} - "
                f"recon: {logs['recon']:.4g} - kl: {logs['kl']:.4g}",
                flush=True,
            )
    return trainer.vae, history


def reconstruct(vae: Any, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Decode the posterior mean of uint8 frames; float32 in [0, 1], same shape."""
    out = []
    for lo in range(0, len(frames), batch_size):
        x = frames[lo : lo + batch_size].astype(np.float32) / 255.0
        x_hat, _, _ = vae(x, training=False)
        out.append(np.asarray(x_hat))
    return np.concatenate(out) if out else np.zeros(frames.shape, np.float32)


def architecture_of(vae: Any) -> dict[str, Any]:
    """The :func:`~featkit.encoders.vae.build_vae` settings of a featkit VAE (without ``seed``).

    Raises
    ------
    EncoderError
        If the model was not built by :func:`~featkit.encoders.vae.build_vae`.

    """
    try:
        enc = vae.encoder
        widths, i = [], 0
        while any(layer.name == f"conv{i}" for layer in enc.layers):
            widths.append(int(enc.get_layer(f"conv{i}").filters))
            i += 1
        grid = [layer for layer in enc.layers if layer.name == "mu_grid"]
        arch = {
            "input_size": int(enc.inputs[0].shape[1]),
            # A spatial latent's "mu" is the Flatten of its grid head.
            "latent_dim": int(enc.get_layer("mu").output.shape[-1]) if grid else int(enc.get_layer("mu").units),
            "widths": widths,
            "beta": float(vae.beta),
            "obs_var": float(vae.obs_var),
        }
        if grid:
            arch["latent_grid"] = int(grid[0].output.shape[1])
    except (AttributeError, ValueError, IndexError, TypeError) as exc:
        raise EncoderError(
            "The model is not a featkit VAE (an encoder with conv0.., mu and logvar layers, and a decoder). "
            f"Received: {type(vae).__name__}: {exc}"
        ) from exc
    if not widths:
        raise EncoderError("The model is not a featkit VAE: its encoder has no conv0 layer.")
    return arch


def load_vae_file(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Load a full featkit VAE from a ``.keras`` file (Keras safe mode) to fine-tune it.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit train`` (or ``VAE.save``).

    Returns
    -------
    vae : VAE
    architecture : dict
        Its :func:`architecture_of`.

    Raises
    ------
    EncoderError
        If the file is missing, not a ``.keras`` file, cannot be loaded safely, or is not a VAE
        with a decoder (an encoder-only model cannot be fine-tuned).

    """
    path = Path(path)
    if path.suffix != ".keras" or not path.is_file():
        raise EncoderError(
            f"The initial model must be an existing '.keras' file written by featkit train. Received: {str(path)!r}"
        )
    import keras

    from featkit.encoders.vae import VAE, build_vae

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError) as exc:
        raise EncoderError(f"Could not load {str(path)!r} in Keras safe mode: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, VAE):
        raise EncoderError(
            f"{str(path)!r} holds a {type(model).__name__}, not a featkit VAE with a decoder; only a model "
            "written by featkit train can be fine-tuned."
        )
    arch = architecture_of(model)
    expected = [tuple(w.shape) for w in build_vae(**arch).get_weights()]
    if [tuple(w.shape) for w in model.get_weights()] != expected:
        raise EncoderError(f"{str(path)!r} is a VAE whose layers differ from featkit's build_vae({arch}).")
    return model, arch
