"""``featkit export``: write an encoder as a TensorFlow SavedModel folder.

The folder is in featkit's SavedModel format (:mod:`featkit.encoders.savedmodel`: the serving
and ``decode`` signatures, and the export metadata), which ``tensorflow_hub.load`` and
``tf.saved_model.load`` read. ``featkit extract --encoder DIR`` then gives the same features as
the source model, and ``--precision float16|int8`` can use TensorFlow Lite variants bundled in
``assets.extra/`` (``variants=``) instead of converting on first use.

The folder is written next to its destination and renamed into place, so a crash never
leaves a half-written model under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from featkit.config import PRECISIONS
from featkit.encoders.base import Encoder
from featkit.encoders.lite import model_encoder
from featkit.encoders.loading import load_encoder
from featkit.encoders.savedmodel import EXPORT_METADATA, serving_module, write_saved_model
from featkit.encoders.variants import bundled_variant_path, convert_saved_model
from featkit.exceptions import ConfigError

# The SavedModel names stay importable from here, where they lived before featkit.encoders.savedmodel.
__all__ = ["EXPORT_METADATA", "export_encoder", "serving_module", "write_saved_model"]


def export_encoder(
    encoder: Encoder | str = "default",
    output: str | os.PathLike[str] = "featkit_encoder",
    *,
    overwrite: bool = False,
    variants: tuple[str, ...] | list[str] = (),
    unsafe: bool = False,
) -> Path:
    """Export an encoder as a SavedModel folder.

    Parameters
    ----------
    encoder : Encoder or str, default="default"
        A loaded Keras or SavedModel encoder, or a spec for
        :func:`featkit.encoders.load_encoder` (``"default"``, a ``.keras`` file, ...).
    output : path-like, default="featkit_encoder"
        The folder to create.
    overwrite : bool, default=False
        Replace ``output`` if it exists (only once the new export is complete).
    variants : sequence of {"float16", "int8"}, default=()
        TensorFlow Lite variants to convert now and bundle in ``assets.extra/``, so that
        ``--precision`` on this folder needs no conversion and gives the same features
        everywhere.
    unsafe : bool, default=False
        Passed to :func:`~featkit.encoders.load_encoder` when ``encoder`` is a spec.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ConfigError
        If ``output`` exists and ``overwrite`` is False, or a variant is unknown.
    EncoderError
        If the encoder cannot be loaded or exported.

    """
    import tensorflow as tf

    from featkit._version import __version__

    out = Path(output)
    bad = [v for v in variants if v not in PRECISIONS or v == "float32"]
    if bad:
        raise ConfigError(f"The 'variants' parameter must name precisions among float16, int8. Got {bad!r} instead.")
    if out.exists() and not overwrite:
        raise ConfigError(f"The export folder {os.fspath(out)!r} exists. Use another folder or --overwrite.")
    if isinstance(encoder, str):
        encoder = load_encoder(encoder, unsafe=unsafe, runtime="keras")
    encoder = model_encoder(encoder)  # the source's identity, whatever runtime it was loaded on
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        signatures = write_saved_model(encoder, tmp)
        meta: dict[str, Any] = {
            "featkit_export": 1,
            "featkit_version": __version__,
            "tensorflow_version": tf.__version__,
            "source": encoder.identity(),
            "signatures": signatures,
            "input_range": [0.0, 1.0],
        }
        if getattr(encoder, "has_decoder", False):
            meta.update(beta=encoder.beta, obs_var=encoder.obs_var)
        extra = tmp / EXPORT_METADATA.parent
        extra.mkdir(parents=True, exist_ok=True)
        if variants:
            meta["variants"] = {}
            for precision in dict.fromkeys(variants):
                data = convert_saved_model(tmp, precision)
                bundled_variant_path(tmp, precision).write_bytes(data)
                meta["variants"][precision] = {"file": bundled_variant_path(tmp, precision).name}
        (tmp / EXPORT_METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True))
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _replace_dir(new: Path, dest: Path) -> None:
    """Move ``new`` to ``dest``; an existing ``dest`` is removed only after the new one is in place."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(dest, old)
    os.replace(new, dest)
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
