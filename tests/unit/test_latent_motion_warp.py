"""The probing camera moves equal a plain bilinear warp, bit for bit (the fast path may not change features)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.latent_motion import MOTION_STEPS, camera_moves


def _reference_moves(frames: np.ndarray) -> list[np.ndarray]:
    """The textbook formula, one output pixel at a time in float64 (as featkit computed it before the fast path)."""
    x = frames.astype(np.float32)
    _, h, w, _ = x.shape
    centre = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    dx, dy, zoom, turn = MOTION_STEPS
    s = float(np.exp(-zoom))
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    maps = [
        (np.eye(2), np.array([0.0, -dx])),
        (np.eye(2), np.array([-dy, 0.0])),
        (s * np.eye(2), centre - s * centre),
        (rot, centre - rot @ centre),
    ]
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    out = []
    for a, off in maps:
        src = np.einsum("ij,jhw->ihw", a, np.stack([rows, cols])) + off[:, None, None]
        r, c = np.clip(src[0], 0, h - 1), np.clip(src[1], 0, w - 1)
        r0, c0 = np.floor(r).astype(np.intp), np.floor(c).astype(np.intp)
        r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
        fr, fc = (r - r0)[..., None], (c - c0)[..., None]
        top = x[:, r0, c0] * (1 - fc) + x[:, r0, c1] * fc
        bottom = x[:, r1, c0] * (1 - fc) + x[:, r1, c1] * fc
        out.append(np.clip(np.rint(top * (1 - fr) + bottom * fr), 0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize("shape", [(40, 64, 64, 3), (17, 64, 48, 3), (1, 5, 9, 3), (3, 1, 1, 3), (2, 33, 7, 3)])
def test_moves_equal_the_reference_warp_bit_for_bit(shape):
    rng = np.random.default_rng(sum(shape))
    frames = rng.integers(0, 256, shape, dtype=np.uint8)
    frames[0] = 255  # saturated pixels: rounding and clipping at the top of the range
    got = camera_moves(frames)
    assert len(got) == len(MOTION_STEPS)
    for g, want in zip(got, _reference_moves(frames), strict=True):
        assert g.dtype == np.uint8
        assert g.shape == frames.shape
        np.testing.assert_array_equal(g, want)


def test_moves_of_no_frames_are_empty():
    assert all(m.shape == (0, 64, 64, 3) for m in camera_moves(np.zeros((0, 64, 64, 3), np.uint8)))
