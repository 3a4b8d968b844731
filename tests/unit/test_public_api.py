"""The public surface: a curated, resolvable __all__, one exception tree, and a light import."""

from __future__ import annotations

import subprocess
import sys

import featkit
from featkit import exceptions


def test_import_featkit_loads_no_heavy_dependency():
    code = (
        "import sys, featkit; "
        "heavy = [m for m in ('tensorflow', 'keras', 'h5py', 'decord', 'sklearn', 'joblib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_names_resolve():
    for name in featkit.__all__:
        assert getattr(featkit, name) is not None, name
    assert sorted(featkit.__all__) == sorted(set(featkit.__all__))


def test_every_error_is_a_featkit_error():
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, exceptions.FeatkitError)
        assert name in exceptions.__doc__, f"{name} missing from the documented tree"
    assert issubclass(exceptions.ConfigError, ValueError)
    err = exceptions.VideoOpenError("a/b.mp4", "bad header")
    assert err.path == "a/b.mp4"
    assert err.reason == "open_failed"
    assert "a/b.mp4" in str(err)
