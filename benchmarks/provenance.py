"""What every benchmark result records next to its numbers: machine, versions, data hashes, timings.

A result file is one JSON object::

    {"benchmark": NAME, "quick": bool, "created": ISO time, "machine": {...},
     "versions": {...}, "config": {...}, "data": [...], ...the benchmark's own fields...}

``machine`` names the CPU model, its logical cores, the cores this process
may use, RAM and the load average when the run started (the build machines
are shared, so the load says how contended the numbers were).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PACKAGES",
    "RESULTS_DIR",
    "file_record",
    "machine_info",
    "package_versions",
    "result_filename",
    "summarize",
    "write_result",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Where ``python -m benchmarks`` writes results unless told otherwise."""

DEFAULT_PACKAGES = (
    "featkit",
    "numpy",
    "tensorflow",
    "keras",
    "decord2",
    "h5py",
    "av",
    "opencv-python-headless",
    "scikit-learn",
    "joblib",
    "psutil",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the current load average."""
    from featkit.encoders.lite import usable_cpus

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cpus(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import psutil

        info["ram_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return info


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed distribution versions (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def file_record(path: str | os.PathLike[str], **extra: Any) -> dict[str, Any]:
    """Name, size and sha256 of a data file, plus any descriptive fields given."""
    p = Path(path).resolve()
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"name": p.name, "size": p.stat().st_size, "sha256": digest.hexdigest(), **extra}


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    """Median, minimum and every raw value of repeated timings (seconds, rounded to ms)."""
    return {
        "median": round(statistics.median(seconds), 4),
        "min": round(min(seconds), 4),
        "all": [round(s, 4) for s in seconds],
    }


def result_filename(name: str, quick: bool) -> str:
    """``bench_<name>.json``, or ``bench_<name>_quick.json`` for a quick run (so it never replaces a full one)."""
    return f"bench_{name}{'_quick' if quick else ''}.json"


def run_and_write(args: Any, name: str, run: Any) -> tuple[Path, dict[str, Any]]:
    """Run ``run(args)`` and write its result with the machine state taken before it started.

    The shared tail of every benchmark's ``main``: ``args`` needs ``out`` and ``quick``.
    """
    machine = machine_info()
    result = run(args)
    return write_result(args.out, name, result, quick=args.quick, machine=machine), result


def write_result(
    out_dir: str | os.PathLike[str],
    name: str,
    result: dict[str, Any],
    *,
    quick: bool,
    machine: dict[str, Any] | None = None,
) -> Path:
    """Write ``bench_<name>[_quick].json`` with provenance added; return its path.

    Parameters
    ----------
    out_dir : path-like
        Results folder.
    name : str
        Benchmark name (the file is ``bench_<name>.json``).
    result : dict
        The benchmark's own fields (config, data, timings, ratios).
    quick : bool
        Whether this was a ``--quick`` run (not a number to report).
    machine : dict, optional
        :func:`machine_info` taken when the run started; the load average at
        the end is added to it.

    """
    machine = dict(machine or machine_info())
    if hasattr(os, "getloadavg"):
        machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    record = {
        "benchmark": name,
        "quick": bool(quick),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": package_versions(),
        **result,
    }
    path = Path(out_dir) / result_filename(name, quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"Not JSON serialisable: {type(value).__name__}")
