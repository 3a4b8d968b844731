"""featkit: turn videos into features for machine learning.

``featkit extract videos/ -o features.h5`` decodes every video under a folder,
samples frames into clips, encodes the frames with a pretrained VAE, reduces
each clip to latent statistics and stores them in HDF5; ``load_features``
returns them as ``X, y, groups`` for scikit-learn.

Importing featkit is light: TensorFlow, decord and h5py load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featkit._version import __version__
from featkit.config import DEFAULT_STATS, ExtractionConfig, SamplingConfig
from featkit.exceptions import (
    ConfigError,
    EncoderError,
    FeatkitError,
    InsufficientDataError,
    LayoutError,
    ModelError,
    StoreError,
    StoreLockedError,
    StoreMismatchError,
    StoreWriteError,
    VideoDecodeError,
    VideoError,
    VideoOpenError,
)

if TYPE_CHECKING:  # pragma: no cover
    from featkit.aggregate import aggregate_by_video, predict_by_video
    from featkit.detection import ClipAnomalyDetector
    from featkit.encoders import load_encoder
    from featkit.export_table import export_features
    from featkit.extraction import ExtractionReport, extract, extract_list
    from featkit.store.reader import Features, FrameLatents, load_features, load_frames, load_videos
    from featkit.training import TrainConfig, TrainResult, train_vae_on_videos
    from featkit.transformers import LatentStatsSelector, StatisticGroupScaler, VideoFeatureExtractor

__all__ = [
    "DEFAULT_STATS",
    "ClipAnomalyDetector",
    "ConfigError",
    "EncoderError",
    "ExtractionConfig",
    "ExtractionReport",
    "FeatkitError",
    "Features",
    "FrameLatents",
    "InsufficientDataError",
    "LatentStatsSelector",
    "LayoutError",
    "ModelError",
    "SamplingConfig",
    "StatisticGroupScaler",
    "StoreError",
    "StoreLockedError",
    "StoreMismatchError",
    "StoreWriteError",
    "TrainConfig",
    "TrainResult",
    "VideoDecodeError",
    "VideoError",
    "VideoFeatureExtractor",
    "VideoOpenError",
    "__version__",
    "aggregate_by_video",
    "export_features",
    "extract",
    "extract_list",
    "load_encoder",
    "load_features",
    "load_frames",
    "load_videos",
    "predict_by_video",
    "train_vae_on_videos",
]

# Public names that live in modules with heavy imports, loaded on first access.
_LAZY = {
    "ClipAnomalyDetector": "featkit.detection",
    "extract": "featkit.extraction",
    "ExtractionReport": "featkit.extraction",
    "load_features": "featkit.store.reader",
    "Features": "featkit.store.reader",
    "load_videos": "featkit.store.reader",
    "load_frames": "featkit.store.reader",
    "FrameLatents": "featkit.store.reader",
    "extract_list": "featkit.extraction",
    "export_features": "featkit.export_table",
    "LatentStatsSelector": "featkit.transformers",
    "StatisticGroupScaler": "featkit.transformers",
    "VideoFeatureExtractor": "featkit.transformers",
    "aggregate_by_video": "featkit.aggregate",
    "predict_by_video": "featkit.aggregate",
    "load_encoder": "featkit.encoders",
    "TrainConfig": "featkit.training",
    "TrainResult": "featkit.training",
    "train_vae_on_videos": "featkit.training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'featkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
