"""The two decoding backends on real files: same frames for the same indices, exact frames, and the fallback.

Measured here (decord2 3.4.0, PyAV 18.1 / libavcodec 62): on every format of
the mixed corpus below both backends return the *same* frames (mean absolute
difference 0.0, same frame count, size and timestamps), because the PyAV
reader runs decord's own filter chain (rotation, ``scale``, ``rgb24``). Where
they differ, decord is wrong: on MPEG-TS/PS it returns frames 10-30 positions
off without an error, and it cannot open VP8 in Ogg at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from featkit import ExtractionConfig, SamplingConfig, extract
from featkit.discover import VideoFile
from featkit.exceptions import VideoDecodeError, VideoError, VideoOpenError
from featkit.extraction import decode_video
from featkit.io.backends import BACKEND_CHOICES, backend_versions, backends_for, open_reader
from featkit.io.pyav_reader import PyAVReader
from featkit.io.video import DecordReader
from tests import videofactory as vf

# name -> (codec, suffix, pix_fmt, codec options): decord and PyAV must agree on all of these.
MIXED = {
    "h264_mp4": ("libx264", ".mp4", "yuv420p", None),
    "h264_bframes_mkv": ("libx264", ".mkv", "yuv420p", {"bf": "3"}),
    "hevc_mp4": ("libx265", ".mp4", "yuv420p", {"x265-params": "log-level=none"}),
    "hevc10_mp4": ("libx265", ".mp4", "yuv420p10le", {"x265-params": "log-level=none"}),  # 10-bit
    # AV1 (what YouTube serves). At preset 12 (SVT-AV1 M11, "not meant for playback") it wrote streams dav1d rejects.
    "av1_mp4": ("libsvtav1", ".mp4", "yuv420p", {"preset": "8"}),
    "vp9_webm": ("libvpx-vp9", ".webm", "yuv420p", {"deadline": "realtime", "cpu-used": "8"}),
    "vp8_webm": ("libvpx", ".webm", "yuv420p", None),
    "mpeg4_avi": ("mpeg4", ".avi", "yuv420p", None),
    "mjpeg_mov": ("mjpeg", ".mov", "yuvj420p", None),
    "prores_mov": ("prores_ks", ".mov", "yuv422p10le", None),
    "ffv1_mkv": ("ffv1", ".mkv", "bgr0", None),
    "flv1_flv": ("flv", ".flv", "yuv420p", None),
}
# MPEG-4 Part 2 with B-frames in AVI as FFmpeg writes them (each frame its own chunk, in decode order; for DivX's
# "packed" B-frames see the last test): decord has no time for some frames, the times it has are
# 1.5x too far apart, and its seeks land on other frames (differently from process to process); decord
# refuses them, so "auto" reads them with PyAV.
PYAV_ONLY = {
    "mpeg4_bframes_avi": ("mpeg4", ".avi", "yuv420p", {"bf": "2", "g": "12"}),
    "mpeg4_open_gop_avi": ("mpeg4", ".avi", "yuv420p", {"bf": "2", "g": "8", "flags": "-cgop"}),
}


def _write(tmp_path, name, frames, fps=12):
    codec, suffix, pix_fmt, options = {**MIXED, **PYAV_ONLY}[name]
    if not vf.can_encode(codec):  # an FFmpeg build without it (PyAV's wheels have them all today)
        pytest.skip(f"this PyAV's FFmpeg has no {codec} encoder")
    return vf.write_video(
        tmp_path / f"{name}{suffix}", frames, fps=fps, codec=codec, pix_fmt=pix_fmt, codec_options=options
    )


@pytest.mark.parametrize("name", sorted(MIXED))
def test_both_backends_give_the_same_frames_for_the_same_timestamps(tmp_path, name):
    frames = vf.pattern_frames(30, 90, 160, kind="gradient", seed=2, motion=(3, 1))
    path = _write(tmp_path, name, frames)
    d, p = DecordReader(path, 64), PyAVReader(path, 64)
    assert (
        (p.info.n_frames, p.info.width, p.info.height)
        == (d.info.n_frames, d.info.width, d.info.height)
        == (30, 160, 90)
    )
    assert p.info.timestamp_source == d.info.timestamp_source
    np.testing.assert_array_equal(p.info.starts, d.info.starts)  # the same times, to the bit
    assert p.info.end == d.info.end
    # The frames the default sampling (8 fps) picks, i.e. the same timestamps for both.
    from featkit.io.sampling import sample_frame_indices

    idx = np.unique(sample_frame_indices(d.info.starts, d.info.end, 8.0))
    a, b = d.read(idx), p.read(idx)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    print(f"{name}: {len(idx)} frames, mean |decord - pyav| = {diff.mean():.4f}, max = {diff.max()}")
    assert diff.mean() < 0.5
    assert diff.max() <= 8
    p.close()


@pytest.mark.parametrize(("codec", "suffix"), [("wmv2", ".wmv"), ("mpeg2video", ".ts"), ("libx264", ".ts")])
def test_where_decord_is_wrong_pyav_gives_the_frames_of_a_full_decode(tmp_path, codec, suffix):
    """The reason "auto" sends ASF/WMV and MPEG-TS/PS to PyAV: decord's frames after a seek are other frames."""
    frames = vf.pattern_frames(30, 90, 160, kind="gradient", seed=2, motion=(3, 1))
    path = vf.write_video(tmp_path / f"v{suffix}", frames, fps=12, codec=codec)
    assert backends_for("auto", path) == ("pyav",)
    reader = PyAVReader(path, 64)
    truth = reader.read(np.arange(reader.info.n_frames))  # every frame, in order: no seek involved
    from featkit.io.sampling import sample_frame_indices

    idx = np.unique(sample_frame_indices(reader.info.starts, reader.info.end, 8.0))
    np.testing.assert_array_equal(PyAVReader(path, 64).read(idx), truth[idx])
    try:
        got = DecordReader(path, 64).read(idx)
        wrong = sum(not np.array_equal(a, b) for a, b in zip(got, truth[idx], strict=True))
        print(f"{path.name}: decord returned {wrong} wrong frames of {len(idx)}")
    except VideoError as exc:
        print(f"{path.name}: decord failed: {exc}")


