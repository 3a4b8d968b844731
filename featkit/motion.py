"""Camera motion of a clip, fitted to its pixels: the ``motion`` and ``motion_speed`` statistics (numpy only).

Each pair of consecutive sampled frames gives one *step*: the similarity
motion (pan x, pan y, zoom and rotation about the centre) that best carries
the first frame's grey picture onto the second,

    I₁(p) ≈ I₀(W⁻¹(p)),      W(p) = c + e^zoom R(rotate) (p − c) + (x, y),

by Lucas–Kanade least squares on the image gradients, coarse to fine over a
pyramid of 2x2 means (finest level 32 px), with Huber weights so that pixels
the content moves on its own count less (:func:`step_motion`). A clip's
``motion`` is the median of its steps' velocities, move by move, so a few
steps where the content moves on its own, or a cut, do not decide it; its
``motion_speed`` is the size of that motion, ``|motion|``, unsigned, so a
linear model tells a camera turning either way from a still one
(:func:`clip_motion`, :func:`clip_speed`).

Units: x and y in pixels of a 64-px frame per second (whatever the frames'
size), positive when the content moves right / down (the camera pans left /
up); zoom in log-scale per second, positive when the content grows (zooming
in); rotate in radians per second, positive when the content turns clockwise
on screen.

Until motion 3 (``featkit`` 0.x, 2026-12) these columns were fitted to the
latent path through the encoder's response to probing moves of the frames;
the pixels gave better direction and axis accuracy on footage the benchmarks
never report, at a fifth of the cost (``benchmarks/pilot_motion_pixels.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from featkit._pixels import gray, half

__all__ = ["MOTION_COLUMNS", "MOTION_RESOLUTION", "SPEED_COLUMNS", "clip_motion", "clip_speed", "step_motion"]

#: Column names of the ``motion`` statistic, in order.
MOTION_COLUMNS: tuple[str, ...] = ("motion_x", "motion_y", "motion_zoom", "motion_rotate")
#: Column names of the ``motion_speed`` statistic, in order (same units as :data:`MOTION_COLUMNS`).
SPEED_COLUMNS: tuple[str, ...] = ("motion_speed_x", "motion_speed_y", "motion_speed_zoom", "motion_speed_rotate")
#: What the fit resolves of each move per second: below this, two clips' motions differ by the estimate's
#: noise alone (a clean pan's columns scatter by about 0.03 px/s and 0.005 per s; real footage moves by
#: tens of px/s). Half a pixel of a 64-px frame per second, and the zoom or turn that moves the frame's edge
#: by as much. :class:`featkit.StatisticGroupScaler` scales no motion column below it.
MOTION_RESOLUTION: tuple[float, ...] = (0.5, 0.5, 1 / 64, 1 / 64)
_UNIT_SIDE = 64.0  # translations are reported in pixels of a frame this wide
_COARSEST = 16  # pyramid levels are halved down to this side
_FINEST = 32  # frames wider than this are halved first: the fit's finest level (as good as 64 px, 3x faster)
_ITERATIONS = 3  # Gauss-Newton iterations per level
#: Ridge: as if every pixel had this much more squared grey-level gradient (grey in [0, 1]) in every direction,
#: a hundredth of a natural 32-px frame's, so that a picture without texture (black) gives no motion.
_DISPLACEMENT_PRIOR = 1e-5
#: A step beyond these (a quarter of the frame, a zoom of 1.5x, a turn of 0.4 rad) is outside what the
#: pyramid can follow: the fit failed (a cut, a flash), so the step is dropped rather than counted.
_PLAUSIBLE = np.array([16.0, 16.0, np.log(1.5), 0.4])
_HUBER = 1.345  # Huber threshold, in robust standard deviations of the residual


def _pyramid(g: np.ndarray) -> list[np.ndarray]:
    levels = [g]
    while min(levels[-1].shape[-2:]) >= 2 * _COARSEST:
        levels.append(half(levels[-1]))
    return levels


def _smooth(g: np.ndarray) -> np.ndarray:
    """Binomial [1, 2, 1] / 4 blur along both axes (edges repeated), against aliasing in the gradients."""
    p = np.pad(g, [(0, 0)] * (g.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    p = 0.25 * p[..., :-2, :] + 0.5 * p[..., 1:-1, :] + 0.25 * p[..., 2:, :]
    return 0.25 * p[..., :-2] + 0.5 * p[..., 1:-1] + 0.25 * p[..., 2:]


def _prepared(frames: np.ndarray) -> np.ndarray:
    """Grey frames, halved down to the finest level's side and lightly blurred."""
    g = gray(frames)
    while g.shape[-1] > _FINEST and min(g.shape[-2:]) >= 2 * _COARSEST:
        g = half(g)
    return _smooth(g)


