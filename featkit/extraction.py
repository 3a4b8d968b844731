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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from featkit._signals import deferred_signals, deliver_held_signals
from featkit.config import ExtractionConfig, SamplingConfig
from featkit.discover import VIDEO_EXTENSIONS, Skipped, VideoFile, discover_videos
from featkit.exceptions import ConfigError, VideoError
from featkit.executors import Executor, LocalExecutor, decode_tasks
from featkit.files import sha256_of
from featkit.io.backends import backend_versions, backends_for, open_reader
from featkit.io.sampling import ClipPlan, plan_clips
from featkit.reduce import ClipReducer, check_scoring, encode_video, stats_for_encoder
from featkit.stats import definition_versions, feature_names
from featkit.store import (
    FailureRecord,
    FeatureStore,
    bad_name_failure,
    precheck_output,
    storable_text,
)
from featkit.workers import check_plausible, file_signature, video_row

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
    "store_metadata",
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
        Decoder; ``"auto"`` as :func:`featkit.io.backends.backends_for` says.

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
    names = backends_for(backend, file.path, sparse=sampling.fps is not None)
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
        video = video_row(file.path, file.label, digest, size_bytes, mtime_ns, info, name)
        return DecodedVideo(file, video, plan, frame_ids, frames, info.starts, info.end)
    raise AssertionError("unreachable: backends_for returns at least one backend")


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
    with deferred_signals(), _make_executor(config, scheduler) as executor:
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


def _make_executor(config: ExtractionConfig, scheduler: Any = None) -> Executor:
    """Where the per-video work runs: here, or on a Dask cluster (``scheduler``, else ``config.scheduler``)."""
    scheduler = config.scheduler if scheduler is None else scheduler
    if scheduler is None:
        return LocalExecutor(config)
    from featkit.distributed import DaskExecutor

    return DaskExecutor(config, scheduler)


def store_metadata(config: ExtractionConfig, encoder: Any, root_name: str | None = None) -> dict[str, Any]:
    """What a feature file records of a run, and a resumed run must match: encoder, sampling, statistics."""
    return {
        "encoder": encoder.identity(),
        "sampling": config.sampling.to_dict(),
        "stats": list(config.stats),
        "stat_versions": definition_versions(config.stats),
        "extraction": config.to_dict(),
        "feature_names": feature_names(config.stats, encoder.latent_dim),
        "decoder": backend_versions(config.backend),
        "root": root_name,
    }


def _extract(
    root_path: Path,
    output: str | os.PathLike[str],
    config: ExtractionConfig,
    executor: Executor,
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
    from featkit.encoders.lite import threads_beside

    report = ExtractionReport(output=os.fspath(output), n_found=len(files))
    if encoder is None:
        encoder = load_encoder(
            config.encoder,
            batch_size=config.batch_size,
            precision=config.precision,
            runtime=config.runtime,
            num_threads=threads_beside(config.n_jobs),  # the decode workers have the other cores
        )
    deliver_held_signals()
    stats = stats_for_encoder(encoder, config.stats)
    if stats != config.stats:  # the default set, for an encoder without a decoder: no polarity
        config = replace(config, stats=stats)
        executor.config = config
    check_scoring(encoder, config.stats)  # before anything is written: anomaly and polarity need a decoder
    meta = store_metadata(config, encoder, root_name)
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
