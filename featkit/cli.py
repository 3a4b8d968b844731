"""The ``featkit`` command line: ``featkit extract`` and ``featkit info``.

Exit codes: 0 success; 1 the run finished but the output records failed
videos; 2 nothing could be done (bad arguments, locked or mismatched output,
encoder not loadable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from featkit._version import __version__
from featkit.config import DEFAULT_STATS, ExtractionConfig, SamplingConfig
from featkit.exceptions import FeatkitError

__all__ = ["main"]


def _positive_int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def _fps(text: str) -> float | None:
    return None if text.lower() in {"none", "all", "native"} else float(text)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="featkit", description="Turn videos into features for machine learning.")
    parser.add_argument("--version", action="version", version=f"featkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ex = sub.add_parser(
        "extract",
        help="extract clip features from every video under a folder into HDF5",
        description="Decode every video under DIR, encode sampled clips with a VAE, store latent statistics in HDF5. "
        "Running the same command again resumes.",
    )
    ex.add_argument("root", metavar="DIR", help="folder of videos (searched recursively; DIR/<label>/... gives labels)")
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
    ex.add_argument("--encoder", default="default", help="'default' (shipped VAE) or a .keras file (default 'default')")
    ex.add_argument(
        "--stats",
        default=",".join(DEFAULT_STATS),
        help=f"comma-separated statistics (default {','.join(DEFAULT_STATS)}; also logvar_mean)",
    )
    ex.add_argument("--batch-size", type=int, default=64, help="frames per encoder call (default 64)")
    ex.add_argument("-j", "--jobs", type=int, default=1, help="decoding processes (default 1)")
    ex.add_argument("--decode-threads", type=int, default=1, help="decoder threads per video, 1 or 2 (default 1)")
    ex.add_argument("--retry-failed", action="store_true", help="retry videos recorded as failed")
    ex.add_argument("--overwrite", action="store_true", help="start a new file instead of resuming")
    ex.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")

    info = sub.add_parser("info", help="summarise a feature file")
    info.add_argument("path", help="HDF5 file written by featkit extract")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def _cmd_extract(args: argparse.Namespace) -> int:
    from featkit.extract import extract

    config = ExtractionConfig(
        sampling=SamplingConfig(clip_len=args.clip_len, fps=args.fps, stride=args.stride, max_clips=args.max_clips),
        encoder=args.encoder,
        stats=tuple(s.strip() for s in args.stats.split(",") if s.strip()),
        batch_size=args.batch_size,
        n_jobs=args.jobs,
        decode_threads=args.decode_threads,
        retry_failed=args.retry_failed,
    )
    report = extract(args.root, args.output, config, overwrite=args.overwrite, progress=not args.quiet)
    if not args.quiet:
        print(
            f"{report.output}: {report.n_extracted} videos extracted ({report.n_clips} clips), "
            f"{report.n_skipped} already done, {len(report.failures)} failed in this run, "
            f"{report.n_failed_total} failures recorded; {report.elapsed:.1f} s",
            file=sys.stderr,
        )
        for rec in report.failures[:20]:
            print(f"  failed: {rec.path}: {rec.reason}: {rec.message}", file=sys.stderr)
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
        "encoder": {k: encoder.get(k) for k in ("name", "sha256", "input_size", "latent_dim")},
        "sampling": json.loads(attrs.get("sampling", "null")),
        "stats": json.loads(attrs.get("stats", "null")),
        "decoder": attrs.get("decoder"),
        "failures": [
            {"path": p, "reason": r, "message": m}
            for p, r, m in zip(
                failures.get("path", []), failures.get("reason", []), failures.get("message", []), strict=True
            )
        ],
    }


def _cmd_info(args: argparse.Namespace) -> int:
    s = summarise(args.path)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"{s['path']}  ({s['layout']}, featkit {s['featkit_version']}, updated {s['updated']})")
    print(f"  videos    {s['n_videos']}  ({s['total_duration_s']:.1f} s of video)")
    print(f"  clips     {s['n_clips']} x {s['n_features']} features  (stats: {', '.join(s['stats'] or [])})")
    if s["labels"] and set(s["labels"]) != {""}:
        print("  labels    " + ", ".join(f"{k or '(none)'}: {v}" for k, v in s["labels"].items()))
    enc = s["encoder"]
    print(
        f"  encoder   {enc['name']}  latent {enc['latent_dim']}, input {enc['input_size']}px, "
        f"sha256 {str(enc['sha256'])[:12]}…"
    )
    print(f"  sampling  {s['sampling']}")
    print(f"  decoder   {s['decoder']}")
    print(f"  failures  {len(s['failures'])}")
    for rec in s["failures"]:
        print(f"    {rec['path']}: {rec['reason']}: {rec['message']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featkit`` command; return its exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    # TensorFlow's C++ start-up chatter is noise for CLI users; an explicit setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "extract":
            return _cmd_extract(args)
        return _cmd_info(args)
    except FeatkitError as exc:
        print(f"featkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"featkit {args.command}: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
