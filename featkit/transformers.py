"""scikit-learn transformers: a numeric one over clip statistics, and a path-based video extractor.

:class:`LatentStatsSelector` takes the feature matrix of :func:`featkit.load_features`
and passes every scikit-learn estimator check. :class:`VideoFeatureExtractor`
takes video paths, so the checks that feed it numeric arrays cannot apply; they
are listed with reasons in :data:`PATH_INPUT_NOT_APPLICABLE`.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, check_memory, validate_data

from featkit.config import DEFAULT_STATS, SamplingConfig
from featkit.exceptions import ConfigError, VideoDecodeError, VideoError, VideoOpenError
from featkit.motion import MOTION_COLUMNS, MOTION_RESOLUTION, SPEED_COLUMNS

__all__ = [
    "COLUMN_RESOLUTION",
    "PATH_INPUT_NOT_APPLICABLE",
    "LatentStatsSelector",
    "StatisticGroupScaler",
    "VideoFeatureExtractor",
    "statistic_groups",
    "statistic_of",
]


def statistic_of(name: str) -> str:
    """The statistic group of a feature name: ``"mu_mean_07"`` -> ``"mu_mean"``."""
    return str(name).rsplit("_", 1)[0]


def _column_names(estimator: BaseEstimator, n_features: int) -> np.ndarray | None:
    """The input's column names: those of a fitted DataFrame, else the ``feature_names`` parameter, else None."""
    if hasattr(estimator, "feature_names_in_"):
        return np.asarray(estimator.feature_names_in_, dtype=object)
    if estimator.feature_names is None:  # type: ignore[attr-defined]
        return None
    names = np.asarray(estimator.feature_names, dtype=object)  # type: ignore[attr-defined]
    if names.shape != (n_features,):
        raise ValueError(
            f"The 'feature_names' parameter of {type(estimator).__name__} must name the {n_features} columns of X. "
            f"Got {names.shape[0] if names.ndim else 0} names instead."
        )
    return names


