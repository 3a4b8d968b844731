"""Where the per-video work runs: the executor seam, and the local executor.

An executor is a context manager with :meth:`start` (may be a no-op) and
:meth:`results`, which turns decode tasks (:func:`decode_tasks`) into one
finished :class:`~featkit.store.VideoResult` or
:class:`~featkit.store.FailureRecord` per task, in task order, never raising
for a bad video. :class:`LocalExecutor` decodes in isolated worker processes
and encodes here; :class:`featkit.distributed.DaskExecutor` runs each video as
a Dask task. :func:`featkit.extraction.extract` does not care which.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from featkit._signals import deliver_held_signals
from featkit.config import ExtractionConfig
from featkit.discover import VideoFile
from featkit.exceptions import VideoDecodeError
from featkit.io.backends import backends_for, run_backends
from featkit.reduce import ClipReducer
from featkit.store import FailureRecord, VideoResult
from featkit.workers.messages import DecodeTask, FramesDecoded, VideoDone, VideoFailed, VideoStarted, window_frames
from featkit.workers.pool import DecodePool

__all__ = ["Executor", "LocalExecutor", "decode_tasks"]


class Executor(Protocol):
    """What :func:`featkit.extraction.extract` needs from wherever the per-video work runs."""

    #: The run's settings; extraction may narrow its ``stats`` once the encoder is loaded, before :meth:`results`.
    config: ExtractionConfig

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def start(self) -> None:
        """Get ready (start processes, connect) while the encoder loads; may do nothing."""

    def results(self, tasks: Sequence[DecodeTask], encoder: Any) -> Iterator[VideoResult | FailureRecord]:
        """One result or failure per task, in task order, never raising for a bad video."""
        ...


def decode_tasks(
    todo: Iterable[VideoFile], root: str | os.PathLike[str], size: int, config: ExtractionConfig
) -> list[DecodeTask]:
    """The decode task of each video, in order (what an executor runs).

    Parameters
    ----------
    todo : iterable of VideoFile
        The videos, relative to ``root``.
    root : path-like
        The root folder, or a single video file.
    size : int
        The encoder's input size.
    config : ExtractionConfig
        Sampling, backend, decoder threads and batch size (windows are whole batches).

    Returns
    -------
    list of DecodeTask

    """
    root_path = Path(root)
    single = root_path.is_file()
    window = window_frames(size, config.batch_size)
    return [
        DecodeTask(
            source=os.fspath(root_path if single else root_path / vf.path),
            path=vf.path,
            label=vf.label,
            size=size,
            sampling=config.sampling,
            backends=backends_for(config.backend, vf.path, sparse=config.sampling.fps is not None),
            decode_threads=config.decode_threads,
            window=window,
            tail_window=config.batch_size,
        )
        for vf in todo
    ]


class LocalExecutor:
    """Runs the per-video work on this machine: decoding in a :class:`~featkit.workers.DecodePool`, encoding here.

    This is the seam where per-video work is placed. An executor is a context
    manager with :meth:`start` (may be a no-op) and :meth:`results`, which
    turns decode tasks into one finished result per task, in task order,
    never raising for a bad video. Another executor (e.g. on a cluster) only
    has to do the same; :func:`extract` does not care where the work ran.

    Parameters
    ----------
    config : ExtractionConfig
        ``n_jobs``, ``timeout``, ``backend`` and ``stats`` are used.

    """

    def __init__(self, config: ExtractionConfig) -> None:
        self.config = config
        backends = run_backends(config.backend, sparse=config.sampling.fps is not None)
        self.pool = DecodePool(config.n_jobs, timeout=config.timeout, backends=backends)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the decoding processes, so they get ready while the encoder loads."""
        self.pool.start()

    def close(self) -> None:
        """Stop the decoding processes."""
        self.pool.close()

    def results(self, tasks: Sequence[DecodeTask], encoder: Any) -> Iterator[VideoResult | FailureRecord]:
        """Decode and encode every task; yield its result or failure, in task order.

        Parameters
        ----------
        tasks : sequence of DecodeTask
            From :func:`decode_tasks`.
        encoder : Encoder
            The loaded encoder (runs in this process).

        Yields
        ------
        VideoResult or FailureRecord

        """
        reducer: ClipReducer | None = None
        for event in self.pool.run(tasks):
            deliver_held_signals()  # Ctrl-C takes effect here, between windows, never inside TensorFlow
            if isinstance(event, VideoStarted):  # also after a fallback: what came before is void
                reducer = ClipReducer(
                    event.video,
                    event.plan,
                    event.starts,
                    event.end,
                    encoder,
                    self.config.stats,
                    per_frame=self.config.per_frame,
                )
            elif isinstance(event, FramesDecoded):
                if reducer is not None:
                    reducer.add(event.frame_ids, event.frames)
            elif isinstance(event, VideoDone):
                yield _finish(reducer, event.task)
                reducer = None
            elif isinstance(event, VideoFailed):
                reducer = None
                yield FailureRecord(event.task.path, event.reason, event.message, event.size, event.mtime_ns)


def _finish(reducer: ClipReducer | None, task: DecodeTask) -> VideoResult | FailureRecord:
    """The reduced video, or a ``decode_failed`` record if the decoder ended without all its frames."""
    try:
        if reducer is None:
            raise VideoDecodeError(task.path, "the decoder finished without starting the video")
        return reducer.result()
    except VideoDecodeError as exc:
        video = reducer.video if reducer is not None else {}
        return FailureRecord(task.path, exc.reason, exc.message, video.get("size", -1), video.get("mtime_ns", -1))
