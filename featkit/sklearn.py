"""Reading feature files into scikit-learn's shapes: ``X, y, groups`` and feature names."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

__all__ = ["Features", "load_features"]


class Features(NamedTuple):
    """Clip features ready for scikit-learn; unpacks as ``X, y, groups, feature_names``.

    Attributes
    ----------
    X : ndarray of shape (n_clips, n_features), float32
    y : ndarray of shape (n_clips,), object (str) or None
        Each clip's label (its video's first-level folder); ``None`` when no
        video has a label.
    groups : ndarray of shape (n_clips,), int64
        Each clip's video id (row of the file's ``videos`` table), for grouped
        cross-validation such as :class:`sklearn.model_selection.GroupKFold`.
    feature_names : ndarray of shape (n_features,), object (str)

    """

    X: np.ndarray
    y: np.ndarray | None
    groups: np.ndarray
    feature_names: np.ndarray


def load_features(path: str | os.PathLike[str]) -> Features:
    """Load a featkit feature file.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.

    Returns
    -------
    Features
        ``X, y, groups, feature_names = load_features("features.h5")``.

    Raises
    ------
    StoreError, LayoutError
        If the file is missing, not HDF5, not a featkit file, or of an
        unsupported layout version.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> X, y, groups, names = load_features("features.h5")  # doctest: +SKIP
    >>> cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(5))  # doctest: +SKIP

    """
    from featkit.store import open_feature_file, read_table

    with open_feature_file(path) as f:
        X = f["features"][()]
        names = read_table(f, "videos")
        groups = f["clips/video_id"][()].astype(np.int64)
        feature_names = np.array(
            [n.decode() if isinstance(n, bytes) else n for n in f["feature_names"][()]], dtype=object
        )
    labels = names.get("label", np.zeros(0, dtype=object))
    y = labels[groups] if len(labels) and any(lab != "" for lab in labels) else None
    return Features(X, y, groups, feature_names)
