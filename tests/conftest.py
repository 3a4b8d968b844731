"""Settings for every test layer. Light on purpose: it imports neither PyAV nor TensorFlow.

The video factory and the encoder fixtures live in ``tests/integration/conftest.py``; ``tests/unit`` needs
neither (tests/unit/test_layering.py checks that this file stays light).
"""

from __future__ import annotations

import os
import signal

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _signal_state_is_restored():
    """Every test leaves SIGINT and SIGTERM as it found them, and no deferred-signal block open.

    A test (or library) that left SIGINT ignored, or featkit's hold on it in place, would make a later
    Ctrl-C test hang instead of fail: featkit then delivers the held signal to the handler it found.
    """
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    after = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    from featkit import _signals

    assert after == before, f"signal handlers changed by this test: {before} -> {after}"
    assert _signals._depth == 0, f"a deferred_signals block was left open (depth {_signals._depth})"
