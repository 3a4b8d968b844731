"""Frames of videos for training, decoded as the extractor sees them, plus random crops (scale augmentation).

Every video is read through the decode seam :func:`featkit.io.backends.open_video`, so the
fallback backend (PyAV) applies here exactly as it does in ``featkit extract``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from featkit.io.sampling import sample_frame_indices

__all__ = ["collect_frames", "random_crops", "read_views"]


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
