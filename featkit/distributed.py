"""Running the per-video work of ``featkit extract`` on a Dask distributed cluster.

:class:`DaskExecutor` is an executor in the sense of :mod:`featkit.executors`
(like :class:`~featkit.executors.LocalExecutor`): each video is one Dask task
that decodes it, encodes its frames and reduces each clip to its statistics
on a worker, and sends back a small :class:`~featkit.store.VideoResult` (or a
:class:`~featkit.store.FailureRecord`). On the worker the video goes through a
:class:`~featkit.executors.LocalExecutor`, so decoding runs in isolated
processes there too, with the same per-video timeout, crash recovery, backend
fallback and windowed memory as a local run. The local process stays the only
writer: it receives the results in the order of the sorted file list and stores
them through :class:`~featkit.store.FeatureStore` as a local run does, so the
file is the same (same code, same encoder, same batches: the same numbers).

Workers load the encoder once per process and keep it. Before any video is
sent, every worker is checked: it must run the same featkit version, load the
same encoder (the same identity, sha256 of the weights included) and see the
videos at the same paths; otherwise the run stops, naming the worker.

Nothing that happens on a worker stops the run; each video ends as a record:

* a decoder that hangs, crashes or times out fails the video on the worker
  exactly as locally (``timeout``, ``worker_crashed``, ...);
* an exception in the task becomes a failure with reason ``worker_error``;
* a Dask worker that dies makes Dask retry the video on another worker; after
  ``distributed.scheduler.allowed-failures`` deaths it fails with
  ``worker_crashed``;
* a task that runs for longer than ``task_timeout`` (by default the decoding
  timeout for each backend plus two minutes) fails with ``timeout`` and its
  worker is restarted by its nanny, which frees the stuck thread.

``distributed`` is an optional dependency (``pip install "featkit[dask]"``),
imported only when a scheduler is used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from featkit._version import __version__
from featkit.config import ExtractionConfig
from featkit.discover import VideoFile
from featkit.exceptions import ConfigError, DependencyError, EncoderError
from featkit.store import FailureRecord, VideoResult

__all__ = ["WORKER_ERROR", "DaskExecutor", "check_workers", "connect", "default_task_timeout", "run_on_dask"]

#: Failure reason of a video whose task raised on a Dask worker.
WORKER_ERROR = "worker_error"
_WORKER_CRASHED = "worker_crashed"  # as featkit.exceptions.WorkerCrashedError.reason
_TIMEOUT = "timeout"  # as featkit.exceptions.VideoTimeoutError.reason
# Seconds to wait for the scheduler to answer, and for a first worker to join it.
_CONNECT_TIMEOUT = 30.0
_WORKER_WAIT = 120.0
# Added to the decoding timeouts for a task's time limit: encoding, and starting a worker's decoders.
_TASK_GRACE = 120.0


# -- the worker side -----------------------------------------------------------
# One encoder per worker process and setting (featkit.encoders.shared_encoder); one LocalExecutor
# (decoding processes) per worker thread.
_THREAD = threading.local()


def _worker_encoder(config: ExtractionConfig) -> Any:
    """The encoder ``config`` names, loaded once per worker process (as :func:`featkit.extraction.extract` does)."""
    from featkit.encoders import shared_encoder

    return shared_encoder(
        config.encoder, batch_size=config.batch_size, precision=config.precision, runtime=config.runtime
    )


def _worker_executor(config: ExtractionConfig) -> Any:
    """The calling thread's :class:`~featkit.executors.LocalExecutor` (one decoding process), started once."""
    from featkit.executors import LocalExecutor

    config = dataclasses.replace(config, n_jobs=1)
    executors = _THREAD.__dict__.setdefault("executors", {})
    executor = executors.get(config)
    if executor is None:
        executor = executors[config] = LocalExecutor(config)
        executor.start()
    return executor


def _identity_text(identity: Any) -> str:
    return json.dumps(identity, sort_keys=True, default=str)


def _prepare_worker(folder: str, config: ExtractionConfig) -> dict[str, Any]:
    """Run once on every worker before the videos: load the encoder, start decoding, look for the input."""
    encoder = _worker_encoder(config)
    _worker_executor(config)
    return {
        "featkit": __version__,
        "identity": _identity_text(encoder.identity()),
        "input_size": int(encoder.input_size),
        "folder_visible": os.path.exists(folder),
        "host": os.uname().nodename,
    }


