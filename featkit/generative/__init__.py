"""What the VAE offers beyond features: compression and recovery, completion, generation, anomaly scores.

Each needs an encoder that carries its VAE's decoder (the shipped default
does; see :attr:`featkit.encoders.Encoder.has_decoder`). Modules:

* :mod:`~featkit.generative.reconstruct`: frames -> stored μ -> decoded frames;
  side-by-side video, rate/distortion report, latents saved and decoded again;
* :mod:`~featkit.generative.completion`: fill missing frames by interpolating
  latents (or pixels, the baseline) between known neighbours;
* :mod:`~featkit.generative.generation`: prior samples and latent walks as PNG
  contact sheets;
* :mod:`~featkit.generative.anomaly`: per-frame negative ELBO, the ``anomaly``
  statistic of ``featkit extract``;
* :mod:`~featkit.generative.latent`, :mod:`~featkit.generative.media`: latent
  interpolation; reading frames and writing MP4/PNG.

Nothing here imports TensorFlow at import time; the encoder does when loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> defining module, imported on first use (PEP 562), so that `featkit --help` (which
# imports featkit.generative.commands for its parsers) loads neither numpy nor h5py.
_LAZY = {
    "negative_elbo": "featkit.generative.anomaly",
    "reconstruction_mse": "featkit.generative.anomaly",
    "complete_frames": "featkit.generative.completion",
    "complete_video": "featkit.generative.completion",
    "parse_frame_list": "featkit.generative.completion",
    "latent_walk": "featkit.generative.generation",
    "prior_sheet": "featkit.generative.generation",
    "sample_prior": "featkit.generative.generation",
    "walk_sheet": "featkit.generative.generation",
    "interpolate": "featkit.generative.latent",
    "decode_latents": "featkit.generative.reconstruct",
    "rate": "featkit.generative.reconstruct",
    "reconstruct": "featkit.generative.reconstruct",
    "reconstruct_video": "featkit.generative.reconstruct",
    "encode_frames": "featkit.reduce",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access."""
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "complete_frames",
    "complete_video",
    "decode_latents",
    "encode_frames",
    "interpolate",
    "latent_walk",
    "negative_elbo",
    "parse_frame_list",
    "prior_sheet",
    "rate",
    "reconstruct",
    "reconstruct_video",
    "reconstruction_mse",
    "sample_prior",
    "walk_sheet",
]
