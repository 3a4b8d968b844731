"""Crash safety of ``featkit extract``: kill -9 at random moments, two writers, disk full and read-only outputs.

Every run is the real CLI on real videos, decoder, encoder and HDF5 file. ``python -m featkit`` spends
~5 s importing TensorFlow, which would make 20 kills cost minutes, so most runs come from a *preloaded
CLI*: one process imports featkit's CLI, TensorFlow, h5py and decord (imports only, no TensorFlow op
runs) and forks one child per run that calls ``featkit.cli.main(argv)``, the function ``featkit`` runs,
only without the start-up. The reference run, both processes of the lock test and the final resume after
the kills are plain ``python -m featkit`` subprocesses.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from featkit.store import open_feature_file, read_table
from featkit.store.journal import read_journal_entry
from tests import videofactory as vf

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
ARGS = ["--clip-len", "4", "-q"]
N_VIDEOS = 36
N_KILLS = 20
N_SIGNALS = 24
SEED = 20


def drop_dac() -> None:
    """Make root obey file permissions here and in what this process executes (no-op for other users).

    Drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the effective, permitted and bounding sets.
    """
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) == 0:
        keep = ~0b1110 & 0xFFFFFFFF
        data[0].effective &= keep
        data[0].permitted &= keep
        libc.capset(ctypes.byref(header), data)
    for cap in (1, 2, 3):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


# The preloaded CLI. Protocol on stdin/stdout, one JSON job per line: it answers the child's pid, then its
# exit code. The child gets its own process group, its output goes to job["log"], and it can be run under
# a file size limit (SIGXFSZ ignored, so writes fail with EFBIG) or without root's permission bypass.
_PRELOADED_CLI = inspect.getsource(drop_dac) + textwrap.dedent(
    """
    import json, os, resource, signal, sys, traceback
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import featkit.cli, featkit.encoders, featkit.extraction, featkit.io.video, featkit.store
    import decord, h5py, keras, tensorflow

    def restrict(job):
        if job.get("fsize"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
        if job.get("no_dac"):
            drop_dac()

    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                os.setpgid(0, 0)
                os.environ.update(job.get("env") or {})
                fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                restrict(job)
                code = featkit.cli.main(job["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
    """
)


class Run:
    """One running ``featkit`` process, watched through a pidfd (no pid-reuse races, works for non-children)."""

    def __init__(self, pid: int, wait: Callable[[], int]) -> None:
        self.pid = pid
        self._wait = wait
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already finished and reaped
            self._fd = None

    def alive(self) -> bool:
        return self._fd is not None and not select.select([self._fd], [], [], 0)[0]

    def kill(self) -> bool:
        """SIGKILL the process (not its children); return whether it was still running."""
        if not self.alive():
            return False
        signal.pidfd_send_signal(self._fd, signal.SIGKILL)
        return True

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to the process; return whether it was still running."""
        if not self.alive():
            return False
        signal.pidfd_send_signal(self._fd, signum)
        return True

    def wait(self) -> int:
        code = self._wait()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        # Reap what a killed run may have left in its process group (decoding workers): an orphan that
        # outlives its parent must not write the store, and must not eat the CPU of the next run either.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return code


class PreloadedCLI:
    """A process that has imported the CLI and forks one ``featkit.cli.main(argv)`` per run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _PRELOADED_CLI], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
        )
        self._n = 0

    def start(
        self, *argv: str, fsize: int | None = None, no_dac: bool = False, env: dict[str, str] | None = None
    ) -> tuple[Run, Path]:
        self._n += 1
        log = self.workdir / f"run{self._n:03d}.log"
        job = {"argv": list(argv), "log": str(log), "fsize": fsize, "no_dac": no_dac, "env": env}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the preloaded CLI died"
        return Run(int(line), lambda: int(self.proc.stdout.readline())), log

    def run(self, *argv: str, **kw) -> tuple[int, str]:
        run, log = self.start(*argv, **kw)
        code = run.wait()
        return code, log.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _cli(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "featkit", *argv], capture_output=True, text=True, env=ENV, timeout=300, **kw
    )


def _lock_holder(out: Path) -> int | None:
    try:
        text = out.with_name(out.name + ".lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _wait_for_lock(out: Path, run: Run, timeout: float = 120.0) -> bool:
    """Wait until ``run`` holds the output's lock (its store is open); False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _lock_holder(out) == run.pid:
            return True
        if not run.alive():
            return False
        time.sleep(0.005)
    raise AssertionError(f"pid {run.pid} did not lock {out} within {timeout} s")


def _by_video(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Each stored video's row, clip rows and features, keyed by path (asserting every path appears once)."""
    with open_feature_file(path) as f:
        videos, clips = read_table(f, "videos"), read_table(f, "clips")
        features = f["features"][()]
        assert len(features) == len(clips["video_id"])
    paths = list(videos.get("path", []))
    assert len(paths) == len(set(paths)), "a video is stored twice"
    out = {}
    for i, p in enumerate(paths):
        lo, n = int(videos["clip_offset"][i]), int(videos["clip_count"][i])
        assert np.all(clips["video_id"][lo : lo + n] == i)
        row = {k: np.asarray(v[i]) for k, v in videos.items() if k not in ("clip_offset", "clip_count")}
        row |= {f"clips/{k}": v[lo : lo + n] for k, v in clips.items() if k != "video_id"}
        out[p] = row | {"features": features[lo : lo + n]}
    offsets, counts = videos.get("clip_offset", np.zeros(0)), videos.get("clip_count", np.zeros(0))
    assert np.array_equal(offsets, np.cumsum(counts) - counts), "clips are one contiguous block per video"
    return out


def _writing_journal_entry(journal: Path) -> bool:
    """Whether a live run is writing a journal entry now; the run may remove the journal between the check
    and the listing (it finalised), which reads as no."""
    try:
        return any(journal.glob("*.tmp"))
    except FileNotFoundError:
        return False


def _journal(out: Path) -> dict[str, dict[str, np.ndarray]]:
    """The finished but not yet committed videos in the output's journal."""
    journal = out.with_name(out.name + ".journal")
    entries = {}
    for entry in sorted(journal.glob("*.npz")) if journal.is_dir() else []:
        r = read_journal_entry(entry)
        entries[r.video["path"]] = {"features": r.features} | {f"clips/{k}": v for k, v in r.clips.items()}
    return entries


def _assert_same(got: dict[str, dict[str, np.ndarray]], want: dict[str, dict[str, np.ndarray]]) -> None:
    for path, row in got.items():
        for key, value in row.items():
            assert np.array_equal(value, want[path][key]), f"{path}: {key} differs from the uninterrupted run"


def _leftovers(out: Path) -> list[str]:
    """Lock, journal and temporary files next to the output."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name and out.name in p.name)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """36 small real videos (3 labels, 48 to 72 frames, 64 x 80)."""
    root = tmp_path_factory.mktemp("crash_corpus")
    for i in range(N_VIDEOS):
        kind, motion = vf.PATTERN_KINDS[i % 3], (1 + i % 4, 1)
        frames = vf.pattern_frames(48 + 8 * (i % 4), 64, 80, kind=kind, seed=i, motion=motion)
        vf.write_clip(root / f"c{i % 3}", f"v{i:02d}", frames, fmt="h264_mp4", fps=24)
    return root


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> tuple[Path, dict, float]:
    """An uninterrupted ``python -m featkit extract`` run: the file, its content, and its working time."""
    out = tmp_path_factory.mktemp("crash_ref") / "reference.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "featkit", "extract", str(corpus), "-o", str(out), *ARGS], env=ENV, text=True
    )
    run = Run(proc.pid, proc.wait)
    assert _wait_for_lock(out, run)
    t0 = time.monotonic()
    assert run.wait() == 0
    working = time.monotonic() - t0  # from opening the store to the end: what the kills spread over
    content = _by_video(out)
    assert len(content) == N_VIDEOS
    with open_feature_file(out) as f:
        assert len(read_table(f, "failures").get("path", [])) == 0
    return out, content, working


@pytest.fixture(scope="module")
def preloaded(tmp_path_factory):
    cli = PreloadedCLI(tmp_path_factory.mktemp("logs"))
    yield cli
    cli.close()


def test_twenty_kill_9_then_resume_equals_an_uninterrupted_run(corpus, reference, preloaded, tmp_path):
    """kill -9 twenty times at random moments, resuming each time.

    After every kill the file opens and every video in it or in the journal is exactly the reference's; what
    was finished is never lost; after the last resume the file equals the uninterrupted run.
    """
    _, want, working = reference
    rng = np.random.default_rng(SEED)
    done: set[str] = set()
    kills, kills_with_work_left, moments = 0, 0, {"delay": 0, "commit": 0, "journal": 0}
    rounds, new_round = 0, True
    for _ in range(3 * N_KILLS):
        if kills == N_KILLS:
            break
        if new_round:  # a new round: a fresh output in a folder of its own
            rounds += 1
            out = tmp_path / f"round{rounds}" / "killed.h5"
            out.parent.mkdir()
            journal = out.with_name(out.name + ".journal")
            commit_tmp = out.with_name(f".{out.name}.{{pid}}.tmp")
            new_round = False
        run, _ = preloaded.start("extract", str(corpus), "-o", str(out), *ARGS)
        if _wait_for_lock(out, run):
            # A random delay, or the moment a commit or a journal entry is being written.
            moment = str(rng.choice(["delay", "commit", "journal"], p=[0.6, 0.2, 0.2]))
            delay = rng.uniform(0, 2 * working / N_KILLS)
            deadline = time.monotonic() + (delay if moment == "delay" else working)
            tmp = Path(str(commit_tmp).format(pid=run.pid))
            while run.alive() and time.monotonic() < deadline:
                if moment == "commit" and tmp.exists():
                    break
                if moment == "journal" and _writing_journal_entry(journal):
                    break
                time.sleep(0.001 if moment != "delay" else 0.002)
            else:
                moment = "delay"  # the event did not come: an ordinary random kill
            if run.kill():
                kills += 1
                moments[moment] += 1
                kills_with_work_left += len(done) < N_VIDEOS
        run.wait()
        stored, journaled = (_by_video(out) if out.exists() else {}), _journal(out)  # opens after every kill
        _assert_same(stored, want)
        _assert_same(journaled, want)
        now = set(stored) | set(journaled)
        assert done <= now, f"finished videos were lost: {sorted(done - now)}"
        done = now
        if done == set(want) and kills < N_KILLS:
            # Start over, so later kills land mid-run too (the finished round's file was checked above).
            done, new_round = set(), True
    print(f"{kills} kills {moments} in {rounds} rounds, {kills_with_work_left} with work left, {len(done)} done")
    assert kills == N_KILLS
    assert kills_with_work_left >= N_KILLS // 2, f"most kills should land mid-extraction: {moments}, done {len(done)}"
    assert moments["commit"] >= 1, f"no kill landed during a commit: {moments}"

    final = _cli("extract", str(corpus), "-o", str(out), *ARGS)
    assert final.returncode == 0, final.stderr
    got = _by_video(out)
    assert set(got) == set(want)
    _assert_same(got, want)
    assert _leftovers(out) == [], "lock, journal and temporary files of killed runs are cleaned up"


def _moment(rng, run: Run, out: Path, working: float, n: int) -> str:
    """Wait for a random moment of ``run``: a delay, a commit being written, or a journal entry being written."""
    journal = out.with_name(out.name + ".journal")
    tmp = out.with_name(f".{out.name}.{run.pid}.tmp")
    moment = str(rng.choice(["delay", "commit", "journal"], p=[0.4, 0.4, 0.2]))
    deadline = time.monotonic() + (rng.uniform(0, 2 * working / n) if moment == "delay" else working)
    while run.alive() and time.monotonic() < deadline:
        if moment == "commit" and tmp.exists():
            return moment
        if moment == "journal" and _writing_journal_entry(journal):
            return moment
        time.sleep(0.0005 if moment != "delay" else 0.002)
    return "delay"


def test_sigint_and_sigterm_at_random_moments_then_resume_equals_an_uninterrupted_run(
    corpus, reference, preloaded, tmp_path
):
    """SIGINT or SIGTERM at random moments, mid-commit and mid-journal-write included, each followed by a resume.

    A signal that lands while the file is written waits for the write to end: the run then stops with 130 or 143
    (never 0 with a partial file), the file passes its consistency checks after every signal, what was finished
    is never lost, and the last resume gives exactly the uninterrupted run's file.
    """
    _, want, working = reference
    out = tmp_path / "signalled.h5"
    rng = np.random.default_rng(SEED + 1)
    done: set[str] = set()
    sent, moments, codes = 0, {"delay": 0, "commit": 0, "journal": 0}, {}
    for _ in range(3 * N_SIGNALS):
        if sent == N_SIGNALS:
            break
        run, log = preloaded.start("extract", str(corpus), "-o", str(out), *ARGS)
        signum = None
        if _wait_for_lock(out, run):
            moment = _moment(rng, run, out, working, N_SIGNALS)
            signum = signal.SIGINT if rng.random() < 0.5 else signal.SIGTERM
            if run.signal(signum):
                sent += 1
                moments[moment] += 1
            else:
                signum = None
        code = run.wait()
        text = log.read_text()
        assert "Traceback" not in text, text
        assert "Exception ignored" not in text, text
        stored, journaled = (_by_video(out) if out.exists() else {}), _journal(out)
        if signum is not None:
            codes[code] = codes.get(code, 0) + 1
            if code == 0:  # the signal came after the last write: then the run is complete
                assert set(stored) == set(want), f"exit 0 after {signum.name} with {len(stored)} videos"
            else:
                assert code == 128 + signum, f"{signum.name} gave exit {code}: {text}"
        _assert_same(stored, want)
        _assert_same(journaled, want)
        now = set(stored) | set(journaled)
        assert done <= now, f"finished videos were lost: {sorted(done - now)}"
        done = now
        if done == set(want) and sent < N_SIGNALS:
            out.unlink()  # start over, so later signals land mid-run too
            done = set()
    print(f"{sent} signals survived {moments}, exit codes {codes}")
    assert sent == N_SIGNALS
    assert moments["commit"] >= 2, f"too few signals landed during a commit: {moments}"

    final = _cli("extract", str(corpus), "-o", str(out), *ARGS)
    assert final.returncode == 0, final.stderr
    got = _by_video(out)
    assert set(got) == set(want)
    _assert_same(got, want)
    assert _leftovers(out) == []


def test_deleting_the_lock_mid_run_never_lets_two_writers_mix(corpus, reference, preloaded, tmp_path):
    """The lock file is deleted while a run writes, and a second run takes a new lock: no row is stored twice.

    The first run (held with SIGSTOP while the second starts) notices at its next commit that another
    process holds the lock and stops (exit 2) without replacing the file; the second finishes; a resume then
    equals the uninterrupted run.
    """
    out = tmp_path / "stolen.h5"
    slow = {"FEATKIT_FAULT_INJECT": "sleep=0.4:*"}  # both runs take a while, so they overlap
    argv = [sys.executable, "-m", "featkit", "extract", str(corpus), "-o", str(out), *ARGS]
    first = subprocess.Popen(argv, env={**ENV, **slow}, stderr=subprocess.PIPE, text=True)
    run = Run(first.pid, first.wait)
    assert _wait_for_lock(out, run)
    deadline = time.monotonic() + 120
    while not out.exists() or len(_by_video(out)) < 3:  # it has committed a few videos
        assert time.monotonic() < deadline
        assert run.alive()
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        out.with_name(out.name + ".lock").unlink()
        second, log = preloaded.start("extract", str(corpus), "-o", str(out), *ARGS, env=slow)
        assert _wait_for_lock(out, second)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    codes = (first.wait(timeout=300), second.wait())
    errors = first.stderr.read()
    assert codes == (2, 0), errors + log.read_text()
    assert "Its lock file was removed while this run was writing, and that process took it" in errors
    assert "Traceback" not in errors
    _by_video(out)  # no path twice, offsets and ids consistent
    final = _cli("extract", str(corpus), "-o", str(out), *ARGS)
    assert final.returncode == 0, final.stderr
    got = _by_video(out)
    assert set(got) == set(reference[1])
    _assert_same(got, reference[1])
    assert _leftovers(out) == []


def test_second_extract_on_the_same_output_is_refused(corpus, reference, tmp_path):
    """Two real ``featkit extract`` processes: the second exits 2 with a clear message; the first finishes."""
    out = tmp_path / "shared.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "featkit", "extract", str(corpus), "-o", str(out), *ARGS],
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = Run(proc.pid, proc.wait)
    assert _wait_for_lock(out, first)
    os.kill(proc.pid, signal.SIGSTOP)  # hold it mid-run, lock taken, while the second one starts
    try:
        before = out.read_bytes() if out.exists() else None
        second = _cli("extract", str(corpus), "-o", str(out), *ARGS)
        assert second.returncode == 2
        assert "featkit extract: error:" in second.stderr
        assert f"{out} is being written by another featkit process (pid {proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert (out.read_bytes() if out.exists() else None) == before, "the refused run wrote nothing"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert first.wait() == 0, proc.stderr.read()
    got = _by_video(out)
    assert set(got) == set(reference[1])
    _assert_same(got, reference[1])


def _make_read_only(folder: Path) -> None:
    folder.chmod(0o555)
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(folder / 'probe')!r}, 'w')"], preexec_fn=drop_dac, capture_output=True
    )
    if probe.returncode == 0:
        folder.chmod(0o755)
        (folder / "probe").unlink()
        pytest.skip("cannot make a folder read-only for this user (root without CAP_SETPCAP?)")


def _first_third(corpus: Path, preloaded: PreloadedCLI, root: Path, out: Path) -> tuple[str, ...]:
    """Extract the videos of one label into ``out``, then add the others to ``root`` (same bytes and mtimes)."""
    shutil.copytree(corpus / "c0", root / "c0")
    argv = ("extract", str(root), "-o", str(out), *ARGS)
    code, log = preloaded.run(*argv)
    assert code == 0, log
    for label in ("c1", "c2"):
        shutil.copytree(corpus / label, root / label)
    return argv


def _snapshot(out: Path) -> tuple[bytes, list[str]]:
    return out.read_bytes(), sorted(p.name for p in Path(f"{out}.journal").iterdir())


def test_full_disk_and_read_only_output_give_a_clear_error_and_lose_nothing(corpus, reference, preloaded, tmp_path):
    """The file size limit is hit mid-run (EFBIG), then the folder is read-only (EACCES), then all is well."""
    ref_path, want, _ = reference
    folder = tmp_path / "out"
    out = folder / "features.h5"
    argv = _first_third(corpus, preloaded, tmp_path / "videos", out)
    third = out.stat().st_size

    code, log = preloaded.run(*argv, fsize=(third + ref_path.stat().st_size) // 2)
    assert code == 2, log
    assert f"Cannot write the feature file {out}:" in log
    assert f"EFBIG (errno {errno.EFBIG})" in log
    assert "Traceback" not in log
    stored, journaled = _by_video(out), _journal(out)
    assert N_VIDEOS // 3 <= len(stored) < N_VIDEOS, "earlier commits are intact"
    assert journaled, "videos finished since the last commit stay in the journal"
    assert f"kept in {out}.journal" in log
    _assert_same(stored, want)
    _assert_same(journaled, want)
    assert _leftovers(out) == [f"{out.name}.journal"], "no temporary file, lock released"

    snapshot = _snapshot(out)
    _make_read_only(folder)
    try:
        code, log = preloaded.run(*argv, no_dac=True)
    finally:
        folder.chmod(0o755)
    assert code == 2, log
    assert f"Cannot write the feature file {out}: creating the lock file ({out}.lock)" in log
    assert f"EACCES (errno {errno.EACCES})" in log
    assert "Traceback" not in log
    assert _snapshot(out) == snapshot

    code, log = preloaded.run(*argv)
    assert code == 0, log
    got = _by_video(out)
    assert set(got) == set(want)
    _assert_same(got, want)
    assert _leftovers(out) == []


@pytest.fixture
def tmpfs(tmp_path):
    """A real tmpfs mounted for the test (needs root with CAP_SYS_ADMIN, else skipped)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a tmpfs needs root; the RLIMIT_FSIZE test covers a full disk")
    res = subprocess.run([mount, "-t", "tmpfs", "-o", "size=16m", "featkit-test", str(mnt)], capture_output=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()}); the RLIMIT_FSIZE test covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_no_space_then_read_only_filesystem(corpus, reference, preloaded, tmpfs, tmp_path):
    """A real full filesystem (ENOSPC) mid-run, then remounted read-only (EROFS), then enlarged."""
    ref_path, want, _ = reference
    out = tmpfs / "features.h5"
    argv = _first_third(corpus, preloaded, tmp_path / "videos", out)
    # A commit needs the old file and its new copy at once: this fills up about halfway to the full file.
    size = out.stat().st_size + ref_path.stat().st_size
    subprocess.run(["mount", "-o", f"remount,size={size}", str(tmpfs)], check=True)
    code, log = preloaded.run(*argv)
    assert code == 2, log
    assert f"Cannot write the feature file {out}:" in log
    assert f"ENOSPC (errno {errno.ENOSPC})" in log
    assert "Traceback" not in log
    stored = _by_video(out)
    assert N_VIDEOS // 3 <= len(stored) < N_VIDEOS
    _assert_same(stored, want)
    _assert_same(_journal(out), want)
    assert _leftovers(out) == [f"{out.name}.journal"]

    snapshot = _snapshot(out)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, log = preloaded.run(*argv)
    assert code == 2, log
    assert f"EROFS (errno {errno.EROFS})" in log
    assert "Traceback" not in log
    assert _snapshot(out) == snapshot

    subprocess.run(["mount", "-o", "remount,rw,size=16m", str(tmpfs)], check=True)
    code, log = preloaded.run(*argv)
    assert code == 0, log
    got = _by_video(out)
    assert set(got) == set(want)
    _assert_same(got, want)
    assert _leftovers(out) == []


def test_deleted_videos_are_kept_unless_pruned(corpus, encoder, tmp_path):
    """A video deleted since the last run stays in the file by default; ``prune=True`` removes it, and only it."""
    from featkit import ExtractionConfig, SamplingConfig
    from featkit.extraction import extract

    root = tmp_path / "videos"
    (root / "c0").mkdir(parents=True)
    for name in ("v00", "v03", "v06"):
        shutil.copy2(corpus / "c0" / f"{name}.mp4", root / "c0" / f"{name}.mp4")
    vf.write_zero_bytes(root / "c0" / "broken.mp4")
    out = tmp_path / "pruned.h5"
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4))
    first = extract(root, out, config, progress=False, encoder=encoder)
    assert (first.n_extracted, len(first.failures)) == (3, 1)
    before = _by_video(out)
    (root / "c0" / "v03.mp4").unlink()
    (root / "c0" / "broken.mp4").unlink()

    kept = extract(root, out, config, progress=False, encoder=encoder)
    assert (kept.n_extracted, kept.n_pruned) == (0, 0)
    assert set(_by_video(out)) == set(before), "by default a deleted video stays in the file"

    pruned = extract(
        root, out, ExtractionConfig(sampling=SamplingConfig(clip_len=4), prune=True), progress=False, encoder=encoder
    )
    assert (pruned.n_extracted, pruned.n_pruned) == (0, 2)
    after = _by_video(out)
    assert set(after) == {"c0/v00.mp4", "c0/v06.mp4"}
    _assert_same(after, before)
    with open_feature_file(out) as f:
        assert len(read_table(f, "failures").get("path", [])) == 0, "the deleted file's failure record is gone too"


def test_an_unreadable_folder_is_a_recorded_failure_and_never_pruned(corpus, preloaded, tmp_path):
    """A sub-folder that cannot be listed: its videos stay in the file, with --prune too; exit 1 says so."""
    root = tmp_path / "videos"
    for label in ("c0", "c1"):
        (root / label).mkdir(parents=True)
        for name in sorted(p.name for p in (corpus / label).iterdir())[:2]:
            shutil.copy2(corpus / label / name, root / label / name)
    out = tmp_path / "features.h5"
    argv = ("extract", str(root), "-o", str(out), *ARGS)
    code, log = preloaded.run(*argv)
    assert code == 0, log
    before = _by_video(out)
    assert len(before) == 4
    hidden = root / "c1"
    hidden.chmod(0o000)
    try:
        if os.access(hidden, os.R_OK) and subprocess.run(["ls", str(hidden)], preexec_fn=drop_dac).returncode == 0:
            pytest.skip("cannot make a folder unreadable for this user")
        for extra in ((), ("--prune",)):
            code, log = preloaded.run(*argv, *extra, no_dac=True)
            assert code == 1, log
            assert "Traceback" not in log
            assert set(_by_video(out)) == set(before), f"{extra}: the unreadable folder's videos stay"
            with open_feature_file(out) as f:
                failures = read_table(f, "failures")
            assert list(failures["path"]) == ["c1/"]
            assert list(failures["reason"]) == ["unreadable_folder"]
            assert "PermissionError" in failures["message"][0]
    finally:
        hidden.chmod(0o755)
    code, log = preloaded.run(*argv, "--prune")
    assert code == 0, log
    assert set(_by_video(out)) == set(before)
    with open_feature_file(out) as f:
        assert len(read_table(f, "failures").get("path", [])) == 0, "readable again: the record is gone"
