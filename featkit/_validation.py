"""Declarative parameter checks: constraint objects and the one function that writes every message.

Modelled on scikit-learn's ``sklearn/utils/_param_validation.py``: a config (or
function) lists, per parameter, the constraints a value may satisfy, and
:func:`validate_params` checks them and raises :class:`~featkit.exceptions.ConfigError`
with one wording::

    The 'clip_len' parameter of SamplingConfig must be an int >= 1. Got 0 instead.

A table entry is a list of constraints, any one of which the value may satisfy
(``None`` in the list allows None). A tuple of such lists is checked stage by
stage, so a later rule (say "finite") gets its own message once the earlier one
holds. Standard library only: configs import this module.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from featkit.exceptions import ConfigError

__all__ = [
    "Constraint",
    "DistinctNames",
    "Finite",
    "InstanceOf",
    "Interval",
    "NonEmptyStr",
    "Options",
    "Patterns",
    "SequenceNotStr",
    "validate_params",
]


class Constraint:
    """One rule a parameter's value may satisfy.

    Parameters
    ----------
    description : str or None, default=None
        Replaces the rule's own wording in messages (text that follows "must be").

    """

    def __init__(self, description: str | None = None) -> None:
        self._description = description

    def is_satisfied_by(self, value: Any) -> bool:
        """Return whether ``value`` satisfies the rule."""
        raise NotImplementedError

    def default_description(self) -> str:
        """The rule in words, as it follows "must be"."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self._description or self.default_description()

    def shown(self, value: Any) -> str:
        """How a rejected value is quoted after "Got"."""
        return repr(value)


class _NoneConstraint(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def default_description(self) -> str:
        return "None"


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral if kind is int else numbers.Real)


class Interval(Constraint):
    """A number (``int`` or ``float``: any real, not bool) in a range.

    Parameters
    ----------
    kind : {int, float}
        ``int`` accepts integers only; ``float`` accepts ints and floats.
    left, right : float or None
        Bounds; None for unbounded.
    closed : {"left", "right", "both", "neither"}, default="left"
        Which bounds belong to the interval.
    description : str or None, default=None
        Message wording; the default says e.g. "an int >= 1" or "a positive number".

    """

    def __init__(
        self,
        kind: type,
        left: float | None,
        right: float | None,
        *,
        closed: str = "left",
        description: str | None = None,
    ) -> None:
        super().__init__(description)
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if not _is_number(value, self.kind):
            return False
        if math.isnan(value):
            return False
        left_open, right_open = self.closed in ("right", "neither"), self.closed in ("left", "neither")
        if self.left is not None and (value < self.left or (value == self.left and left_open)):
            return False
        return not (self.right is not None and (value > self.right or (value == self.right and right_open)))

    def default_description(self) -> str:
        noun = "an int" if self.kind is int else "a number"
        if self.kind is not int and self.left == 0 and self.right is None and self.closed in ("right", "neither"):
            return "a positive number"
        parts = []
        if self.left is not None:
            parts.append((">= " if self.closed in ("left", "both") else "> ") + f"{self.left:g}")
        if self.right is not None:
            parts.append(("<= " if self.closed in ("right", "both") else "< ") + f"{self.right:g}")
        return f"{noun} {' and '.join(parts)}".strip()


class Finite(Constraint):
    """A finite number (not inf or nan)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return _is_number(value, float) and math.isfinite(value)

    def default_description(self) -> str:
        return "finite"


class Options(Constraint):
    """One of a fixed set of values.

    Parameters
    ----------
    choices : sequence or callable returning one
        The allowed values; a callable is called at check time, so a table can name
        choices that live in a module imported only when a check runs.

    """

    def __init__(self, choices: Sequence[Any] | Callable[[], Sequence[Any]], description: str | None = None) -> None:
        super().__init__(description)
        self._choices = choices

    @property
    def choices(self) -> list[Any]:
        """The allowed values, in order."""
        return list(self._choices() if callable(self._choices) else self._choices)

    def is_satisfied_by(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) for c in self.choices)

    def default_description(self) -> str:
        return f"one of {self.choices}"


class InstanceOf(Constraint):
    """An instance of ``kind`` (bool is never an int here). The rejected value is shown by its type name."""

    def __init__(self, kind: type, description: str | None = None) -> None:
        super().__init__(description)
        self.kind = kind

    def is_satisfied_by(self, value: Any) -> bool:
        if self.kind is not bool and isinstance(value, bool):
            return False
        return isinstance(value, self.kind)

    def default_description(self) -> str:
        name = self.kind.__name__
        return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"

    def shown(self, value: Any) -> str:
        return repr(value) if self.kind is bool else type(value).__name__


class NonEmptyStr(Constraint):
    """A non-empty string."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)

    def default_description(self) -> str:
        return "a non-empty str"


