"""Orchestration of ``featkit extract``: discover -> decode -> encode -> statistics -> store.

Decoding runs in worker processes (:mod:`featkit.workers`), one or more, that
never import TensorFlow and that a hanging or crashing decoder cannot take the
run down with: a video that times out or kills its worker is recorded as failed
and the run goes on. Workers stream each video in windows of frames; the
encoder runs in the main process window by window and keeps only the small
per-clip statistics, so memory does not grow with video length. Only the main
process writes the HDF5 file. Results are committed in the order of the sorted
file list, so the output does not depend on ``n_jobs``.

Where the per-video work runs is one seam: an executor (here
:class:`LocalExecutor`) turns decode tasks into finished
:class:`~featkit.store.VideoResult` or :class:`~featkit.store.FailureRecord`
values, in task order; another executor (e.g. on a cluster) only has to yield
the same.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featkit._signals import deferred_signals, deliver_held_signals
from featkit.config import ExtractionConfig, SamplingConfig
from featkit.discover import VIDEO_EXTENSIONS, Skipped, VideoFile, discover_videos
from featkit.exceptions import ConfigError, VideoDecodeError, VideoError
from featkit.files import sha256_of
from featkit.generative.anomaly import check_scoring, encode_frames
from featkit.io.backends import BACKENDS, backend_versions, backends_for, open_reader
from featkit.io.sampling import ClipPlan, plan_clips
from featkit.motion import motion_jacobian
from featkit.stats import clip_statistics, feature_names, needs_motion
from featkit.store import (
    FailureRecord,
    FeatureStore,
    VideoResult,
    bad_name_failure,
    precheck_output,
    storable_text,
)
from featkit.workers import (
    DecodePool,
    DecodeTask,
    FramesDecoded,
    VideoDone,
    VideoFailed,
    VideoStarted,
    check_plausible,
    file_signature,
    window_frames,
)

__all__ = [
    "ClipReducer",
    "DecodedVideo",
    "ExtractionReport",
    "LocalExecutor",
    "decode_tasks",
    "decode_video",
    "encode_video",
    "extract",
    "extract_list",
]


@dataclass
class DecodedVideo:
    """A video's sampled frames and everything needed to store it (decoded in this process)."""

    file: VideoFile
    video: dict[str, Any]
    plan: ClipPlan
    frame_ids: np.ndarray
    frames: np.ndarray
    starts: np.ndarray
    end: float


