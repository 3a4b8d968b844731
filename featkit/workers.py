"""Decoding in child processes that no video can hang or crash the run from, in bounded memory.

decord can hang forever inside native code while holding the GIL, abort or
segfault the whole process on a corrupt file, and keep memory after a long
video. So every decode runs in a worker process of a :class:`DecodePool`:

* a per-video wall-clock **timeout**: a worker that owes a result for longer
  is killed (SIGKILL) and replaced, and the video fails with ``timeout``;
* a worker that **dies** (segfault, abort, killed for memory) fails its video
  with ``worker_crashed`` (the signal or exit code in the message) and is
  replaced; the run goes on;
* **fallback**: a task lists the backends to try (``("decord", "pyav")`` for
  ``backend="auto"``); after ``open_failed``, ``decode_failed``, ``timeout`` or
  ``worker_crashed`` the next one is tried from the start;
* **windows**: a worker never holds a whole video; it decodes the frames the
  clips need in windows of at most a few MB and streams them. At most
  ``max_buffered`` windows per video wait in the parent, and at most
  ``2 * n_jobs`` videos are in flight, so memory does not grow with video
  length or count.

The parent sees, per video and in task order, :class:`VideoStarted`, then
:class:`FramesDecoded` windows, then :class:`VideoDone` or :class:`VideoFailed`.
A second :class:`VideoStarted` for the same video (after a fallback) means:
forget what came before. Workers are started once per pool with
``python -c`` (not ``multiprocessing``), so they never import TensorFlow or the
caller's ``__main__``; they die with the parent (``PR_SET_PDEATHSIG``).

Time spent waiting for the parent to take a window is not charged to the
timeout: only time while the parent is waiting for a worker that owes it
something counts.

For tests, the environment variable ``FEATKIT_FAULT_INJECT`` makes a worker
misbehave on chosen files, after sending their first window: a ``;``-separated
list of ``ACTION[=ARG][@BACKEND]:GLOB`` rules, ``GLOB`` matched against the
video's path relative to the root; ``ACTION`` is ``hang`` (sleep in C holding
the GIL), ``segfault``, ``abort``, ``kill`` (SIGKILL, as the OOM killer does),
``exit`` (``os._exit(ARG)``) or ``sleep`` (``time.sleep(ARG)``, releasing the
GIL). Example: ``FEATKIT_FAULT_INJECT="hang:*/stuck.mp4;segfault@decord:bad*"``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from featkit._signals import deliver_held_signals
from featkit.config import SamplingConfig
from featkit.exceptions import (
    FeatkitError,
    VideoChangedError,
    VideoDecodeError,
    VideoError,
    VideoOpenError,
    VideoTimeoutError,
    WorkerCrashedError,
)
from featkit.files import file_kind, sha256_of
from featkit.io.backends import open_reader
from featkit.io.sampling import ClipPlan, plan_clips

__all__ = [
    "FAULT_ENV",
    "DecodePool",
    "DecodeTask",
    "FramesDecoded",
    "VideoDone",
    "VideoFailed",
    "VideoStarted",
    "check_plausible",
    "file_signature",
    "video_row",
    "window_frames",
    "worker_sys_path",
]

#: Environment variable read by workers to simulate hangs and crashes (tests only).
FAULT_ENV = "FEATKIT_FAULT_INJECT"
#: Failure reasons after which a task's next backend is tried.
_RETRY_REASONS = frozenset(
    {VideoOpenError.reason, VideoDecodeError.reason, VideoTimeoutError.reason, WorkerCrashedError.reason}
)
# A worker whose resident memory passes this after a video is replaced (native decoders keep memory).
_RECYCLE_RSS = 1 << 30
# Workers that die before becoming ready this many times in a row mean they cannot start at all.
_MAX_START_FAILURES = 3
# Seconds a worker may take to start (import numpy and the decoders) on a busy machine.
_START_TIMEOUT = 120.0
# Jobs sent to one worker at a time: the one it works on and the next.
_QUEUE = 2
_WINDOW_BYTES = 8 << 20
_WAKE_UP = 0.25
_MAX_WINDOW = 256


def window_frames(size: int, batch_size: int) -> int:
    """Frames per decoded window: at most 256 and ~8 MB, a multiple of ``batch_size`` (at least one batch).

    Windows that are whole encoder batches keep batching the same as encoding
    the whole video at once.
    """
    frames = min(_MAX_WINDOW, _WINDOW_BYTES // (3 * size * size))
    return max(batch_size, frames // batch_size * batch_size)


@dataclass(frozen=True)
class DecodeTask:
    """One video to decode.

    Attributes
    ----------
    source : str
        The file to open.
    path : str
        The video's path relative to the root (what is stored; what fault rules match).
    label : str
        Its label.
    size : int
        Side of the square frames.
    sampling : SamplingConfig
        Clip sampling.
    backends : tuple of str
        Decoders to try, in order (see :func:`featkit.io.backends.backends_for`).
    decode_threads : int
        Decoder threads.
    window : int
        Frames per streamed window.

    """

    source: str
    path: str
    label: str
    size: int
    sampling: SamplingConfig
    backends: tuple[str, ...] = ("decord", "pyav")
    decode_threads: int = 1
    window: int = _MAX_WINDOW


@dataclass
class VideoStarted:
    """A video opened: its row of the videos table (with ``backend``), clip plan and frame times."""

    task: DecodeTask
    video: dict[str, Any]
    plan: ClipPlan
    starts: np.ndarray
    end: float


@dataclass
class FramesDecoded:
    """A window of decoded frames: ``frames[k]`` is frame ``frame_ids[k]`` (increasing ids)."""

    task: DecodeTask
    frame_ids: np.ndarray
    frames: np.ndarray


@dataclass
class VideoDone:
    """Every window of the video was sent."""

    task: DecodeTask


@dataclass
class VideoFailed:
    """The video failed (with every backend tried); ``reason`` is one of the documented failure reasons."""

    task: DecodeTask
    reason: str
    message: str
    size: int = -1
    mtime_ns: int = -1


DecodeEvent = VideoStarted | FramesDecoded | VideoDone | VideoFailed


# ---------------------------------------------------------------------------
# The worker process
# ---------------------------------------------------------------------------


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
        __import__("decord" if name == "decord" else "av")
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
        if reason in _RETRY_REASONS and attempt + 1 < len(task.backends):
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
        check_plausible(task.path, info, signature[0], task.sampling)
        plan = plan_clips(info.starts, info.end, task.sampling)
        needed = plan.needed_frames()
        video = video_row(task.path, task.label, digest, signature[0], signature[1], info, backend)
        _send(conn, ("start", key, attempt, video, plan, info.starts, info.end))
        for lo in range(0, len(needed), task.window):
            ids = needed[lo : lo + task.window]
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


# ---------------------------------------------------------------------------
# The parent side
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    key: int
    task: DecodeTask
    attempt: int = 0
    buffer: deque[DecodeEvent] = field(default_factory=deque)
    finished: bool = False
    charged: float = 0.0
    notes: list[str] = field(default_factory=list)
    worker: _Worker | None = None

    @property
    def backend(self) -> str:
        return self.task.backends[self.attempt]


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    queue: deque[_Job] = field(default_factory=deque)  # sent to it; it works on the first
    started: float = field(default_factory=time.monotonic)

    @property
    def job(self) -> _Job | None:
        """The job it is working on."""
        return self.queue[0] if self.queue else None


class DecodePool:
    """Worker processes that decode videos with a timeout, crash recovery and backend fallback.

    Parameters
    ----------
    n_jobs : int, default=1
        Worker processes (videos decoded at the same time).
    timeout : float or None, default=None
        Seconds a video's decoding may take (time the parent spends elsewhere
        is not counted); ``None`` or ``0`` for no limit.
    max_buffered : int, default=2
        Decoded windows per video held in the parent before its worker waits.
    backends : tuple of str, default=("decord", "pyav")
        Backends tasks will use; workers import the first at start, the others when needed.

    Notes
    -----
    Use as a context manager: leaving it kills every worker, also on Ctrl-C.
    The kernel kills the workers if this process dies (even ``kill -9``),
    whichever thread created the pool.

    """

    def __init__(
        self,
        n_jobs: int = 1,
        *,
        timeout: float | None = None,
        max_buffered: int = 2,
        backends: tuple[str, ...] = ("decord", "pyav"),
    ) -> None:
        self.n_jobs = int(n_jobs)
        self.timeout = float(timeout) if timeout else None
        self.max_buffered = int(max_buffered)
        self.backends = tuple(backends)
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._closed = False

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<DecodePool n_jobs={self.n_jobs} timeout={self.timeout} workers={len(self._workers)}>"

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers]

    # -- worker life cycle ----------------------------------------------------
    def _spawn(self) -> None:
        if self._closed:
            return
        parent, child = socket.socketpair()
        # Isolated (-I): neither the working directory nor PYTHON* variables reach the worker's sys.path, so a
        # decord.py, av.py or numpy.py lying in the working directory is never imported. It gets this process's
        # import path instead, with featkit's own location first (a source checkout too) and cwd-relative entries
        # left out; json and os come from the standard library before that.
        code = (
            "import json, os, sys; sys.path[:] = json.loads(os.environ['FEATKIT_WORKER_PATH']); "
            "from featkit.workers import serve; serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])"
        )
        env = dict(os.environ, FEATKIT_WORKER_PATH=json.dumps(worker_sys_path()))
        try:
            process = _popen(
                [sys.executable, "-I", "-c", code, str(child.fileno()), str(os.getpid()), *self.backends],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            child.close()
        self._workers.append(_Worker(process, Connection(parent.detach())))

    def _retire(self, worker: _Worker) -> int | None:
        """Kill a worker and forget it; return its exit status (negative: the signal that ended it)."""
        self._workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.process.kill()  # no-op if it is already dead; the status stays the original one
        try:
            code = worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL (D state)
            code = None
        worker.conn.close()
        return code

    def start(self) -> None:
        """Start the workers now (they import their decoders in the background); :meth:`run` does it otherwise."""
        if self._closed:
            raise FeatkitError("This DecodePool is closed.")
        while len(self._workers) < self.n_jobs:
            self._spawn()

    def close(self) -> None:
        """Kill every worker and wait for them (idempotent)."""
        self._closed = True
        for worker in list(self._workers):
            self._retire(worker)

    # -- running ----------------------------------------------------------------
    def run(self, tasks: Iterable[DecodeTask]) -> Iterator[DecodeEvent]:
        """Decode the tasks; yield each one's events, task after task, in the order given.

        Parameters
        ----------
        tasks : iterable of DecodeTask

        Yields
        ------
        VideoStarted, FramesDecoded, VideoDone or VideoFailed
            For each task: ``VideoStarted`` then its windows, repeated from
            ``VideoStarted`` after a fallback, and finally ``VideoDone`` or
            ``VideoFailed``. A task can also end in ``VideoFailed`` directly.

        """
        self.start()
        todo = deque(enumerate(tasks))
        jobs: deque[_Job] = deque()
        while todo or jobs:
            deliver_held_signals()  # a held Ctrl-C takes effect here (see featkit._signals)
            while todo and len(jobs) < 2 * self.n_jobs:
                key, task = todo.popleft()
                jobs.append(_Job(key, task))
            self._assign(jobs)
            head = jobs[0]
            if head.buffer:
                event = head.buffer.popleft()
                if isinstance(event, VideoDone | VideoFailed):
                    jobs.popleft()
                yield event
                continue
            self._pump(head)
            self._assign(jobs)  # a worker that just finished starts its next video before we encode

    def _assign(self, jobs: deque[_Job]) -> None:
        """Send waiting jobs to workers, in order: idle workers first, then one queued behind a busy one.

        A queued job lets a worker go on to its next video without waiting for
        the parent, which may be busy encoding.
        """
        for job in jobs:
            if job.worker is not None or job.finished:
                continue
            # Never behind a later video: that one may wait for us to take its windows, which we take in order.
            ready = [
                w for w in self._workers if w.ready and len(w.queue) < _QUEUE and all(q.key < job.key for q in w.queue)
            ]
            if not ready:
                return
            worker = min(ready, key=lambda w: len(w.queue))
            try:
                worker.conn.send((job.key, job.attempt, job.task))
            except OSError:
                self._crashed(worker)  # died while idle; its replacement will take the job
                return
            worker.queue.append(job)
            job.worker, job.charged = worker, 0.0

    def _pump(self, head: _Job) -> None:
        """Wait for messages (or the head's deadline), charge the wait to the videos that owe something.

        A worker whose video already has ``max_buffered`` windows waiting is not
        read (it blocks in ``send``) and not charged. The head's worker is always
        read; when the head waits for a worker, a replacement is starting.
        """
        owing = [
            w for w in self._workers if w.job is not None and (w.job is head or len(w.job.buffer) < self.max_buffered)
        ]
        listen = owing + [w for w in self._workers if not w.ready]
        if not listen:
            raise FeatkitError("featkit's decoding processes stopped answering (no worker is running).")
        now = time.monotonic()
        budgets = [_START_TIMEOUT - (now - w.started) for w in listen if not w.ready]
        if self.timeout is not None:
            budgets += [self.timeout - w.job.charged for w in owing if w.job is not None]
        # Wake up at least every 0.25 s, so a held Ctrl-C or SIGTERM takes effect even while a decoder is slow.
        budget = min(_WAKE_UP, max(0.0, min(budgets))) if budgets else _WAKE_UP
        t0 = time.monotonic()
        ready = wait([w.conn for w in listen], timeout=budget)
        waited = time.monotonic() - t0
        for w in owing:
            if w.job is not None:
                w.job.charged += waited
        by_conn = {id(w.conn): w for w in listen}
        for conn in ready:
            worker = by_conn[id(conn)]
            if worker not in self._workers:
                continue
            try:
                message = conn.recv()
            except (OSError, EOFError):
                self._crashed(worker)
                continue
            self._handle(worker, message)
        if self.timeout is not None:
            for w in list(owing):
                if w in self._workers and w.job is not None and w.job.charged >= self.timeout:
                    self._timed_out(w)
        for w in list(listen):
            if w in self._workers and not w.ready and time.monotonic() - w.started > _START_TIMEOUT:
                self._crashed(w)  # stuck while starting: counts as a start failure

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            self._start_failures = 0
            return
        job = worker.job
        if job is None or message[1] != job.key or message[2] != job.attempt:
            return  # cannot happen (a worker does its jobs in order); ignore rather than mix videos up
        if kind == "start":
            _, _, _, video, plan, starts, end = message
            job.buffer.append(VideoStarted(job.task, video, plan, starts, end))
        elif kind == "window":
            job.buffer.append(FramesDecoded(job.task, message[3], message[4]))
        elif kind == "end":
            worker.queue.popleft()
            job.finished, job.worker = True, None
            job.buffer.append(VideoDone(job.task))
            if message[3] > _RECYCLE_RSS:  # native decoders do not give memory back: start afresh
                self._replace(worker)
        elif kind == "retry":  # the worker goes on with the next backend itself
            _, _, _, reason, text = message
            job.notes.append(f"{job.backend}: {reason}: {text}")
            job.buffer.clear()
            job.attempt, job.charged = job.attempt + 1, 0.0
        elif kind == "failed":
            _, _, _, reason, text, size, mtime = message
            worker.queue.popleft()
            job.worker = None
            self._job_failed(job, reason, text, size, mtime)

    def _job_failed(self, job: _Job, reason: str, text: str, size: int = -1, mtime_ns: int = -1) -> None:
        """Try the next backend, or end the job with a failure naming every attempt."""
        job.buffer.clear()  # what this attempt decoded is void
        job.notes.append(f"{job.backend}: {reason}: {text}")
        if reason in _RETRY_REASONS and job.attempt + 1 < len(job.task.backends):
            job.attempt += 1
            return
        if size < 0:
            size, mtime_ns = file_signature(job.task.source)
        message = text if len(job.notes) == 1 else "; ".join(job.notes)
        job.buffer.append(VideoFailed(job.task, reason, message, size, mtime_ns))
        job.finished = True

    def _replace(self, worker: _Worker) -> int | None:
        """Kill a worker and start another; its jobs go back to waiting (the caller fails the current one)."""
        for queued in worker.queue:
            queued.worker = None
        worker.queue.clear()
        code = self._retire(worker)
        self._spawn()
        return code

    def _timed_out(self, worker: _Worker) -> None:
        job = worker.job
        self._replace(worker)
        if job is not None:
            job.worker = None
            self._job_failed(
                job,
                VideoTimeoutError.reason,
                f"decoding took longer than the timeout of {self.timeout:g} s; its process was killed "
                "(a very long video may need a larger --timeout)",
            )

    def _crashed(self, worker: _Worker) -> None:
        job, was_ready = worker.job, worker.ready
        code = self._replace(worker)
        if not was_ready:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                raise FeatkitError(
                    f"featkit's decoding processes cannot start: {_MAX_START_FAILURES} in a row exited with "
                    f'{_describe_exit(code)} before becoming ready. Run `{sys.executable} -c "import featkit.workers, '
                    'decord, av"` to see why.'
                )
        if job is not None:
            job.worker = None
            self._job_failed(job, WorkerCrashedError.reason, f"the decoding process died: {_describe_exit(code)}")


_spawner: tuple[int, queue.SimpleQueue[Any]] | None = None
_spawner_lock = threading.Lock()


def _popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` run on one thread that lives as long as this process.

    Workers ask the kernel to kill them when the thread that started them ends
    (``PR_SET_PDEATHSIG``). Started from a short-lived thread (a Dask task, a
    thread pool) they would die with it; so all are started from this one,
    which is restarted in a forked child.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner[0] != os.getpid():
            requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(target=_spawn_forever, args=(requests,), name="featkit-spawner", daemon=True).start()
            _spawner = (os.getpid(), requests)
        requests = _spawner[1]
    future: Future[subprocess.Popen[bytes]] = Future()
    requests.put((args, kwargs, future))
    return future.result()


def _spawn_forever(requests: queue.SimpleQueue[Any]) -> None:
    while True:
        args, kwargs, future = requests.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                future.set_exception(exc)


def worker_sys_path() -> list[str]:
    """The import path a decode worker gets: featkit's parent folder, then this process's absolute entries.

    Entries that stand for the working directory (``""``, relative paths, the
    working directory itself) are left out, unless featkit itself lives there.
    """
    here = str(Path(__file__).resolve().parents[1])
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:
        cwd = ""
    # An installed featkit keeps its place (site-packages must not go before the standard library).
    path = [] if here in _site_dirs() else [here]
    for entry in sys.path:
        if not entry or not os.path.isabs(entry) or entry in path:
            continue
        if os.path.realpath(entry) == cwd:
            continue
        path.append(entry)
    return path


def _site_dirs() -> set[str]:
    import site

    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return {str(Path(d).resolve()) for d in dirs}


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "an unknown status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed, e.g. for lack of memory)" if -code == signal.SIGKILL else ""
        return f"{name} (signal {-code}){hint}"
    return f"exit code {code}"
