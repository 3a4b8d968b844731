"""``featkit info``: summarise a feature file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from featkit.cli._registry import Command
from featkit.cli._runner import printable

__all__ = ["COMMANDS", "summarise"]


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


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="HDF5 file written by featkit extract")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


COMMANDS = (
    Command(
        "info",
        help="summarise a feature file",
        description="Print what a feature file holds: videos, clips, labels, encoder, sampling, decoders and failed "
        "videos with their reasons (--json: the same as JSON).",
        add_arguments=_add_arguments,
        run=_cmd_info,
    ),
)
