"""Pilot that chose how often the camera-motion probes run, on selection sets the benchmarks never report.

    python benchmarks/pilot_probes.py        # writes benchmarks/results/bench_pilot_probes.json

``motion`` and ``motion_speed`` fit μ's trajectory by the encoder's response
``J`` to four probing moves (:func:`benchmarks.latent_motion.motion_jacobian`). Probing
every sampled frame costs four extra encoder passes per frame, which is most
of extraction's CPU time. ``J`` changes slowly along a shot, so this pilot
probes only every ``k``-th sampled frame (and the last), interpolates ``J``
linearly in between, and measures what that costs:

* **fidelity**: the relative error of the motion vector against probing every
  frame (median and 90th percentile of ``|v_k - v_1| / |v_1|``);
* **accuracy**: 8-class camera-motion accuracy of ``StandardScaler +
  LogisticRegression`` on ``motion + motion_speed``, grouped by source.

Selection sets (none is a source of the ``camera_motion`` task):

* ``photos``: the bundled photographs of :data:`benchmarks.bench_anomaly.PHOTOS`
  (still content);
* ``moving``: corpus videos the task leaves out (deer, bikes, realshort,
  megamind), whose content moves while the virtual camera does.
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
MOVING_SOURCES = ("deer", "bikes", "realshort", "megamind")
SPACINGS = (1, 2, 4, 8, 16)


def _footage(per_source: int) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Segments of still and moving footage, by selection set: [(group, frames (16, 160, 160, 3))]."""
    from benchmarks.bench_anomaly import PHOTOS, _photo

    sets: dict[str, list[tuple[str, np.ndarray]]] = {"photos": [], "moving": []}
    for name in PHOTOS:
        try:
            still = _photo(name)
        except (ImportError, AttributeError, OSError, ValueError):
            continue
        sets["photos"].append((name, np.repeat(still[None], N_FRAMES, axis=0)))
    paths, _ = ds._footage(MOVING_SOURCES, None, download=False)
    for vid, path in paths.items():
        for seg in ds.read_segments(path, per_source, size=160, fps=int(FPS), max_jump=30.0):
            sets["moving"].append((vid, seg[:N_FRAMES]))
    return sets


def sparse_jacobian(jac: np.ndarray, spacing: int) -> np.ndarray:
    """``jac`` kept at every ``spacing``-th frame and the last, linearly interpolated in between."""
    n = len(jac)
    probed = np.unique(np.r_[np.arange(0, n, spacing), n - 1])
    flat = jac.reshape(n, -1)
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(np.arange(n), probed, flat[probed, j])
    return out.reshape(jac.shape)


def _accuracy(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    pred = cross_val_predict(clf, X, y, groups=groups, cv=LeaveOneGroupOut())
    return float((pred == y).mean())


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.latent_motion import latent_motion, latent_speed, motion_jacobian
    from featkit.encoders import load_encoder

    t0 = time.perf_counter()
    encoder = load_encoder("default")
    times = np.arange(N_FRAMES) / FPS
    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {}
    for set_name, segments in _footage(2 if args.quick else args.per_source).items():
        feats: dict[int, list[np.ndarray]] = {k: [] for k in SPACINGS}
        labels, groups = [], []
        for group, seg in segments:
            for motion in ds.CAMERA_MOTIONS:
                clip = ds.camera_motion_frames(seg, motion, rng, size=64)
                mu = np.asarray(encoder.encode(clip)[0], dtype=np.float64)
                jac = motion_jacobian(lambda f: encoder.encode(f)[0], clip, mu).astype(np.float64)
                for k in SPACINGS:
                    jk = sparse_jacobian(jac, k)
                    feats[k].append(np.r_[latent_motion(mu, jk, times), latent_speed(mu, jk, times)])
                labels.append(motion)
                groups.append(group)
        y, g = np.array(labels), np.array(groups)
        dense = np.stack(feats[1])[:, :4]
        moving = np.linalg.norm(dense, axis=1) > 1e-9
        rows = {}
        for k in SPACINGS:
            X = np.stack(feats[k])
            rel = np.linalg.norm(X[:, :4] - dense, axis=1)[moving] / np.linalg.norm(dense, axis=1)[moving]
            rows[str(k)] = {
                "encoder_passes_per_frame": 1 + 4 / k,
                "rel_error_median": float(np.median(rel)),
                "rel_error_p90": float(np.quantile(rel, 0.9)),
                "accuracy": _accuracy(X, y, g),
            }
        out[set_name] = {"clips": len(y), "groups": sorted(set(groups)), "by_spacing": rows}
    return {
        "protocol": "motion + motion_speed, 8 classes, StandardScaler + LogisticRegression, leave one source out",
        "sets": out,
        "total_s": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=10, help="segments per corpus video")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_probes", run)
    for set_name, r in result["sets"].items():
        for k, row in r["by_spacing"].items():
            print(
                f"{set_name:7s} k={k:>2s} passes {row['encoder_passes_per_frame']:.2f}  acc {row['accuracy']:.3f}  "
                f"rel err median {row['rel_error_median']:.3f} p90 {row['rel_error_p90']:.3f}"
            )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
