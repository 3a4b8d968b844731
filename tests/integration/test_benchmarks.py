"""The benchmark scripts stay alive: the quick runner end to end, the memory probe, the README table."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.peakmem import run_measured

MINE = ("speed", "jobs", "memory", "load")
MIB = 2**20


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``python -m benchmarks --quick`` of the speed, jobs, memory and load benchmarks (generated data, no network).

    The feature, variant and VAE benchmarks have their own quick tests (tests/integration/test_bench_datasets.py, ...).
    """
    from benchmarks.__main__ import main

    out = tmp_path_factory.mktemp("bench")
    code = main(["--quick", "--only", *MINE, "--out", str(out), "--no-readme"])
    return out, code


def test_quick_runner_succeeds(quick_run):
    out, code = quick_run
    runner = json.loads((out / "runner.json").read_text())["benchmarks"]
    assert {n: s["message"] for n, s in runner.items() if s["status"] != "ok"} == {}
    assert code == 0
    assert sorted(runner) == sorted(MINE)
    assert all(s["quick"] is True for s in runner.values())


@pytest.mark.parametrize("name", ["speed", "variants", "vae", "features", "anomaly"])
def test_runner_can_direct_every_benchmark_output(name):
    """The runner passes its results folder to each benchmark through the option the benchmark's --help lists."""
    import importlib

    from benchmarks.__main__ import BENCHMARKS, _out_option

    try:
        module = importlib.import_module(BENCHMARKS[name])
    except ModuleNotFoundError:
        pytest.skip(f"{BENCHMARKS[name]} does not exist yet")
    assert _out_option(module) in ("--out", "--out-dir")


@pytest.mark.parametrize("name", MINE)
def test_quick_results_record_provenance(quick_run, name):
    out, _ = quick_run
    result = json.loads((out / f"bench_{name}_quick.json").read_text())
    assert result["benchmark"] == name
    assert result["quick"] is True
    assert result["machine"]["cpu_model"]
    assert result["machine"]["logical_cores"] >= 1
    assert result["machine"]["ram_gib"] > 0
    assert result["versions"]["featkit"]
    assert result["versions"]["tensorflow"]
    assert result["config"]
    for d in result["data"]:
        assert len(d.get("sha256", "")) == 64 or "checksum" in d
    assert result["targets"]
    for t in result["targets"]:
        assert math.isfinite(t["value"])
        assert t["value"] > 0
        assert t["met"] in (True, False)


def test_quick_speed_measures_the_same_output(quick_run):
    result = json.loads((quick_run[0] / "bench_speed_quick.json").read_text())
    # The naive OpenCV pipeline is a fair baseline only if it computes the same features.
    assert result["naive_agreement"]["corr_with_featkit"] > 0.95
    timings = result["timings_s"]
    assert timings["decode_only"]["median"] > 0
    assert timings["naive"]["median"] > timings["encode_only"]["median"]
    assert result["sampled_frames"] == 48  # 6 s at 8 fps
    assert result["clips"] == 3


def test_quick_memory_and_load_results(quick_run):
    out = quick_run[0]
    memory = json.loads((out / "bench_memory_quick.json").read_text())
    assert [r["seconds"] for r in memory["runs"]] == [10.0, 60.0]
    for run in memory["runs"]:
        # A featkit process with TensorFlow loaded holds well over 100 MiB; anything less is a broken probe.
        assert run["tree_peak_rss"] > 100 * MIB
        assert run["max_process_rss"] > 100 * MIB
        assert run["timeline"]
    load = json.loads((out / "bench_load_quick.json").read_text())
    assert load["data"][0]["clips"] == 20_000
    assert load["layout"]["chunks"][1] == 256


