"""Encoder variants: speed, feature drift and downstream accuracy of float16 and int8 against float32, in one run.

    python -m benchmarks.bench_variants [--quick] [--frames N] [--repeats R] [--no-corpus] [--out DIR]

* **Speed**: frames per second of ``encoder.encode`` on the same real decoded frames
  (64x64, fixed batches of 64), for the float32 Keras encoder, its float16 and int8
  TensorFlow Lite variants, and a float32 TensorFlow Lite conversion (``tflite_float32``,
  to tell the runtime's share from the precision's). Each repeat walks the frames in
  chunks of 256 and encodes every chunk with every encoder in turn, so load from other
  jobs on a shared machine hits all alike; the speed ratio is the median over repeats of
  ``float32 time / variant time``. CPU time of the process (all threads) is reported
  too: it measures the work, which contention barely changes.
* **Drift**: max and mean absolute difference of μ (and log σ²) per frame against
  float32, also relative to the standard deviation of float32's μ; and of the stored
  clip features after a full ``featkit extract``.
* **Downstream**: each labelled task is extracted with each precision (``featkit.extract``,
  default sampling and statistics); the same standardised logistic regression is
  cross-validated on the same grouped folds (``StratifiedGroupKFold``, 5 folds, seed 0);
  balanced accuracy per precision, its change against float32, and how often the
  predicted label agrees with float32's.

Tasks: ``synthetic`` (moving patterns written by ``tests/videofactory.py``, always) and,
unless ``--quick`` or ``--no-corpus``, ``camera_motion`` (motion axis of a virtual camera
over real corpus footage) and ``real_source`` (which film a 2-s clip comes from) from
:mod:`benchmarks.datasets`, when the corpus is cached (nothing is downloaded here).
Variants are converted into a fresh temporary cache, so the conversion time is measured
and the user's cache is untouched. Writes ``bench_variants.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import target  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, package_versions, run_and_write  # noqa: E402

NAME = "variants"
PRECISIONS = ("float32", "float16", "int8")
ENCODERS = ("float32", "tflite_float32", "float16", "int8")


# --------------------------------------------------------------------------- encoders


def load_encoders(cache: Path, batch_size: int = 64) -> tuple[dict[str, Any], dict[str, Any]]:
    """The float32 default, its float16 and int8 variants and a float32 TFLite reference, with conversion facts."""
    import tensorflow as tf

    from featkit.encoders import load_encoder
    from featkit.encoders.export import write_saved_model
    from featkit.encoders.variants import TFLiteEncoder, make_variant

    t0 = time.perf_counter()
    base = load_encoder("default", batch_size=batch_size)
    info: dict[str, Any] = {"load_float32_s": round(time.perf_counter() - t0, 2)}
    encoders: dict[str, Any] = {"float32": base}
    for precision in ("float16", "int8"):
        t0 = time.perf_counter()
        encoders[precision] = make_variant(base, precision, cache_dir=cache)
        info[f"convert_{precision}_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        make_variant(base, precision, cache_dir=cache)
        info[f"load_cached_{precision}_s"] = round(time.perf_counter() - t0, 2)
    with tempfile.TemporaryDirectory() as tmp:
        write_saved_model(base, Path(tmp) / "sm")
        data = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm")).convert()
    # Reference only: the float32 graph in the TFLite runtime (identity() is not used here).
    encoders["tflite_float32"] = TFLiteEncoder(data, base=base, precision="float32")
    info["model_bytes"] = {k: len(v.model_bytes) for k, v in encoders.items() if hasattr(v, "model_bytes")}
    info["runtime"] = encoders["int8"].runtime
    info["num_threads"] = encoders["int8"].num_threads
    info["identity"] = {p: encoders[p].identity() for p in PRECISIONS}
    return encoders, info


# --------------------------------------------------------------------------- data


def synthetic_task(root: Path, per_class: int, n_frames: int = 32) -> dict[str, Any]:
    """Three classes of moving patterns (square, stripes, rotating bar), ``per_class`` videos each."""
    from tests import videofactory as vf

    kinds = {"square": "moving_square", "stripes": "stripes", "bar": "rotating_bar"}
    motions = [(3, 2), (2, -3), (-2, 2), (-3, -2), (1, 3), (-1, -3), (3, -1), (-3, 1)]
    spec = {
        label: [
            vf.ClipSpec(f"v{i}", kind, seed=10 * c + i, motion=motions[i % len(motions)], n_frames=n_frames, fps=16)
            for i in range(per_class)
        ]
        for c, (label, kind) in enumerate(kinds.items())
    }
    vf.make_corpus(root, spec)
    rows = [
        {"path": f"{label}/v{i}.mp4", "label": label, "group": f"{label}/v{i}"}
        for label in spec
        for i in range(per_class)
    ]
    return {"name": "synthetic", "root": root, "rows": rows, "label": "label", "notes": []}


def corpus_tasks() -> tuple[list[dict[str, Any]], list[str]]:
    """``camera_motion`` and ``real_source`` from the cached corpus (never downloads)."""
    from benchmarks import datasets

    tasks, notes = [], []
    builders = [
        ("camera_motion", lambda: datasets.build_camera_motion(per_class=18, download=False, tasks="tasks_variants")),
        ("real_source", lambda: datasets.build_real_source(per_class=16, download=False, tasks="tasks_variants")),
    ]
    for name, build in builders:
        try:
            task = build()
        except datasets.DataUnavailable as exc:
            notes.append(f"{name}: skipped ({exc})")
            continue
        label = "axis" if "axis" in task.label_columns else "label"
        tasks.append({"name": name, "root": task.root, "rows": task.rows, "label": label, "notes": list(task.notes)})
    return tasks, notes


def sample_frames(paths: list[Path], n: int, size: int = 64) -> np.ndarray:
    """Up to ``n`` decoded frames, taken evenly from the videos in order."""
    from featkit.io.video import DecordReader

    per_video = max(1, -(-n // max(1, len(paths))))
    chunks = []
    for path in paths:
        reader = DecordReader(path, size)
        count = reader.info.n_frames
        chunks.append(reader.read(np.unique(np.linspace(0, count - 1, min(per_video, count)).astype(int))))
        if sum(len(c) for c in chunks) >= n:
            break
    frames = np.concatenate(chunks)[:n]
    reps = -(-n // len(frames))
    return np.concatenate([frames] * reps)[:n]


# --------------------------------------------------------------------------- measures


def measure_speed(encoders: dict[str, Any], frames: np.ndarray, repeats: int, chunk: int = 256) -> dict[str, Any]:
    """Wall and CPU time of encode() on the same frames, finely interleaved across encoders.

    Each repeat walks the frames in chunks of ``chunk``; every chunk is encoded by every
    encoder in turn (the order rotating), so load from other jobs on a shared machine
    spreads over all encoders alike. CPU time (``time.process_time``: every thread of this
    process) measures the work itself, which contention barely changes.
    """
    for enc in encoders.values():
        enc.encode(frames[:64])  # warm-up: trace graphs, allocate buffers
    keys = list(encoders)
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(repeats):
        w, c = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0.0)
        for i, lo in enumerate(range(0, len(frames), chunk)):
            shift = (r + i) % len(keys)
            for key in keys[shift:] + keys[:shift]:
                t0, c0 = time.perf_counter(), time.process_time()
                encoders[key].encode(frames[lo : lo + chunk])
                w[key] += time.perf_counter() - t0
                c[key] += time.process_time() - c0
        for key in keys:
            wall[key].append(w[key])
            cpu[key].append(c[key])
    n = len(frames)
    out: dict[str, Any] = {"n_frames": n, "repeats": repeats, "chunk": chunk, "encoders": {}}
    for key in keys:
        fps = [n / s for s in wall[key]]
        ratios = [b / a for a, b in zip(wall[key], wall["float32"], strict=True)]
        cpu_ratios = [b / a for a, b in zip(cpu[key], cpu["float32"], strict=True)]
        out["encoders"][key] = {
            "fps_median": round(float(np.median(fps)), 1),
            "fps_all": [round(f, 1) for f in fps],
            "speed_ratio_vs_float32": round(float(np.median(ratios)), 3),
            "cpu_ms_per_frame": round(1000 * float(np.median(cpu[key])) / n, 4),
            "cpu_speed_ratio_vs_float32": round(float(np.median(cpu_ratios)), 3),
        }
    return out


def measure_drift(encoders: dict[str, Any], frames: np.ndarray) -> dict[str, Any]:
    """Per-frame μ and log σ² differences against float32."""
    mu32, lv32 = encoders["float32"].encode(frames)
    spread = float(np.std(mu32))
    out: dict[str, Any] = {"mu_std_float32": round(spread, 4)}
    for key in ("tflite_float32", "float16", "int8"):
        mu, lv = encoders[key].encode(frames)
        d_mu, d_lv = np.abs(mu - mu32), np.abs(lv - lv32)
        out[key] = {
            "mu_max_abs_diff": float(d_mu.max()),
            "mu_mean_abs_diff": float(d_mu.mean()),
            "mu_max_rel_to_std": float(d_mu.max() / spread),
            "mu_mean_rel_to_std": float(d_mu.mean() / spread),
            "logvar_max_abs_diff": float(d_lv.max()),
            "logvar_mean_abs_diff": float(d_lv.mean()),
        }
    return out


def evaluate_task(task: dict[str, Any], encoders: dict[str, Any], workdir: Path, seed: int = 0) -> dict[str, Any]:
    """Extract the task at each precision; the same grouped CV logistic regression on each."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from featkit import ExtractionConfig
    from featkit.extraction import extract
    from featkit.sklearn import load_features, load_videos

    group_of = {r["path"]: str(r["group"]) for r in task["rows"]}
    label_of = {r["path"]: str(r[task["label"]]) for r in task["rows"]}
    out: dict[str, Any] = {"name": task["name"], "label": task["label"], "notes": task["notes"], "precisions": {}}
    features, predictions = {}, {}
    for precision in PRECISIONS:
        h5 = workdir / f"{task['name']}_{precision}.h5"
        config = ExtractionConfig(precision=precision)
        t0 = time.perf_counter()
        report = extract(task["root"], h5, config, progress=False, encoder=encoders[precision], overwrite=True)
        elapsed = time.perf_counter() - t0
        X, _, vid, _ = load_features(h5)
        paths = load_videos(h5)["path"]
        y = np.array([label_of[str(paths[i])] for i in vid])
        groups = np.array([group_of[str(paths[i])] for i in vid])
        n_splits = min(5, len(set(groups)))
        per_class_groups = min(len(set(groups[y == c])) for c in set(y))
        cv = (
            StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
            if per_class_groups >= n_splits
            else GroupKFold(n_splits)
        )
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced"))
        pred = cross_val_predict(clf, X, y, groups=groups, cv=cv)
        features[precision], predictions[precision] = X, pred
        out["precisions"][precision] = {
            "extract_s": round(elapsed, 2),
            "n_videos": report.n_extracted,
            "n_clips": int(X.shape[0]),
            "balanced_accuracy": round(float(balanced_accuracy_score(y, pred)), 4),
        }
        out.update(n_classes=len(set(y)), n_groups=len(set(groups)), cv=f"{type(cv).__name__}({n_splits})")
    base = out["precisions"]["float32"]
    for precision in ("float16", "int8"):
        rec = out["precisions"][precision]
        diff = np.abs(features[precision] - features["float32"])
        rec["delta_balanced_accuracy"] = round(rec["balanced_accuracy"] - base["balanced_accuracy"], 4)
        rec["prediction_agreement"] = round(float(np.mean(predictions[precision] == predictions["float32"])), 4)
        rec["feature_max_abs_diff"] = float(diff.max())
        rec["feature_mean_abs_diff"] = float(diff.mean())
    return out


