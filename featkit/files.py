"""Files, safely: content hashes, what kind of file a path is, and atomic writes (standard library only).

Light on purpose: the decode workers hash every video, and importing the
HDF5 store (h5py) into each of them cost start-up time for nothing.

Every small output featkit writes (reports, CSVs, models, checkpoints, cards)
goes through :func:`atomic_writer`: a temporary file in the same folder,
flushed and fsynced, then renamed over the target, so a crash or Ctrl-C
leaves the old file or the new one, never half of one. The one fsync rule:
the file is fsynced before the rename and its folder after it
(:func:`fsync_dir`), so the rename survives a power cut too; only files that
are cheap to lose (the store's journal entries) opt out with ``durable=False``.
The HDF5 store has its own commit (a copy, validated, then renamed) on the same rule.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write_bytes", "atomic_writer", "file_kind", "fsync_dir", "sha256_of"]


def file_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a folder"`` … for a ``st_mode`` that is not a regular file, for messages."""
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device"}
    return next((name for test, name in kinds.items() if test(mode)), "a device")


def sha256_of(path: str | os.PathLike[str], *, timeout: float | None = None) -> str:
    """Content fingerprint of a regular file (hex sha256), read in 1 MiB blocks.

    Only regular files are read (a FIFO would block forever, ``/dev/zero`` never
    ends), and at most the size the file had when opened, so hashing always ends.

    Parameters
    ----------
    path : path-like
    timeout : float, optional
        Give up after this many seconds (a very slow or hung file system).

    Raises
    ------
    OSError
        If the file cannot be read, is not a regular file, or hashing passed ``timeout``.

    """
    import hashlib

    digest = hashlib.sha256()
    deadline = None if not timeout else time.monotonic() + timeout
    # O_NONBLOCK: opening a FIFO does not wait for a writer, so the check below gets to run.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb", buffering=0, closefd=True) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(_errno.EINVAL, f"not a regular file ({file_kind(st.st_mode)})", os.fspath(path))
        left = st.st_size
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break
            digest.update(block)
            left -= len(block)
            if deadline is not None and time.monotonic() > deadline:
                raise OSError(_errno.ETIMEDOUT, f"hashing took longer than {timeout:g} s", os.fspath(path))
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; set straight back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], *, mode: int | None = None, durable: bool = True
) -> Iterator[IO[bytes]]:
    """Write ``path`` all or nothing: yield a binary file, then fsync it and rename it over ``path``.

    Parameters
    ----------
    path : path-like
        The target; its folder is created if missing.
    mode : int, optional
        Permission bits; default: what ``open()`` would give under the umask
        (``mkstemp`` alone makes 0600).
    durable : bool, default=True
        fsync the file before the rename and the folder after it; ``False``
        keeps only the all-or-nothing rename (enough against a killed process).

    Yields
    ------
    file object
        Opened ``"wb"`` on a temporary file next to ``path``. If the block
        raises, the temporary file is removed and ``path`` is untouched.

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, (0o666 & ~_umask()) if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Fsync a folder, so a rename into it is on disk.

    Raises
    ------
    OSError
        If the folder cannot be opened or synced.

    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` with :func:`atomic_writer`; return the path."""
    with atomic_writer(path, mode=mode) as fh:
        fh.write(data)
    return Path(path)
