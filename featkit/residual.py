"""Where the VAE fails to redraw a frame: the ``residual`` statistic (numpy only).

A VAE trained on natural frames redraws flat regions (sky, walls, shadows)
almost exactly and loses its error in the detail it cannot keep (edges,
texture). So in a natural frame the reconstruction residual sits where the
detail is, whatever the scene. A pasted flat patch (an occluding block, a
logo, a dead region of the sensor) or pixel noise breaks that: there the
model misses in places *without* detail. The column

    residual_flat = log(mean residual in the flattest quarter of the frame / mean residual of the frame)

is a ratio of the frame's own numbers, so the scene and the amount of detail
largely cancel, as in :mod:`featkit.polarity`; it is measured on the same
frame (the clip's middle sampled frame) from the same decoder pass, so it
costs no model call of its own. Chosen on ``benchmarks/bench_anomaly.py``'s
selection set (photographs held out by source): alone it separates occluded
clips from clean ones of held-out sources at one-sided ROC AUC 0.95 on the
photographs and 0.98 on the corpus.
"""

from __future__ import annotations

import numpy as np

from featkit._pixels import gray

__all__ = ["RESIDUAL_COLUMN", "flat_residual"]

#: Column name of the ``residual`` statistic.
RESIDUAL_COLUMN = "residual_flat"
_GRID = 16  # tiles per side: 4-px tiles at the default 64-px input
_FLAT_SHARE = 0.25  # the flattest quarter of the tiles
_EPS = 1e-12  # floor of a mean squared error of pixels in [0, 1]: a perfect reconstruction gives 0


def _tile_means(a: np.ndarray, tile: int) -> np.ndarray:
    """Means of ``tile`` x ``tile`` tiles of (n, h, w), flattened to (n, tiles); a part filling no tile is dropped."""
    n, h, w = a.shape
    rows, cols = h // tile, w // tile
    a = a[:, : rows * tile, : cols * tile].reshape(n, rows, tile, cols, tile)
    return a.mean(axis=(2, 4)).reshape(n, rows * cols)


def flat_residual(frames: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Log share of the reconstruction error that falls in the flattest quarter of each frame, relative to area.

    Parameters
    ----------
    frames : ndarray of shape (n, S, S, 3), uint8
        Frames at the encoder's input size.
    reconstruction : ndarray of shape (n, S, S, 3), float
        The decoder's mean of each frame's posterior mean, in [0, 1].

    Returns
    -------
    ndarray of shape (n,), float64
        With the frame cut into a 16 x 16 grid of tiles, the tiles ranked by
        the variance of their grey levels, and e the squared error per pixel
        (mean over channels): ``log(mean e over the tiles at or below the
        25th percentile of variance / mean e over all tiles)``. Between
        ``-inf`` (floored) and ``log 4``: negative when the error sits in
        the detail (natural frames), towards ``log 4`` when it sits in flat
        regions; 0 for a frame that is flat everywhere (every tile is in the
        quarter) or reconstructed exactly.

    """
    frames = np.asarray(frames)
    x = frames.astype(np.float64) / 255.0
    r = np.asarray(reconstruction, dtype=np.float64)
    if r.shape != x.shape or x.ndim != 4:
        raise ValueError(
            "frames and reconstruction must have the same shape (n, S, S, 3). "
            f"Received: frames.shape={frames.shape}, reconstruction.shape={r.shape}"
        )
    if len(x) == 0:
        return np.zeros(0)
    tile = max(1, min(x.shape[1:3]) // _GRID)
    error = _tile_means(((x - r) ** 2).mean(axis=-1), tile)
    g = gray(frames)
    n, h, w = g.shape
    centred = g[:, : h // tile * tile, : w // tile * tile] - np.repeat(
        np.repeat(_tile_means(g, tile).reshape(n, h // tile, w // tile), tile, axis=1), tile, axis=2
    )
    # Rounded far below one grey level's variance (1.5e-5), so flat tiles tie at exactly 0 whatever the
    # summation order: the quarter then holds all of them, never a rounding-chosen few.
    variance = np.round(_tile_means(centred**2, tile), 12)
    flat = variance <= np.quantile(variance, _FLAT_SHARE, axis=1, keepdims=True)
    in_flat = (error * flat).sum(axis=1) / flat.sum(axis=1)
    return np.log(in_flat + _EPS) - np.log(error.mean(axis=1) + _EPS)
