"""The settings of one ``featkit train`` run (:class:`TrainConfig`) and what the run returns (:class:`TrainResult`).

Pure Python: nothing here imports numpy, TensorFlow or a decoder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featkit.exceptions import ConfigError

__all__ = ["DEFAULT_CROP_SCALES", "TrainConfig", "TrainResult"]

#: Scales at which random crops are cut (the frame's shorter side is resized to ``scale * input_size``).
DEFAULT_CROP_SCALES: tuple[float, ...] = (1.25, 1.5, 2.0)


def _bad(name: str, allowed: str, value: Any) -> ConfigError:
    return ConfigError(f"The '{name}' parameter of TrainConfig must be {allowed}. Got {value!r} instead.")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one ``featkit train`` run (every field is a CLI option).

    Parameters
    ----------
    epochs : int, default=20
        Passes over the training frames; also the length of the cosine learning-rate decay.
    init : str or None, default=None
        ``None`` trains a new model; ``"default"`` fine-tunes the VAE shipped with featkit;
        a path to a ``.keras`` file fine-tunes a VAE written by an earlier ``featkit train``.
    input_size, latent_dim : int or None
        Frame side and latent size. ``None``: the initial model's, or for a new model the
        shipped default's. With ``init`` they must equal the initial model's.
    widths : tuple of int or None
        Filters of the encoder's stride-2 convolutions (the decoder mirrors them); same rule.
    beta, obs_var : float or None
        KL weight and the decoder's fixed variance (see :mod:`featkit.encoders.vae`).
        ``None``: the initial model's, or the shipped default's. They may differ from the
        initial model's when fine-tuning.
    batch_size : int, default=64
    learning_rate : float or None, default=None
        Adam's starting rate; it decays along a cosine to 5 % of it. ``None``: 1e-3 for a new
        model, 1e-4 when fine-tuning (1e-3 quickly undoes what the initial model learned when
        the new data are few).
    fps : float, default=4.0
        Frames sampled per second of video (by timestamp).
    max_per_video : int or None, default=1500
        At most this many sampled frames per video, evenly spaced (``None``: all).
    crops : int, default=2
        Random crops per sampled training frame (held-out frames are never cropped).
    crop_scales : tuple of float, default=(1.25, 1.5, 2.0)
        Each crop draws one scale; the frame is decoded with its shorter side at
        ``scale * input_size`` and a window of ``input_size`` is cut from it.
    flip : bool, default=True
        Random horizontal flips during training.
    holdout_fraction : float, default=0.2
        Fraction of the videos held out for the report (at least one when there are two or
        more; ``0`` holds out none). Ignored when ``holdout_videos`` is given.
    holdout_videos : tuple of str, default=()
        Videos to hold out, by path relative to the folder, file name or file stem.
    seed : int, default=0
        Seeds the split, the crops, the initial weights, the sampler and the data order.

    """

    epochs: int = 20
    init: str | None = None
    input_size: int | None = None
    latent_dim: int | None = None
    widths: tuple[int, ...] | None = None
    beta: float | None = None
    obs_var: float | None = None
    batch_size: int = 64
    learning_rate: float | None = None
    fps: float = 4.0
    max_per_video: int | None = 1500
    crops: int = 2
    crop_scales: tuple[float, ...] = DEFAULT_CROP_SCALES
    flip: bool = True
    holdout_fraction: float = 0.2
    holdout_videos: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name, minimum, optional in (
            ("epochs", 1, False),
            ("input_size", 4, True),
            ("latent_dim", 1, True),
            ("batch_size", 1, False),
            ("max_per_video", 1, True),
            ("crops", 0, False),
            ("seed", 0, False),
        ):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _bad(name, f"an int >= {minimum}" + (" or None" if optional else ""), value)
        for name, optional in (("beta", True), ("obs_var", True), ("learning_rate", True), ("fps", False)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not _is_number(value) or value < 0 or (value == 0 and name != "beta"):
                kind = "a number >= 0" if name == "beta" else "a positive number"
                raise _bad(name, kind + (" or None" if optional else ""), value)
            object.__setattr__(self, name, float(value))
        if self.widths is not None:
            widths = tuple(self.widths) if isinstance(self.widths, Sequence) else ()
            if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
                raise _bad("widths", "a non-empty sequence of positive ints or None", self.widths)
            object.__setattr__(self, "widths", widths)
            if self.input_size is not None and self.input_size % 2 ** len(widths):
                raise ConfigError(
                    f"The 'input_size' parameter of TrainConfig must be divisible by 2**len(widths)="
                    f"{2 ** len(widths)}. Got {self.input_size!r} instead."
                )
        scales = tuple(self.crop_scales) if isinstance(self.crop_scales, Sequence) else ()
        if not scales or not all(_is_number(s) and s >= 1 for s in scales):
            raise _bad("crop_scales", "a non-empty sequence of numbers >= 1", self.crop_scales)
        object.__setattr__(self, "crop_scales", tuple(float(s) for s in scales))
        if not _is_number(self.holdout_fraction) or not 0 <= self.holdout_fraction < 1:
            raise _bad("holdout_fraction", "a number in [0, 1)", self.holdout_fraction)
        object.__setattr__(self, "holdout_fraction", float(self.holdout_fraction))
        if isinstance(self.holdout_videos, str) or not all(isinstance(v, str) for v in self.holdout_videos):
            raise _bad("holdout_videos", "a sequence of video names", self.holdout_videos)
        object.__setattr__(self, "holdout_videos", tuple(self.holdout_videos))
        if self.init is not None and not isinstance(self.init, str | os.PathLike):
            raise _bad("init", "None, 'default' or the path of a .keras file", self.init)
        if self.init is not None:
            object.__setattr__(self, "init", os.fspath(self.init))

    @property
    def effective_learning_rate(self) -> float:
        """``learning_rate``, or when it is ``None`` the default for this start: 1e-3 new, 1e-4 fine-tuning."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-3 if self.init is None else 1e-4

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the report and the checkpoint)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_vae_on_videos` wrote.

    Attributes
    ----------
    output : pathlib.Path
        The ``.keras`` model.
    report_path : pathlib.Path
        The JSON report beside it.
    report : dict
        The report's content.
    resumed_from : int or None
        Epochs already done by an earlier, interrupted run; ``None`` for a fresh run.

    """

    output: Path
    report_path: Path
    report: dict[str, Any]
    resumed_from: int | None
