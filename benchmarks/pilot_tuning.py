"""Pilot that chose how the classification recipe picks its grid point, on sources the benchmarks never use.

    python benchmarks/pilot_tuning.py      # writes benchmarks/results/pilot_tuning.json

The selection set: the 30 KDE Plasma wallpapers of ``benchmarks/pilot_distill.py``
(Debian ``plasma-workspace-wallpapers``, fetched with apt once; no benchmark task and no
training set holds them), each filmed by the virtual camera of
:func:`benchmarks.datasets.camera_motion_frames` with every motion of ``CAMERA_MOTIONS``
(``--per-motion`` clips each, 16 frames at 8 fps, 64 px), reduced to the default
feature row (784 columns with ``featkit-default-v3`` and the quality statistic). The same clips carry two tasks
of opposite kinds:

* ``motion``: the camera's motion (8 classes), split by wallpaper
  (``StratifiedGroupKFold(5)``), 10 and all labelled clips per class;
* ``identity``: which wallpaper (30 classes), 10 labelled clips per class, the others tested.

and a second set, scikit-learn's 8x8 digits (not MNIST; upscaled to 28x28) gliding over a
64-px canvas in one of four directions (``--digits`` glyphs, one clip each), with

* ``digit``: the digit (10 classes), a hard content task, and
* ``direction``: which way it glides (4 classes),

both split by glyph (``StratifiedGroupKFold(5)``) with 10 and all labelled clips per class.

Rules compared, all with featkit's pipeline (``StatisticGroupScaler`` + class-balanced
logistic regression) and the grid :data:`featkit.pipelines.classify.TUNING_GRID`, by
``GroupKFold(3)`` over the labelled clips' groups:

* ``untuned``: balance 0, C = 1 (plain standardisation, the recipe before the grid);
* ``best``: the grid point with the best inner balanced accuracy (GridSearchCV's default);
* ``simplest_within_noise``: the smallest balance within one standard error of the best,
  then the best C there;
* ``+exclude``: either rule with the grid's second branch, which may also leave out the direction
  statistics (:data:`featkit.pipelines.classify.DIRECTION_GROUPS`); fewer groups count as simpler
  (the recipe used ``simplest_within_noise+exclude`` until 2026-12-04);
* ``+motion``: and the third branch, which may keep the motion groups alone
  (:data:`featkit.pipelines.classify.MOTION_GROUPS`; the recipe since 2026-12-04);
* ``+motion_if_best``: that branch taken only when it scores best, never as a near tie.

The rule chosen is the one with the best mean over the seven scores.
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

FPS, N_FRAMES, SIDE = 8.0, 16, 160


def _still(path: Path) -> np.ndarray:
    """A SIDE x SIDE RGB centre crop of a wallpaper, area-resized (as the photo stills of the other pilots)."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)


def _features(per_motion: int, seed: int, cache: Path) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    from benchmarks.common import stats_reduced_by_hand
    from benchmarks.pilot_distill import fetch_wallpapers
    from featkit.encoders import load_encoder
    from featkit.motion import step_motion
    from featkit.quality import frame_quality
    from featkit.stats import clip_statistics, feature_names

    DEFAULT_STATS = stats_reduced_by_hand()

    encoder = load_encoder("default")
    times = np.arange(N_FRAMES) / FPS
    rows, motion, wall, clip = [], [], [], []
    for s, (name, path) in enumerate(sorted(fetch_wallpapers(cache).items())):
        footage = np.repeat(_still(path)[None], N_FRAMES, axis=0)
        rng = np.random.default_rng([seed, s])
        for m in ds.CAMERA_MOTIONS:
            for _ in range(per_motion):
                frames = ds.camera_motion_frames(footage, m, rng, size=64)
                mu, logvar = (np.asarray(a, dtype=np.float64) for a in encoder.encode(frames))
                rows.append(
                    clip_statistics(
                        mu,
                        logvar,
                        DEFAULT_STATS,
                        times=times,
                        steps=step_motion(frames),
                        quality=frame_quality(frames, None),
                    )
                )
                motion.append(m)
                wall.append(name)
                clip.append(len(clip))
    names = feature_names(DEFAULT_STATS, encoder.latent_dim)
    labels = {"motion": np.array(motion), "wallpaper": np.array(wall), "clip": np.array(clip)}
    return np.stack(rows).astype(np.float64), names, labels


def _digit_features(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from benchmarks.common import stats_reduced_by_hand
    from featkit.encoders import load_encoder
    from featkit.motion import step_motion
    from featkit.quality import frame_quality
    from featkit.stats import clip_statistics

    DEFAULT_STATS = stats_reduced_by_hand()

    encoder = load_encoder("default")
    images, labels, _ = ds.digits_fallback()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), size=n, replace=False)
    times = np.arange(N_FRAMES) / FPS
    directions = sorted(ds.DIRECTIONS)
    rows, digit, way = [], [], []
    for i in pick:
        d = directions[int(rng.integers(len(directions)))]
        frames = ds.moving_image_frames(images[i], d, rng, n_frames=N_FRAMES, size=64)
        mu, logvar = (np.asarray(a, dtype=np.float64) for a in encoder.encode(frames))
        rows.append(
            clip_statistics(
                mu,
                logvar,
                DEFAULT_STATS,
                times=times,
                steps=step_motion(frames),
                quality=frame_quality(frames, None),
            )
        )
        digit.append(str(labels[i]))
        way.append(d)
    return np.stack(rows), {"digit": np.array(digit), "direction": np.array(way), "glyph": pick.astype(str)}