@lru_cache(maxsize=32)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pixel, relative to the frame's centre."""
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return rows - (h - 1) / 2.0, cols - (w - 1) / 2.0


def _warp(g: np.ndarray, v: np.ndarray, unit_per_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``g`` (n, h, w) carried by similarities ``v`` (n, 4), bilinear, and where each result is defined.

    Output pixel o samples the input at ``e^-zoom R(-rotate) (o - t)`` about the centre, ``t`` the translation
    in this level's pixels; outside the frame the nearest edge pixel is used and the mask is False.
    """
    n, h, w = g.shape
    yy, xx = _grid(h, w)
    s = np.exp(-v[:, 2])[:, None, None]
    cos, sin = np.cos(v[:, 3])[:, None, None], np.sin(v[:, 3])[:, None, None]
    ty = yy - (v[:, 1] / unit_per_px)[:, None, None]
    tx = xx - (v[:, 0] / unit_per_px)[:, None, None]
    r = s * (cos * ty - sin * tx) + (h - 1) / 2.0
    c = s * (sin * ty + cos * tx) + (w - 1) / 2.0
    inside = (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)
    r, c = np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)
    r0 = np.minimum(r.astype(np.intp), h - 2)
    c0 = np.minimum(c.astype(np.intp), w - 2)
    fr, fc = r - r0, c - c0
    flat = g.reshape(n, h * w)
    i00 = (r0 * w + c0).reshape(n, -1)
    take = lambda i: np.take_along_axis(flat, i, axis=1).reshape(n, h, w)  # noqa: E731
    top = take(i00) * (1 - fc) + take(i00 + 1) * fc
    bottom = take(i00 + w) * (1 - fc) + take(i00 + w + 1) * fc
    return top * (1 - fr) + bottom * fr, inside


def _solve(a: np.ndarray, b: np.ndarray, weight: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Weighted least squares ``a dv ≈ -b`` per pair (a (n, m, k), b and weight (n, m)) with the ridge ``prior``.

    ``prior`` (k, k) penalises the mean squared pixel displacement of the move, so a picture without
    texture gives no motion rather than noise over a vanishing gradient.
    """
    aw = a * weight[..., None]
    awt = aw.transpose(0, 2, 1)
    return -np.linalg.solve(awt @ a + prior, awt @ b[..., None])[..., 0]


def _fit(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Similarity motion (n, 4) from each frame of ``before`` (n, h, w) to the same frame of ``after``."""
    first, second = _pyramid(before), _pyramid(after)
    n, side = len(before), before.shape[-1]
    v = np.zeros((n, 4))
    for level in range(len(first) - 1, -1, -1):
        g0, g1 = first[level], second[level]
        h, w = g1.shape[-2:]
        unit_per_px = _UNIT_SIDE / side * 2**level
        yy, xx = (a[1:-1, 1:-1].ravel() for a in _grid(h, w))
        # Sum over the pixels of |d(displacement)/d(move)|², per move: the displacement prior's ridge.
        radius2 = float((xx**2 + yy**2).sum())
        # The gain and offset of the brightness (a fade, a flicker) are fitted beside the move, all but
        # unpenalised (a whisper of ridge keeps a black frame's zero gain column solvable).
        prior = np.diag(
            [*(_DISPLACEMENT_PRIOR * np.array([len(xx), len(xx), radius2, radius2])), *[1e-9 * len(xx)] * 2]
        )
        gy1, gx1 = np.gradient(g1, axis=(1, 2))
        for _ in range(_ITERATIONS):
            moved, inside = _warp(g0, v, unit_per_px)
            gy0, gx0 = np.gradient(moved, axis=(1, 2))
            gx = (0.5 * (gx0 + gx1))[:, 1:-1, 1:-1].reshape(n, -1)
            gy = (0.5 * (gy0 + gy1))[:, 1:-1, 1:-1].reshape(n, -1)
            # d(pixel)/d(x, y, zoom, rotate), the translation in this level's pixels; then the brightness
            # model g1 = (1 + gain) moved + offset, refitted whole at every iteration
            inner = moved[:, 1:-1, 1:-1].reshape(n, -1)
            a = np.stack([gx, gy, gx * xx + gy * yy, gy * xx - gx * yy, -inner, -np.ones_like(inner)], axis=-1)
            b = (g1 - moved)[:, 1:-1, 1:-1].reshape(n, -1)
            weight = inside[:, 1:-1, 1:-1].reshape(n, -1).astype(np.float64)
            dv = _solve(a, b, weight, prior)
            # Huber weights from the first fit's residuals: pixels the content moves on its own count less.
            r = np.abs((a @ dv[..., None])[..., 0] + b)
            sigma = 1.4826 * np.median(r, axis=1) + 1e-9  # the scale from every pixel, inside or not
            huber = np.minimum(1.0, _HUBER * sigma[:, None] / np.maximum(r, 1e-12))
            dv = _solve(a, b, weight * huber, prior)
            v = v + dv[:, :4] * np.array([unit_per_px, unit_per_px, 1.0, 1.0])
    return np.where(np.all(np.abs(v) <= _PLAUSIBLE, axis=1, keepdims=True), v, np.nan)


def step_motion(frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """The camera motion from each sampled frame's predecessor to it.

    Parameters
    ----------
    frames : ndarray of shape (n, H, W, 3), uint8
        Consecutive sampled frames.
    previous : ndarray of shape (H, W, 3), uint8, optional
        The sampled frame before ``frames[0]`` (None at a video's start).

    Returns
    -------
    ndarray of shape (n, 4), float64
        ``(x, y, zoom, rotate)`` of each step, in the module docstring's units
        per step rather than per second; the first row is NaN when
        ``previous`` is None, and so is a step the fit could not follow (beyond
        a quarter of the frame, a 1.5x zoom or a 0.4-rad turn: a cut, a
        flash); zeros for frames under 4 px a side.

    Notes
    -----
    Each step depends on its two frames alone, so a video measured window by
    window gives the same values, bit for bit, as in one call.

    """
    g = _prepared(frames)
    out = np.full((len(g), 4), np.nan)
    if len(g) == 0:
        return out
    if min(g.shape[-2:]) < 4:  # no interior to take gradients on
        out[1 if previous is None else 0 :] = 0.0
        return out
    before = np.concatenate([_prepared(previous[None]), g[:-1]]) if previous is not None else g[:-1]
    if len(before) == 0:
        return out
    out[len(g) - len(before) :] = _fit(before, g[len(g) - len(before) :])
    return out


def _velocities(steps: np.ndarray, times: np.ndarray) -> np.ndarray | None:
    """Per-second velocities of the clip's steps that advance in time (None when there are none)."""
    steps = np.asarray(steps, dtype=np.float64)
    dt = np.diff(np.asarray(times, dtype=np.float64))
    # A clip's first row is the step from outside it (or NaN at a video's start): left out; so are a frame
    # sampled twice (no step) and a step the fit could not follow (NaN).
    keep = (dt > 0) & np.isfinite(steps[1:]).all(axis=1) if len(steps) > 1 else np.zeros(0, bool)
    if not keep.any():
        return None
    return steps[1:][keep] / dt[keep][:, None]


def clip_motion(steps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Camera motion of one clip: the median of its steps' velocities, move by move.

    Parameters
    ----------
    steps : ndarray of shape (T, 4)
        :func:`step_motion` of the clip's frames (row 0, the step into the
        clip, is not used; a frame sampled twice appears twice).
    times : ndarray of shape (T,)
        Presentation times in seconds, non-decreasing.

    Returns
    -------
    ndarray of shape (4,), float64
        ``(x, y, zoom, rotate)`` per second (see the module docstring); zeros
        for a 1-frame clip, frames that all share one time, or when no step
        could be followed. Negated when the clip runs backwards.

    """
    v = _velocities(steps, times)
    return np.zeros(len(MOTION_COLUMNS)) if v is None else np.median(v, axis=0)


def clip_speed(steps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The size of the clip's camera motion, ``|clip_motion|``: unchanged when the clip runs backwards.

    Parameters
    ----------
    steps, times : ndarray
        As for :func:`clip_motion`.

    Returns
    -------
    ndarray of shape (4,), float64, non-negative

    """
    return np.abs(clip_motion(steps, times))
