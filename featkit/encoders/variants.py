"""Reduced-precision encoder variants: TensorFlow Lite float16 and int8 conversions of a float32 encoder.

- ``float16``: weights stored as float16 (half the size). On CPUs without float16
  arithmetic the TensorFlow Lite runtime widens them to float32 once at load, so
  it computes in float32 with float16-rounded weights.
- ``int8``: dynamic-range post-training quantisation. Weights are int8 (per output
  channel); activations are quantised to int8 on the fly, per frame, and the heavy
  products run in int8. No calibration data is needed, so the variant depends only on
  the model, and a frame's features still do not depend on the rest of its batch.

Both come from the TensorFlow Lite converter applied to the encoder's standard
SavedModel (:func:`featkit.encoders.savedmodel.write_saved_model`) and run on CPU through
the LiteRT interpreter (``ai_edge_litert``, when installed) or ``tf.lite.Interpreter``
(shipped with TensorFlow, deprecated in its favour; same kernels). Conversion happens
on first use and is cached as ``<cache>/<key>-<precision>.tflite``, where the cache is
``$FEATKIT_VARIANT_CACHE`` or ``~/.cache/featkit/variants`` and the key hashes the source
encoder's identity (its weights' sha256 included), the precision, the recipe and the
TensorFlow version. Files are written atomically (temporary file, then rename), so
concurrent runs never see a partial model. A SavedModel exported with
``featkit export --variants`` carries its variants in ``assets.extra/`` and those are used
instead, so everyone gets the same bytes.

The variant's identity (stored as provenance) is the source's plus ``precision`` and
``variant`` (quantisation, the ``.tflite`` file's sha256, converter version), so a
feature file made at one precision cannot be resumed at another.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from featkit.encoders.base import Encoder
from featkit.encoders.lite import LiteRTEncoder, interpreter_runtime, model_encoder
from featkit.encoders.savedmodel import EXPORT_METADATA, read_export_metadata, write_saved_model
from featkit.exceptions import ConfigError, EncoderError
from featkit.files import atomic_write_bytes

__all__ = [
    "RECIPE_VERSION",
    "TFLiteEncoder",
    "bundled_variant_path",
    "convert_saved_model",
    "convert_to_tflite",
    "interpreter_runtime",
    "make_variant",
    "variant_cache_dir",
]

#: Bumped whenever the conversion recipe changes, so cached variants are not reused across recipes.
RECIPE_VERSION = 1
QUANTIZATION = {
    "float16": "float16 weights (TFLite), float32 activations",
    "int8": "int8 dynamic-range (TFLite): int8 weights per channel, activations quantised per frame at run time",
}
_CACHE_ENV = "FEATKIT_VARIANT_CACHE"


def variant_cache_dir() -> Path:
    """Folder of cached variants: ``$FEATKIT_VARIANT_CACHE`` or ``~/.cache/featkit/variants``."""
    env = os.environ.get(_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "featkit" / "variants"


def bundled_variant_path(saved_model_dir: str | os.PathLike[str], precision: str) -> Path:
    """Where ``featkit export --variants`` puts a variant inside a SavedModel folder."""
    return Path(saved_model_dir) / EXPORT_METADATA.parent / f"featkit-{precision}.tflite"


def convert_saved_model(
    saved_model_dir: str | os.PathLike[str], precision: str, *, signature: str = "serving_default"
) -> bytes:
    """Convert one signature of a standard featkit SavedModel (the encoder's, by default) to a TensorFlow Lite model.

    Parameters
    ----------
    saved_model_dir : path-like
        Written by :func:`featkit.encoders.savedmodel.write_saved_model`.
    precision : {"float32", "float16", "int8"}
    signature : str, default="serving_default"
        ``"decode"`` converts the VAE's decoder (z -> frames) instead.

    Returns
    -------
    bytes
        The ``.tflite`` flatbuffer.

    """
    import tensorflow as tf

    if precision not in (*QUANTIZATION, "float32"):
        raise ConfigError(
            f"The 'precision' of a variant must be 'float32', 'float16' or 'int8'. Got {precision!r} instead."
        )
    converter = tf.lite.TFLiteConverter.from_saved_model(os.fspath(saved_model_dir), signature_keys=[signature])
    if precision != "float32":  # float32: the graph as it is (the shipped default's LiteRT model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as exc:
        raise EncoderError(
            f"The TensorFlow Lite converter could not make a {precision} variant: {type(exc).__name__}: {exc}"
        ) from exc


def convert_to_tflite(encoder: Encoder, precision: str) -> bytes:
    """Convert a Keras or SavedModel encoder to a TensorFlow Lite model at ``precision``."""
    with tempfile.TemporaryDirectory(prefix="featkit-convert-") as tmp:
        saved = Path(tmp) / "saved_model"
        write_saved_model(encoder, saved)
        return convert_saved_model(saved, precision)


def _cache_key(identity: dict[str, Any], precision: str) -> str:
    import tensorflow as tf

    blob = json.dumps(
        {"source": identity, "precision": precision, "recipe": RECIPE_VERSION, "tensorflow": tf.__version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def make_variant(
    base: Encoder, precision: str, *, cache_dir: str | os.PathLike[str] | None = None, num_threads: int | None = None
) -> TFLiteEncoder:
    """The ``precision`` variant of a float32 encoder: bundled, cached, or converted now and cached.

    Parameters
    ----------
    base : Encoder
        A Keras or SavedModel encoder.
    precision : {"float16", "int8"}
    cache_dir : path-like, optional
        Defaults to :func:`variant_cache_dir`.
    num_threads : int, optional
        Interpreter threads; defaults to the CPUs this process may use.

    Returns
    -------
    TFLiteEncoder

    """
    import tensorflow as tf

    if precision not in QUANTIZATION:
        raise ConfigError(f"The 'precision' of a variant must be 'float16' or 'int8'. Got {precision!r} instead.")
    base = model_encoder(base)  # a variant of the model, whatever runtime it was loaded on
    converter = f"tensorflow {tf.__version__}"
    bundled = bundled_variant_path(base.path, precision) if getattr(base, "path", None) else None
    if bundled is not None and bundled.is_file():
        data, origin = bundled.read_bytes(), "bundled"
        meta = read_export_metadata(Path(base.path)) or {}
        converter = f"tensorflow {meta.get('tensorflow_version', 'unknown')}"
    else:
        folder = Path(cache_dir) if cache_dir is not None else variant_cache_dir()
        cached = folder / f"{_cache_key(base.identity(), precision)[:32]}-{precision}.tflite"
        data, origin = None, "cache"
        if cached.is_file():
            data = cached.read_bytes()
            if not _loads(data):
                data = None  # damaged: convert again
        if data is None:
            data, origin = convert_to_tflite(base, precision), "converted"
            try:
                atomic_write_bytes(cached, data, mode=0o600)  # the cache keeps its private mode
            except OSError as exc:
                warnings.warn(f"featkit could not cache the {precision} variant in {folder}: {exc}", stacklevel=2)
    return TFLiteEncoder(
        data, base=base, precision=precision, origin=origin, converter=converter, num_threads=num_threads
    )


def _loads(data: bytes) -> bool:
    Interpreter, _ = interpreter_runtime()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            Interpreter(model_content=data)
    except (ValueError, RuntimeError):
        return False
    return True


class TFLiteEncoder(LiteRTEncoder):
    """A reduced-precision TensorFlow Lite variant of a float32 encoder, run on CPU by LiteRT.

    Batches have exactly ``base.batch_size`` frames (the last one zero-padded), as for
    the float32 encoders. Decoding and anomaly scores, where the base has a decoder, use
    the base's float32 decoder.

    Parameters
    ----------
    model : bytes
        The ``.tflite`` flatbuffer, with a ``serving_default`` signature.
    base : Encoder
        The float32 encoder it was converted from (its identity is the provenance).
    precision : {"float16", "int8"}
    origin : str, default="converted"
        ``"bundled"``, ``"cache"`` or ``"converted"``: informational.
    converter : str, default="unknown"
        The converter's version, stored as provenance.
    num_threads : int, optional
        Interpreter threads; defaults to the CPUs this process may use. Results do not
        depend on it.

    """

    def __init__(
        self,
        model: bytes,
        *,
        base: Encoder,
        precision: str,
        origin: str = "converted",
        converter: str = "unknown",
        num_threads: int | None = None,
    ) -> None:
        super().__init__(
            model,
            name=base.name,
            input_size=base.input_size,
            latent_dim=base.latent_dim,
            batch_size=int(getattr(base, "batch_size", 64)),
            num_threads=num_threads,
            what=f"{precision} variant",
        )
        self.base = base
        self.precision = precision
        self.origin = origin
        self.converter = converter
        self.has_decoder = bool(getattr(base, "has_decoder", False))
        self.beta, self.obs_var = getattr(base, "beta", None), getattr(base, "obs_var", None)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode with the base encoder's float32 decoder."""
        return self.base.decode(z)

    def identity(self) -> dict[str, Any]:
        """The base encoder's identity plus ``precision`` and the variant's description."""
        ident = dict(self.base.identity())
        ident["precision"] = self.precision
        ident["variant"] = {
            "format": "tflite",
            "quantization": QUANTIZATION.get(self.precision, self.precision),
            "recipe": RECIPE_VERSION,
            "tflite_sha256": self.sha256,
            "converter": self.converter,
        }
        return ident

    def __repr__(self) -> str:
        return (
            f"<TFLiteEncoder {self.name!r} {self.precision} input={self.input_size}px latent={self.latent_dim} "
            f"({self.runtime})>"
        )
