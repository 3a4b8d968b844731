"""Training a featkit VAE on frames of real videos, and measuring it (imports TensorFlow).

Used by the recipe that makes the shipped default (``benchmarks/train_default.py``)
and by users who train on their own videos.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from featkit.io.sampling import sample_frame_indices
from featkit.metrics import psnr

__all__ = ["collect_frames", "psnr", "train_vae"]


def collect_frames(
    paths: Sequence[str | os.PathLike[str]],
    *,
    size: int = 64,
    fps: float = 4.0,
    max_per_video: int | None = None,
    crops: int = 0,
    crop_scale: float = 1.5,
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
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n, size, size, 3), uint8
        The centre views of every video first, then the crops.

    """
    from featkit.io.video import DecordReader

    rng = np.random.default_rng(seed)
    views, extra = [], []
    for p in paths:
        reader = DecordReader(p, size)
        idx = np.unique(sample_frame_indices(reader.info.starts, reader.info.end, fps))
        if max_per_video is not None and len(idx) > max_per_video:
            idx = idx[np.round(np.linspace(0, len(idx) - 1, max_per_video)).astype(int)]
        views.append(reader.read(idx))
        if crops:
            big = round(size * crop_scale)
            frames = DecordReader(p, big).read(idx)
            for _ in range(crops):
                ys = rng.integers(0, big - size + 1, len(idx))
                xs = rng.integers(0, big - size + 1, len(idx))
                extra.append(np.stack([f[y : y + size, x : x + size] for f, y, x in zip(frames, ys, xs, strict=True)]))
    return np.concatenate(views + extra) if views else np.zeros((0, size, size, 3), np.uint8)


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
    """Train a :class:`~featkit.encoders.vae.VAE` on uint8 frames.

    Parameters
    ----------
    train : ndarray of shape (n, S, S, 3), uint8
    architecture : dict, optional
        Keyword arguments of :func:`~featkit.encoders.vae.build_vae`.
    epochs, batch_size, learning_rate : training schedule (Adam, cosine decay).
    seed : int, default=0
        Seeds Python, NumPy, TensorFlow and the sampling layer.
    flip : bool, default=True
        Random horizontal flips.
    init_weights : str, optional
        Weights file to start from (fine-tuning).
    verbose : int, default=2

    Returns
    -------
    vae : VAE
    history : dict of str to list of float
        ``loss``, ``recon`` and ``kl`` per epoch (nats per frame).

    """
    import keras
    import tensorflow as tf

    from featkit.encoders.vae import build_vae

    keras.utils.set_random_seed(seed)
    arch = {"input_size": train.shape[1], **(architecture or {}), "seed": seed}
    vae = build_vae(**arch)
    if init_weights:
        vae.load_weights(init_weights)
    steps = max(1, int(np.ceil(len(train) / batch_size))) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)
    vae.compile(optimizer=keras.optimizers.Adam(schedule))

    def prepare(x: Any) -> Any:
        x = tf.cast(x, tf.float32) / 255.0
        return tf.image.random_flip_left_right(x, seed=seed) if flip else x

    ds = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(prepare, num_parallel_calls=1, deterministic=True)
        .prefetch(2)
    )
    hist = vae.fit(ds, epochs=epochs, verbose=verbose, shuffle=False)  # ds shuffles itself
    history = {k: [float(v) for v in hist.history[k]] for k in ("loss", "recon", "kl")}
    return vae, history


def reconstruct(vae: Any, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Decode the posterior mean of uint8 frames; float32 in [0, 1], same shape."""
    out = []
    for lo in range(0, len(frames), batch_size):
        x = frames[lo : lo + batch_size].astype(np.float32) / 255.0
        x_hat, _, _ = vae(x, training=False)
        out.append(np.asarray(x_hat))
    return np.concatenate(out) if out else np.zeros(frames.shape, np.float32)
