"""The container-length check that sends files cut short to PyAV (headers built byte by byte)."""

from __future__ import annotations

import pytest

from featkit.io.truncation import declared_end, is_cut_short


def _riff(body: bytes, declared: int | None = None) -> bytes:
    size = len(body) + 4 if declared is None else declared
    return b"RIFF" + size.to_bytes(4, "little") + b"AVI " + body


def _mkv(segment_body: bytes, size_field: bytes | None = None) -> bytes:
    header = b"\x1a\x45\xdf\xa3" + b"\x84" + b"\x42\x86\x81\x01"  # EBML header: 4 bytes of data (one element)
    size = size_field if size_field is not None else bytes([0x80 | len(segment_body)])
    return header + b"\x18\x53\x80\x67" + size + segment_body


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (_riff(b"x" * 20), 32),
        (_mkv(b"y" * 10), 4 + 1 + 4 + 4 + 1 + 10),
        (_mkv(b"y" * 10, b"\x40\x0a"), 4 + 1 + 4 + 4 + 2 + 10),  # the same size in a 2-byte field
        (_mkv(b"y" * 10, b"\x01\xff\xff\xff\xff\xff\xff\xff"), None),  # unknown size (a live stream)
        (b"\x00\x00\x00\x18ftypisom" + b"z" * 16, None),  # MP4 gives no total length up front
        (b"", None),
    ],
    ids=["riff", "mkv", "mkv-2-byte-size", "mkv-unknown-size", "mp4", "empty"],
)
def test_declared_end(tmp_path, data, end):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert declared_end(path) == end
    assert not is_cut_short(path)  # whole files, or no length to compare with


@pytest.mark.parametrize("data", [_riff(b"x" * 20), _mkv(b"y" * 10)], ids=["riff", "mkv"])
def test_a_file_shorter_than_declared_is_cut_short(tmp_path, data):
    path = tmp_path / "f.bin"
    path.write_bytes(data[:-1])
    assert is_cut_short(path)
    path.write_bytes(data + b"junk")  # longer than declared: trailing bytes, not a lost tail
    assert not is_cut_short(path)


def test_a_missing_file_is_not_called_cut_short(tmp_path):
    assert declared_end(tmp_path / "none.avi") is None
    assert not is_cut_short(tmp_path / "none.avi")
