"""Anomaly detection on clip features: :class:`ClipAnomalyDetector`, a scikit-learn outlier detector.

Fitted on the clips of normal videos (the matrix of :func:`featkit.load_features`,
default statistics), it scores new clips by how dense the normal clips are
around them, the approach the literature finds stronger than reconstruction
error or likelihood (``../shared/docs/anchors.md``: feature density beats
reconstruction error; an ELBO ranks simple images as "normal"). Which density
estimate and which preprocessing are the defaults was decided by
``benchmarks/bench_anomaly.py`` on footage held out by source.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

__all__ = ["METHODS", "ClipAnomalyDetector"]

#: Density estimates :class:`ClipAnomalyDetector` can score with.
METHODS: tuple[str, ...] = ("knn", "mahalanobis", "gmm", "isolation_forest")

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

    Preprocessing, learnt from the training clips: columns that are never
    negative there (``mu_std``, ``sigma_mean``, ``mu_absdiff`` …) are taken on a
    log scale (``log_positive``), every column is standardised, and optionally
    the whole is whitened by PCA (``whiten``).

    Parameters
    ----------
    method : {"knn", "mahalanobis", "gmm", "isolation_forest"}, default="knn"
        ``"knn"``: minus the mean Euclidean distance to the ``n_neighbors``
        nearest training clips. ``"mahalanobis"``: minus half the squared
        Mahalanobis distance under a Ledoit-Wolf covariance. ``"gmm"``: the
        log-likelihood under a Gaussian mixture of ``n_components``.
        ``"isolation_forest"``: scikit-learn's isolation forest score.
    n_neighbors : int, default=5
        Neighbours for ``"knn"`` (fewer when there are fewer training clips).
    n_components : int, default=4
        Mixture components for ``"gmm"`` (fewer when there are fewer clips).
    log_positive : bool, default=True
        Compare never-negative columns on a log scale.
    whiten : bool, default=False
        Decorrelate and rescale by PCA after standardising.
    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of outliers among the training clips; sets ``offset_``
        to that quantile of the training scores. ``"auto"`` uses 0.01.
    random_state : int, RandomState instance or None, default=None
        Seeds ``"gmm"`` and ``"isolation_forest"``.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has string column names.
    log_columns_ : ndarray of shape (n_features_in_,), bool
        Columns taken on a log scale.
    offset_ : float
        Threshold of :meth:`decision_function`: clips scoring below it are outliers.

    Examples
    --------
    >>> X, y, groups, names = featkit.load_features("normal.h5")  # doctest: +SKIP
    >>> det = ClipAnomalyDetector().fit(X)  # doctest: +SKIP
    >>> det.predict(X_new)  # +1 normal, -1 anomalous  # doctest: +SKIP

    """

    _parameter_constraints: ClassVar[dict] = {
        "method": [StrOptions(set(METHODS))],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "log_positive": ["boolean"],
        "whiten": ["boolean"],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method: str = "knn",
        *,
        n_neighbors: int = 5,
        n_components: int = 4,
        log_positive: bool = True,
        whiten: bool = False,
        contamination: str | float = "auto",
        random_state: Any = None,
    ) -> None:
        self.method = method
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.log_positive = log_positive
        self.whiten = whiten
        self.contamination = contamination
        self.random_state = random_state

    # -- preprocessing ------------------------------------------------------------------

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

    def fit(self, X: Any, y: Any = None) -> ClipAnomalyDetector:
        """Learn the density of normal clips.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_features)
            Features of clips of normal videos.
        y : None
            Ignored.

        Returns
        -------
        self

        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        Z = self._fit_preprocess(X)
        rng = check_random_state(self.random_state)
        if self.method == "knn":
            from sklearn.neighbors import NearestNeighbors

            self.n_neighbors_ = min(self.n_neighbors, len(Z))
            self._model = NearestNeighbors(n_neighbors=self.n_neighbors_).fit(Z)
        elif self.method == "mahalanobis":
            from sklearn.covariance import LedoitWolf

            self._model = LedoitWolf().fit(Z)
        elif self.method == "gmm":
            from sklearn.mixture import GaussianMixture

            k = min(self.n_components, len(Z))
            self._model = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=rng).fit(Z)
        else:
            from sklearn.ensemble import IsolationForest

            self._model = IsolationForest(random_state=rng).fit(Z)
        train_scores = self._score(Z)
        share = 0.01 if self.contamination == "auto" else float(self.contamination)
        self.offset_ = float(np.quantile(train_scores, share))
        return self

    def _score(self, Z: np.ndarray) -> np.ndarray:
        if self.method == "knn":
            dist, _ = self._model.kneighbors(Z)
            return -dist.mean(axis=1)
        if self.method == "mahalanobis":
            return -0.5 * self._model.mahalanobis(Z)
        return self._model.score_samples(Z)

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
        return self._score(self._preprocess(X))

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