@pytest.mark.parametrize(
    ("codec", "suffix"),
    [
        ("mpeg2video", ".ts"),
        ("libx264", ".ts"),
        ("mpeg2video", ".mpg"),
        ("libvpx", ".ogv"),
        ("libx264", ".mp4"),
        ("mpeg4", ".avi"),
    ],
)
def test_pyav_returns_exactly_the_frames_asked_for(tmp_path, codec, suffix):
    frames = vf.pattern_frames(60, 64, 64, kind="counter")
    path = vf.write_video(tmp_path / f"count{suffix}", frames, fps=24, codec=codec, pix_fmt="yuv420p")
    want = np.array([0, 1, 2, 5, 17, 18, 30, 44, 59])
    with PyAVReader(path, 64) as reader:
        assert reader.info.n_frames == 60
        got = [vf.decode_counter(f) for f in reader.read(want)]
    assert got == list(want)


def test_pyav_seeks_forward_and_back_over_keyframes(tmp_path):
    frames = vf.pattern_frames(200, 64, 64, kind="counter")
    path = vf.write_video(tmp_path / "gop.mp4", frames, fps=25, codec_options={"g": "10", "bf": "2"})
    reader = PyAVReader(path, 64)
    for want in ([0, 50, 51, 120, 199], [150, 20, 21, 199, 3], [7, 7, 8]):
        got = [vf.decode_counter(f) for f in reader.read(np.array(want))]
        assert got == want


def test_pyav_vfr_timestamps_and_rotation_match_what_was_written(tmp_path):
    ts = vf.vfr_timestamps(20)
    vfr = vf.write_vfr_video(tmp_path / "vfr.mkv", vf.pattern_frames(20, 64, 64, seed=1), ts)
    info = PyAVReader(vfr, 64).info
    assert info.timestamp_source == "container"
    np.testing.assert_allclose(info.starts, ts, atol=1e-3)
    coded = vf.pattern_frames(4, 72, 128, kind="gradient", seed=3)
    for rotation in (90, 180, 270):
        path = vf.write_rotated_video(tmp_path / f"rot{rotation}.mp4", coded, rotation)
        d, p = DecordReader(path, 64), PyAVReader(path, 64)
        assert (p.info.width, p.info.height) == (d.info.width, d.info.height)
        assert (p.info.width, p.info.height) == ((72, 128) if rotation % 180 else (128, 72))
        np.testing.assert_array_equal(p.read(np.arange(4)), d.read(np.arange(4)))


