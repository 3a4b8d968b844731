"""TF Hub handles (``https://...``, ``gs://...``) as encoders, from the local cache only.

``tensorflow_hub`` caches a handle's SavedModel under ``$TFHUB_CACHE_DIR``; featkit loads it
from there and never downloads (:func:`load_hub_handle` says how to fill the cache on a
machine with network access). The cached folder is scanned and loaded like any SavedModel
(:func:`featkit.encoders.savedmodel.load_saved_model`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from featkit.encoders.savedmodel import SavedModelEncoder, is_saved_model_folder, load_saved_model
from featkit.exceptions import DependencyError, EncoderError

__all__ = ["hub_cache_folder", "load_hub_handle"]


def hub_cache_folder(handle: str) -> Path:
    """Where ``tensorflow_hub`` caches a handle: ``$TFHUB_CACHE_DIR/<sha1(handle)>``.

    Without ``TFHUB_CACHE_DIR`` the cache is ``<tmp>/tfhub_modules``, as in tensorflow_hub.
    """
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return Path(cache) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def load_hub_handle(handle: str, *, batch_size: int, unsafe: bool) -> SavedModelEncoder:
    """Load a TF Hub handle from the local cache only (scanned like any SavedModel unless ``unsafe``).

    Raises
    ------
    DependencyError
        If tensorflow_hub is not installed.
    EncoderError
        If the handle is not in the cache, or ``TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`` would read it
        from the network.

    """
    try:
        import tensorflow_hub
    except ImportError as exc:
        raise DependencyError(
            f"Loading the TF Hub handle {handle!r} needs tensorflow_hub: pip install 'featkit[hub]'."
        ) from exc
    if os.environ.get("TFHUB_MODEL_LOAD_FORMAT", "").upper() == "UNCOMPRESSED":
        raise EncoderError(
            f"TF Hub handle {handle!r}: TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED reads models from the network, "
            "and featkit never downloads. Unset it to load from the local cache."
        )
    folder = hub_cache_folder(handle)
    complete = folder.is_dir() and any(folder.iterdir()) and not Path(f"{folder}.lock").exists()
    if not complete or not is_saved_model_folder(folder):
        cache = os.environ.get("TFHUB_CACHE_DIR")
        where = (
            f"TFHUB_CACHE_DIR={cache}" if cache else "TFHUB_CACHE_DIR is not set, so the cache is " + str(folder.parent)
        )
        raise EncoderError(
            f"TF Hub handle {handle!r} is not in the local TF Hub cache ({where}; looked for a SavedModel in "
            f"{folder}). featkit never downloads models. On a machine with network access run "
            f"`python -c \"import tensorflow_hub as hub; hub.resolve('{handle}')\"` with the same TFHUB_CACHE_DIR "
            "and copy the cache here, or pass the model's local folder as --encoder."
        )
    extra = {"format": "tfhub", "handle": handle, "loader": "tensorflow_hub.load"}
    # hub.load resolves the handle to the folder checked above (the cache), never to the network.
    load = lambda: tensorflow_hub.load(handle)  # noqa: E731
    return load_saved_model(folder, batch_size=batch_size, unsafe=unsafe, name=handle, extra=extra, load=load)
