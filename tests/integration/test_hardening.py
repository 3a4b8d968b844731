"""Hostile and unlucky inputs (issue 14): special files, crafted timestamps, odd names, deep and unreadable
folders, stale journals, crafted and mutated feature files, crashes and their exit codes.

Every test uses real video files, the real decoder and encoder and real HDF5 files; faults come from the
files themselves, except where a test says it injects one (an encoder failing midway).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from featkit import ExtractionConfig, SamplingConfig
from featkit.exceptions import LayoutError, StoreError
from featkit.extraction import extract
from featkit.store import open_feature_file, read_table
from tests import videofactory as vf

CONFIG = ExtractionConfig(sampling=SamplingConfig(clip_len=4))


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""

    def expired(signum, frame):
        raise AssertionError(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _video(folder: Path, name: str, seed: int = 0, n: int = 24) -> Path:
    return vf.write_clip(folder, name, vf.pattern_frames(n, 64, 64, seed=seed), fmt="h264_mp4", fps=24)


def _stored(out: Path) -> dict[str, dict]:
    with open_feature_file(out) as f:
        videos, failures = read_table(f, "videos"), read_table(f, "failures")
    return {
        "videos": list(videos.get("path", [])),
        "failures": {p: r for p, r in zip(failures.get("path", []), failures.get("reason", []), strict=True)},
    }


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    for i in range(3):
        _video(root / "a", f"v{i}", seed=i)
    return root


# -- special files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "dev_zero_link", "device"])
def test_a_special_file_in_place_of_a_stored_video_fails_it_without_hanging(kind, small_tree, encoder, tmp_path):
    """After a first run, one stored video becomes a FIFO, a symlink to /dev/zero or a device node."""
    root = tmp_path / "videos"
    shutil.copytree(small_tree, root)
    out = tmp_path / "f.h5"
    assert extract(root, out, CONFIG, progress=False, encoder=encoder).ok
    target = root / "a" / "v1.mp4"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev_zero_link":
        target.symlink_to("/dev/zero")
    else:
        try:
            os.mknod(target, 0o644 | 0o020000, os.makedev(1, 5))  # a character device (/dev/zero's numbers)
        except PermissionError:
            pytest.skip("creating a device node needs CAP_MKNOD")
    with deadline(120):
        report = extract(root, out, CONFIG, progress=False, encoder=encoder)
    assert [(r.path, r.reason) for r in report.failures] == [("a/v1.mp4", "unreadable")]
    assert "not a regular file" in report.failures[0].message
    assert not out.with_name(out.name + ".lock").exists(), "the lock is released"


def test_info_and_output_on_a_fifo_do_not_hang(small_tree, encoder, tmp_path):
    from featkit.cli import main

    fifo = tmp_path / "features.h5"
    os.mkfifo(fifo)
    with deadline(60):
        with pytest.raises(StoreError, match="not a regular file \\(a FIFO\\)"):
            open_feature_file(fifo)
        assert main(["info", str(fifo)]) == 2
        with pytest.raises(StoreError, match="not a regular file"):
            extract(small_tree, fifo, CONFIG, progress=False, encoder=encoder)
        with pytest.raises(StoreError, match="Refusing to overwrite"):
            extract(small_tree, fifo, CONFIG, progress=False, encoder=encoder, overwrite=True)


def test_hashing_reads_only_regular_files_and_is_bounded(tmp_path):
    from featkit.files import sha256_of

    with deadline(30):
        with pytest.raises(OSError, match="not a regular file"):
            sha256_of("/dev/zero")
        fifo = tmp_path / "pipe.mp4"
        os.mkfifo(fifo)
        with pytest.raises(OSError, match="not a regular file"):
            sha256_of(fifo)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    with pytest.raises(OSError, match="hashing took longer"):
        sha256_of(big, timeout=1e-9)


# -- crafted timestamps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("last", [1e6, 1e7])
def test_a_tiny_file_stamped_at_a_huge_time_is_a_recorded_failure(last, encoder, tmp_path):
    """A few frames, the last one stamped at 10^6 or 10^7 s: failed and recorded, not 500,000 clips or OOM."""
    root = tmp_path / "videos"
    times = np.array([0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24, last])
    # Matroska: MP4 stores frame durations in 32 bits, which cannot span 10^7 s at its time scale.
    path = vf.write_vfr_video(root / "stamped.mkv", vf.pattern_frames(len(times), 64, 64, seed=1), times)
    assert path.stat().st_size < 20_000
    assert vf.probe_timestamps(path)[-1] == pytest.approx(last)
    _video(root, "fine")
    out = tmp_path / "f.h5"
    with deadline(300):
        report = extract(root, out, CONFIG, progress=False, encoder=encoder)
    assert report.n_extracted == 1
    assert [r.path for r in report.failures] == ["stamped.mkv"]
    assert "implausible timestamps" in report.failures[0].message
    assert out.stat().st_size < 1 << 20
    again = extract(root, out, CONFIG, progress=False, encoder=encoder)
    assert (again.n_skipped, again.failures) == (2, []), "an unchanged bad file is not retried"


# -- stale journals and encoder failures ----------------------------------------------------------------------


class FailingEncoder:
    """The real default encoder, made to fail on its ``fail_at``-th call (an injected fault)."""

    def __init__(self, encoder, fail_at: int) -> None:
        self._encoder, self._calls, self._fail_at = encoder, 0, fail_at

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, frames):
        self._calls += 1
        if self._calls >= self._fail_at:
            raise RuntimeError("the encoder broke")
        return self._encoder.encode(frames)


def test_an_encoder_failing_at_once_leaves_no_output_file(small_tree, encoder, tmp_path):
    """The crash path writes nothing: no empty or partial file appears (exit code 3 in the CLI says why)."""
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match="the encoder broke"):
        extract(small_tree, out, CONFIG, progress=False, encoder=FailingEncoder(encoder, fail_at=1))
    assert not out.exists(), "no empty output file"
    assert _leftovers(out) == []


def test_an_encoder_failing_midway_keeps_what_was_committed_consistent(small_tree, encoder, tmp_path):
    out = tmp_path / "f.h5"
    # Only the encoder's statistics, so each short video is exactly one encoder call.
    config = ExtractionConfig(sampling=CONFIG.sampling, stats=("mu_mean", "mu_std", "sigma_mean", "mu_absdiff"))
    with pytest.raises(RuntimeError, match="the encoder broke"):
        extract(small_tree, out, config, progress=False, encoder=FailingEncoder(encoder, fail_at=3))
    done = set(_stored(out)["videos"]) if out.exists() else set()
    journaled = list(out.with_name(out.name + ".journal").glob("*.npz"))
    assert len(done) + len(journaled) == 2, "the two finished videos are in the file or the journal"
    report = extract(small_tree, out, config, progress=False, encoder=encoder)
    assert report.ok
    assert (report.n_extracted, report.n_skipped) == (1, 2)
    assert len(_stored(out)["videos"]) == 3


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name and out.name in p.name)


def _journal_of_a_killed_run(root: Path, out: Path, encoder, config: ExtractionConfig) -> None:
    """What a run killed before its first commit leaves: journal entries (written with the real store)."""
    from featkit.discover import discover_videos
    from featkit.extraction import decode_video, encode_video, store_metadata
    from featkit.store import FeatureStore, VideoResult

    store = FeatureStore.open(out, store_metadata(config, encoder), min_commit_interval=1e12)
    for file in discover_videos(root)[:2]:
        decoded = decode_video(os.fspath(root), file, encoder.input_size, config.sampling)
        store.add_video(encode_video(decoded, encoder, config.stats))
    assert isinstance(decoded.video, dict)
    assert VideoResult
    store._release_lock()  # killed: nothing committed, the journal stays


def test_a_journal_of_other_settings_is_kept_aside_with_a_message(small_tree, encoder, tmp_path):
    """Clips of clip_len 4 never go into a clip_len 8 file, whatever the stats (issue 14, row 5)."""
    out = tmp_path / "f.h5"
    _journal_of_a_killed_run(small_tree, out, encoder, CONFIG)
    assert not out.exists()
    assert len(list(out.with_name(out.name + ".journal").glob("*.npz"))) == 2
    other = ExtractionConfig(sampling=SamplingConfig(clip_len=8), stats=("mu_mean",))
    with pytest.warns(UserWarning, match="came from a run with other settings"):
        report = extract(small_tree, out, other, progress=False, encoder=encoder)
    assert report.ok
    assert report.n_extracted == 3, "the stale entries were not folded in"
    with open_feature_file(out) as f:
        assert set(read_table(f, "clips")["n_frames"]) == {8}
    assert len(list(out.with_name(out.name + ".journal-stale").glob("*.npz"))) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert extract(small_tree, out, other, progress=False, encoder=encoder).n_skipped == 3


def test_a_journal_of_the_same_settings_is_folded_in(small_tree, encoder, tmp_path):
    out = tmp_path / "f.h5"
    _journal_of_a_killed_run(small_tree, out, encoder, CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = extract(small_tree, out, CONFIG, progress=False, encoder=encoder)
    assert (report.n_extracted, report.n_skipped) == (1, 2)


# -- names and folders --------------------------------------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_a_recorded_failure_and_blocks_nothing(small_tree, encoder, tmp_path):
    root = tmp_path / "videos"
    shutil.copytree(small_tree, root)
    out = tmp_path / "f.h5"
    assert extract(root, out, CONFIG, progress=False, encoder=encoder).ok
    bad = os.path.join(os.fsencode(root / "a"), b"caf\xe9-\xff.mp4")
    shutil.copy(root / "a" / "v0.mp4", bad)
    _video(root / "a", "v9", seed=9)
    report = extract(root, out, CONFIG, progress=False, encoder=encoder)
    assert report.n_extracted == 1, "the new video with a good name got in"
    assert [(r.path, r.reason) for r in report.failures] == [("a/caf\\xe9-\\xff.mp4", "bad_name")]
    stored = _stored(out)
    assert "a/v9.mp4" in stored["videos"]
    assert stored["failures"] == {"a/caf\\xe9-\\xff.mp4": "bad_name"}
    again = extract(root, out, CONFIG, progress=False, encoder=encoder)
    assert (again.n_skipped, again.failures) == (5, [])
    os.unlink(bad)
    pruned = extract(root, out, ExtractionConfig(sampling=SamplingConfig(clip_len=4), prune=True), progress=False,
                     encoder=encoder)  # fmt: skip
    assert pruned.n_pruned == 1
    assert pruned.ok


def test_a_1200_deep_folder_is_walked(encoder, tmp_path):
    from featkit.discover import discover_videos

    root = tmp_path / "deep"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(1200):  # os.makedirs recurses too; create level by level relative to the last one
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.symlink(_video(tmp_path, "clip"), "clip.mp4", dir_fd=fd)
    finally:
        os.close(fd)
    found = discover_videos(root)
    assert [v.path for v in found] == ["d/" * 1200 + "clip.mp4"]
    assert found[0].label == "d"


def test_escape_codes_in_names_are_printed_escaped(encoder, tmp_path, capsys):
    from featkit.cli import main

    root = tmp_path / "videos"
    _video(root, "ok")
    vf.write_zero_bytes(root / "evil\x1b[2J\x1b]0;owned\x07.mp4")
    out = tmp_path / "f.h5"
    assert main(["extract", str(root), "-o", str(out), "--clip-len", "4"]) == 1
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr()
    assert "\x1b" not in printed.out + printed.err
    assert "\x07" not in printed.out + printed.err
    assert "evil\\x1b[2J\\x1b]0;owned\\x07.mp4" in printed.out
    assert "evil\\x1b[2J" in printed.err


# -- --overwrite ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "mp4", "other_hdf5"])
def test_overwrite_refuses_a_file_that_is_not_a_featkit_file(kind, small_tree, encoder, tmp_path):
    out = tmp_path / f"precious.{kind}"
    if kind == "docx":
        shutil.make_archive(str(tmp_path / "doc"), "zip", small_tree)
        shutil.move(tmp_path / "doc.zip", out)
    elif kind == "mp4":
        shutil.copy(small_tree / "a" / "v0.mp4", out)
    else:
        with h5py.File(out, "w") as f:
            f["data"] = np.arange(3)
    before = out.read_bytes()
    with pytest.raises(StoreError, match=r"Refusing to overwrite .*only replaces a featkit feature file"):
        extract(small_tree, out, CONFIG, progress=False, encoder=encoder, overwrite=True)
    assert out.read_bytes() == before


def test_overwrite_replaces_a_featkit_file(small_tree, encoder, tmp_path):
    out = tmp_path / "f.h5"
    assert extract(small_tree, out, CONFIG, progress=False, encoder=encoder).ok
    report = extract(small_tree, out, CONFIG, progress=False, encoder=encoder, overwrite=True)
    assert report.n_extracted == 3


# -- exit codes ---------------------------------------------------------------------------------------------------


def test_a_crash_exits_3_with_one_line_and_a_log(small_tree, tmp_path, capsys, monkeypatch):
    """An unexpected exception (injected in the clip reducer) is exit 3, not 1, and leaves no output file."""
    from featkit import extraction
    from featkit.cli import EXIT_CRASH, main

    def broken(self, frame_ids, frames):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(extraction.ClipReducer, "add", broken)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "f.h5"
    code = main(["extract", str(small_tree), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_CRASH == 3
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("featkit extract:")]
    assert len(lines) == 1
    assert "crashed: ZeroDivisionError: injected; details in " in lines[0]
    log = Path(lines[0].split("details in ")[1].split(". ")[0])
    assert log.is_relative_to(tmp_path / "cache")
    assert "Traceback" in log.read_text()
    assert not out.exists()


# -- decode workers -------------------------------------------------------------------------------------------------


def test_decode_workers_never_import_modules_from_the_working_directory(small_tree, encoder, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "imported"
    for name in ("decord", "av", "numpy"):
        (cwd / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\nraise SystemExit(7)\n")
    monkeypatch.chdir(cwd)
    report = extract(small_tree, tmp_path / "f.h5", CONFIG, progress=False, encoder=encoder)
    assert report.ok
    assert report.n_extracted == 3
    assert not marker.exists(), marker.read_text() if marker.exists() else ""


# -- crafted feature files ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_file(small_tree, encoder, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real_src")
    shutil.copytree(small_tree, root / "v")
    vf.write_zero_bytes(root / "v" / "a" / "broken.mp4")
    out = tmp_path_factory.mktemp("real") / "real.h5"
    extract(root / "v", out, CONFIG, progress=False, encoder=encoder)
    return out


def _crafted(real_file: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "crafted.h5"
    shutil.copy(real_file, path)
    with h5py.File(path, "a") as f:
        edit(f, tmp_path)
    return path


def _external_storage(f, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:secret\n" * 4)
    n = f["failures/message"].shape[0]
    del f["failures/message"]
    f["failures"].create_dataset("message", shape=(n,), dtype="S18", external=[(str(secret), 0, 18 * n)])


def _external_link(f, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["message"] = np.array([b"from another file"], dtype=object)
    del f["failures/message"]
    f["failures/message"] = h5py.ExternalLink(str(other), "/message")


def _virtual(f, tmp_path):
    other = tmp_path / "source.h5"
    n = f["clips/n_frames"].shape[0]
    with h5py.File(other, "w") as g:
        g["n"] = np.full(n, 99, dtype=np.int32)
    layout = h5py.VirtualLayout(shape=(n,), dtype=np.int32)
    layout[:] = h5py.VirtualSource(str(other), "n", shape=(n,))
    del f["clips/n_frames"]
    f["clips"].create_virtual_dataset("n_frames", layout)


def _soft_link(f, tmp_path):
    del f["failures/message"]
    f["failures/message"] = h5py.SoftLink("/failures/reason")


def _one_dim_features(f, tmp_path):
    flat = f["features"][()].ravel()
    del f["features"]
    f["features"] = flat


def _bad_offsets(f, tmp_path):
    f["videos/clip_count"][0] = 0


def _orphan_clips(f, tmp_path):
    ids = f["clips/video_id"][()]
    ids[-1] = 0
    f["clips/video_id"][...] = ids


def _bad_json(f, tmp_path):
    f.attrs["sampling"] = "{not json"


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        (_external_storage, "storage"),
        (_external_link, "links"),
        (_virtual, "storage"),
        (_soft_link, "links"),
        (_one_dim_features, "structure"),
        (_bad_offsets, "offsets"),
        (_orphan_clips, "ids"),
        (_bad_json, "attributes"),
    ],
    ids=lambda v: getattr(v, "__name__", v).strip("_"),
)
def test_crafted_feature_files_are_refused_naming_the_check(edit, check, real_file, tmp_path, capsys):
    from featkit.cli import main
    from featkit.sklearn import load_features, load_videos

    path = _crafted(real_file, tmp_path, edit)
    for read in (open_feature_file, load_features, load_videos):
        with pytest.raises(LayoutError, match=f"fails the feature-file check '{check}'"):
            read(path)
    assert main(["info", str(path)]) == 2
    printed = capsys.readouterr()
    assert "secret" not in printed.out + printed.err
    assert "from another file" not in printed.out + printed.err
    assert "Traceback" not in printed.err


def test_the_real_file_passes_every_check(real_file):
    with open_feature_file(real_file) as f:
        assert f["features"].shape[0] > 0
    assert json.loads(json.dumps(_stored(real_file)))["failures"] == {"a/broken.mp4": "open_failed"}


# -- mutated feature files (fuzz) ---------------------------------------------------------------------------------

N_MUTANTS = 160
_FUZZ = r"""
import json, random, shutil, sys, faulthandler
import h5py, numpy as np
faulthandler.enable()
from featkit.exceptions import FeatkitError
from featkit.store import open_feature_file, read_table
from featkit.sklearn import load_features
from featkit.cli import summarise

