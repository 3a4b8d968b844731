"""Pilot that chose the camera-motion statistics, on a selection set the benchmarks never report.

    python benchmarks/pilot_motion.py        # writes benchmarks/results/bench_pilot_motion.json

The selection set: the bundled photographs of ``benchmarks.bench_anomaly.PHOTOS``
(scikit-image and scikit-learn, no download), each filmed by the virtual camera of
:func:`benchmarks.datasets.camera_motion_frames` with every motion of
``CAMERA_MOTIONS`` (``--per-motion`` clips each, 16 frames at 8 fps, 64 px).
The benchmark's ``camera_motion`` task films *corpus videos* instead, so this
choice never saw its numbers. Each candidate is scored by 8-class accuracy of
``StandardScaler + LogisticRegression`` over 5 grouped splits (a photo is never
in training and test).

Candidates, all from the default encoder's μ, log σ² and its response to the
four probing moves (:func:`benchmarks.latent_motion.motion_jacobian`):

* ``motion``: the joint least-squares velocity (4 values, signed);
* ``motion_weighted``: the same with each latent weighted by 1/σ;
* ``motion + motion_speed``: plus the per-step fit's mean absolute velocity (4 more, unsigned);
* ``motion + |motion|``: plus the absolute net velocity, the cheapest unsigned variant;
* ``default``: the whole default feature row (200 columns).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks.provenance import run_and_write  # noqa: E402

FPS, N_FRAMES = 8.0, 16


def _clips(per_motion: int, seed: int) -> tuple[list[str], list[str], list[np.ndarray]]:
    from benchmarks.bench_anomaly import PHOTOS, _photo

    groups, labels, clips = [], [], []
    for s, name in enumerate(PHOTOS):
        try:
            still = _photo(name)
        except (ImportError, AttributeError, OSError, ValueError):
            continue
        rng = np.random.default_rng([seed, s])
        footage = np.repeat(still[None], N_FRAMES, axis=0)
        for motion in ds.CAMERA_MOTIONS:
            for _ in range(per_motion):
                clips.append(ds.camera_motion_frames(footage, motion, rng, size=64))
                groups.append(name)
                labels.append(motion)
    return groups, labels, clips


def _weighted_motion(mu: np.ndarray, logvar: np.ndarray, jac: np.ndarray, times: np.ndarray) -> np.ndarray:
    dt = np.diff(times)
    w = np.exp(-0.25 * (logvar[1:] + logvar[:-1]))  # 1/σ, averaged over the step's two frames
    a = (0.5 * (jac[1:] + jac[:-1]) * dt[:, None, None] * w[..., None]).reshape(-1, 4)
    b = (np.diff(mu, axis=0) * w).reshape(-1)
    gram = a.T @ a
    return np.linalg.solve(gram + 1e-9 * np.trace(gram) * np.eye(4), a.T @ b)


def _accuracy(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seeds: Sequence[int]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    accs = []
    for seed in seeds:
        cv = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
        train, test = list(cv.split(X, y, groups))[seed % 5]
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(X[train], y[train])
        accs.append(float((clf.predict(X[test]) == y[test]).mean()))
    return {"mean": float(np.mean(accs)), "sd": float(np.std(accs)), "per_seed": accs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.common import stats_reduced_by_hand
    from benchmarks.latent_motion import latent_motion, latent_speed, motion_jacobian
    from featkit.encoders import load_encoder
    from featkit.motion import step_motion
    from featkit.quality import frame_quality
    from featkit.stats import clip_statistics

    DEFAULT_STATS = stats_reduced_by_hand()

    t0 = time.perf_counter()
    encoder = load_encoder("default")
    groups, labels, clips = _clips(2 if args.quick else args.per_motion, args.seed)
    times = np.arange(N_FRAMES) / FPS
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("motion", "weighted", "speed", "default")}
    for clip in clips:
        mu, logvar = (np.asarray(a, dtype=np.float64) for a in encoder.encode(clip))
        jac = motion_jacobian(lambda f: encoder.encode(f)[0], clip, mu).astype(np.float64)
        rows["motion"].append(latent_motion(mu, jac, times))
        rows["weighted"].append(_weighted_motion(mu, logvar, jac, times))
        rows["speed"].append(latent_speed(mu, jac, times))
        rows["default"].append(
            clip_statistics(
                mu,
                logvar,
                DEFAULT_STATS,
                times=times,
                steps=step_motion(clip),
                quality=frame_quality(clip, None),
            )
        )
    m, w, s, d = (np.stack(rows[k]) for k in ("motion", "weighted", "speed", "default"))
    y, g = np.array(labels), np.array(groups)
    seeds = range(2 if args.quick else 5)
    candidates = {
        "motion": m,
        "motion_weighted": w,
        "motion + motion_speed": np.hstack([m, s]),
        "motion + |motion|": np.hstack([m, np.abs(m)]),
        "default": d.astype(np.float64),
    }
    return {
        "selection_set": {"photos": sorted(set(groups)), "clips": len(clips), "classes": list(ds.CAMERA_MOTIONS)},
        "protocol": "8-class accuracy, StandardScaler + LogisticRegression, StratifiedGroupKFold(5) by photo",
        "accuracy": {name: _accuracy(X, y, g, seeds) for name, X in candidates.items()},
        "chosen": "motion + motion_speed",
        "total_s": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-motion", type=int, default=6, help="clips per photo and motion")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_motion", run)
    for name, acc in result["accuracy"].items():
        print(f"{name:24s} {acc['mean']:.3f} ± {acc['sd']:.3f}")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
