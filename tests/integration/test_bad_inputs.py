"""The bad-input corpus: 30 kinds of broken, odd or hostile inputs, all made here, through the real CLI.

Every input ends as a clean record: stored (success) or in the failures table
with a documented reason; the run itself never crashes, and features
extracted earlier into the same file are kept bit for bit.

Unreadable permissions: tests often run as root, for whom ``chmod 000`` blocks
nothing (CAP_DAC_OVERRIDE). The CLI is therefore started through a launcher
that drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from its
capability bounding set before ``exec``: the featkit process and its decoding
workers then obey file permissions like any user. Where that is impossible the
launcher says so and the file is expected to be read normally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from featkit import ExtractionConfig, SamplingConfig, extract
from featkit.discover import discover_videos
from featkit.store import read_table
from featkit.workers import FAULT_ENV
from tests import videofactory as vf
from tests.integration.conftest import features_of

REPO = Path(__file__).resolve().parents[2]
OK = "ok"
FAILED = {"open_failed", "decode_failed"}  # "the decoders reject it", whichever step notices first
# The launcher: drop root's permission bypass, check it took, then become `python -m featkit`.
LAUNCHER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; fails harmlessly when not root
os.execv(sys.executable, [sys.executable, "-c", "import os, sys\\n"
    "try:\\n    open(os.environ['LOCKED'], 'rb').close(); print('PERMISSIONS-NOT-ENFORCED', file=sys.stderr)\\n"
    "except PermissionError:\\n    pass\\n"
    "from featkit.cli import main; sys.exit(main(sys.argv[1:]))", *sys.argv[1:]])
"""


def _clip(directory: Path, name: str, n: int = 24, h: int = 64, w: int = 64, seed: int = 0, fmt: str = "h264_mp4"):
    return vf.write_clip(directory, name, vf.pattern_frames(n, h, w, seed=seed, motion=(2, 1)), fmt=fmt, fps=12)


