"""``featkit.residual.flat_residual``: where a reconstruction's error falls, relative to the frame's flat places."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featkit.residual import flat_residual
from tests.natural_frames import natural_frames


def _half_flat(n: int = 2) -> np.ndarray:
    """Frames whose left half is flat grey and right half is random texture: 50 % flat tiles."""
    rng = np.random.default_rng(0)
    x = np.full((n, 64, 64, 3), 120, dtype=np.uint8)
    x[:, :, 32:] = rng.integers(0, 256, size=(n, 64, 32, 3))
    return x


def test_error_in_the_flat_quarter_reaches_log_4_and_error_in_detail_falls_below_0():
    x = _half_flat()
    base = x / 255.0
    flat_error = base.copy()
    flat_error[:, :, :32] += 0.1  # every flat tile is off, nothing else
    # Half the tiles are flat and tie at variance 0, so "the flattest quarter" holds all of them: log 2.
    np.testing.assert_allclose(flat_residual(x, flat_error), np.log(2.0), atol=1e-9)
    detail_error = base.copy()
    detail_error[:, :, 32:] += 0.1
    assert (flat_residual(x, detail_error) < -10).all()  # no error where it is flat: the floor
    quarter = x.copy()
    quarter[:, :, 16:] = np.random.default_rng(1).integers(0, 256, size=(2, 64, 48, 3))  # exactly 1/4 flat
    err = quarter / 255.0
    err[:, :, :16] += 0.1
    np.testing.assert_allclose(flat_residual(quarter, err), np.log(4.0), atol=1e-9)


def test_flat_frames_and_exact_reconstructions_give_0():
    flat = np.full((3, 64, 64, 3), 77, dtype=np.uint8)
    assert (flat_residual(flat, flat / 255.0 + 0.2) == 0.0).all()
    x = natural_frames(3, seed=2)
    assert (flat_residual(x, x / 255.0) == 0.0).all()
    assert flat_residual(x[:0], x[:0] / 255.0).shape == (0,)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 20.0), st.integers(0, 10_000))
def test_scaling_the_error_changes_nothing(scale, seed):
    """A ratio of the frame's own errors: a model twice as wrong everywhere gives the same value."""
    x = natural_frames(2, seed=seed % 7)
    rng = np.random.default_rng(seed)
    error = rng.normal(0, 0.02, x.shape)
    a = flat_residual(x, x / 255.0 + error)
    b = flat_residual(x, x / 255.0 + error * scale)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert (a <= np.log(4.0) + 1e-9).all()


def test_other_input_sizes_are_measured_on_the_same_grid():
    """32-px frames (2-px tiles) and 50-px ones (3-px tiles, the last 2 px dropped) give finite values."""
    x = natural_frames(2, seed=5)
    for frames in (x[:, ::2, ::2].copy(), x[:, :50, :50].copy()):
        err = frames / 255.0 + np.random.default_rng(3).normal(0, 0.02, frames.shape)
        values = flat_residual(frames, err)
        assert values.shape == (2,)
        assert np.isfinite(values).all()


def test_mismatched_shapes_are_refused():
    x = natural_frames(2, seed=1)
    with pytest.raises(ValueError, match="same shape"):
        flat_residual(x, (x / 255.0)[:1])
    with pytest.raises(ValueError, match="same shape"):
        flat_residual(x[0], x[0] / 255.0)
