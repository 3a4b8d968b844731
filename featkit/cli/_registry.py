"""The command registry: every ``featkit`` subcommand is a :class:`Command` listed by its module's ``COMMANDS``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """One ``featkit`` subcommand.

    Parameters
    ----------
    name : str
        What follows ``featkit`` on the command line.
    help : str
        One line for ``featkit --help``.
    description : str
        The paragraph of ``featkit NAME --help``.
    add_arguments : callable
        ``add_arguments(parser)`` adds the command's options (light imports only: ``--help`` builds every parser).
    run : callable
        ``run(args) -> int`` does the work and returns the exit code; heavy imports live inside it.

    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