def build_bad_corpus(root: Path) -> dict[str, object]:
    """Write every kind of input under ``root``; return path -> expected outcome.

    The outcome is ``OK``, a set of acceptable failure reasons, ``"any"`` (a clean
    record either way) or ``None`` (not a video: must appear nowhere).
    """
    scratch = root.parent / "scratch"
    expect: dict[str, object] = {}
    # 1 zero bytes; 2-4 MP4 cut before its index (at 10/50/90 %); 5 faststart MP4 missing its tail; 6 MKV cut
    expect["empty.mp4"] = FAILED
    vf.write_zero_bytes(root / "empty.mp4")
    full = _clip(scratch, "full", n=48, seed=1)
    for pct in (10, 50, 90):
        vf.write_truncated(full, root / f"cut{pct}.mp4", pct / 100)
        expect[f"cut{pct}.mp4"] = FAILED
    fast = vf.write_video(
        scratch / "fast.mp4", vf.pattern_frames(48, 64, 64), container_options={"movflags": "+faststart"}
    )
    vf.write_truncated(fast, root / "faststart_cut80.mp4", 0.8)
    expect["faststart_cut80.mp4"] = "any"  # its index survives: fine unless a sampled frame is in the lost tail
    vf.write_truncated(_clip(scratch, "full", n=48, seed=2, fmt="h264_mkv"), root / "cut60.mkv", 0.6)
    expect["cut60.mkv"] = OK  # Matroska survives a cut: the intact frames are used
    # 7 text renamed .mp4; 8 random bytes; 9 audio only; 10 media data replaced by noise (index intact)
    vf.write_text_as_video(root / "notes.mp4")
    vf.write_random_bytes(root / "noise.mkv", 8192, seed=3)
    vf.write_audio_only(root / "audio.mp4", codec="aac", duration=0.4)
    vf.write_garbage_payload(full, root / "garbage.mp4", seed=4)
    expect.update({"notes.mp4": FAILED, "noise.mkv": FAILED, "audio.mp4": FAILED, "garbage.mp4": FAILED})
    # 11 a single frame; 12 zero duration (every frame at t=0); 13 a video stream without frames
    _clip(root, "single_frame", n=1, w=80)
    vf.write_zero_duration(root / "zero_duration.mkv", vf.pattern_frames(12, 64, 64, seed=5))
    vf.write_empty_video_stream(root / "empty_stream.mp4")
    expect.update({"single_frame.mp4": OK, "zero_duration.mkv": "any", "empty_stream.mp4": FAILED})
    # 14 unsupported codec (a FourCC no decoder knows); 15 huge resolution (4K, 3 frames); 16 odd size
    vf.write_unknown_codec(_clip(scratch, "avi", fmt="mpeg4_avi"), root / "unknown_codec.avi")
    vf.write_video(
        root / "huge_4k.mp4", vf.pattern_frames(3, 2160, 4096, kind="gradient"), codec_options={"preset": "ultrafast"}
    )
    _clip(root, "odd_97x61", h=61, w=97, fmt="mpeg4_avi")
    expect.update({"unknown_codec.avi": FAILED, "huge_4k.mp4": OK, "odd_97x61.avi": OK})
    # 17 rotation metadata; 18 variable frame rate; 19-20 broken timestamps: restarting (two MPEG-TS
    # recordings concatenated) and a one-hour jump
    vf.write_rotated_video(root / "rotated90.mp4", vf.pattern_frames(12, 64, 112, kind="gradient"), 90)
    vf.write_vfr_video(root / "vfr.mkv", vf.pattern_frames(30, 64, 64, seed=6))
    a = vf.write_video(scratch / "a.ts", vf.pattern_frames(24, 64, 64, seed=7), fps=12)
    b = vf.write_video(scratch / "b.ts", vf.pattern_frames(24, 64, 64, kind="stripes", seed=8), fps=12)
    (root / "restarting_clock.ts").write_bytes(a.read_bytes() + b.read_bytes())
    jump = np.concatenate([np.arange(12) * 0.08, 3600 + np.arange(12) * 0.08])
    vf.write_vfr_video(root / "clock_jump.mkv", vf.pattern_frames(24, 64, 64, seed=9), jump)
    expect.update({"rotated90.mp4": OK, "vfr.mkv": OK, "restarting_clock.ts": "any", "clock_jump.mkv": "any"})
    # 21-22 unicode and space names; 23 duplicate basenames; 24 upper-case extension
    for name in ("vidéo ünïcode 日本", "name with  spaces"):
        _clip(root / "names", name, seed=10)
        expect[f"names/{name}.mp4"] = OK
    for label in ("dup_a", "dup_b"):
        _clip(root / label, "clip", seed=11 if label == "dup_a" else 12)
        expect[f"{label}/clip.mp4"] = OK
    _clip(root, "UPPER", seed=13).rename(root / "UPPER.MP4")
    expect["UPPER.MP4"] = OK
    # 25 no read permission; 26 a symlink loop; 27 a dangling symlink; 28 a FIFO; 29 a folder named like a video
    locked = _clip(root, "locked", seed=14)
    locked.chmod(0)
    expect["locked.mp4"] = {"unreadable"}
    os.symlink("loop.mp4", root / "loop.mp4")
    os.symlink(root / "nowhere.mp4", root / "dangling.mp4")
    os.mkfifo(root / "fifo.mp4")
    _clip(root / "folder.mp4", "inner", seed=15)
    expect.update(
        {
            "loop.mp4": {"unreadable"},
            "dangling.mp4": {"unreadable"},
            "fifo.mp4": {"unreadable"},
            "folder.mp4": None,
            "folder.mp4/inner.mp4": OK,
        }
    )
    # 30 a file that changes while it is read; 31 a decoder that hangs (holding the GIL); 32 one that segfaults
    _clip(root, "growing", n=48, seed=16)
    _clip(root, "hang", seed=17).rename(root / "hang.ts")  # .ts: PyAV only, so one timeout, not two
    _clip(root, "crash", seed=18)
    expect.update({"growing.mp4": {"file_changed"}, "hang.ts": {"timeout"}, "crash.mp4": {"worker_crashed"}})
    # Not videos at all: skipped, recorded nowhere.
    (root / ".hidden.mp4").write_bytes(full.read_bytes())
    (root / "readme.txt").write_text("not a video")
    expect.update({".hidden.mp4": None, "readme.txt": None})
    shutil.rmtree(scratch)
    return expect


def _grow(path: Path, stop: threading.Event) -> None:
    """Keep appending to a file, as a recorder or a download still writing it would."""
    with open(path, "ab") as fh:
        while not stop.wait(0.01):
            fh.write(b"\0" * 64)
            fh.flush()


