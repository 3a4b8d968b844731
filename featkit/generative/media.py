"""Frames in and out for the generative commands: read videos and images at the model's size, write MP4 and PNG.

Videos are read through featkit's decode seam (:func:`featkit.io.backends.open_video`:
decord, or PyAV for the containers decord misreads and the files it cannot
open; shorter side resized to the model's input size in the decoder, centre
crop), so the frames here are exactly the frames ``featkit extract`` encodes.
Images get the same resize and crop. Videos are written with PyAV and PNGs
with Pillow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Interval, validate_params
from featkit.exceptions import ConfigError, DependencyError, VideoDecodeError, VideoOpenError

__all__ = [
    "IMAGE_SUFFIXES",
    "SampledVideo",
    "VideoWriter",
    "contact_sheet",
    "load_frames",
    "open_video",
    "read_image",
    "side_by_side",
    "to_uint8",
    "upscale",
    "write_png",
]

#: File suffixes read as still images (everything else is opened as a video).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass
class SampledVideo:
    """A video opened for reading at the model's size, with the frames chosen.

    Attributes
    ----------
    path : str
        The file.
    reader : featkit.io.video.DecordReader or featkit.io.pyav_reader.PyAVReader
        The open reader (from :func:`featkit.io.backends.open_video`).
    indices : ndarray of shape (n,), int64
        The video frame shown at each output position.
    fps : float
        Rate of the output positions (the sampling rate, or the video's own).

    """

    path: str
    reader: Any
    indices: np.ndarray
    fps: float

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def read(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Frames at output positions ``lo:hi``, uint8 of shape (k, S, S, 3)."""
        idx = self.indices[lo:hi]
        # The reader wants sorted indices; sampling gives non-decreasing ones, maybe repeated.
        uniq, inverse = np.unique(idx, return_inverse=True)
        return self.reader.read(uniq)[inverse]

    def chunks(self, size: int = 256) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first position, frames)`` in chunks, so long videos never sit in memory whole."""
        for lo in range(0, len(self), size):
            yield lo, self.read(lo, lo + size)


def open_video(
    path: str | os.PathLike[str], size: int, *, fps: float | None = None, max_frames: int | None = None
) -> SampledVideo:
    """Open a video at the model's size and choose its frames.

    Parameters
    ----------
    path : path-like
        The video.
    size : int
        The model's input size.
    fps : float, optional
        Sample at this rate (by timestamp, as ``featkit extract`` does);
        default every frame.
    max_frames : int, optional
        Keep at most the first ``max_frames`` positions.

    Returns
    -------
    SampledVideo

    Raises
    ------
    VideoOpenError, VideoDecodeError
        If the file cannot be opened or read.

    """
    from featkit.io.backends import open_video as open_with_fallback
    from featkit.io.sampling import sample_frame_indices

    validate_params(
        "open_video",
        {"fps": [Interval(float, 0, math.inf, closed="neither"), None], "max_frames": [Interval(int, 1, None), None]},
        {"fps": fps, "max_frames": max_frames},
    )
    if not os.path.isfile(path):
        raise VideoOpenError(os.fspath(path), "no such file")
    reader, _ = open_with_fallback(path, size)
    info = reader.info
    indices = sample_frame_indices(info.starts, info.end, fps)
    if max_frames is not None:
        indices = indices[:max_frames]
    if fps is None:
        fps = info.avg_fps if math.isfinite(info.avg_fps) and info.avg_fps > 0 else info.n_frames / max(info.end, 1e-3)
    return SampledVideo(os.fspath(path), reader, indices, float(fps))


def read_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """Read a still image as one frame at the model's size.

    The shorter side is resized to ``size`` (bilinear), then the centre is
    cropped, like video frames.

    Returns
    -------
    ndarray of shape (1, size, size, 3), uint8

    """
    Image = _pil()
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            tw, th = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((tw, th), Image.Resampling.BILINEAR)
            x0, y0 = (tw - size) // 2, (th - size) // 2
            arr = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise VideoOpenError(os.fspath(path), "no such file") from exc
    except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        raise VideoDecodeError(os.fspath(path), f"cannot read the image: {exc}") from exc
    return arr[None]


def load_frames(
    path: str | os.PathLike[str], size: int, *, fps: float | None = None, max_frames: int | None = None
) -> np.ndarray:
    """All chosen frames of a video, or the one frame of an image, at the model's size (uint8)."""
    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path, size)
    return open_video(path, size, fps=fps, max_frames=max_frames).read()


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames in [0, 1] (float) to uint8, rounding to nearest."""
    return np.clip(np.rint(np.asarray(frames, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (..., H, W, C) frames by an integer factor (pixels stay visible)."""
    if scale == 1:
        return frames
    return np.repeat(np.repeat(frames, scale, axis=-3), scale, axis=-2)


