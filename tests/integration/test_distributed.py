"""``featkit extract`` on a real Dask cluster (scheduler and worker processes on loopback) equals a local run."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pytest

from featkit import ConfigError, EncoderError, ExtractionConfig, SamplingConfig
from featkit.extraction import extract
from featkit.store import open_feature_file, read_table
from featkit.workers import FAULT_ENV
from tests import videofactory as vf
from tests.integration.conftest import features_of

distributed = pytest.importorskip("distributed")

from featkit.distributed import DaskExecutor, check_workers, run_on_dask  # noqa: E402

# decord hangs on stuck.mp4 (after its first window), so it falls back to PyAV; every decoder segfaults on crash.mp4.
FAULTS = "hang@decord:*/stuck.mp4;segfault:*/crash.mp4"
# Every frame sampled, so "auto" tries decord first and the hang and crash exercise the fallback.
CONFIG = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=None), timeout=2.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Ten small real videos in two labels, a broken file, and two that misbehave in the decoder."""
    root = tmp_path_factory.mktemp("dask_corpus")
    for i in range(10):
        frames = vf.pattern_frames(40 + 8 * (i % 3), 64, 72, kind=vf.PATTERN_KINDS[i % 3], seed=i, motion=(1 + i, 2))
        vf.write_clip(root / f"l{i % 2}", f"v{i}", frames, fmt="h264_mp4", fps=24)
    vf.write_clip(root / "l0", "stuck", vf.pattern_frames(48, 64, 64, seed=20), fmt="h264_mp4", fps=24)
    vf.write_clip(root / "l1", "crash", vf.pattern_frames(48, 64, 64, seed=21), fmt="h264_mp4", fps=24)
    vf.write_zero_bytes(root / "l1" / "empty.mp4")
    return root


@pytest.fixture(scope="module")
def faults():
    """Decoder faults, in this process's decoding workers and the cluster's alike (they inherit the variable)."""
    old = os.environ.get(FAULT_ENV)
    os.environ[FAULT_ENV] = FAULTS
    yield FAULTS
    if old is None:
        os.environ.pop(FAULT_ENV, None)
    else:
        os.environ[FAULT_ENV] = old


