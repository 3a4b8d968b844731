"""Pilot: how much of camera_motion's miss is the footage's own motion (issue #10's direction target).

    python benchmarks/bench_adapted.py                # first: extracts the camera_motion task with the default
    python benchmarks/pilot_camera_own_motion.py      # writes benchmarks/results/bench_pilot_camera_own_motion.json

``camera_motion`` films real corpus footage with a synthetic camera (pan left,
right, up, down, zoom in, out, rotate, or static), and labels the clip with the
synthetic move. The footage moves on its own too (a panning trailer, cyclists
crossing), and the ``motion`` statistic measures the sum. Every segment of
footage appears once per label, so the segment's *static* copy measures the
footage's own motion alone. One classifier (standardised ``motion`` and
``motion_speed`` columns, logistic regression, grouped 5-fold by source) is
scored on the measured motion, and on the measured motion minus the same
segment's static copy: an oracle that knows the footage's motion, the ceiling
what the labels leave to any representation that measures the picture's motion.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write  # noqa: E402


def _accuracy(F: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    pred = cross_val_predict(clf, F, labels, groups=groups, cv=GroupKFold(5))
    return float((pred == labels).mean())


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit import load_features, load_videos

    path = args.cache / "adapted" / "camera_motion-default.h5"
    X, _, video_ids, names = load_features(path, features=["motion"])
    paths = np.asarray(load_videos(path)["path"]).astype(str)
    # One row per video (its clips' mean), keyed by label and footage segment: "<label>/<source>_s<k>.mp4".
    rows: dict[tuple[str, str], list[np.ndarray]] = {}
    for x, v in zip(X, video_ids, strict=True):
        label, segment = paths[v].split("/", 1)
        rows.setdefault((label, segment), []).append(x)
    keys = sorted(rows)
    motion = np.array([np.mean(rows[k], axis=0) for k in keys])
    labels = np.array([k[0] for k in keys])
    segments = [k[1] for k in keys]
    groups = np.array([s.rsplit("_s", 1)[0] for s in segments])
    static = {k[1]: m for k, m in zip(keys, motion, strict=True) if k[0] == "static"}
    own = np.array([static[s] for s in segments])
    moving = labels != "static"
    synthetic = motion - own
    return {
        "data": {"file": str(path), "videos": len(keys), "sources": len(np.unique(groups))},
        "columns": [str(n) for n in names],
        "accuracy": {
            "measured motion": _accuracy(np.c_[motion, np.abs(motion)], labels, groups),
            "minus the footage's own motion (oracle)": _accuracy(np.c_[synthetic, np.abs(synthetic)], labels, groups),
        },
        "own_over_synthetic_median": {
            str(n): round(float(r), 3)
            for n, r in zip(
                names, np.median(np.abs(own[moving]) / np.maximum(np.abs(synthetic[moving]), 1e-9), axis=0), strict=True
            )
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ds.DEFAULT_CACHE.expanduser())
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.quick = False
    path, result = run_and_write(args, "pilot_camera_own_motion", run)
    print(path, result["accuracy"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
