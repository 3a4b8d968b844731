"""The decord reader on real files: formats, sizes, frame accuracy, timestamps, broken input."""

from __future__ import annotations

import numpy as np
import pytest

from featkit.exceptions import VideoDecodeError, VideoError, VideoOpenError
from featkit.io.video import DecordReader
from tests import videofactory as vf


@pytest.mark.parametrize("fmt", vf.available_formats())
def test_every_format_decodes_to_square_frames(tmp_path, fmt):
    path = vf.write_clip(tmp_path, "v", vf.pattern_frames(20, 72, 128, seed=1), fmt=fmt, fps=10)
    reader = DecordReader(path, 64)
    assert reader.info.n_frames == 20
    assert (reader.info.width, reader.info.height) == (128, 72)
    assert reader.info.end == pytest.approx(2.0, abs=0.01)
    frames = reader.read(np.arange(0, 20, 3))
    assert frames.shape == (7, 64, 64, 3)
    assert frames.dtype == np.uint8


@pytest.mark.parametrize(("h", "w"), [(61, 97), (64, 96), (100, 150), (128, 64), (64, 64)])
def test_sizes_including_widths_decord_cannot_output(tmp_path, h, w):
    # 96x64 and 150x100 would need a 96-pixel output width, which decord corrupts.
    path = vf.write_clip(tmp_path, "v", vf.pattern_frames(8, h, w, kind="solid", seed=2), fmt="h264_mp4")
    frames = DecordReader(path, 64).read(np.arange(8))
    assert frames.shape == (8, 64, 64, 3)
    colour = vf.pattern_frames(1, h, w, kind="solid", seed=2)[0, h // 2, w // 2].astype(int)
    assert np.abs(frames[:, 32, 32].astype(int) - colour).max() < 12


def test_the_requested_frames_come_back(tmp_path):
    frames = vf.pattern_frames(60, 64, 64, kind="counter")
    path = vf.write_clip(tmp_path, "count", frames, fmt="h264_mp4", fps=24)
    want = np.array([0, 1, 7, 8, 30, 31, 45, 59])
    got = DecordReader(path, 64).read(want, batch=3)
    assert [vf.decode_counter(f) for f in got] == list(want)


def test_vfr_timestamps_are_the_written_ones(tmp_path):
    ts = vf.vfr_timestamps(30)
    path = vf.write_vfr_video(tmp_path / "vfr.mp4", vf.pattern_frames(30, 64, 64, seed=3), ts)
    info = DecordReader(path, 64).info
    assert info.timestamp_source == "container"
    np.testing.assert_allclose(info.starts, ts, atol=1e-3)
    assert info.end > ts[-1]


def test_single_frame_video(tmp_path):
    path = vf.write_clip(tmp_path, "one", vf.pattern_frames(1, 64, 80, seed=4), fmt="h264_mp4")
    reader = DecordReader(path, 64)
    assert reader.info.n_frames == 1
    assert reader.info.end > 0
    assert reader.read(np.array([0])).shape == (1, 64, 64, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: vf.write_zero_bytes(d / "zero.mp4"),
        lambda d: vf.write_random_bytes(d / "noise.mp4"),
        lambda d: vf.write_text_as_video(d / "text.mp4"),
        lambda d: vf.write_audio_only(d / "audio.mp4", codec="aac", duration=0.3),
        lambda d: vf.write_truncated(
            vf.write_clip(d, "src", vf.pattern_frames(24, 64, 64), fmt="h264_mp4"), d / "cut.mp4", 0.5
        ),
        lambda d: d / "missing.mp4",
    ],
    ids=["zero-bytes", "random-bytes", "text", "audio-only", "truncated", "missing"],
)
def test_broken_files_raise_video_errors(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(VideoError) as info:
        DecordReader(path, 64).read(np.arange(24))
    assert isinstance(info.value, VideoOpenError | VideoDecodeError)
    assert str(path) in str(info.value)
