"""Checking a feature file against the layout spec before any of its data is used; opening one to read.

Every reader (``load_features``, ``featkit info``, the writer resuming a file)
opens files through :func:`open_feature_file`, so a damaged, foreign or newer
file is refused with a message that names the failed check.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from featkit._version import __version__
from featkit.exceptions import LayoutError, StoreError, StoreWriteError
from featkit.files import file_kind
from featkit.store.layout import (
    LAYOUT_NAME,
    LAYOUT_VERSION,
    SPECS,
    STR,
    TABLES,
    decode,
    layout_failure,
    read_table,
    table_version,
    unreadable,
)

__all__ = [
    "check_layout",
    "check_overwritable",
    "check_regular",
    "open_feature_file",
    "store_write_error",
    "validate_file",
]


def check_layout(f: h5py.File, path: str | os.PathLike[str]) -> int:
    """Check that an open file is a featkit feature file this version can read.

    Returns
    -------
    int
        The file's layout version.

    Raises
    ------
    LayoutError
        If it is not a featkit file, has an unsupported layout version, or a table of an unknown version.

    """
    name = f.attrs.get("featkit_layout")
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    if not isinstance(name, str) or name != LAYOUT_NAME:
        raise LayoutError(
            f"{os.fspath(path)} is not a featkit feature file: its root attribute 'featkit_layout' is "
            f"{name!r}, expected {LAYOUT_NAME!r}. Was it written by another tool?"
        )
    version = f.attrs.get("layout_version", -1)
    version = int(version) if isinstance(version, int | np.integer) else -1
    if version != LAYOUT_VERSION:
        raise LayoutError(
            f"{os.fspath(path)} has featkit layout version {version}; this featkit "
            f"({__version__}) reads version {LAYOUT_VERSION}. Re-extract, or use a matching featkit."
        )
    return version


def open_feature_file(path: str | os.PathLike[str]) -> h5py.File:
    """Open a feature file read-only after checking its layout and consistency (:func:`validate_file`).

    Raises
    ------
    StoreError
        If the file does not exist, is not a regular file (a FIFO, a device, a folder) or is not HDF5.
    LayoutError
        If it is not a featkit feature file of a supported layout, or fails a consistency check.

    """
    check_regular(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError as exc:
        raise StoreError(f"No feature file at {os.fspath(path)}.") from exc
    except OSError as exc:
        raise StoreError(f"{os.fspath(path)} cannot be opened as an HDF5 file: {exc}") from exc
    try:
        validate_file(f, path)
    except BaseException:
        f.close()
        raise
    return f


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """Stat ``path`` (following links) and insist on a regular file: opening a FIFO or a device can block forever."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise StoreError(f"No feature file at {os.fspath(path)}.") from exc
    except OSError as exc:
        raise StoreError(f"Cannot read {os.fspath(path)}: {exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(
            f"{os.fspath(path)} is not a regular file ({file_kind(st.st_mode)}), so it is not a feature file. "
            "Choose a file name for the output."
        )
    return st


# Deflate expands at most ~1032:1, so no honest dataset holds more than this many times its file's size; a
# larger shape is a damaged header that would make a reader allocate memory the file cannot back.
_MAX_EXPANSION = 1100


def validate_file(f: h5py.File, path: str | os.PathLike[str]) -> None:
    """Check an open feature file against the layout spec before any of its data is used.

    Checks, each named in the error: ``layout`` (name and version), ``links`` (every
    object is a hard link inside the file: no external or soft links), ``storage``
    (no external raw storage, no virtual datasets: they read other files),
    ``attributes`` (the JSON root attributes parse to what they describe),
    ``structure`` (each dataset is there, a dataset, of the right rank and dtype),
    ``size`` (no shape larger than the file can hold), ``rows`` (columns of a table
    have one length; ``/clips`` and ``/features`` have one row per clip),
    ``offsets`` (each video's clips are the contiguous block ``clip_offset :
    clip_offset + clip_count``, in order, covering every clip), ``ids`` (each
    clip's ``video_id`` is the video owning its row) and ``paths`` (no path
    stored twice).

    Raises
    ------
    LayoutError
        Naming the failed check, what was found and what the layout requires.

    """
    try:
        check_layout(f, path)
        _validate(f, path)
    except LayoutError:
        raise
    except Exception as exc:  # whatever libhdf5 raises on damaged metadata means "unreadable"
        raise unreadable(path, exc) from exc


