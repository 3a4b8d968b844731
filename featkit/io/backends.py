"""The decoding backends (decord, PyAV): names, which to try for a file, and opening a reader.

Both readers share one small interface: ``reader.info`` (a
:class:`~featkit.io.video.VideoInfo`), ``reader.read(indices) -> (n, size,
size, 3) uint8`` and ``reader.close()``; frame ``i`` and its time mean the
same in both. The heavy libraries are imported only when a reader is opened.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "REGISTRY",
    "Backend",
    "backend_versions",
    "backends_for",
    "open_reader",
    "open_video",
    "run_backends",
]


@dataclass(frozen=True)
class Backend:
    """One decoder: where its reader and version live, and what it can be trusted with (fields documented inline)."""

    #: What users pass (``--backend``) and what the videos table records.
    name: str
    #: ``"module:Class"`` of its reader (imported on first open, so the registry stays light).
    reader: str
    #: ``"module:function"`` returning its version string, for the output's provenance.
    version: str
    #: The library a worker imports at start-up, so its import is not charged to a video.
    module: str
    #: Whether it returns the right frames for every container featkit reads; ``False`` makes ``"auto"``
    #: route the containers it misreads (:data:`_PYAV_ONLY_SUFFIXES`) elsewhere.
    exact_containers: bool = True

    def load(self, spec: str) -> Any:
        module, _, attr = spec.partition(":")
        return getattr(importlib.import_module(module), attr)


#: The decoders, in the order ``"auto"`` tries them.
REGISTRY: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("decord", "featkit.io.video:DecordReader", "featkit.io.video:decoder_version", "decord", False),
        Backend("pyav", "featkit.io.pyav_reader:PyAVReader", "featkit.io.pyav_reader:pyav_version", "av"),
    )
}
#: Concrete decoders.
BACKENDS: tuple[str, ...] = tuple(REGISTRY)
#: What a user may ask for: a decoder, or ``"auto"`` (one, falling back to the other: :func:`backends_for`).
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKENDS)

# Containers decord 3.4 returns wrong frames for, silently (tests/integration/test_backends.py):
# MPEG transport and program streams (H.264 and MPEG-2 in .ts, MPEG-2 in .mpg give
# frames 10-30 positions off) and ASF/WMV (after a seek it restarts from an
# earlier keyframe: 8 of 20 sampled frames wrong). "auto" reads them with PyAV only.
_PYAV_ONLY_SUFFIXES = frozenset({".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".vob", ".wmv", ".asf"})


def backends_for(choice: str, path: str | os.PathLike[str], *, sparse: bool = False) -> tuple[str, ...]:
    """The decoders to try for one file, in order.

    Parameters
    ----------
    choice : {"auto", "decord", "pyav"}
        The configured backend.
    path : path-like
        The video (only its extension is looked at).
    sparse : bool, default=False
        Whether the clips sample at a frame rate (``SamplingConfig.fps`` set)
        rather than take every frame.

    Returns
    -------
    tuple of str
        For ``"auto"``: ``("decord", "pyav")`` (PyAV is tried when decord
        fails, crashes or hangs); ``("pyav", "decord")`` when ``sparse``: PyAV
        decodes only the frames the clips need and those they depend on, where
        decord decodes and converts every frame (at 8 fps of 24-30 fps sources
        the same frames in 0.83x the time on the folder benchmark, 0.61x on its
        long 720p H.264 video; ``benchmarks/bench_folder.py``, ``bench_speed.py``;
        VP9 is 7 % slower); ``("pyav",)`` on
        MPEG-TS/PS and ASF/WMV files (decord returns wrong frames for them).
        Otherwise the one named.

    """
    if choice == "auto" and PurePath(os.fspath(path)).suffix.lower() in _PYAV_ONLY_SUFFIXES:
        return tuple(name for name, b in REGISTRY.items() if b.exact_containers)
    return run_backends(choice, sparse=sparse)


#: ``"auto"``'s order when clips sample at a frame rate: the decoder that can skip what they do not need first.
_SPARSE_ORDER: tuple[str, ...] = ("pyav", "decord")


def run_backends(choice: str, *, sparse: bool = False) -> tuple[str, ...]:
    """Every decoder a run with this setting may use, in the order it tries them on most files.

    What the decode workers import at start (the first first); :func:`backends_for` is the per-file order.
    """
    if choice == "auto":
        return _SPARSE_ORDER if sparse else BACKENDS
    if choice not in BACKENDS:
        raise ValueError(f"Unknown decoding backend {choice!r}; expected one of {list(BACKEND_CHOICES)}.")
    return (choice,)


def open_reader(backend: str, path: str | os.PathLike[str], size: int, *, num_threads: int = 1) -> Any:
    """Open a video with the named decoder.

    Parameters
    ----------
    backend : {"decord", "pyav"}
        The decoder.
    path : path-like
        The video file.
    size : int
        Side of the square frames the reader returns.
    num_threads : int, default=1
        Decoder threads.

    Returns
    -------
    DecordReader or PyAVReader

    Raises
    ------
    VideoOpenError, VideoDecodeError
        If the file cannot be opened or its first frame read.

    """
    if backend not in REGISTRY:
        raise ValueError(f"Unknown decoding backend {backend!r}; expected one of {list(BACKENDS)}.")
    entry = REGISTRY[backend]
    return entry.load(entry.reader)(path, size, num_threads=num_threads)


def open_video(
    path: str | os.PathLike[str], size: int, *, backend: str = "auto", num_threads: int = 1
) -> tuple[Any, str]:
    """Open a video with the first decoder that can, in the order ``featkit extract`` uses.

    The one seam for every command that reads frames outside the extraction
    workers (``train``, ``reconstruct``, ``complete``, ``generate --walk``), so
    they read the same files, with the same routing (MPEG-TS/PS and ASF/WMV to
    PyAV) and fallback, as ``extract``.

    Parameters
    ----------
    path : path-like
        The video file.
    size : int
        Side of the square frames the reader returns.
    backend : {"auto", "decord", "pyav"}, default="auto"
        The configured decoder (see :func:`backends_for`).
    num_threads : int, default=1
        Decoder threads.

    Returns
    -------
    reader : DecordReader or PyAVReader
        Open; the caller closes it.
    name : str
        The decoder that opened it.

    Raises
    ------
    VideoOpenError, VideoDecodeError
        If no decoder can open the file or read its first frame; the message
        names what each one said.

    """
    from featkit.exceptions import VideoError

    names = backends_for(backend, path)
    errors: list[VideoError] = []
    for name in names:
        try:
            return open_reader(name, path, size, num_threads=num_threads), name
        except VideoError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    last = errors[-1]
    detail = "; ".join(f"{n}: {e.reason}: {e.message}" for n, e in zip(names, errors, strict=True))
    raise type(last)(os.fspath(path), detail) from last


def backend_versions(choice: str) -> str:
    """Versions of the decoders a run may use, for the output's provenance.

    Parameters
    ----------
    choice : {"auto", "decord", "pyav"}

    Returns
    -------
    str
        e.g. ``"decord 3.4.0; pyav 18.1.0 (libavcodec 62.28.102)"``.

    """
    names = BACKENDS if choice == "auto" else (choice,)
    return "; ".join(REGISTRY[name].load(REGISTRY[name].version)() for name in names)
