"""The ``featkit`` command line: ``extract``, ``info``, and the recipes ``classify``, ``cluster``, ``predict``.

Exit codes: 0 success; 1 the run finished but the output records failed
videos; 2 nothing could be done (bad arguments, locked or mismatched output,
encoder not loadable); 3 featkit crashed (a bug, or an encoder failing midway:
a one-line message names a log file with the traceback; the output file is
left as it was); 130 interrupted (Ctrl-C) and 143 terminated (SIGTERM), both
after saving what was finished. See also :data:`EXIT_CODES` (printed by ``featkit --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from featkit._version import __version__
from featkit.config import DEFAULT_STATS, PRECISIONS, RUNTIMES, ExtractionConfig, SamplingConfig
from featkit.exceptions import ConfigError, FeatkitError

__all__ = ["EXIT_CODES", "main"]

#: What each exit status of ``featkit`` means (also the epilog of ``--help``).
EXIT_CODES = {
    0: "success",
    1: "the run finished, but the output records failed videos (see `featkit info OUT.h5`)",
    2: "nothing was done: bad arguments or input, no videos, output locked, unusable or made with other "
    "settings, encoder not loadable",
    3: "featkit crashed (a bug, or an encoder failing midway): one line names a log with the traceback",
    130: "interrupted (Ctrl-C); finished work is kept, run the same command again to resume",
    143: "terminated (SIGTERM); finished work is kept, run the same command again to resume",
}
_EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())

#: Exit code of a run that crashed (an unexpected exception), distinct from 1 (finished, failures recorded).
EXIT_CRASH = 3
EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(SystemExit):
    """SIGTERM, raised where Python handles it, so the run stops like on Ctrl-C (finished work is saved)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated(EXIT_TERMINATED)


