"""The scikit-learn face: the loader's filters, the numeric transformer's estimator checks, the path-based
extractor inside a grid search, and clip-to-video aggregation, on features of real generated videos."""

from __future__ import annotations

import functools
import shutil
import sys

import h5py
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

import featkit
from featkit.aggregate import aggregate_by_video, average_by_video, predict_by_video
from featkit.exceptions import ConfigError, LayoutError, VideoOpenError
from featkit.quality import QUALITY_COLUMNS
from featkit.sklearn import load_features, load_videos
from featkit.stats import feature_names
from featkit.transformers import (
    COLUMN_RESOLUTION,
    PATH_INPUT_NOT_APPLICABLE,
    LatentStatsSelector,
    StatisticGroupScaler,
    VideoFeatureExtractor,
    statistic_of,
)
from tests import videofactory as vf
from tests.shipped import default_latent_dim

# -- load_features ------------------------------------------------------------------------


def test_load_features_filters_match_the_full_read(class_features):
    X, y, groups, names = load_features(class_features)
    videos = load_videos(class_features)
    # The default statistics: 6 per latent, 8 of camera motion, 8 of quality, 1 of polarity, 1 of residual.
    assert X.shape == (48, 6 * default_latent_dim() + 8 + len(QUALITY_COLUMNS) + 2)
    assert X.dtype == np.float32
    assert list(np.unique(y)) == ["bar", "square", "stripes"]
    assert np.array_equal(np.bincount(groups), np.full(12, 4))
    assert all(videos["label"][groups] == y)

    one = feature_names(("sigma_mean",), default_latent_dim())[3]  # one column by name: sigma_mean_03 / _003
    sub = load_features(class_features, labels=["square", "bar"], features=["mu_mean", one])
    rows = np.isin(y, ["square", "bar"])
    cols = [i for i, n in enumerate(names) if n.startswith("mu_mean_") or n == one]
    assert len(cols) == default_latent_dim() + 1
    assert np.array_equal(sub.X, X[rows][:, cols])
    assert np.array_equal(sub.groups, groups[rows])
    assert list(sub.feature_names) == [names[i] for i in cols]
    assert set(sub.y) == {"square", "bar"}

    by_path = load_features(class_features, videos=["stripes/v1.mp4", 0])
    keep = np.isin(groups, [0, int(np.flatnonzero(videos["path"] == "stripes/v1.mp4")[0])])
    assert np.array_equal(by_path.X, X[keep])
    assert np.array_equal(by_path.groups, groups[keep])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": ["cat"]}, "'labels' parameter .* names \\['cat'\\]"),
        ({"videos": ["nope.mp4"]}, "'videos' parameter .* names \\['nope.mp4'\\]"),
        ({"videos": [99]}, "'videos' parameter"),
        ({"features": ["mu_median"]}, "neither a feature nor a statistic group"),
    ],
    ids=["label", "video-path", "video-id", "feature"],
)
def test_load_features_unknown_filter_values(class_features, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        load_features(class_features, **kwargs)


def test_as_frame_without_pandas_says_how_to_install(class_features, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        load_features(class_features, as_frame=True)


def test_as_frame_with_pandas(class_features):
    pd = pytest.importorskip("pandas")
    X, _, _, names = load_features(class_features, features=["mu_std"], as_frame=True)
    assert isinstance(X, pd.DataFrame)
    assert list(X.columns) == list(names)


def test_load_features_refuses_foreign_and_newer_files(class_features, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(LayoutError, match="not a featkit feature file"):
        load_features(other)
    newer = tmp_path / "newer.h5"
    shutil.copy(class_features, newer)
    with h5py.File(newer, "a") as f:
        f.attrs["layout_version"] = 2
    with pytest.raises(LayoutError, match="layout version 2"):
        load_features(newer)


# -- LatentStatsSelector: every estimator check ----------------------------------------------


@parametrize_with_checks([LatentStatsSelector(), LatentStatsSelector(standardize=True)])
def test_latent_stats_selector_estimator_checks(estimator, check):
    check(estimator)


def test_selector_picks_statistic_groups_by_name(class_features):
    X, _, _, names = load_features(class_features)
    sel = LatentStatsSelector(["sigma_mean", "mu_mean"], feature_names=names, standardize=True).fit(X)
    out = sel.transform(X)
    expected = [n for n in names if n.startswith(("mu_mean_", "sigma_mean_"))]
    assert list(sel.get_feature_names_out()) == expected
    assert out.shape == (48, 2 * default_latent_dim())
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError, match="must name statistic groups"):
        LatentStatsSelector(["mu_median"], feature_names=names).fit(X)
    with pytest.raises(ValueError, match="selects columns by name"):
        LatentStatsSelector(["mu_mean"]).fit(X)


def test_selector_set_output_pandas(class_features):
    pytest.importorskip("pandas")
    X, _, _, names = load_features(class_features)
    out = LatentStatsSelector(["mu_absdiff"], feature_names=names).set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == [n for n in names if n.startswith("mu_absdiff_")]


# -- StatisticGroupScaler ---------------------------------------------------------------------


@parametrize_with_checks([StatisticGroupScaler(), StatisticGroupScaler(balance=2.0)])
def test_statistic_group_scaler_estimator_checks(estimator, check):
    check(estimator)


def test_group_scaler_does_not_blow_up_motion_noise_below_its_resolution():
    """A clean pan: motion_x carries the class, the zoom varies by the estimate's noise alone."""
    rng = np.random.default_rng(0)
    x = np.repeat([-38.5, 38.5], 10) + rng.normal(0, 0.02, 20)
    zoom = rng.normal(0, 0.004, 20)
    content = rng.normal(0, 0.003, 20)  # a latent column of the same tiny spread: plain standardisation
    X = np.column_stack([x, zoom, content])
    out = StatisticGroupScaler(0.0, feature_names=["motion_x", "motion_zoom", "mu_mean_00"]).fit_transform(X)
    assert out[:, 0].std() == pytest.approx(1.0, rel=1e-3)
    assert out[:, 1].std() < 0.3  # 0.004 against a resolution of 1/64
    assert out[:, 2].std() == pytest.approx(1.0)


@pytest.mark.parametrize("balance", [0.0, 0.5, 1.0, 2.0])
def test_group_scaler_weights_each_statistic_group_by_its_width(class_features, balance):
    from sklearn.preprocessing import StandardScaler

    X, _, _, names = load_features(class_features)
    X = X.astype(np.float64)
    out = StatisticGroupScaler(balance, feature_names=names).fit_transform(X)
    groups = np.array([statistic_of(n) for n in names])
    plain = StandardScaler().fit_transform(X)
    # The camera-motion columns are scaled by sqrt(std² + resolution²): their known resolution floors the scale.
    resolution = np.array([COLUMN_RESOLUTION.get(n, 0.0) for n in names])
    std = X.std(axis=0)
    floored = resolution > 0
    plain[:, floored] = (X[:, floored] - X[:, floored].mean(axis=0)) / np.hypot(std[floored], resolution[floored])
    equal_variance = 0
    for g in np.unique(groups):
        cols = groups == g
        np.testing.assert_allclose(out[:, cols], plain[:, cols] * cols.sum() ** (-balance / 2), rtol=1e-9, atol=1e-9)
        varying = cols & (X.std(axis=0) > 1e-6)
        if balance == 1.0 and varying.sum() == cols.sum() and not resolution[cols].any():
            # Every fully varying group then carries the same total variance, whatever its width.
            assert out[:, cols].var(axis=0).sum() == pytest.approx(1.0, rel=1e-6)
            equal_variance += 1
    assert balance != 1.0 or equal_variance >= 3
    assert list(StatisticGroupScaler(feature_names=names).fit(X).get_feature_names_out()) == list(names)
    left_out = StatisticGroupScaler(balance, feature_names=names, exclude=("mu_slope", "no_such")).fit_transform(X)
    assert np.all(left_out[:, groups == "mu_slope"] == 0)
    np.testing.assert_array_equal(left_out[:, groups != "mu_slope"], out[:, groups != "mu_slope"])
    with pytest.raises(ValueError, match="must name the"):
        StatisticGroupScaler(feature_names=names[:3]).fit(X)


# -- VideoFeatureExtractor -------------------------------------------------------------------

# The estimator checks that apply to path input; sklearn itself skips every check for
# estimators whose input is not a 2-D array, so they are run here directly.
PATH_INPUT_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_mixin_order,
]


@pytest.mark.parametrize("check", PATH_INPUT_CHECKS, ids=lambda c: c.__name__)
def test_video_extractor_applicable_checks(check):
    check("VideoFeatureExtractor", VideoFeatureExtractor())


def test_every_estimator_check_is_run_or_listed_with_a_reason():
    yielded = set()
    for c in ec._yield_all_checks(LatentStatsSelector(), legacy=True):
        yielded.add((c.func if isinstance(c, functools.partial) else c).__name__)
    run = {c.__name__ for c in PATH_INPUT_CHECKS}
    assert yielded - run - set(PATH_INPUT_NOT_APPLICABLE) == set()
    assert not run & set(PATH_INPUT_NOT_APPLICABLE)
    assert all(len(reason) > 10 for reason in PATH_INPUT_NOT_APPLICABLE.values())


def test_video_extractor_in_grid_search_decodes_each_video_once(class_videos, class_features, tmp_path, monkeypatch):
    import featkit.extraction

    calls = []
    real = featkit.extraction.decode_video
    monkeypatch.setattr(featkit.extraction, "decode_video", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    root, paths = class_videos
    labels = np.array([p.parent.name for p in paths])
    pipe = Pipeline(
        [
            ("features", VideoFeatureExtractor(clip_len=4, memory=str(tmp_path / "cache"))),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    grid = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=StratifiedKFold(4, shuffle=True, random_state=0))
    grid.fit([str(p) for p in paths], labels)
    assert sorted(calls) == sorted(str(p) for p in paths)  # 2 settings x 4 folds x 2 parts: decoded once each
    # 3 classes, 12 videos (chance 4 of 12 right): v2 scored >= 0.9, v3 0.83, v4 0.75 (see test_cluster_methods).
    assert grid.best_score_ >= 8 / 12 - 1e-9

    # Per-video output = the mean of the clip features `featkit extract` stored for that video.
    X, y, groups, names = load_features(class_features)
    agg = aggregate_by_video(X, groups, y)
    stored = load_videos(class_features)["path"]
    ext = grid.best_estimator_.named_steps["features"]
    out = ext.transform([str(root / p) for p in stored])
    np.testing.assert_allclose(out, agg.X, rtol=1e-4, atol=1e-5)  # TF CPU sums may reorder under load
    assert list(ext.get_feature_names_out()) == list(names)
    assert ext.encoder_identity_["name"]


def test_video_extractor_errors(tmp_path, class_videos):
    broken = vf.write_zero_bytes(tmp_path / "empty.mp4")
    ext = VideoFeatureExtractor(clip_len=4, aggregate="mean_std").fit([str(broken)])
    assert len(ext.get_feature_names_out()) == 2 * (6 * default_latent_dim() + 8 + len(QUALITY_COLUMNS) + 2)
    assert ext.get_feature_names_out()[-1] == "residual_flat_std"
    with pytest.raises(VideoOpenError, match=r"empty\.mp4"):
        ext.transform([str(broken)])
    with pytest.raises(ValueError, match="wrap it in a list"):
        ext.transform(str(class_videos[1][0]))
    with pytest.raises(ValueError, match="1-D sequence of video file paths"):
        ext.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="'aggregate' parameter"):
        VideoFeatureExtractor(aggregate="max").fit([])


# -- aggregation -------------------------------------------------------------------------------


def test_aggregate_by_video(class_features):
    X, y, groups, _ = load_features(class_features)
    agg = aggregate_by_video(X, groups, y)
    width = X.shape[1]
    assert agg.X.shape == (12, width)
    assert np.array_equal(agg.groups, np.arange(12))
    for g in range(12):
        np.testing.assert_allclose(agg.X[g], X[groups == g].mean(axis=0), rtol=1e-6, atol=1e-6)
        assert agg.y[g] == y[groups == g][0]
    both = aggregate_by_video(X, groups, how="mean_std")
    np.testing.assert_allclose(both.X[:, width:][3], X[groups == 3].std(axis=0), rtol=1e-4, atol=1e-6)
    assert both.y is None
    mixed = y.copy()
    mixed[0] = "bar" if mixed[0] != "bar" else "square"
    with pytest.raises(ConfigError, match="different labels"):
        aggregate_by_video(X, groups, mixed)
    with pytest.raises(ConfigError, match="'how' parameter"):
        aggregate_by_video(X, groups, how="max")


def test_predict_by_video_averages_probabilities(class_features):
    X, y, groups, _ = load_features(class_features)
    clf = LogisticRegression(max_iter=2000).fit(X, y)
    _, labels, proba = predict_by_video(clf, X, groups)
    _, expected = average_by_video(clf.predict_proba(X), groups)
    np.testing.assert_allclose(proba, expected)
    assert np.array_equal(labels, clf.classes_[expected.argmax(axis=1)])
    assert np.mean(labels == aggregate_by_video(X, groups, y).y) == 1.0


def test_public_names_resolve_lazily():
    assert featkit.LatentStatsSelector is LatentStatsSelector
    assert featkit.aggregate_by_video is aggregate_by_video
