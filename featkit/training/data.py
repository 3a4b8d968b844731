"""The training data of a run: discover and hash the videos, split them, read their frames and crops.

Whole videos are held out (:func:`split_videos`); a folder with a single readable video holds
out the tail of that video instead, with a :class:`TrainingWarning`. A video that cannot be
read is skipped, recorded and warned about; the run goes on with the others.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featkit.discover import discover_videos
from featkit.exceptions import ConfigError, InsufficientDataError, VideoError
from featkit.files import sha256_of
from featkit.training.config import TrainConfig
from featkit.training.frames import random_crops, read_views

__all__ = ["TrainingData", "TrainingWarning", "read_training_data", "split_videos"]


def split_videos(
    paths: Sequence[str], *, holdout_fraction: float = 0.2, holdout_videos: Sequence[str] = (), seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split videos into training and held-out sets, whole videos only.

    Parameters
    ----------
    paths : sequence of str
        Video paths relative to the folder, unique.
    holdout_fraction : float, default=0.2
        With two or more videos, ``round(fraction * n)`` of them, at least one and at most
        ``n - 1``, drawn with ``numpy.random.default_rng(seed)``; ``0`` holds out none.
        A single video is never held out here (see :func:`train_vae_on_videos`).
    holdout_videos : sequence of str
        Explicit choice, by relative path, file name or stem; overrides the fraction.
    seed : int, default=0

    Returns
    -------
    train, held_out : list of str
        Both in the order of ``paths``.

    Raises
    ------
    ConfigError
        If a named video is not among ``paths`` or names several.
    InsufficientDataError
        If the named videos leave nothing to train on.

    """
    paths = list(paths)
    if holdout_videos:
        held = set()
        for name in holdout_videos:
            matches = [p for p in paths if name in (p, p.rsplit("/", 1)[-1], Path(p).stem)]
            if len(matches) != 1:
                problem = "matches no video" if not matches else f"matches {len(matches)} videos {matches}"
                raise ConfigError(
                    f"The held-out video {name!r} {problem}; name it by its path relative to the folder. "
                    f"Videos: {paths}"
                )
            held.add(matches[0])
        if len(held) == len(paths):
            raise InsufficientDataError(
                f"Every video ({len(paths)}) is held out, none is left for training. Hold out fewer videos."
            )
    elif len(paths) >= 2 and holdout_fraction > 0:
        k = min(len(paths) - 1, max(1, round(holdout_fraction * len(paths))))
        chosen = np.random.default_rng(seed).choice(len(paths), size=k, replace=False)
        held = {paths[i] for i in chosen}
    else:
        held = set()
    return [p for p in paths if p not in held], [p for p in paths if p in held]


@dataclass
class TrainingData:
    """The frames a run trains and reports on, and where they came from.

    Attributes
    ----------
    train : ndarray of shape (n, S, S, 3), uint8
        Training frames: the sampled views of the training videos first, then their crops.
    held : ndarray of shape (m, S, S, 3), uint8
        Held-out frames (never cropped).
    videos : list of dict
        ``path``, ``sha256``, ``role`` (``"train"`` or ``"held_out"``) and ``n_frames`` of each read video.
    skipped : list of dict
        ``path``, ``sha256``, ``reason`` and ``message`` of each video that could not be read.
    holdout : str
        ``"videos"``, ``"tail"`` (the one video's last frames) or ``"none"``.
    n_views : int
        Training frames that are sampled views (the rest are crops).

    """

    train: np.ndarray
    held: np.ndarray
    videos: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    holdout: str
    n_views: int

    def fingerprint(self) -> dict[str, Any]:
        """Hashes of the videos by role and of the frames themselves (compared on resume)."""
        digest = hashlib.sha256()
        for arr in (self.train, self.held):
            digest.update(np.ascontiguousarray(arr).data)
        return {
            "train_videos": {v["path"]: v["sha256"] for v in self.videos if v["role"] == "train"},
            "held_out_videos": {v["path"]: v["sha256"] for v in self.videos if v["role"] == "held_out"},
            "skipped_videos": {v["path"]: v["sha256"] for v in self.skipped},
            "holdout": self.holdout,
            "frames_sha256": digest.hexdigest(),
        }


class TrainingWarning(UserWarning):
    """Something about the data that the user should know (a skipped video, a tail hold-out)."""


