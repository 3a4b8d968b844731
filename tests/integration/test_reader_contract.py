"""One contract every registered decoding backend keeps (featkit.io.backends.REGISTRY)."""

from __future__ import annotations

import numpy as np
import pytest

from featkit.exceptions import VideoError
from featkit.io.backends import BACKENDS, REGISTRY, backend_versions, open_reader
from tests import videofactory as vf


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "clip.mp4"
    vf.write_video(path, vf.pattern_frames(20, 96, 72, seed=3), fps=10)
    return path


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_keeps_the_reader_contract(name, video):
    reader = open_reader(name, video, 32)
    try:
        info = reader.info
        assert info.n_frames == 20
        assert (info.width, info.height) == (72, 96)  # pattern_frames(n, height, width)
        assert info.starts.dtype == np.float64
        assert info.starts.shape == (20,)
        assert np.all(np.diff(info.starts) > 0)
        assert info.end > info.starts[-1]
        ids = np.array([0, 3, 4, 19])
        frames = reader.read(ids)
        assert frames.shape == (4, 32, 32, 3)
        assert frames.dtype == np.uint8
        np.testing.assert_array_equal(reader.read(ids[1:2]), frames[1:2])  # a frame alone = in a batch
    finally:
        reader.close()


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_refuses_a_file_that_is_no_video_with_a_video_error(name, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError):
        open_reader(name, bad, 32)


def test_the_registry_names_each_backend_with_its_library_and_version():
    for name, backend in REGISTRY.items():
        assert backend.name == name
        assert backend.module in ("decord", "av")
        assert backend_versions(name)
    assert [n for n, b in REGISTRY.items() if b.exact_containers] == ["pyav"]