def _validate(f: h5py.File, path: str | os.PathLike[str]) -> None:
    def fail(check: str, detail: str) -> LayoutError:
        return layout_failure(path, check, detail)

    size = os.path.getsize(path)
    links: list[tuple[str, Any]] = []
    f.visititems_links(lambda name, link: links.append((name, link)))
    for name, link in links:
        if not isinstance(link, h5py.HardLink):
            raise fail("links", f"/{name} is a {type(link).__name__}; feature files hold only their own objects")
    limit = _MAX_EXPANSION * max(size, 1) + (1 << 20)
    for name, _ in links:
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual:
                raise fail("storage", f"/{name} is a virtual dataset (its data lives in other files)")
            if obj.id.get_create_plist().get_external_count():
                raise fail("storage", f"/{name} stores its data in external files")
            nbytes = int(np.prod(obj.shape, dtype=np.float64) * max(obj.dtype.itemsize, 1)) if obj.shape else 0
            if nbytes > limit:
                raise fail("size", f"/{name} claims shape {obj.shape}, more than a file of this size can hold")
            if not _stored_inside(obj, size):
                raise fail("size", f"the data of /{name} lies past the end of the file (truncated?)")
    json_attrs = {
        "encoder": (dict, type(None)),
        "sampling": (dict, type(None)),
        "stats": (list, type(None)),
        "stat_versions": (dict, type(None)),
        "extraction": (dict, type(None)),
        "roots": (list, type(None)),
    }
    for key, kind in json_attrs.items():
        raw = f.attrs.get(key, "null")
        try:
            value = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise fail("attributes", f"the root attribute {key!r} is not JSON ({type(exc).__name__})") from exc
        if not isinstance(value, kind):
            raise fail("attributes", f"the root attribute {key!r} is a {type(value).__name__}")

    def dataset(name: str, ndim: int) -> h5py.Dataset:
        obj = f.get(name)
        if not isinstance(obj, h5py.Dataset):
            raise fail("structure", f"/{name} is missing" if obj is None else f"/{name} is not a dataset")
        if obj.ndim != ndim:
            raise fail("structure", f"/{name} has {obj.ndim} dimensions, the layout has {ndim}")
        return obj

    def check_dtype(name: str, ds: h5py.Dataset, want: Any) -> None:
        if want is STR:
            ok = h5py.check_string_dtype(ds.dtype) is not None
        else:
            ok = ds.dtype.kind == np.dtype(want).kind and ds.dtype.itemsize <= 8
        if not ok:
            raise fail("structure", f"/{name} has dtype {ds.dtype}, the layout has {'str' if want is STR else want}")

    features = dataset("features", 2)
    check_dtype("features", features, np.float32)
    names = dataset("feature_names", 1)
    check_dtype("feature_names", names, STR)
    if names.shape[0] != features.shape[1]:
        raise fail("structure", f"/feature_names has {names.shape[0]} names for {features.shape[1]} feature columns")
    lengths = {}
    for group in TABLES:
        if not isinstance(f.get(group), h5py.Group):
            raise fail("structure", f"/{group} is missing or not a group")
        required = SPECS[group].fields_at(table_version(f, group, path))
        rows = set()
        for col, want in SPECS[group].fields.items():
            if col not in required and col not in f[group]:
                continue  # added by a migration after this table's version
            ds = dataset(f"{group}/{col}", 1)
            check_dtype(f"{group}/{col}", ds, want)
            rows.add(ds.shape[0])
        if len(rows) > 1:
            raise fail("rows", f"the columns of /{group} have different lengths {sorted(rows)}")
        lengths[group] = rows.pop() if rows else 0
    n_clips, n_videos = features.shape[0], lengths["videos"]
    if lengths["clips"] != n_clips:
        raise fail("rows", f"/clips has {lengths['clips']} rows for {n_clips} rows of /features")
    counts = f["videos/clip_count"][()].astype(np.int64)
    offsets = f["videos/clip_offset"][()].astype(np.int64)
    if np.any(counts < 0) or counts.sum() != n_clips or not np.array_equal(offsets, np.cumsum(counts) - counts):
        raise fail("offsets", f"clip_offset/clip_count of {n_videos} videos do not tile the {n_clips} clips in order")
    if not np.array_equal(f["clips/video_id"][()], np.repeat(np.arange(n_videos, dtype=np.int64), counts)):
        raise fail("ids", "some clip's video_id is not the video whose clip_offset/clip_count covers it")
    for group in ("videos", "failures"):
        table = read_table(f, group)  # small tables: read whole now, so a damaged string heap is refused here
        if len(set(table["path"].tolist())) != len(table["path"]):
            raise fail("paths", f"/{group}/path stores a path twice")
    decode(names[()])  # the feature names decode too
    dict(f.attrs.items())  # and the attribute values


