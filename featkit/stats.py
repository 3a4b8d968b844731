"""Per-clip statistics of the encoder's posterior, and their column names (numpy only).

For a clip of T frames the encoder gives the posterior mean ``mu`` and log
variance ``logvar``, both of shape (T, d). Each statistic reduces them over
time to a vector of length d; the feature row of a clip is the concatenation
of the chosen statistics, named ``<stat>_<j>`` (``mu_mean_00`` …).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["STATISTICS", "clip_statistics", "feature_names"]

_LOGVAR_RANGE = (-30.0, 20.0)


def _sigma(logvar: np.ndarray) -> np.ndarray:
    return np.exp(0.5 * np.clip(logvar, *_LOGVAR_RANGE))


def _absdiff(mu: np.ndarray) -> np.ndarray:
    if mu.shape[0] < 2:
        return np.zeros(mu.shape[1], dtype=np.float64)
    return np.abs(np.diff(mu, axis=0)).mean(axis=0)


#: name -> (description, function of (mu, logvar) in float64 returning shape (d,)).
STATISTICS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "mu_mean": ("mean of the posterior mean over the clip", lambda mu, lv: mu.mean(axis=0)),
    "mu_std": ("standard deviation of the posterior mean over the clip", lambda mu, lv: mu.std(axis=0)),
    "sigma_mean": ("mean posterior standard deviation (encoder uncertainty)", lambda mu, lv: _sigma(lv).mean(axis=0)),
    "mu_absdiff": (
        "mean absolute frame-to-frame change of the posterior mean (latent motion)",
        lambda mu, lv: _absdiff(mu),
    ),
    "logvar_mean": (
        "mean posterior log variance over the clip",
        lambda mu, lv: np.clip(lv, *_LOGVAR_RANGE).mean(axis=0),
    ),
}


def feature_names(stats: Sequence[str], latent_dim: int) -> list[str]:
    """Name every feature column.

    Parameters
    ----------
    stats : sequence of str
        Statistic names, in column order.
    latent_dim : int
        Size d of the latent space.

    Returns
    -------
    list of str
        ``len(stats) * latent_dim`` names such as ``"mu_mean_07"``.

    """
    width = max(2, len(str(latent_dim - 1)))
    return [f"{s}_{j:0{width}d}" for s in stats for j in range(latent_dim)]


def clip_statistics(mu: np.ndarray, logvar: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """Reduce one clip's posterior to a feature row.

    Parameters
    ----------
    mu, logvar : ndarray of shape (T, d)
        Posterior mean and log variance of the clip's T frames (T >= 1).
    stats : sequence of str
        Names from :data:`STATISTICS`, in column order.

    Returns
    -------
    ndarray of shape (len(stats) * d,), float32
        Computed in float64, so the result does not depend on summation order
        at float32 precision.

    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape or mu.shape[0] < 1:
        raise ValueError(
            "mu and logvar must have the same shape (T, d) with T >= 1. "
            f"Received: mu.shape={mu.shape}, logvar.shape={logvar.shape}"
        )
    return np.concatenate([STATISTICS[s][1](mu, logvar) for s in stats]).astype(np.float32)
