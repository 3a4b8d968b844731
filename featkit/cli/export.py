"""``featkit export`` (an encoder as a SavedModel) and ``featkit export-features`` (a feature file as one table)."""

from __future__ import annotations

import argparse

from featkit.cli._registry import Command

__all__ = ["COMMANDS"]


def _add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="SavedModel folder to create")
    p.add_argument("--encoder", default="default", help="encoder to export, as for extract (default 'default')")
    p.add_argument(
        "--variants",
        default="",
        help="comma-separated TensorFlow Lite variants to bundle (float16,int8), so --precision needs no conversion",
    )
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    p.add_argument("--unsafe", action="store_true", help="also load an encoder file that runs code (trusted only)")


def _export(args: argparse.Namespace) -> int:
    from featkit.encoders.export import export_encoder

    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    out = export_encoder(args.encoder, args.output, overwrite=args.overwrite, variants=variants, unsafe=args.unsafe)
    bundled = f" with {', '.join(variants)} variants" if variants else ""
    print(f"wrote {out}{bundled}: serving_default(frames) -> mu, logvar; load with tensorflow_hub.load('{out}')")
    return 0


def _add_export_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="HDF5 file written by featkit extract")
    p.add_argument("-o", "--output", required=True, help="OUT.parquet or OUT.csv")


def _export_features(args: argparse.Namespace) -> int:
    from featkit.export_table import export_features

    n = export_features(args.path, args.output)
    print(f"wrote {n} clips to {args.output}")
    return 0


EXPORT = Command(
    "export",
    help="write an encoder as a TensorFlow SavedModel (tensorflow_hub.load / tf.saved_model.load read it)",
    description="Write the default encoder (or --encoder E) as a SavedModel folder with a serving signature "
    "frames float32 (None, S, S, 3) in [0, 1] -> {mu, logvar} (and decode for a VAE). "
    "`featkit extract --encoder DIR` then gives the same features.",
    add_arguments=_add_export,
    run=_export,
)
EXPORT_FEATURES = Command(
    "export-features",
    help="write a feature file as one table (Parquet or CSV): one row per clip, readable without featkit",
    description="Write every clip of a feature file as a row: video path, label, group, clip number, start and "
    "end frame and time, then one named column per feature. OUT.parquet needs pyarrow; .csv needs nothing.",
    add_arguments=_add_export_features,
    run=_export_features,
)
COMMANDS = (EXPORT, EXPORT_FEATURES)