def _fit(rule: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, names: list[str]) -> Any:
    import warnings
    from functools import partial

    from featkit.pipelines.classify import _simplest_within_noise, make_classifier

    if rule == "untuned":
        return make_classifier("logreg", feature_names=names).fit(X, y)  # balance 0, C = 1
    search = make_classifier("logreg", feature_names=names, tune=True)
    if isinstance(search.param_grid, list):
        # The branches in order: the whole grid, leave out the direction groups, keep the motion groups alone.
        kept = 3 if "+motion" in rule else 2 if rule.endswith("+exclude") else 1
        search.set_params(param_grid=search.param_grid[:kept])
    if rule.startswith("best"):
        search.set_params(refit=True)
    elif rule.endswith("+motion_if_best"):
        search.set_params(refit=partial(_simplest_within_noise, motion_alone_if_best=True))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return search.fit(X, y, groups=groups)


def _draws(y: np.ndarray, pool: np.ndarray, k: int | str, rng: np.random.Generator) -> np.ndarray:
    if k == "all":
        return pool
    return np.sort(np.concatenate([rng.permutation(pool[y[pool] == c])[: int(k)] for c in np.unique(y)]))


RULES = (
    "untuned",
    "best",
    "simplest_within_noise",
    "best+exclude",
    "simplest_within_noise+exclude",
    "simplest_within_noise+exclude+motion",
    "simplest_within_noise+exclude+motion_if_best",
)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedGroupKFold
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    cache = ds.bench_dir(args.cache).parent
    X, names, lab = _features(1 if args.quick else args.per_motion, args.seed, cache)
    seeds = range(2 if args.quick else 5)
    Xd, dlab = _digit_features(120 if args.quick else args.digits, args.seed)
    seeds = range(2 if args.quick else 5)
    keys = ("motion@10", "motion@all", "identity@10", "digit@10", "digit@all", "direction@10", "direction@all")
    scores: dict[str, dict[str, list[float]]] = {r: {k: [] for k in keys} for r in RULES}

    def grouped(name: str, Z: np.ndarray, y: np.ndarray, g: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        cv = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
        train, test = list(cv.split(Z, y, g))[seed % 5]
        for k in (10, "all"):
            rows = _draws(y, train, k, rng)
            if min(np.unique(y[rows], return_counts=True)[1]) < (10 if k == 10 else 1):
                continue
            for rule in RULES:
                model = _fit(rule, Z[rows], y[rows], g[rows], names)
                scores[rule][f"{name}@{k}"].append(float(np.mean(model.predict(Z[test]) == y[test])))

    with threadpool_limits(limits=1):
        for seed in seeds:
            grouped("motion", X, lab["motion"], lab["wallpaper"], seed)
            grouped("digit", Xd, dlab["digit"], dlab["glyph"], seed)
            grouped("direction", Xd, dlab["direction"], dlab["glyph"], seed)
            # identity: each wallpaper is a class; 10 of its clips labelled, the others tested
            rng = np.random.default_rng(seed)
            yi = lab["wallpaper"]
            lab_i = _draws(yi, np.arange(len(yi)), 10, rng)
            test_i = np.setdiff1d(np.arange(len(yi)), lab_i)
            for rule in RULES:
                model = _fit(rule, X[lab_i], yi[lab_i], lab["clip"][lab_i], names)
                scores[rule]["identity@10"].append(float(np.mean(model.predict(X[test_i]) == yi[test_i])))
    summary = {
        r: {
            **{k: float(np.mean(v)) for k, v in s.items() if v},
            "mean": float(np.mean([np.mean(v) for v in s.values() if v])),
        }
        for r, s in scores.items()
    }
    return {
        "selection_set": {
            "wallpapers": sorted(set(lab["wallpaper"].tolist())),
            "clips": len(X),
            "motions": list(ds.CAMERA_MOTIONS),
            "columns": len(names),
            "digits": {"glyphs": len(Xd), "source": "sklearn.datasets.load_digits, upscaled to 28x28"},
        },
        "protocol": "motion: StratifiedGroupKFold(5) by wallpaper, 10 / all labelled clips per class; identity: 10 "
        "labelled clips per wallpaper, the rest tested; accuracy over seeds",
        "scores": scores,
        "summary": summary,
        "chosen": max(summary, key=lambda r: summary[r]["mean"]),
        "total_s": time.perf_counter() - t0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-motion", type=int, default=2, help="clips per wallpaper and motion (2)")
    ap.add_argument("--digits", type=int, default=600, help="digit glyphs, one clip each (600)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--cache", default=None, help="benchmark cache (~/.cache/featkit/bench)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "pilot_tuning", run)
    for rule, s in result["summary"].items():
        print(f"{rule:24s} " + "  ".join(f"{k} {v:.3f}" for k, v in s.items()))
    print("chosen:", result["chosen"])
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
