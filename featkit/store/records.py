"""What the store holds per video: a finished :class:`VideoResult` or a :class:`FailureRecord` (no h5py).

Workers build these and send them to the parent, which alone writes the file,
so this module stays light: a decode or encode worker never imports h5py.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FailureRecord", "VideoResult", "bad_name_failure", "storable_text"]


def now_iso() -> str:
    """The current UTC time as ISO 8601 to the second (the failures table's ``time``)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def storable_text(text: str) -> str:
    r"""``text`` as it can be stored in the file's UTF-8 columns: unchanged if it is valid, else escaped.

    File names that are not valid UTF-8 reach Python with surrogate escapes
    (PEP 383), which UTF-8 cannot hold; their undecodable bytes are shown as
    ``\xNN`` instead (the same for the same name, so lookups stay stable).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


@dataclass
class VideoResult:
    """One finished video, ready to store.

    Attributes
    ----------
    video : dict
        Values of the video table's fields except ``clip_offset`` and ``clip_count``.
    clips : dict of str to ndarray
        One array of length n_clips per field of the clips table, except ``video_id``.
    features : ndarray of shape (n_clips, n_features), float32
    frames : dict of str to ndarray, optional
        Per sampled frame (``--per-frame``): ``frame_index``, ``time``
        (n_frames,) and ``mu``, ``logvar`` (n_frames, latent_dim).

    """

    video: dict[str, Any]
    clips: dict[str, np.ndarray]
    features: np.ndarray
    frames: dict[str, np.ndarray] | None = None


@dataclass
class FailureRecord:
    """A video that could not be used, with the reason."""

    path: str
    reason: str
    message: str
    size: int = -1
    mtime_ns: int = -1
    attempts: int = 1
    time: str = field(default_factory=now_iso)


def bad_name_failure(path: str, size: int = -1, mtime_ns: int = -1) -> FailureRecord:
    """The failure recorded for a video whose name cannot be stored (not valid UTF-8)."""
    return FailureRecord(
        storable_text(path),
        "bad_name",
        "the file name is not valid UTF-8 (undecodable bytes are shown as \\xNN); rename the file to extract it",
        size,
        mtime_ns,
    )


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with numpy scalars (as read from the file) turned into Python ones, for JSON and dataclasses."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in d.items()}
