"""Object frames for training (benchmarks/stamps.py): pasted cut-outs, seeded, and a pinned package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.stamps import STAMPS_DEB, fetch_stamps, stamp_views


def _write_stamps(folder: Path) -> list[str]:
    """Two RGBA cut-outs: an opaque red disc and a green square, each on a transparent margin."""
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:80, :80]
    disc = np.zeros((80, 80, 4), np.uint8)
    disc[(yy - 40) ** 2 + (xx - 40) ** 2 < 30**2] = (255, 0, 0, 255)
    square = np.zeros((60, 90, 4), np.uint8)
    square[10:50, 20:70] = (0, 255, 0, 255)
    paths = []
    for name, arr in (("disc.png", disc), ("square.png", square)):
        Image.fromarray(arr, "RGBA").save(folder / name)
        paths.append(str(folder / name))
    return paths


def test_stamp_views_paste_objects_on_backgrounds_and_repeat_with_the_seed(tmp_path):
    paths = _write_stamps(tmp_path / "stamps")
    backgrounds = np.full((3, 64, 64, 3), 7, np.uint8)
    a = stamp_views(paths, 40, 64, seed=3, backgrounds=backgrounds)
    assert a.shape == (40, 64, 64, 3)
    assert a.dtype == np.uint8
    np.testing.assert_array_equal(a, stamp_views(paths, 40, 64, seed=3, backgrounds=backgrounds))
    assert not np.array_equal(a, stamp_views(paths, 40, 64, seed=4, backgrounds=backgrounds))
    red = (a[..., 0] > 200) & (a[..., 1] < 60) & (a[..., 2] < 60)
    green = (a[..., 1] > 200) & (a[..., 0] < 60) & (a[..., 2] < 60)
    # Every frame shows a stamp, and both stamps are used.
    assert ((red | green).reshape(40, -1).sum(axis=1) > 20).all()
    assert red.any()
    assert green.any()
    # The transparent margin is not pasted: half the frames keep the background around the stamp.
    assert ((a == 7).all(axis=-1).reshape(40, -1).mean(axis=1) > 0.3).sum() >= 8


def test_fetch_stamps_refuses_a_package_that_is_not_the_pinned_one(tmp_path):
    folder = tmp_path / "stamps"
    folder.mkdir()
    (folder / f"{STAMPS_DEB[0]}_{STAMPS_DEB[1]}_all.deb").write_bytes(b"not the package")
    with pytest.raises(RuntimeError, match="sha256"):
        fetch_stamps(tmp_path)
