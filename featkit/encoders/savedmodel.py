"""The TensorFlow SavedModel format, spelled once: what ``featkit export`` writes and what featkit loads.

A featkit SavedModel has one explicit serving signature::

    serving_default(frames: float32 (None, S, S, 3) in [0, 1]) -> {"mu": (None, d), "logvar": (None, d)}

and, when the encoder comes with its VAE's decoder, a second one,
``decode(z: float32 (None, d)) -> {"frames": (None, S, S, 3)}``. :data:`EXPORT_METADATA`
(``assets.extra/featkit.json``) records where it came from (the source encoder's identity),
the signatures, and the VAE's ``beta`` and ``obs_var``. Any other SavedModel (a TF Hub module,
say) loads when its serving signature maps one frame input to outputs named as in
:data:`MU_NAMES` and :data:`LOGVAR_NAMES`.

Loading scans the model first (:func:`featkit.encoders.safety.check_saved_model`) unless
``unsafe``. This module imports TensorFlow lazily, inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featkit.encoders.base import Encoder
from featkit.encoders.graph import GraphEncoder
from featkit.encoders.safety import check_saved_model
from featkit.exceptions import EncoderError

__all__ = [
    "EXPORT_METADATA",
    "LOGVAR_NAMES",
    "MU_NAMES",
    "SavedModelEncoder",
    "SavedModelParts",
    "is_saved_model_folder",
    "load_saved_model",
    "read_export_metadata",
    "serving_module",
    "tree_sha256",
    "write_saved_model",
]

#: Where the export metadata lives inside the SavedModel folder.
EXPORT_METADATA = Path("assets.extra") / "featkit.json"
#: Output names accepted for the posterior mean and log variance of a SavedModel signature.
MU_NAMES = ("mu", "z_mean", "mean")
LOGVAR_NAMES = ("logvar", "z_log_var", "log_var", "logvariance")


# --------------------------------------------------------------------------- writing


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


# --------------------------------------------------------------------------- reading


def is_saved_model_folder(path: Path) -> bool:
    """Whether the folder ``path`` holds a SavedModel (``saved_model.pb``, or its text form ``saved_model.pbtxt``)."""
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def read_export_metadata(path: Path) -> dict[str, Any] | None:
    """The metadata ``featkit export`` leaves in :data:`EXPORT_METADATA`, if any."""
    try:
        return json.loads((path / EXPORT_METADATA).read_text())
    except (OSError, ValueError):
        return None


def tree_sha256(path: str | os.PathLike[str]) -> str:
    """Content fingerprint of a folder: sha256 over its files' relative paths and sha256s, sorted.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
        Hex digest; equal for equal contents wherever the folder lives.

    """
    from featkit.files import sha256_of

    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        digest.update(f"{rel}\0{sha256_of(file)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedModelParts:
    """What a :class:`SavedModelEncoder` runs: signatures of a loaded SavedModel and its VAE's settings.

    Parameters
    ----------
    function : tf ConcreteFunction
        The serving signature, frames -> posterior.
    owner : object, optional
        The loaded SavedModel, kept alive while its signatures are used.
    path : Path, optional
        The SavedModel folder (where bundled variants are looked for).
    decoder_function : tf ConcreteFunction, optional
        A ``decode`` signature ``z (None, d) -> {"frames": (None, S, S, 3)}``, as ``featkit export``
        writes for a VAE; with ``obs_var`` (and ``beta``) it enables decoding and anomaly scores.
    beta, obs_var : float, optional

    """

    function: Any
    owner: Any = None
    path: Path | None = None
    decoder_function: Any = None
    beta: float | None = None
    obs_var: float | None = None

    @classmethod
    def of(cls, loaded: Any, signature: str, path: Path, meta: dict[str, Any]) -> SavedModelParts:
        """The ``signature`` of a loaded SavedModel, with the decoder its export metadata ``meta`` describes."""
        decode = loaded.signatures.get("decode") if "obs_var" in meta else None
        return cls(loaded.signatures[signature], loaded, path, decode, meta.get("beta"), meta.get("obs_var"))


class SavedModelEncoder(GraphEncoder):
    """Run a SavedModel signature (frames in [0, 1] -> ``{"mu", "logvar"}``) on uint8 frames.

    The signature must take one float32 input of shape (None or n, S, S, 3) and return the
    posterior mean and log variance, each (None or n, d), under names in :data:`MU_NAMES`
    and :data:`LOGVAR_NAMES`. Frames are cast and scaled inside one compiled graph of fixed
    batch size (:class:`~featkit.encoders.graph.GraphEncoder`), as for
    :class:`~featkit.encoders.keras_encoder.KerasEncoder`, so a SavedModel written by
    ``featkit export`` gives bit-identical features to the model it came from.

    Parameters
    ----------
    parts : SavedModelParts
        The signature(s) to run and the loaded model they belong to.
    name : str
        Name stored as provenance.
    sha256 : str
        Fingerprint of the model's files (:func:`tree_sha256`).
    config : dict
        Provenance: format, signature name, handle, and featkit's export metadata when present.
    batch_size : int, default=64
        Ignored when the signature has a fixed batch.

    """

    def __init__(
        self, parts: SavedModelParts, *, name: str, sha256: str, config: dict[str, Any], batch_size: int = 64
    ) -> None:
        (self.input_key, size, fixed_batch), (self.mu_key, self.logvar_key, latent_dim) = _check_signature(
            parts.function, name
        )
        super().__init__(name=name, sha256=sha256, batch_size=fixed_batch or batch_size, config=config)
        self.input_size, self.latent_dim = size, latent_dim
        self.parts = parts
        self.function, self.path = parts.function, parts.path
        obs_var = parts.obs_var
        self.has_decoder = parts.decoder_function is not None and obs_var is not None and obs_var > 0
        if self.has_decoder:
            self.beta, self.obs_var = (1.0 if parts.beta is None else float(parts.beta)), float(obs_var)

    def _forward(self, frames: Any) -> tuple[Any, Any]:
        out = self.function(**{self.input_key: frames})
        return out[self.mu_key], out[self.logvar_key]

    def _decoder_forward(self, z: Any) -> Any:
        return self.parts.decoder_function(z=z)["frames"]


def _check_signature(function: Any, name: str) -> tuple[tuple[str, int, int | None], tuple[str, str, int]]:
    """Return ((input key, S, fixed batch or None), (mu key, logvar key, d)) or say what does not fit."""
    import tensorflow as tf

    args, kwargs = function.structured_input_signature
    inputs = dict(kwargs) if not args else {f"arg{i}": v for i, v in enumerate(args)}
    found_in = {k: (tuple(inputs[k].shape), inputs[k].dtype.name) for k in sorted(inputs)}
    if len(inputs) != 1:
        raise EncoderError(
            f"Encoder {name!r} must take one input, frames of shape (None, S, S, 3) float32 in [0, 1]. "
            f"Received: inputs={found_in}"
        )
    key, spec = next(iter(inputs.items()))
    shape = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    if (
        spec.dtype != tf.float32
        or shape is None
        or len(shape) != 4
        or shape[3] != 3
        or shape[1] is None
        or shape[1] != shape[2]
    ):
        raise EncoderError(
            f"Encoder {name!r} must take square RGB frames of a fixed size, shape (None, S, S, 3) float32 in "
            f"[0, 1]. Received: input {key!r} of shape {shape} and dtype {spec.dtype.name}"
        )
    outputs = function.structured_outputs
    if isinstance(outputs, dict):
        found_out: Any = {k: tuple(outputs[k].shape) for k in sorted(outputs)}
    else:
        found_out = type(outputs).__name__
    mu_key = next((k for k in MU_NAMES if isinstance(outputs, dict) and k in outputs), None)
    lv_key = next((k for k in LOGVAR_NAMES if isinstance(outputs, dict) and k in outputs), None)
    if mu_key is None or lv_key is None:
        raise EncoderError(
            f"Encoder {name!r} must return the posterior as outputs named 'mu' and 'logvar' (or "
            f"{'/'.join(MU_NAMES[1:])} and {'/'.join(LOGVAR_NAMES[1:])}). Received: outputs={found_out}"
        )
    mu_shape, lv_shape = tuple(outputs[mu_key].shape.as_list()), tuple(outputs[lv_key].shape.as_list())
    if len(mu_shape) != 2 or mu_shape != lv_shape or mu_shape[1] is None or mu_shape[0] not in (None, shape[0]):
        raise EncoderError(
            f"Encoder {name!r} must return {mu_key!r} and {lv_key!r} of the same shape (None, d), one row per "
            f"frame. Received: {mu_key}={mu_shape}, {lv_key}={lv_shape}"
        )
    return (key, int(shape[1]), shape[0]), (mu_key, lv_key, int(mu_shape[1]))


def load_saved_model(
    path: Path,
    *,
    batch_size: int,
    unsafe: bool,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
    load: Callable[[], Any] | None = None,
) -> SavedModelEncoder:
    """Scan (unless ``unsafe``), load and check the SavedModel folder ``path``.

    Parameters
    ----------
    path : Path
    batch_size : int
    unsafe : bool
        Skip the scan (:func:`featkit.encoders.safety.check_saved_model`).
    name : str, optional
        Name stored as provenance; the folder's name by default.
    extra : dict, optional
        Added to the provenance config (a TF Hub load records its format, handle and loader).
    load : callable, optional
        Loads the model; ``tf.saved_model.load(path)`` by default.

    Returns
    -------
    SavedModelEncoder

    Raises
    ------
    UnsafeEncoderError
        If the scan finds ops featkit refuses.
    EncoderError
        If the model cannot be loaded or has no fitting signature.

    """
    if not unsafe:
        check_saved_model(path)
    sha = tree_sha256(path)
    if load is None:
        import tensorflow as tf

        load = lambda: tf.saved_model.load(os.fspath(path))  # noqa: E731
    try:
        obj = load()
    except Exception as exc:
        raise EncoderError(f"Could not load the SavedModel {os.fspath(path)!r}: {type(exc).__name__}: {exc}") from exc
    signatures = dict(getattr(obj, "signatures", {}) or {})
    if "serving_default" in signatures:
        sig_name = "serving_default"
    elif len(signatures) == 1:
        sig_name = next(iter(signatures))
    else:
        raise EncoderError(
            f"Encoder {os.fspath(path)!r} must have a 'serving_default' signature (or exactly one signature) "
            f"mapping frames to mu and logvar. Received: signatures={sorted(signatures)}"
        )
    config: dict[str, Any] = {"format": "saved_model", "signature": sig_name, "loader": "tf.saved_model.load"}
    config.update(extra or {})
    meta = read_export_metadata(path) or {}
    if meta:
        config["exported_from"] = meta.get("source")
    parts = SavedModelParts.of(obj, sig_name, path, meta)
    return SavedModelEncoder(parts, name=name or path.resolve().name, sha256=sha, config=config, batch_size=batch_size)
