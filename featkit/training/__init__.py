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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads each name on first use
    from featkit.training.config import DEFAULT_CROP_SCALES, TrainConfig, TrainResult
    from featkit.training.data import TrainingWarning, split_videos
    from featkit.training.frames import collect_frames, random_crops, read_views
    from featkit.training.init_model import architecture_of, load_vae_file
    from featkit.training.job import train_vae_on_videos
    from featkit.training.report import summary_lines
    from featkit.training.trainer import VAETrainer, reconstruct

#: Where each public name lives; loaded on first use (PEP 562), so that importing one submodule (the CLI's
#: `featkit.training.command`, for `featkit --help`) does not import numpy through the others.
_HOMES = {
    "DEFAULT_CROP_SCALES": "config",
    "TrainConfig": "config",
    "TrainResult": "config",
    "TrainingWarning": "data",
    "split_videos": "data",
    "collect_frames": "frames",
    "random_crops": "frames",
    "read_views": "frames",
    "architecture_of": "init_model",
    "load_vae_file": "init_model",
    "train_vae_on_videos": "job",
    "summary_lines": "report",
    "VAETrainer": "trainer",
    "reconstruct": "trainer",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(f"featkit.training.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'featkit.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


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
