"""The decode worker process: receive tasks, decode their needed frames in windows, send them back.

It imports numpy and the decoders only (never h5py or TensorFlow), and is started with ``python -c``
by :class:`featkit.workers.DecodePool`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
import stat
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from featkit.config import SamplingConfig
from featkit.exceptions import (
    VideoChangedError,
    VideoDecodeError,
    VideoError,
    VideoOpenError,
    VideoTimeoutError,
    WorkerCrashedError,
)
from featkit.files import file_kind, sha256_of
from featkit.io.backends import REGISTRY, open_reader
from featkit.io.sampling import plan_clips
from featkit.io.video import MAX_LOOKAHEAD_BYTES
from featkit.workers.messages import DecodeTask, window_spans

#: Environment variable read by workers to simulate hangs and crashes (tests only).
FAULT_ENV = "FEATKIT_FAULT_INJECT"
#: Failure reasons after which a task's next backend is tried.
RETRY_REASONS = frozenset(
    {VideoOpenError.reason, VideoDecodeError.reason, VideoTimeoutError.reason, WorkerCrashedError.reason}
)
# A worker whose resident memory passes this after a video is replaced (native decoders keep memory).


class _ParentGone(Exception):
    """The parent closed its end of the connection."""


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    try:
        conn.send(message)
    except (OSError, EOFError) as exc:
        raise _ParentGone from exc


def serve(fd: int, parent_pid: int, backends: Sequence[str]) -> None:
    """Entry point of a worker process: decode the tasks received on ``fd`` until told to stop.

    Parameters
    ----------
    fd : int
        This end of the socket pair shared with the parent.
    parent_pid : int
        The parent's pid; the worker exits when the parent is gone.
    backends : sequence of str
        Backends tasks will use; the first is imported before saying it is ready.

    """
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then kills its workers
    _die_with_parent(parent_pid)
    with contextlib.suppress(ValueError, OSError):  # a decoder crash must not leave a core file per bad video
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    conn = Connection(fd)
    for name in backends[:1]:  # the first decoder now, so its start-up is not charged to a video; fallbacks lazily
        __import__(REGISTRY[name].module)
    try:
        _send(conn, ("ready", os.getpid()))
        while True:
            try:
                message = conn.recv()
            except (OSError, EOFError):
                return
            if message is None:
                return
            key, attempt, task = message
            _decode(conn, key, attempt, task, open_reader, sha256_of)
    except _ParentGone:
        return


def _die_with_parent(parent_pid: int) -> None:
    """End this process when its parent dies, so a killed run leaves no workers behind.

    ``PR_SET_PDEATHSIG`` (SIGKILL) works even while a decoder hangs holding the
    GIL; Linux sends it when the parent *thread* that started us ends, which is
    why the parent starts workers from one thread that lives as long as it does
    (:func:`_popen`). A watchdog thread is a second line where that is missing.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    if os.getppid() != parent_pid:  # the parent died before any of this took effect
        os._exit(0)
    threading.Thread(target=watch, name="featkit-parent-watch", daemon=True).start()


def _decode(conn: Connection, key: int, attempt: int, task: DecodeTask, open_reader: Any, sha256_of: Any) -> None:
    """Decode one task from its ``attempt``-th backend on, streaming messages; failures are sent, not raised.

    A backend that fails with a Python-level error is followed by the next one
    right here (a ``retry`` message voids what was sent), so the task keeps its
    place in this worker's queue; crashes and hangs are the parent's to handle.
    """
    try:
        st = os.stat(task.source)
        signature = st.st_size, st.st_mtime_ns
        if not stat.S_ISREG(st.st_mode):
            _send(
                conn,
                ("failed", key, attempt, "unreadable", f"not a regular file ({file_kind(st.st_mode)})", *signature),
            )
            return
        digest = sha256_of(task.source)
    except OSError as exc:  # missing, no permission, a symlink loop
        reason = f"{type(exc).__name__}: {exc}"
        _send(conn, ("failed", key, attempt, "unreadable", reason, *file_signature(task.source)))
        return
    while True:
        failure = _decode_with(conn, key, attempt, task, open_reader, digest, signature)
        if failure is None:
            _send(conn, ("end", key, attempt, _rss()))
            return
        reason, text = failure
        if reason in RETRY_REASONS and attempt + 1 < len(task.backends):
            _send(conn, ("retry", key, attempt, reason, text))
            attempt += 1
            continue
        _send(conn, ("failed", key, attempt, reason, text, *signature))
        return


