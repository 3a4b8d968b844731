"""The model a training run starts from: a new VAE, the shipped default, or a ``.keras`` file to fine-tune.

:func:`resolve_init` turns a :class:`~featkit.training.config.TrainConfig` into the architecture
to build, the initial weights and the starting point's identity (recorded in the report and
compared on resume, with the rest of :func:`run_settings`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from featkit.exceptions import ConfigError, EncoderError
from featkit.files import sha256_of
from featkit.training.config import TrainConfig

__all__ = ["architecture_of", "load_vae_file", "resolve_init", "run_settings"]

_ARCH_KEYS = ("input_size", "latent_dim", "widths")
# build_vae settings a card names only when set (a plain design's card has none of them).
_OPTIONAL_KEYS = ("latent_grid", "latent_global", "encoder_blocks", "global_hidden", "global_pool")


def _new_model_defaults() -> dict[str, Any]:
    """The shipped default's architecture, so a new model follows the same recipe."""
    from featkit.encoders.keras_encoder import default_model_card

    try:
        arch = default_model_card()["architecture"]
        return _card_architecture(arch)
    except (EncoderError, KeyError):
        return {"input_size": 64, "latent_dim": 32, "widths": [32, 64, 128, 128], "beta": 1.0, "obs_var": 0.002}


def _card_architecture(arch: dict[str, Any]) -> dict[str, Any]:
    """The build settings a model card names (``latent_grid`` only for a spatial latent)."""
    out = {k: arch[k] for k in (*_ARCH_KEYS, "beta", "obs_var")}
    for key in _OPTIONAL_KEYS:
        if arch.get(key):
            out[key] = bool(arch[key]) if key == "global_pool" else int(arch[key])
    return out


def resolve_init(config: TrainConfig) -> tuple[dict[str, Any], list[np.ndarray] | None, dict[str, Any]]:
    """Architecture, initial weights and identity of the starting point."""
    if config.init is None:
        base, weights, identity = _new_model_defaults(), None, {"kind": "new"}
    elif config.init == "default":
        from featkit.encoders.keras_encoder import DEFAULT_WEIGHTS_PATH, default_model_card, load_default_vae

        card = default_model_card()
        base = _card_architecture(card["architecture"])
        weights = load_default_vae().get_weights()
        identity = {"kind": "default", "name": card.get("name"), "sha256": sha256_of(DEFAULT_WEIGHTS_PATH)}
    else:
        vae, base = load_vae_file(config.init)
        weights = vae.get_weights()
        identity = {"kind": "file", "path": os.path.abspath(config.init), "sha256": sha256_of(config.init)}
    base = {**base, "widths": [int(w) for w in base["widths"]]}
    if config.init is not None:
        for key in _ARCH_KEYS:
            given = getattr(config, key)
            given = list(given) if isinstance(given, tuple) else given
            if given is not None and given != base[key]:
                what = "the shipped default" if config.init == "default" else repr(config.init)
                raise ConfigError(
                    f"The '{key}' parameter must match the initial model's when fine-tuning {what}: "
                    f"it is {base[key]!r}. Got {given!r} instead. Leave it out, or train a new model (no init)."
                )
    arch = {key: (base[key] if getattr(config, key, None) is None else getattr(config, key)) for key in base}
    arch["widths"] = [int(w) for w in arch["widths"]]
    if arch["input_size"] % 2 ** len(arch["widths"]):
        raise ConfigError(
            f"The 'input_size' parameter must be divisible by 2**len(widths)={2 ** len(arch['widths'])}. "
            f"Got {arch['input_size']!r} instead (widths {arch['widths']})."
        )
    if arch.get("latent_grid"):
        # A new model follows the default's spatial design (one code per cell of the last feature map)
        # when its latent_dim fills that grid, and has one global code otherwise; the report's
        # architecture says which. A fine-tuned model keeps its own (its shape keys cannot change).
        # A global part beside the grid (latent_global) is kept while the rest still fills the grid.
        side = arch["input_size"] // 2 ** len(arch["widths"])
        d, g = arch["latent_dim"], arch.get("latent_global", 0)
        if g and not (d > g and (d - g) % side**2 == 0):
            del arch["latent_global"]
            arch.pop("global_hidden", None)
            arch.pop("global_pool", None)
            g = 0
        if (d - g) % side**2:
            del arch["latent_grid"]
        else:
            arch["latent_grid"] = side
    return arch, weights, identity