def _run_task(task: Any, config: ExtractionConfig, identity: str) -> VideoResult | FailureRecord:
    """The Dask task: one video, decoded (in an isolated process), encoded and reduced on the worker."""
    encoder = _worker_encoder(config)
    mine = _identity_text(encoder.identity())
    if mine != identity:  # a worker that joined after the checks, with another encoder
        raise EncoderError(f"This worker's encoder differs from the one the run uses: {mine} != {identity}.")
    (result,) = _worker_executor(config).results([task], encoder)
    return result


# -- the client side -----------------------------------------------------------
def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DependencyError(
            "Running featkit on a Dask cluster needs the 'distributed' package: pip install \"featkit[dask]\"."
        ) from exc
    return distributed


def connect(scheduler: Any) -> tuple[Any, bool]:
    """A Dask client for ``scheduler``, and whether the caller owns it (and must close it).

    Parameters
    ----------
    scheduler : str or distributed.Client
        A client, a scheduler address (``tcp://host:8786``) or a scheduler
        file written by ``dask scheduler --scheduler-file``.

    Returns
    -------
    client : distributed.Client
    owned : bool

    Raises
    ------
    ConfigError
        If the scheduler cannot be reached.
    DependencyError
        If ``distributed`` is not installed.

    """
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler:
        raise ConfigError(
            "The 'scheduler' parameter must be a Dask scheduler address, a scheduler file or a "
            f"distributed.Client. Got {scheduler!r} instead."
        )
    kwargs = {"scheduler_file": scheduler} if os.path.isfile(scheduler) else {"address": scheduler}
    try:
        client = distributed.Client(**kwargs, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"Cannot connect to the Dask scheduler {scheduler!r}: {exc}. Start one with `dask scheduler` and "
            "pass the address it prints (tcp://HOST:8786), or its --scheduler-file."
        ) from exc
    return client, True


def check_workers(
    client: Any, folder: str, config: ExtractionConfig, identity: str | None = None
) -> dict[str, dict[str, Any]]:
    """Prepare every worker (encoder loaded, decoding started) and check it can do the work.

    Parameters
    ----------
    client : distributed.Client
    folder : str
        An absolute path every worker must see (the folder of the videos).
    config : ExtractionConfig
    identity : str, optional
        The encoder identity (JSON) every worker must load; by default the
        workers must simply agree.

    Returns
    -------
    dict
        Each worker's report: ``featkit``, ``identity``, ``input_size``, ``host``.

    Raises
    ------
    ConfigError
        If no worker joins within two minutes, or a worker cannot import
        featkit, runs another version of it or cannot see ``folder``.
    EncoderError
        If a worker cannot load the encoder or loads a different one.

    """
    try:
        client.wait_for_workers(1, timeout=_WORKER_WAIT)
    except TimeoutError as exc:
        raise ConfigError(
            f"No Dask worker joined the scheduler {client.scheduler.address} within {_WORKER_WAIT:g} s. "
            "Start workers with `dask worker ADDRESS` on machines that have featkit installed."
        ) from exc
    token = uuid.uuid4().hex[:8]
    futures = {}
    for w in sorted(client.nthreads()):  # a task on each worker: in a worker thread, not its event loop
        key = f"featkit-prepare-{token}-{w}"
        futures[w] = client.submit(_prepare_worker, folder, config, workers=[w], allow_other_workers=False, key=key)
    reports = {}
    for worker, future in futures.items():
        try:
            report = future.result()
        except ImportError as exc:
            raise ConfigError(
                f"Dask worker {worker} cannot import featkit ({exc}). Install featkit {__version__} on every "
                "worker, in the environment `dask worker` runs in."
            ) from exc
        except Exception as exc:  # whatever the worker raised, the run cannot go on
            raise EncoderError(
                f"Dask worker {worker} cannot load the encoder {config.encoder!r}: {type(exc).__name__}: {exc}. "
                "Workers load it themselves: a file path must exist at the same path on every worker."
            ) from exc
        if report["featkit"] != __version__:
            raise ConfigError(
                f"Dask worker {worker} runs featkit {report['featkit']}, this process runs {__version__}; install "
                "the same version everywhere so that the features are the same."
            )
        if not report["folder_visible"]:
            raise ConfigError(
                f"The videos' folder {folder!r} does not exist on Dask worker {worker} (host {report['host']}). "
                "Workers read the videos themselves: put them on a shared filesystem mounted at the same path "
                "everywhere."
            )
        identity = identity or report["identity"]
        if report["identity"] != identity:
            raise EncoderError(
                f"Dask worker {worker} loads a different encoder for {config.encoder!r} than this process:\n"
                f"  worker: {report['identity']}\n  here:   {identity}\nUse the same encoder files everywhere."
            )
        reports[worker] = report
    return reports


