"""Writing the next version of a feature file: a new file, or a copy with videos appended, always validated.

:func:`write_new_file` is the body of a commit (:meth:`FeatureStore.commit`): it
copies the current file when only new videos are added (cheap), or rewrites it
keeping the videos not replaced, then appends the staged videos and the
failure table, fsyncs and validates; the caller renames it over the file.
All writes go through :class:`~featkit.store.guarded.GuardedFile`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from featkit._version import __version__
from featkit.exceptions import StoreError
from featkit.store.guarded import GuardedFile
from featkit.store.layout import (
    CLIP_FIELDS,
    FAILURE_FIELDS,
    FRAME_FIELDS,
    LAYOUT_NAME,
    LAYOUT_VERSION,
    STR,
    VIDEO_FIELDS,
    append,
    create_table,
    migrate,
    migrated_defaults,
    read_table,
)
from featkit.store.precheck import MATCHED_ATTRS
from featkit.store.records import FailureRecord, VideoResult, now_iso
from featkit.store.validate import validate_file

__all__ = ["append_videos", "copy_videos", "init_layout", "remove_stale_temp_files", "temp_path", "write_new_file"]


def write_new_file(
    path: Path,
    tmp: Path,
    *,
    meta: dict[str, Any],
    pending: list[VideoResult],
    drop: set[str],
    roots: list[str],
    failures: Iterable[FailureRecord],
) -> dict[str, dict[str, Any]]:
    """Write the next version of the file to ``tmp`` (fsynced, validated); return its video index.

    Raises
    ------
    OSError
        The first I/O error met, with ``tmp`` as its filename.
    LayoutError
        If the new version fails a consistency check (it then never replaces the old one).

    """
    replaced = {r.video["path"] for r in pending} | drop
    # What the file on disk holds, not what this process believes it holds: a video already there is
    # rewritten, never appended a second time.
    on_disk: set[str] = set()
    if path.exists():
        with h5py.File(path, "r") as old:
            on_disk = set(read_table(old, "videos").get("path", []))
    stale = replaced & on_disk
    copy = path.exists() and not stale
    if copy:
        shutil.copyfile(path, tmp)
    with GuardedFile(tmp, truncate=not copy) as fh:
        with h5py.File(fh, "a" if copy else "w") as f:
            if not copy:
                init_layout(f, meta)
                if path.exists():
                    with h5py.File(path, "r") as old:
                        copy_videos(old, f, keep=lambda p: p not in stale)
            migrate(f, "videos")
            f.attrs["updated"] = now_iso()
            write_roots(f, roots)
            fh.check()  # stop at a failed write rather than compress the videos for nothing
            append_videos(f, pending)
            del f["failures"]
            create_table(f, "failures", FAILURE_FIELDS)
            records = sorted(failures, key=lambda r: r.path)
            for name in FAILURE_FIELDS:
                append(
                    f["failures"][name],
                    np.array(
                        [getattr(r, name) for r in records],
                        dtype=object if FAILURE_FIELDS[name] is STR else FAILURE_FIELDS[name],
                    ),
                )
        fh.check()
        fh.fsync()
    # Re-read the video index so offsets match the new file, checking it as any reader will.
    with h5py.File(tmp, "r") as f:
        validate_file(f, tmp)
        table = read_table(f, "videos")
    return {p: {k: table[k][i] for k in table} for i, p in enumerate(table.get("path", []))}


def init_layout(f: h5py.File, meta: dict[str, Any]) -> None:
    """Give a new, empty file the layout: root attributes, ``/features``, ``/feature_names``, empty tables."""
    f.attrs["featkit_layout"] = LAYOUT_NAME
    f.attrs["layout_version"] = LAYOUT_VERSION
    f.attrs["featkit_version"] = __version__
    f.attrs["created"] = now_iso()
    for key in (*MATCHED_ATTRS, "extraction"):
        f.attrs[key] = json.dumps(meta.get(key))
    f.attrs["decoder"] = str(meta.get("decoder", ""))
    names = list(meta["feature_names"])
    f.create_dataset("feature_names", data=np.array(names, dtype=object), dtype=STR)
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
    create_table(f, "clips", CLIP_FIELDS)
    create_table(f, "videos", VIDEO_FIELDS)
    create_table(f, "failures", FAILURE_FIELDS)


def append_videos(f: h5py.File, results: Sequence[VideoResult]) -> None:
    """Append videos: their clips' features and rows, their rows of ``/videos``, their frames if any.

    Each column grows once for all of them (a resize and a write per column cost about as much for one
    video as for a hundred, so a commit of many short clips would otherwise pay them per clip).
    """
    if not results:
        return
    width = f["features"].shape[1]
    for result in results:
        shape = np.shape(result.features)
        if len(shape) != 2 or shape[1] != width:
            raise StoreError(
                f"Features of {result.video['path']} have shape {shape}; the file stores {width} features per clip."
            )
    offset = f["features"].shape[0]
    first_id = f["videos/path"].shape[0]
    counts = [len(r.features) for r in results]
    append(f["features"], np.concatenate([np.asarray(r.features, dtype=np.float32) for r in results]))
    ids = np.repeat(np.arange(first_id, first_id + len(results)), counts)
    for name, dtype in CLIP_FIELDS.items():
        values = ids if name == "video_id" else np.concatenate([np.asarray(r.clips[name]) for r in results])
        append(f["clips"][name], values.astype(dtype))
    defaults = migrated_defaults("videos")
    offsets = offset + np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = [
        {**defaults, **r.video, "clip_offset": int(o), "clip_count": n}
        for r, o, n in zip(results, offsets, counts, strict=True)
    ]
    for name, dtype in VIDEO_FIELDS.items():
        append(f["videos"][name], np.array([row[name] for row in rows], dtype=object if dtype is STR else dtype))
    with_frames = [(first_id + i, r.frames) for i, r in enumerate(results) if r.frames is not None]
    if with_frames:
        append_frames(f, with_frames)


def require_frames(f: h5py.File, latent_dim: int) -> h5py.Group:
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


def append_frames(f: h5py.File, videos: Sequence[tuple[int, dict[str, np.ndarray]]]) -> None:
    """Append videos' per-frame latents, ``(video_id, frames)`` each (rows stay grouped by video, in commit order)."""
    mus = [np.asarray(fr["mu"], dtype=np.float32) for _, fr in videos]
    g = require_frames(f, mus[0].shape[1])
    ids = [np.full(len(m), vid, dtype=np.int64) for (vid, _), m in zip(videos, mus, strict=True)]
    append(g["video_id"], np.concatenate(ids))
    append(g["frame_index"], np.concatenate([np.asarray(fr["frame_index"], dtype=np.int64) for _, fr in videos]))
    append(g["time"], np.concatenate([np.asarray(fr["time"], dtype=np.float64) for _, fr in videos]))
    append(g["mu"], np.concatenate(mus))
    append(g["logvar"], np.concatenate([np.asarray(fr["logvar"], dtype=np.float32) for _, fr in videos]))


