"""Grey pictures and their 2x2-mean halves, shared by the pixel statistics (numpy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["gray", "half"]

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights


def gray(frames: np.ndarray) -> np.ndarray:
    """Grey frames (..., h, w) in [0, 1], float64, from RGB frames (..., h, w, 3) uint8."""
    return (np.asarray(frames, dtype=np.float64) / 255.0) @ _LUMA


def half(g: np.ndarray) -> np.ndarray:
    """The 2x2 means of grey frames (..., h, w): shape (..., h // 2, w // 2) (an odd last row or column is dropped)."""
    h, w = g.shape[-2] // 2 * 2, g.shape[-1] // 2 * 2
    even = g[..., :h, :w]
    return 0.25 * (even[..., 0::2, 0::2] + even[..., 1::2, 0::2] + even[..., 0::2, 1::2] + even[..., 1::2, 1::2])
