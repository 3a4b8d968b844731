"""Reading frames from one video file with decord (the only module that imports decord).

The reader opens a file, reads the container's frame timestamps, and decodes
chosen frames in small batches, resized in the decoder (shorter side to the
encoder's input size, then a centre crop), so memory stays small even for
high-resolution videos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from featkit.exceptions import VideoDecodeError, VideoOpenError
from featkit.io.truncation import is_cut_short

__all__ = ["DecordReader", "VideoInfo", "decoder_version"]

# decord reports failures through several exception types depending on where
# in its native code they arise; these are the ones it is known to raise.
# Timestamps beyond ~3 years are decord's rendering of a missing value.
_MAX_SECONDS = 1e8
_DECODER_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, IndexError, ValueError, OSError)


def decoder_version() -> str:
    """Return the decoder's name and version, e.g. ``"decord 3.4.0"``."""
    import decord

    return f"decord {decord.__version__}"


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes
    ----------
    n_frames : int
        Number of video frames.
    avg_fps : float
        Average frame rate (informational; sampling uses ``starts``).
    width, height : int
        Native frame size in pixels.
    starts : ndarray of shape (n_frames,)
        Presentation start time of each frame, in seconds from the first frame.
    end : float
        End time of the last frame (the duration), in seconds.
    timestamp_source : str
        ``"container"`` when the times come from the file, ``"fps"`` when the
        file's timestamps were unusable and ``index / avg_fps`` was used.

    """

    n_frames: int
    avg_fps: float
    width: int
    height: int
    starts: np.ndarray
    end: float
    timestamp_source: str


# Output widths that decord 3.4 returns corrupted (wrong shape) for any codec,
# measured for widths 2..400 (tests/videofactory.py keeps the same list).
_BROKEN_WIDTHS = frozenset({2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96, 144})


#: Most frames one forward decoder call covers (~12 MB at 64 px): bounds memory at sparse sampling.
_MAX_SPAN = 1024
#: Above this worst-case look-ahead (:attr:`DecordReader.lookahead_bytes`; 128 MiB is about 10,000
#: frames at 64x64, 5.5 minutes at 30 fps) ``"auto"`` reads the video with PyAV instead, which decodes
#: only when asked, so a worker's memory does not grow with the video's length.
MAX_LOOKAHEAD_BYTES = 128 * 2**20


def _resize_target(width: int, height: int, size: int) -> tuple[int, int]:
    """Width and height after scaling the shorter side to ``size``.

    A width decord cannot produce is widened by a pixel or two; the centre
    crop removes the difference.
    """
    scale = size / min(width, height)
    tw, th = max(size, round(width * scale)), max(size, round(height * scale))
    while tw in _BROKEN_WIDTHS:
        tw += 1
    return tw, th


class DecordReader:
    """Decode frames of one video, resized and centre-cropped to ``size`` x ``size``.

    Parameters
    ----------
    path : str or os.PathLike
        The video file.
    size : int
        Side of the square frames returned.
    num_threads : int, default=1
        decord decoding threads (1 or 2; more breaks VP9 decoding).

    Raises
    ------
    VideoOpenError
        If decord cannot open the file or it holds no video frame.
    VideoDecodeError
        If the file opens but its first frame or timestamps cannot be read.

    """

    name = "decord"

    def __init__(self, path: str | os.PathLike[str], size: int, *, num_threads: int = 1) -> None:
        import decord

        self.path = os.fspath(path)
        self.size = int(size)
        errors = (*_DECODER_ERRORS, decord.DECORDError)
        self._errors = errors
        if is_cut_short(self.path):
            # decord's last frames of such a file repeat the one before or carry other frames' times;
            # "auto" then reads it with PyAV, which keeps each intact frame at its own time.
            raise VideoDecodeError(
                self.path, "the file is shorter than its container header says (cut short); decord misreads its tail"
            )
        try:
            probe = decord.VideoReader(self.path, num_threads=num_threads)
        except errors as exc:
            raise VideoOpenError(self.path, f"{type(exc).__name__}: {_first_line(exc)}") from exc
        n = len(probe)
        if n == 0:
            raise VideoOpenError(self.path, "the file has no video frames")
        try:
            height, width = probe[0].shape[:2]
            times = probe.get_frame_timestamp(np.arange(n))
        except errors as exc:
            raise VideoDecodeError(self.path, f"{type(exc).__name__}: {_first_line(exc)}") from exc
        avg_fps = float(probe.get_avg_fps())
        del probe
        self.info = _make_info(self.path, n, avg_fps, int(width), int(height), np.asarray(times, dtype=np.float64))
        if self.info.timestamp_source == "container_repaired":
            # Some frames without a time (AVI with packed B-frames, MPEG-4 Part 2): the times decord does
            # give are then off (measured 1.5x too far apart) and its seeks land on other frames, so "auto"
            # reads such a file with PyAV, which gets both right (tests/integration/test_backends.py).
            raise VideoDecodeError(
                self.path, "decord has no timestamp for some frames, so its frame times and seeks are unreliable"
            )
        tw, th = _resize_target(self.info.width, self.info.height, self.size)
        try:
            self._reader = decord.VideoReader(self.path, width=tw, height=th, num_threads=num_threads)
        except errors as exc:
            raise VideoOpenError(self.path, f"{type(exc).__name__}: {_first_line(exc)}") from exc
        self._crop = ((th - self.size) // 2, (tw - self.size) // 2)
        #: What decord may hold decoding ahead: its decoder thread does not wait for the reader
        #: (dmlc/decord#157), so while the caller is slower it queues frames, up to the whole video.
        self.lookahead_bytes = int(self.info.n_frames) * tw * th * 3
        # Frames are always decoded forward, never by seeking: decord's get_batch of sparse indices
        # returned the frame of an earlier seek point for a third of the frames sampled from a long
        # H.264 MP4 (bbb_full.mp4: 1,589 of 4,768; benchmarks/bench_exact.py) and other frames from run
        # to run on AVIs without an index. Forward decoding gives the frames of a sequential PyAV
        # decode, for ~6 % more time at 8 fps of 24 fps footage.
        self._position = 0  # next frame a read decodes

    def read(self, indices: np.ndarray, *, batch: int = 32) -> np.ndarray:
        """Decode the given frames.

        Parameters
        ----------
        indices : ndarray of int, shape (n,)
            Sorted frame indices. Successive calls with increasing indices
            continue decoding where the last one stopped.
        batch : int, default=32
            Wanted frames per decoder call (bounds peak memory).

        Returns
        -------
        ndarray of shape (n, size, size, 3), uint8

        """
        return self._read_forward(np.asarray(indices, dtype=np.int64), batch)

    def _batch(self, chunk: list[int]) -> np.ndarray:
        """The frames at ``chunk`` as decord decodes them (resized, not yet cropped), checked."""
        try:
            frames = self._reader.get_batch(chunk).asnumpy()
        except self._errors as exc:
            raise VideoDecodeError(
                self.path, f"frames {chunk[0]}..{chunk[-1]}: {type(exc).__name__}: {_first_line(exc)}"
            ) from exc
        if frames.ndim != 4 or frames.shape[0] != len(chunk) or frames.shape[3] != 3:
            raise VideoDecodeError(
                self.path,
                f"asked for {len(chunk)} RGB frames at {chunk[0]}..{chunk[-1]}, got an array of shape {frames.shape}",
            )
        return frames

    def _read_forward(self, indices: np.ndarray, batch: int) -> np.ndarray:
        """Decode every frame from the current position up to the last wanted one, keeping the wanted ones.

        Reads of increasing indices (the windows of one video) continue where
        the last one stopped; going back restarts from frame 0. Each decoder
        call covers ``batch`` wanted frames, at most :data:`_MAX_SPAN` frames.
        """
        out = np.empty((len(indices), self.size, self.size, 3), dtype=np.uint8)
        if not len(indices):
            return out
        if indices[0] < self._position:
            self._reader.seek(0)
            self._position = 0
        y0, x0 = self._crop
        done = 0
        while done < len(indices):
            last = int(indices[min(done + batch, len(indices)) - 1])
            hi = min(last + 1, self._position + _MAX_SPAN)
            chunk = list(range(self._position, hi))
            frames = self._batch(chunk)
            self._position = hi
            take = indices[done:][indices[done:] < hi]
            out[done : done + len(take)] = frames[take - chunk[0], y0 : y0 + self.size, x0 : x0 + self.size]
            done += len(take)
        return out

    def close(self) -> None:
        """Release the decoder: decord frees its native buffers (~1 KB per frame of the video) only then."""
        self._reader = None


def _make_info(path: str, n: int, avg_fps: float, width: int, height: int, times: np.ndarray) -> VideoInfo:
    """Frame start times from the container, repaired where some are missing.

    Containers without timestamps for some frames (decord then reports values
    near -4e17, e.g. AVI files) get those frames' times interpolated from their
    neighbours; when fewer than half are usable, or they go backwards, times
    fall back to ``index / avg_fps``.
    """
    fps_ok = bool(np.isfinite(avg_fps) and avg_fps > 0)
    if times.ndim == 2 and times.shape[0] == n:
        starts, ends = times[:, 0].copy(), times[:, 1]
        good = np.isfinite(starts) & (np.abs(starts) < _MAX_SECONDS)
    else:
        starts, ends, good = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    source = "container"
    if good.sum() >= max(1, n // 2) and good.sum() < n:
        gi = np.flatnonzero(good)
        step = (
            float(np.median(np.diff(starts[gi]) / np.diff(gi))) if gi.size > 1 else (1.0 / avg_fps if fps_ok else 0.0)
        )
        idx = np.arange(n)
        filled = np.interp(idx, gi, starts[gi])
        filled[idx < gi[0]] = starts[gi[0]] - (gi[0] - idx[idx < gi[0]]) * step
        filled[idx > gi[-1]] = starts[gi[-1]] + (idx[idx > gi[-1]] - gi[-1]) * step
        starts, source = filled, "container_repaired"
    usable = bool(good.sum() >= max(1, n // 2) and np.all(np.diff(starts) >= 0))
    if usable:
        t0 = starts[0]
        last_end = float(ends[-1]) if good[-1] and np.isfinite(ends[-1]) and ends[-1] > starts[-1] else np.nan
        if not np.isfinite(last_end):
            gaps = np.diff(starts)
            last_end = float(starts[-1] + (np.median(gaps) if gaps.size else (1.0 / avg_fps if fps_ok else 1.0)))
        return VideoInfo(n, avg_fps, width, height, starts - t0, last_end - t0, source)
    if not fps_ok:
        raise VideoDecodeError(path, "neither usable frame timestamps nor a frame rate")
    return VideoInfo(n, avg_fps, width, height, np.arange(n, dtype=np.float64) / avg_fps, n / avg_fps, "fps")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "(no message)"
