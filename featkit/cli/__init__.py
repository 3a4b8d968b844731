"""The ``featkit`` command line: ``extract``, ``info``, the recipes ``classify``, ``cluster``, ``predict``, and more.

Each command is a :class:`~featkit.cli._registry.Command` in the ``COMMANDS`` of
one module of this package; :func:`main` builds one parser from them all. Every
command module imports only light modules at import time (``featkit --help``
builds every parser); heavy imports live inside its ``run``.

Exit codes: 0 success; 1 the run finished but the output records failed
videos; 2 nothing could be done (bad arguments, locked or mismatched output,
encoder not loadable); 3 featkit crashed (a bug, or an encoder failing midway:
a one-line message names a log file with the traceback; the output file is
left as it was); 130 interrupted (Ctrl-C) and 143 terminated (SIGTERM), both
after saving what was finished. See also :data:`EXIT_CODES` (printed by ``featkit --help``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from featkit._version import __version__
from featkit.cli import export, extract, generative, info, recipes, train
from featkit.cli._registry import Command
from featkit.cli._runner import EPILOG, EXIT_CODES, EXIT_CRASH, EXIT_TERMINATED, printable, run_guarded
from featkit.cli.info import summarise

__all__ = ["COMMANDS", "EXIT_CODES", "EXIT_CRASH", "EXIT_TERMINATED", "main", "printable", "summarise"]

#: Every command, in ``featkit --help`` order.
COMMANDS: tuple[Command, ...] = (
    *extract.COMMANDS,
    export.EXPORT,
    *info.COMMANDS,
    *recipes.COMMANDS,
    *generative.COMMANDS,
    *train.COMMANDS,
    export.EXPORT_FEATURES,
)


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run something: ``parser`` itself, or the leaves of its subcommands."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    for p in subs[0].choices.values():
        p.allow_abbrev = False  # `--fp 4` must not silently mean --fps, in nested subcommands too
    return [leaf for p in subs[0].choices.values() for leaf in _leaves(p)]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featkit",
        description="Turn videos into features for machine learning.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--fp 4` must not silently mean --fps
    )
    parser.add_argument("--version", action="version", version=f"featkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description, allow_abbrev=False)
        command.add_arguments(p)
        p.set_defaults(_run=command.run)
    for leaf in _leaves(parser):
        leaf.add_argument(
            "--log",
            metavar="FILE",
            default=None,
            help="append what TensorFlow, FFmpeg and decord print to FILE (default: hidden, counted in one line)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featkit`` command; return its exit code."""
    from featkit._stderr import NativeStderr, quiet_library_loggers

    args = _build_parser().parse_args(argv)
    quiet_library_loggers()  # before TensorFlow is imported; explicit settings win
    native = NativeStderr(args.log)
    with native:
        code = run_guarded(args._run, args)
    if native.n_lines and not getattr(args, "quiet", False):
        where = f"in {args.log}" if args.log else "hidden; --log FILE keeps them"
        print(f"featkit {args.command}: {native.n_lines} lines from TensorFlow/FFmpeg/decord {where}", file=sys.stderr)
    return code