def default_task_timeout(config: ExtractionConfig) -> float | None:
    """Seconds a video's task may run on a worker: the decoding timeout per backend tried, plus two minutes."""
    if not config.timeout:
        return None
    return config.timeout * (2 if config.backend == "auto" else 1) + _TASK_GRACE


class DaskExecutor:
    """Runs the per-video work on a Dask cluster; the results come back here, in task order.

    The same interface as :class:`featkit.executors.LocalExecutor`: a context
    manager with :meth:`start` and :meth:`results`.

    Parameters
    ----------
    config : ExtractionConfig
        The run's settings; workers load ``config.encoder`` themselves.
        ``n_jobs`` does not apply: the cluster's threads decide.
    scheduler : str or distributed.Client
        A client, a scheduler address or a scheduler file (see :func:`connect`).
    task_timeout : float, optional
        Seconds one video may run on a worker before it fails with
        ``timeout`` and the worker is restarted; by default
        :func:`default_task_timeout` of ``config``; ``0`` for no limit.
    poll : float, default=0.5
        Seconds between checks for tasks over time.

    """

    def __init__(
        self, config: ExtractionConfig, scheduler: Any, *, task_timeout: float | None = None, poll: float = 0.5
    ) -> None:
        self.config = config
        self.scheduler = scheduler
        self.task_timeout = default_task_timeout(config) if task_timeout is None else (task_timeout or None)
        self.poll = float(poll)
        self.client: Any = None
        self._owned = False
        self.workers: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<DaskExecutor scheduler={self.scheduler!r} task_timeout={self.task_timeout}>"

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Connect to the scheduler (so a wrong address fails before anything else)."""
        if self.client is None:
            self.client, self._owned = connect(self.scheduler)

    def close(self) -> None:
        """Disconnect (a client passed in stays open)."""
        if self.client is not None and self._owned:
            self.client.close()
        self.client = None

    def prepare(self, folder: str, identity: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Load the encoder on every worker and check them (see :func:`check_workers`)."""
        self.start()
        text = None if identity is None else _identity_text(identity)
        self.workers = check_workers(self.client, os.path.abspath(folder), self.config, text)
        return self.workers

    def results(self, tasks: Sequence[Any], encoder: Any) -> Iterator[VideoResult | FailureRecord]:
        """Run every decode task on the cluster; yield its result or failure, in task order.

        Parameters
        ----------
        tasks : sequence of DecodeTask
            From :func:`featkit.executors.decode_tasks`; relative paths are made
            absolute (workers run elsewhere).
        encoder : Encoder
            The encoder this process stores the identity of; workers must load
            the same.

        Yields
        ------
        VideoResult or FailureRecord

        Raises
        ------
        ConfigError, EncoderError
            If the workers cannot do the work (before any video is sent).

        """
        tasks = [dataclasses.replace(t, source=os.path.abspath(t.source)) for t in tasks]
        if not tasks:
            return
        if not self.workers:
            folder = os.path.commonpath([os.path.dirname(t.source) for t in tasks])
            self.prepare(folder, encoder.identity() if encoder is not None else None)
        yield from self._stream(tasks, next(iter(self.workers.values()))["identity"])

    def _stream(self, tasks: list[Any], identity: str) -> Iterator[VideoResult | FailureRecord]:
        """Submit a bounded window of tasks, yield outcomes in order, enforce the time limit."""
        client, token = self.client, uuid.uuid4().hex[:8]
        todo = deque(enumerate(tasks))
        inflight: deque[tuple[Any, Any]] = deque()
        clock = _TaskClock(client)
        window, sized = 0, -float("inf")
        try:
            while todo or inflight:
                if time.monotonic() - sized > 10.0:  # workers may join or leave
                    # Twice the cluster's threads in flight keeps every worker busy while results are written in order.
                    window, sized = max(4, 2 * sum(client.nthreads().values())), time.monotonic()
                while todo and len(inflight) < window:
                    i, task = todo.popleft()
                    key = f"featkit-video-{token}-{i}"
                    inflight.append((task, client.submit(_run_task, task, self.config, identity, key=key)))
                task, future = inflight[0]
                if not future.done() and future.key not in clock.timed_out:
                    try:
                        future.result(timeout=self.poll if self.task_timeout else None)
                    except TimeoutError:
                        pass  # still running: look for tasks over time
                    except Exception:  # noqa: BLE001 - a failed task: _outcome makes it a record
                        pass
                if self.task_timeout:
                    clock.enforce(inflight, self.task_timeout)
                if future.done() or future.key in clock.timed_out:
                    inflight.popleft()
                    worker = clock.timed_out.pop(future.key, None)
                    yield _timed_out(task, worker, self.task_timeout) if worker else _outcome(task, future)
                    future.release()
        finally:
            for _, future in inflight:
                future.cancel()