@pytest.mark.parametrize(
    "make",
    [
        lambda d: vf.write_zero_bytes(d / "zero.mp4"),
        lambda d: vf.write_random_bytes(d / "noise.mp4"),
        lambda d: vf.write_text_as_video(d / "text.mp4"),
        lambda d: vf.write_audio_only(d / "audio.mp4", codec="aac", duration=0.3),
        lambda d: d / "missing.mp4",
        lambda d: vf.write_garbage_payload(vf.write_clip(d, "src", vf.pattern_frames(24, 64, 64)), d / "garbage.mp4"),
    ],
    ids=["zero-bytes", "random-bytes", "text", "audio-only", "missing", "garbage-payload"],
)
def test_pyav_broken_files_raise_video_errors(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(VideoError) as info:
        PyAVReader(path, 64).read(np.arange(24))
    assert isinstance(info.value, VideoOpenError | VideoDecodeError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("fmt", "fraction"),
    [
        *[("h264_mkv", f) for f in (0.44, 0.5, 0.54, 0.6)],
        # A packet cut short decoded as a copy of an earlier picture (frame 1's at t = 5/24) until the
        # reader left such packets out.
        *[("mpeg4_avi", f) for f in (0.64, 0.66, 0.69, 0.71, 0.78)],
    ],
)
def test_damaged_tail_keeps_the_intact_frames(tmp_path, fmt, fraction):
    # Each frame read is the picture shown at its timestamp. With B-frames a cut can keep a P-frame
    # whose B-frames before it are lost, so the intact frames are not always 0..n-1 (frame 4 after 0).
    frames = vf.pattern_frames(48, 64, 64, kind="counter")
    src = vf.write_clip(tmp_path, "full", frames, fmt=fmt, fps=24)
    path = vf.write_truncated(src, tmp_path / f"cut{src.suffix}", fraction)
    reader = PyAVReader(path, 64)
    n = reader.info.n_frames
    assert 0 < n < 48
    shown = np.rint(np.asarray(reader.info.starts) * 24).astype(int).tolist()
    assert [vf.decode_counter(f) for f in reader.read(np.arange(n))] == shown


@pytest.mark.parametrize("fmt", ["h264_mkv", "mpeg4_avi", "mjpeg_avi", "vp9_webm"])
def test_auto_reads_a_file_cut_short_with_pyav(tmp_path, fmt):
    """decord's last frames of a cut file repeat the one before or carry other times: such files go to PyAV."""
    frames = vf.pattern_frames(48, 64, 64, kind="counter")
    src = vf.write_clip(tmp_path, "full", frames, fmt=fmt, fps=24)
    DecordReader(src, 64).close()  # the whole file is read by decord as before
    cut = vf.write_truncated(src, tmp_path / f"cut{src.suffix}", 0.7)
    with pytest.raises(VideoDecodeError, match="cut short"):
        DecordReader(cut, 64)
    got = decode_video(str(tmp_path), VideoFile(cut.name, ""), 64, SamplingConfig(clip_len=4, fps=None))
    assert got.video["backend"] == "pyav"
    shown = np.rint(np.asarray(got.starts)[got.frame_ids] * 24).astype(int).tolist()
    assert [vf.decode_counter(f) for f in got.frames] == shown


def test_backend_choice():
    assert BACKEND_CHOICES == ("auto", "decord", "pyav")
    assert backends_for("auto", "a/b.mp4") == ("decord", "pyav")
    assert backends_for("auto", "a/b.mp4", sparse=True) == ("pyav", "decord")  # PyAV skips what is not needed
    assert backends_for("auto", "a/b.ts", sparse=True) == ("pyav",)
    assert backends_for("decord", "a/b.mp4", sparse=True) == ("decord",)
    assert backends_for("auto", "a/b.TS") == ("pyav",)  # decord reads MPEG-TS/PS and WMV wrongly
    assert backends_for("auto", "a/b.wmv") == ("pyav",)
    assert backends_for("decord", "a/b.ts") == ("decord",)
    assert backends_for("pyav", "a/b.mp4") == ("pyav",)
    with pytest.raises(ValueError, match="ffmpeg"):
        backends_for("ffmpeg", "a.mp4")
    with pytest.raises(ValueError, match="ffmpeg"):
        open_reader("ffmpeg", "a.mp4", 64)
    assert backend_versions("auto").startswith("decord ")
    assert "; pyav " in backend_versions("auto")
    assert backend_versions("pyav").startswith("pyav ")


def test_decode_video_falls_back_in_process(tmp_path):
    """The in-process path (scikit-learn extractor) falls back as well, and says which backend it used."""
    vf.write_video(tmp_path / "vp8.ogv", vf.pattern_frames(24, 64, 64, seed=2), fps=12, codec="libvpx")
    sampling = SamplingConfig(clip_len=4)
    got = decode_video(str(tmp_path), VideoFile("vp8.ogv", ""), 64, sampling)
    assert got.video["backend"] == "pyav"
    assert got.frames.shape == (len(got.frame_ids), 64, 64, 3)
    failed = decode_video(str(tmp_path), VideoFile("vp8.ogv", ""), 64, sampling, backend="decord")
    assert failed.reason == "open_failed"


def test_extract_falls_back_to_pyav_for_files_decord_cannot_read(tmp_path, encoder):
    import h5py

    root = tmp_path / "videos"
    vf.write_clip(root, "plain", vf.pattern_frames(24, 64, 64, seed=1), fmt="h264_mp4", fps=12)
    # VP8 in Ogg: decord cannot open it ("Failed to measure duration/frame-count due to broken metadata").
    vf.write_video(root / "vp8.ogv", vf.pattern_frames(24, 64, 64, seed=2), fps=12, codec="libvpx")
    # H.264 in MPEG-TS: decord returns wrong frames; auto reads it with PyAV directly.
    vf.write_video(root / "tv.ts", vf.pattern_frames(24, 64, 64, seed=3), fps=12)
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=None))  # every frame: decord first
    out = tmp_path / "auto.h5"
    report = extract(root, out, config, progress=False, encoder=encoder)
    assert report.ok, report.failures
    with h5py.File(out, "r") as f:
        used = dict(
            zip([p.decode() for p in f["videos/path"][()]], [b.decode() for b in f["videos/backend"][()]], strict=True)
        )
        assert "pyav" in f.attrs["decoder"]
        import json

        assert json.loads(f.attrs["extraction"])["backend"] == "auto"
    assert used == {"plain.mp4": "decord", "vp8.ogv": "pyav", "tv.ts": "pyav"}
    from featkit.cli import summarise

    assert summarise(str(out))["backends"] == {"decord": 1, "pyav": 2}  # what `featkit info` shows
    # Forcing decord records the failure instead; forcing PyAV gives features equal to auto's for that file.
    only_decord = extract(
        root,
        tmp_path / "decord.h5",
        ExtractionConfig(sampling=config.sampling, backend="decord"),
        progress=False,
        encoder=encoder,
    )
    assert {f.path: f.reason for f in only_decord.failures}.get("vp8.ogv") == "open_failed"
    only_pyav = tmp_path / "pyav.h5"
    extract(
        root, only_pyav, ExtractionConfig(sampling=config.sampling, backend="pyav"), progress=False, encoder=encoder
    )
    from featkit.sklearn import load_features

    xa, _, _ga, _ = load_features(out)
    xp, _, _gp, _ = load_features(only_pyav)
    np.testing.assert_array_equal(xa, xp)  # decord and PyAV frames are identical on plain.mp4 too