def _decode_with(
    conn: Connection,
    key: int,
    attempt: int,
    task: DecodeTask,
    open_reader: Any,
    digest: str,
    signature: tuple[int, int],
) -> tuple[str, str] | None:
    """Stream one task's frames with one backend; return ``(reason, message)`` if it fails."""
    backend = task.backends[attempt]
    reader = None
    try:
        reader = open_reader(backend, task.source, task.size, num_threads=task.decode_threads)
        info = reader.info
        ahead = getattr(reader, "lookahead_bytes", 0)
        if ahead > MAX_LOOKAHEAD_BYTES and attempt + 1 < len(task.backends):
            return VideoDecodeError.reason, (
                f"{info.n_frames} frames: {backend} would queue up to {ahead / 2**20:.0f} MiB decoding ahead of a "
                f"slower encoder (over {MAX_LOOKAHEAD_BYTES / 2**20:.0f} MiB); read with the next backend"
            )
        check_plausible(task.path, info, signature[0], task.sampling)
        plan = plan_clips(info.starts, info.end, task.sampling)
        needed = plan.needed_frames()
        video = video_row(task.path, task.label, digest, signature[0], signature[1], info, backend)
        _send(conn, ("start", key, attempt, video, plan, info.starts, info.end))
        for lo, hi in window_spans(len(needed), task.window, task.tail_window):
            ids = needed[lo:hi]
            _send(conn, ("window", key, attempt, ids, reader.read(ids)))
            if lo == 0:
                _inject_fault(task.path, backend)
        if len(needed) == 0:
            _inject_fault(task.path, backend)
        st = os.stat(task.source)
    except VideoError as exc:
        return exc.reason, exc.message
    except OSError as exc:
        return "unreadable", f"{type(exc).__name__}: {exc}"
    finally:
        if reader is not None:
            with contextlib.suppress(Exception):  # a broken decoder must not hide what happened
                reader.close()
            del reader
    if (st.st_size, st.st_mtime_ns) != signature:
        return (
            VideoChangedError.reason,
            f"the file changed while it was read (size {signature[0]} -> {st.st_size} bytes); "
            "it is tried again on the next run",
        )
    return None


# A frame shown across more sample times than this (at 8 fps: one frame on screen for over 2 minutes, beyond even a
# sparse screen recording) marks timestamps the file cannot back, once past the floor (3.5 h at 8 fps); and no
# frame takes less than a byte of file.
_MAX_SAMPLES_PER_FRAME = 1000
_MIN_SAMPLE_LIMIT = 100_000


def check_plausible(path: str, info: Any, size: int, sampling: SamplingConfig) -> None:
    """Refuse a video whose container claims more than its file can hold, before its clips are planned.

    A 1.6 KB file can stamp its last frame at 10^7 s; sampled at 8 fps that is
    80 million samples, which would fill the parent's memory with a clip plan.
    The number of samples is bounded by ``1000 x`` the frames (at least
    100,000), and the frames by the file's size in bytes.

    Raises
    ------
    VideoDecodeError
        Naming what the container claims and the bound.

    """
    n = len(info.starts)
    span = float(info.end) - float(info.starts[0]) if n else 0.0
    samples = n if sampling.fps is None else span * float(sampling.fps)
    limit = max(_MIN_SAMPLE_LIMIT, _MAX_SAMPLES_PER_FRAME * n)
    if size >= 0 and n > max(size, 1):
        why = f"{n} frames in a file of {size} bytes"
    elif not np.isfinite(span) or samples > limit:
        rate = "every frame" if sampling.fps is None else f"{sampling.fps:g} fps"
        why = f"{n} frames spanning {span:.6g} s, which would be {samples:.3g} samples at {rate}"
    else:
        return
    raise VideoDecodeError(
        path, f"implausible timestamps: {why} (at most {limit} samples are plausible); the file is damaged or crafted"
    )


def file_signature(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file, of the link itself for a broken link, ``(-1, -1)`` if neither exists.

    A failure record keeps it, so an unchanged bad file (even a dangling or looping
    symlink) is not retried on resume, and a changed one is.
    """
    for stat_fn in (os.stat, os.lstat):
        try:
            st = stat_fn(path)
        except OSError:
            continue
        return st.st_size, st.st_mtime_ns
    return -1, -1


def video_row(path: str, label: str, digest: str, size: int, mtime_ns: int, info: Any, backend: str) -> dict[str, Any]:
    """A video's row of the videos table (:data:`featkit.store.VIDEO_FIELDS`), from its file and reader info."""
    return {
        "path": path,
        "label": label,
        "sha256": digest,
        "size": size,
        "mtime_ns": mtime_ns,
        "fps": info.avg_fps,
        "n_frames": info.n_frames,
        "duration": info.end,
        "width": info.width,
        "height": info.height,
        "timestamp_source": info.timestamp_source,
        "backend": backend,
    }


def _rss() -> int:
    """Resident memory of this process in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _inject_fault(path: str, backend: str) -> None:
    """Misbehave as ``FEATKIT_FAULT_INJECT`` asks for this video (tests of isolation only)."""
    spec = os.environ.get(FAULT_ENV, "")
    for rule in spec.split(";"):
        head, sep, pattern = rule.strip().partition(":")
        action, _, only = head.partition("@")
        action, _, arg = action.partition("=")
        if not sep or (only and only != backend) or not fnmatch.fnmatchcase(path, pattern):
            continue
        import ctypes

        if action == "hang":
            ctypes.PyDLL(None).sleep(1_000_000)  # libc sleep through PyDLL: the GIL stays held
        elif action == "segfault":
            ctypes.string_at(0)
        elif action == "abort":
            os.abort()
        elif action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "exit":
            os._exit(int(arg or 3))
        elif action == "sleep":
            time.sleep(float(arg or 1))
