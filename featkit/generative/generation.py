"""Generation: decode samples of the prior N(0, I) and latent walks between two clips, as PNG contact sheets.

Everything is seeded: the same seed, model and machine give the same pixels
(prior draws come from ``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Interval, validate_params
from featkit.generative.latent import interpolate
from featkit.generative.media import contact_sheet, load_frames, to_uint8, upscale, write_png
from featkit.generative.model import require_decoder

__all__ = ["latent_walk", "prior_sheet", "sample_prior", "walk_sheet"]


def _check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    validate_params(owner, {name: [Interval(int, minimum, None)]}, {name: value})


def sample_prior(n: int = 64, *, encoder: Any = None, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """Decode ``n`` draws of z ~ N(0, temperature² I).

    Parameters
    ----------
    n : int, default=64
        Number of samples.
    encoder : Encoder, optional
        An encoder with a decoder; default the shipped VAE.
    seed : int, default=0
        Seed of the draws.
    temperature : float, default=1.0
        Standard deviation of the draws (below 1 gives more typical, blander images).

    Returns
    -------
    ndarray of shape (n, S, S, 3), uint8

    """
    _check_int("sample_prior", "n", n, 1)
    validate_params(
        "sample_prior", {"temperature": [Interval(float, 0, math.inf, closed="neither")]}, {"temperature": temperature}
    )
    encoder = require_decoder(encoder, "sample from the prior")
    z = np.random.default_rng(seed).standard_normal((n, encoder.latent_dim)) * temperature
    return to_uint8(encoder.decode(z.astype(np.float32)))


def latent_walk(
    start: np.ndarray, end: np.ndarray, *, encoder: Any = None, steps: int = 8, method: str = "linear"
) -> np.ndarray:
    """Decode evenly spaced points between the posterior means of paired frames.

    Parameters
    ----------
    start, end : ndarray of shape (k, S, S, 3), uint8
        Frames to walk from and to, paired row by row.
    encoder : Encoder, optional
        An encoder with a decoder; default the shipped VAE.
    steps : int, default=8
        Points per walk, end points included (step 0 decodes μ(start)).
    method : {"linear", "slerp"}, default="linear"

    Returns
    -------
    ndarray of shape (k, steps, S, S, 3), uint8

    """
    _check_int("latent_walk", "steps", steps, 2)
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape. Received: {start.shape} and {end.shape}")
    encoder = require_decoder(encoder, "walk in latent space")
    mu_a, _ = encoder.encode(start)
    mu_b, _ = encoder.encode(end)
    z = interpolate(mu_a, mu_b, np.linspace(0.0, 1.0, steps), method)  # (steps, k, d)
    k, d = mu_a.shape
    frames = to_uint8(encoder.decode(z.transpose(1, 0, 2).reshape(k * steps, d).astype(np.float32)))
    return frames.reshape(k, steps, *frames.shape[1:])


def prior_sheet(
    output: str | os.PathLike[str],
    *,
    encoder: Any = None,
    n: int = 64,
    seed: int = 0,
    temperature: float = 1.0,
    ncols: int | None = None,
    scale: int = 2,
) -> Path:
    """Write a contact sheet of ``n`` prior samples (see :func:`sample_prior`) as PNG; return its path."""
    _check_int("prior_sheet", "scale", scale, 1)
    frames = sample_prior(n, encoder=encoder, seed=seed, temperature=temperature)
    return write_png(output, contact_sheet(upscale(frames, scale), ncols=ncols))


def _pick(frames: np.ndarray, rows: int) -> np.ndarray:
    """``rows`` frames evenly spread over a clip, first and last included (a still image repeats)."""
    idx = np.round(np.linspace(0, frames.shape[0] - 1, rows)).astype(np.int64)
    return frames[idx]


def walk_sheet(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    encoder: Any = None,
    steps: int = 8,
    rows: int = 4,
    method: str = "linear",
    fps: float | None = None,
    originals: bool = True,
    scale: int = 2,
) -> Path:
    """Write a PNG of latent walks from clip (or image) ``a`` to ``b``.

    Row r walks from the r-th of ``rows`` frames spread evenly over ``a`` to
    the r-th such frame of ``b``, in ``steps`` points; with ``originals`` the
    two frames themselves frame each row (first and last column).

    Parameters
    ----------
    a, b : path-like
        Videos or images (``.png``, ``.jpg`` …).
    output : path-like
        The PNG.
    encoder : Encoder, optional
        An encoder with a decoder; default the shipped VAE.
    steps : int, default=8
    rows : int, default=4
    method : {"linear", "slerp"}, default="linear"
    fps : float, optional
        Sample the videos at this rate before picking frames.
    originals : bool, default=True
    scale : int, default=2
        Nearest-neighbour upscaling of each tile.

    Returns
    -------
    pathlib.Path

    """
    _check_int("walk_sheet", "rows", rows, 1)
    _check_int("walk_sheet", "scale", scale, 1)
    encoder = require_decoder(encoder, "walk in latent space")
    fa = _pick(load_frames(a, encoder.input_size, fps=fps), rows)
    fb = _pick(load_frames(b, encoder.input_size, fps=fps), rows)
    grid = latent_walk(fa, fb, encoder=encoder, steps=steps, method=method)
    if originals:
        grid = np.concatenate([fa[:, None], grid, fb[:, None]], axis=1)
    return write_png(output, contact_sheet(upscale(grid, scale)))
