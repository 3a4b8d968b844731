"""Reading files safely: content hashes and what kind of file a path is (standard library only).

Light on purpose: the decode workers hash every video, and importing the
HDF5 store (h5py) into each of them cost start-up time for nothing.
"""

from __future__ import annotations

import errno as _errno
import os
import stat
import time

__all__ = ["file_kind", "sha256_of"]


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
