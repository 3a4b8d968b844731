"""The HDF5 feature store: layout, crash-safe writing, and reading (the only h5py import).

Layout (``layout_version`` 1; documented in the README)::

    /                       attrs: featkit_layout="featkit.features", layout_version=1,
                                   featkit_version, created, updated, encoder (JSON),
                                   sampling (JSON), stats (JSON), decoder,
                                   roots (JSON list of the input folders)
    /features               float32 (n_clips, n_features), chunked, gzip
    /feature_names          str (n_features,)
    /clips/{video_id, start_frame, end_frame, start_time, end_time, n_frames}
    /videos/{path, label, sha256, size, mtime_ns, fps, n_frames, duration,
             width, height, timestamp_source, backend, group, clip_offset, clip_count}
    /failures/{path, reason, message, attempts, size, mtime_ns, time}
    /frames/{video_id, frame_index, time, mu, logvar}   only with --per-frame: every sampled
                            frame's posterior, rows grouped by video (CSR style by video_id)

Clips of video ``i`` are rows ``clip_offset[i] : clip_offset[i] + clip_count[i]``
of ``/features`` and ``/clips`` (CSR style), in the order videos were committed.

Crash safety: the file on disk is only ever *replaced* (write a temporary copy,
fsync, ``os.replace``), never modified in place, so a process killed at any
moment leaves either the previous or the next complete file. Each finished
video is also written at once to a journal folder (``<file>.journal/``, one
atomically renamed ``.npz`` per video) that the next run folds in, so work
finished between two commits is not lost either. Commits are spaced so that
copying the file costs at most ~5% of the run.

Write failures (disk full, file too large, read-only, permission denied) raise
:class:`~featkit.exceptions.StoreWriteError` naming the path and the errno;
the file on disk stays as it was, the journal keeps finished videos, temporary
files are removed and the lock is released. libhdf5 does not survive a failed
write (closing such a file later crashes the process), so it writes through
:class:`_GuardedFile`, which never hands it an I/O error.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno as _errno
import json
import os
import shutil
import stat
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from featkit._signals import deferred_signals
from featkit._version import __version__
from featkit.exceptions import LayoutError, StoreError, StoreMismatchError, StoreWriteError
from featkit.files import file_kind, sha256_of
from featkit.locking import holds_lock, release_lock, take_lock

__all__ = [
    "LAYOUT_NAME",
    "LAYOUT_VERSION",
    "FailureRecord",
    "FeatureStore",
    "VideoResult",
    "open_feature_file",
    "precheck_output",
    "read_table",
    "sha256_of",
    "storable_text",
    "validate_file",
]

LAYOUT_NAME = "featkit.features"
LAYOUT_VERSION = 1

_STR = h5py.string_dtype("utf-8")
VIDEO_FIELDS: dict[str, Any] = {
    "path": _STR,
    "label": _STR,
    "sha256": _STR,
    "size": np.int64,
    "mtime_ns": np.int64,
    "fps": np.float64,
    "n_frames": np.int64,
    "duration": np.float64,
    "width": np.int32,
    "height": np.int32,
    "timestamp_source": _STR,
    "backend": _STR,
    "group": _STR,
    "clip_offset": np.int64,
    "clip_count": np.int64,
}
# Video columns added to layout 1 after files were written without them, with the value such files' rows
# imply (before ``backend``, decord decoded everything). Readers find them missing in older files; writers add them.
_ADDED_VIDEO_FIELDS: dict[str, str] = {"backend": "decord", "group": ""}
# Per-frame latents (``--per-frame``), besides ``mu`` and ``logvar`` of shape (n_frames, latent_dim).
FRAME_FIELDS: dict[str, Any] = {"video_id": np.int64, "frame_index": np.int64, "time": np.float64}
CLIP_FIELDS: dict[str, Any] = {
    "video_id": np.int64,
    "start_frame": np.int64,
    "end_frame": np.int64,
    "start_time": np.float64,
    "end_time": np.float64,
    "n_frames": np.int32,
}
FAILURE_FIELDS: dict[str, Any] = {
    "path": _STR,
    "reason": _STR,
    "message": _STR,
    "attempts": np.int32,
    "size": np.int64,
    "mtime_ns": np.int64,
    "time": _STR,
}
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
# Run settings that must match for a file to be resumed.
_MATCHED_ATTRS = ("encoder", "sampling", "stats")


def _encoder_label(meta: dict[str, Any]) -> str:
    """``'featkit-default-v2' (sha256 3a3d53e25fc5…)``: how a mismatch message names an encoder."""
    digest = meta.get("sha256")
    return f"{meta.get('name')!r}" + (f" (sha256 {digest[:12]}…)" if isinstance(digest, str) else "")


def _setting_diffs(key: str, stored: Any, wanted: Any) -> list[str]:
    """Short "key.sub: file X, this run Y" lines for the settings that differ (nested dicts compared key by key)."""
    if stored == wanted:
        return []
    if key == "encoder" and isinstance(stored, dict) and isinstance(wanted, dict):
        if stored.get("name") != wanted.get("name"):
            # Another model: its config keys say little, its name and weights hash say which one.
            return [f"encoder: file has {_encoder_label(stored)}, this run {_encoder_label(wanted)}"]
        # Absent keys: the model as loaded, run by Keras (files written before variants and LiteRT).
        absent = {"precision": "float32", "runtime": "keras"}
        stored, wanted = {**absent, **stored}, {**absent, **wanted}
    if isinstance(stored, dict) and isinstance(wanted, dict):
        out = []
        for k in sorted(set(stored) | set(wanted), key=str):
            out += _setting_diffs(f"{key}.{k}", stored.get(k), wanted.get(k))
        return out
    shown = [v[:12] + "…" if isinstance(v, str) and len(v) > 40 else v for v in (stored, wanted)]
    return [f"{key}: file {shown[0]!r}, this run {shown[1]!r}"]


def precheck_output(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    sampling: dict[str, Any] | None = None,
    stats: Sequence[str] | None = None,
    precision: str | None = None,
    root: str | None = None,
    add_root: bool = False,
    per_frame: bool | None = None,
) -> None:
    """Check an output path before the encoder loads, so a wrong ``-o`` fails in a second, not after TensorFlow.

    Only what the run's settings say without the encoder is compared; the
    full check happens when the store opens.

    Raises
    ------
    StoreError
        If ``path`` is a folder or an existing file that is not HDF5 (the
        latter unless ``overwrite``).
    LayoutError
        If it is an HDF5 file that featkit did not write (unless ``overwrite``).
    StoreMismatchError
        If it is a feature file made with other sampling, statistics,
        precision or input folder (unless ``overwrite``).

    """
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"The output {os.fspath(path)} is a folder. Give a file name, e.g. -o {p / 'features.h5'}.")
    if overwrite or not p.exists():
        return
    _check_regular(p)  # before h5py opens it: a FIFO can block the open forever
    if not h5py.is_hdf5(p):
        raise StoreError(
            f"The output {os.fspath(path)} exists and is not an HDF5 file, so featkit will not write over it. "
            "Choose another output name (e.g. features.h5), or pass --overwrite to replace it."
        )
    try:
        f = open_feature_file(p)
    except LayoutError as exc:
        raise LayoutError(f"{exc} featkit will not write into it: choose another output, or --overwrite.") from None
    with f:
        keys = ("sampling", "stats", "encoder", "roots", "extraction")
        attrs = {k: json.loads(f.attrs.get(k, "null")) for k in keys}
    diffs = []
    if sampling is not None:
        diffs += _setting_diffs("sampling", attrs["sampling"], json.loads(json.dumps(sampling)))
    if stats is not None:
        diffs += _setting_diffs("stats", attrs["stats"], list(stats))
    if precision is not None:
        diffs += _setting_diffs("precision", (attrs["encoder"] or {}).get("precision", "float32"), precision)
    if per_frame is not None:
        diffs += _setting_diffs("per_frame", bool((attrs["extraction"] or {}).get("per_frame", False)), per_frame)
    if diffs:
        raise StoreMismatchError(
            f"{os.fspath(path)} was made with other settings, so this run cannot resume it: {'; '.join(diffs)}.\n"
            "Use the file's settings, another output file, or --overwrite to start again."
        )
    stored = attrs["roots"] or []
    if root is not None and stored and root not in stored and not add_root:
        raise StoreMismatchError(
            f"{os.fspath(path)} holds videos from {stored[0]}, not from {root}.\nUse another output file, --add to "
            "add this folder's videos to it, or --overwrite to start again."
        )


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def storable_text(text: str) -> str:
    r"""``text`` as it can be stored in the file's UTF-8 columns: unchanged if it is valid, else escaped.

    File names that are not valid UTF-8 reach Python with surrogate escapes
    (PEP 383), which UTF-8 cannot hold; their undecodable bytes are shown as
    ``\xNN`` instead (the same for the same name, so lookups stay stable).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


