"""Generate real, tiny video files on disk for the featkit test suite.

Everything here writes genuine media through PyAV (FFmpeg's encoders and
muxers), so tests exercise the real decoder rather than mocks, and no media
file ever needs to be committed. All content is deterministic: the same
arguments always produce the same pixels (encoders are deterministic for a
given build as well, but tests should compare decoded pixels with a
tolerance unless a lossless format such as ``"ffv1_mkv"`` is used).

Observed ``decord`` behaviour
-----------------------------
Measured with decord2 3.4.0 (``import decord``), PyAV 18.1 (FFmpeg 8 libs),
``vr = decord.VideoReader(path, num_threads=1)``; every row is asserted by
``tests/integration/test_videofactory.py`` (if a row starts failing after an upgrade,
update this table). ``decord.DECORDError`` is *not* a subclass of
``RuntimeError``: catch both.

==============================  ============  ================================
File (factory call)             open          reading frames
==============================  ============  ================================
h264 .mp4/.mkv, mpeg4 .avi,     ok, ``len`` = ``get_batch`` -> (n, H, W, 3);
vp9 .webm, mjpeg .mkv/.avi,     frames        ffv1 is bit-exact
ffv1 .mkv (``write_clip``)      written
odd size 97x61                  ok            (61, 97, 3), no pad/crop
1-frame video                   ok, len 1     ``vr[0]``, ``get_batch([0])``
frame width in                  ok            BROKEN: ``vr[i]`` returns a
``DECORD_BROKEN_WIDTHS``                      garbage (H, W, C != 3) array,
(2, 3, 4, 6, 8, 12, 16, 24,                   ``get_batch`` raises DECORDError
32, 48, 96, 144; any codec)                   (size mismatch). Same for the
                                              *output* width requested via
                                              ``VideoReader(width=...)``.
VFR ``write_vfr_video``         ok            column 0 of
(.mp4/.mkv/.webm)                             ``get_frame_timestamp`` equals
                                              written pts (< 1 ms); column 1
                                              = next pts only for .mp4 w/o
                                              B-frames; ``get_avg_fps`` is
                                              metadata: ``nominal_fps``
                                              (.mkv/.webm) or n / (last pts
                                              + 1/nominal) (.mp4)
rotation 90/180/270             ok            decord applies it: 90/270 give
(``write_rotated_video``)                     (W, H, 3), 90 = counter-
                                              clockwise (mind broken widths:
                                              the *rotated* width counts)
missing path, 0 bytes,          RuntimeError  --
random bytes, text as .mp4
audio only (aac .m4a/.mp4,      DECORDError   --
pcm .mkv)                       (no video)
truncated .mp4 (moov at end)    RuntimeError  --
truncated .mp4 (faststart)      ok, len =     ``get_batch`` of all frames and
                                complete      ``vr[len(vr) - 1]``: always
                                packets only  DECORDError; even the intact
                                              first frames fail ~10% of the
                                              time (racy decoder thread):
                                              NONDETERMINISTIC, reopen, never
                                              reuse a reader after an error
truncated .mp4 (faststart) cut  DECORDError   --
before the first frame ends     (no video)
truncated .mkv/.webm            ok, shorter   all ``len`` frames decode:
                                len           silent data loss
mp4 mdat fully randomised       DECORDError   --
(``write_garbage_payload``)     (filter graph)
mp4 mdat half randomised        ok, full len  as truncated faststart .mp4:
(``keep_fraction=0.5``)                       full range / last frame always
                                              DECORDError, early frames
                                              usually (not always) decode
out-of-range index              --            ``IndexError`` (no decoding)
==============================  ============  ================================

``RuntimeError("Error reading <path>...")`` comes from decord's Python
wrapper when FFmpeg cannot open/probe the file; the C++ side also logs an
``ERROR opening`` line to stderr. Truncated AVI files vary (open may fail
or a partial last frame may raise at decode) and are not pinned by tests.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "DECORD_BROKEN_WIDTHS",
    "FORMATS",
    "PATTERN_KINDS",
    "VFR_GAPS_MS",
    "ClipSpec",
    "VideoFormat",
    "available_formats",
    "can_encode",
    "decode_counter",
    "default_corpus_spec",
    "make_corpus",
    "pattern_frames",
    "probe_timestamps",
    "vfr_timestamps",
    "write_audio_only",
    "write_clip",
    "write_empty_video_stream",
    "write_garbage_payload",
    "write_packed_bframes_avi",
    "write_random_bytes",
    "write_rotated_video",
    "write_text_as_video",
    "write_truncated",
    "write_unknown_codec",
    "write_vfr_video",
    "write_video",
    "write_zero_bytes",
    "write_zero_duration",
]

PathLike = str | Path

#: Frame widths that decord2 3.4.0 cannot return correctly (observed for
#: every codec; widths >= 192 are fine). Avoid them in fixtures.
DECORD_BROKEN_WIDTHS: frozenset[int] = frozenset({2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96, 144})

#: Content generators understood by :func:`pattern_frames`.
PATTERN_KINDS: tuple[str, ...] = (
    "moving_square",
    "stripes",
    "checkerboard",
    "rotating_bar",
    "gradient",
    "noise",
    "solid",
    "counter",
)

#: Saturated, mutually distant colours (RGB) indexed by ``seed``.
_PALETTE: np.ndarray = np.array(
    [
        (230, 40, 40),
        (40, 200, 60),
        (50, 80, 230),
        (240, 220, 40),
        (220, 50, 220),
        (40, 220, 220),
        (250, 140, 20),
        (245, 245, 245),
    ],
    dtype=np.uint8,
)
_BACKGROUND = np.array((24, 24, 24), dtype=np.uint8)
_COUNTER_BITS = 8

#: Gaps (milliseconds) cycled by :func:`vfr_timestamps`.
VFR_GAPS_MS: tuple[int, ...] = (40, 10, 150, 10, 40, 250, 10, 10, 380, 100, 300)


@dataclass(frozen=True)
class VideoFormat:
    """A container/codec combination that :func:`write_clip` can produce.

    Parameters
    ----------
    suffix : str
        File extension including the dot, which selects the muxer.
    codec : str
        FFmpeg encoder name.
    pix_fmt : str
        Encoder pixel format for even frame sizes.
    odd_pix_fmt : str
        Pixel format to use when height or width is odd (H.264 cannot use
        chroma-subsampled formats there).
    codec_options : Mapping[str, str]
        Extra encoder options.
    lossless : bool
        Whether decoded RGB pixels equal the written ones exactly.
    """

    suffix: str
    codec: str
    pix_fmt: str
    odd_pix_fmt: str
    codec_options: Mapping[str, str] = field(default_factory=dict)
    lossless: bool = False


#: Named formats. Use :func:`available_formats` to drop ones the local
#: FFmpeg build cannot encode.
FORMATS: dict[str, VideoFormat] = {
    "h264_mp4": VideoFormat(".mp4", "libx264", "yuv420p", "yuv444p"),
    "h264_mkv": VideoFormat(".mkv", "libx264", "yuv420p", "yuv444p"),
    "mpeg4_avi": VideoFormat(".avi", "mpeg4", "yuv420p", "yuv420p"),
    "vp9_webm": VideoFormat(
        ".webm",
        "libvpx-vp9",
        "yuv420p",
        "yuv420p",
        {"deadline": "realtime", "cpu-used": "8"},
    ),
    "mjpeg_mkv": VideoFormat(".mkv", "mjpeg", "yuvj420p", "yuvj444p"),
    "mjpeg_avi": VideoFormat(".avi", "mjpeg", "yuvj420p", "yuvj444p"),
    "ffv1_mkv": VideoFormat(".mkv", "ffv1", "bgr0", "bgr0", lossless=True),
}


def can_encode(codec: str) -> bool:
    """Whether this PyAV's FFmpeg has the encoder ``codec`` (e.g. ``"libsvtav1"``)."""
    try:
        av.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def available_formats() -> tuple[str, ...]:
    """Return the names in :data:`FORMATS` whose encoder exists locally.

    Returns
    -------
    tuple of str
        Format names, in :data:`FORMATS` order.
    """
    return tuple(name for name, fmt in FORMATS.items() if can_encode(fmt.codec))


