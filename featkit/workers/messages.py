"""What a decode task is and what the pool yields for it: tasks, events and the window size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from featkit.config import SamplingConfig
from featkit.io.sampling import ClipPlan

# Windows: at most this many frames and about this many bytes each.
_WINDOW_BYTES = 8 << 20
_MAX_WINDOW = 256


def window_frames(size: int, batch_size: int) -> int:
    """Frames per decoded window: at most 256 and ~8 MB, a multiple of ``batch_size`` (at least one batch).

    Windows that are whole encoder batches keep batching the same as encoding
    the whole video at once.
    """
    frames = min(_MAX_WINDOW, _WINDOW_BYTES // (3 * size * size))
    return max(batch_size, frames // batch_size * batch_size)


def window_spans(n: int, window: int, tail: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` bounds of the windows of ``n`` needed frames: full windows, then halving down to ``tail``.

    The parent encodes a window while the worker decodes the next, except the
    last one, which nothing overlaps: on a long video a full last window of
    256 frames kept the parent busy for ~0.2 s after decoding ended (5 % of a
    55-s 720p video). Halving the windows towards the end shrinks that to one
    ``tail`` window while the parent still finishes each window before the
    next is decoded. Every window starts at a multiple of ``tail`` (the
    encoder's batch), so batches are those of encoding the video at once. A
    video that fits one window is sent whole: its tail overlaps the next
    video's decoding anyway.

    Examples
    --------
    >>> window_spans(432, 256, 64)
    [(0, 192), (192, 320), (320, 384), (384, 432)]
    >>> window_spans(200, 256, 64)
    [(0, 200)]

    """
    if n <= window:
        return [(0, n)] if n else []
    tail = max(1, min(tail, window))
    most = max(1, window // tail)  # batches per full window
    sizes: list[int] = []  # in batches, from the end: 1, 1, 2, 4, ... up to a full window
    size, left = 1, -(-n // tail)
    while left > 0:
        sizes.append(min(size, left))
        left -= sizes[-1]
        if len(sizes) > 1:
            size = min(2 * size, most)
    bounds, lo = [], 0
    for size in reversed(sizes):
        bounds.append((lo, min(lo + size * tail, n)))
        lo += size * tail
    return bounds


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
    tail_window : int
        Frames of the last window of a video longer than one window (see :func:`window_spans`).

    """

    source: str
    path: str
    label: str
    size: int
    sampling: SamplingConfig
    backends: tuple[str, ...] = ("decord", "pyav")
    decode_threads: int = 1
    window: int = _MAX_WINDOW
    tail_window: int = _MAX_WINDOW


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