real, folder, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
data = open(real, "rb").read()
with h5py.File(real, "r") as f:
    members = []
    f.visititems(lambda name, obj: members.append(name))

def structural(path):
    with h5py.File(path, "a") as f:
        name = rng.choice(members + ["/"])
        what = rng.choice(["reshape", "retype", "delete", "attr", "resize"])
        obj = f[name]
        if what == "attr" or name == "/":
            key = rng.choice(list(f.attrs) or ["x"])
            f.attrs[key] = rng.choice([b"\xff\xfe", "{", "[1, 2", "null", "3", np.arange(4), 2**62, ""])
        elif what == "delete":
            del f[name]
        elif isinstance(obj, h5py.Dataset):
            values = obj[()]
            del f[name]
            if what == "reshape":
                f[name] = np.resize(values, (2, 3, 1) if values.ndim == 1 else (values.size,))
            elif what == "retype":
                f[name] = np.zeros(values.shape, dtype=rng.choice(["f4", "i8", "S3", "u1", "c8"]))
            else:
                f.create_dataset(name, shape=(rng.choice([0, 1, 10**9, 2**40]),) + values.shape[1:],
                                 dtype=values.dtype if values.dtype.kind != "O" else h5py.string_dtype())
        else:
            del f[name]

for i in range(n):
    path = f"{folder}/m{i:04d}.h5"
    kind = rng.choice(["bytes", "bytes", "truncate", "structural", "structural"])
    blob = bytearray(data)
    if kind == "bytes":
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(blob)) if rng.random() < 0.5 else rng.randrange(min(len(blob), 4096))
            blob[pos] = rng.randrange(256)
    elif kind == "truncate":
        blob = blob[: rng.randrange(len(blob))]
    open(path, "wb").write(blob)
    if kind == "structural":
        structural(path)
    print(json.dumps({"start": i, "kind": kind}), flush=True)
    outcome = "ok"
    try:
        with open_feature_file(path) as f:
            for group in ("videos", "clips", "failures"):
                read_table(f, group)
            f["features"][()]
        load_features(path)
        summarise(path)
    except FeatkitError as exc:
        outcome = "refused:" + type(exc).__name__
    except BaseException as exc:
        outcome = f"other:{type(exc).__name__}: {exc}"[:300]
    print(json.dumps({"done": i, "kind": kind, "outcome": outcome}), flush=True)
