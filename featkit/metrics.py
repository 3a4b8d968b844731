"""Image quality metrics for reconstructions: PSNR and SSIM (NumPy/SciPy only, no TensorFlow).

Both take images with values in [0, 1] and return one value per image, so
callers can average, bootstrap or compare per frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "ssim"]


def psnr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio per image, for images in [0, 1].

    Parameters
    ----------
    x, y : ndarray of shape (n, ...)
        Reference and test images, values in [0, 1].

    Returns
    -------
    ndarray of shape (n,)
        dB; identical images give 120 dB (the MSE is floored at 1e-12).

    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mse = np.mean((x - y) ** 2, axis=tuple(range(1, x.ndim)))
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def ssim(x: np.ndarray, y: np.ndarray, *, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """Structural similarity per image (Wang et al. 2004), for images in [0, 1].

    Gaussian-weighted local statistics (σ = 1.5, truncated at 3.5σ, the usual
    11 x 11 window) per channel, averaged over valid pixels and channels; the
    same definition as ``skimage.metrics.structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1)``.

    Parameters
    ----------
    x, y : ndarray of shape (n, H, W) or (n, H, W, C)
        Reference and test images, values in [0, 1].
    sigma, k1, k2 : float
        Window width and the stabilising constants.

    Returns
    -------
    ndarray of shape (n,)

    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape. Received: {x.shape} and {y.shape}")
    if x.ndim == 3:
        x, y = x[..., None], y[..., None]
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (n, H, W) or (n, H, W, C). Received: {x.shape}")
    # Filter only over H and W, never across images or channels.
    sig = (0.0, sigma, sigma, 0.0)

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sig, truncate=3.5, mode="reflect")

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = k1**2, k2**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    # Like skimage, ignore the border where the window leaves the image.
    pad = int(3.5 * sigma + 0.5)
    return s[:, pad : -pad or None, pad : -pad or None, :].mean(axis=(1, 2, 3))
