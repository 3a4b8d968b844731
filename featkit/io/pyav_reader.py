"""Reading frames from one video file with PyAV (FFmpeg), behind the same interface as the decord reader.

The second decoding backend: used when decord cannot open or decode a file,
crashes or hangs on it, or when asked for by name. It returns the same frames
as :class:`featkit.io.video.DecordReader` for the same indices:

* frame ``i`` is the ``i``-th video packet in presentation-time order, and the
  frame times are those packets' timestamps (``VideoInfo`` is built by the same
  function, with the same repairs);
* pixels go through the same FFmpeg filter chain decord uses (display rotation,
  then ``scale`` to the shorter side, then ``format=rgb24``), then the same
  centre crop, so frames agree with decord's to the last bit on the files
  tested (``tests/integration/test_backends.py`` measures it).

Decoding is sequential, frame by frame, mapping each decoded frame to its
index by its timestamp; when the next wanted frame lies past a keyframe the
reader seeks there instead of decoding the gap. AVI stores no timestamps:
FFmpeg guesses them per packet, and for DivX/XviD "packed B-frames" (a
B-frame sent inside the next frame's packet, then a 7-byte placeholder) the
decoded pictures come out in presentation order under guessed labels out of
that order, and differently after a seek. For such a stream (marked packed in
its user data, which is how FFmpeg tells) the reader counts decoded frames
from the start instead of placing them by label; the pictures equal those of
the same video stored unpacked (``tests/integration/test_backends.py``).
Only the wanted frames are converted and kept, so memory does not depend on
the video's length or resolution beyond one decoded frame. Frames that are
not wanted and that no other frame refers to (most B-frames) are not decoded
at all (FFmpeg's ``skip_frame = NONREF``, set packet by packet): the wanted
frames stay bit-identical, since no decoded frame depends on a skipped one.
At 8 fps of 24-fps H.264 this decodes about a third fewer frames. Should a
wanted frame still go missing, the reader decodes again without skipping.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from featkit.exceptions import VideoDecodeError, VideoOpenError
from featkit.io.video import _first_line, _make_info, _resize_target

__all__ = ["PyAVReader", "pyav_version"]

# A seek is worth it only when it skips this many frames or more.
_MIN_SEEK_GAP = 16
# MPEG-4 Part 2 user data marking DivX "packed B-frames", as FFmpeg's decoder reads it ("DivX503b1393p").
_DIVX_PACKED = re.compile(rb"\x00\x00\x01\xb2DivX\d+(?:Build|b)\d+p")


def pyav_version() -> str:
    """Return the backend's name and version, e.g. ``"pyav 18.1.0 (libavcodec 62.28.102)"``."""
    import av

    codec = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    return f"pyav {av.__version__} (libavcodec {codec})"


def _errors() -> tuple[type[BaseException], ...]:
    import av

    # av.FFmpegError covers every libav* error; the others come from PyAV's own checks.
    return (av.FFmpegError, OSError, ValueError, RuntimeError, IndexError, UnicodeDecodeError, EOFError)