"""


def test_mutated_feature_files_are_read_or_refused_never_crash(real_file, tmp_path):
    """160 mutants of a real file (byte flips, truncations, reshaped/retyped/deleted datasets, junk attributes).

    Each one either reads consistently or is refused with a featkit error; none crashes the process, raises
    another exception or allocates what the file cannot hold.
    """
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _FUZZ, str(real_file), str(tmp_path), str(N_MUTANTS), "14"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    done = [e for e in events if "done" in e]
    assert proc.returncode == 0, f"crashed on mutant {events[-1] if events else None}: {proc.stderr[-3000:]}"
    assert len(done) == N_MUTANTS
    outcomes: dict[str, int] = {}
    for e in done:
        key = e["outcome"].split(":")[0] + ":" + e["outcome"].split(":")[1] if ":" in e["outcome"] else e["outcome"]
        outcomes[key] = outcomes.get(key, 0) + 1
    print(f"{N_MUTANTS} mutants: {outcomes}")
    bad = [e for e in done if e["outcome"].startswith("other")]
    assert not bad, bad[:5]
    assert outcomes.get("refused:LayoutError", 0) >= N_MUTANTS // 4


# -- crafted models --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gbt_model():
    from threadpoolctl import threadpool_limits

    from featkit.pipelines.classify import make_classifier
    from featkit.stats import feature_names

    names = feature_names(("mu_mean",), 4)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, len(names)))
    y = np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    with threadpool_limits(1, user_api="openmp"):  # TensorFlow is loaded: its pools starve OpenMP loops
        model = make_classifier("gbt", feature_names=names).fit(X, y)
    return model, names, X


@pytest.mark.parametrize(
    ("field", "value"),
    [("left", 10**6), ("right", 2**32 - 1), ("left", 0), ("feature_idx", 10**6)],
    ids=["child_past_the_end", "child_at_uint32_max", "child_loops_to_the_root", "feature_out_of_range"],
)
def test_a_model_of_trusted_types_with_bad_tree_indices_is_refused(field, value, gbt_model, tmp_path):
    """HistGradientBoosting's TreePredictor is a trusted type; node indices out of range would crash predict."""
    import copy

    from featkit.exceptions import ModelError
    from featkit.pipelines.classify import load_model, save_model

    model, names, _ = gbt_model
    crafted = copy.deepcopy(model)
    nodes = crafted[-1]._predictors[0][0].nodes
    root = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
    nodes[field][root] = value
    path = save_model(crafted, tmp_path / "crafted.skops", names, crafted.classes_)
    with pytest.raises(ModelError, match="tree model whose arrays are inconsistent"):
        load_model(path)