def test_every_command_reads_through_the_decode_seam(tmp_path, encoder, capsys):
    """train, reconstruct, complete, generate --walk and the sklearn extractor read a file decord cannot open (VP8 in
    Ogg) as extract does, via PyAV."""
    from featkit.cli import main
    from featkit.io.backends import open_video
    from featkit.training.frames import collect_frames, random_crops

    path = tmp_path / "vp8.ogv"
    vf.write_video(path, vf.pattern_frames(24, 96, 96, seed=4), fps=12, codec="libvpx")
    with pytest.raises(VideoOpenError):
        open_video(path, 64, backend="decord")
    reader, name = open_video(path, 64)
    reader.close()
    assert name == "pyav"
    # The frames training sees are the frames extract encodes.
    sampling = SamplingConfig(clip_len=4, fps=4.0)
    decoded = decode_video(str(tmp_path), VideoFile("vp8.ogv", ""), 64, sampling)
    frames = collect_frames([path], size=64, fps=4.0)
    np.testing.assert_array_equal(frames, decoded.frames)
    crops = random_crops(path, decoded.frame_ids, size=64, crops=1, scales=(1.5,), rng=np.random.default_rng(0))
    assert crops.shape == (len(decoded.frame_ids), 64, 64, 3)
    out = tmp_path / "rec.mp4"
    assert main(["reconstruct", str(path), "-o", str(out), "--max-frames", "6"]) == 0
    assert out.stat().st_size > 0
    assert main(["complete", str(path), "--missing", "3-4", "-o", str(tmp_path / "done.mp4")]) == 0
    sheet = tmp_path / "walk.png"
    assert main(["generate", "--walk", str(path), str(path), "--steps", "3", "--rows", "1", "-o", str(sheet)]) == 0
    assert sheet.stat().st_size > 0
    # The path-based scikit-learn extractor reads it the same way.
    from featkit.transformers import VideoFeatureExtractor

    X = VideoFeatureExtractor(clip_len=4, fps=4.0, stats=("mu_mean",)).fit_transform([str(path)])
    assert X.shape[0] == 1
    assert np.isfinite(X).all()
    capsys.readouterr()


