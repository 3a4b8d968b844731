"""What a new user meets in the first ten minutes (issue 15): the README's commands and snippets, messages,
discovery, output checks, the sklearn conventions, duplicates, plots, lists, per-frame latents, flat tables.

Everything runs on real videos written here, the real CLI (in a subprocess where stderr matters) and the
shipped encoder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from featkit import ConfigError, ExtractionConfig, SamplingConfig, StoreError, StoreMismatchError
from featkit.discover import Skipped, discover_videos, read_video_list
from tests import videofactory as vf
from tests.shipped import default_latent_dim

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SHORT = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=8.0))


def _cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user's shell has: nothing set
    return subprocess.run(
        [sys.executable, "-m", "featkit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _video(path: Path, seed: int, n: int = 16, kind: str = "moving_square") -> Path:
    frames = vf.pattern_frames(n, 64, 64, kind=kind, seed=seed)
    fmt = {".avi": "mpeg4_avi"}.get(path.suffix, "h264_mp4")
    written = vf.write_clip(path.parent, path.stem, frames, fmt=fmt, fps=8)
    return written if written == path else written.rename(path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A folder laid out as the README's first command leaves it: demo/videos (3 sources) cut into demo/labelled."""
    sys.path.insert(0, str(REPO))
    from benchmarks.make_demo import make_labelled_demo

    cwd = tmp_path_factory.mktemp("newuser")
    kinds = {"bikes.mp4": "moving_square", "cockatoo.mp4": "stripes", "vtest.avi": "rotating_bar"}
    for i, (name, kind) in enumerate(kinds.items()):
        _video(cwd / "demo" / "videos" / name, seed=i, n=48, kind=kind)
    root = make_labelled_demo(cwd / "demo", segments=6, width=64)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.mp4"))[:2] == [
        "bikes/bikes_0.mp4",
        "bikes/bikes_1.mp4",
    ]
    return cwd


# -- 1. the README ------------------------------------------------------------------------------------


def test_readme_starts_with_two_setup_commands_ending_in_a_labelled_demo():
    text = README.read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert "benchmarks/make_demo.py demo" in block[0]
    assert block[0].endswith("featkit extract demo/labelled -o features.h5")


