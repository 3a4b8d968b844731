"""Orchestration of ``featkit extract``: discover -> decode -> encode -> statistics -> store.

Decoding runs in a background thread (``n_jobs=1``) or in joblib worker
processes that never import TensorFlow; the encoder runs in the main process,
and only the main process writes the HDF5 file. Results are committed in the
order of the sorted file list, so the output does not depend on ``n_jobs``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featkit.config import ExtractionConfig, SamplingConfig
from featkit.discover import VideoFile, discover_videos
from featkit.exceptions import ConfigError, VideoError
from featkit.io.sampling import ClipPlan, plan_clips
from featkit.stats import clip_statistics, feature_names
from featkit.store import FailureRecord, FeatureStore, VideoResult, sha256_of

__all__ = ["DecodedVideo", "ExtractionReport", "decode_video", "extract"]


@dataclass
class DecodedVideo:
    """A video's sampled frames and everything needed to store it (a worker's result)."""

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
    elapsed : float
        Seconds.

    """

    output: str
    n_found: int = 0
    n_skipped: int = 0
    n_extracted: int = 0
    n_clips: int = 0
    failures: list[FailureRecord] = field(default_factory=list)
    n_failed_total: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the file records no failed video."""
        return self.n_failed_total == 0


def decode_video(
    root: str, file: VideoFile, size: int, sampling: SamplingConfig, decode_threads: int = 1
) -> DecodedVideo | FailureRecord:
    """Decode the frames one video's clips need; failures are returned, not raised.

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

    Returns
    -------
    DecodedVideo or FailureRecord

    """
    from featkit.io.video import DecordReader

    full = Path(root) if Path(root).is_file() else Path(root) / file.path
    size_bytes, mtime_ns = -1, -1
    try:
        st = full.stat()
        size_bytes, mtime_ns = st.st_size, st.st_mtime_ns
        digest = sha256_of(full)
        reader = DecordReader(full, size, num_threads=decode_threads)
        info = reader.info
        plan = plan_clips(info.starts, info.end, sampling)
        frame_ids = plan.needed_frames()
        frames = reader.read(frame_ids)
    except VideoError as exc:
        return FailureRecord(file.path, exc.reason, exc.message, size_bytes, mtime_ns)
    except OSError as exc:  # missing, unreadable, or a folder named like a video
        return FailureRecord(file.path, "unreadable", f"{type(exc).__name__}: {exc}", size_bytes, mtime_ns)
    video = {
        "path": file.path,
        "label": file.label,
        "sha256": digest,
        "size": size_bytes,
        "mtime_ns": mtime_ns,
        "fps": info.avg_fps,
        "n_frames": info.n_frames,
        "duration": info.end,
        "width": info.width,
        "height": info.height,
        "timestamp_source": info.timestamp_source,
    }
    return DecodedVideo(file, video, plan, frame_ids, frames, info.starts, info.end)


def encode_video(decoded: DecodedVideo, encoder: Any, stats: tuple[str, ...]) -> VideoResult:
    """Run the encoder on a decoded video and reduce each clip to its statistics."""
    plan = decoded.plan
    mu, logvar = encoder.encode(decoded.frames)
    rows = []
    n = plan.n_clips
    clips = {k: np.empty(n, dtype=np.float64) for k in ("start_time", "end_time")}
    clips.update({k: np.empty(n, dtype=np.int64) for k in ("start_frame", "end_frame", "n_frames")})
    for i in range(n):
        fids = plan.frame_indices[plan.clip_samples(i)]
        pos = np.searchsorted(decoded.frame_ids, fids)
        rows.append(clip_statistics(mu[pos], logvar[pos], stats))
        clips["start_frame"][i], clips["end_frame"][i] = fids[0], fids[-1]
        clips["start_time"][i] = decoded.starts[fids[0]]
        last = int(fids[-1])
        clips["end_time"][i] = decoded.starts[last + 1] if last + 1 < len(decoded.starts) else decoded.end
        clips["n_frames"][i] = len(fids)
    width = len(stats) * encoder.latent_dim
    features = np.stack(rows) if rows else np.zeros((0, width), dtype=np.float32)
    return VideoResult(video=decoded.video, clips=clips, features=features)


def _plan_work(files: list[VideoFile], root: Path, store: FeatureStore, retry_failed: bool) -> list[VideoFile]:
    """Videos to (re)do: new, changed since stored, or failed and retried."""
    todo = []
    for vf in files:
        full = root if root.is_file() else root / vf.path
        try:
            st = full.stat()
        except OSError:
            todo.append(vf)  # let the worker record why
            continue
        stored = store.videos.get(vf.path)
        if stored is not None:
            if (int(stored["size"]), int(stored["mtime_ns"])) == (st.st_size, st.st_mtime_ns):
                continue
            try:
                if sha256_of(full) == stored["sha256"]:
                    continue  # touched, not changed
            except OSError:
                pass
            todo.append(vf)
            continue
        failed = store.failures.get(vf.path)
        if failed is not None and not retry_failed and (failed.size, failed.mtime_ns) == (st.st_size, st.st_mtime_ns):
            continue
        todo.append(vf)
    return todo


def _decoded_stream(
    todo: list[VideoFile], root: str, size: int, config: ExtractionConfig
) -> Iterator[DecodedVideo | FailureRecord]:
    """Decode videos ahead of the consumer, yielding results in ``todo`` order."""
    args = (size, config.sampling, config.decode_threads)
    if config.n_jobs == 1:
        # One decoding thread keeps the decoder busy while the main thread encodes.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="featkit-decode") as pool:
            window: deque[Any] = deque()
            it = iter(todo)
            for vf in it:
                window.append(pool.submit(decode_video, root, vf, *args))
                if len(window) >= 2:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator", pre_dispatch="2*n_jobs", backend="loky")
    yield from parallel(delayed(decode_video)(root, vf, *args) for vf in todo)


def extract(
    root: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ExtractionConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool | Callable[[Iterable[Any], int], Iterable[Any]] = True,
    encoder: Any = None,
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
        Sampling, encoder, statistics and parallelism; defaults if omitted.
    overwrite : bool, default=False
        Start a new file instead of resuming.
    progress : bool, default=True
        Show a progress bar (videos, clips, ETA) on stderr.
    encoder : Encoder, optional
        An already loaded encoder, used instead of ``config.encoder``.

    Returns
    -------
    ExtractionReport

    Raises
    ------
    ConfigError
        If ``root`` does not exist.
    StoreError
        If the output is locked, belongs to other settings, or cannot be written.
    EncoderError
        If the encoder cannot be loaded.

    """
    from featkit.encoders import load_encoder
    from featkit.io.video import decoder_version

    t0 = time.monotonic()
    config = config or ExtractionConfig()
    root_path = Path(root)
    if not root_path.exists():
        raise ConfigError(f"The input folder {os.fspath(root)!r} does not exist.")
    files = discover_videos(root_path)
    report = ExtractionReport(output=os.fspath(output), n_found=len(files))
    if encoder is None:
        encoder = load_encoder(config.encoder, batch_size=config.batch_size)
    meta = {
        "encoder": encoder.identity(),
        "sampling": config.sampling.to_dict(),
        "stats": list(config.stats),
        "extraction": config.to_dict(),
        "feature_names": feature_names(config.stats, encoder.latent_dim),
        "decoder": decoder_version(),
    }
    with FeatureStore.open(output, meta, overwrite=overwrite) as store:
        todo = _plan_work(files, root_path, store, config.retry_failed)
        report.n_skipped = len(files) - len(todo)
        bar = _progress_bar(len(todo), progress)
        try:
            for item in _decoded_stream(todo, os.fspath(root_path), encoder.input_size, config):
                if isinstance(item, FailureRecord):
                    store.add_failure(item)
                    report.failures.append(item)
                else:
                    result = encode_video(item, encoder, config.stats)
                    store.add_video(result)
                    report.n_extracted += 1
                    report.n_clips += result.features.shape[0]
                if bar is not None:
                    bar.set_postfix(clips=report.n_clips, failed=len(report.failures), refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        store.commit()
        report.n_failed_total = len(store.failures)
    report.elapsed = time.monotonic() - t0
    return report


def _progress_bar(total: int, progress: Any) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc="featkit extract", dynamic_ncols=True)