# ---------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------


def _colour(seed: int, offset: int = 0) -> np.ndarray:
    return _PALETTE[(seed + offset) % len(_PALETTE)]


def pattern_frames(
    n: int,
    height: int,
    width: int,
    *,
    kind: str = "moving_square",
    seed: int = 0,
    motion: tuple[float, float] = (2.0, 1.0),
) -> np.ndarray:
    """Render deterministic RGB frames with real spatial/temporal structure.

    Parameters
    ----------
    n : int
        Number of frames (>= 1).
    height, width : int
        Frame size in pixels (>= 2 each; odd sizes are allowed).
    kind : str
        One of :data:`PATTERN_KINDS`:

        ``"moving_square"``
            A square (side ``min(H, W) // 3``) of colour ``seed`` on a dark
            background moving ``motion = (dx, dy)`` pixels per frame,
            wrapping around the edges.
        ``"stripes"``
            Horizontal stripes in two palette colours, scrolling ``dy``
            pixels per frame.
        ``"checkerboard"``
            Two-colour checkerboard scrolling by ``(dx, dy)``.
        ``"rotating_bar"``
            A bar through the centre rotating ``6 * dx`` degrees per frame
            (the sign of ``dx`` is the direction; ``dx == 0`` is static).
        ``"gradient"``
            Red ramp along x, green ramp along y, both scrolling by
            ``(dx, dy)``; blue grows with time.
        ``"noise"``
            Uniform noise from ``numpy.random.default_rng(seed)``.
        ``"solid"``
            Every pixel of every frame has colour ``seed``.
        ``"counter"``
            The frame index as 8 black/white vertical columns (MSB left),
            robust to lossy coding; read back with :func:`decode_counter`.
            Requires ``n <= 256`` and ``width >= 16``.
    seed : int
        Selects colours, start position and noise.
    motion : tuple of float
        ``(dx, dy)`` in pixels per frame (see ``kind``).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(n, height, width, 3)``.

    Raises
    ------
    ValueError
        On an unknown ``kind`` or invalid sizes.
    """
    if n < 1 or height < 2 or width < 2:
        raise ValueError(f"need n >= 1 and a size of at least 2x2, got {n}x{height}x{width}")
    if kind not in PATTERN_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {PATTERN_KINDS}")
    dx, dy = float(motion[0]), float(motion[1])
    t = np.arange(n, dtype=np.float64)[:, None, None]
    y = np.arange(height, dtype=np.float64)[None, :, None]
    x = np.arange(width, dtype=np.float64)[None, None, :]
    fg, fg2 = _colour(seed), _colour(seed, 3)
    shape = (n, height, width)

    if kind == "moving_square":
        side = max(2, min(height, width) // 3)
        x0 = (seed * 7 + dx * t) % width
        y0 = (seed * 5 + dy * t) % height
        inside_x = ((x - x0) % width) < side
        inside_y = ((y - y0) % height) < side
        mask = np.broadcast_to(inside_x & inside_y, shape)
        return _two_colour(mask, fg, _BACKGROUND)
    if kind == "stripes":
        period = max(4, height // 4)
        mask = np.broadcast_to(((y + dy * t + seed) % period) < period / 2, shape)
        return _two_colour(mask, fg, fg2)
    if kind == "checkerboard":
        cell = max(2, min(height, width) // 6)
        cx = np.floor((x + dx * t + seed) / cell)
        cy = np.floor((y + dy * t) / cell)
        mask = np.broadcast_to(((cx + cy) % 2) == 0, shape)
        return _two_colour(mask, fg, fg2)
    if kind == "rotating_bar":
        theta = np.deg2rad(6.0 * dx * t + 15.0 * seed)
        cy0, cx0 = (height - 1) / 2, (width - 1) / 2
        # distance of each pixel from the line through the centre at angle theta
        dist = np.abs((x - cx0) * np.sin(theta) - (y - cy0) * np.cos(theta))
        half_thickness = max(1.0, min(height, width) / 10)
        return _two_colour(dist <= half_thickness, fg, _BACKGROUND)
    if kind == "gradient":
        out = np.empty((*shape, 3), dtype=np.uint8)
        out[..., 0] = np.broadcast_to(((x - dx * t) % width) * 255 / max(1, width - 1), shape)
        out[..., 1] = np.broadcast_to(((y - dy * t) % height) * 255 / max(1, height - 1), shape)
        out[..., 2] = np.broadcast_to((t * 255 / max(1, n - 1) + 40 * seed) % 256, shape)
        return out
    if kind == "noise":
        return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    if kind == "solid":
        return np.broadcast_to(fg, (*shape, 3)).copy()
    # counter
    if n > 2**_COUNTER_BITS or width < 2 * _COUNTER_BITS:
        raise ValueError(f"counter needs n <= {2**_COUNTER_BITS} and width >= {2 * _COUNTER_BITS}")
    column = np.minimum(
        (np.arange(width) * _COUNTER_BITS) // width, _COUNTER_BITS - 1
    )  # bit position of each x, MSB first
    bits = (np.arange(n)[:, None] >> (_COUNTER_BITS - 1 - column)[None, :]) & 1
    mask = np.broadcast_to(bits[:, None, :].astype(bool), shape)
    return _two_colour(mask, np.array((255, 255, 255), np.uint8), np.zeros(3, np.uint8))


def _two_colour(mask: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], on, off).astype(np.uint8)


def decode_counter(frame: np.ndarray) -> int:
    """Read the frame index drawn by ``pattern_frames(kind="counter")``.

    Parameters
    ----------
    frame : numpy.ndarray
        One decoded frame, shape ``(H, W, 3)`` (any integer dtype).

    Returns
    -------
    int
        The encoded frame index.
    """
    width = frame.shape[1]
    value = 0
    for bit in range(_COUNTER_BITS):
        lo = (bit * width + _COUNTER_BITS - 1) // _COUNTER_BITS
        hi = ((bit + 1) * width) // _COUNTER_BITS
        margin = max(0, (hi - lo) // 4)
        column = frame[:, lo + margin : max(lo + margin + 1, hi - margin)]
        value = (value << 1) | int(float(np.mean(column)) > 127.5)
    return value


# ---------------------------------------------------------------------------
# Writers for valid files
# ---------------------------------------------------------------------------


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 1:
        raise ValueError(f"frames must be a uint8 array of shape (n >= 1, H, W, 3), got {frames.dtype} {frames.shape}")
    return np.ascontiguousarray(frames)


def _rate(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


def _open_output(path: Path, options: Mapping[str, str] | None = None) -> av.container.OutputContainer:
    # bitexact: Matroska and WebM otherwise write a random segment UID, so
    # two writes of the same frames would differ in their bytes.
    return av.open(str(path), "w", options={"fflags": "+bitexact", **dict(options or {})})


def _encode_all(
    container: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    frames: np.ndarray,
    pts: Sequence[int] | None = None,
) -> None:
    for i, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        if pts is not None:
            frame.pts = int(pts[i])
            frame.time_base = stream.codec_context.time_base
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _open_video_stream(
    container: av.container.OutputContainer,
    frames: np.ndarray,
    *,
    codec: str,
    pix_fmt: str,
    rate: Fraction,
    codec_options: Mapping[str, str] | None,
) -> av.video.stream.VideoStream:
    stream = container.add_stream(codec, rate=rate)
    stream.height = int(frames.shape[1])
    stream.width = int(frames.shape[2])
    stream.pix_fmt = pix_fmt
    options = {str(k): str(v) for k, v in (codec_options or {}).items()}
    if codec == "libx264":
        # x264's macroblock-tree rate control gave other bytes for the same frames depending on what the
        # process had encoded before (VP9, MPEG-4, another size), so a test's data, and any threshold
        # read from it, changed with the tests that ran first. Without it the files are reproducible.
        options.setdefault("mbtree", "0")
    if options:
        stream.options = options
    return stream


def write_video(
    path: PathLike,
    frames: np.ndarray,
    fps: float | Fraction = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    container_options: Mapping[str, str] | None = None,
    codec_options: Mapping[str, str] | None = None,
    rotation: int | None = None,
) -> Path:
    """Encode ``frames`` at a constant frame rate into a real video file.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; its suffix picks the container (``.mp4``, ``.avi``,
        ``.mkv``, ``.webm``, ...). Parent folders are created.
    frames : numpy.ndarray
        ``uint8`` RGB frames, shape ``(n, H, W, 3)``, ``n >= 1``.
    fps : float or fractions.Fraction
        Constant frame rate.
    codec : str
        FFmpeg encoder name (``"libx264"``, ``"mpeg4"``, ``"libvpx-vp9"``,
        ``"mjpeg"``, ``"ffv1"``, ...).
    pix_fmt : str
        Encoder pixel format. ``libx264`` + ``yuv420p`` rejects odd sizes;
        use ``yuv444p`` there (``mpeg4`` and ``libvpx-vp9`` accept odd sizes
        with ``yuv420p``; ``mjpeg`` wants ``yuvj420p``/``yuvj444p``).
    container_options : Mapping[str, str], optional
        Muxer options, e.g. ``{"movflags": "+faststart"}`` to put the MP4
        index (``moov``) before the media data.
    codec_options : Mapping[str, str], optional
        Encoder options, e.g. ``{"bf": "0"}`` or ``{"crf": "30"}``.
    rotation : int, optional
        Display rotation in degrees stored as container metadata (display
        matrix); the coded frames are not rotated.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    frames = _check_frames(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_output(path, container_options) as container:
        stream = _open_video_stream(
            container,
            frames,
            codec=codec,
            pix_fmt=pix_fmt,
            rate=_rate(fps),
            codec_options=codec_options,
        )
        if rotation:
            stream.set_display_rotation(int(rotation))
        _encode_all(container, stream, frames)
    return path


def write_clip(
    directory: PathLike,
    name: str,
    frames: np.ndarray,
    *,
    fmt: str = "h264_mp4",
    fps: float | Fraction = 24,
    container_options: Mapping[str, str] | None = None,
) -> Path:
    """Write ``frames`` as ``directory/name<suffix>`` using a named format.

    The odd-size pixel format of the format is chosen automatically.

    Parameters
    ----------
    directory : str or pathlib.Path
        Output folder (created if needed).
    name : str
        File name without suffix.
    frames : numpy.ndarray
        ``uint8`` RGB frames, shape ``(n, H, W, 3)``.
    fmt : str
        Key of :data:`FORMATS`.
    fps : float or fractions.Fraction
        Constant frame rate.
    container_options : Mapping[str, str], optional
        Muxer options.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    spec = FORMATS[fmt]
    frames = _check_frames(frames)
    odd = frames.shape[1] % 2 == 1 or frames.shape[2] % 2 == 1
    return write_video(
        Path(directory) / f"{name}{spec.suffix}",
        frames,
        fps=fps,
        codec=spec.codec,
        pix_fmt=spec.odd_pix_fmt if odd else spec.pix_fmt,
        container_options=container_options,
        codec_options=spec.codec_options,
    )


def write_rotated_video(
    path: PathLike,
    frames: np.ndarray,
    rotation: int = 90,
    *,
    fps: float | Fraction = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> Path:
    """Write a video whose container carries a display-rotation matrix.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file (``.mp4`` or ``.mov`` store the matrix).
    frames : numpy.ndarray
        Coded (unrotated) ``uint8`` RGB frames, shape ``(n, H, W, 3)``.
    rotation : int
        Degrees, e.g. 90, 180, 270.
    fps : float or fractions.Fraction
        Constant frame rate.
    codec, pix_fmt : str
        Encoder and pixel format.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_video(path, frames, fps=fps, codec=codec, pix_fmt=pix_fmt, rotation=rotation)


def vfr_timestamps(n: int = 12) -> np.ndarray:
    """Return ``n`` irregular, strictly increasing timestamps in seconds.

    The sequence starts ``0, 0.04, 0.05, 0.2, 0.21, 0.25, 0.5, ...``: gaps
    cycle through :data:`VFR_GAPS_MS` (10 ms to 380 ms), so every value is
    an exact multiple of 1 ms. These are the presentation times that
    :func:`write_vfr_video` stores by default.

    Parameters
    ----------
    n : int
        Number of timestamps (>= 1).

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(n,)``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    gaps = np.resize(np.asarray(VFR_GAPS_MS, dtype=np.int64), n - 1)
    millis = np.concatenate([[0], np.cumsum(gaps)])
    return millis / 1000.0


def write_vfr_video(
    path: PathLike,
    frames: np.ndarray,
    timestamps: Sequence[float] | np.ndarray | None = None,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    time_base: Fraction = Fraction(1, 1000),
    nominal_fps: int = 25,
    codec_options: Mapping[str, str] | None = None,
) -> Path:
    """Write a variable-frame-rate video with explicit presentation times.

    Each frame's ``pts`` is set to ``round(timestamp / time_base)`` and the
    stream and encoder time bases are both ``time_base``.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; ``.mp4`` and ``.mkv``/``.webm`` keep the timestamps
        (AVI has no real timestamps and would emulate them with a frame
        rate of ``1 / time_base``).
    frames : numpy.ndarray
        ``uint8`` RGB frames, shape ``(n, H, W, 3)``.
    timestamps : array_like of float, optional
        Strictly increasing, non-negative seconds, one per frame;
        defaults to ``vfr_timestamps(len(frames))``.
    codec, pix_fmt : str
        Encoder and pixel format.
    time_base : fractions.Fraction
        Timestamp unit; timestamps must be multiples of it.
    nominal_fps : int
        Frame rate given to ``add_stream``; it only ends up in container
        metadata (Matroska's default duration, the MP4 last-frame
        duration), which is what ``decord``'s ``get_avg_fps`` reports.
    codec_options : Mapping[str, str], optional
        Encoder options. For ``libx264`` the default is ``{"bf": "0"}``: with
        B-frames decord still reports correct *start* times, but the *end*
        column of ``get_frame_timestamp`` becomes nonsensical.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the timestamps are not one per frame, not increasing, negative
        or not representable in ``time_base``.
    """
    frames = _check_frames(frames)
    ts = vfr_timestamps(len(frames)) if timestamps is None else np.asarray(timestamps, float)
    if ts.shape != (len(frames),):
        raise ValueError(f"need one timestamp per frame: {ts.shape} vs {len(frames)} frames")
    if ts[0] < 0 or np.any(np.diff(ts) <= 0):
        raise ValueError("timestamps must be non-negative and strictly increasing")
    ticks = ts / float(time_base)
    pts = np.rint(ticks).astype(np.int64)
    if np.any(np.abs(ticks - pts) > 1e-6) or np.any(np.diff(pts) <= 0):
        raise ValueError(f"timestamps are not distinct multiples of time_base={time_base}")
    if codec_options is None and codec == "libx264":
        codec_options = {"bf": "0"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_output(path) as container:
        stream = _open_video_stream(
            container,
            frames,
            codec=codec,
            pix_fmt=pix_fmt,
            rate=_rate(nominal_fps),
            codec_options=codec_options,
        )
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        _encode_all(container, stream, frames, pts=pts.tolist())
    return path


# The 7-byte "not coded" VOP DivX and XviD write after a packet that carries a B-frame (its bits are never read:
# FFmpeg decodes the B-frame it kept from the packet before instead).
_NVOP = b"\x00\x00\x01\xb6\x51\xf4\x9f"
_DIVX_PACKED = b"\x00\x00\x01\xb2DivX503b1393p"  # user data: DivX 5.03, build 1393, "p" for packed


def write_packed_bframes_avi(path: PathLike, frames: np.ndarray, fps: float | Fraction = 25) -> Path:
    """Write MPEG-4 Part 2 in AVI the way DivX 5 and XviD did: "packed B-frames".

    AVI has one chunk per frame and no timestamps, so those encoders sent each
    B-frame inside the packet of the reference frame after it, then a 7-byte
    placeholder (an N-VOP), and marked the stream packed in its user data. FFmpeg
    decodes such a file with the pictures in presentation order, but labels them
    with timestamps guessed per packet, which come out of that order
    (``1, 3, 2, 5, 4, ...``). Old DivX/XviD AVIs are made this way (the corpus
    ``megamind.avi`` is one).

    The file is the MPEG-4 stream of :func:`write_video` (``mpeg4``, one B-frame
    between references) repacked packet by packet; decoded, its pictures equal
    those of that unpacked stream.

    Parameters
    ----------
    path : str or pathlib.Path
        Output ``.avi``.
    frames : numpy.ndarray
        ``uint8`` RGB frames, shape ``(n, H, W, 3)``.
    fps : float or fractions.Fraction
        Frame rate.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    plain = path.with_name(path.stem + ".unpacked.avi")
    write_video(plain, frames, fps=fps, codec="mpeg4", codec_options={"bf": "1"})
    try:
        with av.open(str(plain)) as source:
            stream = source.streams.video[0]
            packets = [(bytes(p), p.pts, bool(p.is_keyframe)) for p in source.demux(stream) if p.size]
            with _open_output(path) as out:
                target = out.add_stream_from_template(stream)
                first, *rest = packets
                vop = first[0].find(b"\x00\x00\x01\xb6")  # the user data goes before the first VOP
                chunks = [(first[0][:vop] + _DIVX_PACKED + first[0][vop:], True)]
                k = 0
                while k < len(rest):
                    data, pts, key = rest[k]
                    group, k = [data], k + 1
                    while k < len(rest) and rest[k][1] < pts:  # a B-frame shown before this reference frame
                        group.append(rest[k][0])
                        k += 1
                    chunks.append((b"".join(group), key))
                    chunks += [(_NVOP, False)] * (len(group) - 1)
                for i, (data, key) in enumerate(chunks):
                    packet = av.Packet(data)
                    packet.stream = target
                    packet.pts = packet.dts = i
                    packet.time_base = target.time_base
                    packet.is_keyframe = key
                    out.mux(packet)
    finally:
        plain.unlink(missing_ok=True)
    return path


def probe_timestamps(path: PathLike) -> np.ndarray:
    """Read the presentation times of the first video stream with PyAV.

    This is an independent check (FFmpeg demuxer, no decoding) of what
    :func:`write_vfr_video` stored.

    Parameters
    ----------
    path : str or pathlib.Path
        A video file.

    Returns
    -------
    numpy.ndarray
        Sorted ``float64`` packet pts in seconds, shape ``(n_frames,)``.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        pts = [p.pts * tb for p in container.demux(stream) if p.pts is not None and p.size]
    return np.array(sorted(float(v) for v in pts), dtype=np.float64)


# ---------------------------------------------------------------------------
# Writers for bad files
# ---------------------------------------------------------------------------


def _prepare(path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_zero_bytes(path: PathLike) -> Path:
    """Create an empty (0-byte) file, e.g. ``empty.mp4``.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    path.write_bytes(b"")
    return path


def write_random_bytes(path: PathLike, n_bytes: int = 4096, *, seed: int = 0) -> Path:
    """Fill a file with seeded random bytes (no valid container header).

    Parameters
    ----------
    path : str or pathlib.Path
        Output file, e.g. ``noise.mp4``.
    n_bytes : int
        File size.
    seed : int
        Random seed.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n_bytes, np.uint8).tobytes())
    return path


def write_text_as_video(path: PathLike, text: str | None = None) -> Path:
    """Write a plain-text file under a video name (e.g. ``notes.mp4``).

    Parameters
    ----------
    path : str or pathlib.Path
        Output file.
    text : str, optional
        Content; defaults to a few lines of prose.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    if text is None:
        text = "This is not a video.\n" * 20
    path.write_text(text, encoding="utf-8")
    return path


def write_truncated(src: PathLike, dst: PathLike, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst``.

    For an MP4 written without ``faststart`` the index (``moov``) is at the
    end, so truncation removes it; with ``{"movflags": "+faststart"}`` the
    index survives and only media data is lost.

    Parameters
    ----------
    src : str or pathlib.Path
        A valid video file.
    dst : str or pathlib.Path
        Output file.
    fraction : float
        Share of bytes kept, ``0 < fraction < 1``.

    Returns
    -------
    pathlib.Path
        ``dst``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    data = Path(src).read_bytes()
    dst = _prepare(dst)
    dst.write_bytes(data[: max(1, int(len(data) * fraction))])
    return dst


def _mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Return ``(type, start, end)`` of the top-level ISO-BMFF boxes."""
    boxes = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            break
        boxes.append((kind, pos + header, min(pos + size, len(data))))
        pos += size
    return boxes


def write_garbage_payload(
    src: PathLike,
    dst: PathLike,
    *,
    header_bytes: int | None = None,
    keep_fraction: float = 0.0,
    seed: int = 0,
) -> Path:
    """Copy ``src`` keeping its header but replacing media data with noise.

    For MP4/MOV input (and ``header_bytes=None``) the payload of every
    top-level ``mdat`` box is overwritten with random bytes: the container
    index stays valid, so the file opens and reports the right frame count,
    but the compressed frames are garbage. Otherwise the first
    ``header_bytes`` bytes are kept and the rest is randomised. The file
    size never changes.

    Parameters
    ----------
    src : str or pathlib.Path
        A valid video file.
    dst : str or pathlib.Path
        Output file.
    header_bytes : int, optional
        Bytes to keep verbatim; required for non-MP4 input.
    keep_fraction : float
        For MP4 input, share of each ``mdat`` payload (from its start)
        kept intact, ``0 <= keep_fraction < 1``; with e.g. 0.5 the first
        frames stay decodable.
    seed : int
        Random seed.

    Returns
    -------
    pathlib.Path
        ``dst``.
    """
    if not 0 <= keep_fraction < 1:
        raise ValueError(f"keep_fraction must be in [0, 1), got {keep_fraction}")
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    if header_bytes is None:
        spans = [(s + int((e - s) * keep_fraction), e) for kind, s, e in _mp4_boxes(bytes(data)) if kind == b"mdat"]
        if not spans:
            raise ValueError(f"{src} has no top-level mdat box; pass header_bytes")
    else:
        spans = [(min(header_bytes, len(data)), len(data))]
    for start, end in spans:
        data[start:end] = rng.integers(0, 256, end - start, np.uint8).tobytes()
    dst = _prepare(dst)
    dst.write_bytes(bytes(data))
    return dst


def write_audio_only(
    path: PathLike,
    *,
    codec: str = "aac",
    duration: float = 1.0,
    sample_rate: int = 48000,
) -> Path:
    """Write a file containing one audio stream (a sine tone) and no video.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file: ``.m4a``/``.mp4`` for AAC, ``.mkv``/``.wav`` for PCM.
    codec : str
        ``"aac"`` or ``"pcm_s16le"`` (any FFmpeg audio encoder accepting
        its first supported sample format).
    duration : float
        Length in seconds.
    sample_rate : int
        Samples per second.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    n_samples = max(1, round(duration * sample_rate))
    tone = 0.3 * np.sin(2 * math.pi * 440.0 * np.arange(n_samples) / sample_rate)
    with _open_output(path) as container:
        stream = container.add_stream(codec, rate=sample_rate)
        stream.layout = "mono"
        sample_fmt = stream.codec_context.codec.audio_formats[0].name
        stream.format = sample_fmt
        chunk = stream.codec_context.frame_size or 1024
        for start in range(0, n_samples, chunk):
            block = tone[start : start + chunk]
            if sample_fmt.startswith("s16"):
                array = np.round(block * 32767).astype(np.int16)[None, :]
            else:
                array = block.astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(array, format=sample_fmt, layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            frame.time_base = Fraction(1, sample_rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_zero_duration(path: PathLike, frames: np.ndarray) -> Path:
    """Write a Matroska file whose frames all have presentation time 0 (MJPEG, so no reordering).

    Parameters
    ----------
    path : str or pathlib.Path
        Output file (``.mkv``: Matroska accepts equal timestamps).
    frames : numpy.ndarray
        ``uint8`` RGB frames, shape ``(n, H, W, 3)``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    frames = _check_frames(frames)
    path = _prepare(path)
    with _open_output(path) as container:
        stream = _open_video_stream(
            container, frames, codec="mjpeg", pix_fmt="yuvj444p", rate=Fraction(24), codec_options=None
        )
        for image in [*frames, None]:
            packets = stream.encode(None if image is None else av.VideoFrame.from_ndarray(image, format="rgb24"))
            for packet in packets:
                packet.pts = packet.dts = 0
                container.mux(packet)
    return path


def write_empty_video_stream(path: PathLike, codec: str = "libx264") -> Path:
    """Write a container that declares a video stream but holds no frame.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file, e.g. ``empty_stream.mp4``.
    codec : str
        Encoder of the declared stream.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = _prepare(path)
    with _open_output(path) as container:
        _open_video_stream(
            container,
            np.zeros((1, 64, 64, 3), np.uint8),
            codec=codec,
            pix_fmt="yuv420p",
            rate=Fraction(24),
            codec_options=None,
        )
        container.start_encoding()  # write the header although no packet follows
    return path


def write_unknown_codec(src: PathLike, dst: PathLike, tag: bytes = b"QQQQ") -> Path:
    """Copy an AVI written by :func:`write_clip` (``"mpeg4_avi"``) with its codec FourCC replaced.

    No decoder knows ``tag``: the container opens, its video stream has no codec.

    Parameters
    ----------
    src : str or pathlib.Path
        An MPEG-4 Part 2 ``.avi`` (FourCC ``FMP4``).
    dst : str or pathlib.Path
        Output file.
    tag : bytes
        The new 4-byte FourCC.

    Returns
    -------
    pathlib.Path
        ``dst``.
    """
    data = Path(src).read_bytes()
    if len(tag) != 4 or b"FMP4" not in data:
        raise ValueError(f"need a 4-byte tag and an MPEG-4 AVI (FourCC FMP4) as src, got {tag!r} and {src}")
    dst = _prepare(dst)
    dst.write_bytes(data.replace(b"FMP4", tag).replace(b"fmp4", tag.lower()))
    return dst


# ---------------------------------------------------------------------------
# Labelled corpora
# ---------------------------------------------------------------------------

_CORRUPTIONS = ("zero_bytes", "random_bytes", "text", "truncated", "audio_only")


@dataclass(frozen=True)
class ClipSpec:
    """One file of a corpus built by :func:`make_corpus`.

    Parameters
    ----------
    name : str
        Basename without suffix (may repeat across labels).
    kind : str
        Pattern, see :func:`pattern_frames`.
    n_frames, height, width : int
        Clip geometry.
    fps : float
        Constant frame rate.
    fmt : str
        Key of :data:`FORMATS`.
    seed : int
        Pattern seed.
    motion : tuple of float
        Pattern motion ``(dx, dy)``.
    corrupt : str, optional
        Write a broken file instead: ``"zero_bytes"``, ``"random_bytes"``,
        ``"text"``, ``"truncated"`` (half of the valid clip, moov lost) or
        ``"audio_only"``. The suffix is still the one of ``fmt``.
    """

    name: str
    kind: str = "moving_square"
    n_frames: int = 48
    height: int = 64
    width: int = 64
    fps: float = 24
    fmt: str = "h264_mp4"
    seed: int = 0
    motion: tuple[float, float] = (2.0, 1.0)
    corrupt: str | None = None


def default_corpus_spec() -> dict[str, list[ClipSpec]]:
    """Return a small three-class spec with duplicate basenames.

    Labels ``"square"``, ``"stripes"`` and ``"bar"`` each hold ``clip_a``
    and ``clip_b`` (48 frames, 64x64, H.264 .mp4), with different seeds and
    motions so that the classes are visually distinct and clips within a
    class differ.

    Returns
    -------
    dict of str to list of ClipSpec
        Label to clips.
    """
    return {
        "square": [
            ClipSpec("clip_a", "moving_square", seed=0, motion=(3, 0)),
            ClipSpec("clip_b", "moving_square", seed=1, motion=(0, 3)),
        ],
        "stripes": [
            ClipSpec("clip_a", "stripes", seed=2, motion=(0, 1)),
            ClipSpec("clip_b", "stripes", seed=4, motion=(0, -2)),
        ],
        "bar": [
            ClipSpec("clip_a", "rotating_bar", seed=5, motion=(1, 0)),
            ClipSpec("clip_b", "rotating_bar", seed=6, motion=(-2, 0)),
        ],
    }


def _write_spec(directory: Path, clip: ClipSpec) -> Path:
    suffix = FORMATS[clip.fmt].suffix
    target = directory / f"{clip.name}{suffix}"
    if clip.corrupt is None or clip.corrupt == "truncated":
        frames = pattern_frames(
            clip.n_frames,
            clip.height,
            clip.width,
            kind=clip.kind,
            seed=clip.seed,
            motion=clip.motion,
        )
        written = write_clip(directory, clip.name, frames, fmt=clip.fmt, fps=clip.fps)
        if clip.corrupt == "truncated":
            data = written.read_bytes()
            written.write_bytes(data[: len(data) // 2])
        return written
    if clip.corrupt == "zero_bytes":
        return write_zero_bytes(target)
    if clip.corrupt == "random_bytes":
        return write_random_bytes(target, seed=clip.seed)
    if clip.corrupt == "text":
        return write_text_as_video(target)
    if clip.corrupt == "audio_only":
        codec = "aac" if suffix in (".mp4", ".m4a", ".mov") else "pcm_s16le"
        return write_audio_only(target, codec=codec, duration=0.5)
    raise ValueError(f"unknown corruption {clip.corrupt!r}; expected one of {_CORRUPTIONS}")


def make_corpus(
    root: PathLike,
    spec: Mapping[str, Sequence[ClipSpec | Mapping[str, object]]] | None = None,
) -> list[Path]:
    """Write a labelled tree ``root/<label>/<name>.<ext>``.

    Parameters
    ----------
    root : str or pathlib.Path
        Corpus root (created if needed).
    spec : Mapping, optional
        Label to a sequence of :class:`ClipSpec` (or mappings of its
        keyword arguments). Defaults to :func:`default_corpus_spec`.

    Returns
    -------
    list of pathlib.Path
        Written files in spec order (labels, then clips).

    Raises
    ------
    ValueError
        If one label holds two clips that map to the same file.
    """
    root = Path(root)
    spec = default_corpus_spec() if spec is None else spec
    written: list[Path] = []
    for label, clips in spec.items():
        directory = root / label
        directory.mkdir(parents=True, exist_ok=True)
        for item in clips:
            clip = item if isinstance(item, ClipSpec) else ClipSpec(**item)  # type: ignore[arg-type]
            target = directory / f"{clip.name}{FORMATS[clip.fmt].suffix}"
            if target in written:
                raise ValueError(f"duplicate file in corpus spec: {target}")
            written.append(_write_spec(directory, clip))
    return written
