"""The command registry: every ``featkit`` subcommand is a :class:`Command` listed by its module's ``COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Command", "lazy"]


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


def lazy(module: str, name: str) -> Callable[..., Any]:
    """A function that imports ``module`` when called and calls its ``name`` (heavy imports stay out of --help)."""

    def call(*args: object) -> Any:
        return getattr(importlib.import_module(module), name)(*args)

    call.__qualname__ = call.__name__ = f"{module}.{name}"
    return call
