"""The parent side: :class:`DecodePool` starts, feeds, times and replaces decode workers."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from featkit._signals import deliver_held_signals
from featkit.exceptions import (
    FeatkitError,
    VideoTimeoutError,
    WorkerCrashedError,
)
from featkit.workers.messages import DecodeEvent, DecodeTask, FramesDecoded, VideoDone, VideoFailed, VideoStarted
from featkit.workers.worker import RETRY_REASONS, file_signature

_RECYCLE_RSS = 1 << 30
# Workers that die before becoming ready this many times in a row mean they cannot start at all.
_MAX_START_FAILURES = 3
# Seconds a worker may take to start (import numpy and the decoders) on a busy machine.
_START_TIMEOUT = 120.0
# Videos in flight per worker. Videos are handed to the caller in order, so a worker that is ahead of a
# long video on another waits once its videos' windows are held; with 2 per worker (and start and end
# messages counted as windows) -j 2 on 200 short clips spent 75 % of one worker's time blocked in send.
# With 4, -j 2 on 60 short clips still left both workers and the parent idle half the time: a worker ahead
# of a 10-s clip on the other ran out of videos to take. 16: -j 2 14.5 / 14.6 s -> 13.5 / 12.1 s (32 gave
# 10.6 / 12.7 s, within the noise of 16). Memory stays bounded by _HELD_BYTES, whatever this is.
_IN_FLIGHT = 16
# Jobs sent to one worker at a time: the one it works on and three more. With 2 a worker learnt of its next
# video only when the parent had read the end of the last one: ~0.5 s of waiting on 60 short clips at -j 1.
_QUEUE = 4
# ... and for the last jobs of a run with more than one worker, at most this many bytes of files waiting
# behind the one a worker works on (more than one waiting job only while they fit). A queued job cannot move
# to a worker that falls idle: with four jobs queued per worker whatever their size, -j 2 on 8 corpus videos
# gave one worker the four longest (4.5 s of decoding) and the other 1.3 s, idle for the rest. Before the
# last jobs the bound is not needed (a worker that falls idle takes a later job) and costs: on 200 short
# clips at -j 2, where some MJPEG files are large but quick to decode, 19.96 s against 18.77 s. A single
# worker has nobody to balance with.
_QUEUE_BYTES = 4 << 20
# Bytes a worker may send before the parent reads them (the kernel caps it at net.core.wmem_max). The default
# (~208 KiB) is less than one short clip's window, so a worker blocked in send whenever the parent was
# encoding: 1.5 s of 15 s on 60 short clips at -j 1. This memory comes on top of max_buffered's.
_SOCKET_BUFFER = 4 << 20
# Decoded frames held for videos that are not the caller's current one, all together (bounds the
# memory that running ahead costs whatever the frame size and n_jobs).
_HELD_BYTES = 256 << 20
_WAKE_UP = 0.25


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
    #: Its file's size in bytes (0 if it cannot be read): what the queue's bound counts.
    cost: int = 0

    @property
    def backend(self) -> str:
        return self.task.backends[self.attempt]

    def held(self) -> tuple[int, int]:
        """Decoded windows waiting in :attr:`buffer`, and their frames' bytes."""
        windows = [e.frames.nbytes for e in self.buffer if isinstance(e, FramesDecoded)]
        return len(windows), sum(windows)


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    queue: deque[_Job] = field(default_factory=deque)  # sent to it; it works on the first
    started: float = field(default_factory=time.monotonic)
    # It refused a job: it has died, but what it sent before is still to be read, and only the end of that
    # says which of its jobs it died on (the parent's view lags behind a deep queue).
    dead: bool = False

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
    max_buffered : int, default=8
        Decoded windows per video held in the parent before its worker waits
        (and 256 MiB of frames for all videos waiting their turn together).
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
        max_buffered: int = 8,
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
        with contextlib.suppress(OSError):  # only a hint: a smaller buffer is slower, not wrong
            child.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            parent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        # Isolated (-I): neither the working directory nor PYTHON* variables reach the worker's sys.path, so a
        # decord.py, av.py or numpy.py lying in the working directory is never imported. It gets this process's
        # import path instead, with featkit's own location first (a source checkout too) and cwd-relative entries
        # left out; json and os come from the standard library before that.
        code = (
            "import json, os, sys; sys.path[:] = json.loads(os.environ['FEATKIT_WORKER_PATH']); "
            "from featkit.workers.worker import serve; serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])"
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
            while todo and len(jobs) < _IN_FLIGHT * self.n_jobs:
                key, task = todo.popleft()
                jobs.append(_Job(key, task, cost=_file_bytes(task.source)))
            self._assign(jobs, more=bool(todo))
            head = jobs[0]
            if head.buffer:
                event = head.buffer.popleft()
                if isinstance(event, VideoDone | VideoFailed):
                    jobs.popleft()
                yield event
                continue
            self._pump(head, jobs)
            self._assign(jobs, more=bool(todo))  # a worker that just finished starts its next video before we encode

    def _assign(self, jobs: deque[_Job], *, more: bool) -> None:
        """Send waiting jobs to workers, in order: idle workers first, then one queued behind a busy one.

        A queued job lets a worker go on to its next video without waiting for
        the parent, which may be busy encoding. ``more``: tasks remain that are
        not in ``jobs`` yet; until the last few jobs, a worker that falls idle
        takes later ones, so only those are queued by size (:data:`_QUEUE_BYTES`).
        """
        unsent = sum(1 for job in jobs if job.worker is None and not job.finished)
        balance = self.n_jobs > 1 and not more and unsent <= self.n_jobs * _QUEUE
        for job in jobs:
            if job.worker is not None or job.finished:
                continue
            # Never behind a later video: that one may wait for us to take its windows, which we take in order.
            ready = [
                w
                for w in self._workers
                if w.ready
                and not w.dead
                and _has_room(w.queue, job, balance=balance)
                and all(q.key < job.key for q in w.queue)
            ]
            if not ready:
                return
            worker = min(ready, key=lambda w: len(w.queue))
            try:
                worker.conn.send((job.key, job.attempt, job.task))
            except OSError:
                if not worker.queue:
                    self._crashed(worker)  # died while idle; its replacement will take the job
                    return
                worker.dead = True  # reading the rest of its messages ends in EOF, and _crashed then
                return
            worker.queue.append(job)
            job.worker, job.charged = worker, 0.0

    def _pump(self, head: _Job, jobs: deque[_Job]) -> None:
        """Wait for messages (or the head's deadline), charge the wait to the videos that owe something.

        A worker whose video already has ``max_buffered`` windows waiting, or
        any worker while the videos behind the head hold ``_HELD_BYTES`` of
        frames, is not read (it blocks in ``send``) and not charged. The head's
        worker is always read; when the head waits for a worker, a replacement
        is starting.
        """
        room = sum(job.held()[1] for job in jobs if job is not head) < _HELD_BYTES
        owing = [
            w
            for w in self._workers
            if w.job is not None and (w.job is head or (room and w.job.held()[0] < self.max_buffered))
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
        if worker.dead and not worker.queue and worker in self._workers:
            self._crashed(worker)  # it died after its last job: nothing to blame, nothing more to read

    def _job_failed(self, job: _Job, reason: str, text: str, size: int = -1, mtime_ns: int = -1) -> None:
        """Try the next backend, or end the job with a failure naming every attempt."""
        job.buffer.clear()  # what this attempt decoded is void
        job.notes.append(f"{job.backend}: {reason}: {text}")
        if reason in RETRY_REASONS and job.attempt + 1 < len(job.task.backends):
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


def _file_bytes(path: str) -> int:
    """Size of ``path`` in bytes, 0 if it cannot be read (the worker then reports why)."""
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0


def _has_room(queue: deque[_Job], job: _Job, *, balance: bool = True) -> bool:
    """Whether ``job`` may be sent to a worker with ``queue``.

    See :data:`_QUEUE` and, with ``balance`` (more than one worker), :data:`_QUEUE_BYTES`.
    """
    if len(queue) >= _QUEUE:
        return False
    if not balance or len(queue) <= 1:  # idle, or one job waiting behind the current one: always
        return True
    return sum(q.cost for q in list(queue)[1:]) + job.cost <= _QUEUE_BYTES


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
    here = str(Path(__file__).resolve().parents[2])
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
