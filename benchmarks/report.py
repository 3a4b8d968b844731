"""The benchmark report: ``REPORT.md`` with PNG plots, and the README's results table, from the JSON results.

    python -m benchmarks report [--out DIR] [--readme PATH]

Reads every ``bench_<name>.json`` in the results folder (and ``runner.json``,
the runner's status log) and writes ``REPORT.md`` next to them: a summary of
every target with the measured value, one section per benchmark, and plots
(``targets.png``: each measure against its target; ``speed_times.png``;
``memory_timeline.png``; ``load_times.png``). A benchmark module may provide
``markdown_summary(result) -> str`` for its own section (the feature-quality
benchmark does); otherwise its targets and headline numbers are shown, with
any plots it lists under ``"plots"`` (paths relative to the results folder).

The README's table is the part between ``<!-- benchmarks:start -->`` and
``<!-- benchmarks:end -->``; it is replaced, nothing else is touched.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["README_END", "README_START", "load_results", "readme_table", "update_readme", "write_report"]

README_START = "<!-- benchmarks:start -->"
README_END = "<!-- benchmarks:end -->"

#: Section order and titles; benchmarks not listed follow in name order.
TITLES: dict[str, str] = {
    "speed": "Extraction speed: featkit against the decode limit and a naive OpenCV pipeline",
    "jobs": "Parallel extraction: n_jobs=2 against n_jobs=1",
    "memory": "Peak memory: 1-minute against 60-minute video",
    "load": "Loading 1 M clips x 256 features into NumPy",
    "features": "Feature quality: VAE features against raw pixels",
    "variants": "Encoder variants (float16, int8)",
    "vae": "VAE reconstruction, completion and anomaly scores",
}
GIB = 2**30


# -- reading -------------------------------------------------------------------------------------------------


def load_results(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every benchmark result of a results folder, by name (unreadable files are skipped).

    ``bench_<name>.json`` (a full run) is preferred to ``bench_<name>_quick.json``.
    """
    results: dict[str, dict[str, Any]] = {}
    # Quick files first, so a full result of the same name replaces them.
    paths = sorted(Path(out_dir).glob("bench_*.json"), key=lambda p: (not p.stem.endswith("_quick"), p.name))
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            name = path.stem[len("bench_") :].removesuffix("_quick")
            results[name] = {**data, "quick": data.get("quick", path.stem.endswith("_quick"))}
    return results