@pytest.mark.parametrize("name", sorted(PYAV_ONLY))
def test_decord_refuses_files_without_complete_timestamps_and_auto_reads_them_with_pyav(tmp_path, name):
    path = _write(tmp_path, name, vf.pattern_frames(26, 300, 400, seed=3), fps=25)
    with pytest.raises(VideoDecodeError, match="no timestamp for some frames"):
        DecordReader(path, 64)
    got = decode_video(str(tmp_path), VideoFile(path.name, ""), 64, SamplingConfig(clip_len=4))
    assert got.video["backend"] == "pyav"
    np.testing.assert_allclose(PyAVReader(path, 64).info.starts, np.arange(26) / 25, atol=1e-6)


@pytest.mark.parametrize("name", sorted({**MIXED, **PYAV_ONLY}))
def test_sampled_frames_equal_a_sequential_pyav_decode(tmp_path, name):
    """The reference check: what extract samples equals a forward PyAV decode of every frame at those indices.

    Both resize in FFmpeg to the same size, so the frames must be equal, not just close.
    """
    frames = vf.pattern_frames(26, 300, 400, seed=3)
    path = _write(tmp_path, name, frames, fps=25)
    got = decode_video(str(tmp_path), VideoFile(path.name, ""), 64, SamplingConfig(clip_len=4))
    reference = PyAVReader(path, 64)
    every = reference.read(np.arange(reference.info.n_frames))  # forward, never seeks
    reference.close()
    np.testing.assert_array_equal(got.frames, every[got.frame_ids])