def run_settings(config: TrainConfig, arch: dict[str, Any], init: dict[str, Any]) -> dict[str, Any]:
    """What the trained weights depend on, besides the data (compared on resume)."""
    keep = {k: v for k, v in config.to_dict().items() if k not in ("init", "holdout_videos", "holdout_fraction")}
    keep.update(arch)
    keep["learning_rate"] = config.effective_learning_rate
    keep["init"] = {k: v for k, v in init.items() if k != "path"}
    return json.loads(json.dumps(keep))


def architecture_of(vae: Any) -> dict[str, Any]:
    """The :func:`~featkit.encoders.vae.build_vae` settings of a featkit VAE (without ``seed``).

    Raises
    ------
    EncoderError
        If the model was not built by :func:`~featkit.encoders.vae.build_vae`.

    """
    try:
        enc = vae.encoder
        widths, i = [], 0
        while any(layer.name == f"conv{i}" for layer in enc.layers):
            widths.append(int(enc.get_layer(f"conv{i}").filters))
            i += 1
        grid = [layer for layer in enc.layers if layer.name == "mu_grid"]
        arch = {
            "input_size": int(enc.inputs[0].shape[1]),
            # A spatial latent's "mu" is the Flatten of its grid head.
            "latent_dim": int(enc.get_layer("mu").output.shape[-1]) if grid else int(enc.get_layer("mu").units),
            "widths": widths,
            "beta": float(vae.beta),
            "obs_var": float(vae.obs_var),
        }
        if grid:
            arch["latent_grid"] = int(grid[0].output.shape[1])
        glob = [layer for layer in enc.layers if layer.name == "mu_global"]
        if glob:
            arch["latent_global"] = int(glob[0].units)
        blocks = sum(layer.name.startswith("block") and layer.name[5:].isdigit() for layer in enc.layers)
        if blocks:
            arch["encoder_blocks"] = blocks
        hidden = [layer for layer in enc.layers if layer.name == "global_hidden"]
        if hidden:
            arch["global_hidden"] = int(hidden[0].units)
        if any(layer.name == "global_mean" for layer in enc.layers):
            arch["global_pool"] = True
    except (AttributeError, ValueError, IndexError, TypeError) as exc:
        raise EncoderError(
            "The model is not a featkit VAE (an encoder with conv0.., mu and logvar layers, and a decoder). "
            f"Received: {type(vae).__name__}: {exc}"
        ) from exc
    if not widths:
        raise EncoderError("The model is not a featkit VAE: its encoder has no conv0 layer.")
    return arch


def load_vae_file(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Load a full featkit VAE from a ``.keras`` file (Keras safe mode) to fine-tune it.

    Parameters
    ----------
    path : path-like
        A file written by ``featkit train`` (or ``VAE.save``).

    Returns
    -------
    vae : VAE
    architecture : dict
        Its :func:`architecture_of`.

    Raises
    ------
    EncoderError
        If the file is missing, not a ``.keras`` file, cannot be loaded safely, or is not a VAE
        with a decoder (an encoder-only model cannot be fine-tuned).

    """
    path = Path(path)
    if path.suffix != ".keras" or not path.is_file():
        raise EncoderError(
            f"The initial model must be an existing '.keras' file written by featkit train. Received: {str(path)!r}"
        )
    import keras

    from featkit.encoders.vae import VAE, build_vae

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError) as exc:
        raise EncoderError(f"Could not load {str(path)!r} in Keras safe mode: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, VAE):
        raise EncoderError(
            f"{str(path)!r} holds a {type(model).__name__}, not a featkit VAE with a decoder; only a model "
            "written by featkit train can be fine-tuned."
        )
    arch = architecture_of(model)
    expected = [tuple(w.shape) for w in build_vae(**arch).get_weights()]
    if [tuple(w.shape) for w in model.get_weights()] != expected:
        raise EncoderError(f"{str(path)!r} is a VAE whose layers differ from featkit's build_vae({arch}).")
    return model, arch
