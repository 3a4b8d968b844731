"""The encoder the generative commands work with: one that carries its VAE's decoder."""

from __future__ import annotations

from typing import Any

from featkit.exceptions import EncoderError

__all__ = ["require_decoder"]


def require_decoder(encoder: Any = None, what: str = "decode latents", *, spec: str = "default") -> Any:
    """Return ``encoder`` (or load ``spec``) after checking that it can decode.

    Parameters
    ----------
    encoder : featkit.encoders.Encoder, optional
        An already loaded encoder; when None, ``spec`` is loaded.
    what : str
        What the caller wants to do, for the error message.
    spec : str, default="default"
        What to load (see :func:`featkit.encoders.load_encoder`).

    Raises
    ------
    EncoderError
        If the encoder has no decoder.

    """
    if encoder is None:
        from featkit.encoders import load_encoder

        encoder = load_encoder(spec)
    if not getattr(encoder, "has_decoder", False):
        raise EncoderError(
            f"Encoder {getattr(encoder, 'name', encoder)!r} cannot {what}: it has no decoder. Use the default "
            "encoder or a .keras file holding a whole featkit VAE (encoder and decoder). Received: has_decoder=False"
        )
    return encoder
