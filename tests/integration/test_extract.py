"""End-to-end extraction: real videos -> real decoder -> real Keras encoder -> real HDF5 file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from featkit import DEFAULT_STATS, ExtractionConfig, SamplingConfig, StoreLockedError, StoreMismatchError
from featkit.extraction import extract
from featkit.quality import QUALITY_COLUMNS
from featkit.sklearn import load_features
from featkit.stats import feature_names
from featkit.store import FeatureStore
from tests import videofactory as vf
from tests.integration.conftest import features_of

REPO = Path(__file__).resolve().parents[2]


def test_layout_read_back_with_plain_h5py(extracted, labelled_tree, encoder):
    out, report = extracted
    root, files = labelled_tree
    with h5py.File(out, "r") as f:
        assert f.attrs["featkit_layout"] == "featkit.features"
        assert f.attrs["layout_version"] == 1
        enc = json.loads(f.attrs["encoder"])
        assert enc["sha256"] == encoder.identity()["sha256"]
        assert json.loads(f.attrs["sampling"]) == SamplingConfig().to_dict()
        names = [n.decode() for n in f["feature_names"][()]]
        assert names == feature_names(DEFAULT_STATS, encoder.latent_dim)
        width = max(2, len(str(encoder.latent_dim - 1)))  # mu_mean_00 for d = 32, mu_mean_000 for d = 128
        assert names[0] == f"mu_mean_{0:0{width}d}"
        assert names[-(11 + len(QUALITY_COLUMNS)) :] == [
            f"mu_delta_{encoder.latent_dim - 1:0{width}d}",
            "motion_x",
            "motion_y",
            "motion_zoom",
            "motion_rotate",
            "motion_speed_x",
            "motion_speed_y",
            "motion_speed_zoom",
            "motion_speed_rotate",
            *QUALITY_COLUMNS,
            "polarity_nelbo",
            "residual_flat",
        ]
        assert len(names) == f["features"].shape[1] == 6 * encoder.latent_dim + 8 + len(QUALITY_COLUMNS) + 2
        assert f["features"].compression is None  # uncompressed: loads 10x faster (benchmarks/bench_load.py)
        assert f["features"].chunks is not None
        paths = [p.decode() for p in f["videos/path"][()]]
        labels = [p.decode() for p in f["videos/label"][()]]
        offsets, counts = f["videos/clip_offset"][()], f["videos/clip_count"][()]
        vid = f["clips/video_id"][()]
        # CSR-style: each video's clips are a contiguous block, in order.
        assert offsets[0] == 0
        assert np.all(offsets[1:] == offsets[:-1] + counts[:-1])
        assert counts.sum() == f["features"].shape[0] == len(vid)
        for i, (o, c) in enumerate(zip(offsets, counts, strict=True)):
            assert np.all(vid[o : o + c] == i)
        assert np.all(f["clips/end_frame"][()] >= f["clips/start_frame"][()])
        assert np.all(f["clips/end_time"][()] > f["clips/start_time"][()])
        sha = dict(zip(paths, [s.decode() for s in f["videos/sha256"][()]], strict=True))
        failed = {p.decode(): r.decode() for p, r in zip(f["failures/path"][()], f["failures/reason"][()], strict=True)}
    expected = {p.relative_to(root).as_posix() for p in files["good"]}
    assert set(paths) == expected, "every good video stored once, under its path relative to DIR"
    assert "square/clip_a.mp4" in paths
    assert "stripes/clip_a.mp4" in paths
    assert dict(zip(paths, labels, strict=True))["square/clip_a.mp4"] == "square"
    assert dict(zip(paths, labels, strict=True))["UPPER.MP4"] == ""
    assert set(failed) == {p.relative_to(root).as_posix() for p in files["bad"]}
    assert set(failed.values()) <= {"open_failed", "decode_failed", "unreadable"}
    import hashlib

    assert sha["square/clip_a.mp4"] == hashlib.sha256((root / "square/clip_a.mp4").read_bytes()).hexdigest()
    assert report.n_extracted == len(expected)
    assert len(report.failures) == len(files["bad"])
    assert not report.ok


def test_features_are_finite_and_separate_classes(extracted):
    X, y, groups, names = load_features(extracted[0])
    assert X.dtype == np.float32
    assert np.all(np.isfinite(X))
    assert len(X) == len(y) == len(groups)
    assert len(names) == X.shape[1]
    sigma = X[:, [i for i, n in enumerate(names) if n.startswith("sigma_mean")]]
    assert np.all(sigma > 0)
    # The three synthetic classes differ visually; their mean latents must differ too.
    centroids = {c: X[y == c][:, :32].mean(axis=0) for c in ("square", "stripes", "bar")}
    within = max(np.abs(X[y == c][:, :32] - centroids[c]).mean() for c in centroids)
    between = min(np.abs(centroids[a] - centroids[b]).mean() for a in centroids for b in centroids if a < b)
    assert between > 0.5 * within


def test_short_and_single_frame_videos_give_one_clip(extracted):
    with h5py.File(extracted[0], "r") as f:
        paths = [p.decode() for p in f["videos/path"][()]]
        i = paths.index("misc/single_frame.mp4")
        o, c = f["videos/clip_offset"][i], f["videos/clip_count"][i]
        assert c == 1
        assert f["clips/n_frames"][o] == 1
        j = paths.index("misc/mjpeg.mkv")  # 2 s at 8 fps = 16 samples: exactly one full clip
        assert f["videos/clip_count"][j] == 1
        assert f["clips/n_frames"][f["videos/clip_offset"][j]] == 16


def test_vfr_clip_times_come_from_the_container(extracted):
    written = vf.vfr_timestamps(24)
    with h5py.File(extracted[0], "r") as f:
        paths = [p.decode() for p in f["videos/path"][()]]
        i = paths.index("misc/vfr.mp4")
        o = f["videos/clip_offset"][i]
        assert f["videos/timestamp_source"][i].decode() == "container"
        start_frame, end_frame = f["clips/start_frame"][o], f["clips/end_frame"][o]
        # A clip ends when its last frame leaves the screen.
        end_time = written[end_frame + 1] if end_frame < 23 else f["videos/duration"][i]
        assert f["clips/end_time"][o] == pytest.approx(end_time, abs=1e-3)
        # At 8 fps the k-th sample is the frame on screen at k/8 s.
        k_last = f["clips/n_frames"][o] - 1
        expected_last = np.searchsorted(written, k_last / 8.0 + 1e-9, side="right") - 1
        assert start_frame == 0
        assert end_frame == expected_last
        assert f["videos/duration"][i] > written[-1]


def test_resume_skips_finished_redoes_changed_and_keeps_failures(labelled_tree, encoder, tmp_path):
    root = tmp_path / "videos"
    shutil.copytree(labelled_tree[0], root)
    out = tmp_path / "f.h5"
    first = extract(root, out, progress=False, encoder=encoder)
    before = features_of(out)
    again = extract(root, out, progress=False, encoder=encoder)
    assert again.n_extracted == 0
    assert again.failures == []
    assert again.n_skipped == first.n_found
    after = features_of(out)
    assert all(np.array_equal(before[k], after[k]) for k in before)

    # Change one video's content: only it is redone, and it is not duplicated.
    vf.write_clip(root / "square", "clip_a", vf.pattern_frames(96, 64, 64, kind="stripes", seed=9), fmt="h264_mp4")
    # A touched but unchanged file is not redone.
    os.utime(root / "bar" / "clip_b.mp4", ns=(1, 1))
    third = extract(root, out, progress=False, encoder=encoder)
    assert third.n_extracted == 1
    X, _y, groups, _ = load_features(out)
    with h5py.File(out, "r") as f:
        paths = [p.decode() for p in f["videos/path"][()]]
        assert len(paths) == len(set(paths)) == first.n_extracted
        i = paths.index("square/clip_a.mp4")
        assert f["videos/clip_count"][i] == 2  # 96 frames at 24 fps = 4 s -> 32 samples at 8 fps -> 2 clips
    assert len(X) == len(groups)

    # Failed videos are not retried unless asked; retried ones count attempts.
    assert extract(root, out, progress=False, encoder=encoder).n_extracted == 0
    retried = extract(root, out, ExtractionConfig(retry_failed=True), progress=False, encoder=encoder)
    assert len(retried.failures) == 4
    with h5py.File(out, "r") as f:
        assert set(f["failures/attempts"][()]) == {2}


def test_fixed_failed_video_moves_to_videos(labelled_tree, encoder, tmp_path):
    root = tmp_path / "videos"
    shutil.copytree(labelled_tree[0], root)
    out = tmp_path / "f.h5"
    extract(root, out, progress=False, encoder=encoder)
    broken = root / "broken" / "empty.mp4"
    broken.unlink()
    vf.write_clip(root / "broken", "empty", vf.pattern_frames(24, 64, 64, seed=1), fmt="h264_mp4")
    rep = extract(root, out, progress=False, encoder=encoder)
    assert rep.n_extracted == 1
    with h5py.File(out, "r") as f:
        assert "broken/empty.mp4" in [p.decode() for p in f["videos/path"][()]]
        assert "broken/empty.mp4" not in [p.decode() for p in f["failures/path"][()]]


def test_n_jobs_do_not_change_a_single_bit(labelled_tree, encoder, tmp_path, extracted):
    out2 = tmp_path / "two.h5"
    extract(labelled_tree[0], out2, ExtractionConfig(n_jobs=2), progress=False, encoder=encoder)
    a, b = features_of(extracted[0]), features_of(out2)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_sampling_options_change_the_clips(labelled_tree, encoder, tmp_path):
    cfg = ExtractionConfig(
        sampling=SamplingConfig(clip_len=4, fps=12, stride=2, max_clips=5), stats=("mu_mean", "logvar_mean")
    )
    out = tmp_path / "s.h5"
    extract(labelled_tree[0] / "square", out, cfg, progress=False, encoder=encoder)
    X, y, _groups, names = load_features(out)
    assert y is None  # videos directly in the root have no label
    assert X.shape[1] == 2 * encoder.latent_dim
    assert names[-1].startswith("logvar_mean_")
    with h5py.File(out, "r") as f:
        # 48 frames at 24 fps = 2 s -> 24 samples at 12 fps -> clips start every 2 samples: 11, capped at 5.
        assert list(f["videos/clip_count"][()]) == [5, 5]
        assert set(f["clips/n_frames"][()]) == {4}


def test_mismatched_settings_are_refused(extracted, encoder, labelled_tree, tmp_path):
    out = tmp_path / "m.h5"
    shutil.copy(extracted[0], out)
    cfg = ExtractionConfig(sampling=SamplingConfig(clip_len=8))
    with pytest.raises(StoreMismatchError, match="clip_len"):
        extract(labelled_tree[0], out, cfg, progress=False, encoder=encoder)
    before = features_of(out)
    rep = extract(labelled_tree[0], out, cfg, overwrite=True, progress=False, encoder=encoder)
    assert rep.n_extracted > 0
    assert len(features_of(out)["features"]) != len(before["features"])


#: The default statistics before the time-signed ones joined them (files written by featkit <= 0.1 sessions 1-2).
OLD_DEFAULT_STATS = ("mu_mean", "mu_std", "sigma_mean", "mu_absdiff")


def test_file_of_the_old_default_loads_and_refuses_a_resume_with_the_new_one(encoder, labelled_tree, tmp_path):
    root = tmp_path / "v"
    shutil.copytree(labelled_tree[0] / "square", root / "square")
    out = tmp_path / "old.h5"
    assert extract(root, out, ExtractionConfig(stats=OLD_DEFAULT_STATS), progress=False, encoder=encoder).ok
    X, _, _, names = load_features(out)
    assert X.shape[1] == 4 * encoder.latent_dim
    assert names[-1].startswith("mu_absdiff_")
    with pytest.raises(StoreMismatchError, match=r"stats.*mu_slope"):
        extract(root, out, ExtractionConfig(), progress=False, encoder=encoder)
    np.testing.assert_array_equal(load_features(out).X, X)  # refused before anything was written


def test_a_file_of_an_earlier_motion_definition_is_not_resumed(encoder, labelled_tree, tmp_path):
    """Files written before `motion` became the median of its steps (motion 2) record no definition versions:
    resuming one with `motion` is refused naming it (the column would mix two definitions); without it resumes."""
    root = tmp_path / "v"
    shutil.copytree(labelled_tree[0] / "square", root / "square")
    stats = ("mu_mean", "motion")
    for name, wanted in (("with_motion.h5", stats), ("without.h5", ("mu_mean",))):
        out = tmp_path / name
        assert extract(root, out, ExtractionConfig(stats=wanted), progress=False, encoder=encoder).ok
        with h5py.File(out, "r+") as f:
            assert json.loads(f.attrs["stat_versions"]) == ({"motion": 3} if "motion" in wanted else {})
            del f.attrs["stat_versions"]  # as an earlier featkit wrote it
        (root / "square" / "new.mp4").unlink(missing_ok=True)
        shutil.copy(next((root / "square").glob("*.mp4")), root / "square" / "new.mp4")
        if "motion" in wanted:
            with pytest.raises(StoreMismatchError, match=r"stat_versions\.motion: file 1, this run 3"):
                extract(root, out, ExtractionConfig(stats=wanted), progress=False, encoder=encoder)
        else:
            assert extract(root, out, ExtractionConfig(stats=wanted), progress=False, encoder=encoder).n_extracted == 1
        (root / "square" / "new.mp4").unlink()


def test_second_writer_is_refused(extracted, labelled_tree, tmp_path):
    out = tmp_path / "locked.h5"
    shutil.copy(extracted[0], out)
    with h5py.File(out, "r") as f:
        meta = {k: json.loads(f.attrs[k]) for k in ("encoder", "sampling", "stats", "stat_versions")}
    holder = FeatureStore.open(out, {**meta, "feature_names": [], "decoder": ""})
    try:
        with pytest.raises(StoreLockedError, match="another featkit process"):
            FeatureStore.open(out, {**meta, "feature_names": [], "decoder": ""})
        proc = _cli("extract", str(labelled_tree[0]), "-o", str(out), "-q")
        assert proc.returncode == 2
        assert "another featkit process" in proc.stderr
    finally:
        holder.close()


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "featkit", *args], capture_output=True, text=True, env=env, timeout=300, **kw
    )


def test_cli_extract_info_and_exit_codes(labelled_tree, tmp_path):
    root = tmp_path / "v"
    shutil.copytree(labelled_tree[0] / "square", root / "square")
    shutil.copytree(labelled_tree[0] / "bar", root / "bar")
    out = tmp_path / "cli.h5"
    ok = _cli("extract", str(root), "-o", str(out), "--clip-len", "8", "--fps", "4", "-q")
    assert ok.returncode == 0, ok.stderr
    shutil.copy(labelled_tree[1]["bad"][0], root / "bar" / "empty.mp4")
    bad = _cli("extract", str(root), "-o", str(out), "--clip-len", "8", "--fps", "4")
    assert bad.returncode == 1
    assert "bar/empty.mp4" in bad.stderr
    info = _cli("info", str(out), "--json")
    assert info.returncode == 0
    summary = json.loads(info.stdout)
    assert summary["n_videos"] == 4
    assert summary["labels"] == {"bar": 2, "square": 2}
    assert summary["sampling"]["clip_len"] == 8
    assert summary["failures"][0]["path"] == "bar/empty.mp4"
    text = _cli("info", str(out))
    assert "failures  1" in text.stdout
    notfeat = tmp_path / "other.h5"
    with h5py.File(notfeat, "w") as f:
        f["x"] = [1, 2]
    wrong = _cli("info", str(notfeat))
    assert wrong.returncode == 2
    assert "not a featkit feature file" in wrong.stderr
    missing = _cli("extract", str(tmp_path / "nope"), "-o", str(out))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def _stored_paths(out: Path) -> list[str]:
    with h5py.File(out, "r") as f:
        return [p.decode() for p in f["videos/path"][()]]


def _progress_of_live_run(out: Path, journal: Path) -> tuple[int, int]:
    """Journal entries and stored videos of a run still going; the run may finalise (remove the journal,
    replace the file) between any two calls, so a vanished path counts as zero rather than failing."""
    try:
        n_journal = len(list(journal.glob("*.npz")))
    except FileNotFoundError:
        n_journal = 0
    try:
        n_file = len(_stored_paths(out)) if out.exists() else 0
    except (FileNotFoundError, OSError):
        n_file = 0
    return n_journal, n_file


def test_kill_9_then_resume_loses_and_duplicates_nothing(encoder, tmp_path):
    """kill -9 at three moments of one extraction; the file opens after each; the resumed result equals a clean run."""
    root = tmp_path / "many"
    for i in range(16):
        frames = vf.pattern_frames(160, 96, 128, kind=vf.PATTERN_KINDS[i % 3], seed=i, motion=(1 + i % 4, 1))
        vf.write_clip(root / f"c{i % 2}", f"v{i:02d}", frames, fmt="h264_mp4", fps=24)
    reference = tmp_path / "reference.h5"
    extract(root, reference, progress=False, encoder=encoder)

    out = tmp_path / "killed.h5"
    journal = out.with_name(out.name + ".journal")
    rng = np.random.default_rng(0)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "featkit", "extract", str(root), "-o", str(out), "-q"],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        done_before = len(_stored_paths(out)) if out.exists() else 0
        target = done_before + int(rng.integers(1, 4))
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            n_journal, n_file = _progress_of_live_run(out, journal)
            if n_file + n_journal >= target:
                break
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if out.exists():
            stored = _stored_paths(out)  # the file opens after every kill
            assert len(stored) == len(set(stored))
    assert kills >= 1
    finished = set(_stored_paths(out)) if out.exists() else set()
    if journal.exists():
        from featkit.store.journal import read_journal_entry

        finished |= {read_journal_entry(e).video["path"] for e in journal.glob("*.npz")}
    final = extract(root, out, progress=False, encoder=encoder)
    assert final.failures == []
    assert final.n_extracted == 16 - len(finished), "work finished before a kill is never redone"
    a, b = features_of(reference), features_of(out)
    order_a = np.argsort(a["videos/path"])
    order_b = np.argsort(b["videos/path"])
    assert np.array_equal(a["videos/path"][order_a], b["videos/path"][order_b])
    assert len(a["features"]) == len(b["features"])
    for ia, ib in zip(order_a, order_b, strict=True):
        oa, ca = a["videos/clip_offset"][ia], a["videos/clip_count"][ia]
        ob, cb = b["videos/clip_offset"][ib], b["videos/clip_count"][ib]
        assert ca == cb
        assert np.array_equal(a["features"][oa : oa + ca], b["features"][ob : ob + cb])
    assert not journal.exists()


#: The designs of earlier defaults: featkit-default-v2 (a global 32-d code) and featkit-default-v3
#: (the 8x8 grid plus a 64-d global code, without the pooled inputs v4 gives that code).
EARLIER_DESIGNS = {
    "v2": {"latent_dim": 32, "widths": (32, 64, 128, 128)},
    "v3": {"latent_dim": 128, "widths": (32, 64, 128), "latent_grid": 8, "latent_global": 64},
}


@pytest.mark.parametrize("design", sorted(EARLIER_DESIGNS))
def test_a_file_of_an_earlier_design_is_not_resumed_by_the_default_encoder(design, labelled_tree, encoder, tmp_path):
    """A feature file written by an earlier default's design keeps its encoder's identity: resuming it with
    the shipped default is refused with the settings-mismatch message, naming the encoder; it still loads."""
    from featkit.encoders.keras_encoder import load_keras_encoder
    from featkit.encoders.vae import build_vae

    settings = EARLIER_DESIGNS[design]
    path = tmp_path / f"{design}_design.keras"
    build_vae(input_size=64, seed=1, **settings).save(path)
    earlier = load_keras_encoder(str(path))
    out = tmp_path / f"{design}.h5"
    extract(labelled_tree[0], out, ExtractionConfig(), progress=False, encoder=earlier)
    with pytest.raises(StoreMismatchError, match=r"(?s)made with other settings.*encoder: file has"):
        extract(labelled_tree[0], out, ExtractionConfig(), progress=False, encoder=encoder)
    X, *_ = load_features(out)  # the old file still loads
    assert X.shape[1] == len(feature_names(DEFAULT_STATS, settings["latent_dim"]))
