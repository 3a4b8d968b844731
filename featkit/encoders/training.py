"""Former home of the training helpers, kept so that existing imports keep working.

Everything moved to :mod:`featkit.training` (frames in :mod:`featkit.training.frames`, the loop in
:mod:`featkit.training.trainer`, loading a VAE to fine-tune in :mod:`featkit.training.init_model`);
import from there in new code.
"""

from __future__ import annotations

from featkit.metrics import psnr, ssim
from featkit.training.frames import collect_frames, random_crops, read_views
from featkit.training.init_model import architecture_of, load_vae_file
from featkit.training.trainer import VAETrainer, reconstruct

__all__ = [
    "VAETrainer",
    "architecture_of",
    "collect_frames",
    "load_vae_file",
    "psnr",
    "random_crops",
    "read_views",
    "reconstruct",
    "ssim",
]
