"""Per-epoch training checkpoints: the folder lock, atomic writes, reading back, and refusing a mismatch.

A checkpoint is one ``.npz`` file holding the trainer's state (:meth:`VAETrainer.get_state
<featkit.training.trainer.VAETrainer.get_state>`) and a JSON ``meta`` entry: format tag and
version, the settings and data fingerprint it was made with, the history so far. Resuming
compares the saved settings and data with the current ones and names every difference.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from featkit.exceptions import LayoutError, StoreMismatchError
from featkit.files import atomic_writer
from featkit.locking import release_lock, take_lock

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "check_same",
    "differences",
    "locked",
    "read_checkpoint",
    "write_checkpoint",
]

#: Checkpoint file inside the checkpoint folder, and its format tag.
CHECKPOINT_NAME = "last.npz"
CHECKPOINT_FORMAT = "featkit.train.checkpoint"
CHECKPOINT_VERSION = 1


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the checkpoint folder (released by the OS if the process dies).

    On release the lock file goes, and the folder too when nothing else is left in it.
    """
    lock = folder / ".lock"
    fd = take_lock(
        lock,
        lambda holder: (
            f"{folder} is in use by another featkit train process (pid {holder}). Wait for it to finish, "
            "or choose another output or --checkpoint-dir."
        ),
    )
    try:
        yield
    finally:
        release_lock(fd, lock)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty (no checkpoint left): never removes anything else


def write_checkpoint(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the state and its metadata to a temporary file, then move it over ``path`` (atomic)."""
    arrays = {f"v{i:05d}": a for i, a in enumerate(state["variables"])}
    meta = {**meta, "epoch": int(state["epoch"]), "n_variables": len(arrays)}
    with atomic_writer(path) as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(state, meta)`` of a checkpoint, or raise LayoutError saying why it cannot be used."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != CHECKPOINT_FORMAT or meta.get("version") != CHECKPOINT_VERSION:
                raise LayoutError(
                    f"{path} is not a featkit train checkpoint of version {CHECKPOINT_VERSION}. "
                    f"Received: format={meta.get('format')!r}, version={meta.get('version')!r}. "
                    "Use --overwrite to start again."
                )
            variables = [z[f"v{i:05d}"] for i in range(int(meta["n_variables"]))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise LayoutError(
            f"The checkpoint {path} cannot be read ({type(exc).__name__}: {exc}). Use --overwrite to start again."
        ) from exc
    return {"epoch": int(meta["epoch"]), "variables": variables}, meta


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Human-readable differences between two settings or data fingerprints."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key.endswith("videos"):
            what = key.replace("_", " ")
            out += [f"{what}: {p} added" for p in sorted(set(b) - set(a))]
            out += [f"{what}: {p} no longer there" for p in sorted(set(a) - set(b))]
            out += [
                f"{what}: {p} changed (sha256 {a[p][:12]}… now {b[p][:12]}…)"
                for p in sorted(set(a) & set(b))
                if a[p] != b[p]
            ]
        elif key == "frames_sha256":
            out.append("the decoded frames differ (another decoder version, or files changed in place)")
        else:
            out.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return out


#: What :func:`check_same` tells a ``featkit train`` user to do about a checkpoint that cannot be resumed.
TRAIN_FIX = "Run with the checkpoint's settings, or --overwrite to start again (or another --checkpoint-dir)."


def check_same(saved: dict[str, Any], now: dict[str, Any], what: str, ckpt: Path, fix: str = TRAIN_FIX) -> None:
    """Refuse to resume a checkpoint whose ``what`` (settings or data) differ from now, naming the differences.

    ``fix`` ends the message: what the caller's user can do (the options of ``featkit train`` by default).

    Raises
    ------
    StoreMismatchError
        If :func:`differences` finds any.

    """
    diffs = differences(saved, now)
    if diffs:
        shown = "; ".join(diffs[:10]) + (f"; and {len(diffs) - 10} more" if len(diffs) > 10 else "")
        raise StoreMismatchError(
            f"The checkpoint {ckpt} was made with different {what}, so it cannot be resumed: {shown}. {fix}"
        )
