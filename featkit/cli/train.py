"""``featkit train``: its options and work live in :mod:`featkit.training.command` (add_arguments, run_cli)."""

from __future__ import annotations

from featkit.cli._registry import Command, lazy

__all__ = ["COMMANDS"]


COMMANDS = (
    Command(
        "train",
        help="train or fine-tune a VAE on your own videos (checkpoints, resume, held-out report)",
        description="Train a VAE (or fine-tune one with --init) on sampled frames and random crops of the videos "
        "under VIDEOS_DIR, holding out whole videos; write OUT.keras and a report OUT.json. A checkpoint is "
        "written after every epoch; running the same command again resumes.",
        # featkit.training.command imports numpy and the stdlib; TensorFlow only when training.
        add_arguments=lazy("featkit.training.command", "add_arguments"),
        run=lazy("featkit.training.command", "run_cli"),
    ),
)