def copy_frames(old: h5py.File, new: h5py.File, kept: np.ndarray, new_id: np.ndarray) -> None:
    """Copy the per-frame latents of the kept videos, renumbering their ids (as :func:`copy_videos`)."""
    if "frames" not in old:
        return
    src = old["frames"]
    vids = src["video_id"][()]
    mask = kept[vids] if len(vids) else np.zeros(0, dtype=bool)
    dst = require_frames(new, src["mu"].shape[1])
    append(dst["video_id"], new_id[vids[mask]].astype(np.int64))
    for name in ("frame_index", "time", "mu", "logvar"):
        append(dst[name], src[name][()][mask])


def write_roots(f: h5py.File, roots: list[str]) -> None:
    """Record the input folder(s) the videos' relative paths are relative to (root attribute ``roots``)."""
    if roots:
        f.attrs["roots"] = json.dumps(roots)


def copy_videos(old: h5py.File, new: h5py.File, keep: Any, block: int = 1 << 16) -> None:
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
        append(new["features"], old["features"][lo : lo + block][mask])
        for name in CLIP_FIELDS:
            values = old["clips"][name][lo : lo + block][mask]
            append(new["clips"][name], new_id[values] if name == "video_id" else values)
    copy_frames(old, new, kept, new_id)
    for name, value in migrated_defaults("videos").items():  # an older file's table, as its migrations fill it
        table.setdefault(name, np.full(len(paths), value, dtype=object))
    for name, dtype in VIDEO_FIELDS.items():
        values = table[name][kept]
        if name == "clip_offset":
            counts = table["clip_count"][kept]
            values = (np.cumsum(counts) - counts).astype(np.int64)
        append(new["videos"][name], values.astype(object) if dtype is STR else values.astype(dtype))


def temp_path(path: Path) -> Path:
    """The temporary copy of ``path`` this process writes during a commit."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temp_files(path: Path) -> None:
    """Delete temporary copies left by writers that were killed mid-commit (we hold the lock)."""
    prefix, suffix = f".{path.name}.", ".tmp"
    try:
        for entry in path.parent.iterdir():
            middle = entry.name[len(prefix) : -len(suffix)]
            if entry.name.startswith(prefix) and entry.name.endswith(suffix) and middle.isdigit():
                if int(middle) != os.getpid() and _alive(int(middle)):
                    continue  # a writer whose lock file was deleted is still at it; it will fail its commit
                entry.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only folder: the next write reports it with a clear message


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True
