"""Frame encoders: the interface featkit extracts with, and how encoders are loaded.

This package's ``__init__`` stays free of TensorFlow; :func:`load_encoder`
imports it on first use.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from featkit.encoders.base import Encoder

__all__ = ["Encoder", "export_encoder", "load_encoder", "shared_encoder"]

# One loaded encoder per process and setting, for the callers that run many small jobs.
_SHARED: dict[tuple[str, int, str, str], Encoder] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_LOADS = 0  # how many times this process loaded one (tests check it is once per setting)


def load_encoder(
    spec: str | os.PathLike[str] = "default",
    *,
    batch_size: int = 64,
    precision: str = "float32",
    unsafe: bool = False,
    runtime: str = "auto",
) -> Encoder:
    """Load an encoder by name, path or TF Hub handle.

    Parameters
    ----------
    spec : str, default="default"
        ``"default"`` for the VAE shipped inside featkit; a ``.keras`` file
        holding a featkit :class:`~featkit.encoders.vae.VAE` (or any Keras
        model mapping frames to ``[mu, logvar]``); a TensorFlow SavedModel
        folder whose serving signature maps frames (None, S, S, 3) float32 in
        [0, 1] to ``{"mu", "logvar"}`` (``featkit export`` writes one); or a
        TF Hub handle already in the local cache (``$TFHUB_CACHE_DIR``;
        nothing is downloaded).
    batch_size : int, default=64
        Frames per encoder call.
    precision : {"float32", "float16", "int8"}, default="float32"
        The model as loaded, or its TensorFlow Lite float16 / int8
        (dynamic-range) variant, converted on first use and cached (see
        :mod:`featkit.encoders.variants`).
    unsafe : bool, default=False
        Also load files that would run code: Keras Lambda layers (Keras
        ``safe_mode=False``) and SavedModels with file or Python ops. Only for
        files whose author you trust; pickle files are refused always.
    runtime : {"auto", "keras", "litert"}, default="auto"
        What runs the float32 default encoder: its shipped TensorFlow Lite model on
        the LiteRT interpreter (``"litert"``: starts in milliseconds, no TensorFlow
        import) or the Keras model (``"keras"``). ``"auto"``: LiteRT for the default,
        Keras for other encoders. Recorded in the encoder's identity.

    Returns
    -------
    Encoder

    Raises
    ------
    EncoderError
        If the encoder cannot be found or loaded, or does not fit (the message
        names what was expected and what was found).
    UnsafeEncoderError
        If loading would run code from the file and ``unsafe`` is False.

    """
    from featkit.encoders.loading import resolve_encoder

    return resolve_encoder(spec, batch_size=batch_size, precision=precision, unsafe=unsafe, runtime=runtime)


def export_encoder(
    encoder: Encoder | str = "default",
    output: str | os.PathLike[str] = "featkit_encoder",
    **kwargs: Any,
) -> Path:
    """Write an encoder as a TensorFlow SavedModel folder (what ``featkit export`` does).

    See :func:`featkit.encoders.export.export_encoder` for the keyword arguments
    (``overwrite``, ``variants``, ``unsafe``).
    """
    from featkit.encoders.export import export_encoder as _export

    return _export(encoder, output, **kwargs)


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
