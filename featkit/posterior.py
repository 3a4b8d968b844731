"""Numbers of a diagonal Gaussian posterior that several modules share (numpy only).

:mod:`featkit.stats`, :mod:`featkit.quality`, the VAE's layers and its anomaly
score all read σ and the divergence from the prior through these, so they see
the same clipped log variance.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOGVAR_RANGE", "kl_to_prior", "posterior_sigma"]

#: log σ² is clipped to this range before it is exponentiated (the VAE's layers, the statistics and
#: the anomaly score share it, so all three see the same σ).
LOGVAR_RANGE: tuple[float, float] = (-30.0, 20.0)


def posterior_sigma(logvar: np.ndarray) -> np.ndarray:
    """σ from log σ², clipped to :data:`LOGVAR_RANGE`."""
    return np.exp(0.5 * np.clip(logvar, *LOGVAR_RANGE))


def kl_to_prior(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(μ, σ²) ‖ N(0, I)) per row, in nats, in float64 (log σ² clipped to :data:`LOGVAR_RANGE`)."""
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.clip(np.asarray(logvar, dtype=np.float64), *LOGVAR_RANGE)
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=-1)
