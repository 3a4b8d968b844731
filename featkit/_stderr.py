"""Keeping native libraries' messages (TensorFlow's C++ logs, FFmpeg, decord) off the user's terminal (stdlib only).

TensorFlow prints its start-up lines from C++ before any Python setting can
reach them, and FFmpeg prints from the decoding worker processes, so Python's
``sys.stderr`` cannot catch them. :class:`NativeStderr` points file
descriptor 2, which native code and child processes write to, at a log file,
and gives Python's ``sys.stderr`` (featkit's own messages, the progress bar,
tracebacks) a copy of the original descriptor. The terminal then shows only
what featkit says.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from typing import Any, TextIO

__all__ = ["NativeStderr", "quiet_library_loggers"]


class NativeStderr:
    """Route what native code writes to file descriptor 2 into ``log`` (or a temporary file) while active.

    Parameters
    ----------
    log : str or None
        File to append the native messages to; ``None`` keeps them in a
        temporary file that is counted, then deleted.

    Attributes
    ----------
    n_lines : int
        Lines the native libraries wrote, known after the block ends.

    """

    def __init__(self, log: str | None = None) -> None:
        self.log = log
        self.n_lines = 0
        self._saved_fd: int | None = None
        self._sink: Any = None
        self._python_stderr: TextIO | None = None

    def __enter__(self) -> NativeStderr:
        try:
            routed = sys.stderr.fileno() == 2
        except (AttributeError, OSError, ValueError):
            routed = False  # sys.stderr is not the process's descriptor 2 (captured, redirected): leave it
        if not routed:
            return self
        sys.stderr.flush()
        self._sink = open(self.log, "a+b") if self.log else tempfile.TemporaryFile()
        self._start = self._sink.tell()
        self._saved_fd = os.dup(2)
        os.dup2(self._sink.fileno(), 2)
        self._python_stderr = sys.stderr
        # featkit's own words still reach the terminal, line by line, through the original descriptor.
        sys.stderr = os.fdopen(os.dup(self._saved_fd), "w", buffering=1, encoding=sys.stderr.encoding, errors="replace")
        # Libraries' Python warnings are chatter too: into the log with the native messages.
        self._showwarning = warnings.showwarning
        warnings.showwarning = _warning_to_fd2
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_fd is None:
            return
        warnings.showwarning = self._showwarning
        sys.stderr.flush()
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        self._saved_fd = None
        sys.stderr.close()
        sys.stderr = self._python_stderr
        self._sink.flush()
        self._sink.seek(self._start)
        self.n_lines = sum(1 for line in self._sink if line.strip())
        self._sink.close()


def _warning_to_fd2(message: Any, category: Any, filename: str, lineno: int, *_: Any) -> None:
    os.write(2, warnings.formatwarning(message, category, filename, lineno).encode(errors="replace"))


def quiet_library_loggers() -> None:
    """Before TensorFlow is imported: its C++ log level, and the Python loggers of TensorFlow, Keras and absl."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for name in ("tensorflow", "keras", "absl", "h5py", "libav"):
        logging.getLogger(name).setLevel(logging.ERROR)
