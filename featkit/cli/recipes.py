"""The recipes ``classify``, ``cluster``, ``predict``, ``anomaly fit|score``: wrappers of ``featkit.pipelines``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from featkit.cli._registry import Command

__all__ = ["COMMANDS"]


def _ensure_recipes_importable() -> None:
    """Make ``featkit.pipelines`` importable when featkit runs from a source checkout that was not installed.

    An install maps the repository's top-level ``pipelines/`` folder to ``featkit.pipelines``
    (setup.py's ``package_dir``); a bare checkout has no such mapping, so the folder is loaded under
    that name here.
    """
    try:
        import featkit.pipelines  # noqa: F401
    except ImportError:
        import importlib.util

        folder = Path(__file__).resolve().parents[2] / "pipelines"
        spec = importlib.util.spec_from_file_location(
            "featkit.pipelines", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules["featkit.pipelines"] = module
        spec.loader.exec_module(module)


def _cmd_classify(args: argparse.Namespace) -> int:
    from featkit.pipelines.classify import run_classification

    use = [name.strip() for name in args.use_stats.split(",") if name.strip()] if args.use_stats else None
    r = run_classification(
        args.path,
        args.output,
        model=args.model,
        folds=args.folds,
        save=args.save,
        random_state=args.seed,
        stats=use,
        tune=not args.no_tune,
    )
    print(
        f"{args.model}, {r['cv']['n_splits']}-fold {r['cv']['splitter']} on {r['n_clips']} clips of "
        f"{r['n_videos']} videos: balanced accuracy {r['clip']['balanced_accuracy']:.3f} (clips), "
        f"{r['video']['balanced_accuracy']:.3f} (videos); macro-F1 {r['clip']['macro_f1']:.3f}"
    )
    for f in r["files"].values():
        print(f"  wrote {f}")
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    from featkit.pipelines.cluster import run_clustering

    r = run_clustering(args.path, args.output, method=args.method, n_clusters=args.n_clusters, random_state=args.seed)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in r["clip"].items())
    print(f"{args.method}: {r['n_clusters_found']} clusters over {r['n_clips']} clips; {scores or 'no scores'}")
    for f in r["files"].values():
        print(f"  wrote {f}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from featkit.pipelines.classify import predict_file

    r = predict_file(args.model, args.path, args.output)
    acc = f"; accuracy {r['accuracy']:.3f} against the file's labels" if "accuracy" in r else ""
    print(f"{r['n_clips']} clips of {r['n_videos']} videos predicted{acc}; wrote {r['output']}")
    if r["n_training_videos"]:
        print(
            f"featkit predict: warning: {r['n_training_videos']} of these {r['n_videos']} videos are ones the model "
            "was trained on, so this accuracy is not a test; `featkit classify` reports cross-validated scores.",
            file=sys.stderr,
        )
    return 0


def _cmd_anomaly(args: argparse.Namespace) -> int:
    from featkit.pipelines.anomaly import fit_detector, score_file

    if args.anomaly_command == "fit":
        statistics = None if args.statistics == "all" else tuple(s for s in args.statistics.split(",") if s)
        r = fit_detector(
            args.path,
            args.output,
            method=args.method,
            n_neighbors=args.n_neighbors,
            contamination=args.contamination,
            statistics=statistics,
            combine=args.combine,
            tails=args.tails,
            law=args.law,
        )
        print(
            f"{args.method} detector fitted on {len(r['columns'])} columns of {r['n_clips']} clips of "
            f"{r['n_videos']} videos; wrote {r['output']}"
        )
        return 0
    r = score_file(args.model, args.path, args.output)
    print(
        f"{r['n_anomalous_clips']} of {r['n_clips']} clips and {r['n_anomalous_videos']} of {r['n_videos']} videos "
        "below the detector's threshold"
    )
    for f in r["files"].values():
        print(f"  wrote {f}")
    return 0


def _add_classify(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="HDF5 file written by featkit extract (needs labels)")
    p.add_argument("-o", "--output", default="classify_out", help="folder for report.json and PNGs (classify_out)")
    p.add_argument("--model", choices=("logreg", "svm", "gbt"), default="logreg", help="classifier (logreg)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, grouped by video (5)")
    p.add_argument("--save", metavar="MODEL.skops", help="also fit on all clips and save the model with skops")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--use-stats",
        metavar="NAMES",
        help="classify on these statistic groups only, comma-separated (e.g. motion,motion_speed for camera "
        "motion); the saved model keeps the selection, so predict takes the whole file (default: every column)",
    )
    p.add_argument(
        "--no-tune",
        action="store_true",
        help="do not choose the statistic-group balance and C by inner cross-validation on each fold's "
        "training videos (plain standardisation, C=1)",
    )


def _add_cluster(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="HDF5 file written by featkit extract")
    p.add_argument("-o", "--output", default="cluster_out", help="folder for the outputs (cluster_out)")
    methods = ("kmeans", "gmm", "agglomerative", "hdbscan")
    p.add_argument("--method", choices=methods, default="kmeans", help="method (kmeans)")
    p.add_argument(
        "--n-clusters", type=int, default=None, help="clusters (default: number of labels, else 3; not for hdbscan)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")


def _add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".skops file from featkit classify --save")
    p.add_argument("path", help="HDF5 file written by featkit extract (same encoder and stats)")
    p.add_argument("-o", "--output", default="predictions.csv", help="CSV, one row per clip (predictions.csv)")


def _contamination(text: str) -> float | str:
    return text if text == "auto" else float(text)


def _add_anomaly(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="anomaly_command", required=True)
    fit = sub.add_parser("fit", help="fit a detector on NORMAL.h5 and save it with skops")
    fit.add_argument("path", metavar="NORMAL.h5", help="HDF5 file written by featkit extract, of normal videos")
    fit.add_argument("-o", "--output", required=True, help=".skops file to write (detector.skops)")
    # As featkit.detection.METHODS / COMBINES, which import scikit-learn (~1 s): not for building a parser.
    fit.add_argument(
        "--method",
        choices=("knn", "mahalanobis", "gmm", "isolation_forest"),
        default="mahalanobis",
        help="scorer (mahalanobis)",
    )
    fit.add_argument(
        "--statistics",
        default="quality,polarity,residual",
        metavar="STATS",
        help="comma-separated statistic groups to score, or 'all' for every column (quality,polarity,residual: "
        "the columns that do not describe the scene; a file without polarity or residual is scored on what it "
        "has, with a warning)",
    )
    fit.add_argument(
        "--combine",
        choices=("auto", "joint", "fisher"),
        default="auto",
        help="one density of all the columns (joint), or one per statistic combined by Fisher's method "
        "(fisher; mahalanobis only); auto = fisher for mahalanobis, else joint",
    )
    fit.add_argument(
        "--tails",
        choices=("auto", "both"),
        default="auto",
        help="with fisher: test polarity and residual on the side a corruption moves them to (auto), or both "
        "tails of every statistic (both)",
    )
    fit.add_argument(
        "--law",
        choices=("t", "gaussian"),
        default="t",
        help="with fisher: read each statistic's distance against a Student t with degrees of freedom fitted "
        "to the normal clips (t), or against the Gaussian's chi-squared law (gaussian)",
    )
    fit.add_argument("--n-neighbors", type=int, default=5, help="neighbours for knn (5)")
    fit.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        help="expected share of anomalies among the normal clips, sets the threshold ('auto' = 0.01)",
    )
    score = sub.add_parser("score", help="score every clip and video of OUT.h5; write CSVs")
    score.add_argument("model", metavar="DETECTOR.skops", help="file from `featkit anomaly fit`")
    score.add_argument("path", metavar="OUT.h5", help="HDF5 file written by featkit extract (same encoder, stats)")
    score.add_argument(
        "-o", "--output", default="scores.csv", help="per-clip CSV (scores.csv); per-video CSV beside it"
    )


def _recipe(run):
    def wrapped(args: argparse.Namespace) -> int:
        _ensure_recipes_importable()
        return run(args)

    return wrapped


COMMANDS = (
    Command(
        "classify",
        help="cross-validate a classifier by video; write a JSON report and a confusion matrix",
        description="Scaler + classifier on clip features, cross-validated so that no video is split across folds "
        "(StratifiedGroupKFold, or GroupKFold when a class has fewer videos than folds). Balanced class weights; "
        "reports balanced accuracy and macro-F1 per clip and per video.",
        add_arguments=_add_classify,
        run=_recipe(_cmd_classify),
    ),
    Command(
        "cluster",
        help="cluster clips; write a JSON report, per-clip and per-video assignments (CSV) and a PNG",
        description="Standardise clip features and cluster them. Scores: NMI and ARI when the file has labels, "
        "silhouette always when defined.",
        add_arguments=_add_cluster,
        run=_recipe(_cmd_cluster),
    ),
    Command(
        "predict",
        help="apply a model saved by `featkit classify --save` to a feature file",
        description="Predict a label for every clip of a feature file, and for every video (clip probabilities "
        "averaged), with a model saved by `featkit classify --save`; write one CSV row per clip. The file must come "
        "from the same encoder and --stats. Accuracy is printed when the file has labels, with a warning when some "
        "of its videos are ones the model was trained on.",
        add_arguments=_add_predict,
        run=_recipe(_cmd_predict),
    ),
    Command(
        "anomaly",
        help="fit an anomaly detector on normal videos' features, or score a feature file with one",
        description="Fit featkit.ClipAnomalyDetector on the clips of a feature file of normal videos "
        "(`fit`), or score every clip and video of another file extracted with the same encoder and --stats "
        "(`score`). Higher scores are more normal; a clip below the detector's threshold is anomalous.",
        add_arguments=_add_anomaly,
        run=_recipe(_cmd_anomaly),
    ),
)