def _fit_input(estimator: BaseEstimator, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate the parameters and ``X`` of a fit; return ``X`` and its column names (or None)."""
    estimator._validate_params()  # type: ignore[attr-defined]
    X = validate_data(estimator, X, dtype=[np.float64, np.float32])
    return X, _column_names(estimator, X.shape[1])


def statistic_groups(names: Any) -> np.ndarray:
    """The statistic group of every feature name (:func:`statistic_of` of each), as an object array."""
    return np.array([statistic_of(n) for n in names], dtype=object)


def _mean_and_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations, a constant column's scale set to 1 (so it stays 0, not NaN)."""
    scale = X.std(axis=0)
    return X.mean(axis=0), np.where(scale > np.finfo(X.dtype).eps * 10, scale, 1.0).astype(X.dtype)


#: Columns with a known resolution (the camera motion's): column name -> the smallest meaningful difference.
COLUMN_RESOLUTION: dict[str, float] = {
    **dict(zip(MOTION_COLUMNS, MOTION_RESOLUTION, strict=True)),
    **dict(zip(SPEED_COLUMNS, MOTION_RESOLUTION, strict=True)),
}


def _names_out(estimator: BaseEstimator, input_features: Any) -> np.ndarray:
    """Input column names of a fitted estimator: as given, else those it saw, else its parameter, else x0, x1."""
    check_is_fitted(estimator)
    own = estimator.feature_names  # type: ignore[attr-defined]
    if input_features is None and not hasattr(estimator, "feature_names_in_") and own is not None:
        return np.asarray(own, dtype=object)
    return np.asarray(_check_feature_names_in(estimator, input_features), dtype=object)


class LatentStatsSelector(TransformerMixin, BaseEstimator):
    """Select statistic groups of clip features by name, optionally standardising them.

    Parameters
    ----------
    stats : str or list of str, default=None
        Statistic group(s) to keep (``"mu_mean"``, ``["mu_mean", "sigma_mean"]`` …), matched
        against the prefix of each feature name (``"mu_mean_07"``). ``None``
        keeps every column.
    feature_names : array-like of str, default=None
        Names of the input columns when ``X`` is a NumPy array (the fourth item
        of :func:`featkit.load_features`); ignored when ``X`` is a DataFrame,
        whose column names are used.
    standardize : bool, default=False
        Centre the kept columns and scale them to unit variance.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    columns_ : ndarray of shape (n_features_out,), int64
        Indices of the kept input columns.
    mean_, scale_ : ndarray of shape (n_features_out,) or None
        Set when ``standardize=True``.

    Examples
    --------
    >>> X, y, groups, names = featkit.load_features("features.h5")  # doctest: +SKIP
    >>> sel = LatentStatsSelector(["mu_mean"], feature_names=names).fit(X)  # doctest: +SKIP

    """

    _parameter_constraints: ClassVar[dict] = {
        "stats": [str, list, tuple, None],
        "feature_names": ["array-like", None],
        "standardize": ["boolean"],
    }

    def __init__(self, stats: list[str] | None = None, *, feature_names: Any = None, standardize: bool = False) -> None:
        self.stats = stats
        self.feature_names = feature_names
        self.standardize = standardize

    def fit(self, X: Any, y: Any = None) -> LatentStatsSelector:
        """Choose the columns (and learn their mean and scale).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self

        """
        X, names = _fit_input(self, X)
        if self.stats is None:
            cols = np.arange(X.shape[1])
        else:
            if names is None:
                raise ValueError(
                    "LatentStatsSelector(stats=...) selects columns by name: pass a DataFrame or "
                    "feature_names=<the names from featkit.load_features>."
                )
            groups = statistic_groups(names)
            wanted = [self.stats] if isinstance(self.stats, str) else list(self.stats)
            unknown = sorted(set(wanted) - set(groups))
            if unknown:
                raise ValueError(
                    f"The 'stats' parameter of LatentStatsSelector must name statistic groups of the input "
                    f"({sorted(set(groups))}). Got {unknown} instead."
                )
            cols = np.flatnonzero(np.isin(groups, wanted))
        self.columns_ = cols.astype(np.int64)
        if self.standardize:
            self.mean_, self.scale_ = _mean_and_scale(X[:, self.columns_])
        else:
            self.mean_ = self.scale_ = None
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Keep the selected columns (standardised when asked).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)

        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = X[:, self.columns_]
        if self.standardize:
            out = (out - self.mean_) / self.scale_
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the kept columns.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names; defaults to ``feature_names_in_``, then ``feature_names``,
            then ``x0, x1, …``.

        Returns
        -------
        ndarray of shape (n_features_out,), object

        """
        return _names_out(self, input_features)[self.columns_]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class StatisticGroupScaler(TransformerMixin, BaseEstimator):
    """Standardise every column, then weight each statistic group by its width.

    After plain standardisation every column weighs alike, so a group of 128
    columns (``mu_mean_000`` …) outweighs the 4 columns of ``motion`` 32 to 1 in
    a penalised linear model, and with few labels the motion columns are
    drowned. This scaler multiplies the standardised columns of a group of
    ``w`` columns by ``w ** (-balance / 2)``:

    * ``balance=0``: plain standardisation (:class:`~sklearn.preprocessing.StandardScaler`);
    * ``balance=1``: every group has the same total variance, whatever its width;
    * ``balance=2``: narrow groups weigh more than wide ones.

    Groups named in ``exclude`` get weight 0: their columns become 0, so a linear
    model ignores them (the columns stay, so a pipeline keeps one input layout).

    A column with a known resolution (:data:`COLUMN_RESOLUTION`: the camera
    motion's, :data:`featkit.motion.MOTION_RESOLUTION`) is divided by
    ``sqrt(std² + resolution²)`` rather than by its standard deviation, so
    a column that varies by the estimate's noise alone (the zoom of a clean
    pan) is not blown up to unit variance beside the one that carries the
    task; on real footage, which moves by far more, this changes nothing.

    Which balance suits a task is for the labels to say; the classification
    recipe (:func:`featkit.pipelines.make_classifier`) chooses it by grouped
    inner cross-validation.

    Parameters
    ----------
    balance : float, default=1.0
        Exponent of the group weighting, >= 0.
    feature_names : array-like of str, default=None
        Names of the input columns when ``X`` is a NumPy array (the fourth item
        of :func:`featkit.load_features`); ignored when ``X`` is a DataFrame.
        Without names every column is its own group, so ``balance`` has no effect.
    exclude : tuple of str, default=()
        Statistic groups to leave out (weight 0); names absent from the input are ignored.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Column means and standard deviations (1 for constant columns; floored
        by the resolution where one is known).
    weights_ : ndarray of shape (n_features_in_,)
        The group weight applied to each standardised column.

    Examples
    --------
    >>> X, y, groups, names = featkit.load_features("features.h5")  # doctest: +SKIP
    >>> Z = StatisticGroupScaler(balance=1.0, feature_names=names).fit_transform(X)  # doctest: +SKIP

    """

    _parameter_constraints: ClassVar[dict] = {
        "balance": [Interval(Real, 0, None, closed="left")],
        "feature_names": ["array-like", None],
        "exclude": [tuple, list],
    }

    def __init__(self, balance: float = 1.0, *, feature_names: Any = None, exclude: tuple[str, ...] = ()) -> None:
        self.balance = balance
        self.feature_names = feature_names
        self.exclude = exclude

    def fit(self, X: Any, y: Any = None) -> StatisticGroupScaler:
        """Learn each column's mean and scale, and each group's weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self

        """
        X, names = _fit_input(self, X)
        self.mean_, self.scale_ = _mean_and_scale(X)
        if names is None:
            self.weights_ = np.ones(X.shape[1], dtype=X.dtype)
            return self
        resolution = np.array([COLUMN_RESOLUTION.get(str(n), 0.0) for n in names])
        if resolution.any():
            known = resolution > 0
            std = X[:, known].std(axis=0).astype(np.float64)
            self.scale_[known] = np.sqrt(std**2 + resolution[known] ** 2).astype(X.dtype)
        group = statistic_groups(names)
        _, inverse, width = np.unique(group, return_inverse=True, return_counts=True)
        weights = width[inverse].astype(np.float64) ** (-0.5 * float(self.balance))
        weights[np.isin(group, [str(g) for g in self.exclude])] = 0.0
        self.weights_ = weights.astype(X.dtype)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Standardise and weight.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)

        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return (X - self.mean_) / self.scale_ * self.weights_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (those of the input).

        Parameters
        ----------
        input_features : array-like of str, default=None

        Returns
        -------
        ndarray of shape (n_features_in_,), object

        """
        return _names_out(self, input_features)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# -- path-based extraction -------------------------------------------------------------


