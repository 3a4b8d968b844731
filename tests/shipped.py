"""Facts about the shipped default encoder that tests compare against, read from its model card."""

from __future__ import annotations


def default_latent_dim() -> int:
    """d of the shipped default (32 for featkit-default-v2, 128 for v3)."""
    from featkit.encoders.keras_encoder import default_model_card

    return int(default_model_card()["architecture"]["latent_dim"])