def test_a_sound_tree_model_still_loads_and_predicts(gbt_model, tmp_path):
    from threadpoolctl import threadpool_limits

    from featkit.pipelines.classify import load_model, save_model

    model, names, X = gbt_model
    bundle = load_model(save_model(model, tmp_path / "m.skops", names, model.classes_))
    with threadpool_limits(1, user_api="openmp"):
        assert np.array_equal(bundle["model"].predict(X), model.predict(X))


def _dataset_from_graph_saved_model(folder: Path, marker: Path, source: str = "variable") -> Path:
    """A TF2 SavedModel whose serving function runs a serialised tf.data graph that writes a file.

    The graph comes from a string variable (read at run time: no scan of the model's graphs can see it) or,
    with ``source="constant"``, from a constant.
    """
    import tensorflow as tf

    from tests.integration.test_encoder_io import _tiny_encoder

    def write(x):
        with tf.control_dependencies([tf.io.write_file(str(marker), "written by a hidden graph")]):
            return tf.identity(x)

    serialized = tf.data.Dataset.range(1).map(write)._as_serialized_graph().numpy()
    model = _tiny_encoder()
    root = tf.Module()
    root.blob = tf.Variable(serialized)

    @tf.function(input_signature=[tf.TensorSpec((None, 16, 16, 3), tf.float32, name="frames")])
    def serve(frames):
        graph = root.blob.read_value() if source == "variable" else tf.constant(serialized)
        variant = tf.raw_ops.DatasetFromGraph(graph_def=graph)
        hidden = tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.int64))
        one = tf.cast(hidden.reduce(tf.constant(0, tf.int64), lambda a, b: a + b + 1), tf.float32)
        mu, logvar = model(frames)
        return {"mu": mu * one, "logvar": logvar}

    root.serve, root.model = serve, model
    tf.saved_model.save(root, str(folder), signatures={"serving_default": serve.get_concrete_function()})
    return folder