class PyAVReader:
    """Decode frames of one video with PyAV, resized and centre-cropped to ``size`` x ``size``.

    Parameters
    ----------
    path, size
        As for :class:`~featkit.io.video.DecordReader` (the reader contract both backends share).
    num_threads : int, default=1
        FFmpeg decoding threads.

    Attributes
    ----------
    info : VideoInfo
        Frame count, size (after display rotation), frame times.
    frames_decoded : int
        Pictures the decoder has produced so far (skipped frames are not
        decoded, a seek or a fresh start decodes some again).

    Raises
    ------
    VideoOpenError
        If FFmpeg cannot open the file or it holds no video frame.
    VideoDecodeError
        If the file opens but its first frame cannot be decoded.

    """

    name = "pyav"

    def __init__(self, path: str | os.PathLike[str], size: int, *, num_threads: int = 1) -> None:
        self.path = os.fspath(path)
        self.size = int(size)
        self._errors = _errors()
        self._num_threads = int(num_threads)
        self._container: Any = None
        self._graph: Any = None
        self._graph_key: tuple[Any, ...] | None = None
        self._bad_packets = 0
        # Frames the current read wants, and the last of them: packets of other frames before it are skippable.
        self._wanted: frozenset[int] = frozenset()
        self._wanted_last = -1
        self._skip_unwanted = True  # off for good once a wanted frame went missing with it on
        self.frames_decoded = 0
        self._index_packets()
        self._open_decoder()
        first = self._next_frame()
        if first is None:
            self.close()
            raise VideoDecodeError(self.path, "no frame of the video stream could be decoded")
        self._rotation = round(float(getattr(first, "rotation", 0) or 0) / 90.0) % 4
        width, height = int(first.width), int(first.height)
        if self._rotation % 2:
            width, height = height, width
        # decord gives times in float32; rounded the same way here, both backends store the same clip times.
        times = self._times.astype(np.float32).astype(np.float64)
        self.info = _make_info(self.path, self._n, self._avg_fps, width, height, times)
        self._target = _resize_target(self.info.width, self.info.height, self.size)
        th, tw = self._target[1], self._target[0]
        self._crop = ((th - self.size) // 2, (tw - self.size) // 2)
        self._pending = first  # the first frame, not yet matched to an index
        self._last: tuple[int, np.ndarray] | None = None

    # -- opening ------------------------------------------------------------
    def _open_container(self) -> Any:
        import av

        try:
            container = av.open(self.path, metadata_errors="ignore")
        except self._errors as exc:
            raise VideoOpenError(self.path, f"{type(exc).__name__}: {_first_line(exc)}") from exc
        if not container.streams.video:
            container.close()
            raise VideoOpenError(self.path, "the file has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            tag = getattr(stream, "codec_tag", "?")
            container.close()
            raise VideoOpenError(self.path, f"FFmpeg has no decoder for its video codec (tag {tag!r})")
        return container

    def _index_packets(self) -> None:
        """Read every video packet's timestamps (no decoding): the frame index, like decord's."""
        container = self._open_container()
        packed = False
        try:
            stream = container.streams.video[0]
            tb = stream.time_base or Fraction(1, 1)
            rate = stream.average_rate or stream.guessed_rate
            self._avg_fps = float(rate) if rate else float("nan")
            pts, dur, key = [], [], []
            # Only MPEG-4 Part 2 packs B-frames: no other stream's first packet (up to MBs) is searched.
            mpeg4 = stream.codec_context.name == "mpeg4"
            header = bytes(stream.codec_context.extradata or b"") if mpeg4 else b""
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 or packet.is_corrupt:  # a flush packet, or one cut short: not a frame
                        continue
                    if mpeg4 and not pts:  # the stream's headers are in its extradata or its first packet
                        packed = _DIVX_PACKED.search(header + bytes(packet)) is not None
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    pts.append(np.nan if stamp is None else float(stamp))
                    dur.append(float(packet.duration or 0))
                    key.append(bool(packet.is_keyframe))
            except self._errors:
                pass  # a damaged tail: keep the packets read so far, as decord does
        finally:
            container.close()
        n = len(pts)
        if n == 0:
            raise VideoOpenError(self.path, "the file has no video frames")
        raw = np.asarray(pts, dtype=np.float64)
        order = np.argsort(raw, kind="stable")  # NaN sort last
        self._n = n
        self._pts = raw[order]
        self._keyframe = np.asarray(key, dtype=bool)[order]
        starts = self._pts * float(tb)
        self._times = np.stack([starts, starts + np.asarray(dur, dtype=np.float64)[order] * float(tb)], axis=1)
        # Frames can be told apart by timestamp only when every one has its own, and the decoder labels them
        # with it: with packed B-frames the labels are guesses out of presentation order (module docstring).
        finite = np.isfinite(self._pts)
        self._by_pts = bool(finite.all() and np.unique(self._pts).size == n) and not packed

    def _open_decoder(self) -> None:
        self.close()
        self._container = self._open_container()
        stream = self._container.streams.video[0]
        stream.codec_context.thread_count = self._num_threads
        self._stream = stream
        self._frames = self._decoded_frames()
        self._next = 0  # index of the next frame the decoder gives, when known
        self._pending = None

    def close(self) -> None:
        """Release the file and the decoder."""
        if self._container is not None:
            container, self._container = self._container, None
            self._frames = None
            self._graph = None
            container.close()

    def __enter__(self) -> PyAVReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decoding -----------------------------------------------------------
    def _decoded_frames(self) -> Iterator[Any]:
        """Frames in presentation order; damaged packets are skipped, a damaged tail ends the stream.

        A frame that is skipped this way and is needed makes :meth:`read` fail;
        the intact frames of a damaged file are still read.
        """
        context = self._stream.codec_context
        skipping = False
        if self._skip_unwanted:
            context.skip_frame = "DEFAULT"  # a seek keeps the context: start from a known state
        try:
            for packet in self._container.demux(self._stream):
                if self._skip_unwanted and self._by_pts:
                    skip = self._unwanted(packet)
                    if skip != skipping:  # only reference frames are decoded while "NONREF" is set
                        context.skip_frame, skipping = ("NONREF" if skip else "DEFAULT"), skip
                if packet.is_corrupt:
                    # Cut short (a truncated file's last packet): MPEG-4 Part 2 decoded it as a copy of an
                    # earlier picture. It is not in the index either.
                    self._bad_packets += 1
                    continue
                try:
                    for frame in packet.decode():
                        self.frames_decoded += 1
                        yield frame
                except self._errors:
                    self._bad_packets += 1
        except self._errors:
            self._bad_packets += 1  # the demuxer met the damage: flush what the decoder holds
            with contextlib.suppress(*self._errors):
                yield from self._stream.codec_context.decode(None)

    def _unwanted(self, packet: Any) -> bool:
        """Whether the packet's frame lies before the current read's last wanted frame and is not wanted."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            return False
        index = int(np.searchsorted(self._pts, float(stamp)))
        return index < self._wanted_last and self._pts[index] == stamp and index not in self._wanted

    def _next_frame(self) -> Any:
        return next(self._frames, None)

    def _index_of(self, frame: Any) -> int:
        if self._by_pts and frame.pts is not None:
            index = int(np.searchsorted(self._pts, float(frame.pts)))
            if index < self._n and self._pts[index] == frame.pts:
                return index
        return self._next

    def _seek_to(self, target: int) -> None:
        """Position the decoder at the keyframe at or before ``target``, or at the start."""
        keys = np.flatnonzero(self._keyframe[: target + 1])
        if not self._by_pts or keys.size == 0 or keys[-1] == 0:
            self._open_decoder()
            return
        try:
            self._container.seek(int(self._pts[keys[-1]]), stream=self._stream, backward=True, any_frame=False)
        except self._errors:
            self._open_decoder()
            return
        self._frames = self._decoded_frames()
        self._pending = None
        self._next = -1  # unknown until a frame with a known timestamp arrives

    def _frame(self, target: int) -> Any:
        """The decoded frame with index ``target``."""
        if target < self._next or self._next < 0:
            self._seek_to(target)
        elif self._by_pts and target - self._next >= _MIN_SEEK_GAP:
            keys = np.flatnonzero(self._keyframe[self._next + 1 : target + 1])
            if keys.size:
                self._seek_to(target)
        sought = self._next < 0
        while True:
            frame, self._pending = (self._pending, None) if self._pending is not None else (self._next_frame(), None)
            if frame is None:
                if self._skip_unwanted:
                    return self._without_skipping(target)
                raise VideoDecodeError(
                    self.path,
                    f"the video stream ended before frame {target} of {self._n} "
                    f"({self._bad_packets} damaged packets skipped)",
                )
            index = self._index_of(frame)
            if index < 0:
                continue  # after a seek, frames without a known time cannot be placed
            self._next = index + 1
            if index == target:
                return frame
            if index > target:
                if sought:  # landed past the target (an imprecise seek): decode from the start instead
                    self._by_pts = False
                    self._open_decoder()
                    return self._frame(target)
                if self._skip_unwanted:
                    return self._without_skipping(target)
                raise VideoDecodeError(
                    self.path,
                    f"frame {target} of {self._n} is missing from the decoded stream "
                    f"({self._bad_packets} damaged packets skipped)",
                )

    def _without_skipping(self, target: int) -> Any:
        """Decode from the start again with every frame decoded (a wanted frame went missing while skipping)."""
        self._skip_unwanted = False
        self._open_decoder()
        return self._frame(target)

    def _convert(self, frame: Any) -> np.ndarray:
        """Rotate, resize and convert one frame through FFmpeg filters (decord's chain), then crop."""
        import av

        key = (frame.width, frame.height, frame.format.name)
        if self._graph is None or key != self._graph_key:
            graph = av.filter.Graph()
            nodes = [
                graph.add_buffer(
                    width=frame.width,
                    height=frame.height,
                    format=frame.format.name,
                    time_base=self._stream.time_base or Fraction(1, 1000),
                )
            ]
            rotate = {1: [("transpose", "cclock")], 2: [("hflip", None), ("vflip", None)], 3: [("transpose", "clock")]}
            for name, arg in rotate.get(self._rotation, []):
                nodes.append(graph.add(name, arg) if arg else graph.add(name))
            nodes.append(graph.add("scale", f"{self._target[0]}:{self._target[1]}"))
            nodes.append(graph.add("format", "rgb24"))
            nodes.append(graph.add("buffersink"))
            for a, b in itertools.pairwise(nodes):
                a.link_to(b)
            graph.configure()
            self._graph, self._graph_key = graph, key
        try:
            self._graph.push(frame)
            image = self._graph.pull().to_ndarray()
        except self._errors as exc:
            raise VideoDecodeError(self.path, f"converting a frame: {type(exc).__name__}: {_first_line(exc)}") from exc
        y0, x0 = self._crop
        return image[y0 : y0 + self.size, x0 : x0 + self.size]

    def read(self, indices: np.ndarray, *, batch: int = 32) -> np.ndarray:
        """Decode the given frames.

        Parameters
        ----------
        indices : ndarray of int, shape (n,)
            Frame indices, best sorted (going back costs a seek).
        batch : int, default=32
            Unused (frames are decoded one at a time); kept for the shared interface.

        Returns
        -------
        ndarray of shape (n, size, size, 3), uint8

        Raises
        ------
        VideoDecodeError
            If a frame is out of range or cannot be decoded.

        """
        if self._container is None:
            self._open_decoder()
        out = np.empty((len(indices), self.size, self.size, 3), dtype=np.uint8)
        self._wanted = frozenset(int(i) for i in indices)
        self._wanted_last = max(self._wanted, default=-1)
        for j, raw in enumerate(indices):
            target = int(raw)
            if not 0 <= target < self._n:
                raise VideoDecodeError(self.path, f"frame {target} is out of range (the video has {self._n})")
            if self._last is not None and self._last[0] == target:
                out[j] = self._last[1]
                continue
            out[j] = self._convert(self._frame(target))
            self._last = (target, out[j].copy())
        return out