@dataclass
class ExtractionReport:
    """What one ``extract`` run did.

    Attributes
    ----------
    output : str
        The feature file.
    n_found : int
        Videos found under the root.
    n_skipped : int
        Videos already in the file (unchanged) or recorded as failed and not retried.
    n_extracted : int
        Videos extracted in this run.
    n_clips : int
        Clips extracted in this run.
    failures : list of FailureRecord
        Videos that failed in this run.
    n_failed_total : int
        Rows of the file's failures table after the run.
    n_pruned : int
        Videos and failure records removed because their files are gone (``prune``).
    elapsed : float
        Seconds.
    skipped : Skipped
        Files under the root passed over as not videos, counted by reason.
    duplicates : list of list of str
        Videos of the file whose content is identical (same sha256), one list
        of stored paths per content; they share one group in
        :func:`featkit.load_features`.

    """

    output: str
    n_found: int = 0
    n_skipped: int = 0
    n_extracted: int = 0
    n_clips: int = 0
    failures: list[FailureRecord] = field(default_factory=list)
    n_failed_total: int = 0
    n_pruned: int = 0
    elapsed: float = 0.0
    skipped: Skipped = field(default_factory=Skipped)
    duplicates: list[list[str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file records no failed video."""
        return self.n_failed_total == 0


def decode_video(
    root: str,
    file: VideoFile,
    size: int,
    sampling: SamplingConfig,
    decode_threads: int = 1,
    *,
    backend: str = "auto",
) -> DecodedVideo | FailureRecord:
    """Decode the frames one video's clips need, in this process; failures are returned, not raised.

    For one video at a time (the scikit-learn extractor); :func:`extract`
    decodes in isolated worker processes instead.

    Parameters
    ----------
    root : str
        The root folder (or the file itself when extracting a single file).
    file : VideoFile
        The video, relative to ``root``.
    size : int
        Side of the square frames the encoder takes.
    sampling : SamplingConfig
        Clip sampling.
    decode_threads : int, default=1
        Decoder threads.
    backend : {"auto", "decord", "pyav"}, default="auto"
        Decoder; ``"auto"`` tries PyAV when decord fails.

    Returns
    -------
    DecodedVideo or FailureRecord

    """
    full = Path(root) if Path(root).is_file() else Path(root) / file.path
    size_bytes, mtime_ns = -1, -1
    notes: list[str] = []
    try:
        st = full.stat()
        size_bytes, mtime_ns = st.st_size, st.st_mtime_ns
        digest = sha256_of(full)
    except OSError as exc:  # missing, unreadable, a FIFO, a device, or a folder named like a video
        return FailureRecord(file.path, "unreadable", f"{type(exc).__name__}: {exc}", size_bytes, mtime_ns)
    names = backends_for(backend, file.path)
    for name in names:
        reader = None
        try:
            reader = open_reader(name, full, size, num_threads=decode_threads)
            info = reader.info
            check_plausible(file.path, info, size_bytes, sampling)
            plan = plan_clips(info.starts, info.end, sampling)
            frame_ids = plan.needed_frames()
            frames = reader.read(frame_ids)
        except VideoError as exc:
            notes.append(f"{name}: {exc.reason}: {exc.message}")
            if name == names[-1]:
                message = exc.message if len(notes) == 1 else "; ".join(notes)
                return FailureRecord(file.path, exc.reason, message, size_bytes, mtime_ns)
            continue
        finally:
            if reader is not None:
                reader.close()
        video = _video_row(file, digest, size_bytes, mtime_ns, info, name)
        return DecodedVideo(file, video, plan, frame_ids, frames, info.starts, info.end)
    raise AssertionError("unreachable: backends_for returns at least one backend")


def _video_row(file: VideoFile, digest: str, size: int, mtime_ns: int, info: Any, backend: str) -> dict[str, Any]:
    return {
        "path": file.path,
        "label": file.label,
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


def encode_video(decoded: DecodedVideo, encoder: Any, stats: tuple[str, ...]) -> VideoResult:
    """Run the encoder on a decoded video and reduce each clip to its statistics."""
    reducer = ClipReducer(decoded.video, decoded.plan, decoded.starts, decoded.end, encoder, stats)
    reducer.add(decoded.frame_ids, decoded.frames)
    return reducer.result()


class ClipReducer:
    """Encode one video's frames as windows arrive and reduce each clip as soon as its frames are in.

    Latents are kept only for frames a clip still to be reduced uses, so
    memory stays that of a window however long the video.

    Parameters
    ----------
    video : dict
        The video's row of the videos table.
    plan : ClipPlan
        Its clips.
    starts : ndarray of shape (n_frames,)
        Frame start times.
    end : float
        End of the last frame.
    encoder : Encoder
        Gives ``encode(frames) -> (mu, logvar)``.
    stats : tuple of str
        Statistics per clip.
    per_frame : bool, default=False
        Also keep μ and log σ² of every sampled frame (``VideoResult.frames``).

    """

    def __init__(
        self,
        video: dict[str, Any],
        plan: ClipPlan,
        starts: np.ndarray,
        end: float,
        encoder: Any,
        stats: Sequence[str],
        *,
        per_frame: bool = False,
    ) -> None:
        self.video, self.plan, self.encoder, self.stats = video, plan, encoder, tuple(stats)
        self._starts = np.asarray(starts, dtype=np.float64)  # frame times, for the time-signed statistics
        self._frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = [] if per_frame else None
        n = plan.n_clips
        first = plan.frame_indices[plan.clip_starts] if n else np.zeros(0, dtype=np.int64)
        last = plan.frame_indices[plan.clip_starts + plan.clip_lengths - 1] if n else np.zeros(0, dtype=np.int64)
        after = last + 1
        self.clips = {
            "start_frame": first.astype(np.int64),
            "end_frame": last.astype(np.int64),
            "start_time": np.asarray(starts, dtype=np.float64)[first],
            # A clip ends when its last frame leaves the screen.
            "end_time": np.where(
                after < len(starts), np.asarray(starts, dtype=np.float64)[np.minimum(after, len(starts) - 1)], end
            ),
            "n_frames": plan.clip_lengths.astype(np.int64),
        }
        self._first, self._last = first, last
        self._rows: list[np.ndarray] = []
        self._ids = np.zeros(0, dtype=np.int64)
        self._mu: np.ndarray | None = None
        self._logvar: np.ndarray | None = None
        self._scores: np.ndarray | None = None  # per-frame scores, only for statistics that need them
        self._jac: np.ndarray | None = None  # per-frame responses to camera moves, only for `motion`

    @property
    def n_done(self) -> int:
        """Clips reduced so far."""
        return len(self._rows)

    @property
    def n_cached(self) -> int:
        """Frames whose latents are held (those of clips not yet reduced)."""
        return len(self._ids)

    def add(self, frame_ids: np.ndarray, frames: np.ndarray) -> None:
        """Encode a window of frames (ids increasing, after those of earlier windows) and reduce finished clips."""
        if len(frame_ids) == 0:
            return
        mu, logvar, scores = encode_frames(self.encoder, frames, self.stats)
        jac = motion_jacobian(lambda f: self.encoder.encode(f)[0], frames, mu) if needs_motion(self.stats) else None
        if self._frames is not None:
            self._frames.append((np.asarray(frame_ids, dtype=np.int64), mu, logvar))
        if self._mu is None:
            self._ids, self._mu, self._logvar = np.asarray(frame_ids, dtype=np.int64), mu, logvar
            self._scores, self._jac = scores, jac
        else:
            self._ids = np.concatenate([self._ids, frame_ids])
            self._mu = np.concatenate([self._mu, mu])
            self._logvar = np.concatenate([self._logvar, logvar])
            self._scores = None if scores is None else np.concatenate([self._scores, scores])
            self._jac = None if jac is None else np.concatenate([self._jac, jac])
        newest = int(frame_ids[-1])
        plan = self.plan
        while self.n_done < plan.n_clips and self._last[self.n_done] <= newest:
            fids = plan.frame_indices[plan.clip_samples(self.n_done)]
            pos = np.searchsorted(self._ids, fids)
            scores = None if self._scores is None else self._scores[pos]
            jacobian = None if self._jac is None else self._jac[pos]
            # Microseconds: decoders report the same timestamp with different float rounding (decord and
            # PyAV differed by 1e-9 s), which would otherwise reach the slope's last bits.
            times = np.round(self._starts[fids], 6)
            self._rows.append(
                clip_statistics(self._mu[pos], self._logvar[pos], self.stats, scores, times=times, jacobian=jacobian)
            )
        keep = self._ids >= self._first[self.n_done] if self.n_done < plan.n_clips else np.zeros(len(self._ids), bool)
        self._ids, self._mu, self._logvar = self._ids[keep], self._mu[keep], self._logvar[keep]
        if self._scores is not None:
            self._scores = self._scores[keep]
        if self._jac is not None:
            self._jac = self._jac[keep]

    def result(self) -> VideoResult:
        """The finished video.

        Raises
        ------
        VideoDecodeError
            If frames some clip needs never arrived.

        """
        if self.n_done != self.plan.n_clips:
            raise VideoDecodeError(
                self.video["path"],
                f"only {self.n_done} of {self.plan.n_clips} clips got all their frames from the decoder",
            )
        width = len(feature_names(self.stats, self.encoder.latent_dim))
        features = np.stack(self._rows) if self._rows else np.zeros((0, width), dtype=np.float32)
        return VideoResult(video=self.video, clips=dict(self.clips), features=features, frames=self._frame_latents())

    def _frame_latents(self) -> dict[str, np.ndarray] | None:
        """Every sampled frame once, in order: its index, start time, μ and log σ² (``per_frame`` only)."""
        if self._frames is None:
            return None
        d = self.encoder.latent_dim
        ids = np.concatenate([f[0] for f in self._frames]) if self._frames else np.zeros(0, dtype=np.int64)
        mu = np.concatenate([f[1] for f in self._frames]) if self._frames else np.zeros((0, d), dtype=np.float32)
        logvar = np.concatenate([f[2] for f in self._frames]) if self._frames else np.zeros((0, d), dtype=np.float32)
        return {
            "frame_index": ids,
            "time": self._starts[ids] if len(ids) else np.zeros(0),
            "mu": mu.astype(np.float32),
            "logvar": logvar.astype(np.float32),
        }


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
            backends=backends_for(config.backend, vf.path),
            decode_threads=config.decode_threads,
            window=window,
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
        backends = BACKENDS if config.backend == "auto" else (config.backend,)
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


def _plan_work(
    files: list[VideoFile], root: Path, store: FeatureStore, retry_failed: bool, timeout: float | None = None
) -> list[VideoFile]:
    """Videos to (re)do: new, changed since stored, or failed and retried; names that cannot be stored fail here."""
    todo = []
    for vf in files:
        full = root if root.is_file() else root / vf.path
        if storable_text(vf.path) != vf.path:  # not valid UTF-8: recorded as failed, never decoded or stored
            size, mtime_ns = file_signature(full)
            failed = store.failures.get(storable_text(vf.path))
            if failed is None or retry_failed or (failed.size, failed.mtime_ns) != (size, mtime_ns):
                store.add_failure(bad_name_failure(vf.path, size, mtime_ns))
            continue
        try:
            st = full.stat()
        except OSError:
            # A broken link: skip it while it stays the same broken link, unless asked; else the worker says why.
            failed = store.failures.get(vf.path)
            if failed is None or retry_failed or (failed.size, failed.mtime_ns) != file_signature(full):
                todo.append(vf)
            continue
        stored = store.videos.get(vf.path)
        if stored is not None:
            if (int(stored["size"]), int(stored["mtime_ns"])) == (st.st_size, st.st_mtime_ns):
                continue
            try:
                if sha256_of(full, timeout=timeout) == stored["sha256"]:
                    continue  # touched, not changed
            except OSError:
                pass  # not a regular file any more, unreadable or too slow: the worker says which
            todo.append(vf)
            continue
        failed = store.failures.get(vf.path)
        if failed is not None and not retry_failed and (failed.size, failed.mtime_ns) == (st.st_size, st.st_mtime_ns):
            continue
        todo.append(vf)
    return todo


#: Failure reason of a folder that could not be listed; its record's path is the folder's, ending in ``/``.
UNREADABLE_FOLDER = "unreadable_folder"


def _record_unreadable_folders(
    store: FeatureStore, unreadable: list[tuple[str, str]], report: ExtractionReport
) -> list[str]:
    """Record each folder that could not be listed as a failure; forget those listed fine again.

    Returns the folders' record paths (``"a/b/"``; ``"./"`` for the root): what is stored under them is
    unknown, not gone, so pruning leaves it alone.
    """
    hidden = [storable_text(f"{folder or '.'}/") for folder, _ in unreadable]
    for path, (_, why) in zip(hidden, unreadable, strict=True):
        message = f"the folder cannot be listed ({why}); its videos are neither extracted nor pruned"
        if path not in store.failures or store.failures[path].message != message:
            record = FailureRecord(path, UNREADABLE_FOLDER, message)
            store.add_failure(record)
            report.failures.append(record)
    for path in [p for p, r in store.failures.items() if r.reason == UNREADABLE_FOLDER and p not in hidden]:
        store.forget_failure(path)
    return hidden


def _under_any(path: str, folders: list[str]) -> bool:
    return any(folder == "./" or path.startswith(folder) for folder in folders)


def extract(
    root: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ExtractionConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool | Callable[[Iterable[Any], int], Iterable[Any]] = True,
    encoder: Any = None,
    scheduler: Any = None,
    add: bool = False,
) -> ExtractionReport:
    """Extract clip features from every video under ``root`` into an HDF5 file.

    Parameters
    ----------
    root : path-like
        Folder searched recursively (see :func:`featkit.discover.discover_videos`),
        or a single video file.
    output : path-like
        The ``.h5`` file. If it exists and was made with the same settings,
        the run resumes: finished videos are skipped, changed ones redone.
    config : ExtractionConfig, optional
        Sampling, encoder, statistics, parallelism, timeout and backend; defaults if omitted.
    overwrite : bool, default=False
        Start a new file instead of resuming.
    progress : bool or callable, default=True
        ``True`` shows a progress bar (videos, clips, ETA) on stderr. A callable
        ``progress(items, total)`` is given the iterable of finished videos
        (:class:`~featkit.store.VideoResult` or
        :class:`~featkit.store.FailureRecord`) and their number, and returns
        an iterable of them, as ``tqdm`` does: ``progress=lambda it, n: tqdm(it, total=n)``.
    encoder : Encoder, optional
        An already loaded encoder, used instead of ``config.encoder``.
    scheduler : str or distributed.Client, optional
        Run the per-video work on this Dask cluster instead (overrides
        ``config.scheduler``); its workers load ``config.encoder``
        themselves and must load the same encoder. See :mod:`featkit.distributed`.
    add : bool, default=False
        Add the videos of ``root`` to a file made from another folder. By
        default a file records its input folder and refuses another one.

    Returns
    -------
    ExtractionReport

    Raises
    ------
    ConfigError
        If ``root`` does not exist or holds no video.
    StoreError
        If the output is locked, belongs to other settings, or cannot be written.
    EncoderError
        If the encoder cannot be loaded.

    """
    t0 = time.monotonic()
    config = config or ExtractionConfig()
    root_path = Path(root)
    if not root_path.exists():
        raise ConfigError(f"The input folder {os.fspath(root)!r} does not exist.")
    root_name = os.fspath(root_path.resolve())
    # Before the encoder loads (seconds of TensorFlow): a wrong -o or an empty folder fails at once.
    precheck_output(
        output,
        overwrite=overwrite,
        sampling=config.sampling.to_dict(),
        stats=config.stats,
        precision=config.precision,
        root=root_name,
        add_root=add,
        per_frame=config.per_frame,
    )
    if config.per_frame and (scheduler or config.scheduler):
        raise ConfigError(
            "per_frame=True (--per-frame) runs locally only; it cannot be combined with a Dask scheduler."
        )
    skipped = Skipped()
    unreadable: list[tuple[str, str]] = []
    files = discover_videos(
        root_path, include=config.include, exclude=config.exclude, skipped=skipped, unreadable=unreadable
    )
    if not files and not unreadable:
        raise ConfigError(_no_videos_message(root, skipped, config))
    report = _extract_files(
        root_path,
        root_name,
        files,
        {},
        output,
        config,
        overwrite,
        progress,
        encoder,
        scheduler,
        add,
        t0,
        unreadable,
    )
    report.skipped = skipped
    return report


def extract_list(
    list_file: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ExtractionConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool | Callable[[Iterable[Any], int], Iterable[Any]] = True,
    encoder: Any = None,
    scheduler: Any = None,
    add: bool = False,
) -> ExtractionReport:
    """Extract the videos a CSV or text list names, with their labels and groups, into an HDF5 file.

    Parameters
    ----------
    list_file : path-like
        See :func:`featkit.discover.read_video_list`: one video per line,
        optionally with a label and a group; relative paths resolve against
        the list's folder, and are stored relative to it.
    output, config, overwrite, progress, encoder, scheduler, add
        As for :func:`extract`; the file records the list as its input.

    Returns
    -------
    ExtractionReport

    Raises
    ------
    ConfigError
        If the list cannot be read, is malformed or names no video.
    StoreError, EncoderError
        As for :func:`extract`.

    """
    from featkit.discover import read_video_list

    t0 = time.monotonic()
    config = config or ExtractionConfig()
    base, files, groups = read_video_list(list_file)
    root_name = os.fspath(Path(list_file).resolve())
    precheck_output(
        output,
        overwrite=overwrite,
        sampling=config.sampling.to_dict(),
        stats=config.stats,
        precision=config.precision,
        root=root_name,
        add_root=add,
        per_frame=config.per_frame,
    )
    return _extract_files(
        base, root_name, files, groups, output, config, overwrite, progress, encoder, scheduler, add, t0, []
    )


def _extract_files(
    root_path: Path,
    root_name: str,
    files: list[VideoFile],
    groups: dict[str, str],
    output: Any,
    config: ExtractionConfig,
    overwrite: bool,
    progress: Any,
    encoder: Any,
    scheduler: Any,
    add: bool,
    t0: float,
    unreadable: list[tuple[str, str]],
) -> ExtractionReport:
    # SIGINT/SIGTERM are held and take effect at safe points (between windows and videos), so they never land
    # inside h5py or TensorFlow code; the store then saves what was finished.
    with deferred_signals(), _executor(config, scheduler) as executor:
        executor.start()  # workers import their decoders while the encoder loads
        return _extract(
            root_path,
            output,
            config,
            executor,
            overwrite=overwrite,
            progress=progress,
            encoder=encoder,
            t0=t0,
            files=files,
            root_name=root_name,
            add=add,
            groups=groups,
            unreadable=unreadable,
        )


def _no_videos_message(root: Any, skipped: Skipped, config: ExtractionConfig) -> str:
    found = f"passed over {skipped.summary()}" if skipped else "it is empty"
    if config.include:
        rule = f"no file matches --include {' '.join(config.include)}"
    else:
        rule = "featkit takes files ending in " + " ".join(sorted(VIDEO_EXTENSIONS))
    return (
        f"No videos found under {os.fspath(root)}: {found}. {rule}. "
        "Check the folder, or use --include GLOB (e.g. --include '*.bin') to take other files."
    )


def _executor(config: ExtractionConfig, scheduler: Any = None) -> Any:
    """Where the per-video work runs: here, or on a Dask cluster (``scheduler``, else ``config.scheduler``)."""
    scheduler = config.scheduler if scheduler is None else scheduler
    if scheduler is None:
        return LocalExecutor(config)
    from featkit.distributed import DaskExecutor

    return DaskExecutor(config, scheduler)


def _extract(
    root_path: Path,
    output: str | os.PathLike[str],
    config: ExtractionConfig,
    executor: LocalExecutor,
    *,
    overwrite: bool,
    progress: Any,
    encoder: Any,
    t0: float,
    files: list[VideoFile],
    root_name: str,
    add: bool,
    groups: dict[str, str],
    unreadable: list[tuple[str, str]],
) -> ExtractionReport:
    from featkit.encoders import load_encoder

    report = ExtractionReport(output=os.fspath(output), n_found=len(files))
    if encoder is None:
        encoder = load_encoder(config.encoder, batch_size=config.batch_size, precision=config.precision)
    deliver_held_signals()
    check_scoring(encoder, config.stats)  # before anything is written: the anomaly statistic needs a decoder
    meta = {
        "encoder": encoder.identity(),
        "sampling": config.sampling.to_dict(),
        "stats": list(config.stats),
        "extraction": config.to_dict(),
        "feature_names": feature_names(config.stats, encoder.latent_dim),
        "decoder": backend_versions(config.backend),
        "root": root_name,
    }
    with FeatureStore.open(output, meta, overwrite=overwrite, add_root=add) as store:
        hidden = _record_unreadable_folders(store, unreadable, report)
        if config.prune:  # videos deleted since an earlier run leave the file; those in unlistable folders stay
            present = {storable_text(vf.path) for vf in files}
            present |= {p for p in store.videos.keys() | store.failures.keys() if _under_any(p, hidden)}
            report.n_pruned = len(store.prune(present))
        before = dict(store.failures)
        todo = _plan_work(files, root_path, store, config.retry_failed, config.timeout)
        report.failures += [r for p, r in store.failures.items() if before.get(p) is not r]  # bad names
        report.n_skipped = len(files) - len(todo)
        tasks = decode_tasks(todo, root_path, encoder.input_size, config)
        bar = _progress_bar(len(todo), progress)
        items = executor.results(tasks, encoder)
        if callable(progress):
            items = progress(items, len(todo))
        try:
            for item in items:
                deliver_held_signals()
                if isinstance(item, FailureRecord):
                    store.add_failure(item)
                    report.failures.append(item)
                else:
                    item.video["group"] = groups.get(item.video["path"], "")  # from a --list, else none
                    store.add_video(item)
                    report.n_extracted += 1
                    report.n_clips += item.features.shape[0]
                if bar is not None:
                    bar.set_postfix(clips=report.n_clips, failed=len(report.failures), refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        store.commit()
        report.n_failed_total = len(store.failures)
        report.duplicates = _duplicates(store.videos)
    report.elapsed = time.monotonic() - t0
    return report


def _duplicates(videos: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Stored paths whose content is identical (same sha256), one sorted list per content seen twice or more."""
    by_digest: dict[str, list[str]] = {}
    for path, row in videos.items():
        by_digest.setdefault(str(row["sha256"]), []).append(path)
    return sorted(sorted(paths) for paths in by_digest.values() if len(paths) > 1)


def _progress_bar(total: int, progress: Any) -> Any:
    if not progress or callable(progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc="featkit extract", dynamic_ncols=True)