def _warn(message: str, sink: list[str]) -> None:
    sink.append(message)
    warnings.warn(message, TrainingWarning, stacklevel=3)


def read_training_data(root: Path, config: TrainConfig, size: int, progress: bool, warned: list[str]) -> TrainingData:
    """Discover, hash, split and read the videos under ``root`` at ``size`` pixels (steps 1-4 of a run).

    Warnings are both issued (:class:`TrainingWarning`) and appended to ``warned`` for the report.

    Raises
    ------
    InsufficientDataError
        No video, no readable video, or a single video too short to train on and hold out.
    ConfigError
        A named held-out video matches no video or several.

    """
    files = discover_videos(root)
    if not files:
        raise InsufficientDataError(
            f"No video files under {os.fspath(root)!r} (looked for .mp4, .mkv, .webm, .avi, .mov and other "
            "video extensions, recursively). Point featkit train at a folder of videos."
        )
    views: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hashes: dict[str, str] = {}
    skipped = []
    for vf in _progress(files, progress, desc="featkit train: reading", unit="video"):
        full = root if root.is_file() else root / vf.path
        hashes[vf.path] = sha256_of(full)
        try:
            views[vf.path] = read_views(full, size=size, fps=config.fps, max_per_video=config.max_per_video)
        except VideoError as exc:
            skipped.append({"path": vf.path, "sha256": hashes[vf.path], "reason": exc.reason, "message": exc.message})
            _warn(f"skipped {vf.path}: {exc.reason}: {exc.message}", warned)
    if not views:
        reasons = "; ".join(f"{s['path']}: {s['reason']}: {s['message']}" for s in skipped[:5])
        raise InsufficientDataError(
            f"None of the {len(files)} video files under {os.fspath(root)!r} could be read ({reasons}). "
            "Check that they are videos decord can open."
        )
    train_paths, held_paths = split_videos(
        list(views),
        holdout_fraction=config.holdout_fraction,
        holdout_videos=config.holdout_videos,
        seed=config.seed,
    )
    take = {p: len(views[p][0]) for p in train_paths}  # sampled frames of each video used for training
    held_parts = [views[p][1] for p in held_paths]
    holdout = "videos" if held_paths else "none"
    if len(views) == 1 and config.holdout_fraction > 0 and not config.holdout_videos:
        (only,) = train_paths
        m = take[only]
        k = max(1, round(config.holdout_fraction * m))
        if m - k < 1:
            raise InsufficientDataError(
                f"{only} is the only readable video and gives {m} sampled frame(s) at {config.fps:g} fps: too "
                "few to train on and to hold out. Add videos, raise --fps, or use --holdout-fraction 0."
            )
        take[only], holdout = m - k, "tail"
        held_parts = [views[only][1][m - k :]]
        _warn(
            f"only one readable video ({only}): holding out its last {k} of {m} sampled frames instead of a "
            "whole video, so the held-out report measures the same scene; add videos for a fairer report.",
            warned,
        )
    parts = [views[p][1][: take[p]] for p in train_paths]
    if config.crops:
        for j, p in enumerate(_progress(train_paths, progress, desc="featkit train: crops", unit="video")):
            full = root if root.is_file() else root / p
            rng = np.random.default_rng([config.seed, j])
            try:
                parts.append(
                    random_crops(
                        full,
                        views[p][0][: take[p]],
                        size=size,
                        crops=config.crops,
                        scales=config.crop_scales,
                        rng=rng,
                    )
                )
            except VideoError as exc:
                _warn(f"no crops of {p}: {exc.reason}: {exc.message}", warned)
    roles = {p: "train" for p in train_paths} | {p: "held_out" for p in held_paths}
    videos = [
        {"path": p, "sha256": hashes[p], "role": roles[p], "n_frames": len(views[p][0])}
        for p in sorted(views)  # discovery order is sorted already
    ]
    empty = np.zeros((0, size, size, 3), np.uint8)
    return TrainingData(
        train=np.concatenate(parts),
        held=np.concatenate(held_parts) if held_parts else empty,
        videos=videos,
        skipped=skipped,
        holdout=holdout,
        n_views=sum(take.values()),
    )


def _progress(items: Sequence[Any], enabled: bool, **kwargs: Any) -> Any:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, dynamic_ncols=True, leave=False, **kwargs)
