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