def printable(text: object, *, newlines: bool = False) -> str:
    r"""``text`` safe to print on a terminal: control characters and undecodable bytes escaped.

    A file name can hold escape sequences (``\x1b[2J``) or bytes that are not
    UTF-8 (surrogate-escaped by Python); both are shown as ``\xNN``.
    """
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch.isprintable() or (newlines and ch == "\n"):
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (PEP 383)
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _crash_log(command: str) -> Path | None:
    """Write the current exception's traceback to a log file; return its path (None if nowhere writable)."""
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "featkit" / "logs"
    for folder in (base, Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            text = f"featkit {__version__} {command}: {' '.join(sys.argv)}\n\n{traceback.format_exc()}"
            path.write_text(text, errors="backslashreplace")
        except OSError:
            continue
        return path
    return None


def _positive_int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def _fps(text: str) -> float | None:
    return None if text.lower() in {"none", "all", "native"} else float(text)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featkit",
        description="Turn videos into features for machine learning.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--fp 4` must not silently mean --fps
    )
    parser.add_argument("--version", action="version", version=f"featkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ex = sub.add_parser(
        "extract",
        help="extract clip features from every video under a folder into HDF5",
        description="Decode every video under DIR, encode sampled clips with a VAE, store latent statistics in HDF5. "
        "Running the same command again resumes.",
    )
    ex.add_argument(
        "root",
        metavar="DIR",
        nargs="?",
        help="folder of videos (searched recursively; DIR/<label>/... gives labels); or --list",
    )
    ex.add_argument(
        "--list",
        metavar="LIST",
        help="extract the videos a CSV or text file lists instead: one path per line, optionally with label and "
        "group columns (path,label,group header or none); relative paths resolve against the list's folder",
    )
    ex.add_argument(
        "--include",
        metavar="GLOB",
        action="append",
        default=[],
        help="take exactly the files matching GLOB (path under DIR or name; repeatable), whatever their extension",
    )
    ex.add_argument(
        "--exclude", metavar="GLOB", action="append", default=[], help="leave out the files matching GLOB (repeatable)"
    )
    ex.add_argument(
        "--add",
        action="store_true",
        help="add the videos of DIR to a file made from another folder (default: refused, the file records its folder)",
    )
    ex.add_argument(
        "--per-frame",
        action="store_true",
        help="also store mu and logvar of every sampled frame (/frames; featkit.load_frames reads them)",
    )
    ex.add_argument("-o", "--output", required=True, help="HDF5 file to write or resume")
    ex.add_argument("--clip-len", type=int, default=16, help="sampled frames per clip (default 16)")
    ex.add_argument(
        "--fps", type=_fps, default=8.0, help="frames per second to sample, by timestamp; 'native' for all (default 8)"
    )
    ex.add_argument(
        "--stride",
        type=_positive_int_or_none,
        default=None,
        help="sampled frames between clip starts (default: clip length, no overlap)",
    )
    ex.add_argument(
        "--max-clips",
        type=_positive_int_or_none,
        default=None,
        help="at most this many clips per video, evenly spread (default all)",
    )
    ex.add_argument(
        "--encoder",
        default="default",
        help="'default' (shipped VAE), a .keras file, a SavedModel folder, or a TF Hub handle in the local cache "
        "(default 'default')",
    )
    ex.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="run the encoder as loaded (float32) or its TensorFlow Lite float16 / int8 variant, converted on first "
        "use and cached (default float32)",
    )
    ex.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="what runs the float32 default encoder: its shipped TensorFlow Lite model on LiteRT (litert: no "
        "TensorFlow import, starts fast) or the Keras model (keras); auto = litert for the default (default auto)",
    )
    ex.add_argument(
        "--unsafe",
        action="store_true",
        help="also load encoder files that run code (Keras Lambda layers, SavedModel file/Python ops); trusted "
        "files only",
    )
    ex.add_argument(
        "--stats",
        default=",".join(DEFAULT_STATS),
        help=f"comma-separated statistics (default {','.join(DEFAULT_STATS)}; also logvar_mean, and anomaly: "
        "the mean negative ELBO per frame, column anomaly_nelbo, needs an encoder with a decoder)",
    )
    ex.add_argument("--batch-size", type=int, default=64, help="frames per encoder call (default 64)")
    ex.add_argument("-j", "--jobs", type=int, default=1, help="decoding processes (default 1)")
    ex.add_argument("--decode-threads", type=int, default=1, help="decoder threads per video, 1 or 2 (default 1)")
    ex.add_argument("--retry-failed", action="store_true", help="retry videos recorded as failed")
    ex.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds one video's decoding may take before its worker is killed and the video recorded as "
        "failed (reason 'timeout'); 0 for no limit (default 600)",
    )
    ex.add_argument(
        "--backend",
        choices=("auto", "decord", "pyav"),
        default="auto",
        help="decoder: 'auto' uses decord and falls back to PyAV per video when decord fails, crashes or hangs "
        "(default auto)",
    )
    ex.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run the per-video work on this Dask cluster: its address (tcp://HOST:8786) or the path of its scheduler "
        "file (dask scheduler --scheduler-file PATH); this process only writes the file (needs featkit[dask]; workers "
        "need featkit and the videos at the same paths)",
    )
    ex.add_argument(
        "--prune", action="store_true", help="remove from the file the videos whose files are gone (default: keep them)"
    )
    ex.add_argument("--overwrite", action="store_true", help="start a new file instead of resuming")
    ex.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")

    xp = sub.add_parser(
        "export",
        help="write an encoder as a TensorFlow SavedModel (tensorflow_hub.load / tf.saved_model.load read it)",
        description="Write the default encoder (or --encoder E) as a SavedModel folder with a serving signature "
        "frames float32 (None, S, S, 3) in [0, 1] -> {mu, logvar} (and decode for a VAE). "
        "`featkit extract --encoder DIR` then gives the same features.",
    )
    xp.add_argument("-o", "--output", required=True, metavar="DIR", help="SavedModel folder to create")
    xp.add_argument("--encoder", default="default", help="encoder to export, as for extract (default 'default')")
    xp.add_argument(
        "--variants",
        default="",
        help="comma-separated TensorFlow Lite variants to bundle (float16,int8), so --precision needs no conversion",
    )
    xp.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    xp.add_argument("--unsafe", action="store_true", help="also load an encoder file that runs code (trusted only)")

    info = sub.add_parser(
        "info",
        help="summarise a feature file",
        description="Print what a feature file holds: videos, clips, labels, encoder, sampling, decoders and failed "
        "videos with their reasons (--json: the same as JSON).",
    )
    info.add_argument("path", help="HDF5 file written by featkit extract")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")

    cl = sub.add_parser(
        "classify",
        help="cross-validate a classifier by video; write a JSON report and a confusion matrix",
        description="Scaler + classifier on clip features, cross-validated so that no video is split across folds "
        "(StratifiedGroupKFold, or GroupKFold when a class has fewer videos than folds). Balanced class weights; "
        "reports balanced accuracy and macro-F1 per clip and per video.",
    )
    cl.add_argument("path", help="HDF5 file written by featkit extract (needs labels)")
    cl.add_argument("-o", "--output", default="classify_out", help="folder for report.json and PNGs (classify_out)")
    cl.add_argument("--model", choices=("logreg", "svm", "gbt"), default="logreg", help="classifier (logreg)")
    cl.add_argument("--folds", type=int, default=5, help="cross-validation folds, grouped by video (5)")
    cl.add_argument("--save", metavar="MODEL.skops", help="also fit on all clips and save the model with skops")
    cl.add_argument("--seed", type=int, default=0, help="random seed (0)")
    cl.add_argument(
        "--use-stats",
        metavar="NAMES",
        help="classify on these statistic groups only, comma-separated (e.g. motion,motion_speed for camera "
        "motion); the saved model keeps the selection, so predict takes the whole file (default: every column)",
    )

    cu = sub.add_parser(
        "cluster",
        help="cluster clips; write a JSON report, per-clip and per-video assignments (CSV) and a PNG",
        description="Standardise clip features and cluster them. Scores: NMI and ARI when the file has labels, "
        "silhouette always when defined.",
    )
    cu.add_argument("path", help="HDF5 file written by featkit extract")
    cu.add_argument("-o", "--output", default="cluster_out", help="folder for the outputs (cluster_out)")
    cu.add_argument(
        "--method", choices=("kmeans", "gmm", "agglomerative", "hdbscan"), default="kmeans", help="method (kmeans)"
    )
    cu.add_argument(
        "--n-clusters", type=int, default=None, help="clusters (default: number of labels, else 3; not for hdbscan)"
    )
    cu.add_argument("--seed", type=int, default=0, help="random seed (0)")

    pr = sub.add_parser(
        "predict",
        help="apply a model saved by `featkit classify --save` to a feature file",
        description="Predict a label for every clip of a feature file, and for every video (clip probabilities "
        "averaged), with a model saved by `featkit classify --save`; write one CSV row per clip. The file must come "
        "from the same encoder and --stats. Accuracy is printed when the file has labels, with a warning when some "
        "of its videos are ones the model was trained on.",
    )
    pr.add_argument("model", help=".skops file from featkit classify --save")
    pr.add_argument("path", help="HDF5 file written by featkit extract (same encoder and stats)")
    pr.add_argument("-o", "--output", default="predictions.csv", help="CSV, one row per clip (predictions.csv)")

    an = sub.add_parser(
        "anomaly",
        help="fit an anomaly detector on normal videos' features, or score a feature file with one",
        description="Fit featkit.ClipAnomalyDetector on the clips of a feature file of normal videos "
        "(`fit`), or score every clip and video of another file extracted with the same encoder and --stats "
        "(`score`). Higher scores are more normal; a clip below the detector's threshold is anomalous.",
    )
    an_sub = an.add_subparsers(dest="anomaly_command", required=True)
    an_fit = an_sub.add_parser("fit", help="fit a detector on NORMAL.h5 and save it with skops")
    an_fit.add_argument("path", metavar="NORMAL.h5", help="HDF5 file written by featkit extract, of normal videos")
    an_fit.add_argument("-o", "--output", required=True, help=".skops file to write (detector.skops)")
    an_fit.add_argument(
        "--method", choices=("knn", "mahalanobis", "gmm", "isolation_forest"), default="knn", help="scorer (knn)"
    )
    an_fit.add_argument("--n-neighbors", type=int, default=5, help="neighbours for knn (5)")
    an_fit.add_argument(
        "--contamination",
        type=lambda t: t if t == "auto" else float(t),
        default="auto",
        help="expected share of anomalies among the normal clips, sets the threshold ('auto' = 0.01)",
    )
    an_score = an_sub.add_parser("score", help="score every clip and video of OUT.h5; write CSVs")
    an_score.add_argument("model", metavar="DETECTOR.skops", help="file from `featkit anomaly fit`")
    an_score.add_argument("path", metavar="OUT.h5", help="HDF5 file written by featkit extract (same encoder, stats)")
    an_score.add_argument(
        "-o", "--output", default="scores.csv", help="per-clip CSV (scores.csv); per-video CSV beside it"
    )

    from featkit.generative.commands import add_subcommands as add_generative_commands

    add_generative_commands(sub)  # reconstruct, complete, generate

    from featkit.training.command import add_arguments as add_train_arguments

    add_train_arguments(
        sub.add_parser(
            "train",
            help="train or fine-tune a VAE on your own videos (checkpoints, resume, held-out report)",
            description="Train a VAE (or fine-tune one with --init) on sampled frames and random crops of the videos "
            "under VIDEOS_DIR, holding out whole videos; write OUT.keras and a report OUT.json. A checkpoint is "
            "written after every epoch; running the same command again resumes.",
        )
    )
    xf = sub.add_parser(
        "export-features",
        help="write a feature file as one table (Parquet or CSV): one row per clip, readable without featkit",
        description="Write every clip of a feature file as a row: video path, label, group, clip number, start and "
        "end frame and time, then one named column per feature. OUT.parquet needs pyarrow; .csv needs nothing.",
    )
    xf.add_argument("path", help="HDF5 file written by featkit extract")
    xf.add_argument("-o", "--output", required=True, help="OUT.parquet or OUT.csv")

    leaves = [p for p in sub.choices.values() if p is not an] + list(an_sub.choices.values())
    for p in [an, *leaves]:
        p.allow_abbrev = False  # also for the subcommands other modules add
    for p in leaves:
        p.add_argument(
            "--log",
            metavar="FILE",
            default=None,
            help="append what TensorFlow, FFmpeg and decord print to FILE (default: hidden, counted in one line)",
        )
    return parser


