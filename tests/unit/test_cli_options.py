"""The CLI's config options come from the config dataclasses: one default, written once, in the dataclass."""

from __future__ import annotations

import dataclasses

import pytest

from featkit.cli import COMMANDS, _build_parser
from featkit.cli._options import field_default
from featkit.cli.extract import CONFIG_FLAGS, config_from_args
from featkit.config import ExtractionConfig, SamplingConfig


def test_featkit_extract_with_no_options_builds_the_default_config():
    args = _build_parser().parse_args(["extract", "DIR", "-o", "out.h5"])
    assert config_from_args(args) == ExtractionConfig()


@pytest.mark.parametrize("flag", CONFIG_FLAGS, ids=lambda f: f.flags[-1])
def test_every_config_flag_defaults_to_its_dataclass_field(flag):
    parser = _build_parser()
    extract = parser._subparsers._group_actions[0].choices["extract"]
    action = next(a for a in extract._actions if flag.flags[-1] in a.option_strings)
    assert action.default == flag.default()
    expected = field_default(flag.owner, flag.name)
    parsed = flag.from_cli(action.default) if flag.from_cli else action.default
    assert parsed == expected


def test_every_config_flag_names_a_real_field_once():
    names = [(f.owner, f.name) for f in CONFIG_FLAGS]
    assert len(names) == len(set(names))
    fields = {(cls, f.name) for cls in (SamplingConfig, ExtractionConfig) for f in dataclasses.fields(cls)}
    assert set(names) <= fields
    # Every field but the nested sampling config has an option.
    assert fields - set(names) == {(ExtractionConfig, "sampling")}


def test_every_command_is_registered_once_with_help():
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    assert all(c.help and c.description for c in COMMANDS)
    assert set(_build_parser()._subparsers._group_actions[0].choices) == set(names)
