"""Interpolation between latent vectors: straight lines and great circles (numpy only)."""

from __future__ import annotations

import numpy as np

from featkit._validation import Options, validate_params

__all__ = ["INTERPOLATIONS", "interpolate"]

#: Latent interpolation methods.
INTERPOLATIONS = ("linear", "slerp")


def interpolate(
    a: np.ndarray, b: np.ndarray, t: np.ndarray, method: str = "linear", *, pairwise: bool = False
) -> np.ndarray:
    """Points between latent vectors ``a`` and ``b``.

    Parameters
    ----------
    a, b : ndarray of shape (d,) or (n, d)
        End points (``t = 0`` gives ``a``, ``t = 1`` gives ``b``); pairs when 2-D.
    t : ndarray of shape (m,)
        Positions along the path, usually in [0, 1].
    method : {"linear", "slerp"}, default="linear"
        ``"linear"``: ``(1 - t) a + t b``. ``"slerp"``: along the great
        circle between the two vectors, rescaled from ``|a|`` to ``|b|``
        linearly (White, 2016); under an N(0, I) prior, points on a straight
        line between two typical vectors are unusually short, slerp keeps the
        norm typical. Nearly parallel vectors fall back to ``"linear"``.
    pairwise : bool, default=False
        With 2-D ``a`` and ``b`` and ``t`` of shape (n,): pair ``i`` is taken
        at ``t[i]`` only, giving shape (n, d).

    Returns
    -------
    ndarray of shape (m, d), (m, n, d), or (n, d) when ``pairwise``, float64

    """
    validate_params("interpolate", {"method": [Options(INTERPOLATIONS)]}, {"method": method})
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a and b must have the same shape (d,) or (n, d). Received: {a.shape} and {b.shape}")
    t = np.asarray(t, dtype=np.float64)
    if pairwise:
        if a.ndim != 2 or t.shape != a.shape[:1]:
            raise ValueError(f"pairwise needs a, b of shape (n, d) and t of shape (n,). Received: {a.shape}, {t.shape}")
        t = t[:, None]
    else:
        t = t.reshape((-1,) + (1,) * a.ndim)
    lerp = (1.0 - t) * a + t * b
    if method == "linear":
        return lerp
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ua = a / np.maximum(na, 1e-12)
    ub = b / np.maximum(nb, 1e-12)
    omega = np.arccos(np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    so = np.where(safe, so, 1.0)
    direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / so
    out = direction * ((1.0 - t) * na + t * nb)
    return np.where(safe, out, lerp)
