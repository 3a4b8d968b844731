"""Keras encoders: the shipped default VAE and user ``.keras`` files, wrapped for extraction.

This module imports TensorFlow and Keras; nothing in ``import featkit`` does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from featkit.encoders.graph import GraphEncoder
from featkit.exceptions import EncoderError
from featkit.files import sha256_of

__all__ = ["DEFAULT_CONFIG_PATH", "DEFAULT_WEIGHTS_PATH", "KerasEncoder", "load_default_vae", "load_keras_encoder"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS_PATH = WEIGHTS_DIR / "default.weights.h5"
DEFAULT_CONFIG_PATH = WEIGHTS_DIR / "default.json"


def default_model_card() -> dict[str, Any]:
    """The shipped default's config and training report (``weights/default.json``)."""
    try:
        return json.loads(DEFAULT_CONFIG_PATH.read_text())
    except FileNotFoundError as exc:
        raise EncoderError(
            f"The default encoder's config is missing from the installed package ({DEFAULT_CONFIG_PATH}). "
            "Reinstall featkit, or train one with benchmarks/train_default.py."
        ) from exc


def load_default_vae() -> Any:
    """Build the shipped default VAE and load its weights.

    Returns
    -------
    featkit.encoders.vae.VAE

    """
    from featkit.encoders.vae import build_vae

    card = default_model_card()
    if not DEFAULT_WEIGHTS_PATH.is_file():
        raise EncoderError(
            f"The default encoder's weights are missing from the installed package ({DEFAULT_WEIGHTS_PATH}). "
            "Reinstall featkit, or train them with benchmarks/train_default.py."
        )
    vae = build_vae(**card["architecture"])
    vae.load_weights(DEFAULT_WEIGHTS_PATH)
    return vae


class KerasEncoder(GraphEncoder):
    """Run a Keras encoder model (frames in [0, 1] -> ``[mu, logvar]``) on uint8 frames.

    Every call runs on batches of exactly ``batch_size`` frames (the last one
    zero-padded) through one compiled graph, so a frame's features do not
    depend on what else is in its batch or on how the work was scheduled.

    Parameters
    ----------
    model : keras.Model
        Encoder with input (None, S, S, 3) and outputs ``[mu, logvar]`` of shape (None, d).
    name : str
        Name stored as provenance.
    sha256 : str
        Hash of the weights file the model came from.
    config : dict
        Architecture and training settings stored as provenance.
    batch_size : int, default=64
    decoder : keras.Model, optional
        The VAE's decoder (z of shape (None, d) -> frames in [0, 1]); enables
        :meth:`decode` and :meth:`~featkit.encoders.Encoder.score`.
    beta, obs_var : float, optional
        The VAE's KL weight and decoder variance (needed with ``decoder``).

    """

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        sha256: str,
        config: dict[str, Any],
        batch_size: int = 64,
        decoder: Any = None,
        beta: float | None = None,
        obs_var: float | None = None,
    ) -> None:
        super().__init__(name=name, sha256=sha256, batch_size=batch_size, config=config)
        self.model = model
        self.input_size, self.latent_dim = _check_encoder_model(model, name)
        self.decoder = decoder
        self.has_decoder = decoder is not None
        if self.has_decoder:
            _check_decoder_model(decoder, name, self.input_size, self.latent_dim)
            self.beta = 1.0 if beta is None else float(beta)
            self.obs_var = float(obs_var) if obs_var is not None else None
            if self.obs_var is None or self.obs_var <= 0:
                raise EncoderError(
                    f"Encoder {name!r} has a decoder but no positive obs_var. Received: obs_var={obs_var}"
                )

    def _forward(self, frames: Any) -> tuple[Any, Any]:
        mu, logvar = self.model(frames, training=False)
        return mu, logvar

    def _decoder_forward(self, z: Any) -> Any:
        return self.decoder(z, training=False)


