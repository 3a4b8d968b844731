"""Light modules stay light: what a decode worker or ``import featkit`` loads never pulls in h5py or TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("h5py", "tensorflow", "keras")


@pytest.mark.parametrize(
    "modules",
    [
        # What a decode worker imports to decode and hash a video (featkit.workers.worker.serve).
        ("featkit.workers", "featkit.workers.worker", "featkit.files", "featkit.io.backends", "featkit.io.sampling"),
        # The numpy-only statistics, and the package itself.
        ("featkit", "featkit.stats", "featkit.motion", "featkit.config", "featkit.locking"),
    ],
)
def test_light_modules_import_no_heavy_library(modules):
    imports = "".join(f"import {m}\n" for m in modules)
    code = f"import sys\n{imports}print([h for h in {HEAVY!r} if h in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"{modules} imported {out.strip()}"


def test_the_core_extraction_does_not_import_the_generative_commands():
    code = "import sys, featkit.extraction, featkit.executors; print('featkit.generative' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["extract", "--help"], ["anomaly", "fit", "--help"]])
def test_help_loads_no_heavy_library(argv):
    """`featkit --help` builds every parser without numpy, h5py, TensorFlow or Keras (the packages behind the
    commands are lazy): start-up is Python's own (0.13-0.18 s here, from 0.47 s when `featkit.training`
    imported numpy for the train command's parser)."""
    code = (
        f"import sys\nfrom featkit.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print([h for h in {(*HEAVY, 'numpy')!r} if h in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_unit_layer_imports_neither_pyav_nor_tensorflow():
    """The root conftest and every unit test module load without PyAV, decord, TensorFlow or Keras."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    modules = ["tests.conftest", *(f"tests.unit.{p.stem}" for p in sorted(here.glob("test_*.py")))]
    imports = "".join(f"import {m}\n" for m in modules)
    code = f"import sys\n{imports}print([h for h in ('av', 'decord', 'tensorflow', 'keras') if h in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=here.parents[1]
    ).stdout
    assert out.strip() == "[]"
