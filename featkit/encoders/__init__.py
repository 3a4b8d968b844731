"""Frame encoders: the interface featkit extracts with, and how encoders are loaded.

One module per job: :mod:`~featkit.encoders.base` (the interface and its fixed-batch
encode/decode), :mod:`~featkit.encoders.loading` (:func:`load_encoder`, which dispatches
on the spec), one module per format (:mod:`~featkit.encoders.keras_encoder`,
:mod:`~featkit.encoders.savedmodel`, :mod:`~featkit.encoders.hub`,
:mod:`~featkit.encoders.lite`, :mod:`~featkit.encoders.variants`), the safety scans
(:mod:`~featkit.encoders.safety`) and :mod:`~featkit.encoders.export`.

This package's ``__init__`` stays free of TensorFlow; :func:`load_encoder`
imports it on first use.
"""

from __future__ import annotations

import os
import threading

from featkit.encoders.base import Encoder
from featkit.encoders.export import export_encoder
from featkit.encoders.loading import load_encoder

__all__ = ["Encoder", "export_encoder", "load_encoder", "shared_encoder"]

# One loaded encoder per process and setting, for the callers that run many small jobs.
_SHARED: dict[tuple[str, int, str, str], Encoder] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_LOADS = 0  # how many times this process loaded one (tests check it is once per setting)


def shared_encoder(
    spec: str = "default", *, batch_size: int = 64, precision: str = "float32", runtime: str = "auto"
) -> Encoder:
    """:func:`load_encoder`, loaded once per process and setting and shared after.

    What the Dask workers and the path-based scikit-learn extractor use, so many small
    jobs do not each pay for loading a model. Thread-safe; encoders serialise their own
    calls where their runtime needs it.
    """
    global _SHARED_LOADS
    key = (os.fspath(spec), int(batch_size), precision, runtime)
    with _SHARED_LOCK:
        encoder = _SHARED.get(key)
        if encoder is None:
            _SHARED_LOADS += 1
            encoder = _SHARED[key] = load_encoder(spec, batch_size=batch_size, precision=precision, runtime=runtime)
    return encoder
