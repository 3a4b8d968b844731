"""``featkit extract``: every video under a folder (or in a list) to clip features in HDF5.

The options that set :class:`~featkit.config.ExtractionConfig` and
:class:`~featkit.config.SamplingConfig` fields are generated from :data:`CONFIG_FLAGS`;
their defaults come from the dataclasses, so a default is written once.
"""

from __future__ import annotations

import argparse
import sys

from featkit.cli._options import ConfigFlag, add_config_flags, values_from_args
from featkit.cli._registry import Command
from featkit.cli._runner import printable
from featkit.config import PRECISIONS, RUNTIMES, ExtractionConfig, SamplingConfig
from featkit.exceptions import ConfigError
from featkit.io.backends import BACKEND_CHOICES

__all__ = ["COMMANDS", "CONFIG_FLAGS", "config_from_args"]


def _positive_int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def fps_or_native(text: str) -> float | None:
    """``--fps`` values: a rate, or 'native' / 'all' / 'none' for every frame."""
    return None if text.lower() in {"none", "all", "native"} else float(text)


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


_S, _E = SamplingConfig, ExtractionConfig
_REPEATABLE_GLOB = {"metavar": "GLOB", "action": "append"}

#: The options that set config fields, in ``--help`` order.
CONFIG_FLAGS: tuple[ConfigFlag, ...] = (
    *(
        ConfigFlag(_E, name, (f"--{name}",), text, to_cli=list, from_cli=tuple, kwargs=_REPEATABLE_GLOB)
        for name, text in (
            (
                "include",
                "take exactly the files matching GLOB (path under DIR or name; repeatable), whatever their extension",
            ),
            ("exclude", "leave out the files matching GLOB (repeatable)"),
        )
    ),
    ConfigFlag(
        _E,
        "per_frame",
        ("--per-frame",),
        "also store mu and logvar of every sampled frame (/frames; featkit.load_frames reads them)",
        kwargs={"action": "store_true"},
    ),
    ConfigFlag(_S, "clip_len", ("--clip-len",), "sampled frames per clip (default {default})", kwargs={"type": int}),
    ConfigFlag(
        _S,
        "fps",
        ("--fps",),
        "frames per second to sample, by timestamp; 'native' for all (default {default})",
        kwargs={"type": fps_or_native},
    ),
    ConfigFlag(
        _S,
        "stride",
        ("--stride",),
        "sampled frames between clip starts (default: clip length, no overlap)",
        kwargs={"type": _positive_int_or_none},
    ),
    ConfigFlag(
        _S,
        "max_clips",
        ("--max-clips",),
        "at most this many clips per video, evenly spread (default all)",
        kwargs={"type": _positive_int_or_none},
    ),
    ConfigFlag(
        _E,
        "encoder",
        ("--encoder",),
        "'default' (shipped VAE), a .keras file, a SavedModel folder, or a TF Hub handle in the local cache "
        "(default '{default}')",
    ),
    ConfigFlag(
        _E,
        "precision",
        ("--precision",),
        "run the encoder as loaded (float32) or its TensorFlow Lite float16 / int8 variant, converted on first "
        "use and cached (default {default})",
        kwargs={"choices": PRECISIONS},
    ),
    ConfigFlag(
        _E,
        "runtime",
        ("--runtime",),
        "what runs the float32 default encoder: its shipped TensorFlow Lite model on LiteRT (litert: no "
        "TensorFlow import, starts fast) or the Keras model (keras); auto = litert for the default (default {default})",
        kwargs={"choices": RUNTIMES},
    ),
    ConfigFlag(
        _E,
        "stats",
        ("--stats",),
        "comma-separated statistics (default {default}; also logvar_mean, and anomaly: "
        "the mean negative ELBO per frame, column anomaly_nelbo, needs an encoder with a decoder)",
        to_cli=",".join,
        from_cli=_names,
    ),
    ConfigFlag(
        _E, "batch_size", ("--batch-size",), "frames per encoder call (default {default})", kwargs={"type": int}
    ),
    ConfigFlag(_E, "n_jobs", ("-j", "--jobs"), "decoding processes (default {default})", kwargs={"type": int}),
    ConfigFlag(
        _E,
        "decode_threads",
        ("--decode-threads",),
        "decoder threads per video, 1 or 2 (default {default})",
        kwargs={"type": int},
    ),
    ConfigFlag(
        _E, "retry_failed", ("--retry-failed",), "retry videos recorded as failed", kwargs={"action": "store_true"}
    ),
    ConfigFlag(
        _E,
        "timeout",
        ("--timeout",),
        "seconds one video's decoding may take before its worker is killed and the video recorded as "
        "failed (reason 'timeout'); 0 for no limit (default {default})",
        kwargs={"type": float},
    ),
    ConfigFlag(
        _E,
        "backend",
        ("--backend",),
        "decoder: 'auto' reads with PyAV when sampling at a frame rate (it skips frames no clip needs) and "
        "with decord for --fps native, each falling back to the other per video when it fails, crashes or "
        "hangs (default {default})",
        kwargs={"choices": BACKEND_CHOICES},
    ),
    ConfigFlag(
        _E,
        "scheduler",
        ("--scheduler",),
        "run the per-video work on this Dask cluster: its address (tcp://HOST:8786) or the path of its scheduler "
        "file (dask scheduler --scheduler-file PATH); this process only writes the file (needs featkit[dask]; workers "
        "need featkit and the videos at the same paths)",
        kwargs={"metavar": "ADDRESS"},
    ),
    ConfigFlag(
        _E,
        "prune",
        ("--prune",),
        "remove from the file the videos whose files are gone (default: keep them)",
        kwargs={"action": "store_true"},
    ),
)


