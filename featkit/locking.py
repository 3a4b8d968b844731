"""One exclusive-writer lock, shared by the feature store and training checkpoints (POSIX ``flock``).

A lock is a file next to what it guards, ``flock``-ed for as long as the
writer runs (the OS drops it when the process dies, even on ``kill -9``), with
the writer's pid inside for the message a second writer gets. A lock on a
file that has since been unlinked guards nothing, so taking the lock re-checks
that the descriptor is still the file at the lock path, and release removes
the file only while it is still ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from featkit.exceptions import StoreLockedError

__all__ = ["holds_lock", "release_lock", "take_lock"]


def holds_lock(fd: int, path: str | os.PathLike[str]) -> bool:
    """Whether ``fd`` is the file now at ``path`` (not one removed or replaced since)."""
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def take_lock(path: str | os.PathLike[str], busy: Callable[[str], str]) -> int:
    """Create and ``flock`` the lock file at ``path`` and write this process's pid into it.

    Parameters
    ----------
    path : path-like
        The lock file.
    busy : callable
        ``busy(holder_pid) -> message`` for the error when another process holds it.

    Returns
    -------
    int
        The open, locked descriptor; give it back with :func:`release_lock`.

    Raises
    ------
    StoreLockedError
        If another process holds the lock.
    OSError
        If the lock file cannot be created or written.

    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(busy(holder)) from None
        # A holder that just finished unlinks the lock file: a lock on that old file guards nothing.
        if holds_lock(fd, path):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)


def release_lock(fd: int, path: str | os.PathLike[str]) -> None:
    """Unlock and close ``fd``, removing the lock file only while it is still this one."""
    try:
        if holds_lock(fd, path):  # never remove a lock file another writer made after ours was deleted
            with contextlib.suppress(OSError):  # a read-only folder keeps a stale lock file: harmless
                Path(path).unlink(missing_ok=True)
    finally:
        os.close(fd)
