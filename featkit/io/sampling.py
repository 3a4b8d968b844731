"""Clip-window maths: which frames to decode and how they group into clips (pure numpy).

Everything here works on a video's frame timestamps as the container gives
them, never on ``index / fps``, so variable frame-rate videos sample at the
right moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featkit.config import SamplingConfig

__all__ = ["ClipPlan", "plan_clips", "sample_frame_indices"]


def sample_frame_indices(starts: np.ndarray, end: float, fps: float | None) -> np.ndarray:
    """Pick the frames on screen at regular sample times.

    Parameters
    ----------
    starts : ndarray of shape (n_frames,)
        Presentation start time of each frame in seconds, non-decreasing.
    end : float
        End time of the last frame in seconds.
    fps : float or None
        Sampling rate. ``None`` returns every frame.

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Frame index for each sample time ``starts[0] + k / fps`` with
        ``k = 0, 1, …`` while the time is before ``end``; a frame shown across
        several sample times appears several times. At least one sample is
        returned for a video with at least one frame.

    """
    starts = np.asarray(starts, dtype=np.float64)
    n = starts.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if fps is None:
        return np.arange(n, dtype=np.int64)
    t0 = starts[0]
    # Count sample times strictly before `end`; the small tolerance keeps
    # 2.0 s at 8 fps at 16 samples despite float rounding.
    n_samples = max(1, int(np.ceil((end - t0) * fps - 1e-6)))
    times = t0 + np.arange(n_samples, dtype=np.float64) / fps
    idx = np.searchsorted(starts, times + 1e-9, side="right") - 1
    return np.clip(idx, 0, n - 1).astype(np.int64)


@dataclass(frozen=True)
class ClipPlan:
    """Where each clip of a video lies.

    Attributes
    ----------
    frame_indices : ndarray of shape (n_samples,)
        Sampled frame index for every sample position.
    clip_starts : ndarray of shape (n_clips,)
        First sample position of each clip.
    clip_lengths : ndarray of shape (n_clips,)
        Number of samples in each clip (``clip_len``, or fewer for the single
        clip of a short video).

    """

    frame_indices: np.ndarray
    clip_starts: np.ndarray
    clip_lengths: np.ndarray

    @property
    def n_clips(self) -> int:
        """Number of clips."""
        return int(self.clip_starts.shape[0])

    def clip_samples(self, i: int) -> np.ndarray:
        """Sample positions of clip ``i``."""
        s = int(self.clip_starts[i])
        return np.arange(s, s + int(self.clip_lengths[i]))

    def needed_frames(self) -> np.ndarray:
        """Sorted unique frame indices that the clips use (what must be decoded)."""
        if self.n_clips == 0:
            return np.zeros(0, dtype=np.int64)
        used = np.concatenate([self.frame_indices[self.clip_samples(i)] for i in range(self.n_clips)])
        return np.unique(used)


def plan_clips(starts: np.ndarray, end: float, config: SamplingConfig) -> ClipPlan:
    """Lay clips over a video.

    Parameters
    ----------
    starts : ndarray of shape (n_frames,)
        Frame presentation start times in seconds.
    end : float
        End time of the last frame.
    config : SamplingConfig
        Sampling rate, clip length, stride and clip limit.

    Returns
    -------
    ClipPlan
        Full clips of ``clip_len`` samples every ``stride`` samples (a tail
        shorter than a clip is dropped). A video with fewer samples than one
        clip gives exactly one clip of all its samples; a video with no frames
        gives none. With ``max_clips``, that many clips are kept, spread evenly
        (first and last included).

    """
    idx = sample_frame_indices(starts, end, config.fps)
    n = idx.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ClipPlan(idx, empty, empty)
    if n < config.clip_len:
        return ClipPlan(idx, np.zeros(1, dtype=np.int64), np.array([n], dtype=np.int64))
    clip_starts = np.arange(0, n - config.clip_len + 1, config.effective_stride, dtype=np.int64)
    if config.max_clips is not None and clip_starts.shape[0] > config.max_clips:
        keep = np.unique(np.round(np.linspace(0, clip_starts.shape[0] - 1, config.max_clips)).astype(np.int64))
        clip_starts = clip_starts[keep]
    lengths = np.full(clip_starts.shape[0], config.clip_len, dtype=np.int64)
    return ClipPlan(idx, clip_starts, lengths)