def _get_encoder(spec: str, batch_size: int) -> Any:
    from featkit.encoders import shared_encoder

    return shared_encoder(spec, batch_size=batch_size)


def _video_clip_features(
    path: str, size: int, mtime_ns: int, encoder: str, batch_size: int, sampling: dict, stats: tuple[str, ...]
) -> np.ndarray:
    """Clip features of one video (cached by joblib on path, size, mtime and settings)."""
    from featkit.discover import VideoFile
    from featkit.extraction import decode_video
    from featkit.reduce import encode_video
    from featkit.store import FailureRecord

    enc = _get_encoder(encoder, batch_size)
    decoded = decode_video(path, VideoFile(Path(path).name, ""), enc.input_size, SamplingConfig(**sampling))
    if isinstance(decoded, FailureRecord):
        cls = {"open_failed": VideoOpenError, "decode_failed": VideoDecodeError}.get(decoded.reason, VideoError)
        raise cls(path, decoded.message)
    return np.asarray(encode_video(decoded, enc, stats).features, dtype=np.float32)


#: Estimator checks that cannot apply to :class:`VideoFeatureExtractor`, with the reason.
_NUMERIC = "feeds numeric arrays as X; the extractor's input is a list of video file paths"
PATH_INPUT_NOT_APPLICABLE: dict[str, str] = {
    "check_estimators_dtypes": _NUMERIC,
    "check_fit_score_takes_y": _NUMERIC,
    "check_estimators_fit_returns_self": _NUMERIC,
    "check_complex_data": _NUMERIC + " (complex numbers cannot be paths)",
    "check_dtype_object": _NUMERIC,
    "check_estimators_empty_data_messages": _NUMERIC + " (an empty 2-D array)",
    "check_pipeline_consistency": _NUMERIC,
    "check_estimators_nan_inf": _NUMERIC + " (NaN/inf cannot be paths)",
    "check_estimators_overwrite_params": _NUMERIC,
    "check_estimator_sparse_array": "sparse matrices cannot hold paths",
    "check_estimator_sparse_matrix": "sparse matrices cannot hold paths",
    "check_estimator_sparse_tag": "sparse matrices cannot hold paths",
    "check_estimators_pickle": _NUMERIC + "; pickling is also pointless for a model-free extractor",
    "check_f_contiguous_array_estimator": "memory layout of numeric arrays; paths are strings",
    "check_transformer_data_not_an_array": _NUMERIC,
    "check_transformer_general": _NUMERIC,
    "check_transformer_preserve_dtypes": "output is always float32 features, input is str paths",
    "check_transformers_unfitted": _NUMERIC,
    "check_transformer_n_iter": _NUMERIC,
    "check_methods_sample_order_invariance": _NUMERIC + " (the property holds: videos are independent)",
    "check_methods_subset_invariance": _NUMERIC + " (the property holds: videos are independent)",
    "check_fit2d_1sample": "2-D numeric input does not exist for paths",
    "check_fit2d_1feature": "2-D numeric input does not exist for paths",
    "check_fit2d_predict1d": "predicting on 1-D input is the normal use (a list of paths), not an error",
    "check_fit1d": "the extractor does take 1-D input (paths); the check expects a 1-D numeric array to be rejected",
    "check_get_feature_names_out_error": _NUMERIC,
    "check_set_output_transform": _NUMERIC,
    "check_set_output_transform_pandas": _NUMERIC,
    "check_global_output_transform_pandas": _NUMERIC,
    "check_set_output_transform_polars": _NUMERIC,
    "check_global_set_output_transform_polars": _NUMERIC,
    "check_dict_unchanged": _NUMERIC,
    "check_dont_overwrite_parameters": _NUMERIC,
    "check_fit_idempotent": _NUMERIC,
    "check_fit_check_is_fitted": _NUMERIC,
    "check_n_features_in": "n_features_in_ is undefined for path input (one path per row, no columns)",
    "check_n_features_in_after_fitting": "n_features_in_ is undefined for path input (one path per row, no columns)",
    "check_requires_y_none": _NUMERIC,
    "check_positive_only_tag_during_fit": _NUMERIC,
    "check_estimators_unfitted": _NUMERIC,
    "check_sample_weights_not_an_array": "no sample_weight",
    "check_sample_weights_list": "no sample_weight",
    "check_fit_non_negative": _NUMERIC,
    "check_readonly_memmap_input": _NUMERIC,
    "check_array_api_input": _NUMERIC,
    "check_transformer_get_feature_names_out": _NUMERIC,
    "check_transformer_get_feature_names_out_pandas": _NUMERIC,
}


