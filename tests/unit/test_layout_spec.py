"""The layout as versioned table specs: older tables are read and upgraded through registered migrations,
and a table of a version this featkit does not know is refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from featkit.exceptions import LayoutError
from featkit.store import FeatureStore, VideoResult, open_feature_file, read_table
from featkit.store.layout import SPECS, TABLE_VERSION_ATTR, migrated_defaults, table_version

META = {
    "encoder": {"name": "tiny"},
    "sampling": {"clip_len": 2},
    "stats": ["mu_mean"],
    "extraction": {},
    "feature_names": ["mu_mean_0", "mu_mean_1"],
    "decoder": "test",
}


def _video(path: str, n_clips: int = 2) -> VideoResult:
    video = {
        "path": path,
        "label": "a",
        "sha256": path * 4,
        "size": 10,
        "mtime_ns": 1,
        "fps": 25.0,
        "n_frames": 4,
        "duration": 0.16,
        "width": 8,
        "height": 8,
        "timestamp_source": "fps",
        "backend": "pyav",
        "group": "",
    }
    clips = {
        "start_frame": np.arange(n_clips),
        "end_frame": np.arange(n_clips) + 2,
        "start_time": np.zeros(n_clips),
        "end_time": np.ones(n_clips),
        "n_frames": np.full(n_clips, 2),
    }
    return VideoResult(video=video, clips=clips, features=np.ones((n_clips, 2), dtype=np.float32))


@pytest.fixture
def old_file(tmp_path):
    """A file whose videos table is version 1 (before ``backend`` and ``group``), as early featkit wrote it."""
    out = tmp_path / "old.h5"
    with FeatureStore.open(out, META) as store:
        store.add_video(_video("a.mp4"))
    with h5py.File(out, "a") as f:
        del f["videos/backend"], f["videos/group"]
    return out


def test_the_videos_table_has_two_registered_migrations():
    assert SPECS["videos"].version == 3
    assert "backend" not in SPECS["videos"].fields_at(1)
    assert "group" in SPECS["videos"].fields_at(3)
    assert migrated_defaults("videos") == {"backend": "decord", "group": ""}


def test_an_old_table_is_read_as_its_version_and_migrated_on_resume(old_file):
    with open_feature_file(old_file) as f:
        assert table_version(f, "videos", old_file) == 1
        assert "backend" not in read_table(f, "videos")
    with FeatureStore.open(old_file, META) as store:
        store.add_video(_video("b.mp4"))
    with open_feature_file(old_file) as f:
        assert table_version(f, "videos", old_file) == 3
        assert TABLE_VERSION_ATTR not in f["videos"].attrs, "files keep their bytes: no version attribute written"
        videos = read_table(f, "videos")
    assert list(videos["path"]) == ["a.mp4", "b.mp4"]
    assert list(videos["backend"]) == ["decord", "pyav"], "the old row gets what the migration says it implies"
    assert list(videos["group"]) == ["", ""]


@pytest.mark.parametrize("table", ["clips", "videos", "failures"])
def test_a_table_of_an_unknown_future_version_is_refused(tmp_path, table):
    out = tmp_path / "future.h5"
    with FeatureStore.open(out, META) as store:
        store.add_video(_video("a.mp4"))
    with h5py.File(out, "a") as f:
        f[table].attrs[TABLE_VERSION_ATTR] = SPECS[table].version + 1
    with pytest.raises(LayoutError, match=rf"table /{table} has version {SPECS[table].version + 1}.*newer featkit"):
        open_feature_file(out)