def _runner_log(out_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((out_dir / "runner.json").read_text()).get("benchmarks", {})
    except (OSError, ValueError):
        return {}


def _order(results: dict[str, Any]) -> list[str]:
    known = [n for n in TITLES if n in results]
    return known + sorted(n for n in results if n not in TITLES)


def _feature_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Target rows of the feature-quality benchmark (its JSON states them per task, as differences in accuracy)."""
    rows = []
    for task, ev in (result.get("evaluations") or {}).items():
        t = ev.get("target") or {}
        for key, budget, goal in (("delta_at_10", "10 labels/class", 10.0), ("delta_at_all", "all labels", 0.0)):
            if t.get(key) is None:
                continue
            value = round(100 * t[key], 1)
            rows.append(
                {
                    "name": f"{task}: VAE − pixels accuracy, {budget}",
                    "value": value,
                    "op": ">=",
                    "target": goal,
                    "unit": "points",
                    "met": value >= goal,
                }
            )
    return rows


def all_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target row of every result, with its benchmark name added.

    A result lists its rows under ``targets`` (``name, value, op, target,
    unit, met``); the feature-quality benchmark's are derived from its
    per-task ``evaluations``.
    """
    rows = []
    for name in _order(results):
        r = results[name]
        found = r.get("targets") if isinstance(r.get("targets"), list) else _feature_targets(r)
        for t in found or []:
            if isinstance(t, dict) and "name" in t and "op" in t:
                rows.append({"benchmark": name, **t})
    return rows


# -- formatting ----------------------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit and unit != "x" else (f"{text}x" if unit == "x" else text)


def _met(t: dict[str, Any]) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[t.get("met")]


def _op(op: str) -> str:
    return {">=": "≥", "<=": "≤"}.get(op, op)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _timing_rows(timings: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, t in timings.items():
        if isinstance(t, dict) and "median" in t:
            rows.append([key, f"{t['median']:.3f}", f"{t['min']:.3f}", ", ".join(f"{x:.3f}" for x in t["all"])])
    return rows


def _machine_line(result: dict[str, Any]) -> str:
    m = result.get("machine", {})
    load = m.get("loadavg_1_5_15")
    end = m.get("loadavg_at_end")
    cpu = m.get("cpu_model") or m.get("processor") or "?"
    cores = m.get("usable_cores") or m.get("affinity") or m.get("cpu_count") or m.get("logical_cores") or "?"
    text = f"{cpu}, {cores} usable cores" + (f", {m['ram_gib']} GiB RAM" if "ram_gib" in m else "")
    text += f", Python {m.get('python', '?')}"
    if load:
        text += f"; load average {load[0]} at the start" + (f", {end[0]} at the end" if end else "")
    return text


def _data_lines(result: dict[str, Any]) -> str:
    lines = []
    for d in result.get("data", []) or []:
        if not isinstance(d, dict):
            continue
        desc = ", ".join(
            f"{k} {d[k]}" for k in ("codec", "width", "height", "fps", "duration_s", "frames", "clips") if k in d
        )
        sha = d.get("sha256", d.get("checksum", ""))
        lines.append(f"- `{d.get('id', d.get('name', '?'))}`: {desc}" + (f"; sha256 `{sha[:16]}…`" if sha else ""))
    return "\n".join(lines)


# -- plots ---------------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_targets(targets: list[dict[str, Any]], path: Path) -> Path | None:
    """Horizontal bars: each measure as a multiple of its target (right of 1 = met).

    Only measures whose value and target are both positive (ratios, times,
    sizes) are drawn: a multiple of a target such as "difference >= 0" means
    nothing. The tables list every target.
    """
    rows = [
        t
        for t in targets
        if isinstance(t.get("value"), (int, float))
        and isinstance(t.get("target"), (int, float))
        and t["value"] > 0
        and t["target"] > 0
    ]
    if not rows:
        return None
    plt = _pyplot()
    scores = [
        (t["value"] / t["target"]) if t["op"] == ">=" else (t["target"] / t["value"] if t["value"] else float("inf"))
        for t in rows
    ]
    labels = [
        f"{t['name']}\n{_fmt(t['value'], t.get('unit', ''))} (target {_op(t['op'])} "
        f"{_fmt(t['target'], t.get('unit', ''))})"
        for t in rows
    ]
    fig, ax = plt.subplots(figsize=(9, 0.75 * len(rows) + 1.2))
    y = range(len(rows))
    cap = 4.0  # longer bars carry no more information; their value is written on them
    ax.barh(y, [min(s, cap) for s in scores], color=["#2a9d8f" if t.get("met") else "#e76f51" for t in rows])
    for i, s in enumerate(scores):
        ax.text(min(s, cap), i, f" {s:.2f}", va="center", fontsize=8)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlim(0, cap * 1.12)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("measured / target (≥ 1: met; lower-is-better measures inverted)")
    ax.set_title("featkit benchmarks against their targets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_speed(result: dict[str, Any], path: Path) -> Path | None:
    """Seconds for the same sampled frames: decode only, featkit, naive OpenCV (read + encode stacked)."""
    t = result.get("timings_s", {})
    if not all(k in t for k in ("decode_only", "featkit", "naive")):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = ["decode only\n(featkit's reader)", "featkit extract\n(end to end)", "naive OpenCV\n+ per-frame Keras"]
    vals = [t["decode_only"]["median"], t["featkit"]["median"], t["naive"]["median"]]
    ax.bar(names[:2], vals[:2], color=["#8d99ae", "#2a9d8f"])
    parts = result.get("naive_parts_s", {})
    if "read_s" in parts and "encode_s" in parts:
        read, enc = parts["read_s"]["median"], parts["encode_s"]["median"]
        ax.bar(names[2], read, color="#e9c46a", label="OpenCV read + resize")
        ax.bar(names[2], enc, bottom=read, color="#e76f51", label="model(x[None]) per frame")
        ax.legend(fontsize=8)
    else:
        ax.bar(names[2], vals[2], color="#e76f51")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f} s", ha="center", va="bottom", fontsize=9)
    video = (result.get("data") or [{}])[0].get("id", "?")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"Same {result.get('sampled_frames', '?')} sampled frames of {video}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_memory(result: dict[str, Any], path: Path) -> Path | None:
    """Process-tree RSS over time for each video length."""
    runs = [r for r in result.get("runs", []) if r.get("timeline")]
    if not runs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for r in runs:
        if r.get("repeat", 0) != 0:
            continue
        ts, rss = zip(*r["timeline"], strict=True)
        label = f"{r['seconds'] / 60:g} min video" if r["seconds"] >= 60 else f"{r['seconds']:g} s video"
        ax.plot(ts, [x / GIB for x in rss], label=f"{label} (peak {r['tree_peak_rss'] / GIB:.2f} GiB)")
    ax.set_xlabel("seconds since start (Python and TensorFlow start-up included)")
    ax.set_ylabel("RSS of the process tree (GiB)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("featkit extract: memory over time", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_load(result: dict[str, Any], path: Path) -> Path | None:
    """Seconds to load the feature matrix, by reader."""
    t = result.get("timings_s", {})
    if "load_features" not in t:
        return None
    plt = _pyplot()
    labels = {
        "load_features": "load_features\n(as written)",
        "h5py_features_only": "h5py /features\nonly",
        "load_features_if_uncompressed": "load_features,\n/features uncompressed",
        "npy_same_bytes": "np.load of\nthe same bytes",
    }
    keys = [k for k in labels if k in t]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    vals = [t[k]["median"] for k in keys]
    ax.bar([labels[k] for k in keys], vals, color=["#2a9d8f", "#8d99ae", "#e9c46a", "#adb5bd"][: len(keys)])
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f} s", ha="center", va="bottom", fontsize=9)
    ax.axhline(2.0, color="black", linestyle="--", linewidth=1, label="target 2 s")
    ax.legend(fontsize=8)
    ax.set_ylabel("seconds (median, warm page cache)")
    cfg = result.get("config", {})
    ax.set_title(f"{cfg.get('clips', '?'):,} clips x {cfg.get('features', '?')} float32 features", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- sections ------------------------------------------------------------------------------------------------


def _targets_md(result: dict[str, Any]) -> str:
    targets = result.get("targets", []) or []
    noted = any(t.get("note") for t in targets)  # a note column only where a benchmark writes notes
    rows = [
        [
            t["name"],
            _fmt(t.get("value"), t.get("unit", "")),
            f"{_op(t['op'])} {_fmt(t['target'], t.get('unit', ''))}",
            _met(t),
            *([t.get("note", "")] if noted else []),
        ]
        for t in targets
    ]
    header = ["measure", "value", "target", "met", *(["note"] if noted else [])]
    return _table(header, rows) if rows else ""


def _section_speed(r: dict[str, Any], plots: dict[str, str]) -> str:
    ratios, thr, agree = r.get("ratios", {}), r.get("throughput", {}), r.get("naive_agreement", {})
    parts = [
        _targets_md(r),
        "",
        f"Video:\n{_data_lines(r)}\n",
        f"{r.get('sampled_frames')} sampled frames in {r.get('clips')} clips "
        f"(sampling {json.dumps(r.get('config', {}).get('sampling'))}); median of {r.get('config', {}).get('repeats')} "
        "repeats; in each repeat decode-only, featkit and the naive pipeline run one after another.",
        "",
        _table(["seconds", "median", "min", "all"], _timing_rows(r.get("timings_s", {}))),
        "",
        f"- decode-only / featkit: **{ratios.get('decode_over_featkit')}**; naive / featkit: "
        f"**{ratios.get('naive_over_featkit')}** (wall time)",
        f"- the same ratios in CPU seconds of the process tree (less sensitive to other jobs on the machine): "
        f"{r.get('cpu_ratios', {}).get('decode_over_featkit')} and {r.get('cpu_ratios', {}).get('naive_over_featkit')}",
        f"- featkit: {thr.get('featkit_sampled_frames_per_s')} sampled frames/s, "
        f"{thr.get('featkit_realtime_factor')}x real time; encoder alone {thr.get('encoder_frames_per_s')} frames/s; "
        f"naive: {thr.get('naive_sampled_frames_per_s')} frames/s",
        "- naive pipeline split: "
        + ", ".join(f"{k} {v['median']:.3f} s" for k, v in r.get("naive_parts_s", {}).items()),
        f"- the naive pipeline computes the same features: correlation {agree.get('corr_with_featkit')} with "
        f"featkit's, mean absolute difference {agree.get('mean_abs_diff_over_mean_abs')} of the mean magnitude "
        "(OpenCV and decord convert colours and scale differently)",
        "- CPU seconds (process tree): " + ", ".join(f"{k} {v['median']:.2f}" for k, v in r.get("cpu_s", {}).items()),
    ]
    if r.get("cold_cli_extract_s") is not None:
        parts.append(
            f"- one cold `python -m featkit extract` of this video (interpreter, TensorFlow import, model load "
            f"included): {r['cold_cli_extract_s']} s"
        )
    parts.append(f"\nNaive pipeline: {r.get('config', {}).get('naive', '')} (see `benchmarks/naive.py`).")
    if "speed" in plots:
        parts.append(f"\n![speed]({plots['speed']})")
    return "\n".join(parts)


def _section_jobs(r: dict[str, Any], plots: dict[str, str]) -> str:
    t, busy = r.get("timings_s", {}), r.get("cores_busy", {})
    lines = [
        _targets_md(r),
        "",
        f"{r.get('videos')} videos, {r.get('clips')} clips:\n{_data_lines(r)}\n",
        _table(["seconds", "median", "min", "all"], _timing_rows(t)),
        "",
        f"- speed-up: **{r.get('speedup')}x**; cores kept busy (CPU seconds / wall seconds): {busy}",
        f"- first (cold) run, decoding workers starting: {r.get('cold_run_s')}",
        "- decoding runs in worker processes while the encoder runs in the main process, so `n_jobs=1` already "
        "overlaps decoding and encoding; `n_jobs=2` adds a second decoder.",
    ]
    ceiling = r.get("parallel_ceiling", {}).get("median")
    if ceiling is not None:
        lines.append(
            f"- the machine's own ceiling in the same run (two CPU-bound processes at once against one alone): "
            f"**{ceiling}x**, so the speed-up is {r.get('speedup_over_ceiling')} of what two processes can gain here"
        )
    if "n_jobs=1" in t and "n_jobs=2" in t:
        best = t["n_jobs=1"]["min"] / t["n_jobs=2"]["min"]
        lines.append(f"- best-of speed-up (fastest n_jobs=1 run / fastest n_jobs=2 run): {best:.2f}x")
    work = r.get("work_ceiling")
    if work is not None:
        lines.append(
            f"- the ceiling of this work: `n_jobs=1` already keeps {busy.get('n_jobs=1')} cores busy, so spreading "
            f"its CPU seconds over the machine's ceiling gives at most **{work}x**; the speed-up is "
            f"{r.get('speedup_over_work_ceiling')} of that"
        )
    return "\n".join(lines)


def _section_memory(r: dict[str, Any], plots: dict[str, str]) -> str:
    rows = [[k, v["tree_peak_rss"], v["max_process_rss"]] for k, v in (r.get("peak_gib") or {}).items()]
    parts = [
        _targets_md(r),
        "",
        f"Command: `{r.get('config', {}).get('command')}`; videos: {r.get('config', {}).get('video')}.\n",
        _data_lines(r),
        "",
        _table(["video", "peak RSS, process tree (GiB)", "largest single process (GiB)"], rows),
        "",
        "Tree RSS is sampled every 50 ms and sums resident memory over the process and its workers (shared "
        "pages counted once per process: an upper bound); the single-process figure is the kernel's exact "
        "high-water mark.",
    ]
    if "memory" in plots:
        parts.append(f"\n![memory]({plots['memory']})")
    return "\n".join(parts)


def _section_load(r: dict[str, Any], plots: dict[str, str]) -> str:
    cfg, made = r.get("config", {}), (r.get("data") or [{}])[0]
    parts = [
        _targets_md(r),
        "",
        f"A feature file made by featkit's store ({made.get('videos')} videos, {made.get('clips')} clips x "
        f"{made.get('features')} features, {made.get('file_bytes', 0) / 2**20:.0f} MiB; /features chunks "
        f"{r.get('layout', {}).get('chunks')}, {r.get('layout', {}).get('compression')} level "
        f"{r.get('layout', {}).get('compression_opts')}, shuffle {r.get('layout', {}).get('shuffle')}); "
        f"page cache {cfg.get('page_cache')}.",
        "",
        _table(["seconds", "median", "min", "all"], _timing_rows(r.get("timings_s", {}))),
        "",
        f"- {r.get('array_gib')} GiB at {r.get('load_gib_per_s')} GiB/s; gzip saves {r.get('gzip_saves')} of the "
        "bytes on these values",
    ]
    if "load" in plots:
        parts.append(f"\n![load]({plots['load']})")
    return "\n".join(parts)


def _section_generic(name: str, r: dict[str, Any], out_dir: Path) -> str:
    module = {"features": "bench_features", "variants": "bench_variants", "vae": "bench_vae"}.get(name, f"bench_{name}")
    try:
        summary = getattr(importlib.import_module(f"benchmarks.{module}"), "markdown_summary", None)
    except ImportError:
        summary = None
    parts = []
    if summary is not None:
        try:
            parts.append(summary(r))
        except Exception as exc:  # noqa: BLE001  a broken summary must not lose the rest of the report
            parts.append(f"(markdown_summary of benchmarks.{module} failed: {type(exc).__name__}: {exc})")
    else:
        parts.append(_targets_md(r))
        scalars = [[k, v] for k, v in r.items() if isinstance(v, (int, float, str)) and k not in ("benchmark",)]
        if scalars:
            parts.append(_table(["field", "value"], scalars))
    listed = r.get("plots") or []
    embedded = "\n".join(parts)
    for p in listed if isinstance(listed, list) else []:
        rel = os.path.relpath(Path(out_dir, p), out_dir) if not os.path.isabs(p) else os.path.relpath(p, out_dir)
        if rel not in embedded:
            parts.append(f"![{Path(p).stem}]({rel})")
    return "\n\n".join(p for p in parts if p)


SECTIONS = {"speed": _section_speed, "jobs": _section_jobs, "memory": _section_memory, "load": _section_load}


# -- the report ----------------------------------------------------------------------------------------------


def write_report(out_dir: str | os.PathLike[str], results: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write ``REPORT.md`` and its plots into the results folder; return the report's path."""
    out_dir = Path(out_dir)
    results = load_results(out_dir) if results is None else results
    runner = _runner_log(out_dir)
    plots: dict[str, str] = {}
    makers = {
        "targets": (plot_targets, all_targets(results), "targets.png"),
        "speed": (plot_speed, results.get("speed"), "speed_times.png"),
        "memory": (plot_memory, results.get("memory"), "memory_timeline.png"),
        "load": (plot_load, results.get("load"), "load_times.png"),
    }
    for key, (fn, data, filename) in makers.items():
        if data and fn(data, out_dir / filename) is not None:
            plots[key] = filename
    quick = sorted(n for n, r in results.items() if r.get("quick"))
    lines = [
        "# featkit benchmarks",
        "",
        f"Generated by `python -m benchmarks report` on {_dt.date.today().isoformat()} from the JSON files in "
        "this folder (each records the machine, package versions, data hashes, configuration and raw timings). "
        "Rerun everything with `python -m benchmarks`.",
        "",
    ]
    if quick:
        lines += [
            f"> **Quick-mode results** ({', '.join(quick)}): small generated data for CI; not to be reported.",
            "",
        ]
    first = next(iter(results.values()), {})
    if first:
        lines += [
            f"Machine: {_machine_line(first)}. The machine is shared: other jobs used the same cores while "
            "these ran, and the load averages in each section say how much.",
            "",
        ]
    lines += ["## Summary", ""]
    rows = [
        [
            t["benchmark"],
            t["name"],
            _fmt(t.get("value"), t.get("unit", "")),
            f"{_op(t['op'])} {_fmt(t['target'], t.get('unit', ''))}",
            _met(t),
        ]
        for t in all_targets(results)
    ]
    lines += [_table(["benchmark", "measure", "value", "target", "met"], rows) if rows else "(no targets)", ""]
    if "targets" in plots:
        lines += [f"![targets]({plots['targets']})", ""]
    if runner:
        lines += ["### Runs", ""]
        lines += [
            _table(
                ["benchmark", "status", "seconds", "quick", "note"],
                [
                    [n, s.get("status"), s.get("seconds"), s.get("quick"), s.get("message", "")[:200]]
                    for n, s in runner.items()
                ],
            ),
            "",
        ]
    for name in _order(results):
        r = results[name]
        lines += [f"## {TITLES.get(name, name)}", ""]
        suffix = "_quick" if r.get("quick") else ""
        lines += [f"`bench_{name}{suffix}.json`, {r.get('created', '?')}; {_machine_line(r)}.", ""]
        body = SECTIONS[name](r, plots) if name in SECTIONS else _section_generic(name, r, out_dir)
        lines += [body, ""]
    not_run = [n for n, s in runner.items() if n not in results]
    if not_run:
        lines += (
            ["## Not run", ""]
            + [f"- {n}: {runner[n].get('status')} {runner[n].get('message', '')}" for n in not_run]
            + [""]
        )
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


def readme_table(results: dict[str, dict[str, Any]], report_link: str = "benchmarks/results/REPORT.md") -> str:
    """The Markdown put between the README's markers (full-run results only: quick ones are not reported)."""
    results = {n: r for n, r in results.items() if not r.get("quick")}
    rows = [
        [
            t["benchmark"],
            t["name"],
            f"**{_fmt(t.get('value'), t.get('unit', ''))}**",
            f"{_op(t['op'])} {_fmt(t['target'], t.get('unit', ''))}",
            _met(t),
        ]
        for t in all_targets(results)
    ]
    first = next(iter(results.values()), {})
    m = first.get("machine", {})
    dates = sorted(r.get("created", "")[:10] for r in results.values() if r.get("created"))
    head = (
        f"Measured by `python -m benchmarks` ({dates[0] if dates else '?'}"
        f"{' to ' + dates[-1] if dates and dates[-1] != dates[0] else ''}) on {m.get('cpu_model', '?')}, "
        f"{m.get('usable_cores', '?')} cores shared with other jobs; full report with plots, raw timings, "
        f"machine and versions: [{report_link}]({report_link})."
    )
    table = _table(["benchmark", "measure", "result", "target", "met"], rows) if rows else "(no results yet)"
    return f"{head}\n\n{table}"


def update_readme(
    readme: str | os.PathLike[str], results: dict[str, dict[str, Any]], out_dir: str | os.PathLike[str] | None = None
) -> bool:
    """Replace the README's text between the markers with :func:`readme_table`; return whether it changed.

    A README without both markers (start before end) is left alone.
    """
    path = Path(readme)
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    link = "benchmarks/results/REPORT.md"
    if out_dir is not None:
        link = os.path.relpath(Path(out_dir, "REPORT.md"), path.parent).replace(os.sep, "/")
    new = text[: start + len(README_START)] + "\n" + readme_table(results, link) + "\n" + text[end:]
    if new == text:
        return False
    path.write_text(new)
    return True
