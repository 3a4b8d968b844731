"""Anomaly detection on clip features: :class:`ClipAnomalyDetector`, a scikit-learn outlier detector.

Fitted on the clips of normal videos (the matrix of :func:`featkit.load_features`,
default statistics), it scores new clips by how dense the normal clips are
around them, the approach the literature finds stronger than reconstruction
error or likelihood (``../shared/docs/anchors.md``: feature density beats
reconstruction error; an ELBO ranks simple images as "normal"). By default it
scores the ``quality`` columns (:mod:`featkit.quality`), the ``polarity``
column (:mod:`featkit.polarity`) and the ``residual`` column
(:mod:`featkit.residual`), which do not describe the scene: on the statistics
of the picture a new scene is as far from the training clips as a corruption
(``bench_anomaly``: ROC AUC 0.47 across sources). Each statistic gets one
Gaussian's covariance (Ledoit-Wolf) and a Student t law with degrees of freedom
fitted to the training clips, and their tail probabilities are combined by
Fisher's method, so a single column is not
averaged away by the eight quality columns. ``polarity`` and ``residual`` are
tested on one side only, the side a corruption moves them to (a VAE explains a
natural frame better than its negative, and misses its detail rather than its
flat regions); a clean clip far out on the other side is not flagged. Which
columns, which density estimate, which combination and which preprocessing
are the defaults was decided on photos held out by source
(``benchmarks/pilot_anomaly_residual.py``, ``benchmarks/pilot_anomaly_picture.py``,
``benchmarks/bench_anomaly.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from featkit.exceptions import ConfigError
from featkit.transformers import _column_names, statistic_of

__all__ = ["ANOMALOUS_TAILS", "COMBINES", "LAWS", "METHODS", "TAILS", "ClipAnomalyDetector"]

#: Density estimates :class:`ClipAnomalyDetector` can score with.
METHODS: tuple[str, ...] = ("knn", "mahalanobis", "gmm", "isolation_forest")
#: How the columns of several statistics are scored: one density of them all, or one per statistic
#: ("auto": "fisher" for the Mahalanobis method, which has a tail law to combine, else "joint").
COMBINES: tuple[str, ...] = ("auto", "joint", "fisher")
#: Which tail of a statistic is tested: "both" (a chi-squared law of its Mahalanobis distance), or for a
#: one-column statistic "lower" / "upper" (a normal tail of its standardised value).
TAILS: tuple[str, ...] = ("both", "lower", "upper")
#: The law each statistic's distance is read against with ``combine="fisher"``: a Student t whose degrees of
#: freedom are fitted to the training clips, or the Gaussian (chi-squared, normal tails).
LAWS: tuple[str, ...] = ("t", "gaussian")
#: The side a corruption moves each one-column statistic to, which ``tails="auto"`` tests alone: an inverted
#: picture lowers ``polarity``; occlusions and noise put the VAE's error in flat regions, raising ``residual``.
ANOMALOUS_TAILS: dict[str, str] = {"polarity": "lower", "residual": "upper"}

# Columns never negative in the training clips (standard deviations, absolute changes, sigma) are compared on
# a log scale; the floor keeps a clip whose motion is exactly 0 (a frozen picture) finite but far away.
_LOG_FLOOR = 1e-3


class ClipAnomalyDetector(OutlierMixin, BaseEstimator):
    """Score clips by the density of normal clips around them (higher = more normal).

    The API is that of :class:`~sklearn.ensemble.IsolationForest` and
    :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``:
    :meth:`fit` on clips of normal videos, then :meth:`score_samples`,
    :meth:`decision_function` (``score_samples(X) - offset_``, negative for
    outliers) and :meth:`predict` (+1 normal, -1 outlier) on new clips.

    It scores the columns of ``statistics`` (the ``quality`` columns by
    default), found by name: fit it on a DataFrame, or pass ``feature_names``
    (the names :func:`featkit.load_features` returns). Preprocessing, learnt
    from the training clips: optionally, columns that are never negative there
    (``mu_std``, ``sigma_mean`` …) are taken on a log scale (``log_positive``);
    every column is standardised, and optionally the whole is whitened by PCA
    (``whiten``).

    Parameters
    ----------
    method : {"knn", "mahalanobis", "gmm", "isolation_forest"}, default="mahalanobis"
        ``"knn"``: minus the mean Euclidean distance to the ``n_neighbors``
        nearest training clips. ``"mahalanobis"``: minus half the squared
        Mahalanobis distance under a Ledoit-Wolf covariance. ``"gmm"``: the
        log-likelihood under a Gaussian mixture of ``n_components``.
        ``"isolation_forest"``: scikit-learn's isolation forest score.
    n_neighbors : int, default=5
        Neighbours for ``"knn"`` (fewer when there are fewer training clips).
    n_components : int, default=4
        Mixture components for ``"gmm"`` (fewer when there are fewer clips).
    statistics : tuple of str or None, default=("quality", "polarity")
        Statistic groups to score (``"quality"``, ``"mu_mean"`` …: the part
        of a column's name before its last ``_``). None scores every column
        and needs no names. Statistics ``X`` lacks are left out with a
        warning (files extracted before ``polarity`` existed), as long as
        one is there; ``statistics_`` says which were scored.
    combine : {"auto", "fisher", "joint"}, default="auto"
        ``"auto"`` is ``"fisher"`` for ``method="mahalanobis"``, else
        ``"joint"``. ``"joint"``: one density of all the scored columns.
        ``"fisher"`` (``method="mahalanobis"`` only): one Gaussian per statistic, and a
        clip's score is the sum over statistics of the log tail probability
        of its squared Mahalanobis distance under a chi-squared law with as
        many degrees of freedom as the statistic has columns (Fisher's
        method): a clip far out in *one* statistic (the single column of
        ``polarity``) is not drowned by the many columns of another.
    tails : "auto", "both" or dict, default="auto"
        Which tail of each statistic counts as anomalous, with ``combine="fisher"``.
        ``"auto"``: the side of :data:`ANOMALOUS_TAILS` for ``polarity`` and
        ``residual`` (one-sided normal tail probabilities of their standardised
        value), both tails for the others. ``"both"``: both tails everywhere.
        A dict maps statistic names to ``"both"``, ``"lower"`` or ``"upper"``
        (the others: both); one side needs a one-column statistic.
    law : {"t", "gaussian"}, default="t"
        What each statistic's distance is read against with ``combine="fisher"``.
        ``"t"``: a Student t with the Gaussian's covariance and degrees of
        freedom fitted to the training clips by maximum likelihood (``dof_``);
        clips of normal videos are heavier-tailed than a Gaussian, and a new
        source moves the eight quality columns further still, so under the
        χ² law a clean clip of a new scene could outweigh a corrupted one's
        single-column evidence. ``"gaussian"``: the χ² law of the squared
        distance and the normal tail of one column.
    feature_names : array-like of str, optional
        Names of the columns of ``X`` when it is not a DataFrame.
    log_positive : bool, default=False
        Compare never-negative columns on a log scale (of the ``quality``
        columns: the path's kurtosis, jump and share of still steps; the floor
        keeps a share of 0 finite but far from a share of a tenth).
    whiten : bool, default=False
        Decorrelate and rescale by PCA after standardising.
    contamination : "auto" or float in (0, 0.5], default="auto"
        Share of normal clips of *new* videos to flag: ``offset_`` is that
        quantile of the training clips' out-of-fold scores (see
        ``threshold_folds``). ``"auto"`` uses 0.01.
    threshold_folds : int >= 2 or None, default=5
        The training clips are scored by detectors fitted on the other folds
        (by video when ``groups`` is passed to :meth:`fit`, else in row
        order), so the threshold sits where held-out normal clips fall: the
        in-sample scores of a density fit are optimistic, and with a few
        training videos nearly every new normal clip scored below their 1 %
        quantile. None (or fewer videos than folds) uses the in-sample
        scores, as :class:`~sklearn.neighbors.LocalOutlierFactor` does.
    random_state : int, RandomState instance or None, default=0
        Seeds ``"gmm"`` and ``"isolation_forest"`` (0, so that a fit is reproducible).

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    columns_ : ndarray of int
        The columns of ``X`` scored.
    statistics_ : tuple of str or None
        The statistics scored (None: every column).
    combine_ : {"joint", "fisher"}
        ``combine`` as resolved.
    column_groups_ : list of ndarray of int
        Positions in ``columns_`` of each statistic's columns (one group for ``combine="joint"``).
    tails_ : tuple of str
        The tail tested for each group of ``column_groups_`` (``"both"`` unless one-sided).
    dof_ : list of float
        With ``combine="fisher"``: the degrees of freedom of each group's t law (``inf`` for ``"gaussian"``).
    log_columns_ : ndarray of shape (len(columns_),), bool
        Of those, the ones taken on a log scale.
    offset_ : float
        Threshold of :meth:`decision_function`: clips scoring below it are outliers.

    Examples
    --------
    >>> X, y, groups, names = featkit.load_features("normal.h5")  # doctest: +SKIP
    >>> det = ClipAnomalyDetector(feature_names=names).fit(X)  # doctest: +SKIP
    >>> det.predict(X_new)  # +1 normal, -1 anomalous  # doctest: +SKIP

    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [StrOptions(set(METHODS))],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "statistics": [tuple, list, None],
        "combine": [StrOptions(set(COMBINES))],
        "tails": [StrOptions({"auto", "both"}), dict],
        "law": [StrOptions(set(LAWS))],
        "feature_names": ["array-like", None],
        "log_positive": ["boolean"],
        "whiten": ["boolean"],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "threshold_folds": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method: str = "mahalanobis",
        *,
        n_neighbors: int = 5,
        n_components: int = 4,
        statistics: Sequence[str] | None = ("quality", "polarity", "residual"),
        combine: str = "auto",
        tails: str | dict[str, str] = "auto",
        law: str = "t",
        feature_names: Sequence[str] | None = None,
        log_positive: bool = False,
        whiten: bool = False,
        contamination: str | float = "auto",
        threshold_folds: int | None = 5,
        random_state: Any = 0,
    ) -> None:
        self.method = method
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.statistics = statistics
        self.combine = combine
        self.tails = tails
        self.law = law
        self.feature_names = feature_names
        self.log_positive = log_positive
        self.whiten = whiten
        self.contamination = contamination
        self.threshold_folds = threshold_folds
        self.random_state = random_state

    # -- preprocessing ------------------------------------------------------------------

    def _select_columns(self, n_features: int) -> np.ndarray:
        """The scored columns; sets ``statistics_`` and ``column_groups_``."""
        if self.statistics is None:
            self.statistics_ = None
            self.column_groups_ = [np.arange(n_features)]
            self.tails_ = ("both",)
            return np.arange(n_features)
        names = _column_names(self, n_features)
        if names is None:
            raise ConfigError(
                f"ClipAnomalyDetector scores the columns of statistics={tuple(self.statistics)!r}, found by name: "
                "fit it on a DataFrame or pass feature_names= (the names featkit.load_features returns), or "
                "pass statistics=None to score every column."
            )
        of = np.array([statistic_of(str(n)) for n in names])
        wanted = tuple(dict.fromkeys(self.statistics))
        present = tuple(st for st in wanted if (of == st).any())
        if not present:
            raise ConfigError(
                f"X has no columns of the statistics {wanted!r} (its columns: "
                f"{', '.join(map(str, names[:4]))} …). Extract with the default statistics (they include "
                "'quality', 'polarity' and 'residual'), or pass the statistics X has."
            )
        if len(present) < len(wanted):
            missing = [st for st in wanted if st not in present]
            warnings.warn(
                f"X has no columns of the statistics {missing}; scoring {list(present)} only. Files extracted "
                "before featkit had the 'polarity' and 'residual' statistics lack them: re-extract them to score "
                "them too.",
                UserWarning,
                stacklevel=3,
            )
        self.statistics_ = present
        columns = np.flatnonzero(np.isin(of, present))
        if self.combine_ == "joint":
            self.column_groups_ = [np.arange(len(columns))]
            self.tails_ = ("both",)
        else:
            self.column_groups_ = [np.flatnonzero(of[columns] == st) for st in present]
            self.tails_ = tuple(self._tail_of(st, len(g)) for st, g in zip(present, self.column_groups_, strict=True))
        return columns

    def _tail_of(self, statistic: str, n_columns: int) -> str:
        if self.tails == "both":
            return "both"
        if self.tails == "auto":
            return ANOMALOUS_TAILS.get(statistic, "both") if n_columns == 1 else "both"
        tail = self.tails.get(statistic, "both")
        if tail not in TAILS:
            raise ConfigError(f"tails[{statistic!r}] must be one of {TAILS}. Got {tail!r}.")
        if tail != "both" and n_columns != 1:
            raise ConfigError(
                f"tails[{statistic!r}]={tail!r} tests one side of one column, and {statistic!r} has {n_columns} "
                "columns: use 'both' for it."
            )
        return tail

    def _fit_preprocess(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        self.log_columns_ = (X.min(axis=0) >= 0) if self.log_positive else np.zeros(X.shape[1], dtype=bool)
        scale = np.median(X[:, self.log_columns_], axis=0) if self.log_columns_.any() else np.zeros(0)
        self._log_floor = np.maximum(_LOG_FLOOR * scale, 1e-12)
        Z = self._logs(X)
        self._mean = Z.mean(axis=0)
        std = Z.std(axis=0)
        self._std = np.where(std > 1e-12, std, 1.0)  # a constant column carries no information
        Z = (Z - self._mean) / self._std
        self._components = None
        if self.whiten:
            _, s, vt = np.linalg.svd(Z, full_matrices=False)
            var = s**2 / max(len(Z) - 1, 1)
            keep = var > 1e-6 * max(float(var.max(initial=0.0)), 1e-12)
            self._components = vt[keep] / np.sqrt(var[keep])[:, None]
            Z = Z @ self._components.T
        return Z

    def _logs(self, X: np.ndarray) -> np.ndarray:
        if not self.log_columns_.any():
            return X
        Z = X.copy()
        cols = self.log_columns_
        Z[:, cols] = np.log(np.maximum(X[:, cols], 0.0) + self._log_floor)
        return Z

    def _preprocess(self, X: np.ndarray) -> np.ndarray:
        Z = (self._logs(np.asarray(X, dtype=np.float64)) - self._mean) / self._std
        return Z if self._components is None else Z @ self._components.T

    # -- fitting and scoring ------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> ClipAnomalyDetector:
        """Learn the density of normal clips.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_features)
            Features of clips of normal videos.
        y : None
            Ignored.
        groups : array-like of shape (n_clips,), optional
            Video of each clip (the ``groups`` of :func:`featkit.load_features`):
            the threshold's folds then never split a video.

        Returns
        -------
        self

        """
        self._validate_params()
        self.combine_ = (
            ("fisher" if self.method == "mahalanobis" else "joint") if self.combine == "auto" else self.combine
        )
        if self.combine_ == "fisher" and self.method != "mahalanobis":
            raise ConfigError(
                f"combine='fisher' sums chi-squared tail probabilities of Mahalanobis distances, so it needs "
                f"method='mahalanobis'. Got method={self.method!r}; pass combine='joint' for it."
            )
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self.columns_ = self._select_columns(X.shape[1])
        Z = self._fit_preprocess(X[:, self.columns_])
        self._model = self._fit_density(Z)
        share = 0.01 if self.contamination == "auto" else float(self.contamination)
        self.offset_ = float(np.quantile(self._threshold_scores(X, Z, groups), share))
        return self

    def _fit_density(self, Z: np.ndarray) -> Any:
        rng = check_random_state(self.random_state)
        if self.method == "knn":
            from sklearn.neighbors import NearestNeighbors

            self.n_neighbors_ = min(self.n_neighbors, len(Z))
            return NearestNeighbors(n_neighbors=self.n_neighbors_).fit(Z)
        if self.method == "mahalanobis":
            from sklearn.covariance import LedoitWolf

            if self.combine_ == "fisher":
                models = [LedoitWolf().fit(Z[:, g]) for g in self._z_groups(Z)]
                self.dof_ = [
                    _fit_dof(m.mahalanobis(Z[:, g]), len(g)) if self.law == "t" else np.inf
                    for m, g in zip(models, self._z_groups(Z), strict=True)
                ]
                return models
            return LedoitWolf().fit(Z)
        if self.method == "gmm":
            from sklearn.mixture import GaussianMixture

            k = min(self.n_components, len(Z))
            return GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=rng).fit(Z)
        from sklearn.ensemble import IsolationForest

        return IsolationForest(random_state=rng).fit(Z)

    def _threshold_scores(self, X: np.ndarray, Z: np.ndarray, groups: Any) -> np.ndarray:
        """Scores the threshold is a quantile of: out-of-fold where ``threshold_folds`` allows, else in-sample."""
        folds = self.threshold_folds
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),):
                raise ValueError(f"groups must hold one id per clip, shape ({len(X)},). Got shape {groups.shape}.")
        n_units = len(X) if groups is None else len(np.unique(groups))
        if folds is None or n_units < max(folds, 2) or len(X) < 2 * folds:
            return self._score(Z)
        from sklearn.base import clone
        from sklearn.model_selection import GroupKFold, KFold

        # Clips of one video are rows in a row (load_features' order), so unshuffled folds keep most of a video
        # together even without groups.
        split = KFold(folds).split(X) if groups is None else GroupKFold(folds).split(X, groups=groups)
        cols = self.columns_
        if self.statistics_ is None:
            inner = clone(self).set_params(threshold_folds=None, statistics=None, feature_names=None)
        else:  # the same statistics, found by the names of the scored columns
            names = np.asarray(_column_names(self, X.shape[1]), dtype=object)[cols]
            inner = clone(self).set_params(threshold_folds=None, statistics=self.statistics_, feature_names=names)
        scores = np.empty(len(X))
        for train, test in split:
            scores[test] = inner.fit(X[train][:, cols]).score_samples(X[test][:, cols])
        return scores

    def _score(self, Z: np.ndarray) -> np.ndarray:
        if self.method == "knn":
            dist, _ = self._model.kneighbors(Z)
            return -dist.mean(axis=1)
        if self.method == "mahalanobis" and self.combine_ == "fisher":
            groups = self._z_groups(Z)
            tails = self.tails_ if len(groups) == len(self.tails_) else ("both",) * len(groups)
            return np.sum(
                [
                    _log_tail(m, Z[:, g], tail, dof)
                    for m, g, tail, dof in zip(self._model, groups, tails, self.dof_, strict=True)
                ],
                axis=0,
            )
        if self.method == "mahalanobis":
            return -0.5 * self._model.mahalanobis(Z)
        return self._model.score_samples(Z)

    def _z_groups(self, Z: np.ndarray) -> list[np.ndarray]:
        """Each statistic's columns of the preprocessed ``Z`` (all of them once whitening has mixed them)."""
        return self.column_groups_ if self._components is None else [np.arange(Z.shape[1])]

    def score_samples(self, X: Any) -> np.ndarray:
        """How normal each clip is (higher = more normal).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_features)

        Returns
        -------
        ndarray of shape (n_clips,)

        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._score(self._preprocess(X[:, self.columns_]))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers (input and output as :meth:`score_samples`)."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for normal clips, -1 for outliers: an int array of shape (n_clips,), input as :meth:`score_samples`."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


_DOF_RANGE = (2.05, 1000.0)  # a t law needs > 2 degrees of freedom for a covariance; 1000 is the Gaussian


def _fit_dof(d2: np.ndarray, k: int) -> float:
    """Degrees of freedom ν of a k-variate Student t, by maximum likelihood on the training clips' squared distances.

    With the covariance Σ estimated as the t's covariance, the scatter is Σ (ν − 2) / ν, so a squared
    distance d² under Σ is d² ν / (ν − 2) under the scatter, and that over k follows F(k, ν). Clips of
    normal videos are heavier-tailed than a Gaussian (photos: the 99th percentile of the quality columns'
    d² at 29 against χ²₈'s 20), so ν comes out near 3-4 there; a Gaussian sample of 3,000 gives about 400.
    """
    from scipy.optimize import minimize_scalar
    from scipy.stats import f as f_law

    d2 = np.maximum(np.asarray(d2, dtype=np.float64), 0.0)

    def nll(log_nu: float) -> float:
        nu = float(np.exp(log_nu))
        scale = nu / ((nu - 2.0) * k)  # d² -> the F variable
        return float(-(f_law.logpdf(d2 * scale, k, nu) + np.log(scale)).sum())

    lo, hi = np.log(_DOF_RANGE[0]), np.log(_DOF_RANGE[1])
    return float(np.exp(minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4}).x))


def _log_tail(model: Any, Z: np.ndarray, tail: str, dof: float = np.inf) -> np.ndarray:
    """Log tail probability of each row under a fitted law: of its squared distance, or of one side of one column.

    ``dof`` infinite: the Gaussian (chi-squared, normal); else the Student t of :func:`_fit_dof`.
    """
    if tail == "both":
        d2 = model.mahalanobis(Z)
        return _chi2_logsf(d2, Z.shape[1]) if not np.isfinite(dof) else _f_logsf(d2, Z.shape[1], dof)
    z = (Z[:, 0] - model.location_[0]) / np.sqrt(max(float(model.covariance_[0, 0]), 1e-12))
    z = z if tail == "upper" else -z
    if not np.isfinite(dof):
        from scipy.special import log_ndtr

        return log_ndtr(-z)
    return _t_logsf(z * np.sqrt(dof / (dof - 2.0)), dof)


def _log_beta_tail(w: np.ndarray, a: float, b: float) -> np.ndarray:
    """Log of I_w(a, b), the regularised incomplete beta, finite down to w = 0 (leading term w^a / (a B(a, b)))."""
    from scipy.special import betainc, betaln

    w = np.clip(np.asarray(w, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        exact = np.log(betainc(a, b, w))
    lead = a * np.log(np.maximum(w, 1e-300)) - np.log(a) - betaln(a, b)
    return np.where(np.isfinite(exact) & (exact > -700), exact, lead)


def _f_logsf(d2: np.ndarray, k: int, dof: float) -> np.ndarray:
    """Log P(distance² > d2) under a k-variate t with ``dof`` degrees of freedom and covariance the identity."""
    x = np.maximum(np.asarray(d2, dtype=np.float64), 0.0) * dof / (dof - 2.0)  # squared distance in the scatter
    return _log_beta_tail(dof / (dof + x), dof / 2.0, k / 2.0)


def _t_logsf(t: np.ndarray, dof: float) -> np.ndarray:
    """Log P(T > t) for Student's t with ``dof`` degrees of freedom, finite far into either tail."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):  # t² beyond float range: w = 0, the leading term
        w = dof / (dof + t**2)
    half = np.log(0.5) + _log_beta_tail(w, dof / 2.0, 0.5)  # log P(T > |t|)
    return np.where(t >= 0, half, np.log1p(-np.exp(np.minimum(half, 0.0))))


def _chi2_logsf(d2: np.ndarray, k: int) -> np.ndarray:
    """Log P(chi2_k > d2), finite far into the tail (where scipy's underflows to -inf)."""
    from scipy.special import gammaln
    from scipy.stats import chi2

    d2 = np.maximum(np.asarray(d2, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore"):
        exact = chi2.logsf(d2, k)
    # The leading term of the upper incomplete gamma function's expansion, log(x^(a-1) e^(-x) / Gamma(a)).
    tail = -d2 / 2 + (k / 2 - 1) * np.log(np.maximum(d2, 1e-300) / 2) - gammaln(k / 2)
    return np.where(np.isfinite(exact) & (exact > -700), exact, tail)
