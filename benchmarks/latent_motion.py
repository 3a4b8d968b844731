"""Camera motion read from the latent space: featkit's ``motion`` statistic up to motion 2, for the pilots.

featkit reads camera motion from the pixels since motion 3 (:mod:`featkit.motion`,
chosen by ``benchmarks/pilot_motion_pixels.py``); this module keeps the latent
method the earlier pilots measured (``pilot_motion``, ``pilot_motion_fit``,
``pilot_probes``, ``pilot_tuning``) so that they, and the comparison, still run.

A pan, a zoom or a turn of the camera moves the posterior mean μ along a
direction that depends on the picture: the same pan left raises one latent
for a sky and lowers it for a face, so no linear model can read the direction
from the change of μ alone. This module measures, for every sampled frame, how
μ responds to a small known camera move of that very frame (its Jacobian
``J``: the encoder's μ of the frame shifted 2 px right, 2 px down, zoomed in
by 6.25 % and turned 0.0625 rad clockwise, minus μ of the frame, per unit
move). Each step of the clip gives the least-squares fit of μ's change by
those responses,

    Δμ_t ≈ J̄_t · v_t · Δt_t ,      v_t = (x, y, zoom, rotate),

and the clip's motion is the median of the v_t, move by move (a step where the
content moves on its own, or a cut, does not decide it), four numbers whose
meaning does not depend on the content: the
horizontal and vertical velocity of the picture in pixels of the 64-px frame
per second (positive = content moving right / down, i.e. the camera panning
left / up), the zoom rate in log-scale per second (positive = content growing,
zooming in) and the rotation rate in radians per second (positive = content
turning clockwise on screen).

The same steps give the camera's path: ``latent_speed`` is the
mean absolute per-step velocity (path length per second) along each of the
four moves. It does not change sign when the clip runs backwards, so it tells
a turning or shaking camera from a still one whichever way it moves, which the
signed mean velocity of a clip cannot (a turn left and a turn right average to
the same class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from featkit.motion import MOTION_COLUMNS, SPEED_COLUMNS

__all__ = [
    "MOTION_COLUMNS",
    "MOTION_STEPS",
    "SPEED_COLUMNS",
    "camera_moves",
    "latent_motion",
    "latent_speed",
    "motion_jacobian",
]

#: Size of each probing move: pixels, pixels, log-scale, radians (about 2 px at the frame's edge for all four).
MOTION_STEPS: tuple[float, ...] = (2.0, 2.0, 0.0625, 0.0625)
_CHUNK = 16  # frames warped at a time


def _bilinear_map(h: int, w: int, a: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, ...]:
    """Neighbour indices and weights sampling the input at ``a @ (row, col) + off`` (edges repeated)."""
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    src = np.einsum("ij,jhw->ihw", a, np.stack([rows, cols])) + off[:, None, None]
    r = np.clip(src[0], 0, h - 1)
    c = np.clip(src[1], 0, w - 1)
    r0, c0 = np.floor(r).astype(np.intp), np.floor(c).astype(np.intp)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (r - r0)[..., None], (c - c0)[..., None]
    return r0, r1, c0, c1, fr, fc


@dataclass(frozen=True)
class _Move:
    """One probing move on an ``h x w`` frame: flat neighbour indices and bilinear weights."""

    corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (r0,c0), (r0,c1), (r1,c0), (r1,c1)
    col_weights: tuple[np.ndarray, np.ndarray]  # 1 - fc, fc; shape (1, h*w, 1)
    row_weights: tuple[np.ndarray, np.ndarray]  # 1 - fr, fr
    whole_pixel: bool  # every weight is 0 or 1: the move is a copy


@lru_cache(maxsize=16)
def _moves(h: int, w: int) -> tuple[_Move, ...]:
    centre = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    dx, dy, zoom, turn = MOTION_STEPS
    s = float(np.exp(-zoom))
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    # Output pixel (row, col) samples the input at a @ (row, col) + off.
    maps = [
        (np.eye(2), np.array([0.0, -dx])),
        (np.eye(2), np.array([-dy, 0.0])),
        (s * np.eye(2), centre - s * centre),
        (rot, centre - rot @ centre),
    ]
    moves = []
    for a, off in maps:
        r0, r1, c0, c1, fr, fc = _bilinear_map(h, w, a, off)
        flat = tuple((r * w + c).ravel() for r, c in ((r0, c0), (r0, c1), (r1, c0), (r1, c1)))
        fr, fc = fr.reshape(1, h * w, 1), fc.reshape(1, h * w, 1)
        moves.append(_Move(flat, (1 - fc, fc), (1 - fr, fr), whole_pixel=not (fr.any() or fc.any())))
    return tuple(moves)


def _move_into(out: np.ndarray, x: np.ndarray, move: _Move) -> None:
    """Write ``x`` (n, h*w, 3) uint8 moved by ``move`` into ``out`` (n, h*w, 3) uint8."""
    i00, i01, i10, i11 = move.corners
    if move.whole_pixel:  # weights 1 and 0 give the pixel itself, exactly
        np.take(x, i00, axis=1, out=out)
        return
    # float64 arithmetic in this order, as the reference formula
    # top * (1 - fr) + bottom * fr with top = x00 * (1 - fc) + x01 * fc, so the rounding is the same
    (gc, fc), (gr, fr) = move.col_weights, move.row_weights
    top = np.take(x, i00, axis=1) * gc
    top += np.take(x, i01, axis=1) * fc
    bottom = np.take(x, i10, axis=1) * gc
    bottom += np.take(x, i11, axis=1) * fc
    top *= gr
    bottom *= fr
    top += bottom
    np.rint(top, out=top)
    np.clip(top, 0, 255, out=top)
    out[...] = top


def _moved_stack(frames: np.ndarray) -> np.ndarray:
    """The frames moved by each probing step, stacked: shape (4, n, H, W, 3), uint8."""
    x = np.ascontiguousarray(frames, dtype=np.uint8)
    n, h, w, ch = x.shape
    flat = x.reshape(n, h * w, ch)
    out = np.empty((len(MOTION_STEPS), n, h * w, ch), dtype=np.uint8)
    for k, move in enumerate(_moves(h, w)):
        # Chunks of a few frames keep the float64 temporaries in cache (about 3x faster than whole windows).
        for i in range(0, n, _CHUNK):
            _move_into(out[k, i : i + _CHUNK], flat[i : i + _CHUNK], move)
    return out.reshape(len(MOTION_STEPS), n, h, w, ch)


def camera_moves(frames: np.ndarray) -> list[np.ndarray]:
    """The frames moved by each probing step of :data:`MOTION_STEPS` (bilinear, edges repeated).

    Parameters
    ----------
    frames : ndarray of shape (n, H, W, 3), uint8

    Returns
    -------
    list of 4 ndarray of shape (n, H, W, 3), uint8
        Content shifted right, shifted down, zoomed in about the centre, turned clockwise about the centre.

    """
    return list(_moved_stack(frames))


def motion_jacobian(
    encode_mu: Callable[[np.ndarray], np.ndarray], frames: np.ndarray, mu: np.ndarray | None = None
) -> np.ndarray:
    """How the posterior mean of each frame responds to each probing camera move.

    Parameters
    ----------
    encode_mu : callable
        ``frames (n, H, W, 3) uint8 -> mu (n, d)``, e.g. the encoder's posterior mean.
    frames : ndarray of shape (n, H, W, 3), uint8
    mu : ndarray of shape (n, d), optional
        ``encode_mu(frames)`` when already known.

    Returns
    -------
    ndarray of shape (n, d, 4), float32
        Finite differences per unit of :data:`MOTION_STEPS`.

    """
    mu = np.asarray(encode_mu(frames) if mu is None else mu, dtype=np.float64)
    n = len(frames)
    # One call for all probes: encoders are batch-independent, so this equals one call per probe
    # bit for bit, and a single call keeps the encoder's batches full.
    moved = _moved_stack(frames)
    moved_mu = np.asarray(encode_mu(moved.reshape((-1, *moved.shape[2:]))), dtype=np.float64)
    jac = [(moved_mu[k * n : (k + 1) * n] - mu) / step for k, step in enumerate(MOTION_STEPS)]
    return np.stack(jac, axis=-1).astype(np.float32)


def _steps(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per-step latent changes, their move responses (times dt) and the dt of the steps that advance in time."""
    mu = np.asarray(mu, dtype=np.float64)
    jac = np.asarray(jac, dtype=np.float64)
    dt = np.diff(np.asarray(times, dtype=np.float64))
    step = dt > 0  # a frame sampled twice adds no information about speed
    if mu.shape[0] < 2 or not step.any():
        return None
    dmu = np.diff(mu, axis=0)[step]
    a = (0.5 * (jac[1:] + jac[:-1]))[step] * dt[step][:, None, None]  # (steps, d, 4)
    return dmu, a, dt[step]


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares ``a @ v ≈ b`` for (rows, 4) responses; zeros when the picture does not respond."""
    gram = a.T @ a
    scale = float(np.trace(gram))
    if scale <= 1e-12:
        return np.zeros(a.shape[-1])
    # A whisper of ridge keeps a move the picture does not respond to (a flat frame) at 0, not at noise / 0.
    return np.linalg.solve(gram + 1e-9 * scale * np.eye(len(gram)), a.T @ b)


def _step_velocities(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The least-squares camera velocity of each step that advances in time, and the steps' dt."""
    steps = _steps(mu, jac, times)
    if steps is None:
        return None
    dmu, a, dt = steps
    return np.stack([_solve(a[k], dmu[k]) for k in range(len(dt))]), dt