def test_every_bad_input_ends_as_a_clean_record_and_nothing_earlier_is_lost(tmp_path, encoder):
    root = tmp_path / "videos"
    out = tmp_path / "features.h5"
    # Earlier results in the same file.
    for i in range(3):
        _clip(root / "earlier", f"e{i}", n=36, seed=20 + i)
    extract(root, out, ExtractionConfig(), progress=False, encoder=encoder)
    before = features_of(out)
    expect = build_bad_corpus(root)
    assert len([k for k, v in expect.items() if v is not None]) >= 30

    stop = threading.Event()
    grower = threading.Thread(target=_grow, args=(root / "growing.mp4", stop), daemon=True)
    grower.start()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "LOCKED": str(root / "locked.mp4"),
        # The hang holds the GIL in C, as decord does; growing.mp4 is slowed so it surely changes mid-read.
        FAULT_ENV: "hang:hang.ts;segfault:crash.mp4;sleep=1:growing.mp4",
    }
    cmd = [sys.executable, "-c", LAUNCHER, "extract", str(root), "-o", str(out), "-j", "2", "--timeout", "6"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    finally:
        stop.set()
        grower.join()
    assert proc.returncode == 1, proc.stderr[-3000:]  # finished, with failures recorded
    if "PERMISSIONS-NOT-ENFORCED" in proc.stderr:
        expect["locked.mp4"] = OK

    with h5py.File(out, "r") as f:
        table, failed = read_table(f, "videos"), read_table(f, "failures")
        n_frames = f["clips/n_frames"][()]
        assert np.all(np.isfinite(f["features"][()]))
        decoder = f.attrs["decoder"]
    videos = {p: i for i, p in enumerate(table["path"])}
    backend, width, height = table["backend"], table["width"], table["height"]
    counts, offsets = table["clip_count"], table["clip_offset"]
    failures = dict(zip(failed["path"], failed["reason"], strict=True))
    messages = dict(zip(failed["path"], failed["message"], strict=True))
    assert decoder.startswith("decord ")
    assert "; pyav " in decoder  # both may have decoded (auto)
    assert not set(videos) & set(failures), "a video is either stored or failed, never both"
    discovered = {v.path for v in discover_videos(root)}
    assert discovered == set(videos) | set(failures), "every discovered file ends as a record"
    for path, outcome in expect.items():
        if outcome is None:
            assert path not in videos
            assert path not in failures
        elif outcome == OK:
            assert path in videos, f"{path}: {failures.get(path)}: {messages.get(path)}"
        elif outcome == "any":
            assert path in videos or path in failures
        else:
            assert failures.get(path) in outcome, f"{path}: {failures.get(path)}: {messages.get(path)}"
    assert set(backend) <= {"decord", "pyav"}
    assert all(backend[videos[p]] == "pyav" for p in ("restarting_clock.ts",) if p in videos)  # MPEG-TS: PyAV
    single = videos["single_frame.mp4"]
    assert counts[single] == 1
    assert n_frames[offsets[single]] == 1
    assert (width[videos["huge_4k.mp4"]], height[videos["huge_4k.mp4"]]) == (4096, 2160)
    assert (width[videos["rotated90.mp4"]], height[videos["rotated90.mp4"]]) == (64, 112)
    assert "SIGSEGV" in messages["crash.mp4"]
    assert "not a regular file (a FIFO)" in messages["fifo.mp4"]
    assert "failed: hang.ts: timeout" in proc.stderr

    # Earlier results: the same rows, bit for bit.
    after = features_of(out)
    for i in range(3):
        path = f"earlier/e{i}.mp4"
        j_before = [p.decode() for p in before["videos/path"]].index(path)
        j_after = [p.decode() for p in after["videos/path"]].index(path)
        ob, cb = before["videos/clip_offset"][j_before], before["videos/clip_count"][j_before]
        oa, ca = after["videos/clip_offset"][j_after], after["videos/clip_count"][j_after]
        np.testing.assert_array_equal(before["features"][ob : ob + cb], after["features"][oa : oa + ca])

    # The next run retries what changed (the grown file) and leaves the rest alone.
    again = extract(root, out, ExtractionConfig(), progress=False, encoder=encoder)
    assert again.n_extracted == 1
    assert again.failures == []
    with h5py.File(out, "r") as f:
        assert "growing.mp4" in read_table(f, "videos")["path"]


@pytest.mark.parametrize("jobs", [1, 3])
def test_bad_inputs_do_not_depend_on_the_number_of_jobs(tmp_path, encoder, jobs):
    """Failures and successes come out the same, in the same order, whatever the parallelism."""
    root = tmp_path / "v"
    vf.write_zero_bytes(root / "a_empty.mp4")
    _clip(root, "b_good", seed=1)
    vf.write_text_as_video(root / "c_text.mp4")
    _clip(root, "d_good", seed=2, fmt="vp9_webm")
    vf.write_unknown_codec(_clip(tmp_path / "s", "x", fmt="mpeg4_avi"), root / "e_codec.avi")
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4), n_jobs=jobs)
    report = extract(root, tmp_path / "f.h5", config, progress=False, encoder=encoder)
    assert [f.path for f in report.failures] == ["a_empty.mp4", "c_text.mp4", "e_codec.avi"]
    assert report.n_extracted == 2
