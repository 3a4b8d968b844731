"""Frozen, validated configuration objects: one per job, mapped one to one by the CLI.

The configs are plain dataclasses with no heavy imports. ``to_dict`` gives the
JSON-ready form that is stored in every output file, so a number in a feature
file can always be traced back to the settings that made it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from featkit._validation import (
    DistinctNames,
    Finite,
    InstanceOf,
    Interval,
    NonEmptyStr,
    Options,
    Patterns,
    SequenceNotStr,
    validate_params,
)

__all__ = ["DEFAULT_STATS", "PRECISIONS", "RUNTIMES", "ExtractionConfig", "SamplingConfig"]

#: Per-clip statistics computed by default (see :mod:`featkit.stats`).
DEFAULT_STATS: tuple[str, ...] = (
    "mu_mean",
    "mu_std",
    "sigma_mean",
    "mu_absdiff",
    "mu_slope",
    "mu_delta",
    "motion",
    "motion_speed",
    "quality",
    "polarity",
    "residual",
)

#: What runs the float32 default encoder: LiteRT (its shipped TensorFlow Lite model), Keras, or auto (LiteRT).
RUNTIMES: tuple[str, ...] = ("auto", "keras", "litert")

#: Encoder precisions: the model as loaded, or a TensorFlow Lite float16 / int8 variant of it.
PRECISIONS: tuple[str, ...] = ("float32", "float16", "int8")


def _statistics() -> list[str]:
    from featkit.stats import STATISTICS  # numpy-only module, imported when a config is checked

    return list(STATISTICS)


def _backends() -> tuple[str, ...]:
    from featkit.io.backends import BACKEND_CHOICES  # stdlib-only module

    return BACKEND_CHOICES


_AT_LEAST_ONE = Interval(int, 1, None)

#: What each SamplingConfig field may hold (see featkit._validation).
SAMPLING_CONSTRAINTS: dict[str, Any] = {
    "clip_len": [_AT_LEAST_ONE],
    "fps": [Interval(float, 0, math.inf, closed="neither", description="a positive number"), None],
    "stride": [_AT_LEAST_ONE, None],
    "max_clips": [_AT_LEAST_ONE, None],
}


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are sampled from a video and grouped into clips.

    Parameters
    ----------
    clip_len : int, default=16
        Number of sampled frames per clip.
    fps : float or None, default=8.0
        Rate at which frames are sampled, in frames per second of *presentation
        time*. Sample times are ``t0 + k / fps`` and each picks the frame on
        screen at that time (from the container's timestamps), so variable
        frame-rate videos sample correctly. ``None`` takes every frame.
    stride : int or None, default=None
        Distance in sampled frames between the starts of consecutive clips.
        ``None`` means ``clip_len`` (non-overlapping clips); smaller values overlap.
    max_clips : int or None, default=None
        At most this many clips per video, spread evenly over the video.

    Notes
    -----
    A video too short to fill one clip still yields one clip, made of all the
    frames sampled from it; its ``n_frames`` in the output says how many.

    """

    clip_len: int = 16
    fps: float | None = 8.0
    stride: int | None = None
    max_clips: int | None = None

    def __post_init__(self) -> None:
        validate_params("SamplingConfig", SAMPLING_CONSTRAINTS, vars(self))
        if self.fps is not None:
            object.__setattr__(self, "fps", float(self.fps))

    @property
    def effective_stride(self) -> int:
        """The stride actually used: ``stride`` or, when it is None, ``clip_len``."""
        return self.clip_len if self.stride is None else self.stride

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ExtractionConfig:
    """Everything that decides what ``featkit extract`` computes and how.

    Parameters
    ----------
    sampling : SamplingConfig
        Frame sampling and clip windows.
    encoder : str, default="default"
        ``"default"`` for the encoder shipped inside featkit, a ``.keras``
        file (loaded in Keras safe mode), a SavedModel folder, or a TF Hub
        handle in the local cache; see :func:`featkit.encoders.load_encoder`.
    precision : {"float32", "float16", "int8"}, default="float32"
        Run the encoder as loaded, or a TensorFlow Lite float16 or int8
        (dynamic-range quantised) variant of it; recorded in the encoder's
        identity, so a file cannot be resumed at another precision.
    runtime : {"auto", "keras", "litert"}, default="auto"
        What runs the float32 default encoder: its shipped TensorFlow Lite model
        on the LiteRT interpreter (``"litert"``; no TensorFlow import, so a run
        starts in about half a second) or the Keras model (``"keras"``).
        ``"auto"``: LiteRT for the default, Keras for other encoders. Recorded in
        the encoder's identity, so a file is never extended with features from
        the other runtime (they differ by ~1e-5).
    stats : sequence of str, default=DEFAULT_STATS
        Per-clip statistics to store; see :data:`featkit.stats.STATISTICS`.
    batch_size : int, default=64
        Frames per encoder call. Batches never mix videos and are padded to
        this size, so features do not depend on scheduling.
    n_jobs : int, default=1
        Decoding processes (videos decoded at the same time). Decoding always
        runs in worker processes, so a decoder that hangs or crashes cannot
        stop the run; the encoder runs in the main process.
    decode_threads : int, default=1
        Threads inside the decoder per video (decord's ``num_threads``; values
        above 2 make decord fail on VP9).
    retry_failed : bool, default=False
        On resume, try again the videos recorded as failed.
    timeout : float or None, default=600.0
        Seconds of wall-clock time one video's decoding may take before its
        worker is killed and the video recorded as failed (``timeout``);
        ``None`` or ``0`` for no limit. Time the decoder spends waiting for
        the encoder is not counted.
    backend : {"auto", "decord", "pyav"}, default="auto"
        Decoder. ``"auto"`` uses decord and, for a file decord fails on,
        crashes or hangs on, PyAV (MPEG-TS/PS and ASF/WMV files, which decord
        reads wrongly, go to PyAV directly); each video records which one it used.
    scheduler : str or None, default=None
        Address of a Dask scheduler (``tcp://host:8786``) or a scheduler file:
        the per-video work then runs on that cluster's workers (see
        :mod:`featkit.distributed`) and this process only writes the file.
    prune : bool, default=False
        Remove from the file the videos (and failure records) whose files are
        no longer under the root. By default they are kept.
    include : tuple of str, default=()
        Glob patterns: when given, exactly the files matching one are taken as
        videos, whatever their extension (see :func:`featkit.discover.discover_videos`).
    exclude : tuple of str, default=()
        Glob patterns of files to leave out.
    per_frame : bool, default=False
        Also store μ and log σ² of every sampled frame (``/frames``; see
        :func:`featkit.load_frames`).

    """

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    encoder: str = "default"
    precision: str = "float32"
    runtime: str = "auto"
    stats: tuple[str, ...] = DEFAULT_STATS
    batch_size: int = 64
    n_jobs: int = 1
    decode_threads: int = 1
    retry_failed: bool = False
    timeout: float | None = 600.0
    backend: str = "auto"
    scheduler: str | None = None
    prune: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_frame: bool = False

    def __post_init__(self) -> None:
        validate_params("ExtractionConfig", EXTRACTION_CONSTRAINTS, vars(self))
        object.__setattr__(self, "stats", tuple(self.stats))
        if self.timeout is not None:
            object.__setattr__(self, "timeout", float(self.timeout))
        for name in ("include", "exclude"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["stats"] = list(self.stats)
        out["include"], out["exclude"] = list(self.include), list(self.exclude)
        return out


#: What each ExtractionConfig field may hold; a tuple of lists is checked stage by stage.
EXTRACTION_CONSTRAINTS: dict[str, Any] = {
    "sampling": [InstanceOf(SamplingConfig)],
    "batch_size": [_AT_LEAST_ONE],
    "n_jobs": [_AT_LEAST_ONE],
    "decode_threads": (
        [_AT_LEAST_ONE],
        [Interval(int, 1, 2, closed="both", description="1 or 2 (decord fails on VP9 with more)")],
    ),
    "stats": (
        [SequenceNotStr(description="a sequence of names")],
        [DistinctNames(_statistics)],
    ),
    "encoder": [NonEmptyStr(description="'default' or a path")],
    "precision": [Options(PRECISIONS)],
    "runtime": [Options(RUNTIMES)],
    "timeout": (
        [Interval(float, 0, None, description="a number of seconds >= 0 (0 or None: no limit)"), None],
        [Finite(description="finite; use None for no limit"), None],
    ),
    "backend": [Options(_backends)],
    "scheduler": [NonEmptyStr(description="a Dask scheduler address or scheduler file, or None"), None],
    "prune": [InstanceOf(bool)],
    "include": [Patterns()],
    "exclude": [Patterns()],
    "per_frame": [InstanceOf(bool)],
}
