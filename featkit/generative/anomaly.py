"""Anomaly scores from the VAE: per-frame negative ELBO, and the encoding step that feeds the ``anomaly`` statistic.

The score of a frame x is the β-VAE objective the model was trained to
minimise, evaluated deterministically at the posterior mean (z = μ)::

    score(x) = Σ_pixels (x - x̂)² / (2 · obs_var) + β · KL(q(z|x) ‖ N(0, I)),   x̂ = decoder(μ)

in nats per frame, without the constant ``½ · D · log(2π · obs_var)`` of the
Gaussian likelihood (D = H · W · 3), which is the same for every frame of a
model. With β = 1 it is the negative ELBO (an upper bound on −log p(x) up to
that constant, with the expectation over z replaced by its value at μ). Frames
unlike the training data reconstruct badly and score high. ``featkit extract
--stats ...,anomaly`` stores the mean over each clip's frames as the column
``anomaly_nelbo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featkit.exceptions import EncoderError
from featkit.stats import LOGVAR_RANGE, SCORE_STATISTICS, needs_scores

__all__ = ["check_scoring", "encode_frames", "negative_elbo", "reconstruction_mse"]


def negative_elbo(
    frames: np.ndarray,
    recon: np.ndarray,
    mu: np.ndarray,
    logvar: np.ndarray,
    *,
    beta: float,
    obs_var: float,
) -> np.ndarray:
    """Per-frame negative ELBO (β-weighted) at z = μ, in nats, computed in float64.

    Parameters
    ----------
    frames : ndarray of shape (n, H, W, 3), uint8
        The frames.
    recon : ndarray of shape (n, H, W, 3), float
        ``decoder(μ)``, values in [0, 1].
    mu, logvar : ndarray of shape (n, d)
        The frames' posterior.
    beta : float
        Weight of the KL term.
    obs_var : float
        The decoder's fixed variance.

    Returns
    -------
    ndarray of shape (n,), float64

    """
    x = np.asarray(frames, dtype=np.float64) / 255.0
    recon = np.asarray(recon, dtype=np.float64)
    if x.shape != recon.shape:
        raise ValueError(f"frames and recon must have the same shape. Received: {x.shape} and {recon.shape}")
    nll = np.sum((x - recon) ** 2, axis=tuple(range(1, x.ndim))) / (2.0 * obs_var)
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.clip(np.asarray(logvar, dtype=np.float64), *LOGVAR_RANGE)
    kl = -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=-1)
    return nll + beta * kl


def reconstruction_mse(frames: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per-frame mean squared error between frames (uint8) and reconstructions in [0, 1] (a simpler score)."""
    x = np.asarray(frames, dtype=np.float64) / 255.0
    return np.mean((x - np.asarray(recon, dtype=np.float64)) ** 2, axis=tuple(range(1, x.ndim)))


def check_scoring(encoder: Any, stats: Sequence[str]) -> None:
    """Raise EncoderError before any work when ``stats`` needs scores the encoder cannot give."""
    if needs_scores(stats) and not getattr(encoder, "has_decoder", False):
        wanted = [s for s in stats if s in SCORE_STATISTICS]
        raise EncoderError(
            f"The statistics {wanted} need an encoder with a decoder (to score frames), and encoder "
            f"{getattr(encoder, 'name', encoder)!r} has none. Use the default encoder or a .keras file holding "
            "a whole featkit VAE, or drop them from the statistics."
        )


def encode_frames(
    encoder: Any, frames: np.ndarray, stats: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Encode a video's frames and, when the statistics need them, score them.

    This is the one call extraction makes per video; the posterior is the
    same whether or not scores are asked for (scoring reuses it).

    Parameters
    ----------
    encoder : featkit.encoders.Encoder
    frames : ndarray of shape (n, S, S, 3), uint8
    stats : sequence of str
        The statistics to be computed (see :data:`featkit.stats.STATISTICS`).

    Returns
    -------
    mu, logvar : ndarray of shape (n, d), float32
    scores : ndarray of shape (n,), float64, or None
        Per-frame negative ELBO when a statistic of
        :data:`featkit.stats.SCORE_STATISTICS` is in ``stats``.

    Raises
    ------
    EncoderError
        If scores are needed and the encoder has no decoder.

    """
    check_scoring(encoder, stats)
    mu, logvar = encoder.encode(frames)
    scores = encoder.score(frames, posterior=(mu, logvar)) if needs_scores(stats) else None
    return mu, logvar, scores
