"""Pilot that chose how a clip's camera motion is read from its steps, on footage the benchmarks never report.

    python benchmarks/pilot_motion_fit.py    # writes benchmarks/results/bench_pilot_motion_fit.json

Each step of a clip gives a least-squares camera velocity from μ's change and
the encoder's response to the four probing moves (:mod:`featkit.motion`). On
real footage the content also moves on its own, in some steps more than in
others, so how the steps are pooled matters. Candidates for the signed
``motion`` columns, each next to the unsigned ``motion_speed`` (mean absolute
per-step velocity):

* ``joint_lsq``: one least-squares fit of all steps together (the statistic until 2026-12-04);
* ``median``: the median of the per-step velocities, move by move (shipped);
* ``huber``: iteratively reweighted least squares of all steps with Huber weights on the residuals.

Selection set: the ``moving`` set of ``benchmarks/pilot_probes.py`` (corpus videos
the ``camera_motion`` task leaves out: deer, bikes, realshort, megamind, whose
content moves while the virtual camera does), every motion of ``CAMERA_MOTIONS``
per segment, 16 frames at 8 fps, probes every second frame as extraction does.
Score: 8-class accuracy of ``StandardScaler + LogisticRegression``, leave one
source out.

The same clips then check the classification recipe on the whole default row:
featkit's tuned recipe (:func:`featkit.pipelines.classify.make_classifier`) with and
without its branch that keeps the motion groups alone, at 10 and all labelled clips
per class (3 draws per held-out source), against the motion columns alone.
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
from benchmarks import pilot_probes as pp  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write  # noqa: E402

_HUBER_ITERATIONS = 5


def joint_lsq(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> np.ndarray:
    """One least-squares velocity for all steps (the earlier ``motion``)."""
    from benchmarks.latent_motion import _solve, _steps

    steps = _steps(mu, jac, times)
    if steps is None:
        return np.zeros(4)
    dmu, a, _ = steps
    return _solve(a.reshape(-1, 4), dmu.reshape(-1))


def huber(mu: np.ndarray, jac: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Least squares of all steps, reweighted with Huber weights on the standardised residuals."""
    from benchmarks.latent_motion import _solve, _steps

    steps = _steps(mu, jac, times)
    if steps is None:
        return np.zeros(4)
    dmu, a = steps[0].reshape(-1), steps[1].reshape(-1, 4)
    v = _solve(a, dmu)
    for _ in range(_HUBER_ITERATIONS):
        r = dmu - a @ v
        scale = 1.4826 * np.median(np.abs(r)) + 1e-12
        w = np.sqrt(1.0 / np.maximum(np.abs(r) / scale, 1.0))
        v = _solve(a * w[:, None], dmu * w)
    return v


def _recipe(X: np.ndarray, y: np.ndarray, g: np.ndarray, names: list[str], draws: int) -> dict[str, float]:
    """Accuracy of the tuned recipe with and without the motion branch, and of the motion columns alone."""
    import warnings
    from functools import partial

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from featkit.pipelines.classify import _simplest_within_noise, make_classifier

    motion_cols = [i for i, n in enumerate(names) if n.startswith("motion")]
    segment = np.arange(len(y)) // len(ds.CAMERA_MOTIONS)  # the clips of one segment share its footage
    out: dict[str, float] = {}
    for k in (10, "all"):
        for rule in ("without_motion_branch", "with_motion_branch", "motion_branch_if_best", "motion_columns_alone"):
            accs = []
            for src in np.unique(g):
                for seed in range(draws):
                    rng = np.random.default_rng(seed)
                    train, test = np.flatnonzero(g != src), np.flatnonzero(g == src)
                    if k != "all":
                        train = np.concatenate([rng.permutation(train[y[train] == c])[:k] for c in np.unique(y)])
                    if rule == "motion_columns_alone":
                        clf = LogisticRegression(max_iter=3000, class_weight="balanced")
                        model = make_pipeline(StandardScaler(), clf).fit(X[train][:, motion_cols], y[train])
                        accs.append(float(np.mean(model.predict(X[test][:, motion_cols]) == y[test])))
                        continue
                    search = make_classifier("logreg", feature_names=names, tune=True)
                    if rule == "without_motion_branch":
                        search.set_params(param_grid=search.param_grid[:2])
                    elif rule == "motion_branch_if_best":
                        search.set_params(refit=partial(_simplest_within_noise, motion_alone_if_best=True))
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = search.fit(X[train], y[train], groups=segment[train])
                    accs.append(float(np.mean(model.predict(X[test]) == y[test])))
            out[f"{rule}@{k}"] = float(np.mean(accs))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.common import stats_reduced_by_hand
    from benchmarks.latent_motion import latent_motion, latent_speed, motion_jacobian
    from featkit.encoders import load_encoder
    from featkit.motion import step_motion
    from featkit.quality import frame_quality
    from featkit.stats import clip_statistics, feature_names

    DEFAULT_STATS = stats_reduced_by_hand()

    t0 = time.perf_counter()
    encoder = load_encoder("default")
    times = np.arange(pp.N_FRAMES) / pp.FPS
    rng = np.random.default_rng(args.seed)
    segments = pp._footage(2 if args.quick else args.per_source)["moving"]
    candidates = {"joint_lsq": joint_lsq, "median": latent_motion, "huber": huber}
    feats: dict[str, list[np.ndarray]] = {k: [] for k in candidates}
    labels, groups, rows = [], [], []
    for group, seg in segments:
        for motion in ds.CAMERA_MOTIONS:
            clip = ds.camera_motion_frames(seg, motion, rng, size=64)
            mu, logvar = (np.asarray(a, dtype=np.float64) for a in encoder.encode(clip))
            jac = pp.sparse_jacobian(motion_jacobian(lambda f: encoder.encode(f)[0], clip, mu), 2).astype(np.float64)
            speed = latent_speed(mu, jac, times)
            for name, fit in candidates.items():
                feats[name].append(np.r_[fit(mu, jac, times), speed])
            quality = frame_quality(clip, None)
            rows.append(
                clip_statistics(mu, logvar, DEFAULT_STATS, times=times, steps=step_motion(clip), quality=quality)
            )
            labels.append(motion)
            groups.append(group)
    y, g = np.array(labels), np.array(groups)
    accuracy = {name: pp._accuracy(np.stack(f), y, g) for name, f in feats.items()}
    names = feature_names(DEFAULT_STATS, encoder.latent_dim)
    recipe = _recipe(np.stack(rows).astype(np.float64), y, g, names, 1 if args.quick else 3)
    return {
        "protocol": "motion (by each candidate) + motion_speed, 8 classes, StandardScaler + LogisticRegression, "
        "leave one source out, probes every second frame",
        "selection_set": {"sources": sorted(set(groups)), "clips": len(y)},
        "accuracy": accuracy,
        "chosen": "median",
        "recipe_on_default_row": recipe,
        "total_s": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=20, help="segments per source (20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out-dir", dest="out", default=str(RESULTS_DIR))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_motion_fit", run)
    print(path, result["accuracy"], result["recipe_on_default_row"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
