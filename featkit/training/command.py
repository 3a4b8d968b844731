"""The ``featkit train`` command: its options, mapped one to one onto :class:`TrainConfig`, and its run.

Every :class:`~featkit.training.config.TrainConfig` field is one option whose ``dest`` is the
field's name, so :func:`run_cli` builds the config from the parsed arguments without a list of
keywords; the remaining options (output, checkpoint folder, resume, quiet) go to
:func:`~featkit.training.job.train_vae_on_videos`.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from typing import Any

from featkit.training.config import TrainConfig

__all__ = ["add_arguments", "run_cli"]


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",") if t.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def _int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def _config_options(d: TrainConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """``(flag, TrainConfig field, argparse keywords)`` of each config option; the default is the field's."""
    scales = ",".join(f"{s:g}" for s in d.crop_scales)
    return [
        (
            "--init",
            "init",
            {
                "help": "start from 'default' (the shipped VAE) or a .keras file from featkit train "
                "(default: a new model)"
            },
        ),
        ("--epochs", "epochs", {"type": int, "help": f"passes over the frames ({d.epochs})"}),
        ("--latent-dim", "latent_dim", {"type": int, "help": "latent size (the initial model's / default's)"}),
        ("--input-size", "input_size", {"type": int, "help": "frame side in pixels (the initial model's / 64)"}),
        ("--widths", "widths", {"type": _ints, "help": "conv filters, e.g. 32,64,128,128 (as the default)"}),
        ("--beta", "beta", {"type": float, "help": "KL weight (the initial model's / default's)"}),
        ("--obs-var", "obs_var", {"type": float, "help": "decoder variance (the initial model's / default's)"}),
        ("--batch-size", "batch_size", {"type": int, "help": f"frames per step ({d.batch_size})"}),
        (
            "--lr",
            "learning_rate",
            {"type": float, "metavar": "LR", "help": "Adam learning rate, cosine decay (1e-3; 1e-4 with --init)"},
        ),
        ("--fps", "fps", {"type": float, "help": f"frames sampled per second of video ({d.fps:g})"}),
        (
            "--max-per-video",
            "max_per_video",
            {"type": _int_or_none, "help": f"sampled frames per video at most ({d.max_per_video}; 'all')"},
        ),
        ("--crops", "crops", {"type": int, "help": f"random crops per training frame ({d.crops})"}),
        ("--crop-scales", "crop_scales", {"type": _floats, "help": f"crop scales, comma-separated ({scales})"}),
        ("--no-flip", "flip", {"action": "store_false", "help": "no random horizontal flips"}),
        (
            "--holdout-fraction",
            "holdout_fraction",
            {
                "type": float,
                "help": f"fraction of whole videos held out for the report ({d.holdout_fraction:g}; 0: none)",
            },
        ),
        (
            "--holdout-videos",
            "holdout_videos",
            {
                "nargs": "+",
                "metavar": "VIDEO",
                "help": "videos to hold out instead (path, name or stem; put VIDEOS_DIR first)",
            },
        ),
        ("--seed", "seed", {"type": int, "help": f"random seed ({d.seed})"}),
    ]


def add_arguments(parser: Any) -> None:
    """Add the options of ``featkit train`` to an :class:`argparse.ArgumentParser`."""
    d = TrainConfig()
    parser.add_argument("root", metavar="VIDEOS_DIR", help="folder of videos (searched recursively), or one video")
    parser.add_argument("-o", "--output", required=True, help="the .keras file to write (report: same name, .json)")
    hold = parser.add_mutually_exclusive_group()  # a fraction of the videos, or named ones
    for flag, field, kwargs in _config_options(d):
        target = hold if field in ("holdout_fraction", "holdout_videos") else parser
        target.add_argument(flag, dest=field, default=getattr(d, field), **kwargs)
    parser.add_argument(
        "--checkpoint-dir", default=None, help="checkpoint folder (default: OUT without .keras + .ckpt)"
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume", action="store_true", help="require a checkpoint to resume (a matching one is resumed anyway)"
    )
    resume.add_argument("--overwrite", action="store_true", help="discard the checkpoint and start again")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def run_cli(args: Any) -> int:
    """Run ``featkit train`` from parsed arguments; return the exit code (errors propagate)."""
    # Here, not at the top: `featkit --help` builds this command's parser, and these import numpy (~0.1 s).
    from featkit.training.data import TrainingWarning
    from featkit.training.job import train_vae_on_videos
    from featkit.training.report import summary_lines

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    default_show = warnings.showwarning

    def show(message: Any, category: type[Warning], *rest: Any, **kwargs: Any) -> None:
        if issubclass(category, TrainingWarning):
            print(f"featkit train: warning: {message}", file=sys.stderr)
        else:
            default_show(message, category, *rest, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("always", TrainingWarning)
        warnings.showwarning = show
        result = train_vae_on_videos(
            args.root,
            args.output,
            config,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    if not args.quiet:
        if result.resumed_from is not None:
            print(f"featkit train: resumed after epoch {result.resumed_from}", file=sys.stderr)
        for line in summary_lines(result.report):
            print(line, file=sys.stderr)
    return 0