def _tf1_main_op_saved_model(folder: Path, marker: Path) -> Path:
    """A TF1 SavedModel whose main_op saves a checkpoint (SaveV2) to ``marker`` when it is loaded."""
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default():
        frames = v1.placeholder(tf.float32, (None, 16, 16, 3), name="frames")
        scale = v1.Variable(1.0, name="scale", use_resource=True)
        pooled = tf.reduce_mean(frames, axis=[1, 2]) * scale
        mu, logvar = tf.identity(pooled, name="mu"), tf.zeros_like(pooled, name="logvar")
        save = tf.raw_ops.SaveV2(
            prefix=str(marker), tensor_names=["scale"], shape_and_slices=[""], tensors=[scale.read_value()]
        )
        main_op = tf.group(v1.global_variables_initializer(), save)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(folder))
            sig = v1.saved_model.predict_signature_def({"frames": frames}, {"mu": mu, "logvar": logvar})
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig}, main_op=main_op
            )
            builder.save()
    return folder


@pytest.mark.parametrize(
    ("craft", "named"),
    [
        (_dataset_from_graph_saved_model, "DatasetFromGraph in "),
        (_tf1_main_op_saved_model, "a TF1 SavedModel, whose init op"),
    ],
    ids=["write_file_in_a_dataset_graph", "tf1_main_op_save_v2"],
)
def test_crafted_saved_models_are_refused_and_write_nothing(craft, named, tmp_path):
    """Each crafted model really writes a file when loaded and used with --unsafe; in safe mode it is refused."""
    from featkit.encoders import load_encoder
    from featkit.encoders.safety import scan_saved_model
    from featkit.exceptions import UnsafeEncoderError

    marker = tmp_path / "marker"
    folder = craft(tmp_path / "model", marker)
    problems = scan_saved_model(folder)
    assert any(p.startswith(named) for p in problems), problems
    with pytest.raises(UnsafeEncoderError, match="--unsafe"):
        load_encoder(str(folder), batch_size=4)
    assert not list(tmp_path.glob("marker*")), "nothing was written in safe mode"
    encoder = load_encoder(str(folder), batch_size=4, unsafe=True)
    encoder.encode(vf.pattern_frames(2, 16, 16, seed=0))
    assert list(tmp_path.glob("marker*")), "the crafted model does write a file when trusted"