def side_by_side(*panels: np.ndarray, gap: int = 0) -> np.ndarray:
    """Put frame sequences of equal shape (n, H, W, 3) next to each other, ``gap`` black pixels apart."""
    if gap:
        sep = np.zeros((*panels[0].shape[:2], gap, 3), dtype=panels[0].dtype)
        parts: list[np.ndarray] = []
        for i, p in enumerate(panels):
            parts.extend([sep, p] if i else [p])
        panels = tuple(parts)
    return np.concatenate(panels, axis=2)


def contact_sheet(tiles: np.ndarray, *, ncols: int | None = None, pad: int = 2, background: int = 255) -> np.ndarray:
    """Lay images out on a grid.

    Parameters
    ----------
    tiles : ndarray of shape (n, H, W, 3) or (rows, cols, H, W, 3), uint8
        Images; a flat stack is laid out row by row in ``ncols`` columns
        (default: a near-square grid).
    pad : int, default=2
        Pixels between tiles and around the sheet.
    background : int, default=255
        Grey level of the padding.

    Returns
    -------
    ndarray of shape (rows * (H + pad) + pad, cols * (W + pad) + pad, 3), uint8

    """
    tiles = np.asarray(tiles)
    if tiles.ndim == 4:
        n = tiles.shape[0]
        ncols = ncols or max(1, math.ceil(math.sqrt(n)))
        nrows = math.ceil(n / ncols)
        grid = np.full((nrows * ncols, *tiles.shape[1:]), background, dtype=np.uint8)
        grid[:n] = tiles
        tiles = grid.reshape(nrows, ncols, *tiles.shape[1:])
    if tiles.ndim != 5 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must have shape (n, H, W, 3) or (rows, cols, H, W, 3). Received: {tiles.shape}")
    rows, cols, h, w, _ = tiles.shape
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), background, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            sheet[y : y + h, x : x + w] = tiles[r, c]
    return sheet


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 image as PNG, creating parent folders; return the path."""
    Image = _pil()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(path, format="PNG")
    return path


# Output suffix -> FFmpeg encoder.
_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4"}


class VideoWriter:
    """Write uint8 RGB frames to a video file with PyAV (a context manager).

    H.264 (``libx264``, yuv420p, CRF 18: visually near-lossless) for
    ``.mp4``, ``.mov`` and ``.mkv``; VP9 for ``.webm``; MPEG-4 part 2 for
    ``.avi``. Frames with an odd side are padded by one edge pixel.

    Parameters
    ----------
    path : path-like
        Output file; parent folders are created.
    fps : float
        Frame rate.

    """

    def __init__(self, path: str | os.PathLike[str], fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _CODECS:
            raise ConfigError(f"The output video must end in one of {sorted(_CODECS)}. Received: {os.fspath(path)!r}")
        if not (math.isfinite(fps) and fps > 0):
            raise ConfigError(f"The output frame rate must be a positive number. Got {fps!r} instead.")
        self.codec = _CODECS[suffix]
        self.rate = Fraction(fps).limit_denominator(1001)
        self._av = _av()
        self._container: Any = None
        self._stream: Any = None
        self.n_frames = 0

    def __enter__(self) -> VideoWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # bitexact: Matroska and WebM would otherwise write a random segment UID.
        self._container = self._av.open(str(self.path), "w", options={"fflags": "+bitexact"})
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append frames of shape (n, H, W, 3), uint8 (all calls the same H and W)."""
        frames = np.asarray(frames, dtype=np.uint8)
        h, w = frames.shape[1:3]
        if h % 2 or w % 2:  # 4:2:0 chroma needs even sides
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._stream = self._container.add_stream(self.codec, rate=self.rate)
            self._stream.height, self._stream.width = frames.shape[1:3]
            self._stream.pix_fmt = "yuv420p"
            if self.codec == "libx264":
                # No macroblock tree: with it x264 gave other bytes for the same frames depending on what
                # the process had encoded before.
                self._stream.options = {"crf": "18", "mbtree": "0"}
            elif self.codec == "libvpx-vp9":
                self._stream.options = {"crf": "20", "b": "0"}
        for frame in frames:
            packet = self._stream.encode(self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            self._container.mux(packet)
            self.n_frames += 1

    def __exit__(self, *exc: object) -> None:
        try:
            if self._stream is not None:
                self._container.mux(self._stream.encode(None))  # flush
        finally:
            self._container.close()


def _av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise DependencyError("Writing videos needs PyAV: pip install av") from exc
    return av


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise DependencyError("Reading and writing images needs Pillow: pip install pillow") from exc
    return Image
