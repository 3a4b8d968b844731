"""Per-clip statistics: names, values and invariances (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from featkit.stats import STATISTICS, clip_statistics, feature_names

finite = st.floats(-10, 10, allow_nan=False, width=32)


def test_feature_names_are_ordered_and_padded():
    names = feature_names(["mu_mean", "sigma_mean"], 3)
    assert names == ["mu_mean_00", "mu_mean_01", "mu_mean_02", "sigma_mean_00", "sigma_mean_01", "sigma_mean_02"]
    assert feature_names(["mu_std"], 128)[-1] == "mu_std_127"


def test_known_values():
    mu = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    logvar = np.log(np.array([[1.0, 4.0], [1.0, 4.0], [1.0, 4.0]]))
    row = clip_statistics(mu, logvar, ["mu_mean", "mu_std", "sigma_mean", "mu_absdiff", "logvar_mean"])
    np.testing.assert_allclose(row, [2, 1, np.sqrt(8 / 3), 0, 1, 2, 2, 0, 0, np.log(4)], rtol=1e-6)
    assert row.dtype == np.float32


def test_single_frame_clip_has_zero_spread_and_motion():
    row = clip_statistics(np.ones((1, 4)), np.zeros((1, 4)), ["mu_std", "mu_absdiff"])
    np.testing.assert_array_equal(row, 0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 3)), ["mu_mean"])
    with pytest.raises(ValueError, match="T >= 1"):
        clip_statistics(np.zeros((0, 2)), np.zeros((0, 2)), ["mu_mean"])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=finite), st.randoms())
def test_time_order_invariance_where_expected(mu, rnd):
    logvar = np.zeros_like(mu)
    perm = list(range(len(mu)))
    rnd.shuffle(perm)
    stats = ["mu_mean", "mu_std", "sigma_mean"]
    np.testing.assert_allclose(
        clip_statistics(mu, logvar, stats), clip_statistics(mu[perm], logvar[perm], stats), atol=1e-5
    )
    # Reversing time keeps the mean absolute change.
    np.testing.assert_allclose(
        clip_statistics(mu, logvar, ["mu_absdiff"]), clip_statistics(mu[::-1], logvar, ["mu_absdiff"]), atol=1e-5
    )
    # A shift of every latent moves the mean only.
    shifted = clip_statistics(mu + 3, logvar, ["mu_mean", "mu_std", "mu_absdiff"])
    base = clip_statistics(mu, logvar, ["mu_mean", "mu_std", "mu_absdiff"])
    d = mu.shape[1]
    np.testing.assert_allclose(shifted[:d], base[:d] + 3, atol=1e-4)
    np.testing.assert_allclose(shifted[d:], base[d:], atol=1e-4)


def test_every_statistic_has_a_description():
    assert all(isinstance(desc, str) and desc for desc, _ in STATISTICS.values())


# --------------------------------------------------------------------------
# time-signed statistics (mu_slope, mu_delta)

SIGNED = ["mu_slope", "mu_delta"]


@st.composite
def clips_with_times(draw):
    """A clip's latents and non-decreasing frame times (repeats allowed, as when a frame is sampled twice)."""
    t = draw(st.integers(1, 12))
    d = draw(st.integers(1, 5))
    mu = draw(arrays(np.float64, (t, d), elements=finite))
    gaps = draw(arrays(np.float64, (t,), elements=st.sampled_from([0.0, 0.04, 0.125, 0.5])))
    start = draw(st.floats(0, 1e4, allow_nan=False))
    return mu, start + np.cumsum(gaps)


def _signed(mu: np.ndarray, times: np.ndarray) -> np.ndarray:
    return clip_statistics(mu, np.zeros_like(mu), SIGNED, times=times).astype(np.float64)


@settings(max_examples=100, deadline=None)
@given(clips_with_times())
def test_reversing_a_clip_negates_the_signed_statistics(clip):
    mu, times = clip
    # Played backwards: the last frame comes first, and the gaps between frames are mirrored.
    mirrored = times[0] + times[-1] - times[::-1]
    np.testing.assert_allclose(_signed(mu[::-1], mirrored), -_signed(mu, times), rtol=1e-5, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(clips_with_times(), st.floats(-100, 100, allow_nan=False))
def test_signed_statistics_ignore_a_constant_shift_and_vanish_on_a_static_clip(clip, shift):
    mu, times = clip
    np.testing.assert_allclose(_signed(mu + shift, times), _signed(mu, times), rtol=1e-5, atol=1e-3)
    static = np.repeat(mu[:1], len(mu), axis=0)
    np.testing.assert_array_equal(_signed(static, times), 0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (1, 4), elements=finite), st.floats(0, 1e6, allow_nan=False))
def test_signed_statistics_are_zero_and_finite_for_one_frame(mu, t):
    row = _signed(mu, np.array([t]))
    assert np.all(np.isfinite(row))
    np.testing.assert_array_equal(row, 0)


def test_slope_is_per_second_whatever_the_sampling_rate():
    # A latent drifting at 0.5 per second, sampled at 8 fps and at 30 fps, with a time offset.
    for fps in (8.0, 30.0):
        times = 12.0 + np.arange(16) / fps
        mu = np.stack([0.5 * times, -2.0 * times + 3], axis=1)
        np.testing.assert_allclose(clip_statistics(mu, np.zeros_like(mu), ["mu_slope"], times=times), [0.5, -2.0])
    # A frame repeated by sampling faster than the video carries its own time, so it does not bend the line.
    times = np.array([0.0, 0.0, 0.5, 0.5, 1.0])
    mu = (2.0 * times)[:, None]
    np.testing.assert_allclose(clip_statistics(mu, np.zeros_like(mu), ["mu_slope"], times=times), [2.0])


def test_slope_is_zero_when_every_frame_has_the_same_time():
    mu = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(clip_statistics(mu, np.zeros_like(mu), ["mu_slope"], times=np.full(3, 7.0)), 0)


def test_delta_known_value_and_odd_clip_middle_is_ignored():
    mu = np.array([[0.0], [1.0], [100.0], [3.0], [4.0]])
    np.testing.assert_allclose(clip_statistics(mu, np.zeros_like(mu), ["mu_delta"]), [3.0])


def test_time_statistics_need_times():
    with pytest.raises(ValueError, match="presentation time"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["mu_slope"])
    with pytest.raises(ValueError, match="one finite time per frame"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["mu_slope"], times=np.zeros(2))
    with pytest.raises(ValueError, match="one finite time per frame"):
        clip_statistics(np.zeros((2, 2)), np.zeros((2, 2)), ["mu_slope"], times=np.array([0.0, np.nan]))


def test_signed_statistics_are_in_the_default_set():
    from featkit.config import DEFAULT_STATS

    assert {"mu_slope", "mu_delta"} <= set(DEFAULT_STATS)
