"""Command-line options generated from config dataclass fields, so each default is written once: in the dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConfigFlag", "add_config_flags", "field_default", "values_from_args"]


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` of ``cls`` (from its ``default`` or ``default_factory``)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise TypeError(f"{cls.__name__}.{name} has no default")
    raise AttributeError(f"{cls.__name__} has no field {name!r}")


def _shown(value: Any) -> str:
    """A default as help text writes it: 8.0 -> 8, 'default' -> 'default' (strings quoted by the caller)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ConfigFlag:
    """A command-line option that sets one config field.

    Parameters
    ----------
    owner : type
        The config dataclass holding the field.
    name : str
        The field.
    flags : tuple of str
        Option strings (``"-j", "--jobs"``).
    help : str
        Help text; ``{default}`` is replaced by the field's default as the command line writes it.
    to_cli, from_cli : callable or None
        Convert the field's default to the option's value (``DEFAULT_STATS`` -> ``"mu_mean,..."``) and the
        parsed value back to the field's (``"a,b"`` -> ``("a", "b")``); None for as is.
    kwargs : dict
        Other ``add_argument`` keywords (type, choices, action, metavar); never ``default``.

    """

    owner: type
    name: str
    flags: tuple[str, ...]
    help: str
    to_cli: Callable[[Any], Any] | None = None
    from_cli: Callable[[Any], Any] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def default(self) -> Any:
        """The option's default: the field's default, converted for the command line."""
        value = field_default(self.owner, self.name)
        return self.to_cli(value) if self.to_cli else value

    def dest(self) -> str:
        """The attribute argparse stores the value under (``--jobs`` -> ``jobs``)."""
        long = next(f for f in self.flags if f.startswith("--"))
        return long[2:].replace("-", "_")


def add_config_flags(parser: argparse.ArgumentParser, flags: Sequence[ConfigFlag]) -> None:
    """Add one option per :class:`ConfigFlag`, its default taken from the dataclass field."""
    for flag in flags:
        default = flag.default()
        if flag.kwargs.get("action") == "store_true" and default is not False:
            raise ValueError(f"{flag.owner.__name__}.{flag.name}: a store_true flag needs a False default")
        parser.add_argument(*flag.flags, default=default, help=flag.help.format(default=_shown(default)), **flag.kwargs)


def values_from_args(args: argparse.Namespace, flags: Sequence[ConfigFlag], owner: type) -> dict[str, Any]:
    """The keyword arguments of ``owner`` that the parsed ``args`` give."""
    out = {}
    for flag in flags:
        if flag.owner is owner:
            value = getattr(args, flag.dest())
            out[flag.name] = flag.from_cli(value) if flag.from_cli else value
    return out