def config_from_args(args: argparse.Namespace) -> ExtractionConfig:
    """The :class:`~featkit.config.ExtractionConfig` that parsed ``featkit extract`` arguments describe."""
    sampling = SamplingConfig(**values_from_args(args, CONFIG_FLAGS, SamplingConfig))
    return ExtractionConfig(sampling=sampling, **values_from_args(args, CONFIG_FLAGS, ExtractionConfig))


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "root",
        metavar="DIR",
        nargs="?",
        help="folder of videos (searched recursively; DIR/<label>/... gives labels); or --list",
    )
    p.add_argument(
        "--list",
        metavar="LIST",
        help="extract the videos a CSV or text file lists instead: one path per line, optionally with label and "
        "group columns (path,label,group header or none); relative paths resolve against the list's folder",
    )
    p.add_argument(
        "--add",
        action="store_true",
        help="add the videos of DIR to a file made from another folder (default: refused, the file records its folder)",
    )
    p.add_argument("-o", "--output", required=True, help="HDF5 file to write or resume")
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="also load encoder files that run code (Keras Lambda layers, SavedModel file/Python ops); trusted "
        "files only",
    )
    add_config_flags(p, CONFIG_FLAGS)
    p.add_argument("--overwrite", action="store_true", help="start a new file instead of resuming")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _print_report(report) -> None:
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


def _run(args: argparse.Namespace) -> int:
    from featkit.extraction import extract, extract_list

    if (args.root is None) == (args.list is None):
        raise ConfigError("featkit extract needs a folder DIR or --list LIST (one of them). Received: neither or both.")
    config = config_from_args(args)
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
    run, source = (extract, args.root) if args.list is None else (extract_list, args.list)
    report = run(
        source, args.output, config, overwrite=args.overwrite, progress=not args.quiet, encoder=encoder, add=args.add
    )
    if not args.quiet:
        _print_report(report)
    return 0 if report.ok else 1


COMMANDS = (
    Command(
        "extract",
        help="extract clip features from every video under a folder into HDF5",
        description="Decode every video under DIR, encode sampled clips with a VAE, store latent statistics in HDF5. "
        "Running the same command again resumes.",
        add_arguments=_add_arguments,
        run=_run,
    ),
)
