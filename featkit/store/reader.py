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

__all__ = ["Features", "FrameLatents", "load_features", "load_frames", "load_videos"]


class Features(NamedTuple):
    """Clip features ready for scikit-learn; unpacks as ``X, y, groups, feature_names``.

    Attributes
    ----------
    X : ndarray of shape (n_clips, n_features), float32, or pandas.DataFrame
        A DataFrame (columns named by feature) when loaded with ``as_frame=True``.
    y : ndarray of shape (n_clips,), object (str), pandas.Series, or None
        Each clip's label (its video's first-level folder); ``None`` when no
        selected video has a label. With ``as_frame=True``, ``X``, ``y`` and
        ``groups`` share a (``video``, ``clip``) MultiIndex: the video's stored
        path and the clip's number within it.
    groups : ndarray of shape (n_clips,), int64, or pandas.Series
        Each clip's video id (row of the file's ``videos`` table), for grouped
        cross-validation such as :class:`sklearn.model_selection.GroupKFold`.
        Videos with identical content (same sha256: a copy, a symbolic link)
        share the smallest of their ids, so no split puts the same clips on
        both sides (``group_by="video"`` keeps one id per stored video).
    feature_names : ndarray of shape (n_features,), object (str)

    """

    X: Any
    y: Any
    groups: Any
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


def load_videos(path: str | os.PathLike[str], *, as_frame: bool | None = None) -> Any:
    """Read a feature file's video table (small: one row per video).

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.
    as_frame : bool or None, default=None
        Return a :class:`pandas.DataFrame`; ``None``: when pandas is installed.

    Returns
    -------
    pandas.DataFrame or dict of str to ndarray
        Columns ``path``, ``label``, ``sha256``, ``clip_offset``, ``clip_count``
        … indexed by video id (the values of ``groups`` in :func:`load_features`).

    Raises
    ------
    StoreError, LayoutError
        If the file cannot be read as a featkit feature file.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    """
    from featkit.store.layout import read_table
    from featkit.store.validate import open_feature_file

    pd = _pandas("load_videos") if as_frame else None
    if as_frame is None:
        try:
            import pandas as pd
        except ImportError:
            pd = None
    with open_feature_file(path) as f:
        table = read_table(f, "videos")
    if pd is None:
        return table
    frame = pd.DataFrame(table)
    frame.index.name = "video_id"
    return frame


def _pandas(caller: str) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{caller}(..., as_frame=True) needs pandas, which is not installed. "
            "Install it with `pip install pandas`, or use as_frame=False for NumPy arrays."
        ) from exc
    return pd


def content_groups(table: dict[str, np.ndarray]) -> np.ndarray:
    """Per video id, the smallest id of the videos it must not be split from; its own id when alone.

    Videos are joined when their content is identical (same sha256) and when
    a ``--list`` gave them the same group.
    """
    n = len(table.get("path", []))
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for column in ("sha256", "group"):
        first: dict[str, int] = {}
        for i, key in enumerate(table.get(column, [])):
            if str(key) == "":
                continue
            a, b = root(first.setdefault(str(key), i)), root(i)
            parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(n)], dtype=np.int64)


def load_features(
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    videos: Sequence[str] | Sequence[int] | None = None,
    features: Sequence[str] | None = None,
    as_frame: bool = False,
    group_by: str = "content",
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
        columns, and ``y`` and ``groups`` as :class:`pandas.Series`, all
        indexed by (``video``, ``clip``) (requires pandas).
    group_by : {"content", "video"}, default="content"
        ``"content"``: videos with the same sha256 share a group, so grouped
        cross-validation never tests on a copy of a training video;
        ``"video"``: one group per stored video.

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
    if group_by not in ("content", "video"):
        raise ConfigError(f"The 'group_by' parameter of load_features must be 'content' or 'video'. Got {group_by!r}.")
    pd = _pandas("load_features") if as_frame else None
    from featkit.store.layout import read_table
    from featkit.store.validate import open_feature_file

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
    video_ids = groups
    if group_by == "content":
        groups = content_groups(table)[groups] if len(groups) else groups
    if pd is not None:
        index = _clip_index(pd, table, video_ids)
        X = pd.DataFrame(X, columns=list(feature_names), index=index)
        y = None if y is None else pd.Series(y, index=index, name="label")
        groups = pd.Series(groups, index=index, name="group")
    return Features(X, y, groups, feature_names)


def _clip_index(pd: Any, table: dict[str, np.ndarray], video_ids: np.ndarray) -> Any:
    """(video path, clip number within the video) for each clip row."""
    paths = table.get("path", np.zeros(0, dtype=object))
    starts = np.r_[True, video_ids[1:] != video_ids[:-1]] if len(video_ids) else np.zeros(0, dtype=bool)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(video_ids)), 0)) if len(video_ids) else starts
    clip = np.arange(len(video_ids)) - run_start
    return pd.MultiIndex.from_arrays([paths[video_ids] if len(video_ids) else [], clip], names=["video", "clip"])


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


class FrameLatents(NamedTuple):
    """One video's per-frame posterior (``featkit extract --per-frame``), for sequence models.

    Attributes
    ----------
    frame_index : ndarray of shape (n_frames,), int64
        Index of each sampled frame in the video's decoded frames.
    time : ndarray of shape (n_frames,), float64
        Its start time in seconds.
    mu, logvar : ndarray of shape (n_frames, latent_dim), float32
        Posterior mean and log variance.

    """

    frame_index: np.ndarray
    time: np.ndarray
    mu: np.ndarray
    logvar: np.ndarray


def load_frames(
    path: str | os.PathLike[str], *, videos: Sequence[str] | Sequence[int] | None = None
) -> dict[str, FrameLatents]:
    """Load the per-frame latents of a file extracted with ``--per-frame``, video by video.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract --per-frame``.
    videos : sequence of str or int, optional
        Only these videos, by stored path or video id.

    Returns
    -------
    dict of str to FrameLatents
        Keyed by the video's stored path, in video-id order.

    Raises
    ------
    ConfigError
        If the file has no per-frame latents, or ``videos`` names one it does not have.
    StoreError, LayoutError
        If the file cannot be read as a featkit feature file.

    """
    from featkit.store.layout import read_table
    from featkit.store.validate import open_feature_file

    with open_feature_file(path) as f:
        if "frames" not in f:
            raise ConfigError(
                f"{os.fspath(path)} holds no per-frame latents. Extract with `featkit extract ... --per-frame` "
                "(Python: ExtractionConfig(per_frame=True)) into a new file."
            )
        table = read_table(f, "videos")
        keep = _video_mask(table, videos, path) if videos is not None else np.ones(len(table.get("path", [])), bool)
        g = f["frames"]
        vid = g["video_id"][()]
        # Rows are grouped by video: one contiguous run each.
        order = np.flatnonzero(np.r_[True, vid[1:] != vid[:-1]]) if len(vid) else np.zeros(0, dtype=np.int64)
        bounds = dict(zip(vid[order].tolist(), zip(order, np.r_[order[1:], len(vid)], strict=True), strict=True))
        out = {}
        for i in np.flatnonzero(keep):
            lo, hi = bounds.get(int(i), (0, 0))
            out[str(table["path"][i])] = FrameLatents(
                g["frame_index"][lo:hi], g["time"][lo:hi], g["mu"][lo:hi], g["logvar"][lo:hi]
            )
    return out
