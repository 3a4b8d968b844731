"""Signal quality of a clip, free of what it shows: the ``quality`` statistic (numpy only).

The other statistics describe the picture, so a density of normal clips built
on them ranks a new scene as far away as a corrupted one (``bench_anomaly``:
ROC AUC 0.47 across sources). A corruption, though, leaves traces whose *shape*
does not depend on the scene:

* noise adds detail and blur removes it (``quality_detail``), and both tilt
  the balance of fine to coarse detail, which a scene sets far less than it
  sets the amount (``quality_scale``);
* heavy compression leaves steps at the 8-px block grid (``quality_blocking``);
* noise changes every pixel from frame to frame independently, while moving
  content changes them along its edges (``quality_flicker``);
* a frozen or stuttering clip moves in steps: most steps of the latent path are
  still and a few are large (``quality_kurtosis``, ``quality_jump``,
  ``quality_still``), and a frozen one hardly moves at all (``quality_pace``,
  in the prior's units, which every scene shares).

The first four are measured on each sampled frame (the encoder's 64-px input)
and averaged over the clip; the last four describe the clip's path of μ. Every
column but the pace is a ratio or a logarithm of one, so it does not grow with
the scene's contrast or the latent scale. :class:`featkit.ClipAnomalyDetector` scores
these columns by default; the choice was made on ``benchmarks/pilot_anomaly_residual.py``
(photos held out by source) and is measured by ``benchmarks/bench_anomaly.py``.

Version 3 dropped version 2's ``quality_kl`` (log KL divergence of the
posterior from the prior): in ``bench_anomaly``'s ablation the detector did
better without it on both held-out sets once ``polarity`` and ``residual``
covered what it caught, and it was the one column that described the encoder
rather than the signal.
"""

from __future__ import annotations

import numpy as np

from featkit._pixels import gray, half

__all__ = ["FRAME_QUALITY", "QUALITY_COLUMNS", "clip_quality", "frame_quality"]

#: Per-frame measurements, in the order of :func:`frame_quality`'s columns.
FRAME_QUALITY: tuple[str, ...] = ("detail", "blocking", "flicker", "scale")
#: Column names of the ``quality`` statistic, in order.
QUALITY_COLUMNS: tuple[str, ...] = (
    "quality_detail",
    "quality_blocking",
    "quality_flicker",
    "quality_scale",
    "quality_kurtosis",
    "quality_jump",
    "quality_still",
    "quality_pace",
)
_EPS = 1e-8  # floor of an energy of pixels in [0, 1]: a flat frame stays finite
_BLOCK = 8  # JPEG / MPEG block size, in pixels of the encoder's input
_STILL = 0.1  # a step shorter than this share of the clip's mean step counts as still
_PACE_FLOOR = 1e-3  # latent units per second: below any moving scene, so a frozen clip's log stays finite


def _laplacian(g: np.ndarray) -> np.ndarray:
    """The 5-point Laplacian of grey frames (n, h, w), on the interior (n, h - 2, w - 2)."""
    return 4 * g[:, 1:-1, 1:-1] - g[:, :-2, 1:-1] - g[:, 2:, 1:-1] - g[:, 1:-1, :-2] - g[:, 1:-1, 2:]


def _laplacian_energy(g: np.ndarray) -> np.ndarray:
    return (_laplacian(g) ** 2).mean(axis=(1, 2))


def _scale_ratio(g: np.ndarray) -> np.ndarray:
    """Log Laplacian energy of the frame over that of its 2x2-mean half (0 for a flat frame).

    Natural pictures have less energy at finer scales; pixel noise is white
    (the ratio rises), blur takes the finest scale first (it falls).
    """
    halved = half(g)
    if min(halved.shape[1:]) < 3:  # too small for a Laplacian at half resolution
        return np.zeros(len(g))
    return np.log(_laplacian_energy(g) + _EPS) - np.log(_laplacian_energy(halved) + _EPS)


def _blocking(g: np.ndarray) -> np.ndarray:
    """Mean gradient across the block grid's edges over that inside blocks (about 1 without blocks)."""
    ratios = []
    for axis in (1, 2):
        d = np.abs(np.diff(g, axis=axis)).mean(axis=3 - axis)  # (n, size - 1): gradient profile across `axis`
        edge = np.arange(d.shape[1]) % _BLOCK == _BLOCK - 1
        if not edge.any() or edge.all():
            return np.zeros(len(g))
        ratios.append((d[:, edge].mean(axis=1) + _EPS) / (d[:, ~edge].mean(axis=1) + _EPS))
    return np.log(0.5 * (ratios[0] + ratios[1]))


