"""From clips to videos: average clip features, or clip class probabilities, per video (numpy only)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from featkit._validation import Options, validate_params
from featkit.exceptions import ConfigError

__all__ = ["VideoFeatures", "aggregate_by_video", "average_by_video", "predict_by_video"]

_HOW = ("mean", "mean_std")


class VideoFeatures(NamedTuple):
    """Per-video features; unpacks as ``X, y, groups``.

    Attributes
    ----------
    X : ndarray of shape (n_videos, n_out)
    y : ndarray of shape (n_videos,) or None
        Each video's label, or ``None`` when no ``y`` was given.
    groups : ndarray of shape (n_videos,)
        The video ids, sorted, in row order.

    """

    X: np.ndarray
    y: np.ndarray | None
    groups: np.ndarray


def _segments(groups: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n:
        raise ConfigError(f"groups must have one entry per row ({n}); got shape {groups.shape}.")
    ids, inverse = np.unique(groups, return_inverse=True)
    return ids, inverse.ravel()


def average_by_video(values: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the rows of each video (clip features or clip class probabilities).

    Parameters
    ----------
    values : array-like of shape (n_clips, n_columns)
    groups : array-like of shape (n_clips,)
        Each clip's video id.

    Returns
    -------
    video_ids : ndarray of shape (n_videos,)
        Sorted distinct ids.
    means : ndarray of shape (n_videos, n_columns), float64

    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    ids, inv = _segments(groups, values.shape[0])
    sums = np.zeros((len(ids), values.shape[1]))
    np.add.at(sums, inv, values)
    return ids, sums / np.bincount(inv, minlength=len(ids))[:, None]


def aggregate_by_video(X: Any, groups: Any, y: Any = None, *, how: str = "mean") -> VideoFeatures:
    """Reduce clip-level features to one row per video.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_features)
    groups : array-like of shape (n_clips,)
        Each clip's video id (``groups`` from :func:`featkit.load_features`).
    y : array-like of shape (n_clips,), optional
        Clip labels; every clip of a video must have the same label.
    how : {"mean", "mean_std"}, default="mean"
        ``"mean"``: the mean of each feature over the video's clips;
        ``"mean_std"``: the means followed by the standard deviations.

    Returns
    -------
    VideoFeatures
        ``X, y, groups`` with one row per video, in sorted video id order.

    Raises
    ------
    ConfigError
        If ``how`` is unknown, shapes disagree, or a video's clips have different labels.

    """
    validate_params("aggregate_by_video", {"how": [Options(_HOW)]}, {"how": how})
    X = np.asarray(X, dtype=np.float64)
    ids, mean = average_by_video(X, groups)
    out = mean
    if how == "mean_std":
        _, sq = average_by_video(X**2, groups)
        out = np.hstack([mean, np.sqrt(np.maximum(sq - mean**2, 0.0))])
    yv = None
    if y is not None:
        y = np.asarray(y)
        _, inv = _segments(groups, X.shape[0])
        if y.shape[0] != X.shape[0]:
            raise ConfigError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}.")
        first = np.zeros(len(ids), dtype=np.int64)
        first[inv[::-1]] = np.arange(len(inv))[::-1]  # first clip of each video
        yv = y[first]
        if np.any(y != yv[inv]):
            bad = ids[np.unique(inv[y != yv[inv]])][:5]
            raise ConfigError(f"Clips of the same video have different labels (video ids {list(bad)}).")
    return VideoFeatures(out, yv, ids)


def predict_by_video(estimator: Any, X: Any, groups: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Predict one label per video from a fitted clip-level classifier.

    Clip class probabilities are averaged per video when the estimator has
    ``predict_proba``; otherwise each video takes the most frequent clip prediction.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n_clips, n_features)
    groups : array-like of shape (n_clips,)

    Returns
    -------
    video_ids : ndarray of shape (n_videos,)
    labels : ndarray of shape (n_videos,)
    proba : ndarray of shape (n_videos, n_classes) or None
        The averaged probabilities (columns in ``estimator.classes_`` order).

    """
    classes = np.asarray(estimator.classes_)
    if hasattr(estimator, "predict_proba"):
        ids, proba = average_by_video(estimator.predict_proba(X), groups)
        return ids, classes[np.argmax(proba, axis=1)], proba
    pred = np.asarray(estimator.predict(X))
    onehot = (pred[:, None] == classes[None, :]).astype(np.float64)
    ids, votes = average_by_video(onehot, groups)
    return ids, classes[np.argmax(votes, axis=1)], None
