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
