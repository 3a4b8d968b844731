"""The on-disk layout as a versioned spec per table, with the registry of migrations between versions.

Modelled on anndata's encoding-type / encoding-version: each table (``clips``,
``videos``, ``failures``, ``frames``, ``roots``) is described once by a
:class:`TableSpec` (name, version, columns and dtypes), and checks and
readers are driven by those specs. A table's version is read from the
group's ``featkit_table_version`` attribute; files written so far carry none,
so their version is inferred from the columns they have (each migration names
the columns it adds). A change to a table bumps its version and registers a
:func:`migration` from the old version, which writers apply to older files
(and whose column defaults readers use): so files of every earlier version
still load and resume. The file as a whole keeps ``featkit_layout`` =
:data:`LAYOUT_NAME` and ``layout_version`` = :data:`LAYOUT_VERSION`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from featkit._version import __version__
from featkit.exceptions import LayoutError

__all__ = [
    "CLIP_FIELDS",
    "FAILURE_FIELDS",
    "FRAME_FIELDS",
    "LAYOUT_NAME",
    "LAYOUT_VERSION",
    "SPECS",
    "TABLE_VERSION_ATTR",
    "VIDEO_FIELDS",
    "Migration",
    "TableSpec",
    "append",
    "create_table",
    "decode",
    "layout_failure",
    "migrate",
    "migrated_defaults",
    "migration",
    "read_table",
    "table_version",
    "unreadable",
]

LAYOUT_NAME = "featkit.features"
LAYOUT_VERSION = 1
# The group attribute a table's version is stored in (absent in every file written so far: inferred then).
TABLE_VERSION_ATTR = "featkit_table_version"

STR = h5py.string_dtype("utf-8")


@dataclass(frozen=True)
class TableSpec:
    """One table of the layout: a group of 1-D columns of one length (or, for ``roots``, a root attribute).

    Attributes
    ----------
    name : str
        The group (``/videos``) or, with ``attribute``, the root attribute.
    version : int
        The version this featkit writes.
    fields : dict of str to dtype
        The columns at ``version`` (``STR`` for UTF-8 strings).
    attribute : bool
        Stored as a JSON root attribute, not a group.

    """

    name: str
    version: int
    fields: dict[str, Any]
    attribute: bool = False

    def fields_at(self, version: int) -> dict[str, Any]:
        """The columns a table of ``version`` has: the current ones less those added by later migrations."""
        later = [m for (table, start), m in _MIGRATIONS.items() if table == self.name and start >= version]
        added = {c for m in later for c in m.adds}
        return {k: v for k, v in self.fields.items() if k not in added}


@dataclass(frozen=True)
class Migration:
    """A registered upgrade of table ``table`` from ``version`` to ``version + 1``.

    ``adds`` maps each column it adds to the value rows of older files imply;
    ``apply(group)`` upgrades an open, writable group in place.
    """

    table: str
    version: int
    adds: dict[str, Any]
    apply: Callable[[h5py.Group], None]


_MIGRATIONS: dict[tuple[str, int], Migration] = {}


def migration(table: str, version: int, *, adds: dict[str, Any]) -> Callable[[Callable], Callable]:
    """Register ``func(group)`` as the migration of ``table`` from ``version`` to ``version + 1``."""

    def register(func: Callable[[h5py.Group], None]) -> Callable[[h5py.Group], None]:
        if (table, version) in _MIGRATIONS:
            raise ValueError(f"A migration of table {table!r} from version {version} is already registered.")
        _MIGRATIONS[(table, version)] = Migration(table, version, dict(adds), func)
        return func

    return register


VIDEO_FIELDS: dict[str, Any] = {
    "path": STR,
    "label": STR,
    "sha256": STR,
    "size": np.int64,
    "mtime_ns": np.int64,
    "fps": np.float64,
    "n_frames": np.int64,
    "duration": np.float64,
    "width": np.int32,
    "height": np.int32,
    "timestamp_source": STR,
    "backend": STR,
    "group": STR,
    "clip_offset": np.int64,
    "clip_count": np.int64,
}
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
    "path": STR,
    "reason": STR,
    "message": STR,
    "attempts": np.int32,
    "size": np.int64,
    "mtime_ns": np.int64,
    "time": STR,
}
SPECS: dict[str, TableSpec] = {
    "clips": TableSpec("clips", 1, CLIP_FIELDS),
    # 1: the first files; 2: + backend (before it, decord decoded everything); 3: + group.
    "videos": TableSpec("videos", 3, VIDEO_FIELDS),
    "failures": TableSpec("failures", 1, FAILURE_FIELDS),
    "frames": TableSpec("frames", 1, {**FRAME_FIELDS, "mu": np.float32, "logvar": np.float32}),
    "roots": TableSpec("roots", 1, {"roots": STR}, attribute=True),
}
# The tables every feature file has (``frames`` only with --per-frame; ``roots`` is an attribute).
TABLES = ("clips", "videos", "failures")


def _add_string_column(name: str, value: str) -> Callable[[h5py.Group], None]:
    def add(g: h5py.Group) -> None:
        if name not in g:
            ds = g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=STR, chunks=(512,))
            append(ds, np.full(g["path"].shape[0], value, dtype=object))

    add.__doc__ = f"Add the column {name!r} to an older table, filled with {value!r}."
    return add


migration("videos", 1, adds={"backend": "decord"})(_add_string_column("backend", "decord"))
migration("videos", 2, adds={"group": ""})(_add_string_column("group", ""))


def table_version(f: h5py.File, name: str, path: str | os.PathLike[str]) -> int:
    """The version of table ``name`` in ``f``: its attribute, else inferred from the columns it has.

    Raises
    ------
    LayoutError
        If the table claims a version this featkit does not know (a newer featkit wrote it).

    """
    spec = SPECS[name]
    g = f.get(name)
    if spec.attribute or not isinstance(g, h5py.Group):
        return spec.version
    claimed = g.attrs.get(TABLE_VERSION_ATTR)
    if claimed is not None:
        version = int(claimed) if isinstance(claimed, int | np.integer) else -1
        if not 1 <= version <= spec.version:
            shown = version if version > 0 else repr(claimed)
            why = (
                "It was written by a newer featkit: upgrade featkit to read it."
                if version > spec.version
                else "That is not a table version: the file is damaged."
            )
            raise LayoutError(
                f"{os.fspath(path)}: its table /{name} has version {shown}; this featkit ({__version__}) reads "
                f"versions 1 to {spec.version}. {why}"
            )
        return version
    version = 1
    while (name, version) in _MIGRATIONS and all(c in g for c in _MIGRATIONS[(name, version)].adds):
        version += 1
    return version


def migrate(f: h5py.File, name: str) -> None:
    """Bring table ``name`` of a writable file to the current version through the registered migrations.

    The version attribute is written only once a table has one (files so far have none: their bytes stay as
    they were, and the version keeps being inferred from the columns).
    """
    g = f[name]
    version = table_version(f, name, f.filename)
    while version < SPECS[name].version:
        _MIGRATIONS[(name, version)].apply(g)
        version += 1
    if TABLE_VERSION_ATTR in g.attrs:
        g.attrs[TABLE_VERSION_ATTR] = version


def migrated_defaults(name: str) -> dict[str, Any]:
    """Every column any migration of table ``name`` adds, with the value older rows imply."""
    return {c: v for (table, _), m in sorted(_MIGRATIONS.items()) if table == name for c, v in m.adds.items()}


def layout_failure(path: str | os.PathLike[str], check: str, detail: str) -> LayoutError:
    """The :class:`LayoutError` for a file failing the check ``check``, saying what to do."""
    return LayoutError(
        f"{os.fspath(path)} fails the feature-file check '{check}': {detail}. It is damaged or was not written "
        "by featkit; extract it again (with --overwrite) or restore a copy."
    )


def unreadable(path: str | os.PathLike[str], exc: BaseException) -> LayoutError:
    """The :class:`LayoutError` for a file whose contents libhdf5 cannot read."""
    return layout_failure(path, "readable", f"its contents cannot be read ({type(exc).__name__}: {exc})")


def decode(values: np.ndarray) -> np.ndarray:
    """String columns as object arrays of ``str`` (h5py reads them as ``bytes``); other columns unchanged."""
    if values.dtype.kind == "O" or values.dtype.kind == "S":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values


def read_table(f: h5py.File, group: str) -> dict[str, np.ndarray]:
    """Read a table group (``videos``, ``clips`` or ``failures``) into a dict of arrays (str as object).

    Only the layout's columns are read (those :func:`~featkit.store.validate.validate_file` checks).
    """
    if group not in f:
        return {}
    try:
        columns = SPECS[group].fields if group in TABLES else f[group]
        return {k: decode(f[group][k][()]) for k in columns if k in f[group]}
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # damaged data (UnicodeDecodeError included)
        raise unreadable(f.filename, exc) from exc


def create_table(f: h5py.File, group: str, fields: dict[str, Any]) -> None:
    """Create an empty, growable table group with ``fields`` as its columns."""
    g = f.create_group(group)
    for name, dtype in fields.items():
        # Strings live in the global heap; their chunks hold 16-byte references that do not compress, so
        # smaller chunks keep a file of a few videos small (4096 rows would be 64 KiB per string column).
        strings = dtype is STR
        g.create_dataset(
            name,
            shape=(0,),
            maxshape=(None,),
            dtype=dtype,
            chunks=(512,) if strings else (4096,),
            compression=None if strings else "gzip",
        )


def append(ds: h5py.Dataset, values: np.ndarray) -> None:
    """Append rows to a growable dataset."""
    n = ds.shape[0]
    ds.resize(n + len(values), axis=0)
    ds[n:] = values
