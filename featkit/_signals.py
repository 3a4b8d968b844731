"""Holding SIGINT and SIGTERM until featkit is at a point where stopping is safe (stdlib only).

Python runs a signal's handler between two bytecodes of the main thread, wherever
that is: inside h5py's file-object callbacks or object finalisers (which swallow
the ``KeyboardInterrupt``, or turn it into a failed write midway through a
commit), or inside TensorFlow's C code calling back into Python (which turns it
into a ``SystemError``). So while featkit writes files or runs an extraction, the
two signals are only recorded; they take effect when the block ends, or earlier
at a *safe point* (:func:`deliver_held_signals`: between two videos or windows),
through the handler that was installed before (``KeyboardInterrupt`` for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_signals", "deliver_held_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_depth = 0
_held: list[int] = []
_previous: dict[int, Any] = {}


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs; deliver them, once each, when it ends.

    Nested blocks are held by the outermost one. Outside the main thread (where
    Python never runs signal handlers) this only counts the nesting.
    """
    global _depth
    if _depth or threading.current_thread() is not threading.main_thread():
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    _held.clear()
    for signum in _SIGNALS:
        _previous[signum] = signal.signal(signum, lambda s, _frame: _held.append(s))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for signum in _SIGNALS:
            handler = _previous[signum]
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        held = list(dict.fromkeys(_held))
        _held.clear()
        for signum in held:
            _deliver(signum)


def deliver_held_signals() -> None:
    """At a safe point of the outermost deferred block: act on a held signal now (e.g. raise KeyboardInterrupt)."""
    if _depth != 1 or not _held or threading.current_thread() is not threading.main_thread():
        return
    signum = _held[0]
    _held[:] = [s for s in _held if s != signum]
    _deliver(signum)


def _deliver(signum: int) -> None:
    handler = _previous.get(signum)
    if callable(handler):
        handler(signum, None)
    elif handler in (signal.SIG_DFL, None):
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
