"""Settings for every test layer. Light on purpose: it imports neither PyAV nor TensorFlow.

The video factory and the encoder fixtures live in ``tests/integration/conftest.py``; ``tests/unit`` needs
neither (tests/unit/test_layering.py checks that this file stays light).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
