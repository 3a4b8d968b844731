"""Run featkit's benchmarks, then write the report: ``python -m benchmarks``.

    python -m benchmarks [--quick] [--only NAME ...] [--out DIR] [--readme PATH | --no-readme]
    python -m benchmarks report [--out DIR] [--readme PATH | --no-readme]
    python -m benchmarks list

Each benchmark is a module with ``main(argv) -> int`` that takes ``--quick``
and a results folder (``--out DIR`` or ``--out-dir DIR``, as its ``--help``
lists) and writes ``bench_<name>.json`` there (``bench_<name>_quick.json``
with ``--quick``); they run one after another in this process,
and one that fails (or is not there yet) is recorded in ``runner.json`` with
the reason while the others go on. The exit code is 1 if any benchmark
failed. ``report`` regenerates ``REPORT.md``, its plots and the README's table
from the JSON already in ``DIR``, without running anything.

``--quick`` (what CI runs, through ``tests/integration/test_benchmarks.py``) uses small
generated data and no network, and writes ``bench_<name>_quick.json`` so it
never replaces a full result; its numbers are not to be reported, so it does
not touch the README unless ``--readme`` says so, and the README's table
never shows quick results. A full run into the default folder
(``benchmarks/results``), or ``report`` on it, regenerates the README's table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.provenance import RESULTS_DIR, result_filename  # noqa: E402

#: Benchmark name -> module, in the order they run (cheap and self-contained first).
BENCHMARKS: dict[str, str] = {
    "speed": "benchmarks.bench_speed",
    "jobs": "benchmarks.bench_jobs",
    "memory": "benchmarks.bench_memory",
    "load": "benchmarks.bench_load",
    "variants": "benchmarks.bench_variants",
    "vae": "benchmarks.bench_vae",
    "features": "benchmarks.bench_features",
    "anomaly": "benchmarks.bench_anomaly",
    "adapted": "benchmarks.bench_adapted",
}

README = REPO / "README.md"


def _out_option(module: Any) -> str | None:
    """The option by which a benchmark's ``main`` takes its results folder (``--out-dir`` or ``--out``), if any."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()):
        try:
            module.main(["--help"])
        except SystemExit:
            pass
    usage = text.getvalue()
    return next((opt for opt in ("--out-dir", "--out") if f"{opt} " in usage or f"{opt}\n" in usage), None)


def run_benchmark(name: str, out_dir: Path, *, quick: bool) -> dict[str, Any]:
    """Run one benchmark; return its status record (never raises for the benchmark's own failures)."""
    module_name = BENCHMARKS[name]
    t0 = time.perf_counter()
    record: dict[str, Any] = {"module": module_name, "quick": quick, "started": _now()}
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return {**record, "status": "not run", "message": f"{module_name} does not exist (yet)", "seconds": 0.0}
    argv = ["--quick"] if quick else []
    option = _out_option(module)
    if option is not None:
        argv += [option, str(out_dir)]
    elif out_dir.resolve() != RESULTS_DIR.resolve():
        message = f"{module_name} takes no --out/--out-dir option, so it cannot write into {out_dir}"
        return {**record, "status": "failed", "message": message, "seconds": 0.0}
    result = out_dir / result_filename(name, quick)
    before = result.stat().st_mtime_ns if result.exists() else None
    print(f"== {name}: {module_name} {' '.join(argv)}", flush=True)
    try:
        code = module.main(argv)
    except SystemExit as exc:  # argparse and scripts that exit
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001  one benchmark's failure is recorded; the others still run
        traceback.print_exc()
        return {
            **record,
            "status": "failed",
            "message": f"{type(exc).__name__}: {str(exc)[-2000:]}",  # the end of a message says most
            "seconds": round(time.perf_counter() - t0, 1),
        }
    seconds = round(time.perf_counter() - t0, 1)
    fresh = result.exists() and result.stat().st_mtime_ns != before
    if code not in (0, None):
        return {**record, "status": "failed", "message": f"main() returned {code}", "seconds": seconds}
    if not fresh:
        return {**record, "status": "failed", "message": f"{result.name} was not written", "seconds": seconds}
    return {**record, "status": "ok", "message": "", "seconds": seconds}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _update_runner_log(out_dir: Path, statuses: dict[str, dict[str, Any]]) -> None:
    path = out_dir / "runner.json"
    try:
        log = json.loads(path.read_text())
    except (OSError, ValueError):
        log = {"benchmarks": {}}
    log.setdefault("benchmarks", {}).update(statuses)
    log["updated"] = _now()
    path.write_text(json.dumps(log, indent=2) + "\n")


def _readme_target(args: argparse.Namespace, out_dir: Path, command: str) -> Path | None:
    """The README to regenerate: as told, else the repository's after a full run or a report of the default folder."""
    if args.no_readme:
        return None
    if args.readme:
        return Path(args.readme)
    default = out_dir.resolve() == RESULTS_DIR.resolve()
    return README if default and (command == "report" or not args.quick) else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "run"
    if argv and argv[0] in ("report", "list", "run"):
        command = argv.pop(0)
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small generated data, no network (CI)")
    ap.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME", help=f"of {list(BENCHMARKS)}")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    ap.add_argument("--readme", default=None, help="README whose table to regenerate (default: see above)")
    ap.add_argument("--no-readme", action="store_true", help="do not touch any README")
    args = ap.parse_args(argv)
    if command == "list":
        for name, module in BENCHMARKS.items():
            print(f"{name:10s} {module}")
        return 0
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from benchmarks import report

    failed = False
    if command == "run":
        statuses = {}
        for name in args.only or list(BENCHMARKS):
            statuses[name] = run_benchmark(name, out_dir, quick=args.quick)
            _update_runner_log(out_dir, {name: statuses[name]})
            print(
                f"== {name}: {statuses[name]['status']} ({statuses[name]['seconds']} s) {statuses[name]['message']}",
                flush=True,
            )
        failed = any(s["status"] == "failed" for s in statuses.values())
    results = report.load_results(out_dir)
    written = report.write_report(out_dir, results)
    print(f"report: {written}")
    readme = _readme_target(args, out_dir, command)
    if readme is not None:
        changed = report.update_readme(readme, results, out_dir)
        print(f"README table: {readme} {'updated' if changed else 'unchanged (no markers, or same table)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
