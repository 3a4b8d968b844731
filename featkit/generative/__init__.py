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

from featkit.generative.anomaly import negative_elbo, reconstruction_mse
from featkit.generative.completion import complete_frames, complete_video, parse_frame_list
from featkit.generative.generation import latent_walk, prior_sheet, sample_prior, walk_sheet
from featkit.generative.latent import interpolate
from featkit.generative.reconstruct import decode_latents, rate, reconstruct, reconstruct_video
from featkit.reduce import encode_frames

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