# --------------------------------------------------------------------------- run and report


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory(prefix="featkit-bench-variants-") as tmp_name:
        tmp = Path(tmp_name)
        encoders, conversion = load_encoders(tmp / "cache")
        tasks = [synthetic_task(tmp / "synthetic", per_class=4 if args.quick else 8)]
        notes: list[str] = []
        if not (args.quick or args.no_corpus):
            more, notes = corpus_tasks()
            tasks += more
        videos = [t["root"] / r["path"] for t in tasks for r in t["rows"]]
        # Frames from every task, real footage first when there is some.
        frames = sample_frames(sorted(videos, key=lambda p: "synthetic" in str(p)), args.frames)
        speed = measure_speed(encoders, frames, args.repeats)
        drift = measure_drift(encoders, frames)
        downstream = [evaluate_task(t, encoders, tmp) for t in tasks]
    targets = [
        target("int8 encode speed vs float32", speed["encoders"]["int8"]["speed_ratio_vs_float32"], ">=", 1.5, "x"),
        target("float16 μ max drift / std(μ)", drift["float16"]["mu_max_rel_to_std"], "<=", 0.01),
        target("int8 μ mean drift / std(μ)", drift["int8"]["mu_mean_rel_to_std"], "<=", 0.05),
    ]
    for task in downstream:
        for precision in ("float16", "int8"):
            delta = task["precisions"][precision]["delta_balanced_accuracy"]
            targets.append(target(f"{task['name']}: {precision} Δ balanced accuracy", delta, ">=", -0.02))
    return {
        "config": {"frames": args.frames, "repeats": args.repeats, "batch_size": 64, "quick": args.quick},
        "conversion": conversion,
        "speed": speed,
        "drift": drift,
        "downstream": downstream,
        "targets": targets,
        "notes": notes,
        "extra_versions": package_versions(("ai-edge-litert", "tensorflow-hub")),
    }


