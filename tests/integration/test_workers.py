"""Isolated decoding with real processes: timeouts, crashes, fallback, order, memory, and clean shutdown.

Hangs and crashes are simulated with ``FEATKIT_FAULT_INJECT`` (read only by the
worker processes): ``hang`` sleeps in C while holding the GIL, as decord does
when it hangs, so no Python-level timeout inside the worker could stop it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import psutil
import pytest

from featkit import ConfigError, ExtractionConfig, SamplingConfig, extract, load_features, load_videos
from featkit.discover import VideoFile
from featkit.extraction import ClipReducer, decode_tasks
from featkit.io.sampling import plan_clips
from featkit.io.video import DecordReader
from featkit.stats import clip_statistics
from featkit.workers import FAULT_ENV, DecodePool, FramesDecoded, VideoDone, VideoFailed, VideoStarted, window_frames
from tests import videofactory as vf
from tests.integration.conftest import features_of

REPO = Path(__file__).resolve().parents[2]
SHORT = SamplingConfig(clip_len=4)
# Every frame sampled: "auto" tries decord first (PyAV first when sampling at a frame rate), the fallback tested here.
DENSE = SamplingConfig(clip_len=4, fps=None)


def _videos(root: Path, names: list[str], n_frames: int = 24) -> list[Path]:
    return [
        vf.write_clip(root, name, vf.pattern_frames(n_frames, 64, 64, kind="moving_square", seed=i), fps=12)
        for i, name in enumerate(names)
    ]


def _workers_of(pid: int) -> list[psutil.Process]:
    procs = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "featkit.workers" in " ".join(child.cmdline()):
                procs.append(child)
        except psutil.NoSuchProcess:
            pass
    return procs


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_hang_and_crashes_are_recorded_and_the_run_goes_on(tmp_path, encoder, monkeypatch):
    root = tmp_path / "v"
    _videos(root, ["a_ok", "b_hang", "c_segfault", "d_abort", "e_oom", "f_ok"])
    monkeypatch.setenv(FAULT_ENV, "hang:b_hang.mp4;segfault:c_segfault.mp4;abort:d_abort.mp4;kill:e_oom.mp4")
    config = ExtractionConfig(sampling=SHORT, n_jobs=2, timeout=4, backend="decord")
    t0 = time.monotonic()
    report = extract(root, tmp_path / "f.h5", config, progress=False, encoder=encoder)
    elapsed = time.monotonic() - t0
    failed = {f.path: f for f in report.failures}
    assert sorted(failed) == ["b_hang.mp4", "c_segfault.mp4", "d_abort.mp4", "e_oom.mp4"]
    assert failed["b_hang.mp4"].reason == "timeout"
    assert "longer than the timeout of 4 s" in failed["b_hang.mp4"].message
    for name, signame in [("c_segfault.mp4", "SIGSEGV"), ("d_abort.mp4", "SIGABRT"), ("e_oom.mp4", "SIGKILL")]:
        assert failed[name].reason == "worker_crashed"
        assert signame in failed[name].message, failed[name].message
    assert failed["b_hang.mp4"].size == (root / "b_hang.mp4").stat().st_size  # so a resume knows it unchanged
    assert report.n_extracted == 2  # fresh workers took over after every crash and the kill
    assert elapsed < 60
    assert _workers_of(os.getpid()) == []  # none left behind
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert sorted(p.decode() for p in f["videos/path"][()]) == ["a_ok.mp4", "f_ok.mp4"]
        assert set(f["failures/reason"][()].astype(str)) == {"timeout", "worker_crashed"}
    # Resuming does not retry them (unchanged), and with the faults gone --retry-failed recovers them all.
    assert extract(root, tmp_path / "f.h5", config, progress=False, encoder=encoder).n_extracted == 0
    monkeypatch.delenv(FAULT_ENV)
    retried = ExtractionConfig(sampling=SHORT, n_jobs=2, timeout=4, backend="decord", retry_failed=True)
    again = extract(root, tmp_path / "f.h5", retried, progress=False, encoder=encoder)
    assert again.n_extracted == 4
    assert again.ok


def test_auto_falls_back_to_pyav_after_decord_crashes_or_hangs(tmp_path, encoder, monkeypatch):
    root = tmp_path / "v"
    _videos(root, ["crash", "hang", "plain"], n_frames=40)
    monkeypatch.setenv(FAULT_ENV, "segfault@decord:crash.mp4;hang@decord:hang.mp4")
    out = tmp_path / "auto.h5"
    report = extract(root, out, ExtractionConfig(sampling=DENSE, timeout=3), progress=False, encoder=encoder)
    assert report.ok, report.failures
    with h5py.File(out, "r") as f:
        used = dict(zip(f["videos/path"][()].astype(str), f["videos/backend"][()].astype(str), strict=True))
    assert used == {"crash.mp4": "pyav", "hang.mp4": "pyav", "plain.mp4": "decord"}
    # The first window decord sent for crash.mp4 before dying was thrown away: features equal a PyAV-only run.
    monkeypatch.delenv(FAULT_ENV)
    ref = tmp_path / "pyav.h5"
    extract(root, ref, ExtractionConfig(sampling=DENSE, backend="pyav"), progress=False, encoder=encoder)
    a, b = features_of(out), features_of(ref)
    np.testing.assert_array_equal(a["features"], b["features"])
    np.testing.assert_array_equal(a["clips/start_time"], b["clips/start_time"])


def test_a_crash_with_every_backend_names_both(tmp_path, encoder, monkeypatch):
    root = tmp_path / "v"
    _videos(root, ["bad"])
    monkeypatch.setenv(FAULT_ENV, "exit=7:bad.mp4")
    for sampling, order in ((DENSE, ("decord", "pyav")), (SHORT, ("pyav", "decord"))):
        report = extract(root, tmp_path / "f.h5", ExtractionConfig(sampling=sampling), progress=False, encoder=encoder)
        (rec,) = report.failures
        assert rec.reason == "worker_crashed"
        first, second = order
        assert rec.message.startswith(f"{first}: worker_crashed: the decoding process died: exit code 7; {second}: ")
        (tmp_path / "f.h5").unlink()


def test_pool_yields_each_video_in_order_in_bounded_windows(tmp_path, monkeypatch):
    root = tmp_path / "v"
    names = ["a", "b", "c", "d", "e"]
    for i, name in enumerate(names):
        n = [400, 30, 200, 12, 90][i]
        vf.write_clip(root, name, vf.pattern_frames(n, 64, 64, seed=i), fps=25)
    todo = [VideoFile(f"{n}.mp4", "") for n in names]
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=8, fps=None), n_jobs=3, batch_size=16)
    tasks = decode_tasks(todo, root, 64, config)
    assert {t.window for t in tasks} == {window_frames(64, 16)} == {256}
    tasks = [dataclasses.replace(t, window=48) for t in tasks]  # several windows per video
    monkeypatch.setenv(FAULT_ENV, "sleep=1:a.mp4")  # the first video is the slowest: the others finish first
    with DecodePool(3, timeout=30) as pool:
        events = list(pool.run(tasks))
        pids = pool.pids
        maps = {pid: Path(f"/proc/{pid}/maps").read_text() for pid in pids}
    assert len(pids) == 3
    for pid, text in maps.items():  # the workers decode without TensorFlow
        assert "decord" in text, pid
        assert "tensorflow" not in text, pid
    assert [pid for pid in pids if not _gone(pid)] == []
    failed = [(e.task.path, e.reason, e.message) for e in events if isinstance(e, VideoFailed)]
    assert not failed
    order = [e.task.path for e in events if isinstance(e, VideoStarted)]
    assert order == [t.path for t in tasks]
    for task in tasks:
        mine = [e for e in events if e.task is task]
        assert isinstance(mine[0], VideoStarted)
        assert isinstance(mine[-1], VideoDone)
        windows = [e for e in mine if isinstance(e, FramesDecoded)]
        assert all(len(w.frame_ids) <= 48 for w in windows)
        ids = np.concatenate([w.frame_ids for w in windows])
        np.testing.assert_array_equal(ids, mine[0].plan.needed_frames())
        assert windows[0].frames.shape[1:] == (64, 64, 3)


@pytest.mark.parametrize("held_bytes", [None, 1], ids=["default", "no-room-ahead"])
def test_fallbacks_keep_the_order_and_never_deadlock(tmp_path, monkeypatch, held_bytes):
    """Retries of an early video while later, long ones fill their buffers: everything still arrives, in order.

    With no room for frames ahead, only the video being handed out is read, and every other worker waits.
    """
    import featkit.workers.pool

    if held_bytes is not None:
        monkeypatch.setattr(featkit.workers.pool, "_HELD_BYTES", held_bytes)
    root = tmp_path / "v"
    vf.write_video(root / "a_vp8.ogv", vf.pattern_frames(60, 64, 64, seed=1), fps=25, codec="libvpx")  # decord: no
    for i, name in enumerate(["b_crash", "c_long", "d_long", "e_hang", "f_long"]):
        vf.write_clip(root, name, vf.pattern_frames(150, 64, 64, seed=i), fps=25)
    monkeypatch.setenv(FAULT_ENV, "segfault@decord:b_crash.mp4;hang@decord:e_hang.mp4")
    names = sorted(p.name for p in root.iterdir())
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=None))
    tasks = [
        dataclasses.replace(t, window=16) for t in decode_tasks([VideoFile(n, "") for n in names], root, 64, config)
    ]
    events: list = []
    pool = DecodePool(2, timeout=3, max_buffered=1)
    runner = threading.Thread(target=lambda: events.extend(pool.run(tasks)), daemon=True)
    runner.start()
    runner.join(120)
    alive = runner.is_alive()
    pool.close()
    assert not alive, "the pool stopped making progress"
    done = [e for e in events if isinstance(e, VideoDone | VideoFailed)]
    assert [e.task.path for e in done] == names
    assert all(isinstance(e, VideoDone) for e in done), [e.message for e in done if isinstance(e, VideoFailed)]
    started = [e for e in events if isinstance(e, VideoStarted)]
    backend = {e.task.path: e.video["backend"] for e in started}  # the last start of each video counts
    assert backend == {"a_vp8.ogv": "pyav", "b_crash.mp4": "pyav", "e_hang.mp4": "pyav"} | {
        n: "decord" for n in ("c_long.mp4", "d_long.mp4", "f_long.mp4")
    }


def test_a_worker_that_died_ahead_of_the_parent_is_blamed_for_the_right_video(tmp_path, monkeypatch):
    """The parent reads behind a worker that has run ahead: when a job cannot be sent because the worker has
    died, the video it died on is the one after what it sent last, not the one the parent is reading."""
    root = tmp_path / "v"
    names = ["a", "b", "c", "d", "e_crash", "f", "g"]
    _videos(root, names, n_frames=12)
    monkeypatch.setenv(FAULT_ENV, "segfault:e_crash.mp4")  # every backend
    tasks = decode_tasks([VideoFile(f"{n}.mp4", "") for n in names], root, 64, ExtractionConfig(sampling=DENSE))
    events = []
    with DecodePool(1, timeout=30) as pool:
        for event in pool.run(tasks):
            events.append(event)
            if isinstance(event, VideoDone):
                time.sleep(1.0)  # the parent encoding: the worker decodes on, then dies on e_crash
    ended = {e.task.path: type(e).__name__ for e in events if isinstance(e, VideoDone | VideoFailed)}
    assert ended == {f"{n}.mp4": "VideoDone" for n in names if n != "e_crash"} | {"e_crash.mp4": "VideoFailed"}
    backend = {e.task.path: e.video["backend"] for e in events if isinstance(e, VideoStarted)}
    assert {p: b for p, b in backend.items() if p != "e_crash.mp4"} == {f"{n}.mp4": "decord" for n in "abcdfg"}
    (failed,) = [e for e in events if isinstance(e, VideoFailed)]
    assert failed.reason == "worker_crashed"
    assert failed.message.count("died") == 2, failed.message  # decord, then pyav: both on e_crash


def test_a_worker_killed_while_idle_behind_the_parent_is_replaced(tmp_path):
    """Killed (the OOM killer, say) after it sent all its videos but before the parent read them: they all
    count, and the next videos go to a new worker."""
    root = tmp_path / "v"
    names = ["a", "b", "c", "d", "e", "f"]
    _videos(root, names, n_frames=12)
    tasks = decode_tasks([VideoFile(f"{n}.mp4", "") for n in names], root, 64, ExtractionConfig(sampling=DENSE))
    events, killed = [], []
    with DecodePool(1, timeout=30) as pool:
        for event in pool.run(tasks):
            events.append(event)
            if isinstance(event, VideoDone) and not killed:
                time.sleep(1.0)  # it finishes what it was sent and waits for more
                killed += pool.pids
                os.kill(killed[0], signal.SIGKILL)
                psutil.Process(killed[0]).wait(10)
        assert pool.pids != killed
    assert [type(e).__name__ for e in events if isinstance(e, VideoDone | VideoFailed)] == ["VideoDone"] * 6
    assert {e.video["backend"] for e in events if isinstance(e, VideoStarted)} == {"decord"}
    assert len([e for e in events if isinstance(e, VideoStarted)]) == 6


def test_workers_whose_memory_grew_are_replaced_between_videos(tmp_path, monkeypatch):
    """Native decoders keep memory after a long video; a worker over the limit is retired and replaced."""
    import featkit.workers.pool

    root = tmp_path / "v"
    _videos(root, ["a", "b", "c"])
    tasks = decode_tasks([VideoFile(f"{n}.mp4", "") for n in "abc"], root, 64, ExtractionConfig(sampling=SHORT))
    monkeypatch.setattr(featkit.workers.pool, "_RECYCLE_RSS", 0)  # every worker is "too big" after its video
    seen = set()
    with DecodePool(1) as pool:
        for event in pool.run(tasks):
            seen.update(pool.pids)
            if isinstance(event, VideoFailed):
                pytest.fail(event.message)
    assert len(seen) >= 3  # a fresh process for every video
    assert all(_gone(pid) for pid in seen)


def _reference_rows(path: Path, encoder, sampling: SamplingConfig, stats) -> np.ndarray:
    """Clip statistics from the whole video decoded and encoded at once (the pre-window way)."""
    reader = DecordReader(path, encoder.input_size)
    plan = plan_clips(reader.info.starts, reader.info.end, sampling)
    ids = plan.needed_frames()
    mu, logvar = encoder.encode(reader.read(ids))
    rows = []
    for i in range(plan.n_clips):
        pos = np.searchsorted(ids, plan.frame_indices[plan.clip_samples(i)])
        rows.append(clip_statistics(mu[pos], logvar[pos], stats))
    return np.stack(rows)


@pytest.mark.parametrize("window", [64, 10], ids=["whole-batches", "ragged"])
def test_windowed_reduction_equals_whole_video_encoding_and_holds_little(tmp_path, encoder, window):
    path = vf.write_clip(tmp_path, "long", vf.pattern_frames(150, 64, 64, kind="rotating_bar", seed=2), fps=25)
    sampling = SamplingConfig(clip_len=16, fps=None, stride=5)  # overlapping clips span windows
    stats = ("mu_mean", "mu_std", "sigma_mean", "mu_absdiff")
    reference = _reference_rows(path, encoder, sampling, stats)
    reader = DecordReader(path, 64)
    plan = plan_clips(reader.info.starts, reader.info.end, sampling)
    reducer = ClipReducer({"path": "long.mp4"}, plan, reader.info.starts, reader.info.end, encoder, stats)
    ids = plan.needed_frames()
    held = []
    for lo in range(0, len(ids), window):
        reducer.add(ids[lo : lo + window], reader.read(ids[lo : lo + window]))
        held.append(reducer.n_cached)
    result = reducer.result()
    assert max(held) <= window + sampling.clip_len  # latents of a window and one clip, not of the video
    assert result.features.shape == reference.shape == (27, 4 * encoder.latent_dim)
    if window % encoder.batch_size == 0:
        np.testing.assert_array_equal(result.features, reference)  # what extract does: bit-identical
    else:
        np.testing.assert_allclose(result.features, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.clips["start_frame"], plan.frame_indices[plan.clip_starts])


def _peak_traced_bytes(root: Path, out: Path, encoder) -> int:
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=16, fps=None))  # every frame
    tracemalloc.start()
    try:
        extract(root, out, config, progress=False, encoder=encoder)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_in_the_main_process_does_not_grow_with_video_length(tmp_path, encoder):
    """numpy arrays are traced by tracemalloc: a 5x longer video must not need more of them.

    Both videos span several 256-frame windows (600 and 3000 frames, 7 and 37 MB of
    decoded pixels); decoding the whole video at once would need 5x more for the long one.
    """
    short, long_ = tmp_path / "short", tmp_path / "long"
    vf.write_clip(short, "v", vf.pattern_frames(600, 64, 64, seed=1, motion=(1, 2)), fps=25)
    vf.write_clip(long_, "v", vf.pattern_frames(3000, 64, 64, seed=1, motion=(1, 2)), fps=25)
    peak_short = _peak_traced_bytes(short, tmp_path / "s.h5", encoder)
    peak_long = _peak_traced_bytes(long_, tmp_path / "l.h5", encoder)
    print(f"peak traced memory: 600 frames {peak_short / 1e6:.1f} MB, 3000 frames {peak_long / 1e6:.1f} MB")
    assert peak_long < 1.2 * peak_short


def test_killed_parent_leaves_no_workers_even_when_one_hangs(tmp_path):
    """Workers die with their parent, even hung in C with the GIL held, whichever thread started them."""
    ok, stuck = _videos(tmp_path, ["ok", "stuck"])
    script = (
        "import threading, time\n"
        "from featkit import SamplingConfig\n"
        "from featkit.workers import DecodePool, DecodeTask\n"
        "def task(path):\n"
        "    return DecodeTask(path, path.rsplit('/', 1)[1], '', 64, SamplingConfig(clip_len=4))\n"
        "pool = DecodePool(2)\n"
        "first = []\n"
        "def use():\n"  # a short-lived thread starts the workers and uses them
        f"    list(pool.run([task({str(ok)!r})] * 3))\n"
        "    first.extend(pool.pids)\n"
        "user = threading.Thread(target=use)\n"
        "user.start(); user.join(); time.sleep(0.5)\n"
        f"events = pool.run([task({str(stuck)!r})])\n"
        "next(events)\n"
        "print(' '.join(map(str, first)), '|', ' '.join(map(str, pool.pids)), flush=True)\n"
        "next(events)\n"
    )
    env = {**os.environ, FAULT_ENV: "hang:stuck.mp4", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first, now = (part.split() for part in proc.stdout.readline().split("|"))
        assert len(first) == 2
        assert first == now  # the workers outlived the thread that started them
        pids = [int(p) for p in now]
        assert not any(_gone(p) for p in pids)
        time.sleep(0.5)  # let the stuck worker reach its hang (in C, holding the GIL: no Python runs there)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    assert all(_gone(p) for p in pids), "workers outlived a parent killed with SIGKILL"


def test_ctrl_c_stops_workers_and_keeps_finished_videos(tmp_path, encoder, monkeypatch):
    root = tmp_path / "v"
    _videos(root, ["a", "b", "c_hang"])
    out = tmp_path / "f.h5"
    # decord hangs; if Ctrl-C were lost, the killed worker's video is retried with PyAV and ends, so the
    # test fails instead of hanging the run (a hang on every backend had no end).
    monkeypatch.setenv(FAULT_ENV, "hang@decord:c_hang.mp4")
    config = ExtractionConfig(sampling=DENSE, timeout=None)  # nothing would ever end the hang but Ctrl-C
    seen: list[int] = []
    two_done = threading.Event()

    def counted(items, total):
        # The extraction's own stream of finished videos: no polling of files it holds open. When it
        # asks for the item after the second, the second has been stored.
        for n, item in enumerate(items, 1):
            yield item
            if n >= 2:
                two_done.set()

    ended = threading.Event()
    swallowed: list[bool] = []
    at_interrupt: dict = {}

    def interrupt() -> None:
        # Interrupt even if the two never finish, so a failure is an assertion, not a run hung for ever.
        finished = two_done.wait(timeout=120)
        workers = _workers_of(os.getpid())
        if finished and workers:
            seen.extend(w.pid for w in workers)
            time.sleep(0.5)  # let c_hang's worker reach its hang
        from featkit import _signals

        # What a lost Ctrl-C would be explained by (a rare failure in full runs): who held the signal.
        at_interrupt.update(
            two_done=finished, handler=signal.getsignal(signal.SIGINT), depth=_signals._depth, held=list(_signals._held)
        )
        os.kill(os.getpid(), signal.SIGINT)
        if not ended.wait(timeout=60):  # Ctrl-C did not stop it: end the hang, so the test fails, not hangs
            at_interrupt.update(held_after=list(_signals._held), depth_after=_signals._depth)
            swallowed.append(True)
            for w in _workers_of(os.getpid()):
                os.kill(w.pid, signal.SIGKILL)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    try:
        try:
            extract(root, out, config, progress=counted, encoder=encoder)
        except KeyboardInterrupt:
            pass
        else:
            pytest.fail(f"Ctrl-C did not stop the extraction; at the interrupt: {at_interrupt}")
    finally:
        ended.set()
    thread.join()
    assert not swallowed, f"Ctrl-C did not stop the extraction within 60 s; at the interrupt: {at_interrupt}"
    assert seen
    assert all(_gone(pid) for pid in seen)
    assert _workers_of(os.getpid()) == []
    monkeypatch.delenv(FAULT_ENV)
    resumed = extract(root, out, config, progress=False, encoder=encoder)
    assert resumed.n_extracted == 1  # a and b were kept; only the interrupted video is redone
    assert resumed.ok


def test_timeout_and_backend_settings(tmp_path):
    assert ExtractionConfig().timeout == 600.0
    assert ExtractionConfig().backend == "auto"
    assert ExtractionConfig(timeout=0).timeout == 0.0  # no limit
    assert ExtractionConfig(timeout=None).timeout is None
    assert ExtractionConfig(timeout=5).to_dict()["timeout"] == 5.0
    for bad in (-1, "10", True, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="'timeout' parameter"):
            ExtractionConfig(timeout=bad)
    with pytest.raises(ConfigError, match="'backend' parameter of ExtractionConfig must be one of"):
        ExtractionConfig(backend="ffmpeg")
    assert DecodePool(1, timeout=0).timeout is None
    from featkit.cli import _build_parser

    args = _build_parser().parse_args(["extract", "d", "-o", "o.h5", "--timeout", "0", "--backend", "pyav"])
    assert (args.timeout, args.backend) == (0.0, "pyav")
    args = _build_parser().parse_args(["extract", "d", "-o", "o.h5"])
    assert (args.timeout, args.backend) == (600.0, "auto")


def test_auto_reads_a_video_decord_would_buffer_in_full_with_pyav(tmp_path, encoder):
    """decord decodes ahead of a slower reader without bound (dmlc/decord#157): 590 MiB of worker memory
    on a 60-minute 320x240 video. Past MAX_LOOKAHEAD_BYTES of frames "auto" reads with PyAV; asked for by
    name, decord still reads it."""
    from benchmarks.synth import write_synthetic_video
    from featkit.io.video import MAX_LOOKAHEAD_BYTES

    # 1280x64 frames stay 1280x64 at size 64: 240 KiB each, so 600 frames pass the 128 MiB limit.
    wide = {"fps": 25, "width": 1280, "height": 64}
    long_one = write_synthetic_video(tmp_path / "v" / "wide.mp4", 24.0, **wide)
    assert DecordReader(long_one, 64).lookahead_bytes > MAX_LOOKAHEAD_BYTES
    short_one = write_synthetic_video(tmp_path / "v" / "short.mp4", 4.0, **wide)
    assert DecordReader(short_one, 64).lookahead_bytes < MAX_LOOKAHEAD_BYTES
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=8, fps=None))  # every frame: decord first
    report = extract(tmp_path / "v", tmp_path / "auto.h5", config, progress=False, encoder=encoder)
    assert report.ok
    table = load_videos(tmp_path / "auto.h5", as_frame=False)
    backends = dict(zip(table["path"], table["backend"], strict=True))
    assert backends == {"wide.mp4": "pyav", "short.mp4": "decord"}
    named = dataclasses.replace(config, backend="decord")
    assert extract(tmp_path / "v", tmp_path / "decord.h5", named, progress=False, encoder=encoder).ok
    assert set(load_videos(tmp_path / "decord.h5")["backend"]) == {"decord"}
    # The backends agree on the frames and (PyAV's rounded to float32 like decord's) on their times, so the
    # features agree exactly, the columns that use the times included.
    auto, named_x = load_features(tmp_path / "auto.h5")[0], load_features(tmp_path / "decord.h5")[0]
    np.testing.assert_array_equal(auto, named_x)