def _as_paths(X: Any) -> list[str]:
    if isinstance(X, (str, os.PathLike)):
        raise ValueError(
            "VideoFeatureExtractor expects a sequence of video paths (one per sample). Got a single path "
            f"{os.fspath(X)!r} instead; wrap it in a list."
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # a one-column DataFrame
        X = X.iloc[:, 0]
    arr = np.asarray(list(X), dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or not all(isinstance(p, (str, os.PathLike)) for p in arr):
        raise ValueError(
            "VideoFeatureExtractor expects a 1-D sequence of video file paths (str or path-like). "
            f"Got an array of shape {arr.shape} with elements like {arr.ravel()[:1]!r} instead."
        )
    return [os.fspath(p) for p in arr]


class VideoFeatureExtractor(TransformerMixin, BaseEstimator):
    """Video paths in, one row of aggregated clip statistics per video out.

    Each video is decoded and encoded exactly as ``featkit extract`` does, then
    its clip features are averaged (``aggregate``). With ``memory`` set, each
    video's clip features are cached on disk (keyed on path, size, mtime and
    settings), so a grid search decodes a video once however many fits it runs.

    Parameters
    ----------
    encoder : str, default="default"
        ``"default"`` (the shipped VAE) or a ``.keras`` file.
    clip_len : int, default=16
    fps : float or None, default=8.0
        Sampling rate; ``None`` takes every frame.
    stride : int or None, default=None
    max_clips : int or None, default=None
        See :class:`featkit.SamplingConfig`.
    stats : list of str, default=None
        Statistics per clip; ``None`` means :data:`featkit.DEFAULT_STATS`.
    aggregate : {"mean", "mean_std"}, default="mean"
        Per video: the mean of each clip feature, or the means then the standard deviations.
    batch_size : int, default=64
        Frames per encoder call.
    memory : str, joblib.Memory or None, default=None
        Cache of per-video clip features.

    Attributes
    ----------
    feature_names_out_ : ndarray of shape (n_features_out,), object
    encoder_identity_ : dict
        Name, sha256 and sizes of the encoder used.

    Notes
    -----
    The estimator checks that feed numeric arrays cannot apply to path input;
    :data:`PATH_INPUT_NOT_APPLICABLE` lists each with the reason, and the tests
    run every check that can.

    """

    _parameter_constraints: ClassVar[dict] = {
        "encoder": [str],
        "clip_len": [Interval(Integral, 1, None, closed="left")],
        "fps": [Interval(Real, 0, None, closed="neither"), None],
        "stride": [Interval(Integral, 1, None, closed="left"), None],
        "max_clips": [Interval(Integral, 1, None, closed="left"), None],
        "stats": [str, list, tuple, None],
        "aggregate": [StrOptions({"mean", "mean_std"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "memory": [str, HasMethods(["cache"]), None],
    }

    def __init__(
        self,
        encoder: str = "default",
        *,
        clip_len: int = 16,
        fps: float | None = 8.0,
        stride: int | None = None,
        max_clips: int | None = None,
        stats: list[str] | None = None,
        aggregate: str = "mean",
        batch_size: int = 64,
        memory: Any = None,
    ) -> None:
        self.encoder = encoder
        self.clip_len = clip_len
        self.fps = fps
        self.stride = stride
        self.max_clips = max_clips
        self.stats = stats
        self.aggregate = aggregate
        self.batch_size = batch_size
        self.memory = memory

    def _sampling(self) -> SamplingConfig:
        return SamplingConfig(clip_len=self.clip_len, fps=self.fps, stride=self.stride, max_clips=self.max_clips)

    def _stats(self) -> tuple[str, ...]:
        return tuple(DEFAULT_STATS if self.stats is None else self.stats)

    def fit(self, X: Any, y: Any = None) -> VideoFeatureExtractor:
        """Check the settings and load the encoder; nothing is learnt.

        Parameters
        ----------
        X : sequence of path-like of shape (n_videos,)
        y : None
            Ignored.

        Returns
        -------
        self

        """
        self._validate_params()
        _as_paths(X)
        self._sampling()  # ConfigError on inconsistent settings
        from featkit.stats import STATISTICS, feature_names

        unknown = sorted(set(self._stats()) - set(STATISTICS))
        if unknown:
            raise ConfigError(
                f"The 'stats' parameter of VideoFeatureExtractor must list statistics of {sorted(STATISTICS)}. "
                f"Got {unknown} instead."
            )
        enc = _get_encoder(self.encoder, self.batch_size)
        names = feature_names(self._stats(), enc.latent_dim)
        if self.aggregate == "mean_std":
            names = [f"{n}_mean" for n in names] + [f"{n}_std" for n in names]
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.encoder_identity_ = enc.identity()
        return self

    def clip_features(self, X: Any) -> list[np.ndarray]:
        """Clip features of each video (through the cache when ``memory`` is set).

        Parameters
        ----------
        X : sequence of path-like of shape (n_videos,)

        Returns
        -------
        list of ndarray of shape (n_clips_i, n_clip_features)

        Raises
        ------
        VideoError
            If a video cannot be opened or decoded (the message names it).

        """
        check_is_fitted(self)
        cached = check_memory(self.memory).cache(_video_clip_features)
        sampling, stats = self._sampling().to_dict(), self._stats()
        out = []
        for p in _as_paths(X):
            full = os.path.abspath(p)
            try:
                st = os.stat(full)
            except OSError as exc:
                raise VideoOpenError(full, f"cannot read the file: {exc}") from exc
            out.append(cached(full, st.st_size, st.st_mtime_ns, self.encoder, self.batch_size, sampling, stats))
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Per-video features.

        Parameters
        ----------
        X : sequence of path-like of shape (n_videos,)

        Returns
        -------
        ndarray of shape (n_videos, n_features_out), float64

        """
        rows = []
        for clips in self.clip_features(X):
            c = clips.astype(np.float64)
            row = c.mean(axis=0)
            if self.aggregate == "mean_std":
                row = np.concatenate([row, c.std(axis=0)])
            rows.append(row)
        return np.vstack(rows) if rows else np.zeros((0, len(self.feature_names_out_)))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (``mu_mean_00`` …, or ``mu_mean_00_mean`` … ``_std``).

        Parameters
        ----------
        input_features : None
            Ignored (the input is paths).

        Returns
        -------
        ndarray of shape (n_features_out,), object

        """
        check_is_fitted(self)
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