def test_fresh_processes_give_bit_identical_features(tmp_path):
    """Four fresh `featkit extract` runs on an MPEG-4 B-frame AVI without timestamps give the same bytes."""
    import hashlib
    import subprocess
    import sys

    import h5py

    root = tmp_path / "videos"
    _write(root, "mpeg4_bframes_avi", vf.pattern_frames(26, 300, 400, seed=3), fps=25)
    digests = set()
    for run in range(4):
        out = tmp_path / f"run{run}.h5"
        cmd = [sys.executable, "-m", "featkit", "extract", str(root), "-o", str(out), "-q", "--clip-len", "4"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        with h5py.File(out, "r") as f:
            assert f["features"].shape[0] > 0
            assert [b.decode() for b in f["videos/backend"][()]] == ["pyav"]
            digests.add(hashlib.sha256(f["features"][()].tobytes()).hexdigest())
    assert len(digests) == 1


def test_decord_reads_forward_across_windows_and_after_going_back(tmp_path):
    """Windows continue where the last stopped; going back restarts; all equal a forward PyAV decode."""
    path = _write(tmp_path, "h264_bframes_mkv", vf.pattern_frames(40, 90, 160, seed=5))
    reference = PyAVReader(path, 64)
    every = reference.read(np.arange(40))
    reference.close()
    reader = DecordReader(path, 64)
    windows = [np.array([0, 3, 9]), np.array([10, 11, 30]), np.array([31, 39]), np.array([2, 5])]
    for idx in windows:
        np.testing.assert_array_equal(reader.read(idx, batch=2), every[idx])
    assert len(reader.read(np.array([], dtype=np.int64))) == 0


def test_packed_bframes_avi_gives_the_pictures_in_presentation_order_with_both_backends(tmp_path, encoder):
    """DivX/XviD "packed B-frames" in AVI: FFmpeg labels the decoded pictures with times out of order
    (1, 3, 2, 5, 4, ...); both backends return the pictures of the same stream stored unpacked."""
    import av

    frames = vf.pattern_frames(26, 300, 400, seed=3)
    path = vf.write_packed_bframes_avi(tmp_path / "v" / "packed.avi", frames, fps=25)
    with av.open(str(path)) as container:
        labels = [f.pts for f in container.decode(video=0)]
    assert labels != sorted(labels)  # the trap is in the file
    plain = vf.write_video(tmp_path / "plain.avi", frames, fps=25, codec="mpeg4", codec_options={"bf": "1"})
    with PyAVReader(plain, 64) as reference:
        truth = reference.read(np.arange(26))
    with PyAVReader(path, 64) as reader:
        np.testing.assert_allclose(reader.info.starts, np.arange(26) / 25, atol=1e-6)
        np.testing.assert_array_equal(reader.read(np.arange(26)), truth)  # forward
        np.testing.assert_array_equal(reader.read(np.array([3, 11, 12, 25])), truth[[3, 11, 12, 25]])  # back again
    with PyAVReader(path, 64) as reader:  # a fresh reader that starts with a seek
        np.testing.assert_array_equal(reader.read(np.array([20, 24])), truth[[20, 24]])
    np.testing.assert_array_equal(DecordReader(path, 64).read(np.arange(26)), truth)
    sampling = SamplingConfig(clip_len=4)
    got = decode_video(str(path.parent), VideoFile(path.name, ""), 64, sampling)
    np.testing.assert_array_equal(got.frames, truth[got.frame_ids])
    from featkit.sklearn import load_features

    runs = {}
    for backend in ("decord", "pyav"):
        out = tmp_path / f"{backend}.h5"
        report = extract(path.parent, out, ExtractionConfig(sampling=sampling, backend=backend), encoder=encoder)
        assert report.n_extracted == 1
        assert not report.failures
        runs[backend] = load_features(out)[0]
    np.testing.assert_array_equal(runs["decord"], runs["pyav"])


def test_animated_gif_reads_with_its_frame_delays_through_both_backends(tmp_path, encoder):
    """An animated GIF is a video: its per-frame delays are the frame times, decord and PyAV agree, and
    ``featkit extract`` finds and extracts it (a still GIF is a 1-frame video)."""
    from PIL import Image

    from featkit import load_videos
    from featkit.sklearn import load_features

    frames = vf.pattern_frames(20, 96, 128, seed=1)
    path = tmp_path / "v" / "anim.gif"
    path.parent.mkdir()
    pictures = [Image.fromarray(f) for f in frames]
    delays = [50] * 10 + [120] * 10  # ms: a variable frame rate
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=delays, loop=0)
    Image.fromarray(frames[0]).save(tmp_path / "v" / "still.gif")
    want = np.concatenate([[0.0], np.cumsum(delays[:-1])]) / 1000
    d, p = DecordReader(path, 64), PyAVReader(path, 64)
    np.testing.assert_allclose(d.info.starts, want, atol=1e-3)
    np.testing.assert_allclose(p.info.starts, want, atol=1e-3)
    np.testing.assert_array_equal(d.read(np.arange(20)), p.read(np.arange(20)))
    p.close()
    runs = {}
    for backend in ("decord", "pyav"):
        out = tmp_path / f"{backend}.h5"
        report = extract(tmp_path / "v", out, ExtractionConfig(backend=backend), progress=False, encoder=encoder)
        assert report.n_extracted == 2
        assert not report.failures
        runs[backend] = load_features(out)[0]
        videos = load_videos(out)
        assert sorted(videos["path"]) == ["anim.gif", "still.gif"]
        assert dict(zip(videos["path"], videos["n_frames"], strict=True)) == {"anim.gif": 20, "still.gif": 1}
    np.testing.assert_array_equal(runs["decord"], runs["pyav"])


