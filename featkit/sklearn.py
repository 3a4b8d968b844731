"""Reading feature files into scikit-learn's shapes: ``X, y, groups`` and feature names.

Only the rows (videos, labels) and columns (features, statistic groups) asked
for are read from disk, so a file larger than memory can still be used in
parts. pandas is optional (``as_frame=True``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from featkit.exceptions import ConfigError

__all__ = ["Features", "load_features", "load_videos"]


class Features(NamedTuple):
    """Clip features ready for scikit-learn; unpacks as ``X, y, groups, feature_names``.

    Attributes
    ----------
    X : ndarray of shape (n_clips, n_features), float32, or pandas.DataFrame
        A DataFrame (columns named by feature) when loaded with ``as_frame=True``.
    y : ndarray of shape (n_clips,), object (str) or None
        Each clip's label (its video's first-level folder); ``None`` when no
        selected video has a label.
    groups : ndarray of shape (n_clips,), int64
        Each clip's video id (row of the file's ``videos`` table), for grouped
        cross-validation such as :class:`sklearn.model_selection.GroupKFold`.
    feature_names : ndarray of shape (n_features,), object (str)

    """

    X: Any
    y: np.ndarray | None
    groups: np.ndarray
    feature_names: np.ndarray


def _str_array(values: Any) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _select_columns(all_names: np.ndarray, features: Sequence[str] | None) -> np.ndarray:
    """Column indices (sorted) for feature names or statistic groups such as ``"mu_mean"``."""
    if features is None:
        return np.arange(len(all_names))
    if isinstance(features, str):
        features = [features]
    index = {n: i for i, n in enumerate(all_names)}
    groups = {str(n).rsplit("_", 1)[0] for n in all_names}
    cols: set[int] = set()
    for name in features:
        if name in index:
            cols.add(index[name])
        elif name in groups:
            cols.update(i for i, n in enumerate(all_names) if n.rsplit("_", 1)[0] == name)
        else:
            raise ConfigError(
                f"The 'features' parameter of load_features names {name!r}, which is neither a feature nor a "
                f"statistic group of this file. Statistic groups: {sorted(groups)}."
            )
    return np.array(sorted(cols), dtype=np.int64)


def load_videos(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a feature file's video table (small: one row per video).

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.

    Returns
    -------
    dict of str to ndarray
        ``path``, ``label``, ``clip_offset``, ``clip_count`` … indexed by video id
        (the values of ``groups`` in :func:`load_features`).

    Raises
    ------
    StoreError, LayoutError
        If the file cannot be read as a featkit feature file.

    """
    from featkit.store import open_feature_file, read_table

    with open_feature_file(path) as f:
        return read_table(f, "videos")


def load_features(
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    videos: Sequence[str] | Sequence[int] | None = None,
    features: Sequence[str] | None = None,
    as_frame: bool = False,
) -> Features:
    """Load a featkit feature file, or the selected part of it.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.
    labels : sequence of str, optional
        Keep only the clips of videos with these labels.
    videos : sequence of str or int, optional
        Keep only these videos, by relative path (as stored) or video id.
    features : sequence of str, optional
        Keep only these columns: feature names (``"mu_mean_03"``) or statistic
        groups (``"mu_mean"``, ``"sigma_mean"``); columns keep the file's order.
    as_frame : bool, default=False
        Return ``X`` as a :class:`pandas.DataFrame` with feature names as
        columns (requires pandas).

    Returns
    -------
    Features
        ``X, y, groups, feature_names = load_features("features.h5")``. Only
        the selected rows and columns are read from disk, video by video.

    Raises
    ------
    StoreError, LayoutError
        If the file is missing, not HDF5, not a featkit file, or of an
        unsupported layout version.
    ConfigError
        If a filter names a label, video or feature the file does not have.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> X, y, groups, names = load_features("features.h5", labels=["cat", "dog"])  # doctest: +SKIP
    >>> cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(5))  # doctest: +SKIP

    """
    pd = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "load_features(..., as_frame=True) needs pandas, which is not installed. "
                "Install it with `pip install pandas`, or use as_frame=False for NumPy arrays."
            ) from exc
    from featkit.store import open_feature_file, read_table

    with open_feature_file(path) as f:
        table = read_table(f, "videos")
        all_names = _str_array(f["feature_names"][()])
        cols = _select_columns(all_names, features)
        n_videos = len(table.get("path", []))
        keep = np.ones(n_videos, dtype=bool)
        vlabels = table.get("label", np.full(n_videos, "", dtype=object))
        if labels is not None:
            wanted = {labels} if isinstance(labels, str) else set(labels)
            unknown = wanted - set(vlabels)
            if unknown:
                raise ConfigError(
                    f"The 'labels' parameter of load_features names {sorted(unknown)}, not labels of "
                    f"{os.fspath(path)}. Its labels: {sorted(set(vlabels))}."
                )
            keep &= np.array([lab in wanted for lab in vlabels], dtype=bool)
        if videos is not None:
            keep &= _video_mask(table, videos, path)
        ids = np.flatnonzero(keep)
        offsets, counts = (
            table.get("clip_offset", np.zeros(0, np.int64)),
            table.get("clip_count", np.zeros(0, np.int64)),
        )
        ds = f["features"]
        everything = keep.all() and len(cols) == len(all_names)
        if everything:
            X = ds[()]
            groups = f["clips/video_id"][()].astype(np.int64)
        else:
            blocks = []
            for i in ids:  # each video's clips are contiguous rows
                lo, hi = int(offsets[i]), int(offsets[i] + counts[i])
                if hi > lo:
                    block = ds[lo:hi] if len(cols) == len(all_names) else ds[lo:hi, cols]
                    blocks.append(np.asarray(block, dtype=np.float32).reshape(hi - lo, len(cols)))
            X = np.concatenate(blocks) if blocks else np.zeros((0, len(cols)), dtype=np.float32)
            groups = np.repeat(ids, counts[ids].astype(np.int64)).astype(np.int64)
    feature_names = all_names[cols]
    used = vlabels[ids] if len(ids) else np.zeros(0, dtype=object)
    y = vlabels[groups] if any(lab != "" for lab in used) else None
    if pd is not None:
        X = pd.DataFrame(X, columns=list(feature_names))
    return Features(X, y, groups, feature_names)


def _video_mask(table: dict[str, np.ndarray], videos: Any, path: Any) -> np.ndarray:
    paths = table.get("path", np.zeros(0, dtype=object))
    mask = np.zeros(len(paths), dtype=bool)
    index = {p: i for i, p in enumerate(paths)}
    missing = []
    for v in [videos] if isinstance(videos, str) else videos:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            if 0 <= int(v) < len(paths):
                mask[int(v)] = True
            else:
                missing.append(v)
        elif str(v) in index:
            mask[index[str(v)]] = True
        else:
            missing.append(v)
    if missing:
        raise ConfigError(
            f"The 'videos' parameter of load_features names {missing[:5]}, not videos of {os.fspath(path)} "
            f"({len(paths)} videos; give stored relative paths or video ids)."
        )
    return mask
