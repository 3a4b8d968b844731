"""Frame encoders: the interface featkit extracts with, and how encoders are loaded.

This package's ``__init__`` stays free of TensorFlow; :func:`load_encoder`
imports it on first use.
"""

from __future__ import annotations

from featkit.encoders.base import Encoder

__all__ = ["Encoder", "load_encoder"]


def load_encoder(spec: str = "default", *, batch_size: int = 64) -> Encoder:
    """Load an encoder by name or path.

    Parameters
    ----------
    spec : str, default="default"
        ``"default"`` for the VAE shipped inside featkit, or a path to a
        ``.keras`` file holding a featkit :class:`~featkit.encoders.vae.VAE`
        (or any Keras model mapping frames to ``[mu, logvar]``), loaded in
        Keras safe mode.
    batch_size : int, default=64
        Frames per encoder call.

    Returns
    -------
    Encoder

    Raises
    ------
    EncoderError
        If the encoder cannot be found or loaded, or does not fit.

    """
    from featkit.encoders.keras_encoder import load_keras_encoder

    return load_keras_encoder(spec, batch_size=batch_size)