def frame_quality(frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Per-frame quality measurements of consecutive sampled frames.

    Parameters
    ----------
    frames : ndarray of shape (n, S, S, 3), uint8
        Sampled frames, in order.
    previous : ndarray of shape (S, S, 3), uint8, optional
        The sampled frame before ``frames[0]`` (None at a video's start).

    Returns
    -------
    ndarray of shape (n, 4), float64
        Columns of :data:`FRAME_QUALITY`: log Laplacian energy of the grey
        frame; log ratio of the gradient across 8-px block edges to the
        gradient inside blocks; log ratio of the Laplacian energy of the change from the
        previous frame to the energy of that change (about log 20 for pixel
        noise, lower for moving edges), NaN where there is no previous frame
        or the frame did not change; log ratio of the frame's Laplacian energy
        to that of its 2x2-mean half-resolution copy (log 4 for white noise;
        about -1.1 to 0 for 90 % of natural 64-px frames, -2 when blurred; 0
        for a flat frame).

    """
    g = gray(frames)
    before = np.concatenate([gray(previous[None]), g[:-1]]) if previous is not None else g[:-1]
    change = g[len(g) - len(before) :] - before
    energy = (change**2).mean(axis=(1, 2))
    flicker = np.full(len(g), np.nan)
    moved = energy > 1e-12
    if moved.any():
        flicker[len(g) - len(before) :][moved] = np.log(_laplacian_energy(change[moved]) + _EPS) - np.log(energy[moved])
    detail = np.log(_laplacian_energy(g) + _EPS)
    return np.column_stack([detail, _blocking(g), flicker, _scale_ratio(g)])


def clip_quality(per_frame: np.ndarray, mu: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Reduce a clip's :func:`frame_quality` rows and its latent path to the ``quality`` columns.

    Parameters
    ----------
    per_frame : ndarray of shape (T, 4)
        :func:`frame_quality` of the clip's frames (a frame sampled twice appears twice).
    mu : ndarray of shape (T, d)
        The clip's posterior means.
    times : ndarray of shape (T,)
        Presentation times; steps between frames of the same time are not steps.

    Returns
    -------
    ndarray of shape (8,), float64
        :data:`QUALITY_COLUMNS`. ``quality_flicker`` leaves out the clip's
        first frame and repeats of a frame (their change comes from outside
        the clip), so measuring the frames clip by clip or as one stream gives
        the same value; it is 0 when no frame of the clip changed. For the path: with s the lengths of μ's
        steps, ``quality_kurtosis`` is ``log(mean(s²) / mean(s)²)`` (0 for
        steps of equal length, log h for a clip that holds each picture h
        steps), ``quality_jump`` is ``log(max(s) / median(s))`` (each floored at a hundredth of the mean step) and
        ``quality_still`` the share of steps shorter than a tenth of the mean
        step (1 when nothing moves); ``quality_pace`` is the log of the path's
        length per second, ``log(sum(s) / duration + 0.001)``. A clip of one
        frame, or of one time, gives 0, 0, 1, log 0.001.

    """
    per_frame = np.asarray(per_frame, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    advance = np.diff(np.asarray(times, dtype=np.float64)) > 0
    # A frame's change is from the frame before it in the stream: inside the clip only where time advanced.
    flicker = per_frame[1:, 2][advance]
    flicker = flicker[np.isfinite(flicker)]
    s = np.linalg.norm(np.diff(mu, axis=0), axis=1)[advance]
    mean = float(s.mean()) if len(s) else 0.0
    duration = float(np.diff(np.asarray(times, dtype=np.float64))[advance].sum())
    pace = float(np.log((s.sum() / duration if duration > 0 else 0.0) + _PACE_FLOOR))
    if mean <= 1e-12:
        path = (0.0, 0.0, 1.0)
    else:
        path = (
            float(np.log((s**2).mean() / mean**2)),
            # The floor keeps a clip whose median step is 0 (it holds each picture) finite: log(max / mean) + log 100.
            float(np.log((s.max() + 0.01 * mean) / (np.median(s) + 0.01 * mean))),
            float((s < _STILL * mean).mean()),
        )
    flicker_mean = float(flicker.mean()) if len(flicker) else 0.0
    return np.array([*per_frame[:, :2].mean(axis=0), flicker_mean, per_frame[:, 3].mean(), *path, pace])
