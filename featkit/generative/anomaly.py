"""Anomaly scores from the VAE: the per-frame negative ELBO behind the ``anomaly`` statistic.

(The encoding step that feeds it, :func:`featkit.reduce.encode_frames`, lives with the core reducer, so
extraction does not import this package.)

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

import numpy as np

from featkit.posterior import kl_to_prior

__all__ = ["negative_elbo", "reconstruction_mse"]


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
    return nll + beta * kl_to_prior(mu, logvar)


def reconstruction_mse(frames: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per-frame mean squared error between frames (uint8) and reconstructions in [0, 1] (a simpler score)."""
    x = np.asarray(frames, dtype=np.float64) / 255.0
    return np.mean((x - np.asarray(recon, dtype=np.float64)) ** 2, axis=tuple(range(1, x.ndim)))
