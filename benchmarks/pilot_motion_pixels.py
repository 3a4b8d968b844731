"""Pilot that chose where the ``motion`` statistics read camera motion: the latent path or the pixels.

    python benchmarks/pilot_motion_pixels.py    # writes benchmarks/results/bench_pilot_motion_pixels.json

Until motion 3 the camera's velocity was fitted to μ's path through the
encoder's response to four probing moves of every second frame
(:mod:`benchmarks.latent_motion`) (four extra
encoder passes per probed frame, most of extraction's CPU). The candidates
here read it from the frames instead (:mod:`featkit.motion`: Lucas–Kanade
similarity fit of consecutive grey frames, coarse to fine, Huber-weighted),
the signed columns pooled over the clip's steps the same way (median
velocity), the unsigned ones in one of :data:`POOLS` (motion 2: the mean
absolute velocity, i.e. path length per second):

* ``latent``: motion 2, the encoder's Jacobian, probes every second frame;
* ``pixels_64`` / ``pixels_32``: the pixel fit with its finest level at 64 / 32 px;
* ``pixels_32_no_huber``: the same without the robust weights (what they add).

Selection set: the ``moving`` set of ``benchmarks/pilot_probes.py`` (corpus
videos the ``camera_motion`` task leaves out, whose content moves while the
virtual camera does) and the ``photos`` set (stills shipped by packages), each
motion of ``CAMERA_MOTIONS`` per segment, 16 frames at 8 fps. Score: 8-class
and 5-axis accuracy of ``StandardScaler + LogisticRegression`` on the eight
motion columns, leave one source out, at all and at 10 labelled clips per
class; time per frame of each candidate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks import pilot_probes as pp  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write  # noqa: E402

#: How the unsigned columns pool a clip's step velocities v (the signed ones are always their median).
POOLS = {
    "mean_abs": lambda v, dt: (np.abs(v) * dt[:, None]).sum(axis=0) / dt.sum(),  # motion 2: path length / s
    "median_abs": lambda v, dt: np.median(np.abs(v), axis=0),
    "abs_median": lambda v, dt: np.abs(np.median(v, axis=0)),
}


def _pooled(v: np.ndarray, dt: np.ndarray, pool: str) -> np.ndarray:
    """The clip's eight motion columns from its steps' velocities ``v`` (steps, 4) and durations ``dt``."""
    return np.r_[np.median(v, axis=0), POOLS[pool](v, dt)]


def _at_ten(X: np.ndarray, y: np.ndarray, g: np.ndarray, draws: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    accs = []
    for src in np.unique(g):
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            train, test = np.flatnonzero(g != src), np.flatnonzero(g == src)
            train = np.concatenate([rng.permutation(train[y[train] == c])[:10] for c in np.unique(y)])
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(X[train], y[train])
            accs.append(float(np.mean(model.predict(X[test]) == y[test])))
    return float(np.mean(accs))


def _scores(feats: dict[str, list[np.ndarray]], y: np.ndarray, g: np.ndarray, draws: int) -> dict[str, Any]:
    axis = np.array([ds.MOTION_AXIS[m] for m in y])
    out: dict[str, Any] = {}
    for task, labels in (("camera_motion", y), ("camera_axis", axis)):
        out[task] = {
            f"{name}+{pool}@{k}": (pp._accuracy if k == "all" else lambda X, t, gr: _at_ten(X, t, gr, draws))(
                np.stack([_pooled(v, dt, pool) for v, dt in steps]), labels, g
            )
            for name, steps in feats.items()
            for pool in POOLS
            for k in ("all", 10)
        }
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.latent_motion import _step_velocities, motion_jacobian
    from featkit import motion as pixel_motion
    from featkit.encoders import load_encoder

    t0 = time.perf_counter()
    encoder = load_encoder("default")
    times = np.arange(pp.N_FRAMES) / pp.FPS
    dt = np.diff(times)
    footage = pp._footage(2 if args.quick else args.per_source)
    settings = {
        "pixels_64": (64, pixel_motion._HUBER),
        "pixels_32": (32, pixel_motion._HUBER),
        "pixels_32_no_huber": (32, 1e9),
    }
    out: dict[str, Any] = {}
    for set_name in ("moving", "photos"):
        rng = np.random.default_rng(args.seed)
        feats: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in ("latent", *settings)}
        seconds = dict.fromkeys(feats, 0.0)
        labels, groups = [], []
        for group, seg in footage[set_name]:
            for motion in ds.CAMERA_MOTIONS:
                clip = ds.camera_motion_frames(seg, motion, rng, size=64)
                t = time.perf_counter()
                mu = np.asarray(encoder.encode(clip)[0], dtype=np.float64)
                jac = pp.sparse_jacobian(motion_jacobian(lambda f: encoder.encode(f)[0], clip, mu), 2)
                feats["latent"].append(_step_velocities(mu, jac, times))
                seconds["latent"] += time.perf_counter() - t
                for name, (finest, huber) in settings.items():
                    pixel_motion._FINEST, pixel_motion._HUBER = finest, huber
                    t = time.perf_counter()
                    v = pixel_motion.step_motion(clip)[1:] / dt[:, None]
                    ok = np.isfinite(v).all(axis=1)  # a step the fit could not follow is dropped
                    feats[name].append((v[ok], dt[ok]) if ok.any() else (np.zeros((1, 4)), dt[:1]))
                    seconds[name] += time.perf_counter() - t
                labels.append(motion)
                groups.append(group)
        y, g = np.array(labels), np.array(groups)
        out[set_name] = {
            "sources": sorted(set(groups)),
            "clips": len(y),
            "accuracy": _scores(feats, y, g, 1 if args.quick else 3),
            "ms_per_frame": {k: 1e3 * s / (len(y) * pp.N_FRAMES) for k, s in seconds.items()},
        }
    return {
        "protocol": "the eight motion columns (median step velocity + an unsigned pool of the steps) by each "
        "candidate, StandardScaler + LogisticRegression, leave one source out, at all and 10 labels per class",
        "sets": out,
        "total_s": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=20, help="segments per source (20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out-dir", dest="out", default=str(RESULTS_DIR))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_motion_pixels", run)
    print(path, json.dumps(result["sets"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