@pytest.fixture(scope="module")
def cluster(faults):
    """A real local cluster: a scheduler and two single-threaded worker processes with nannies, on loopback."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        yield client


@pytest.fixture(scope="module")
def local_run(corpus, encoder, faults, tmp_path_factory):
    out = tmp_path_factory.mktemp("dask_local") / "local.h5"
    report = extract(corpus, out, CONFIG, progress=False, encoder=encoder)
    return out, report


def _failures(path: Path) -> dict[str, str]:
    with open_feature_file(path) as f:
        table = read_table(f, "failures")
    return dict(zip(table.get("path", []), table.get("reason", []), strict=True))


def _assert_same_file(a: Path, b: Path) -> None:
    fa, fb = features_of(a), features_of(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        assert np.array_equal(fa[key], fb[key]), f"{key} differs"
    assert _failures(a) == _failures(b)


def _encoder_loads() -> int:
    import featkit.encoders

    return featkit.encoders._SHARED_LOADS


def test_extract_on_dask_equals_a_local_run(corpus, local_run, client, encoder, tmp_path):
    local, local_report = local_run
    out = tmp_path / "dask.h5"
    report = extract(corpus, out, CONFIG, progress=False, encoder=encoder, scheduler=client)
    assert report.n_extracted == local_report.n_extracted == 11  # 10 + stuck.mp4 through PyAV
    _assert_same_file(local, out)
    assert _failures(out) == {"l1/crash.mp4": "worker_crashed", "l1/empty.mp4": "open_failed"}
    with open_feature_file(out) as f:
        videos = read_table(f, "videos")
    backends = dict(zip(videos["path"], videos["backend"], strict=True))
    assert backends["l0/stuck.mp4"] == "pyav", "the hang was cut off on the worker and PyAV took over"
    assert backends["l0/v0.mp4"] == "decord"
    # Each worker process loaded the encoder once, however many videos it did.
    assert set(client.run(_encoder_loads).values()) == {1}
    # Resuming through the cluster has nothing left to do.
    again = extract(corpus, out, CONFIG, progress=False, encoder=encoder, scheduler=client)
    assert (again.n_extracted, again.n_skipped) == (0, 13)


def test_cli_scheduler_option(corpus, local_run, cluster, client, tmp_path, capsys):
    """``featkit extract --scheduler ADDRESS`` gives the same file (the CLI's main, run here: TensorFlow is loaded)."""
    from featkit.cli import main

    out = tmp_path / "cli.h5"
    argv = ["extract", str(corpus), "-o", str(out), "--clip-len", "4", "--fps", "native", "--timeout", "2", "-q"]
    code = main([*argv, "--scheduler", cluster.scheduler_address])
    assert code == 1, capsys.readouterr().err  # finished; the file records the failed videos
    _assert_same_file(local_run[0], out)


def test_results_without_a_store_come_in_file_order(corpus, client):
    from featkit.discover import discover_videos

    files = discover_videos(corpus)[:5]  # l0/stuck.mp4 (after a 3 s hang) among them
    results = list(run_on_dask(files, corpus, CONFIG, client))
    assert [getattr(r, "path", None) or r.video["path"] for r in results] == [f.path for f in files]


def test_workers_that_cannot_do_the_work_stop_the_run_early(client, corpus, encoder):
    with pytest.raises(ConfigError, match="does not exist on Dask worker"):
        check_workers(client, str(corpus / "nowhere"), CONFIG)
    with pytest.raises(EncoderError, match="loads a different encoder"):
        check_workers(client, str(corpus), CONFIG, identity='{"name": "another"}')
    with pytest.raises(EncoderError, match=re.escape("cannot load the encoder 'missing.keras'")):
        check_workers(client, str(corpus), ExtractionConfig(encoder="missing.keras"))


def test_unreachable_scheduler_is_a_clear_error(corpus, tmp_path, monkeypatch):
    import featkit.distributed

    monkeypatch.setattr(featkit.distributed, "_CONNECT_TIMEOUT", 1.0)
    with pytest.raises(ConfigError, match=re.escape("Cannot connect to the Dask scheduler 'tcp://127.0.0.1:9'")):
        extract(corpus, tmp_path / "x.h5", ExtractionConfig(scheduler="tcp://127.0.0.1:9"), progress=False)
    assert not (tmp_path / "x.h5").exists()


def test_task_over_time_fails_with_timeout_and_the_worker_is_replaced(client, corpus, tmp_path, encoder):
    """A task that never ends (decord hangs, no decoding timeout) fails with ``timeout`` after ``task_timeout``.

    Its worker is restarted, which ends the hang, and the other videos are done.
    """
    from featkit.discover import discover_videos
    from featkit.extraction import decode_tasks

    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4), timeout=None, backend="decord")
    files = [f for f in discover_videos(corpus) if f.path in ("l0/stuck.mp4", "l0/v0.mp4", "l1/v1.mp4")]
    tasks = decode_tasks(files, corpus, encoder.input_size, config)
    n_workers = len(client.nthreads())
    with DaskExecutor(config, client, task_timeout=6.0, poll=0.2) as executor:
        stuck, v0, v1 = executor.results(tasks, encoder)
    assert (stuck.path, stuck.reason) == ("l0/stuck.mp4", "timeout")
    assert "longer than 6 s on Dask worker tcp://127.0.0.1:" in stuck.message
    assert "was restarted" in stuck.message
    assert [r.video["path"] for r in (v0, v1)] == ["l0/v0.mp4", "l1/v1.mp4"]
    client.wait_for_workers(n_workers, timeout=60)  # the restarted worker is back
