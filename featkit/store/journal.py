"""The journal next to a feature file: one entry per finished video or failure, folded in by the next run.

``<file>.journal/`` holds ``<seq>-<tag>.npz`` (a :class:`VideoResult`) and
``<seq>-failure.json`` (a :class:`FailureRecord`) entries, each written
atomically, and each carrying the identity (settings, encoder, feature width)
of the run that made it, so entries of another run are never folded in.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from featkit.files import atomic_writer
from featkit.store.records import FailureRecord, VideoResult, jsonable

__all__ = ["read_journal_entry", "replay", "set_aside", "write_entry", "write_journal_entry"]


def write_entry(entry: Path, write: Any) -> None:
    """Write a journal entry atomically (:func:`featkit.files.atomic_writer`); nothing is left on failure.

    Not fsynced: an entry is for a killed process, not a power cut, and a lost one is only a video redone.

    Raises
    ------
    OSError
        If the entry cannot be written.

    """
    with atomic_writer(entry, durable=False) as fh:
        write(fh)


def write_journal_entry(fh: Any, result: VideoResult, identity: dict[str, Any] | None = None) -> None:
    """Write ``result`` and the ``identity`` of the run that made it to ``fh`` as an ``.npz`` entry."""
    arrays = {f"clip_{k}": np.asarray(v) for k, v in result.clips.items()}
    arrays.update({f"frame_{k}": np.asarray(v) for k, v in (result.frames or {}).items()})
    np.savez(
        fh,
        features=result.features,
        video=np.array(json.dumps(jsonable(result.video))),
        identity=np.array(json.dumps(identity)),
        **arrays,
    )


def read_journal_entry(entry: Path, *, with_identity: bool = False) -> Any:
    """The entry's :class:`VideoResult`, and with ``with_identity`` the settings it was made with (or None)."""
    with np.load(entry, allow_pickle=False) as data:
        video = json.loads(str(data["video"]))
        clips = {k[5:]: data[k] for k in data.files if k.startswith("clip_")}
        frames = {k[6:]: data[k] for k in data.files if k.startswith("frame_")} or None
        result = VideoResult(video=video, clips=clips, features=data["features"], frames=frames)
        if not with_identity:
            return result
        return result, json.loads(str(data["identity"])) if "identity" in data.files else None


def entry_seq(entry: Path) -> int:
    """The sequence number an entry's name starts with (-1 for other files)."""
    return int(entry.name.split("-", 1)[0]) if entry.name[:1].isdigit() else -1


def replay(
    journal_dir: Path, identity: dict[str, Any], stale: list[Path]
) -> Iterator[tuple[VideoResult | FailureRecord, Path]]:
    """The journal's readable entries of this run's ``identity``, in order, as ``(result or record, entry)``.

    Torn entries and temporary files of interrupted writes are removed; entries of another identity are
    appended to ``stale`` (for :func:`set_aside`).
    """
    for entry in sorted(journal_dir.iterdir()):
        if entry.suffix == ".npz":
            try:
                result, made_by = read_journal_entry(entry, with_identity=True)
            except (OSError, ValueError, KeyError):
                entry.unlink(missing_ok=True)  # a torn entry: its video will be redone
                continue
        elif entry.suffix == ".json":
            try:
                data = json.loads(entry.read_text())
                made_by = data.pop("identity", None)
                result = FailureRecord(**data)
            except (OSError, ValueError, TypeError):
                entry.unlink(missing_ok=True)
                continue
        else:
            entry.unlink(missing_ok=True)  # a temporary file of an interrupted write
            continue
        if made_by != identity:
            stale.append(entry)
            continue
        yield result, entry


def set_aside(path: Path, journal_dir: Path, entries: list[Path]) -> None:
    """Move journal entries of another run's settings to ``<file>.journal-stale/``, saying so."""
    if not entries:
        return
    aside = path.with_name(path.name + ".journal-stale")
    aside.mkdir(exist_ok=True)
    for entry in entries:
        os.replace(entry, aside / entry.name)
    warnings.warn(
        f"{len(entries)} journal entr{'y' if len(entries) == 1 else 'ies'} in {journal_dir} came from a run "
        f"with other settings or another encoder (or an older featkit), so they were not added to {path}; "
        f"they were moved to {aside}. Delete that folder once you no longer need it.",
        stacklevel=4,
    )
