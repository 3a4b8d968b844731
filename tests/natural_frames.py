"""Natural-looking test frames for the generative tests: a camera panning over a smooth, muted random scene.

Real footage is mostly smooth with muted colours and correlated channels; these
frames share that (multi-scale blurred noise for brightness, weaker and blurrier
colour), so the default VAE, trained on real video, treats them as in-domain,
unlike the saturated, sharp-edged patterns of :mod:`tests.videofactory`.
Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def natural_frames(n: int = 16, height: int = 64, width: int = 64, *, seed: int = 0, pan=(3, 2)) -> np.ndarray:
    """Frames (n, height, width, 3) uint8 of a pan by ``pan`` = (dx, dy) pixels per frame."""
    dx, dy = pan
    rng = np.random.default_rng(seed)
    big = rng.normal(size=(height + abs(dy) * n, width + abs(dx) * n, 3))
    lum = sum(gaussian_filter(big[..., 0], s) * s for s in (2, 6, 16))
    c1, c2 = (gaussian_filter(big[..., c], 12) for c in (1, 2))
    lum = (lum - lum.mean()) / lum.std()
    c1, c2 = c1 / c1.std(), c2 / c2.std()
    base = np.array([0.45, 0.5, 0.4]) + rng.uniform(-0.08, 0.08, 3)
    img = base + 0.15 * lum[..., None] + 0.05 * np.stack([c1, -0.5 * (c1 + c2), c2], -1)
    img = np.clip(img, 0, 1)
    y0 = 0 if dy >= 0 else abs(dy) * (n - 1)
    x0 = 0 if dx >= 0 else abs(dx) * (n - 1)
    out = np.stack([img[y0 + i * dy : y0 + i * dy + height, x0 + i * dx : x0 + i * dx + width] for i in range(n)])
    return np.rint(out * 255).astype(np.uint8)


def photo_pan(n: int = 32, *, seed: int = 0, pan=(3, 2), size: int = 64) -> np.ndarray:
    """Frames (n, size, size, 3) uint8 of a camera panning by ``pan`` = (dx, dy) pixels of the output per frame
    over a random region of one of scikit-learn's two bundled photographs (real pictures: right way round in
    brightness, which the ``polarity`` statistic needs and :func:`natural_frames` does not have)."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    img = load_sample_images().images[seed % 2]
    h, w = img.shape[:2]
    side = int(rng.integers(96, 160))  # a 3-px step of the output then spans at most 3 x 31 x 2.5 px: it fits
    step = side / size
    dx, dy = (round(p * step) for p in pan)
    span_x, span_y = abs(dx) * (n - 1), abs(dy) * (n - 1)
    x0 = int(rng.integers(0, w - side - span_x)) + (span_x if dx < 0 else 0)
    y0 = int(rng.integers(0, h - side - span_y)) + (span_y if dy < 0 else 0)
    idx = np.linspace(0, side - 1, size).astype(int)
    return np.stack([img[y0 + i * dy + idx][:, x0 + i * dx + idx] for i in range(n)]).astype(np.uint8)