def test_the_dataset_graph_scan_names_the_hidden_op(tmp_path):
    from featkit.encoders.safety import scan_saved_model

    folder = _dataset_from_graph_saved_model(tmp_path / "model", tmp_path / "marker", source="constant")
    assert any(p.startswith("WriteFile in a graph serialised inside") for p in scan_saved_model(folder))


@pytest.mark.parametrize(
    ("step", "field", "value"),
    [("scale", "weights_", np.ones(3)), ("scale", "mean_", np.zeros(7)), ("select", "columns_", np.array([0, 99]))],
)
def test_a_model_whose_arrays_disagree_with_its_layout_is_refused_at_load(step, field, value, tmp_path):
    """A crafted or damaged model file fails with a ModelError naming the problem, not a crash in predict."""
    from featkit.exceptions import ModelError
    from featkit.pipelines.classify import load_model, make_classifier, save_model

    rng = np.random.default_rng(0)
    names = [f"mu_mean_{j:02d}" for j in range(12)] + ["motion_x", "motion_y", "motion_zoom", "motion_rotate"]
    X, y = rng.normal(size=(40, len(names))), np.repeat(["a", "b"], 20)
    model = make_classifier("logreg", feature_names=names).fit(X, y)
    assert load_model(save_model(model, tmp_path / "ok.skops", names, model.classes_))["model"] is not None
    setattr(model.named_steps[step], field, value)
    save_model(model, tmp_path / "bad.skops", names, model.classes_)
    with pytest.raises(ModelError, match="cannot predict on its own feature layout"):
        load_model(tmp_path / "bad.skops")
