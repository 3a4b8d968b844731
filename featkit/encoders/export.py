"""Write an encoder as a TensorFlow SavedModel that ``tensorflow_hub.load`` and ``tf.saved_model.load`` read.

The SavedModel has one explicit serving signature::

    serving_default(frames: float32 (None, S, S, 3) in [0, 1]) -> {"mu": (None, d), "logvar": (None, d)}

and, when the encoder comes with its VAE's decoder, a second one,
``decode(z: float32 (None, d)) -> {"frames": (None, S, S, 3)}``. ``assets.extra/featkit.json``
records where it came from (the source encoder's identity), the signatures, and the VAE's
``beta`` and ``obs_var``. ``featkit extract --encoder DIR`` then gives the same features as the
source model, and ``--precision float16|int8`` can use TensorFlow Lite variants bundled in
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
from featkit.exceptions import ConfigError, EncoderError

__all__ = ["EXPORT_METADATA", "export_encoder", "serving_module", "write_saved_model"]

#: Where the export metadata lives inside the SavedModel folder.
EXPORT_METADATA = Path("assets.extra") / "featkit.json"


def serving_module(encoder: Encoder) -> Any:
    """A trackable object with the encoder's standard serving function(s), ready for ``tf.saved_model.save``.

    Parameters
    ----------
    encoder : KerasEncoder or SavedModelEncoder
        A TensorFlow encoder (TensorFlow Lite variants cannot be exported back).

    Returns
    -------
    tf AutoTrackable
        With ``serve`` (frames -> ``{"mu", "logvar"}``), ``decode`` when the encoder has a
        Keras decoder, and ``variables``: the variables those functions use, listed
        explicitly so that the SavedModel's checkpoint holds plain ``tf.Variable`` objects
        (which the TensorFlow Lite converter can freeze).

    Raises
    ------
    EncoderError
        If the encoder is not backed by a TensorFlow model.

    """
    import tensorflow as tf

    from featkit.encoders.lite import model_encoder

    encoder = model_encoder(encoder)
    size, d = encoder.input_size, encoder.latent_dim
    keras_model = getattr(encoder, "model", None)
    function = getattr(encoder, "function", None)
    if keras_model is not None:

        def serve(frames: Any) -> dict[str, Any]:
            mu, logvar = keras_model(frames, training=False)
            return {"mu": mu, "logvar": logvar}

        batch = None
    elif function is not None:
        key, mu_key, lv_key = encoder.input_key, encoder.mu_key, encoder.logvar_key

        def serve(frames: Any) -> dict[str, Any]:
            out = function(**{key: frames})
            return {"mu": out[mu_key], "logvar": out[lv_key]}

        # A source signature with a fixed batch keeps it.
        batch = encoder.batch_size if function.structured_input_signature[1][key].shape[0] is not None else None
    else:
        raise EncoderError(
            f"Encoder {encoder.name!r} cannot be exported: only Keras and SavedModel encoders can. "
            f"Received: {type(encoder).__name__}"
        )
    root = tf.__internal__.tracking.AutoTrackable()
    spec = tf.TensorSpec((batch, size, size, 3), tf.float32, name="frames")
    root.serve = tf.function(serve, input_signature=[spec], autograph=False)
    used = list(root.serve.get_concrete_function().variables)
    decoder = getattr(encoder, "decoder", None)
    if decoder is not None and hasattr(decoder, "inputs"):

        def decode(z: Any) -> dict[str, Any]:
            return {"frames": decoder(z, training=False)}

        root.decode = tf.function(decode, input_signature=[tf.TensorSpec((None, d), tf.float32, name="z")])
        used += list(root.decode.get_concrete_function().variables)
    root.variables = used
    return root


def write_saved_model(encoder: Encoder, directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Save the encoder's serving module (see :func:`serving_module`) to ``directory`` (which must not exist).

    Returns
    -------
    dict
        The signatures written: name -> {"inputs": ..., "outputs": ...}.

    """
    import tensorflow as tf

    root = serving_module(encoder)
    signatures = {"serving_default": root.serve.get_concrete_function()}
    if hasattr(root, "decode"):
        signatures["decode"] = root.decode.get_concrete_function()
    tf.saved_model.save(root, os.fspath(directory), signatures=signatures)
    return {name: _describe(fn) for name, fn in signatures.items()}


def _describe(fn: Any) -> dict[str, Any]:
    _, kwargs = fn.structured_input_signature
    return {
        "inputs": {k: {"shape": v.shape.as_list(), "dtype": v.dtype.name} for k, v in kwargs.items()},
        "outputs": {k: {"shape": v.shape.as_list(), "dtype": v.dtype.name} for k, v in fn.structured_outputs.items()},
    }


def export_encoder(
    encoder: Encoder | str,
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    variants: tuple[str, ...] | list[str] = (),
    unsafe: bool = False,
) -> Path:
    """Export an encoder as a SavedModel folder.

    Parameters
    ----------
    encoder : Encoder or str
        A loaded Keras or SavedModel encoder, or a spec for
        :func:`featkit.encoders.load_encoder` (``"default"``, a ``.keras`` file, ...).
    output : path-like
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
        from featkit.encoders import load_encoder

        encoder = load_encoder(encoder, unsafe=unsafe, runtime="keras")
    from featkit.encoders.lite import model_encoder

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
            from featkit.encoders.variants import bundled_variant_path, convert_saved_model

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
