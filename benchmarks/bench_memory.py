"""Peak memory of ``featkit extract`` on a 1-minute against a 60-minute video (both generated).

    python -m benchmarks.bench_memory [--minutes 1 60] [--repeats 1] [--jobs 1] [--quick] [--out DIR]

Each run is a fresh ``python -m featkit extract DIR -o OUT.h5 -q`` (default
settings) on a folder holding one synthetic 320x240, 10 fps H.264 video
(:mod:`benchmarks.synth`; the same content and encoder settings at every
length, so only the duration differs). The peak memory of the whole process
tree (decoding workers included) is measured by :mod:`benchmarks.peakmem`.

Targets: ``peak(60 min) / peak(1 min) <= 1.2`` (memory does not grow with the
video) and ``peak(60 min) <= 2 GiB``. ``--quick`` compares 10 s with 60 s.
Writes ``bench_memory.json`` (``_quick`` with ``--quick``), with each run's RSS timeline for the report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import featkit_cli, featkit_env, probe, target  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, file_record, run_and_write  # noqa: E402

NAME = "memory"
GIB = 2**30


def _label(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return the result record (without provenance)."""
    import time

    from benchmarks.peakmem import run_measured
    from benchmarks.synth import write_synthetic_video

    lengths = [10.0, 60.0] if args.quick else [60.0 * m for m in args.minutes]
    runs: list[dict[str, Any]] = []
    data = []
    with tempfile.TemporaryDirectory(prefix="featkit-bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        for seconds in lengths:
            folder = tmp / f"v{int(seconds)}s"
            t = time.perf_counter()
            video = write_synthetic_video(folder / "video.mp4", seconds, fps=10, width=320, height=240, seed=0)
            gen_s = time.perf_counter() - t
            data.append(
                file_record(video, id=f"synthetic_320x240_{int(seconds)}s", generate_s=round(gen_s, 1), **probe(video))
            )
            for r in range(args.repeats):
                cmd = [
                    *featkit_cli(),
                    "extract",
                    str(folder),
                    "-o",
                    str(tmp / f"out{int(seconds)}_{r}.h5"),
                    "-q",
                    "--overwrite",
                    "-j",
                    str(args.jobs),
                ]
                m = run_measured(cmd, env=featkit_env())
                if m.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)} exited {m.returncode}:\n{m.stderr_tail}")
                runs.append(
                    {
                        "seconds": seconds,
                        "repeat": r,
                        "wall_s": round(m.wall_s, 2),
                        "tree_peak_rss": m.tree_peak_rss,
                        "max_process_rss": m.max_process_rss,
                        "max_processes": m.max_processes,
                        "timeline": m.timeline,
                    }
                )

    def peak(seconds: float, key: str) -> float:
        return statistics.median(r[key] for r in runs if r["seconds"] == seconds)

    short, long = lengths[0], lengths[-1]
    ratio = round(peak(long, "tree_peak_rss") / peak(short, "tree_peak_rss"), 3)
    long_gib = round(peak(long, "tree_peak_rss") / GIB, 3)
    return {
        "config": {
            "command": "python -m featkit extract DIR -o OUT.h5 -q --overwrite -j N (default settings otherwise)",
            "jobs": args.jobs,
            "video": "benchmarks.synth: 320x240, 10 fps, libx264 ultrafast crf 30",
            "seconds": lengths,
            "repeats": args.repeats,
            "sample_interval_s": 0.05,
        },
        "data": data,
        "runs": runs,
        "peak_gib": {
            f"{int(s)}s": {
                "tree_peak_rss": round(peak(s, "tree_peak_rss") / GIB, 3),
                "max_process_rss": round(peak(s, "max_process_rss") / GIB, 3),
            }
            for s in lengths
        },
        "ratio_long_over_short": ratio,
        "ratio_max_process_rss": round(peak(long, "max_process_rss") / peak(short, "max_process_rss"), 3),
        "targets": [
            target(f"peak memory, {_label(long)} / {_label(short)} video", ratio, "<=", 1.2, "x"),
            target(f"peak memory, {_label(long)} video", long_gib, "<=", 2.0, "GiB"),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs=2, default=[1.0, 60.0], help="the two durations (1 60)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per duration (1)")
    ap.add_argument("--jobs", type=int, default=1, help="featkit extract -j (1)")
    ap.add_argument("--quick", action="store_true", help="10 s against 60 s (CI)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    args = ap.parse_args(argv)
    path, result = run_and_write(args, NAME, run)
    print(f"{path}: {result['peak_gib']} ratio {result['ratio_long_over_short']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
