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