def _cmd_export_features(args: argparse.Namespace) -> int:
    from featkit.export_table import export_features

    n = export_features(args.path, args.output)
    print(f"wrote {n} clips to {args.output}")
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from pipelines.classify import run_classification

    use = [name.strip() for name in args.use_stats.split(",") if name.strip()] if args.use_stats else None
    r = run_classification(
        args.path,
        args.output,
        model=args.model,
        folds=args.folds,
        save=args.save,
        random_state=args.seed,
        stats=use,
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
    from pipelines.cluster import run_clustering

    r = run_clustering(args.path, args.output, method=args.method, n_clusters=args.n_clusters, random_state=args.seed)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in r["clip"].items())
    print(f"{args.method}: {r['n_clusters_found']} clusters over {r['n_clips']} clips; {scores or 'no scores'}")
    for f in r["files"].values():
        print(f"  wrote {f}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from pipelines.classify import predict_file

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
    from pipelines.anomaly import fit_detector, score_file

    if args.anomaly_command == "fit":
        r = fit_detector(
            args.path, args.output, method=args.method, n_neighbors=args.n_neighbors, contamination=args.contamination
        )
        print(f"{args.method} detector fitted on {r['n_clips']} clips of {r['n_videos']} videos; wrote {r['output']}")
        return 0
    r = score_file(args.model, args.path, args.output)
    print(
        f"{r['n_anomalous_clips']} of {r['n_clips']} clips and {r['n_anomalous_videos']} of {r['n_videos']} videos "
        "below the detector's threshold"
    )
    for f in r["files"].values():
        print(f"  wrote {f}")
    return 0


def _ensure_recipes_importable() -> None:
    """Make ``pipelines`` importable when featkit runs from a source checkout."""
    try:
        import pipelines  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cmd_extract(args: argparse.Namespace) -> int:
    from featkit.extraction import extract

    if (args.root is None) == (args.list is None):
        raise ConfigError("featkit extract needs a folder DIR or --list LIST (one of them). Received: neither or both.")
    config = ExtractionConfig(
        sampling=SamplingConfig(clip_len=args.clip_len, fps=args.fps, stride=args.stride, max_clips=args.max_clips),
        encoder=args.encoder,
        precision=args.precision,
        runtime=args.runtime,
        stats=tuple(s.strip() for s in args.stats.split(",") if s.strip()),
        batch_size=args.batch_size,
        n_jobs=args.jobs,
        decode_threads=args.decode_threads,
        retry_failed=args.retry_failed,
        timeout=args.timeout,
        backend=args.backend,
        scheduler=args.scheduler,
        prune=args.prune,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        per_frame=args.per_frame,
    )
    source = args.root if args.list is None else args.list
    encoder = None
    if args.unsafe:  # the config holds no trust setting: load here, with the user's explicit consent
        from featkit.encoders import load_encoder
        from featkit.store import precheck_output

        precheck_output(args.output, overwrite=args.overwrite)  # before TensorFlow: a wrong -o fails at once
        encoder = load_encoder(
            config.encoder,
            batch_size=config.batch_size,
            precision=config.precision,
            unsafe=True,
            runtime=config.runtime,
        )
    if args.list is not None:
        from featkit.extraction import extract_list

        report = extract_list(
            args.list,
            args.output,
            config,
            overwrite=args.overwrite,
            progress=not args.quiet,
            encoder=encoder,
            add=args.add,
        )
    else:
        report = extract(
            source,
            args.output,
            config,
            overwrite=args.overwrite,
            progress=not args.quiet,
            encoder=encoder,
            add=args.add,
        )
    if not args.quiet:
        print(
            f"{report.output}: {report.n_extracted} videos extracted ({report.n_clips} clips), "
            f"{report.n_skipped} already done, {len(report.failures)} failed in this run, "
            f"{report.n_failed_total} failures recorded"
            + (f", {report.n_pruned} removed (files gone)" if report.n_pruned else "")
            + f"; {report.elapsed:.1f} s",
            file=sys.stderr,
        )
        if report.skipped:
            print(
                f"  passed over {sum(report.skipped.values())} files as not video: {report.skipped.summary()} "
                "(--include GLOB takes others)",
                file=sys.stderr,
            )
        for paths in report.duplicates[:5]:
            print(
                f"  same content (sha256) stored {len(paths)} times, one group in load_features: {', '.join(paths)}",
                file=sys.stderr,
            )
        if len(report.duplicates) > 5:
            print(f"  ... and {len(report.duplicates) - 5} more sets of identical videos", file=sys.stderr)
        for rec in report.failures[:20]:
            print(f"  failed: {printable(rec.path)}: {rec.reason}: {printable(rec.message)}", file=sys.stderr)
        if len(report.failures) > 20:
            print(f"  ... and {len(report.failures) - 20} more (see `featkit info {report.output}`)", file=sys.stderr)
    return 0 if report.ok else 1


def summarise(path: str) -> dict[str, Any]:
    """Summary of a feature file as a JSON-ready dict (what ``featkit info`` prints)."""
    import numpy as np

    from featkit.store import open_feature_file, read_table

    with open_feature_file(path) as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        videos = read_table(f, "videos")
        failures = read_table(f, "failures")
        n_clips, n_features = f["features"].shape
    labels, counts = np.unique(videos.get("label", np.zeros(0, dtype=object)).astype(str), return_counts=True)
    # Which decoder made each video's features (files written before the column: all decord).
    n_videos = len(videos.get("path", []))
    used = videos.get("backend", np.full(n_videos, "decord", dtype=object)).astype(str)
    backends, backend_counts = np.unique(used, return_counts=True)
    encoder = json.loads(attrs.get("encoder", "null")) or {}
    return {
        "path": path,
        "layout": f"{attrs.get('featkit_layout')} v{attrs.get('layout_version')}",
        "featkit_version": attrs.get("featkit_version"),
        "created": attrs.get("created"),
        "updated": attrs.get("updated"),
        "n_videos": len(videos.get("path", [])),
        "n_clips": int(n_clips),
        "n_features": int(n_features),
        "labels": {str(k): int(v) for k, v in zip(labels, counts, strict=True)},
        "total_duration_s": float(np.sum(videos.get("duration", [0.0]))),
        "encoder": {
            **{k: encoder.get(k) for k in ("name", "sha256", "input_size", "latent_dim")},
            "precision": encoder.get("precision", "float32"),  # absent: the model as loaded
            "runtime": encoder.get("runtime", "keras"),  # absent: written before the LiteRT runtime
        },
        "sampling": json.loads(attrs.get("sampling", "null")),
        "stats": json.loads(attrs.get("stats", "null")),
        "decoder": attrs.get("decoder"),
        "roots": json.loads(attrs.get("roots", "null")) or [],
        "backends": {str(k): int(v) for k, v in zip(backends, backend_counts, strict=True)},
        "failures": [
            {"path": p, "reason": r, "message": m}
            for p, r, m in zip(
                failures.get("path", []), failures.get("reason", []), failures.get("message", []), strict=True
            )
        ],
    }


def _cmd_export(args: argparse.Namespace) -> int:
    from featkit.encoders.export import export_encoder

    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    out = export_encoder(args.encoder, args.output, overwrite=args.overwrite, variants=variants, unsafe=args.unsafe)
    bundled = f" with {', '.join(variants)} variants" if variants else ""
    print(f"wrote {out}{bundled}: serving_default(frames) -> mu, logvar; load with tensorflow_hub.load('{out}')")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    s = summarise(args.path)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"{printable(s['path'])}  ({s['layout']}, featkit {s['featkit_version']}, updated {s['updated']})")
    print(f"  videos    {s['n_videos']}  ({s['total_duration_s']:.1f} s of video)")
    if s["roots"]:
        print(f"  from      {', '.join(s['roots'])}")
    print(f"  clips     {s['n_clips']} x {s['n_features']} features  (stats: {', '.join(s['stats'] or [])})")
    if s["labels"] and set(s["labels"]) != {""}:
        print("  labels    " + ", ".join(f"{k or '(none)'}: {v}" for k, v in s["labels"].items()))
    enc = s["encoder"]
    print(
        f"  encoder   {enc['name']}  latent {enc['latent_dim']}, input {enc['input_size']}px, {enc['precision']} "
        f"on {enc['runtime']}, "
        f"sha256 {str(enc['sha256'])[:12]}…"
    )
    print(f"  sampling  {s['sampling']}")
    print(f"  decoder   {s['decoder']}")
    if s["backends"]:
        print("  backends  " + ", ".join(f"{k}: {v} videos" for k, v in s["backends"].items()))
    print(f"  failures  {len(s['failures'])}")
    for rec in s["failures"]:
        print(f"    {printable(rec['path'])}: {printable(rec['reason'])}: {printable(rec['message'])}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featkit`` command; return its exit code."""
    from featkit._stderr import NativeStderr, quiet_library_loggers

    parser = _build_parser()
    args = parser.parse_args(argv)
    quiet_library_loggers()  # before TensorFlow is imported; explicit settings win
    native = NativeStderr(args.log)
    with native:
        code = _run(args)
    if native.n_lines and not getattr(args, "quiet", False):
        where = f"in {args.log}" if args.log else "hidden; --log FILE keeps them"
        print(f"featkit {args.command}: {native.n_lines} lines from TensorFlow/FFmpeg/decord {where}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        if args.command == "extract":
            return _cmd_extract(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command in ("reconstruct", "complete", "generate"):
            from featkit.generative.commands import run as run_generative

            return run_generative(args)
        if args.command == "train":
            from featkit.training.command import run_cli

            return run_cli(args)
        if args.command == "export-features":
            return _cmd_export_features(args)
        if args.command in ("classify", "cluster", "predict", "anomaly"):
            _ensure_recipes_importable()
            commands = {"classify": _cmd_classify, "cluster": _cmd_cluster, "predict": _cmd_predict}
            return {**commands, "anomaly": _cmd_anomaly}[args.command](args)
        return _cmd_info(args)
    except FeatkitError as exc:
        print(f"featkit {args.command}: error: {printable(exc, newlines=True)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"featkit {args.command}: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"featkit {args.command}: terminated; run the same command again to resume.", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:  # noqa: BLE001 - a bug or a failing encoder: one line, a log, its own exit code
        log = _crash_log(args.command)
        where = f"; details in {log}" if log else ""
        print(
            f"featkit {args.command}: crashed: {type(exc).__name__}: {printable(exc)}{where}. The output was left "
            "as it was; please report this with the log.",
            file=sys.stderr,
        )
        return EXIT_CRASH
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    raise SystemExit(main())
