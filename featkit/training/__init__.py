"""Training featkit VAEs on videos: the ``featkit train`` job and the pieces it is made of.

One module per step:

- :mod:`~featkit.training.config`: :class:`TrainConfig` (the settings) and :class:`TrainResult`;
- :mod:`~featkit.training.frames`: frames and random crops read through the decode seam
  (:func:`featkit.io.backends.open_video`, with its fallback backend);
- :mod:`~featkit.training.data`: discovering, hashing, splitting and reading a folder of videos;
- :mod:`~featkit.training.init_model`: the model a run starts from (new, shipped default, or a file);
- :mod:`~featkit.training.trainer`: :class:`VAETrainer`, the exactly resumable Keras loop;
- :mod:`~featkit.training.checkpoints`: the per-epoch checkpoint, its lock, and the resume check;
- :mod:`~featkit.training.report`: held-out quality against PCA, the saved model, the run record;
- :mod:`~featkit.training.job`: :func:`train_vae_on_videos`, the steps in order;
- :mod:`~featkit.training.command`: the ``featkit train`` options and their run.

Importing this package is light; TensorFlow, decord and scikit-learn load when training starts.
The VAE's architecture lives in :mod:`featkit.encoders.vae`.
"""

from __future__ import annotations

from featkit.training.config import DEFAULT_CROP_SCALES, TrainConfig, TrainResult
from featkit.training.data import TrainingWarning, split_videos
from featkit.training.frames import collect_frames, random_crops, read_views
from featkit.training.init_model import architecture_of, load_vae_file
from featkit.training.job import train_vae_on_videos
from featkit.training.report import summary_lines
from featkit.training.trainer import VAETrainer, reconstruct

__all__ = [
    "DEFAULT_CROP_SCALES",
    "TrainConfig",
    "TrainResult",
    "TrainingWarning",
    "VAETrainer",
    "architecture_of",
    "collect_frames",
    "load_vae_file",
    "random_crops",
    "read_views",
    "reconstruct",
    "split_videos",
    "summary_lines",
    "train_vae_on_videos",
]