def latent_motion(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Camera motion of one clip from its latent trajectory: the median of its steps' velocities.

    Each step's velocity is the least-squares fit of that step's change of μ by
    the move responses; the clip's motion is their median, move by move, so
    a few steps where the content moves on its own, or a cut, do not decide it
    (chosen over one least-squares fit of all steps on moving footage the
    benchmarks never report: 8-class accuracy 0.78 against 0.71,
    ``benchmarks/pilot_motion_fit.py``).

    Parameters
    ----------
    mu : ndarray of shape (T, d)
        Posterior means of the clip's frames.
    jac : ndarray of shape (T, d, 4)
        :func:`motion_jacobian` of those frames.
    times : ndarray of shape (T,)
        Presentation times in seconds, non-decreasing.

    Returns
    -------
    ndarray of shape (4,), float64
        ``(x, y, zoom, rotate)`` per second (see the module docstring); zeros for a 1-frame clip, for
        frames that all share one time, or when the responses are degenerate. Negated when the clip
        runs backwards.

    """
    fit = _step_velocities(mu, jac, times)
    if fit is None:
        return np.zeros(len(MOTION_COLUMNS))
    return np.median(fit[0], axis=0)


def latent_speed(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Mean absolute camera velocity of one clip: its path length per second along each move.

    Parameters
    ----------
    mu, jac, times : ndarray
        As for :func:`latent_motion`.

    Returns
    -------
    ndarray of shape (4,), float64, non-negative
        ``sum_k |v_k| dt_k / sum_k dt_k`` with ``v_k`` the least-squares
        motion of step k alone; the same under time reversal; zeros for a
        1-frame clip or frames that all share one time.

    """
    fit = _step_velocities(mu, jac, times)
    if fit is None:
        return np.zeros(len(SPEED_COLUMNS))
    v, dt = fit
    return (np.abs(v) * dt[:, None]).sum(axis=0) / dt.sum()
