"""``featkit train``: its options and work live in :mod:`featkit.train` (add_arguments, run_cli)."""

from __future__ import annotations

import argparse

from featkit.cli._registry import Command

__all__ = ["COMMANDS"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from featkit.train import add_arguments  # numpy and stdlib at import; TensorFlow only when training

    add_arguments(p)


def _run(args: argparse.Namespace) -> int:
    from featkit.train import run_cli

    return run_cli(args)


COMMANDS = (
    Command(
        "train",
        help="train or fine-tune a VAE on your own videos (checkpoints, resume, held-out report)",
        description="Train a VAE (or fine-tune one with --init) on sampled frames and random crops of the videos "
        "under VIDEOS_DIR, holding out whole videos; write OUT.keras and a report OUT.json. A checkpoint is "
        "written after every epoch; running the same command again resumes.",
        add_arguments=_add_arguments,
        run=_run,
    ),
)
