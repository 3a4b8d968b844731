"""Whether an output file can take this run: the settings a file must share to be resumed, compared early.

:func:`precheck_output` runs before the encoder loads, so a wrong ``-o`` fails
in a second; :func:`setting_diffs` words the differences, for it and for the
writer's full check when the store opens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py

from featkit.exceptions import LayoutError, StoreError, StoreMismatchError
from featkit.store.validate import check_regular, open_feature_file

__all__ = ["MATCHED_ATTRS", "check_settings", "precheck_output", "resumed_roots", "setting_diffs"]

# Run settings that must match for a file to be resumed.
MATCHED_ATTRS = ("encoder", "sampling", "stats", "stat_versions")


def _encoder_label(meta: dict[str, Any]) -> str:
    """``'featkit-default-v2' (sha256 3a3d53e25fc5…)``: how a mismatch message names an encoder."""
    digest = meta.get("sha256")
    return f"{meta.get('name')!r}" + (f" (sha256 {digest[:12]}…)" if isinstance(digest, str) else "")


def setting_diffs(key: str, stored: Any, wanted: Any) -> list[str]:
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
    if key == "stat_versions":
        # Files written before definitions were versioned hold version 1 of every statistic.
        stored, wanted = stored or {}, wanted or {}
        stored = {**dict.fromkeys(wanted, 1), **stored}
        wanted = {**dict.fromkeys(stored, 1), **wanted}
    if key == "sampling" and isinstance(stored, dict) and isinstance(wanted, dict):
        # `probe_every` (files of motion 2) spaced the latent probes of the motion statistics; it changes
        # nothing else, and a file holding those statistics differs in stat_versions already.
        stored = {k: v for k, v in stored.items() if k != "probe_every"}
    if isinstance(stored, dict) and isinstance(wanted, dict):
        out = []
        for k in sorted(set(stored) | set(wanted), key=str):
            out += setting_diffs(f"{key}.{k}", stored.get(k), wanted.get(k))
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
    check_regular(p)  # before h5py opens it: a FIFO can block the open forever
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
        diffs += setting_diffs("sampling", attrs["sampling"], json.loads(json.dumps(sampling)))
    if stats is not None:
        diffs += setting_diffs("stats", attrs["stats"], list(stats))
    if precision is not None:
        diffs += setting_diffs("precision", (attrs["encoder"] or {}).get("precision", "float32"), precision)
    if per_frame is not None:
        diffs += setting_diffs("per_frame", bool((attrs["extraction"] or {}).get("per_frame", False)), per_frame)
    if diffs:
        raise StoreMismatchError(
            f"{os.fspath(path)} was made with other settings, so this run cannot resume it: {'; '.join(diffs)}.\n"
            "Use the file's settings, another output file, or --overwrite to start again."
        )
    resumed_roots(p, attrs["roots"] or [], root, add_root=add_root)


def check_settings(path: Path, f: h5py.File, meta: dict[str, Any]) -> None:
    """Refuse to resume the open file ``f`` with a run whose encoder, sampling or statistics differ.

    Raises
    ------
    StoreMismatchError
        Naming up to four differing settings.

    """
    diffs = []
    for key in MATCHED_ATTRS:
        stored = json.loads(f.attrs.get(key, "null"))
        diffs += setting_diffs(key, stored, json.loads(json.dumps(meta.get(key))))
    if diffs:
        raise StoreMismatchError(
            f"{path} was made with other settings, so this run cannot resume it: "
            + "; ".join(diffs[:4])
            + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
            + ".\nUse the file's settings, another output file, or --overwrite to start again."
        )


def resumed_roots(path: Path, stored: list[str], root: str | None, *, add_root: bool) -> list[str]:
    """The input folders a file records (``stored``), plus ``root``; refuse another folder unless ``add_root``.

    Raises
    ------
    StoreMismatchError
        If the file holds videos of other folders and ``add_root`` is false.

    """
    if root is None or root in stored:
        return list(stored)
    if stored and not add_root:
        raise StoreMismatchError(
            f"{path} holds videos from {stored[0]}"
            + (f" (and {len(stored) - 1} more)" if len(stored) > 1 else "")
            + f", not from {root}.\nUse another output file, --add to add this folder's videos to it, or "
            "--overwrite to start again."
        )
    return [*stored, root]
