"""Telling a file cut short from its container header alone (stdlib only, a few bytes read).

AVI (RIFF) and Matroska/WebM write their total length near the start once the
file is complete. A file shorter than that length lost its tail (an interrupted
copy or download). decord reads such a tail wrongly (its last frames repeat the
one before, or carry the wrong times), so :class:`featkit.io.video.DecordReader`
refuses these files and ``auto`` reads them with PyAV, which keeps each intact
frame at its own time.
"""

from __future__ import annotations

import os

__all__ = ["declared_end", "is_cut_short"]

_EBML = b"\x1a\x45\xdf\xa3"
_SEGMENT = b"\x18\x53\x80\x67"


def _vint(data: bytes, pos: int) -> tuple[int, int, bool] | None:
    """An EBML variable-size integer at ``pos``: (value without its marker, length, all value bits set)."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        return None
    value = data[pos] & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def declared_end(path: str | os.PathLike[str]) -> int | None:
    """The byte length the container's header gives for the whole file, or None when it gives none.

    Parameters
    ----------
    path : path-like
        A video file.

    Returns
    -------
    int or None
        For RIFF (AVI): 8 + the RIFF chunk size. For Matroska/WebM: where
        the Segment ends (None when the muxer wrote "unknown size", as a live
        stream does). None for other containers and unreadable headers.

    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if head[:4] == b"RIFF" and len(head) >= 8:
        return 8 + int.from_bytes(head[4:8], "little")
    if head[:4] != _EBML:
        return None
    header = _vint(head, 4)
    if header is None:
        return None
    size, length, _ = header
    pos = 4 + length + size  # the EBML header's data, then the Segment element
    if head[pos : pos + 4] != _SEGMENT:
        return None
    segment = _vint(head, pos + 4)
    if segment is None or segment[2]:
        return None
    size, length, _ = segment
    return pos + 4 + length + size


def is_cut_short(path: str | os.PathLike[str]) -> bool:
    """Whether the file is shorter than its container's header says (its tail was lost)."""
    end = declared_end(path)
    if end is None:
        return False
    try:
        return os.path.getsize(path) < end
    except OSError:
        return False
