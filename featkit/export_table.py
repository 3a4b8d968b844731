"""``featkit export-features``: a feature file as one flat table (Parquet or CSV), one row per clip.

The table needs no featkit to read (``pandas.read_parquet``, ``pyarrow``,
``pandas.read_csv``, a spreadsheet). ``pandas.read_hdf`` cannot read the HDF5
file itself (it is not a PyTables file); the README shows how to read that
with h5py.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from featkit.exceptions import ConfigError, DependencyError

__all__ = ["TABLE_COLUMNS", "export_features", "feature_table"]

#: The columns before the features, in order.
TABLE_COLUMNS = (
    "video",
    "label",
    "group",
    "video_id",
    "clip",
    "start_frame",
    "end_frame",
    "start_time",
    "end_time",
    "n_frames",
)


def feature_table(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Read a feature file as flat columns.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.

    Returns
    -------
    columns : dict of str to ndarray
        :data:`TABLE_COLUMNS`, each of shape (n_clips,). ``group`` is the
        content group of :func:`featkit.load_features`.
    features : ndarray of shape (n_clips, n_features), float32
    feature_names : list of str

    """
    from featkit.store.layout import read_table
    from featkit.store.reader import content_groups
    from featkit.store.validate import open_feature_file

    with open_feature_file(path) as f:
        videos = read_table(f, "videos")
        clips = read_table(f, "clips")
        features = np.asarray(f["features"][()], dtype=np.float32)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["feature_names"][()]]
    vid = clips.get("video_id", np.zeros(0, dtype=np.int64)).astype(np.int64)
    offsets = videos.get("clip_offset", np.zeros(0, dtype=np.int64)).astype(np.int64)
    n_videos = len(videos.get("path", []))
    labels = videos.get("label", np.full(n_videos, "", dtype=object))
    columns = {
        "video": videos.get("path", np.zeros(0, dtype=object))[vid],
        "label": labels[vid],
        "group": content_groups(videos)[vid] if n_videos else vid,
        "video_id": vid,
        "clip": np.arange(len(vid)) - offsets[vid] if len(vid) else vid,
        **{k: clips[k] for k in ("start_frame", "end_frame", "start_time", "end_time", "n_frames")},
    }
    return columns, features, names


def export_features(path: str | os.PathLike[str], output: str | os.PathLike[str]) -> int:
    """Write a feature file as a table, one row per clip: :data:`TABLE_COLUMNS`, then one column per feature.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit extract``.
    output : path-like
        ``.parquet`` (needs pyarrow) or ``.csv``.

    Returns
    -------
    int
        Rows (clips) written.

    Raises
    ------
    ConfigError
        If ``output`` ends in neither ``.parquet`` nor ``.csv``.
    DependencyError
        If a Parquet file is asked for and pyarrow is not installed.
    StoreError, LayoutError
        If ``path`` is not a readable feature file.

    """
    out = Path(output)
    kind = out.suffix.lower()
    if kind not in (".parquet", ".csv"):
        raise ConfigError(f"The output of export-features must end in .parquet or .csv. Received: {os.fspath(output)}")
    if kind == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DependencyError(
                "Writing Parquet needs pyarrow, which is not installed: `pip install pyarrow`, or write a .csv."
            ) from exc
    columns, features, names = feature_table(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if kind == ".parquet":
            arrays = {k: _arrow_values(v) for k, v in columns.items()}
            arrays.update({n: features[:, j] for j, n in enumerate(names)})
            pq.write_table(pa.table(arrays), tmp)
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow([*columns, *names])
                cols = list(columns.values())
                for i in range(features.shape[0]):  # 9 significant digits: float32 round-trips exactly
                    writer.writerow([c[i] for c in cols] + [f"{v:.9g}" for v in features[i]])
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return int(features.shape[0])


def _arrow_values(values: np.ndarray) -> Any:
    return values.astype(str).tolist() if values.dtype.kind == "O" else values
