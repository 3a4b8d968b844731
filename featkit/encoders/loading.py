"""Load the encoder an ``--encoder`` spec names: this module only dispatches to the format's loader.

A spec is one of:

- ``"default"``: the VAE shipped inside featkit (:mod:`featkit.encoders.lite` runs it on
  LiteRT, :mod:`featkit.encoders.keras_encoder` on Keras);
- a Keras 3 ``.keras`` file (a featkit VAE, or any model mapping frames to ``[mu, logvar]``):
  :mod:`featkit.encoders.keras_encoder`;
- a TensorFlow SavedModel folder (``featkit export`` writes one), or a local TF Hub module
  folder: :mod:`featkit.encoders.savedmodel`;
- a TF Hub handle (``https://...``), loaded from the local cache only (``$TFHUB_CACHE_DIR``;
  featkit never downloads): :mod:`featkit.encoders.hub`.

Loading is safe by default: :mod:`featkit.encoders.safety` scans Keras files and SavedModels
before anything in them runs, and refuses pickle files always. ``float16`` / ``int8`` are
TensorFlow Lite variants of the loaded model (:mod:`featkit.encoders.variants`).

Nothing here imports TensorFlow; the loaders do, when called.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from featkit._validation import Options, validate_params
from featkit.config import PRECISIONS
from featkit.encoders.base import Encoder
from featkit.encoders.hub import load_hub_handle
from featkit.encoders.keras_encoder import load_keras_encoder
from featkit.encoders.lite import load_default_litert, resolve_runtime
from featkit.encoders.safety import check_keras_file, refuse_pickle, scan_keras_file, scan_saved_model
from featkit.encoders.savedmodel import (
    LOGVAR_NAMES,
    MU_NAMES,
    SavedModelEncoder,
    is_saved_model_folder,
    load_saved_model,
    tree_sha256,
)
from featkit.encoders.variants import make_variant
from featkit.exceptions import EncoderError

__all__ = ["load_encoder", "resolve_encoder", "spec_kind"]
# Kept importable from here, where they lived before the format modules existed.
__all__ += ["LOGVAR_NAMES", "MU_NAMES", "SavedModelEncoder", "scan_keras_file", "scan_saved_model", "tree_sha256"]


def spec_kind(spec: str | os.PathLike[str]) -> str:
    """Say what an encoder spec names, without loading anything.

    Parameters
    ----------
    spec : str
        ``"default"``, a path, or a TF Hub handle.

    Returns
    -------
    str
        ``"default"``, ``"keras"``, ``"saved_model"`` or ``"hub"`` (a URL handle).

    Raises
    ------
    EncoderError
        If the spec is none of these; :class:`UnsafeEncoderError` for pickle files.

    """
    spec = os.fspath(spec)
    if spec == "default":
        return "default"
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if scheme in ("http", "https", "gs"):
            return "hub"
        raise EncoderError(
            f"Encoder handle {spec!r} has an unsupported scheme. Expected 'default', a .keras file, a SavedModel "
            f"folder or an http(s):// or gs:// TF Hub handle. Received: scheme={scheme!r}"
        )
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        raise EncoderError(
            f"Encoder {spec!r} is neither 'default' nor an existing file or folder. Expected 'default', a .keras "
            "file, a SavedModel folder, or a TF Hub handle."
        )
    if path.is_dir():
        if is_saved_model_folder(path):
            return "saved_model"
        if (path / "tfhub_module.pb").is_file():
            raise EncoderError(
                f"Encoder folder {spec!r} is a TF1 Hub module (tfhub_module.pb). featkit loads TF2 SavedModels only; "
                "use the module's TF2 version."
            )
        found = sorted(p.name for p in path.iterdir())[:8]
        raise EncoderError(
            f"Encoder folder {spec!r} is not a SavedModel: expected a saved_model.pb inside. Received: {found}"
        )
    refuse_pickle(path, spec)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise EncoderError(
                f"Encoder file {spec!r} is not a Keras 3 model: a .keras file is a zip archive (config.json and "
                "weights), and this one is not. Save the model with model.save('model.keras')."
            )
        return "keras"
    if suffix in (".h5", ".hdf5"):
        raise EncoderError(
            f"Encoder file {spec!r} is a legacy HDF5 model. featkit loads Keras 3 '.keras' files and SavedModel "
            "folders; re-save it with model.save('model.keras'). Received: suffix=" + repr(path.suffix)
        )
    if suffix == ".pb":
        raise EncoderError(f"Encoder {spec!r} is a protobuf file; pass the SavedModel folder that contains it.")
    raise EncoderError(
        f"Encoder file {spec!r} must be a Keras 3 '.keras' file (saved with model.save) or a SavedModel folder. "
        f"Received: suffix={path.suffix!r}"
    )


def load_encoder(
    spec: str | os.PathLike[str] = "default",
    *,
    batch_size: int = 64,
    precision: str = "float32",
    unsafe: bool = False,
    runtime: str = "auto",
    num_threads: int | None = None,
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
    num_threads : int, optional
        Interpreter threads where a TensorFlow Lite interpreter runs the model
        (the LiteRT default, the float16 / int8 variants); default: the CPUs
        this process may use. Results do not depend on it.

    Returns
    -------
    Encoder

    Raises
    ------
    ConfigError
        If ``precision`` or ``runtime`` is unknown, or ``runtime="litert"`` is
        asked of an encoder other than the default.
    EncoderError
        If the encoder cannot be found or loaded, or does not fit (the message
        names what was expected and what was found).
    UnsafeEncoderError
        If loading would run code from the file and ``unsafe`` is False (pickle
        files always).

    """
    validate_params("load_encoder", {"precision": [Options(PRECISIONS)]}, {"precision": precision})
    spec = os.fspath(spec)
    if resolve_runtime(spec, precision, runtime) == "litert" and precision == "float32":
        return load_default_litert(batch_size=batch_size, num_threads=num_threads)
    kind = spec_kind(spec)
    if kind in ("default", "keras"):
        if kind == "keras" and not unsafe:
            check_keras_file(Path(os.path.expanduser(spec)), spec)
        base: Encoder = load_keras_encoder(spec, batch_size=batch_size, unsafe=unsafe)
    elif kind == "saved_model":
        base = load_saved_model(Path(os.path.expanduser(spec)), batch_size=batch_size, unsafe=unsafe)
    else:
        base = load_hub_handle(spec, batch_size=batch_size, unsafe=unsafe)
    if precision == "float32":
        return base
    return make_variant(base, precision, num_threads=num_threads)


#: The name this function had here before it was the public :func:`featkit.encoders.load_encoder`.
resolve_encoder = load_encoder