def markdown_summary(result: dict[str, Any]) -> str:
    """The variants section of the benchmark report: one table per measure."""
    speed, drift, conv = result["speed"]["encoders"], result["drift"], result["conversion"]
    lines = [
        f"{result['speed']['n_frames']} real decoded 64x64 frames, batches of 64, {result['speed']['repeats']} "
        f"repeats interleaved chunk by chunk; TFLite runtime: {conv['runtime']}, {conv['num_threads']} threads. "
        "Speed ratios are wall-clock (what a user sees on this shared machine); CPU time is the work done.",
        "",
        "| encoder | frames/s (median) | speed vs float32 | CPU ms/frame (vs float32) | μ max abs diff "
        "| μ mean abs diff | model bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ENCODERS:
        d = drift.get(key, {})
        lines.append(
            f"| {key} | {speed[key]['fps_median']:.0f} | {speed[key]['speed_ratio_vs_float32']:.2f}x | "
            f"{speed[key]['cpu_ms_per_frame']:.3f} ({speed[key]['cpu_speed_ratio_vs_float32']:.2f}x) | "
            f"{d.get('mu_max_abs_diff', 0.0):.2g} | {d.get('mu_mean_abs_diff', 0.0):.2g} | "
            f"{conv['model_bytes'].get(key, '—')} |"
        )
    lines += [
        "",
        f"std of float32 μ: {drift['mu_std_float32']}. Conversion on first use: float16 "
        f"{conv['convert_float16_s']} s, int8 {conv['convert_int8_s']} s (cached afterwards).",
        "",
        "| task | classes / groups | float32 bal. acc. | float16 (Δ, agreement) | int8 (Δ, agreement) |",
        "|---|---|---|---|---|",
    ]
    for task in result["downstream"]:
        p = task["precisions"]
        cells = [
            f"{p[k]['balanced_accuracy']:.3f} ({p[k]['delta_balanced_accuracy']:+.3f}, "
            f"{p[k]['prediction_agreement']:.0%})"
            for k in ("float16", "int8")
        ]
        lines.append(
            f"| {task['name']} ({task['label']}) | {task['n_classes']} / {task['n_groups']} | "
            f"{p['float32']['balanced_accuracy']:.3f} | {cells[0]} | {cells[1]} |"
        )
    for note in result.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_variants", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="synthetic task only, few frames, two repeats (CI)")
    ap.add_argument("--frames", type=int, default=None, help="frames in the speed test (2048; --quick: 256)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (5; --quick: 2)")
    ap.add_argument("--no-corpus", action="store_true", help="skip the tasks built from the cached corpus")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    args = ap.parse_args(argv)
    args.frames = args.frames or (256 if args.quick else 2048)
    args.repeats = args.repeats or (2 if args.quick else 5)
    path, result = run_and_write(args, NAME, run)
    print(markdown_summary(result))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
