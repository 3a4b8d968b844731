"""featkit.files: the one atomic writer every small output goes through."""

from __future__ import annotations

import os
import stat

import pytest

from featkit.files import atomic_write_bytes, atomic_writer


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_bytes(b"old")

    def write_half() -> None:
        with atomic_writer(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_half()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_write_replaces_whole_with_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_bytes(tmp_path / "sub" / "model.skops", b"new")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(atomic_write_bytes(tmp_path / "key", b"x", mode=0o600).stat().st_mode) == 0o600