@dataclass
class VideoResult:
    """One finished video, ready to store.

    Attributes
    ----------
    video : dict
        Values of the video table's fields except ``clip_offset`` and ``clip_count``.
    clips : dict of str to ndarray
        One array of length n_clips per field of the clips table, except ``video_id``.
    features : ndarray of shape (n_clips, n_features), float32
    frames : dict of str to ndarray, optional
        Per sampled frame (``--per-frame``): ``frame_index``, ``time``
        (n_frames,) and ``mu``, ``logvar`` (n_frames, latent_dim).

    """

    video: dict[str, Any]
    clips: dict[str, np.ndarray]
    features: np.ndarray
    frames: dict[str, np.ndarray] | None = None


@dataclass
class FailureRecord:
    """A video that could not be used, with the reason."""

    path: str
    reason: str
    message: str
    size: int = -1
    mtime_ns: int = -1
    attempts: int = 1
    time: str = field(default_factory=_now)


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "O" or values.dtype.kind == "S":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values


def check_layout(f: h5py.File, path: str | os.PathLike[str]) -> int:
    """Check that an open file is a featkit feature file this version can read.

    Returns
    -------
    int
        The file's layout version.

    Raises
    ------
    LayoutError
        If it is not a featkit file or has an unsupported layout version.

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
    _check_regular(path)
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


def _check_regular(path: str | os.PathLike[str]) -> os.stat_result:
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
_TABLES = {"clips": CLIP_FIELDS, "videos": VIDEO_FIELDS, "failures": FAILURE_FIELDS}


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
        raise _unreadable(path, exc) from exc


def _fail(path: str | os.PathLike[str], check: str, detail: str) -> LayoutError:
    return LayoutError(
        f"{os.fspath(path)} fails the feature-file check '{check}': {detail}. It is damaged or was not written "
        "by featkit; extract it again (with --overwrite) or restore a copy."
    )


def _unreadable(path: str | os.PathLike[str], exc: BaseException) -> LayoutError:
    return _fail(path, "readable", f"its contents cannot be read ({type(exc).__name__}: {exc})")


def _validate(f: h5py.File, path: str | os.PathLike[str]) -> None:
    def fail(check: str, detail: str) -> LayoutError:
        return _fail(path, check, detail)

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
        if want is _STR:
            ok = h5py.check_string_dtype(ds.dtype) is not None
        else:
            ok = ds.dtype.kind == np.dtype(want).kind and ds.dtype.itemsize <= 8
        if not ok:
            raise fail("structure", f"/{name} has dtype {ds.dtype}, the layout has {'str' if want is _STR else want}")

    features = dataset("features", 2)
    check_dtype("features", features, np.float32)
    names = dataset("feature_names", 1)
    check_dtype("feature_names", names, _STR)
    if names.shape[0] != features.shape[1]:
        raise fail("structure", f"/feature_names has {names.shape[0]} names for {features.shape[1]} feature columns")
    lengths = {}
    for group, fields in _TABLES.items():
        if not isinstance(f.get(group), h5py.Group):
            raise fail("structure", f"/{group} is missing or not a group")
        rows = set()
        for col, want in fields.items():
            if group == "videos" and col in _ADDED_VIDEO_FIELDS and col not in f[group]:
                continue
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
    _decode(names[()])  # the feature names decode too
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


def read_table(f: h5py.File, group: str) -> dict[str, np.ndarray]:
    """Read a table group (``videos``, ``clips`` or ``failures``) into a dict of arrays (str as object).

    Only the layout's columns are read (those :func:`validate_file` checks).
    """
    if group not in f:
        return {}
    try:
        return {k: _decode(f[group][k][()]) for k in _TABLES.get(group, f[group]) if k in f[group]}
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # damaged data (UnicodeDecodeError included)
        raise _unreadable(f.filename, exc) from exc


def _create_table(f: h5py.File, group: str, fields: dict[str, Any]) -> None:
    g = f.create_group(group)
    for name, dtype in fields.items():
        # Strings live in the global heap; their chunks hold 16-byte references that do not compress, so
        # smaller chunks keep a file of a few videos small (4096 rows would be 64 KiB per string column).
        strings = dtype is _STR
        g.create_dataset(
            name,
            shape=(0,),
            maxshape=(None,),
            dtype=dtype,
            chunks=(512,) if strings else (4096,),
            compression=None if strings else "gzip",
        )


def _append(ds: h5py.Dataset, values: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + len(values), axis=0)
    ds[n:] = values


class FeatureStore:
    """Writer of one feature file, with resume, journal and an exclusive lock.

    Use :meth:`open` as a context manager; only the process holding the store
    writes the file (libhdf5 is not safe for concurrent writers).

    Parameters
    ----------
    path : path-like
        The ``.h5`` output.
    meta : dict
        Root attributes describing the run: ``encoder``, ``sampling`` and
        ``stats`` (JSON-ready; they must match an existing file to resume),
        ``feature_names`` and ``decoder``.
    overwrite : bool, default=False
        Start a new file even if one exists.
    min_commit_interval : float, default=0.0
        Seconds between commits at least; commits are also spaced to at least
        20 times the duration of the previous one.
    add_root : bool, default=False
        Accept videos from a folder (``meta["root"]``) other than the one(s)
        the file records (``roots``); by default that is refused.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any],
        *,
        overwrite: bool = False,
        min_commit_interval: float = 0.0,
        add_root: bool = False,
    ) -> None:
        self.path = Path(path)
        self.meta = meta
        self.overwrite = overwrite
        self.add_root = add_root
        self.roots: list[str] = [meta["root"]] if meta.get("root") else []
        self.min_commit_interval = float(min_commit_interval)
        self.journal_dir = self.path.with_name(self.path.name + ".journal")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_fd: int | None = None
        self.videos: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, FailureRecord] = {}
        self._pending: list[tuple[VideoResult, Path]] = []
        self._pending_failures: list[Path] = []
        self._drop: set[str] = set()
        self._dirty = False
        self._last_commit = 0.0
        self._last_commit_cost = 0.0
        self._seq = 0
        self._loaded = False

    # -- life cycle -----------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], meta: dict[str, Any], **kwargs: Any) -> FeatureStore:
        """Lock the output, read what it holds, fold in the journal; return the store."""
        store = cls(path, meta, **kwargs)
        store._acquire_lock()
        try:
            with deferred_signals():
                store._load()
        except BaseException:
            store._release_lock()
            raise
        return store

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None or isinstance(exc, KeyboardInterrupt | SystemExit):
            self.close()  # also on Ctrl-C and SIGTERM, so finished videos reach the file
        else:
            # The output cannot be written (another commit would fail the same way), another writer holds
            # it, or the run crashed (an encoder failing midway): the file stays as it was; what finished is
            # in the journal for the next run, and no partial new file appears.
            self._release_lock()

    def close(self) -> None:
        """Commit everything pending and release the lock."""
        try:
            if self._lock_fd is not None:
                self.commit()
        finally:
            self._release_lock()

    def __repr__(self) -> str:
        return f"<FeatureStore {str(self.path)!r}: {len(self.videos)} videos, {len(self.failures)} failures>"

    def _acquire_lock(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._take_lock()
        except OSError as exc:
            raise self._write_error(exc, self._lock_path, "creating the lock file") from exc
        self._lock_fd = fd

    def _take_lock(self, doing: str = "") -> int:
        """Create and flock the lock file; raise :class:`StoreLockedError` if another process holds it."""
        return take_lock(
            self._lock_path,
            lambda holder: (
                f"{self.path} is being written by another featkit process (pid {holder}; lock file "
                f"{self._lock_path}).{doing} Wait for it to finish, or choose another output file."
            ),
        )

    def _holds(self, fd: int) -> bool:
        """Whether ``fd`` is the file now at the lock path (not one removed or replaced since)."""
        return holds_lock(fd, self._lock_path)

    def _check_lock(self) -> None:
        """Before the file is replaced: make sure this process still holds its lock, or take it again.

        Someone may have deleted the lock file mid-run, letting a second writer in; replacing the file
        then would interleave two writers' versions. So the lock is re-checked at every commit.

        Raises
        ------
        StoreLockedError
            If another process now holds the lock; this run must stop without writing.

        """
        if self._lock_fd is None or self._holds(self._lock_fd):
            return
        fd = self._take_lock(
            " Its lock file was removed while this run was writing, and that process took it; this run "
            "stopped without touching the file (what it finished since its last update is in the journal)."
        )
        os.close(self._lock_fd)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            release_lock(fd, self._lock_path)

    def _write_error(self, exc: OSError, target: Path | str, doing: str) -> StoreWriteError:
        """A :class:`StoreWriteError` for a failed write, saying what is safe and what to do."""
        code = exc.errno
        name = _errno.errorcode.get(code, "?") if code is not None else "?"
        if not self.path.exists():
            state = "No feature file was written yet"
        elif self._loaded:
            state = f"The file on disk is unchanged ({len(self.videos)} videos)"
        else:
            state = "The file on disk is unchanged"
        pending = len(self._pending) + len(self._pending_failures)
        if pending:
            state += (
                f"; the {pending} result(s) finished since its last update are kept in {self.journal_dir} and go "
                "into the file on the next run"
            )
        return StoreWriteError(
            f"Cannot write the feature file {self.path}: {doing} ({os.fspath(target)}) failed with {name} "
            f"(errno {code}): {exc.strerror or exc}. {state}. {_ADVICE.get(name, _ADVICE['?'])}, then run the "
            "same command again to resume.",
            os.fspath(target),
            code,
        )

    # -- reading what exists ----------------------------------------------
    def _load(self) -> None:
        self._remove_stale_temp_files()
        if self.overwrite:
            self._check_overwritable()
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                raise self._write_error(exc, self.path, "removing the old file (--overwrite)") from exc
            shutil.rmtree(self.journal_dir, ignore_errors=True)
        if self.path.exists():
            with open_feature_file(self.path) as f:
                self._check_meta(f)
                table = read_table(f, "videos")
                for i, p in enumerate(table.get("path", [])):
                    self.videos[p] = {k: table[k][i] for k in table}
                fails = read_table(f, "failures")
                for i, p in enumerate(fails.get("path", [])):
                    self.failures[p] = FailureRecord(**_jsonable({k: fails[k][i] for k in fails}))
        else:
            self._dirty = True  # an empty file is written even if nothing succeeds
        self._loaded = True
        self._replay_journal()
        if self._pending or self._pending_failures:
            self.commit()  # fold the journal in, so planning sees those videos as done

    def _check_overwritable(self) -> None:
        """Refuse ``--overwrite`` on anything but a featkit feature file (a document, a video, a FIFO, a folder)."""
        if not os.path.lexists(self.path):
            return
        why = ""
        try:
            _check_regular(self.path)
            with h5py.File(self.path, "r") as f:
                name = f.attrs.get("featkit_layout")
            if (name.decode(errors="replace") if isinstance(name, bytes) else name) != LAYOUT_NAME:
                why = "it is an HDF5 file, but not one featkit wrote"
        except StoreError as exc:
            why = str(exc)
        except OSError:
            why = "it is not an HDF5 file"
        if why:
            raise StoreError(
                f"Refusing to overwrite {self.path}: {why}. --overwrite only replaces a featkit feature file; "
                "remove the file yourself or choose another output."
            )

    def _temp_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def _remove_stale_temp_files(self) -> None:
        """Delete temporary copies left by writers that were killed mid-commit (we hold the lock)."""
        prefix, suffix = f".{self.path.name}.", ".tmp"
        try:
            for entry in self.path.parent.iterdir():
                middle = entry.name[len(prefix) : -len(suffix)]
                if entry.name.startswith(prefix) and entry.name.endswith(suffix) and middle.isdigit():
                    if int(middle) != os.getpid() and _alive(int(middle)):
                        continue  # a writer whose lock file was deleted is still at it; it will fail its commit
                    entry.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: the next write reports it with a clear message

    def _check_meta(self, f: h5py.File) -> None:
        diffs = []
        for key in _MATCHED_ATTRS:
            stored = json.loads(f.attrs.get(key, "null"))
            diffs += _setting_diffs(key, stored, json.loads(json.dumps(self.meta[key])))
        if diffs:
            raise StoreMismatchError(
                f"{self.path} was made with other settings, so this run cannot resume it: "
                + "; ".join(diffs[:4])
                + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
                + ".\nUse the file's settings, another output file, or --overwrite to start again."
            )
        self._check_root(f)

    def _check_root(self, f: h5py.File) -> None:
        """Refuse videos from a folder other than the one(s) the file was made from, unless ``add_root``."""
        stored = json.loads(f.attrs.get("roots", "null")) or []
        root = self.meta.get("root")
        self.roots = list(stored)
        if root is None or root in stored:
            return
        if stored and not self.add_root:
            raise StoreMismatchError(
                f"{self.path} holds videos from {stored[0]}"
                + (f" (and {len(stored) - 1} more)" if len(stored) > 1 else "")
                + f", not from {root}.\nUse another output file, --add to add this folder's videos to it, or "
                "--overwrite to start again."
            )
        self.roots.append(root)
        self._dirty = True

    def _replay_journal(self) -> None:
        if not self.journal_dir.is_dir():
            return
        try:
            self._replay_entries()
        except OSError as exc:
            raise self._write_error(exc, self.journal_dir, "cleaning the journal") from exc

    def _journal_identity(self) -> dict[str, Any]:
        """What a journal entry must match to be folded in: the run settings, encoder and feature width."""
        ident = {key: self.meta.get(key) for key in _MATCHED_ATTRS}
        ident["n_features"] = len(self.meta.get("feature_names", ()))
        return json.loads(json.dumps(ident))

    def _set_aside(self, entries: list[Path]) -> None:
        """Move journal entries of another run's settings to ``<file>.journal-stale/``, saying so."""
        if not entries:
            return
        aside = self.path.with_name(self.path.name + ".journal-stale")
        aside.mkdir(exist_ok=True)
        for entry in entries:
            os.replace(entry, aside / entry.name)
        warnings.warn(
            f"{len(entries)} journal entr{'y' if len(entries) == 1 else 'ies'} in {self.journal_dir} came from a run "
            f"with other settings or another encoder (or an older featkit), so they were not added to {self.path}; "
            f"they were moved to {aside}. Delete that folder once you no longer need it.",
            stacklevel=4,
        )

    def _replay_entries(self) -> None:
        identity = self._journal_identity()
        stale: list[Path] = []
        for entry in sorted(self.journal_dir.iterdir()):
            seq = int(entry.name.split("-", 1)[0]) if entry.name[:1].isdigit() else -1
            self._seq = max(self._seq, seq + 1)
            if entry.suffix == ".npz":
                try:
                    result, made_by = _read_journal_entry(entry, with_identity=True)
                except (OSError, ValueError, KeyError):
                    entry.unlink(missing_ok=True)  # a torn entry: its video will be redone
                    continue
                if made_by != identity:
                    stale.append(entry)
                    continue
                path = result.video["path"]
                stored = self.videos.get(path)
                if stored is not None and stored["sha256"] == result.video["sha256"]:
                    entry.unlink()  # committed before the crash
                    continue
                self._stage_video(result, entry)
            elif entry.suffix == ".json":
                try:
                    data = json.loads(entry.read_text())
                    made_by = data.pop("identity", None)
                    rec = FailureRecord(**data)
                except (OSError, ValueError, TypeError):
                    entry.unlink(missing_ok=True)
                    continue
                if made_by != identity:
                    stale.append(entry)
                    continue
                self._stage_failure(rec, entry)
            else:
                entry.unlink(missing_ok=True)  # a temporary file of an interrupted write
        self._set_aside(stale)
        self._remove_empty_journal()

    def _remove_empty_journal(self) -> None:
        if self.journal_dir.is_dir() and not any(self.journal_dir.iterdir()):
            self.journal_dir.rmdir()

    # -- staging -------------------------------------------------------------
    def drop(self, path: str) -> None:
        """Forget a stored video (it changed on disk and will be redone)."""
        if path in self.videos:
            self._drop.add(path)
            self._dirty = True

    def prune(self, present: Iterable[str]) -> list[str]:
        """Forget the videos and failure records whose paths are not in ``present`` (files deleted since).

        Parameters
        ----------
        present : iterable of str
            The paths (relative to the root) that still exist.

        Returns
        -------
        list of str
            The paths removed, sorted; they leave the file at the next commit.

        """
        present = set(present)
        gone = sorted((self.videos.keys() | self.failures.keys()) - present)
        for path in gone:
            self.drop(path)
            if self.failures.pop(path, None) is not None:
                self._dirty = True
        return gone

    def add_video(self, result: VideoResult) -> None:
        """Journal a finished video and commit when due.

        A video whose path cannot be stored (not valid UTF-8) is recorded as a
        failure (``bad_name``) instead, so it blocks nothing else.

        Raises
        ------
        StoreWriteError
            If the journal entry or the file cannot be written.

        """
        path = result.video["path"]
        bad = [k for k, v in result.video.items() if isinstance(v, str) and storable_text(v) != v]
        if bad:
            self.add_failure(bad_name_failure(path, result.video.get("size", -1), result.video.get("mtime_ns", -1)))
            return
        with deferred_signals():  # the entry and the staging go together, or neither
            entry = self._journal_path("npz", result.video["sha256"])
            identity = self._journal_identity()
            self._write_entry(entry, lambda fh: _write_journal_entry(fh, result, identity))
            self._stage_video(result, entry)
            self.maybe_commit()

    def add_failure(self, record: FailureRecord) -> None:
        """Journal a failed video and commit when due.

        Text that cannot be stored as UTF-8 (a file name that is not) is kept
        with its undecodable bytes escaped (:func:`storable_text`).

        Raises
        ------
        StoreWriteError
            If the journal entry or the file cannot be written.

        """
        for name, value in list(record.__dict__.items()):
            if isinstance(value, str):
                setattr(record, name, storable_text(value))
        with deferred_signals():
            old = self.failures.get(record.path)
            if old is not None:
                record.attempts = old.attempts + 1
            entry = self._journal_path("json", "failure")
            body = json.dumps({**record.__dict__, "identity": self._journal_identity()}).encode()
            self._write_entry(entry, lambda fh: fh.write(body))
            self._stage_failure(record, entry)
            self.maybe_commit()

    def forget_failure(self, path: str) -> None:
        """Remove a failure record (what it was about is no longer failing), at the next commit."""
        if self.failures.pop(path, None) is not None:
            self._dirty = True

    def _journal_path(self, suffix: str, tag: str) -> Path:
        try:
            self.journal_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise self._write_error(exc, self.journal_dir, "creating the journal folder") from exc
        self._seq += 1
        return self.journal_dir / f"{self._seq:09d}-{tag[:12]}.{suffix}"

    def _write_entry(self, entry: Path, write: Any) -> None:
        """Write a journal entry atomically (temporary file, then rename); nothing is left on failure."""
        tmp = entry.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as fh:
                write(fh)
            os.replace(tmp, entry)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise self._write_error(exc, tmp, "writing a journal entry") from exc

    def _stage_video(self, result: VideoResult, entry: Path) -> None:
        path = result.video["path"]
        if path in self.videos:
            self._drop.add(path)
        self.failures.pop(path, None)
        for r, e in self._pending:
            if r.video["path"] == path:
                e.unlink(missing_ok=True)
        self._pending = [(r, e) for r, e in self._pending if r.video["path"] != path]
        self._pending.append((result, entry))
        self._dirty = True

    def _stage_failure(self, record: FailureRecord, entry: Path) -> None:
        if record.path in self.videos:
            self._drop.add(record.path)
        self.failures[record.path] = record
        self._pending_failures.append(entry)
        self._dirty = True

    # -- committing ---------------------------------------------------------
    def maybe_commit(self) -> bool:
        """Commit if enough time has passed since the last commit; return whether it did."""
        waited = time.monotonic() - self._last_commit
        if self._dirty and waited >= max(self.min_commit_interval, 20.0 * self._last_commit_cost):
            self.commit()
            return True
        return False

    def commit(self) -> None:
        """Write a new complete file with everything staged and atomically replace the old one.

        All or nothing: SIGINT/SIGTERM wait until it is over (:func:`featkit._signals.deferred_signals`), and the
        new version must pass :func:`validate_file` before it replaces the old one.

        Raises
        ------
        StoreWriteError
            If the new file cannot be written or renamed; the old file and the journal stay as they were.
        StoreLockedError
            If the lock file was removed meanwhile and another process now writes the file.

        """
        if not self._dirty:
            return
        with deferred_signals():
            self._commit()

    def _commit(self) -> None:
        t0 = time.monotonic()
        tmp = self._temp_path()
        try:
            videos = self._write_new_file(tmp)
            self._check_lock()
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise self._write_error(exc, tmp, "writing a new version of the file") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        self.videos = videos
        with contextlib.suppress(OSError):  # an entry left behind is recognised as committed on replay
            for entry in [e for _, e in self._pending] + self._pending_failures:
                entry.unlink(missing_ok=True)
        self._pending.clear()
        self._pending_failures.clear()
        self._drop.clear()
        self._dirty = False
        with contextlib.suppress(OSError):
            self._remove_empty_journal()
        self._last_commit = time.monotonic()
        self._last_commit_cost = self._last_commit - t0

    def _write_new_file(self, tmp: Path) -> dict[str, dict[str, Any]]:
        """Write the next version of the file to ``tmp`` (fsynced, validated); return its video index.

        Raises
        ------
        OSError
            The first I/O error met, with ``tmp`` as its filename.
        LayoutError
            If the new version fails a consistency check (it then never replaces the old one).

        """
        replaced = {r.video["path"] for r, _ in self._pending} | self._drop
        # What the file on disk holds, not what this process believes it holds: a video already there is
        # rewritten, never appended a second time.
        on_disk: set[str] = set()
        if self.path.exists():
            with h5py.File(self.path, "r") as old:
                on_disk = set(read_table(old, "videos").get("path", []))
        stale = replaced & on_disk
        copy = self.path.exists() and not stale
        if copy:
            shutil.copyfile(self.path, tmp)
        with _GuardedFile(tmp, truncate=not copy) as fh:
            with h5py.File(fh, "a" if copy else "w") as f:
                if not copy:
                    self._init_layout(f)
                    if self.path.exists():
                        with h5py.File(self.path, "r") as old:
                            _copy_videos(old, f, keep=lambda p: p not in stale)
                _add_video_columns(f)
                f.attrs["updated"] = _now()
                _write_roots(f, self.roots)
                for result, _ in self._pending:
                    fh.check()  # stop at the first failed write rather than compress the rest for nothing
                    self._append_video(f, result)
                del f["failures"]
                _create_table(f, "failures", FAILURE_FIELDS)
                records = sorted(self.failures.values(), key=lambda r: r.path)
                for name in FAILURE_FIELDS:
                    _append(
                        f["failures"][name],
                        np.array(
                            [getattr(r, name) for r in records],
                            dtype=object if FAILURE_FIELDS[name] is _STR else FAILURE_FIELDS[name],
                        ),
                    )
            fh.check()
            fh.fsync()
        # Re-read the video index so offsets match the new file, checking it as any reader will.
        with h5py.File(tmp, "r") as f:
            validate_file(f, tmp)
            table = read_table(f, "videos")
        return {p: {k: table[k][i] for k in table} for i, p in enumerate(table.get("path", []))}

    def _init_layout(self, f: h5py.File) -> None:
        f.attrs["featkit_layout"] = LAYOUT_NAME
        f.attrs["layout_version"] = LAYOUT_VERSION
        f.attrs["featkit_version"] = __version__
        f.attrs["created"] = _now()
        for key in (*_MATCHED_ATTRS, "extraction"):
            f.attrs[key] = json.dumps(self.meta.get(key))
        f.attrs["decoder"] = str(self.meta.get("decoder", ""))
        names = list(self.meta["feature_names"])
        f.create_dataset("feature_names", data=np.array(names, dtype=object), dtype=_STR)
        rows = max(64, (256 * 1024) // (4 * len(names)))
        # Uncompressed on purpose: gzip saves only ~15% on float32 latent statistics but makes
        # reading 1 M clips x 256 features ten times slower (8.4 s vs 0.8 s, benchmarks/bench_load.py).
        f.create_dataset(
            "features",
            shape=(0, len(names)),
            maxshape=(None, len(names)),
            dtype=np.float32,
            chunks=(rows, len(names)),
        )
        _create_table(f, "clips", CLIP_FIELDS)
        _create_table(f, "videos", VIDEO_FIELDS)
        _create_table(f, "failures", FAILURE_FIELDS)

    def _append_video(self, f: h5py.File, result: VideoResult) -> None:
        feats = np.asarray(result.features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != f["features"].shape[1]:
            raise StoreError(
                f"Features of {result.video['path']} have shape {feats.shape}; the file stores "
                f"{f['features'].shape[1]} features per clip."
            )
        offset = f["features"].shape[0]
        video_id = f["videos/path"].shape[0]
        _append(f["features"], feats)
        n = feats.shape[0]
        for name, dtype in CLIP_FIELDS.items():
            values = (
                np.full(n, video_id, dtype=dtype) if name == "video_id" else np.asarray(result.clips[name], dtype=dtype)
            )
            _append(f["clips"][name], values)
        row = {**_ADDED_VIDEO_FIELDS, **result.video, "clip_offset": offset, "clip_count": n}
        for name, dtype in VIDEO_FIELDS.items():
            _append(f["videos"][name], np.array([row[name]], dtype=object if dtype is _STR else dtype))
        if result.frames is not None:
            _append_frames(f, video_id, result.frames)


class _GuardedFile:
    """A file for h5py's ``fileobj`` driver that never hands libhdf5 an I/O error.

    libhdf5 1.14 does not recover from a failed write: closing the file
    afterwards, even at interpreter exit, crashes the process. So the first
    ``OSError`` (ENOSPC, EFBIG, EIO, ...) is remembered, later writes are kept in
    memory only (and read back from there, so libhdf5 stays consistent and
    closes cleanly), and :meth:`check` raises the error in Python. Unbuffered
    ``pread``/``pwrite`` calls, like libhdf5's own ``sec2`` driver.

    Parameters
    ----------
    path : Path
        The file, opened read-write (created if missing).
    truncate : bool
        Empty it first.

    """

    def __init__(self, path: Path, *, truncate: bool) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if truncate else 0), 0o644)
        self._pos = 0
        self.error: OSError | None = None
        self._shadow: list[tuple[int, bytes]] = []  # writes made after the error

    def __repr__(self) -> str:
        return f"<_GuardedFile {os.fspath(self.path)!r}>"

    def __enter__(self) -> _GuardedFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        os.close(self._fd)

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            exc.filename = exc.filename or os.fspath(self.path)
            self.error = exc

    def check(self) -> None:
        """Raise the first I/O error met, if any."""
        if self.error is not None:
            raise self.error

    def fsync(self) -> None:
        """Flush the file to disk; raise the first I/O error met."""
        self.check()
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._fail(exc)
        self.check()

    # -- the file-object protocol the driver uses --------------------------
    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            end = max([os.fstat(self._fd).st_size] + [o + len(b) for o, b in self._shadow])
            self._pos = end + offset
        else:
            self._pos = offset + (self._pos if whence == os.SEEK_CUR else 0)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = 0
        try:
            n = os.preadv(self._fd, [view], self._pos)
        except OSError as exc:
            self._fail(exc)
        view[n:] = bytes(len(view) - n)
        for offset, blob in self._shadow:
            lo, hi = max(offset, self._pos), min(offset + len(blob), self._pos + len(view))
            if lo < hi:
                view[lo - self._pos : hi - self._pos] = blob[lo - offset : hi - offset]
        self._pos += len(view)
        return len(view)

    def read(self, size: int) -> bytes:
        buffer = bytearray(size)
        self.readinto(buffer)
        return bytes(buffer)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            done = 0
            try:
                while done < len(view):
                    done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as exc:
                self._fail(exc)
        if self.error is not None:
            self._shadow.append((self._pos, bytes(view)))
        self._pos += len(view)
        return len(view)

    def truncate(self, size: int) -> int:
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as exc:
                self._fail(exc)
        return size

    def flush(self) -> None:
        return None


def _require_frames(f: h5py.File, latent_dim: int) -> h5py.Group:
    """The ``/frames`` group (per-frame latents, CSR-style by ``video_id``), created empty on first use."""
    if "frames" in f:
        return f["frames"]
    g = f.create_group("frames")
    for name, dtype in FRAME_FIELDS.items():
        g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
    for name in ("mu", "logvar"):
        g.create_dataset(
            name, shape=(0, latent_dim), maxshape=(None, latent_dim), dtype=np.float32, chunks=(1024, latent_dim)
        )
    return g


def _append_frames(f: h5py.File, video_id: int, frames: dict[str, np.ndarray]) -> None:
    """Append one video's per-frame latents (rows stay grouped by video, in commit order)."""
    mu = np.asarray(frames["mu"], dtype=np.float32)
    g = _require_frames(f, mu.shape[1])
    _append(g["video_id"], np.full(len(mu), video_id, dtype=np.int64))
    _append(g["frame_index"], np.asarray(frames["frame_index"], dtype=np.int64))
    _append(g["time"], np.asarray(frames["time"], dtype=np.float64))
    _append(g["mu"], mu)
    _append(g["logvar"], np.asarray(frames["logvar"], dtype=np.float32))


def _copy_frames(old: h5py.File, new: h5py.File, kept: np.ndarray, new_id: np.ndarray) -> None:
    """Copy the per-frame latents of the kept videos, renumbering their ids (as :func:`_copy_videos`)."""
    if "frames" not in old:
        return
    src = old["frames"]
    vids = src["video_id"][()]
    mask = kept[vids] if len(vids) else np.zeros(0, dtype=bool)
    dst = _require_frames(new, src["mu"].shape[1])
    _append(dst["video_id"], new_id[vids[mask]].astype(np.int64))
    for name in ("frame_index", "time", "mu", "logvar"):
        _append(dst[name], src[name][()][mask])


def _write_roots(f: h5py.File, roots: list[str]) -> None:
    """Record the input folder(s) the videos' relative paths are relative to (root attribute ``roots``)."""
    if roots:
        f.attrs["roots"] = json.dumps(roots)


def _add_video_columns(f: h5py.File) -> None:
    """Give a file written before a video column existed that column, filled with what its rows imply."""
    for name, value in _ADDED_VIDEO_FIELDS.items():
        if name not in f["videos"]:
            ds = f["videos"].create_dataset(name, shape=(0,), maxshape=(None,), dtype=_STR, chunks=(512,))
            _append(ds, np.full(f["videos/path"].shape[0], value, dtype=object))


def _copy_videos(old: h5py.File, new: h5py.File, keep: Any, block: int = 1 << 16) -> None:
    """Copy the videos for which ``keep(path)`` holds, with their clips, renumbering ids."""
    table = read_table(old, "videos")
    paths = table.get("path", np.zeros(0, dtype=object))
    kept = np.array([bool(keep(p)) for p in paths], dtype=bool)
    new_id = np.cumsum(kept) - 1
    clip_vid = old["clips/video_id"]
    for lo in range(0, old["features"].shape[0], block):
        vids = clip_vid[lo : lo + block]
        mask = kept[vids]
        if not mask.any():
            continue
        _append(new["features"], old["features"][lo : lo + block][mask])
        for name in CLIP_FIELDS:
            values = old["clips"][name][lo : lo + block][mask]
            _append(new["clips"][name], new_id[values] if name == "video_id" else values)
    _copy_frames(old, new, kept, new_id)
    for name, value in _ADDED_VIDEO_FIELDS.items():
        table.setdefault(name, np.full(len(paths), value, dtype=object))
    for name, dtype in VIDEO_FIELDS.items():
        values = table[name][kept]
        if name == "clip_offset":
            counts = table["clip_count"][kept]
            values = (np.cumsum(counts) - counts).astype(np.int64)
        _append(new["videos"][name], values.astype(object) if dtype is _STR else values.astype(dtype))


def _write_journal_entry(fh: Any, result: VideoResult, identity: dict[str, Any] | None = None) -> None:
    arrays = {f"clip_{k}": np.asarray(v) for k, v in result.clips.items()}
    arrays.update({f"frame_{k}": np.asarray(v) for k, v in (result.frames or {}).items()})
    np.savez(
        fh,
        features=result.features,
        video=np.array(json.dumps(_jsonable(result.video))),
        identity=np.array(json.dumps(identity)),
        **arrays,
    )


def _read_journal_entry(entry: Path, *, with_identity: bool = False) -> Any:
    """The entry's :class:`VideoResult`, and with ``with_identity`` the settings it was made with (or None)."""
    with np.load(entry, allow_pickle=False) as data:
        video = json.loads(str(data["video"]))
        clips = {k[5:]: data[k] for k in data.files if k.startswith("clip_")}
        frames = {k[6:]: data[k] for k in data.files if k.startswith("frame_")} or None
        result = VideoResult(video=video, clips=clips, features=data["features"], frames=frames)
        if not with_identity:
            return result
        return result, json.loads(str(data["identity"])) if "identity" in data.files else None


def bad_name_failure(path: str, size: int = -1, mtime_ns: int = -1) -> FailureRecord:
    """The failure recorded for a video whose name cannot be stored (not valid UTF-8)."""
    return FailureRecord(
        storable_text(path),
        "bad_name",
        "the file name is not valid UTF-8 (undecodable bytes are shown as \\xNN); rename the file to extract it",
        size,
        mtime_ns,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in d.items()}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