def test_quick_jobs_measures_the_machines_own_parallel_ceiling(quick_run):
    jobs = json.loads((quick_run[0] / "bench_jobs_quick.json").read_text())
    ceiling = jobs["parallel_ceiling"]
    run = ceiling["runs"][0]
    assert run["ceiling"] == pytest.approx(2 * run["one_s"] / run["two_s"], abs=0.01)
    assert 0.5 < ceiling["median"] < 2.5  # two processes at once: at most twice one (plus timer noise)
    assert jobs["speedup_over_ceiling"] == pytest.approx(jobs["speedup"] / ceiling["median"], abs=0.01)


def test_quick_report_written(quick_run):
    out = quick_run[0]
    text = (out / "REPORT.md").read_text()
    assert "Quick-mode results" in text
    for png in ("targets.png", "speed_times.png", "memory_timeline.png", "load_times.png"):
        assert f"]({png})" in text
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in MINE:
        assert report.TITLES[name] in text


def _fake_results() -> dict:
    target = {"name": "decode / extract", "value": 0.95, "op": ">=", "target": 0.9, "unit": "", "met": True}
    return {
        "speed": {
            "benchmark": "speed",
            "created": "2026-01-02T00:00:00+00:00",
            "machine": {"cpu_model": "Test CPU", "usable_cores": 2},
            "targets": [target],
        },
        "load": {
            "benchmark": "load",
            "created": "2026-01-03T00:00:00+00:00",
            "targets": [{"name": "load", "value": 3.5, "op": "<=", "target": 2.0, "unit": "s", "met": False}],
        },
        "jobs": {  # quick results are never put in the README
            "benchmark": "jobs",
            "quick": True,
            "targets": [{"name": "speed-up", "value": 1.1, "op": ">=", "target": 1.8, "unit": "x", "met": False}],
        },
    }


def test_update_readme_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    before = "# Title\n\n## Benchmarks\n\nIntro.\n\n"
    after = "\n\n## Development\n\nText.\n"
    readme.write_text(f"{before}{report.README_START}\nold table\n{report.README_END}{after}")
    assert report.update_readme(readme, _fake_results(), tmp_path / "results")
    text = readme.read_text()
    assert text.startswith(before + report.README_START)
    assert text.endswith(report.README_END + after)
    assert "old table" not in text
    assert "| speed | decode / extract | **0.95** | ≥ 0.9 | yes |" in text
    assert "| load | load | **3.5 s** | ≤ 2 s | **no** |" in text
    assert "(results/REPORT.md)" in text
    assert "speed-up" not in text
    assert "2026-01-02 to 2026-01-03" in text
    assert not report.update_readme(readme, _fake_results(), tmp_path / "results")  # idempotent


def test_update_readme_without_markers_is_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\nno markers here\n")
    assert not report.update_readme(readme, _fake_results())
    assert readme.read_text() == "# Title\nno markers here\n"


def test_peak_memory_counts_the_whole_process_tree():
    # A parent holding ~150 MiB starts a child holding ~250 MiB; both live at once for a while.
    code = textwrap.dedent(
        """
        import subprocess, sys, time
        parent = b"x" * (150 * 2**20)  # touched pages: resident
        child = subprocess.Popen([sys.executable, "-c",
            "import time; b = b'x' * (250 * 2**20); time.sleep(3.0)"])
        child.wait()
        """
    )
    # The measuring process is large too (the runner holds TensorFlow): Linux carries the high-water mark
    # across exec, so a naive ru_maxrss of the command would report this process's size.
    ballast = b"z" * (400 * MIB)
    m = run_measured([sys.executable, "-c", code], interval=0.02)
    del ballast
    assert m.returncode == 0
    assert m.max_processes >= 2
    assert m.tree_peak_rss > 380 * MIB  # both at once (sampled)
    assert m.max_process_rss > 240 * MIB  # the child's exact high-water mark (from wait4)
    assert m.max_process_rss < 380 * MIB  # a single process, not the sum


def test_peak_memory_reports_failure():
    m = run_measured([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert m.returncode == 3
    assert "boom" in m.stderr_tail


def test_runner_lists_benchmarks():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert "speed" in out
    assert "benchmarks.bench_features" in out
