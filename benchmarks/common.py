"""Small pieces the speed, jobs, memory and load benchmarks share: videos to run on, CPU accounting, targets."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

__all__ = [
    "REPO",
    "Stopwatch",
    "cached_corpus_video",
    "featkit_cli",
    "featkit_env",
    "probe",
    "target",
    "tree_cpu_seconds",
]


def cached_corpus_video(video_id: str, *, fetch: bool = False) -> tuple[Path, dict[str, Any]] | None:
    """Path and manifest entry of a corpus video already in the cache (or fetched when ``fetch``).

    Without ``fetch`` nothing touches the network: ``None`` means the video is
    not cached (run ``python benchmarks/fetch_corpus.py``).
    """
    from benchmarks.fetch_corpus import corpus_dir, fetch_corpus

    if fetch:
        manifest = fetch_corpus(only=[video_id])
    else:
        try:
            manifest = json.loads((corpus_dir() / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
    meta = next((v for v in manifest.get("videos", []) if v.get("id") == video_id), None)
    if meta is None:
        return None
    path = corpus_dir() / meta["path"]
    if not path.is_file() or path.stat().st_size != meta.get("size", path.stat().st_size):
        return None
    return path, meta


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Codec, size, frame count, rate and duration of a video, as PyAV reads them."""
    import av

    with av.open(os.fspath(path)) as c:
        s = c.streams.video[0]
        duration = float(s.duration * s.time_base) if s.duration else float(c.duration or 0) / 1e6
        return {
            "codec": s.codec_context.name,
            "width": s.codec_context.width,
            "height": s.codec_context.height,
            "frames": int(s.frames) or None,  # 0: the container does not say
            "fps": float(s.average_rate) if s.average_rate else None,
            "duration_s": round(duration, 3),
        }


def tree_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process tree, reaped descendants included.

    The difference of two readings is the CPU the tree used in between,
    including decoding workers that started and exited in the meantime: a
    process reaped by its parent moves from the live sum into the parent's
    ``children_user``/``children_system`` with its whole total.
    """
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue  # a child that just exited (its parent's children_* will hold it once reaped)
        total += t.user + t.system + t.children_user + t.children_system
    return total


def target(name: str, value: float | None, op: str, goal: float, unit: str = "", note: str = "") -> dict[str, Any]:
    """One row of a result's ``targets``: a measured value, its goal and whether it was met."""
    met = None if value is None else (value >= goal if op == ">=" else value <= goal)
    return {"name": name, "value": value, "op": op, "target": goal, "unit": unit, "met": met, "note": note}


def featkit_env() -> dict[str, str]:
    """Environment for a ``python -m featkit`` child: this checkout first on the path, TF quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def featkit_cli() -> list[str]:
    """The command that runs this checkout's CLI."""
    return [sys.executable, "-m", "featkit"]


class Stopwatch:
    """Context manager measuring wall seconds and this process tree's CPU seconds."""

    def __enter__(self) -> Stopwatch:
        self.cpu0 = tree_cpu_seconds()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = tree_cpu_seconds() - self.cpu0


def parallel_ceiling(n_iter: int = 20_000_000) -> dict[str, float]:
    """How much faster two CPU-bound processes finish than one after the other, on this machine, now.

    Two copies of a pure-Python loop run at once against one alone (the mean of a run before and one
    after): ``ceiling = 2 * one_s / two_s`` is 2.0 on two free cores and less where the cores are shared
    (hyperthread siblings, other tenants). A speed-up from ``n_jobs=2`` is bounded by it, so benchmarks
    report the two side by side.
    """
    import subprocess

    code = f"s = 0\nfor i in range({int(n_iter)}):\n    s += i\n"

    def wall(copies: int) -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-I", "-c", code]) for _ in range(copies)]
        for proc in procs:
            proc.wait()
        return time.perf_counter() - t0

    before, two, after = wall(1), wall(2), wall(1)  # one alone on both sides, so a drift in load evens out
    one = 0.5 * (before + after)
    return {"one_s": round(one, 3), "two_s": round(two, 3), "ceiling": round(2 * one / two, 3)}


def stats_reduced_by_hand() -> tuple[str, ...]:
    """The default statistics less ``polarity``: what the pilots that reduce clips themselves compute.

    ``polarity`` needs the VAE's decoder on one frame per clip; those pilots study motion and tuning, which
    it says nothing of, and predate it.
    """
    from featkit.config import DEFAULT_STATS

    return tuple(s for s in DEFAULT_STATS if s != "polarity")