@pytest.mark.parametrize("name", sorted({**MIXED, **PYAV_ONLY}))
def test_pyav_skips_frames_no_one_needs_and_the_sampled_ones_stay_exact(tmp_path, name):
    """At 8 fps of 24, unwanted frames no other frame refers to are not decoded; the wanted ones are unchanged."""
    frames = vf.pattern_frames(72, 90, 160, kind="gradient", seed=4, motion=(2, 1))
    path = _write(tmp_path, name, frames, fps=24)
    with PyAVReader(path, 64) as reference:
        every = reference.read(np.arange(reference.info.n_frames))  # every frame wanted: nothing skipped
        assert reference.frames_decoded == reference.info.n_frames
    from featkit.io.sampling import sample_frame_indices

    with PyAVReader(path, 64) as reader:
        idx = np.unique(sample_frame_indices(reader.info.starts, reader.info.end, 8.0))
        got = np.concatenate([reader.read(idx[:10]), reader.read(idx[10:])])  # two windows, as the workers read
        decoded = reader.frames_decoded
    np.testing.assert_array_equal(got, every[idx])
    print(f"{name}: decoded {decoded} of {len(every)} frames for {len(idx)} wanted")
    if name in {"h264_bframes_mkv", "mpeg4_bframes_avi", "mpeg4_open_gop_avi"}:  # B-frames nothing refers to
        assert decoded < len(every) - len(idx) // 2


def test_pyav_decodes_again_without_skipping_if_a_wanted_frame_went_missing(tmp_path, monkeypatch):
    """The safety net: were a wanted frame skipped, the reader starts over decoding every frame."""
    frames = vf.pattern_frames(48, 64, 64, kind="counter")
    path = vf.write_video(tmp_path / "b.mkv", frames, fps=24, codec_options={"bf": "3"})
    monkeypatch.setattr(PyAVReader, "_unwanted", lambda self, packet: True)  # every B-frame skipped, wanted or not
    want = np.arange(0, 48, 3)
    with PyAVReader(path, 64) as reader:
        got = [vf.decode_counter(f) for f in reader.read(want)]
        assert not reader._skip_unwanted
    assert got == list(want)


def test_default_sampling_reads_a_cut_faststart_mp4_with_pyav(tmp_path):
    """An MP4 cut short whose index survived (faststart) looks whole to decord (a known gap at --fps native);
    the default sampling reads it with PyAV first, which keeps each intact frame at its own time."""
    frames = vf.pattern_frames(48, 64, 64, kind="counter")
    src = vf.write_video(tmp_path / "full.mp4", frames, fps=24, container_options={"movflags": "+faststart"})
    cut = vf.write_truncated(src, tmp_path / "cut.mp4", 0.7)
    got = decode_video(str(tmp_path), VideoFile(cut.name, ""), 64, SamplingConfig(clip_len=4))
    assert got.video["backend"] == "pyav"
    shown = np.rint(np.asarray(got.starts)[got.frame_ids] * 24).astype(int).tolist()
    assert [vf.decode_counter(f) for f in got.frames] == shown
    assert len(got.frame_ids) > 0


@pytest.mark.parametrize("name", ["h264_bframes_mkv", "hevc_mp4", "mpeg4_bframes_avi"])
def test_skipping_stays_exact_with_decoder_threads(tmp_path, name):
    """``--decode-threads 2`` (FFmpeg's slice threads, PyAV's default kind): the same frames, fewer decoded."""
    frames = vf.pattern_frames(96, 90, 160, kind="gradient", seed=5, motion=(3, 2))
    path = _write(tmp_path, name, frames, fps=24)
    with PyAVReader(path, 64) as reference:
        every = reference.read(np.arange(reference.info.n_frames))
    idx = np.arange(0, len(every), 3)
    with PyAVReader(path, 64, num_threads=2) as reader:
        got = np.concatenate([reader.read(idx[i : i + 8]) for i in range(0, len(idx), 8)])
        assert reader._skip_unwanted  # no wanted frame went missing: the safety net was not needed
        assert reader.frames_decoded < len(every)
    np.testing.assert_array_equal(got, every[idx])