def _check_encoder_model(model: Any, name: str) -> tuple[int, int]:
    """Return (input size, latent size) or raise EncoderError saying what does not fit."""
    try:
        inputs = list(model.inputs)
        in_shape = tuple(inputs[0].shape)
        outputs = list(model.outputs)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise EncoderError(
            f"Encoder {name!r} must be a Keras model with one frame input and outputs [mu, logvar]. "
            f"Received: {type(model).__name__}"
        ) from exc
    if len(inputs) != 1:
        raise EncoderError(
            f"Encoder {name!r} must have one input, frames of shape (None, S, S, 3). "
            f"Received: {len(inputs)} inputs of shapes {[tuple(i.shape) for i in inputs]}"
        )
    dtype = str(getattr(inputs[0], "dtype", "float32"))
    if len(in_shape) != 4 or in_shape[3] != 3 or in_shape[1] is None or in_shape[1] != in_shape[2]:
        raise EncoderError(
            f"Encoder {name!r} must take square RGB frames of shape (None, S, S, 3). Received: input shape={in_shape}"
        )
    if "float" not in dtype:
        raise EncoderError(
            f"Encoder {name!r} must take float frames in [0, 1] (featkit scales uint8 pixels by 1/255). "
            f"Received: input dtype={dtype}"
        )
    if isinstance(getattr(model, "output", None), dict):
        # Keras lists dict outputs in key order, so position would not say which one is mu.
        raise EncoderError(
            f"Encoder {name!r} must return a list [mu, logvar], not a dict. "
            f"Received: outputs named {sorted(model.output)}"
        )
    shapes = [tuple(o.shape) for o in outputs]
    if len(shapes) != 2 or any(len(s) != 2 for s in shapes) or shapes[0] != shapes[1]:
        raise EncoderError(
            f"Encoder {name!r} must have two outputs [mu, logvar] of the same shape (None, d). "
            f"Received: output shapes={shapes}"
        )
    return int(in_shape[1]), int(shapes[0][1])


def _check_decoder_model(decoder: Any, name: str, size: int, latent_dim: int) -> None:
    """Raise EncoderError unless the decoder maps (None, d) to (None, S, S, 3)."""
    try:
        in_shape, out_shape = tuple(decoder.inputs[0].shape), tuple(decoder.outputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise EncoderError(
            f"The decoder of {name!r} must be a Keras model from z to frames. Received: {type(decoder).__name__}"
        ) from exc
    if in_shape != (None, latent_dim) or out_shape != (None, size, size, 3):
        raise EncoderError(
            f"The decoder of {name!r} must map (None, {latent_dim}) to (None, {size}, {size}, 3). "
            f"Received: input shape={in_shape}, output shape={out_shape}"
        )


def load_keras_encoder(spec: str = "default", *, batch_size: int = 64, unsafe: bool = False) -> KerasEncoder:
    """Load the default encoder or a ``.keras`` file (see :func:`featkit.encoders.load_encoder`).

    ``.keras`` files load in Keras safe mode unless ``unsafe`` is True (then Lambda
    layers and other serialised Python code in the file run; trusted files only).
    """
    if spec == "default":
        card = default_model_card()
        vae = load_default_vae()
        return KerasEncoder(
            vae.encoder,
            name=card.get("name", "featkit-default"),
            sha256=sha256_of(DEFAULT_WEIGHTS_PATH),
            config={"architecture": card["architecture"]},
            batch_size=batch_size,
            decoder=vae.decoder,
            beta=vae.beta,
            obs_var=vae.obs_var,
        )
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        raise EncoderError(f"Encoder {spec!r} is neither 'default' nor an existing file.")
    if path.suffix != ".keras":
        raise EncoderError(
            f"Encoder file {spec!r} must be a Keras 3 '.keras' file (saved with model.save). "
            f"Received: suffix={path.suffix!r}"
        )
    import keras

    import featkit.encoders.vae  # noqa: F401  (registers featkit's serializable classes)

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            from featkit.exceptions import UnsafeEncoderError

            raise UnsafeEncoderError(
                f"Refusing to load {spec!r}: it contains code (e.g. a Lambda layer) that would run on load. "
                "featkit loads models in Keras safe mode by default; re-save the model without Lambda layers, "
                "or pass --unsafe (Python: unsafe=True) if you trust the file's author."
            ) from exc
        raise EncoderError(f"Could not load encoder file {spec!r}: {exc}") from exc
    except (OSError, TypeError, KeyError) as exc:
        raise EncoderError(f"Could not load encoder file {spec!r}: {type(exc).__name__}: {exc}") from exc
    encoder = getattr(model, "encoder", model)
    config: dict[str, Any] = {"file": path.name}
    if unsafe:
        config["safe_mode"] = False  # provenance says the file was trusted
    if hasattr(model, "beta"):
        config.update(beta=model.beta, obs_var=model.obs_var)
    decoder = getattr(model, "decoder", None) if hasattr(model, "obs_var") else None
    return KerasEncoder(
        encoder,
        name=path.stem,
        sha256=sha256_of(path),
        config=config,
        batch_size=batch_size,
        decoder=decoder,
        beta=getattr(model, "beta", None),
        obs_var=getattr(model, "obs_var", None),
    )
