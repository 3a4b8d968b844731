"""Domain adaptation (issue #11, lever 4): the default encoder fine-tuned on each task's unlabelled videos.

    python benchmarks/bench_adapted.py [--epochs 3] [--minutes 10] [--reuse] [--quick] [--out DIR]

For every task of :mod:`benchmarks.bench_features` (generated videos, cached), one
grouped split is made: ``StratifiedGroupKFold(5, shuffle=True, random_state=0)`` on the
task's first label column, fold 0 held out. Then, as the README recommends for a new
domain:

1. ``featkit train --init default`` on the *training side's* videos only, without
   their labels (a folder of links to them; ``--epochs``, default 3, and the
   wall-clock cap ``--minutes`` is checked and reported);
2. ``featkit extract`` of every video of the task with the adapted model and with the
   shipped default, the same statistics for both;
3. for each evaluation of the task, featkit's classification recipe
   (:func:`featkit.pipelines.classify.fit_classifier`) on 10 and on all labelled
   training videos per class (5 labelled draws), accuracy on the held-out fold, which
   the adaptation never saw.

So ``vae_adapted - vae`` is what adapting adds on footage like the user's, paired on the
same split and draws. Writes ``bench_adapted.json`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import bench_features as bf  # noqa: E402
from benchmarks import datasets as ds  # noqa: E402
from benchmarks.provenance import run_and_write  # noqa: E402

NAME = "adapted"
BUDGETS: tuple[int | str, ...] = (10, "all")
DRAWS = (0, 1, 2, 3, 4)


def _held_out_split(task: ds.TaskData, column: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    y, groups = task.column(column).astype(str), task.column("group").astype(str)
    n_splits = min(5, int(np.unique(y, return_counts=True)[1].min()), len(np.unique(groups)))
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=0)
    return next(iter(cv.split(np.zeros(len(y)), y, groups)))


def _link_videos(task: ds.TaskData, rows: np.ndarray, folder: Path) -> Path:
    """A folder of symlinks to the chosen videos (relative paths kept), for ``featkit train``."""
    for i in rows:
        rel = Path(task.rows[int(i)]["path"])
        link = folder / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to((task.root / rel).resolve())
    return folder


def _extract(task: ds.TaskData, encoder: Any, out: Path, *, reuse: bool) -> tuple[np.ndarray, list[str], float]:
    from featkit import ExtractionConfig, extract

    t0 = time.perf_counter()
    # With reuse, extract resumes the file: videos already in it are skipped (same encoder and settings, or refused).
    report = extract(
        task.root, out, ExtractionConfig(stats=bf.STATS), overwrite=not reuse, progress=False, encoder=encoder
    )
    if report.failures:
        raise RuntimeError(f"{task.name}: extraction failed on {[f.path for f in report.failures][:3]}")
    X, names = bf.per_video_features(out, task.column("path"))
    return X, [str(n) for n in names], time.perf_counter() - t0


def _score(
    X: np.ndarray, names: list[str], y: np.ndarray, groups: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, list[float]]:
    from featkit.pipelines.classify import fit_classifier

    classes = np.unique(y)
    out: dict[str, list[float]] = {str(b): [] for b in BUDGETS}
    for draw in DRAWS:
        rng = np.random.default_rng(draw)
        order = {c: rng.permutation(train[y[train] == c]) for c in classes}
        for b in BUDGETS:
            lab = bf._labelled(train, classes, b, order)
            if lab is None:
                continue
            clf, _ = fit_classifier(X[lab], y[lab], groups[lab], feature_names=names)
            out[str(b)].append(float(np.mean(clf.predict(X[test]) == y[test])))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from featkit import TrainConfig, load_encoder, train_vae_on_videos

    settings = bf.QUICK if args.quick else bf.FULL
    cache = ds.bench_dir(args.cache)
    tasks, notes = bf.prepare_tasks(settings, cache, args.corpus, quick=args.quick, download=not args.no_download)
    work = cache / ("adapted-quick" if args.quick else "adapted")
    work.mkdir(parents=True, exist_ok=True)
    default = load_encoder("default")
    evaluations: dict[str, Any] = {}
    adaptation: dict[str, Any] = {}
    for tname, task in tasks.items():
        evals = [(e, col) for e, t, col, _ in bf.EVALUATIONS if t == tname]
        train, test = _held_out_split(task, evals[0][1])
        folder = _link_videos(task, train, work / f"{tname}-unlabelled")
        model = work / f"{tname}.keras"
        config = TrainConfig(init="default", epochs=args.epochs, holdout_fraction=0.0, seed=0)
        report_path = model.with_suffix(".json")
        if args.reuse and model.exists() and report_path.exists():
            report = json.loads(report_path.read_text())
            train_s = float(report["timings"]["total_s"])
        else:
            t0 = time.perf_counter()
            report = train_vae_on_videos(folder, model, config, overwrite=True, progress=False).report
            train_s = time.perf_counter() - t0
        adapted = load_encoder(os.fspath(model))
        X_def, names, t_def = _extract(task, default, work / f"{tname}-default.h5", reuse=args.reuse)
        X_ad, names_ad, t_ad = _extract(task, adapted, work / f"{tname}-adapted.h5", reuse=args.reuse)
        if names_ad != names:
            raise RuntimeError(f"{tname}: the adapted model's columns differ from the default's")
        adaptation[tname] = {
            "train_videos": len(train),
            "held_out_videos": len(test),
            "epochs": args.epochs,
            "train_s": round(train_s, 1),
            "within_budget": train_s <= 60 * args.minutes,
            "frames": report.get("data", {}).get("n_train_frames"),
            "reused": bool(args.reuse),
            "extract_s": {"default": round(t_def, 1), "adapted": round(t_ad, 1)},
        }
        groups = task.column("group").astype(str)
        for ename, column in evals:
            y = task.column(column).astype(str)
            with threadpool_limits(limits=1):
                base = _score(X_def, names, y, groups, train, test)
                tuned = _score(X_ad, names, y, groups, train, test)
            evaluations[ename] = {
                b: {
                    "vae": bf._interval(base[b]),
                    "vae_adapted": bf._interval(tuned[b]),
                    "delta": bf._interval([a - d for a, d in zip(tuned[b], base[b], strict=True)]),
                }
                for b in base
                if base[b]  # a budget larger than a class leaves no draw (quick mode)
            }
    targets = [
        {
            "name": f"{e}: vae_adapted − vae accuracy, {b} labels/class",
            "value": round(100 * r[b]["delta"]["mean"], 1),
            "op": ">=",
            "target": 0.0,
            "unit": "points",
            "met": r[b]["delta"]["mean"] >= 0.0,
        }
        for e, r in evaluations.items()
        for b in ("10",)  # the few-label case a user adapting to a new domain is in
        if r.get(b) and r[b]["delta"]["mean"] is not None
    ]
    return {
        "benchmark": NAME,
        "quick": bool(args.quick),
        "config": {
            "split": "StratifiedGroupKFold(5, shuffle, random_state=0) on the task's first label column; fold 0 held "
            "out from adaptation and labels alike",
            "adaptation": f"featkit train --init default --epochs {args.epochs} --holdout-fraction 0 on the training "
            "side's videos (no labels); pixel objective only (the teacher term is the recipe's, not train's)",
            "classifier": "featkit.pipelines.classify.fit_classifier (tuned by grouped inner CV)",
            "draws": list(DRAWS),
            "budgets": [str(b) for b in BUDGETS],
            "minutes_cap": args.minutes,
        },
        "adaptation": adaptation,
        "evaluations": evaluations,
        "notes": notes,
        "targets": targets,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs per task (3)")
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock cap per adaptation, reported (10)")
    ap.add_argument("--cache", default=None, help="benchmark cache (~/.cache/featkit/bench)")
    ap.add_argument("--corpus", default=None, help="corpus cache of benchmarks/fetch_corpus.py")
    ap.add_argument("--no-download", action="store_true", help="use only what is cached")
    ap.add_argument(
        "--reuse", action="store_true", help="keep adapted models and feature files of an earlier run (rescore only)"
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    path, result = run_and_write(args, NAME, run)
    for tname, a in result["adaptation"].items():
        print(f"{tname}: adapted on {a['train_videos']} videos in {a['train_s']:.0f} s")
    for ename, r in result["evaluations"].items():
        cells = ", ".join(
            f"{b}: {100 * v['vae']['mean']:.1f} -> {100 * v['vae_adapted']['mean']:.1f}" for b, v in r.items()
        )
        print(f"{ename}: {cells}")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
