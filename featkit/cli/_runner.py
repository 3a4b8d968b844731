"""How every command runs: signals, the exit codes, one-line errors and crash logs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from featkit._version import __version__
from featkit.exceptions import FeatkitError

__all__ = ["EPILOG", "EXIT_CODES", "EXIT_CRASH", "EXIT_TERMINATED", "printable", "run_guarded"]

#: What each exit status of ``featkit`` means (also the epilog of ``--help``).
EXIT_CODES = {
    0: "success",
    1: "the run finished, but the output records failed videos (see `featkit info OUT.h5`)",
    2: "nothing was done: bad arguments or input, no videos, output locked, unusable or made with other "
    "settings, encoder not loadable",
    3: "featkit crashed (a bug, or an encoder failing midway): one line names a log with the traceback",
    130: "interrupted (Ctrl-C); finished work is kept, run the same command again to resume",
    143: "terminated (SIGTERM); finished work is kept, run the same command again to resume",
}
EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())

#: Exit code of a run that crashed (an unexpected exception), distinct from 1 (finished, failures recorded).
EXIT_CRASH = 3
EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(SystemExit):
    """SIGTERM, raised where Python handles it, so the run stops like on Ctrl-C (finished work is saved)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated(EXIT_TERMINATED)


def printable(text: object, *, newlines: bool = False) -> str:
    r"""``text`` safe to print on a terminal: control characters and undecodable bytes escaped.

    A file name can hold escape sequences (``\x1b[2J``) or bytes that are not
    UTF-8 (surrogate-escaped by Python); both are shown as ``\xNN``.
    """
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch.isprintable() or (newlines and ch == "\n"):
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (PEP 383)
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _crash_log(command: str) -> Path | None:
    """Write the current exception's traceback to a log file; return its path (None if nowhere writable)."""
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "featkit" / "logs"
    for folder in (base, Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            text = f"featkit {__version__} {command}: {' '.join(sys.argv)}\n\n{traceback.format_exc()}"
            path.write_text(text, errors="backslashreplace")
        except OSError:
            continue
        return path
    return None


def run_guarded(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command and return its exit code.

    An error, Ctrl-C, SIGTERM or a crash becomes one line on stderr and exit code 2, 130, 143 or 3
    (a crash's traceback goes to a log file).
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return run(args)
    except FeatkitError as exc:
        print(f"featkit {args.command}: error: {printable(exc, newlines=True)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"featkit {args.command}: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"featkit {args.command}: terminated; run the same command again to resume.", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:  # noqa: BLE001 - a bug or a failing encoder: one line, a log, its own exit code
        log = _crash_log(args.command)
        where = f"; details in {log}" if log else ""
        print(
            f"featkit {args.command}: crashed: {type(exc).__name__}: {printable(exc)}{where}. The output was left "
            "as it was; please report this with the log.",
            file=sys.stderr,
        )
        return EXIT_CRASH
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