class Patterns(Constraint):
    """One non-empty string, or a sequence of them (glob patterns)."""

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, str):
            return bool(value)
        try:
            return all(isinstance(p, str) and p for p in value)
        except TypeError:
            return False

    def default_description(self) -> str:
        return "glob patterns (strings)"


class SequenceNotStr(Constraint):
    """A sequence that is not a string (e.g. a list or tuple of names)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, Sequence) and not isinstance(value, str)

    def default_description(self) -> str:
        return "a sequence"


class DistinctNames(Constraint):
    """A non-empty sequence (not a str) of distinct names, each among ``choices`` (when given).

    ``choices`` may be a callable, evaluated at check time.
    """

    def __init__(
        self, choices: Sequence[str] | Callable[[], Sequence[str]] | None = None, description: str | None = None
    ) -> None:
        super().__init__(description)
        self._choices = choices

    def _allowed(self) -> list[str] | None:
        if self._choices is None:
            return None
        return sorted(self._choices() if callable(self._choices) else self._choices)

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, str) or not isinstance(value, Sequence):
            return False
        names = list(value)
        allowed = self._allowed()
        known = allowed is None or all(isinstance(n, str) and n in allowed for n in names)
        return bool(names) and known and len(set(names)) == len(names)

    def default_description(self) -> str:
        allowed = self._allowed()
        return "distinct names" + ("" if allowed is None else f" among {allowed}")

    def shown(self, value: Any) -> str:
        return repr(list(value)) if isinstance(value, Sequence) and not isinstance(value, str) else repr(value)


#: A table: parameter name -> constraints (any of them), or a tuple of such lists checked in order.
Constraints = Mapping[str, "list[Constraint | None] | tuple[list[Constraint | None], ...]"]


def _as_constraint(c: Constraint | None) -> Constraint:
    return _NoneConstraint() if c is None else c


def validate_params(owner: str, constraints: Constraints, values: Mapping[str, Any]) -> None:
    """Check ``values`` against a constraint table; raise on the first parameter that breaks it.

    Parameters
    ----------
    owner : str
        The class or function the parameters belong to (named in the message).
    constraints : mapping of str to list of Constraint or None, or tuple of such lists
        Per parameter, the constraints any one of which the value must satisfy; a
        tuple of lists is checked stage by stage (each stage has its own message).
        Parameters missing from ``values`` are not checked.
    values : mapping of str to object
        The parameters' values.

    Raises
    ------
    ConfigError
        "The '<name>' parameter of <owner> must be <rules>. Got <value> instead."

    """
    for name, entry in constraints.items():
        if name not in values:
            continue
        value = values[name]
        stages = entry if isinstance(entry, tuple) else (entry,)
        for stage in stages:
            rules = [_as_constraint(c) for c in stage]
            if any(rule.is_satisfied_by(value) for rule in rules):
                continue
            described = [str(r) for r in rules if not isinstance(r, _NoneConstraint)]
            if len(described) != len(rules) and not any("None" in d for d in described):
                described.append("None")  # unless a description already says what None means
            shown = next((r.shown(value) for r in rules if not isinstance(r, _NoneConstraint)), repr(value))
            raise ConfigError(
                f"The '{name}' parameter of {owner} must be {' or '.join(described)}. Got {shown} instead."
            )
