"""A file for h5py's ``fileobj`` driver that never hands libhdf5 an I/O error (so a full disk cannot crash us)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["GuardedFile"]


class GuardedFile:
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
        return f"<GuardedFile {os.fspath(self.path)!r}>"

    def __enter__(self) -> GuardedFile:
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
