"""featkit._validation: the constraint objects and the one message format of validate_params."""

from __future__ import annotations

import math

import pytest

from featkit._validation import (
    DistinctNames,
    Finite,
    InstanceOf,
    Interval,
    NonEmptyStr,
    Options,
    Patterns,
    SequenceNotStr,
    validate_params,
)
from featkit.exceptions import ConfigError


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        pytest.param(Interval(int, 1, None), [1, 5, 10**9], [0, -1, 1.0, True, "1", None], id="int>=1"),
        pytest.param(Interval(int, 1, 2, closed="both"), [1, 2], [0, 3], id="int-1-2"),
        pytest.param(
            Interval(float, 0, None, closed="neither"), [1e-9, 3, 2.5, math.inf], [0, -1, math.nan, True], id="positive"
        ),
        pytest.param(Interval(float, 0, math.inf, closed="neither"), [1.5], [math.inf], id="positive-finite"),
        pytest.param(Finite(), [0, 1.5, -3], [math.inf, -math.inf, math.nan, "1"], id="finite"),
        pytest.param(Options(("a", "b")), ["a", "b"], ["c", None, 1], id="options"),
        pytest.param(Options(lambda: ("x",)), ["x"], ["y"], id="options-callable"),
        pytest.param(InstanceOf(bool), [True, False], [0, 1, "yes"], id="bool"),
        pytest.param(InstanceOf(int), [0, 3], [True, 1.0], id="int-not-bool"),
        pytest.param(NonEmptyStr(), ["x"], ["", None, 3], id="nonempty-str"),
        pytest.param(Patterns(), ["*.mp4", ("a", "b"), []], ["", ("",), (3,), 3], id="patterns"),
        pytest.param(SequenceNotStr(), [(), ["a"]], ["ab", 3, None], id="sequence"),
        pytest.param(DistinctNames(("a", "b")), [("a",), ["b", "a"]], [(), ("a", "a"), ("c",), "a"], id="names"),
    ],
)
def test_constraints_accept_and_reject(constraint, good, bad):
    assert all(constraint.is_satisfied_by(v) for v in good)
    assert not any(constraint.is_satisfied_by(v) for v in bad)


@pytest.mark.parametrize(
    ("table", "value", "message"),
    [
        pytest.param({"x": [Interval(int, 1, None)]}, 0, "must be an int >= 1. Got 0 instead.", id="int"),
        pytest.param(
            {"x": [Interval(int, 1, None), None]}, 0, "must be an int >= 1 or None. Got 0 instead.", id="none"
        ),
        pytest.param(
            {"x": [Interval(float, 0, None, closed="neither"), None]},
            -2.0,
            "must be a positive number or None.",
            id="positive",
        ),
        pytest.param({"x": [Options(["a", "b"])]}, "c", "must be one of ['a', 'b']. Got 'c' instead.", id="options"),
        pytest.param({"x": [InstanceOf(dict)]}, [], "must be a dict. Got list instead.", id="instance-shows-type"),
        pytest.param({"x": [InstanceOf(bool)]}, 1, "must be a bool. Got 1 instead.", id="bool-shows-value"),
        pytest.param({"x": [NonEmptyStr(description="a path")]}, "", "must be a path. Got '' instead.", id="described"),
        pytest.param(
            {"x": [NonEmptyStr(description="a path, or None"), None]},
            3,
            "must be a path, or None. Got 3",
            id="says-none",
        ),
        pytest.param(
            {"x": ([Interval(float, 0, None)], [Finite(description="finite")])},
            math.inf,
            "must be finite. Got inf",
            id="second-stage",
        ),
        pytest.param(
            {"x": [DistinctNames(["b", "a"])]}, ("c",), "distinct names among ['a', 'b']. Got ['c']", id="names"
        ),
    ],
)
def test_validate_params_writes_one_message_format(table, value, message):
    with pytest.raises(ConfigError) as err:
        validate_params("Owner", table, {"x": value})
    text = str(err.value)
    assert text.startswith("The 'x' parameter of Owner must be ")
    assert text.endswith(" instead.")
    assert message in text


def test_validate_params_checks_the_first_broken_parameter_and_skips_absent_ones():
    table = {"a": [Interval(int, 0, None)], "b": [Interval(int, 0, None)], "c": [Interval(int, 0, None)]}
    validate_params("Owner", table, {"a": 1})
    with pytest.raises(ConfigError, match="'b' parameter of Owner"):
        validate_params("Owner", table, {"a": 1, "b": -1, "c": -1})


def test_the_validation_module_imports_only_the_standard_library():
    import subprocess
    import sys

    code = "import sys, featkit._validation; print([m for m in ('numpy', 'sklearn', 'h5py') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_simple_parameter_checks_are_written_by_validate_params_only():
    """Choice and range messages come from one writer; only content checks (names in a file...) are hand-written."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"parameter (of \w+ )?must be (one of|an int|a positive|a number)")
    hand_written = [
        f"{path.relative_to(repo)}:{n}"
        for folder in ("featkit", "pipelines")
        for path in sorted((repo / folder).rglob("*.py"))
        if path.name != "_validation.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hand_written == []
