"""Pilot: content-free summaries of the default statistics as anomaly scores (a negative result, kept).

    python benchmarks/bench_anomaly.py            # first: writes the task's features.h5 into the cache
    python benchmarks/pilot_anomaly_summaries.py  # writes benchmarks/results/bench_pilot_anomaly_summaries.json

The detector's density scorers on the 200 default columns sit at chance across
sources (``bench_anomaly``): a new source is as far from the training clips as
a corruption moves a clip. This pilot asks whether scalars that do not name the
content do better: the log mean posterior σ, the log mean ``mu_absdiff`` and
``mu_std``, the RMS of ``mu_mean``, the "jitter" ``log mu_absdiff - log mu_std``,
the log sizes of ``mu_slope``, ``mu_delta``, ``motion`` and ``motion_speed`` and
the spread of log σ over latents, scored alone (two-sided Gaussian) and in
groups by :class:`featkit.ClipAnomalyDetector` (Mahalanobis, kNN, GMM), with
``bench_anomaly``'s protocol (fit on clean clips of the training sources, AUC
on the held-out sources; 3 seeds x 5 folds).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_anomaly as ba  # noqa: E402
from benchmarks import datasets as ds  # noqa: E402
from benchmarks.provenance import run_and_write  # noqa: E402

_EPS = 1e-4


def summaries(X: np.ndarray, statistic: np.ndarray) -> dict[str, np.ndarray]:
    """Content-free scalars per clip from the default statistics (``statistic``: each column's group)."""

    def group(name: str) -> np.ndarray:
        return X[:, statistic == name]

    speed, motion = group("motion_speed"), group("motion")
    out = {
        "log_sigma": np.log(group("sigma_mean").mean(1)),
        "log_absdiff": np.log(group("mu_absdiff").mean(1) + _EPS),
        "log_std": np.log(group("mu_std").mean(1) + _EPS),
        "mu_rms": np.sqrt((group("mu_mean") ** 2).mean(1)),
        "log_slope": np.log(np.abs(group("mu_slope")).mean(1) + _EPS),
        "log_delta": np.log(np.abs(group("mu_delta")).mean(1) + _EPS),
        "log_speed_pan": np.log(speed[:, :2].sum(1) + 1e-2),
        "log_speed_zoom_turn": np.log(speed[:, 2:].sum(1) + 1e-3),
        "log_motion_pan": np.log(np.abs(motion[:, :2]).sum(1) + 1e-2),
        "sigma_spread": np.log(group("sigma_mean")).std(1),
    }
    out["jitter"] = out["log_absdiff"] - out["log_std"]
    return out


GROUPS = {
    "posterior": ["log_sigma", "log_absdiff", "log_std", "mu_rms", "jitter"],
    "posterior+time": ["log_sigma", "log_absdiff", "log_std", "mu_rms", "jitter", "log_slope", "log_delta"],
    "posterior+motion": ["log_sigma", "log_absdiff", "log_std", "mu_rms", "jitter", "log_speed_pan",
                         "log_speed_zoom_turn", "log_motion_pan"],
}  # fmt: skip
METHODS = {
    "mahalanobis": {"method": "mahalanobis"},
    "knn5": {"method": "knn", "n_neighbors": 5},
    "gmm4": {"method": "gmm", "n_components": 4},
}


def _scorer(Z: np.ndarray, **kw: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from featkit.detection import ClipAnomalyDetector

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        tr, te = train[:, 0].astype(int), test[:, 0].astype(int)  # rows carry their index into Z
        det = ClipAnomalyDetector(statistics=None, random_state=0, log_positive=False, **kw)
        return det.fit(Z[tr]).score_samples(Z[te])

    return score


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit import load_features, load_videos
    from featkit.transformers import statistic_of

    folder = ds.bench_dir(args.cache) / "tasks" / "anomaly"
    h5 = folder / "features.h5"
    if not h5.is_file():
        raise SystemExit(f"{h5} not found: run benchmarks/bench_anomaly.py first.")
    X, _, video_ids, names = load_features(h5)
    paths = np.asarray(load_videos(h5)["path"]).astype(str)
    with open(folder / "labels.csv", newline="") as fh:
        labels = {r["path"]: r for r in csv.DictReader(fh)}
    rows = [labels[paths[i]] for i in video_ids]
    kinds, groups, sets = (np.array([r[k] for r in rows]) for k in ("label", "group", "set"))
    feats = summaries(X, np.array([statistic_of(n) for n in names]))
    scorers = {}
    for tag, keys in GROUPS.items():
        Z = np.column_stack([feats[k] for k in keys])
        for label, kw in METHODS.items():
            scorers[f"{tag} {label}"] = _scorer(Z, **kw)
    for key, values in feats.items():
        scorers[f"{key} alone"] = _scorer(values[:, None], method="mahalanobis")
    index = np.arange(len(X), dtype=np.float64)[:, None]
    seeds = range(1 if args.quick else 3)
    results = {}
    for set_name in ("photos", "corpus"):
        keep = sets == set_name
        if len(np.unique(groups[keep])) >= 2:
            results[set_name] = ba.evaluate(index[keep], kinds[keep], groups[keep], scorers, seeds=seeds, n_splits=5)
    return {"features": str(h5), "summaries": list(feats), "groups": GROUPS, "evaluations": results}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="benchmark cache (as for bench_anomaly)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_anomaly_summaries", run)
    for set_name, res in result["evaluations"].items():
        for name, r in res.items():
            if not name.startswith("_"):
                cells = " ".join(f"{c}={r[c]['mean']:.2f}" for c in ("all", *ba.CORRUPTIONS) if c in r)
                print(f"{set_name:7s} {name:34s} {cells}")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