def test_every_readme_python_snippet_runs_verbatim_on_the_demo(demo):
    """The first command's extract step, then every ```python block in order, in the same folder."""
    first = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1).splitlines()[0]
    extract_args = first.split("&& featkit ", 1)[1].split()
    r = _cli(*extract_args, "-q", cwd=demo)
    assert r.returncode == 0, r.stderr
    snippets = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(snippets) >= 4
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for code in snippets:
        run = subprocess.run(
            [sys.executable, "-c", code], cwd=demo, env=env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, f"README snippet failed:\n{code}\n{run.stderr[-3000:]}"


# -- 2. library noise -----------------------------------------------------------------------------------


def test_quiet_stderr_holds_only_featkits_words_and_noise_goes_to_the_log(tmp_path):
    good = _video(tmp_path / "v" / "a" / "x.mp4", seed=1, n=48)
    vf.write_garbage_payload(good, tmp_path / "v" / "a" / "garbled.mp4")  # FFmpeg prints ~100 lines decoding it
    r = _cli("extract", str(tmp_path / "v"), "-o", str(tmp_path / "f.h5"), "-q")
    assert r.returncode == 1  # the garbled file is recorded as failed
    assert r.stderr == ""  # no oneDNN / cuda / absl / [h264 @ ...] lines
    log = tmp_path / "native.log"
    r = _cli("extract", str(tmp_path / "v"), "-o", str(tmp_path / "g.h5"), "--log", str(log))
    assert r.returncode == 1
    lines = [ln.split("\r")[-1] for ln in r.stderr.splitlines() if ln.strip()]
    noisy = [ln for ln in lines if re.match(r"[IWEF]0000|WARNING: All log|\[h264 @", ln)]
    assert noisy == []
    assert lines[-1].endswith(f"in {log}")
    assert "[h264 @" in log.read_text()
    r = _cli("extract", str(tmp_path / "v"), "-o", str(tmp_path / "h.h5"))
    assert "hidden; --log FILE keeps them" in r.stderr.splitlines()[-1]


# -- 3. discovery -----------------------------------------------------------------------------------------


def test_an_empty_folder_is_an_error_saying_what_was_passed_over(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("x")
    (tmp_path / "in" / ".hidden.mp4").write_bytes(b"")
    r = _cli("extract", str(tmp_path / "in"), "-o", str(tmp_path / "f.h5"))
    assert r.returncode == 2
    assert "No videos found" in r.stderr
    assert "1 not a video extension (.txt)" in r.stderr
    assert "1 hidden" in r.stderr
    assert not (tmp_path / "f.h5").exists()


@pytest.mark.parametrize(
    "ext", [".3g2", ".f4v", ".m1v", ".m2v", ".rm", ".rmvb", ".divx", ".dv", ".mxf", ".nut", ".y4m", ".gif"]
)
def test_more_video_extensions_are_discovered(tmp_path, ext):
    (tmp_path / f"clip{ext.upper()}").write_bytes(b"")
    assert [v.path for v in discover_videos(tmp_path)] == [f"clip{ext.upper()}"]


def test_include_and_exclude_globs_and_skipped_counts(tmp_path):
    for name in ("a/x.mp4", "a/y.mp4", "b/z.bin", "b/notes.txt", ".git/config"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    skipped = Skipped()
    assert [v.path for v in discover_videos(tmp_path, exclude=["y.*"], skipped=skipped)] == ["a/x.mp4"]
    assert skipped == {"excluded by --exclude": 1, "not a video extension (.bin)": 1,
                       "not a video extension (.txt)": 1, "hidden": 1}  # fmt: skip
    skipped = Skipped()
    assert [v.path for v in discover_videos(tmp_path, include=["*.bin", "a/x*"], skipped=skipped)] == [
        "a/x.mp4",
        "b/z.bin",
    ]
    assert skipped["not matched by --include"] == 2


def test_extract_reports_passed_over_files(tmp_path, encoder):
    from featkit.extraction import extract

    _video(tmp_path / "v" / "a.mp4", seed=2)
    (tmp_path / "v" / "readme.md").write_text("x")
    report = extract(tmp_path / "v", tmp_path / "f.h5", SHORT, progress=False, encoder=encoder)
    assert report.skipped == {"not a video extension (.md)": 1}


# -- 4. permissions -----------------------------------------------------------------------------------------


def test_recipe_outputs_respect_the_umask(tmp_path):
    from featkit.pipelines._io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "r.json", b"{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o027)
        assert stat.S_IMODE(atomic_write_bytes(tmp_path / "s.png", b"x").stat().st_mode) == 0o640
    finally:
        os.umask(old)


# -- 5. the input root --------------------------------------------------------------------------------------


def test_a_second_root_is_refused_naming_both_unless_add(tmp_path, encoder):
    from featkit.extraction import extract

    _video(tmp_path / "one" / "cat" / "a.mp4", seed=3)
    _video(tmp_path / "two" / "b.mp4", seed=4)
    out = tmp_path / "f.h5"
    extract(tmp_path / "one", out, SHORT, progress=False, encoder=encoder)
    with pytest.raises(StoreMismatchError) as err:
        extract(tmp_path / "two", out, SHORT, progress=False, encoder=encoder)
    assert str(tmp_path / "one") in str(err.value)
    assert str(tmp_path / "two") in str(err.value)
    assert "--add" in str(err.value)
    report = extract(tmp_path / "two", out, SHORT, progress=False, encoder=encoder, add=True)
    assert report.n_extracted == 1
    import h5py

    with h5py.File(out) as f:
        assert json.loads(f.attrs["roots"]) == [str(tmp_path / "one"), str(tmp_path / "two")]
    # The same root again resumes as before.
    assert extract(tmp_path / "one", out, SHORT, progress=False, encoder=encoder).n_skipped == 1


# -- 6. output checks before TensorFlow ----------------------------------------------------------------------


def test_bad_outputs_fail_fast_in_short_messages(tmp_path):
    _video(tmp_path / "v" / "a.mp4", seed=5)
    (tmp_path / "notes.h5").write_text("not hdf5")
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    cases = {
        "folder": (str(tmp_path), "is a folder"),
        "not hdf5": (str(tmp_path / "notes.h5"), "is not an HDF5 file"),
        "another tool's HDF5": (str(tmp_path / "other.h5"), "choose another output, or --overwrite"),
    }
    for what, (out, words) in cases.items():
        t0 = time.monotonic()
        r = _cli("extract", str(tmp_path / "v"), "-o", out)
        elapsed = time.monotonic() - t0
        assert r.returncode == 2, what
        assert words in r.stderr, what
        assert len(r.stderr.strip().splitlines()) <= 2, r.stderr
        assert "HDF5-DIAG" not in r.stderr
        assert elapsed < 4.0, f"{what}: {elapsed:.1f} s (TensorFlow loaded?)"


def test_precision_mismatch_is_one_short_line_before_the_encoder_loads(tmp_path, encoder):
    from featkit.extraction import extract

    _video(tmp_path / "v" / "a.mp4", seed=6)
    out = tmp_path / "f.h5"
    extract(tmp_path / "v", out, SHORT, progress=False, encoder=encoder)
    r = _cli("extract", str(tmp_path / "v"), "-o", str(out), "--clip-len", "4", "--precision", "int8")
    assert r.returncode == 2
    assert "precision: file 'float32', this run 'int8'" in r.stderr
    assert len(r.stderr) < 300
    t0 = time.monotonic()
    _cli("extract", str(tmp_path / "v"), "-o", str(out), "--clip-len", "4", "--precision", "int8")
    assert time.monotonic() - t0 < 4.0  # refused before TensorFlow loads


def test_a_long_encoder_mismatch_is_summarised_by_key(tmp_path):
    from featkit.store.precheck import setting_diffs

    a = {"name": "x", "sha256": "a" * 64, "config": {"architecture": {"latent_dim": 32, "widths": [1, 2]}}}
    b = {"name": "x", "sha256": "b" * 64, "config": {"architecture": {"latent_dim": 16, "widths": [1, 2]}}}
    diffs = setting_diffs("encoder", a, b)
    assert diffs == [
        "encoder.config.architecture.latent_dim: file 32, this run 16",
        "encoder.sha256: file 'aaaaaaaaaaaa…', this run 'bbbbbbbbbbbb…'",
    ]


# -- 7. argument parsing -------------------------------------------------------------------------------------


def test_arguments_are_never_abbreviated_and_help_is_complete(capsys):
    from featkit.cli import EXIT_CODES, _build_parser, main

    with pytest.raises(SystemExit) as err:
        main(["extract", "d", "-o", "x.h5", "--fp", "4"])
    assert err.value.code == 2
    assert "--fp" in capsys.readouterr().err
    parser = _build_parser()
    text = parser.format_help()
    for code in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s", text, re.M)
    subs = parser._subparsers._group_actions[0].choices
    assert subs["info"].description
    assert subs["predict"].description
    assert "or a --scheduler-file" not in " ".join(subs["extract"].format_help().split())
    assert all(not p.allow_abbrev for p in subs.values())


# -- 8. messages ------------------------------------------------------------------------------------------------


def test_a_random_keras_file_and_a_random_bin_file_are_named_for_what_they_are(tmp_path):
    from featkit.encoders.loading import spec_kind
    from featkit.exceptions import EncoderError, UnsafeEncoderError

    rng = np.random.default_rng(0)
    (tmp_path / "x.keras").write_bytes(rng.bytes(256))
    (tmp_path / "x.bin").write_bytes(b"\x00\x01" + rng.bytes(256))
    with pytest.raises(EncoderError, match=r"not a Keras 3 model: a \.keras file is a zip archive"):
        spec_kind(tmp_path / "x.keras")
    with pytest.raises(EncoderError) as err:
        spec_kind(tmp_path / "x.bin")
    assert not isinstance(err.value, UnsafeEncoderError)
    assert "pickle" not in str(err.value)


def test_predict_warns_when_scoring_the_training_videos(tmp_path, class_features):
    model = tmp_path / "m.skops"
    r = _cli("classify", str(class_features), "-o", str(tmp_path / "c"), "--folds", "2", "--save", str(model))
    assert r.returncode == 0, r.stderr
    r = _cli("predict", str(model), str(class_features), "-o", str(tmp_path / "p.csv"))
    assert r.returncode == 0, r.stderr
    assert "12 of these 12 videos are ones the model was trained on" in r.stderr


# -- 9. scikit-learn conventions ---------------------------------------------------------------------------------


def test_extract_calls_a_progress_callable(tmp_path, encoder):
    from featkit.extraction import extract

    _video(tmp_path / "v" / "a.mp4", seed=7)
    _video(tmp_path / "v" / "b.mp4", seed=8)
    calls = []

    def progress(items, total):
        calls.append(total)
        for item in items:
            calls.append(item.video["path"])
            yield item

    extract(tmp_path / "v", tmp_path / "f.h5", SHORT, progress=progress, encoder=encoder)
    assert calls == [2, "a.mp4", "b.mp4"]


def test_as_frame_gives_series_and_a_video_clip_index(class_features):
    import pandas as pd

    from featkit.sklearn import load_features, load_videos

    X, y, groups, _ = load_features(class_features, as_frame=True)
    assert isinstance(X, pd.DataFrame)
    assert isinstance(y, pd.Series)
    assert isinstance(groups, pd.Series)
    assert X.index.names == ["video", "clip"]
    assert X.index.equals(y.index)
    assert X.index.equals(groups.index)
    assert X.index.is_unique
    first = X.index[0][0]
    assert list(X.loc[first].index) == [0, 1, 2, 3]
    videos = load_videos(class_features)
    assert isinstance(videos, pd.DataFrame)
    assert videos.index.name == "video_id"
    assert isinstance(load_videos(class_features, as_frame=False), dict)


def test_latent_stats_selector_takes_one_name(class_features):
    from featkit.sklearn import load_features
    from featkit.transformers import LatentStatsSelector

    X, _, _, names = load_features(class_features)
    one = LatentStatsSelector("mu_mean", feature_names=names).fit_transform(X)
    assert np.array_equal(one, LatentStatsSelector(["mu_mean"], feature_names=names).fit_transform(X))


# -- 10. duplicates ---------------------------------------------------------------------------------------------


def test_identical_videos_share_a_group_and_are_reported(tmp_path, encoder):
    from featkit.extraction import extract
    from featkit.sklearn import load_features

    root = tmp_path / "v"
    a = _video(root / "cat" / "a.mp4", seed=9)
    _video(root / "cat" / "b.mp4", seed=10)
    shutil.copy(a, root / "cat" / "copy_of_a.mp4")
    outside = _video(tmp_path / "elsewhere" / "c.mp4", seed=11)
    (root / "dog").mkdir()
    (root / "dog" / "link.mp4").symlink_to(outside)
    shutil.copy(outside, root / "dog" / "c.mp4")
    report = extract(root, tmp_path / "f.h5", SHORT, progress=False, encoder=encoder)
    assert report.duplicates == [["cat/a.mp4", "cat/copy_of_a.mp4"], ["dog/c.mp4", "dog/link.mp4"]]
    _, _, groups, _ = load_features(tmp_path / "f.h5")
    _, _, video_ids, _ = load_features(tmp_path / "f.h5", group_by="video")
    assert len(np.unique(video_ids)) == 5
    assert len(np.unique(groups)) == 3
    # The CLI says so too.
    r = _cli("extract", str(root), "-o", str(tmp_path / "g.h5"), "--clip-len", "4")
    assert "same content (sha256) stored 2 times" in r.stderr


# -- 11. plots ----------------------------------------------------------------------------------------------------


def test_cluster_plot_shows_labels_beside_clusters_and_confusion_has_video_level():
    from featkit.pipelines.classify import confusion_figure
    from featkit.pipelines.cluster import clusters_figure

    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(30, 5))
    fig = clusters_figure(Xs, np.repeat([0, 1, 2], 10), "kmeans", np.repeat(["cat", "dog", "owl"], 10))
    assert len(fig.axes) == 2
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["cat", "dog", "owl"]
    assert len(clusters_figure(Xs, np.zeros(30, int), "kmeans", None).axes) == 1
    fig = confusion_figure([[3, 1], [0, 4]], [[2, 0], [0, 2]], ["a", "b"], "logreg")
    assert [ax.get_title() for ax in fig.axes] == [
        "logreg: clips (8), cross-validated",
        "logreg: videos (4), cross-validated",
    ]


# -- 12. lists ------------------------------------------------------------------------------------------------------


def test_extract_from_a_list_with_labels_groups_and_relative_paths(tmp_path):
    _video(tmp_path / "data" / "clips" / "one.mp4", seed=12)
    _video(tmp_path / "data" / "clips" / "two.mp4", seed=13)
    outside = _video(tmp_path / "other" / "three.mp4", seed=14)
    lst = tmp_path / "data" / "train.csv"
    lst.write_text(f"path,label,group\nclips/one.mp4,run,g1\nclips/two.mp4,run,g1\n{outside},walk,\n")
    base, files, groups = read_video_list(lst)
    assert base == lst.parent.resolve()
    assert [(f.path, f.label) for f in files] == [("clips/one.mp4", "run"), ("clips/two.mp4", "run"),
                                                    (outside.as_posix(), "walk")]  # fmt: skip
    assert groups == {"clips/one.mp4": "g1", "clips/two.mp4": "g1"}
    r = _cli("extract", "--list", str(lst), "-o", str(tmp_path / "f.h5"), "--clip-len", "4", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from featkit.sklearn import load_features, load_videos

    videos = load_videos(tmp_path / "f.h5", as_frame=False)
    assert list(videos["label"]) == ["run", "run", "walk"]
    assert list(videos["group"]) == ["g1", "g1", ""]
    _, _, g, _ = load_features(tmp_path / "f.h5")
    assert len(np.unique(g)) == 2  # the two g1 videos share a group


def test_a_text_list_is_whitespace_separated_and_takes_folder_labels(tmp_path):
    lst = tmp_path / "trainlist01.txt"
    lst.write_text("# UCF style\nApplyEyeMakeup/v_01.avi 1\nArchery/v_02.avi\n\n")
    _, files, _ = read_video_list(lst)
    assert [(f.path, f.label) for f in files] == [("ApplyEyeMakeup/v_01.avi", "1"), ("Archery/v_02.avi", "Archery")]
    (tmp_path / "empty.csv").write_text("path,label\n")
    with pytest.raises(ConfigError, match="names no video"):
        read_video_list(tmp_path / "empty.csv")


# -- 13. per-frame latents ------------------------------------------------------------------------------------------


def test_per_frame_latents_are_stored_beside_the_clips_and_survive_a_redo(tmp_path, encoder):
    from featkit.extraction import extract
    from featkit.sklearn import load_features, load_frames

    root = tmp_path / "v"
    _video(root / "a.mp4", seed=15, n=16)
    _video(root / "b.mp4", seed=16, n=24)
    out = tmp_path / "f.h5"
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=8.0), per_frame=True)
    extract(root, out, config, progress=False, encoder=encoder)
    frames = load_frames(out)
    assert list(frames) == ["a.mp4", "b.mp4"]
    assert frames["a.mp4"].mu.shape == (16, default_latent_dim())
    assert frames["b.mp4"].logvar.shape == (24, default_latent_dim())
    assert np.allclose(np.diff(frames["b.mp4"].time), 1 / 8)
    # The clip statistic mu_mean is the mean of the stored per-frame mu over the clip's frames.
    X, _, groups, _names = load_features(out, features=["mu_mean"])
    assert np.allclose(X[groups == 0][0], frames["a.mp4"].mu[:4].mean(axis=0), atol=1e-6)
    # Redo one video (changed file): the other keeps its frames, ids renumbered.
    _video(root / "a.mp4", seed=17, n=8)
    extract(root, out, config, progress=False, encoder=encoder)
    again = load_frames(out)
    assert np.array_equal(again["b.mp4"].mu, frames["b.mp4"].mu)
    assert again["a.mp4"].mu.shape == (8, default_latent_dim())
    with pytest.raises(StoreMismatchError, match="per_frame"):
        extract(root, out, SHORT, progress=False, encoder=encoder)


def test_load_frames_on_a_file_without_them_says_how_to_get_them(class_features):
    from featkit.sklearn import load_frames

    with pytest.raises(ConfigError, match="--per-frame"):
        load_frames(class_features)


# -- 14. flat tables -------------------------------------------------------------------------------------------------


def test_export_features_csv_is_one_named_row_per_clip(tmp_path, class_features):
    import pandas as pd

    from featkit.sklearn import load_features

    r = _cli("export-features", str(class_features), "-o", str(tmp_path / "t.csv"))
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "t.csv")
    X, y, groups, names = load_features(class_features)
    assert list(table.columns[:10]) == ["video", "label", "group", "video_id", "clip", "start_frame", "end_frame",
                                         "start_time", "end_time", "n_frames"]  # fmt: skip
    assert list(table.columns[10:]) == list(names)
    assert np.array_equal(table[list(names)].to_numpy(dtype=np.float32), X)
    assert list(table["label"]) == list(y)
    assert np.array_equal(table["group"], groups)
    from featkit.export_table import export_features

    with pytest.raises(ConfigError, match=r"\.parquet or \.csv"):
        export_features(class_features, tmp_path / "t.xlsx")


def test_export_features_parquet(tmp_path, class_features):
    pytest.importorskip("pyarrow")
    import pandas as pd

    from featkit.export_table import export_features

    assert export_features(class_features, tmp_path / "t.parquet") == 48
    assert pd.read_parquet(tmp_path / "t.parquet").shape == (48, 138)


def test_output_errors_name_the_file(tmp_path):
    from featkit.store import precheck_output

    with pytest.raises(StoreError, match="is a folder"):
        precheck_output(tmp_path)