def _stored_inside(ds: h5py.Dataset, size: int) -> bool:
    """Whether every allocated chunk (or the contiguous block) of ``ds`` lies within a file of ``size`` bytes."""
    dsid = ds.id
    if ds.chunks is None:
        offset = dsid.get_offset()
        return offset is None or offset + dsid.get_storage_size() <= size
    beyond: list[bool] = []

    def visit(info: Any) -> None:
        if info.byte_offset is not None and info.byte_offset + info.size > size:
            beyond.append(True)

    if hasattr(dsid, "chunk_iter"):  # one pass over the chunk index (get_chunk_info(i) is O(i) each)
        dsid.chunk_iter(visit)
    return not beyond


def check_overwritable(path: Path) -> None:
    """Refuse ``--overwrite`` on anything but a featkit feature file (a document, a video, a FIFO, a folder)."""
    if not os.path.lexists(path):
        return
    why = ""
    try:
        check_regular(path)
        with h5py.File(path, "r") as f:
            name = f.attrs.get("featkit_layout")
        if (name.decode(errors="replace") if isinstance(name, bytes) else name) != LAYOUT_NAME:
            why = "it is an HDF5 file, but not one featkit wrote"
    except StoreError as exc:
        why = str(exc)
    except OSError:
        why = "it is not an HDF5 file"
    if why:
        raise StoreError(
            f"Refusing to overwrite {path}: {why}. --overwrite only replaces a featkit feature file; "
            "remove the file yourself or choose another output."
        )


# What to do about a failed write, by errno name.
_ADVICE = {
    "ENOSPC": "Free disk space (a commit needs room for a second copy of the file)",
    "EDQUOT": "Free space within your disk quota (a commit needs room for a second copy of the file)",
    "EFBIG": "The file size limit was reached: raise it (ulimit -f) or write to another filesystem",
    "EROFS": "The filesystem is read-only: remount it read-write or choose another output",
    "EACCES": "Make the output folder writable for this user or choose another output",
    "EPERM": "Make the output folder writable for this user or choose another output",
    "?": "Fix the cause (disk space, permissions, file system)",
}


def store_write_error(path: Path, exc: OSError, target: Path | str, doing: str, state: str) -> StoreWriteError:
    """A :class:`StoreWriteError` for a failed write to the feature file ``path``: what failed and what to do.

    ``state`` says what is safe (the file unchanged, results kept in the journal).
    """
    code = exc.errno
    name = _errno.errorcode.get(code, "?") if code is not None else "?"
    return StoreWriteError(
        f"Cannot write the feature file {path}: {doing} ({os.fspath(target)}) failed with {name} "
        f"(errno {code}): {exc.strerror or exc}. {state}. {_ADVICE.get(name, _ADVICE['?'])}, then run the "
        "same command again to resume.",
        os.fspath(target),
        code,
    )