class _TaskClock:
    """Time each task has spent running on a worker, from the scheduler's view, polled.

    A worker with ``n`` threads runs at most ``n`` of the tasks the scheduler
    lists as processing on it (it may hold more, queued): only the ``n`` that
    have been listed longest are charged.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.charged: dict[str, float] = {}
        self.seen: dict[str, int] = {}
        self.timed_out: dict[str, str] = {}  # future key -> worker it ran on
        self._last = time.monotonic()
        self._order = 0

    def enforce(self, inflight: deque[tuple[Any, Any]], limit: float) -> None:
        """Charge the running tasks; cancel those over ``limit`` and restart their workers."""
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        nthreads = self.client.nthreads()
        processing = {worker: [str(k) for k in keys] for worker, keys in self.client.processing().items()}
        listed = {key for keys in processing.values() for key in keys}
        for gone in (self.seen.keys() | self.charged.keys()) - listed:
            # Finished, or back in the queue after its worker died: if it runs again, its clock starts afresh.
            self.seen.pop(gone, None)
            self.charged.pop(gone, None)
        where = {}
        for worker, keys in processing.items():
            for key in keys:
                if key not in self.seen:
                    self._order += 1
                    self.seen[key] = self._order
            running = sorted(keys, key=self.seen.__getitem__)[: nthreads.get(worker, 1)]
            for key in running:
                self.charged[key] = self.charged.get(key, 0.0) + elapsed
                where[key] = worker
        stuck = set()
        for _, future in inflight:
            key = str(future.key)
            if future.key in self.timed_out or future.done() or self.charged.get(key, 0.0) <= limit:
                continue
            self.timed_out[future.key] = where.get(key, "?")
            future.cancel()
            stuck.add(where.get(key))
        stuck.discard(None)
        if stuck:
            # Only a new process frees a thread stuck in native code; the worker's nanny starts it.
            self.client.restart_workers(sorted(stuck), raise_for_error=False)


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def _timed_out(task: Any, worker: str, limit: float | None) -> FailureRecord:
    return FailureRecord(
        task.path,
        _TIMEOUT,
        f"its task ran for longer than {limit:g} s on Dask worker {worker}, which was restarted",
        *_stat(task.source),
    )


def _outcome(task: Any, future: Any) -> VideoResult | FailureRecord:
    """A finished future as its result, or a failure record."""
    distributed = _import_distributed()
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return FailureRecord(task.path, WORKER_ERROR, "the Dask cluster cancelled its task", *_stat(task.source))
    exc = future.exception()
    if isinstance(exc, distributed.KilledWorker):
        message = f"Dask workers died while processing it: {exc}"
        return FailureRecord(task.path, _WORKER_CRASHED, message, *_stat(task.source))
    return FailureRecord(task.path, WORKER_ERROR, f"{type(exc).__name__} on a Dask worker: {exc}", *_stat(task.source))


def run_on_dask(
    files: Sequence[VideoFile],
    root: str | os.PathLike[str],
    config: ExtractionConfig,
    scheduler: Any,
    *,
    encoder: Any = None,
) -> Iterator[VideoResult | FailureRecord]:
    """Process videos on a Dask cluster without writing anything; yield their results in the order of ``files``.

    :func:`featkit.extraction.extract` with ``scheduler=`` does this and stores
    the results; this is for callers that want the results themselves.

    Parameters
    ----------
    files : sequence of VideoFile
        The videos, relative to ``root`` (see :func:`featkit.discover.discover_videos`).
    root : path-like
        The folder of the videos (or a single video), at the same path on
        every worker.
    config : ExtractionConfig
        The settings; workers load ``config.encoder`` themselves.
    scheduler : str or distributed.Client
        A client, a scheduler address or a scheduler file.
    encoder : Encoder, optional
        If given, every worker must load an encoder with its identity.

    Yields
    ------
    VideoResult or FailureRecord
        One per file, in order.

    """
    from featkit.executors import decode_tasks

    with DaskExecutor(config, scheduler) as executor:
        identity = None if encoder is None else encoder.identity()
        folder = os.fspath(root) if os.path.isdir(root) else os.path.dirname(os.path.abspath(root))
        reports = executor.prepare(folder, identity)
        size = encoder.input_size if encoder is not None else next(iter(reports.values()))["input_size"]
        yield from executor.results(decode_tasks(files, root, size, config), encoder)
