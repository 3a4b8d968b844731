"""The writer of a feature file (:class:`FeatureStore`): lock, load and replay, staging, commit.

Crash safety: the file on disk is only ever *replaced* (write a temporary copy,
fsync, ``os.replace``; :mod:`featkit.store.commit`), never modified in place,
so a process killed at any moment leaves either the previous or the next
complete file. Each finished video is also written at once to the journal
(:mod:`featkit.store.journal`) that the next run folds in, so work finished
between two commits is not lost either. Commits are spaced so that copying the
file costs at most ~5% of the run.

Write failures (disk full, file too large, read-only, permission denied) raise
:class:`~featkit.exceptions.StoreWriteError` naming the path and the errno;
the file on disk stays as it was, the journal keeps finished videos, temporary
files are removed and the lock is released. libhdf5 does not survive a failed
write (closing such a file later crashes the process), so commits write
through :class:`~featkit.store.guarded.GuardedFile`, which never hands it an I/O error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import h5py

from featkit._signals import deferred_signals
from featkit.exceptions import StoreWriteError
from featkit.files import fsync_dir
from featkit.locking import holds_lock, release_lock, take_lock
from featkit.store.commit import remove_stale_temp_files, temp_path, write_new_file
from featkit.store.journal import entry_seq, replay, set_aside, write_entry, write_journal_entry
from featkit.store.layout import read_table
from featkit.store.precheck import MATCHED_ATTRS, check_settings, resumed_roots
from featkit.store.records import FailureRecord, VideoResult, bad_name_failure, jsonable, storable_text
from featkit.store.validate import check_overwritable, open_feature_file, store_write_error

__all__ = ["FeatureStore"]


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
        return store_write_error(self.path, exc, target, doing, state)

    # -- reading what exists ----------------------------------------------
    def _load(self) -> None:
        remove_stale_temp_files(self.path)
        if self.overwrite:
            check_overwritable(self.path)
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
                    self.failures[p] = FailureRecord(**jsonable({k: fails[k][i] for k in fails}))
        else:
            self._dirty = True  # an empty file is written even if nothing succeeds
        self._loaded = True
        self._replay_journal()
        if self._pending or self._pending_failures:
            self.commit()  # fold the journal in, so planning sees those videos as done

    def _check_meta(self, f: h5py.File) -> None:
        check_settings(self.path, f, self.meta)
        stored = json.loads(f.attrs.get("roots", "null")) or []
        self.roots = resumed_roots(self.path, stored, self.meta.get("root"), add_root=self.add_root)
        self._dirty |= self.roots != stored  # this run adds its folder to the file's roots

    def _replay_journal(self) -> None:
        if not self.journal_dir.is_dir():
            return
        try:
            self._replay_entries()
        except OSError as exc:
            raise self._write_error(exc, self.journal_dir, "cleaning the journal") from exc

    def _journal_identity(self) -> dict[str, Any]:
        """What a journal entry must match to be folded in: the run settings, encoder and feature width."""
        ident = {key: self.meta.get(key) for key in MATCHED_ATTRS}
        ident["n_features"] = len(self.meta.get("feature_names", ()))
        return json.loads(json.dumps(ident))

    def _replay_entries(self) -> None:
        stale: list[Path] = []
        self._seq = max([self._seq] + [entry_seq(e) + 1 for e in self.journal_dir.iterdir()])
        for item, entry in replay(self.journal_dir, self._journal_identity(), stale):
            if isinstance(item, FailureRecord):
                self._stage_failure(item, entry)
                continue
            stored = self.videos.get(item.video["path"])
            if stored is not None and stored["sha256"] == item.video["sha256"]:
                entry.unlink()  # committed before the crash
                continue
            self._stage_video(item, entry)
        set_aside(self.path, self.journal_dir, stale)
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
            self._write_entry(entry, lambda fh: write_journal_entry(fh, result, identity))
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
        try:
            write_entry(entry, write)
        except OSError as exc:
            raise self._write_error(exc, entry, "writing a journal entry") from exc

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
        tmp = temp_path(self.path)
        try:
            videos = write_new_file(
                self.path,
                tmp,
                meta=self.meta,
                pending=[r for r, _ in self._pending],
                drop=self._drop,
                roots=self.roots,
                failures=self.failures.values(),
            )
            self._check_lock()
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
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
