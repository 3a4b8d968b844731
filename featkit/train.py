"""``featkit train``: train or fine-tune a VAE on a folder of videos, resumably, with a held-out report.

The steps, in order:

1. **Discover** the videos under the folder (as ``featkit extract`` does) and hash each file (sha256).
2. **Read** sampled frames at the model's input size, exactly as the extractor sees them. A video
   that cannot be opened or decoded is skipped, recorded in the report, and warned about.
3. **Split** whole videos into training and held-out sets (:func:`split_videos`; deterministic
   given the seed). A folder with a single readable video holds out the *tail* of that video
   (its last ``holdout_fraction`` of sampled frames), with a warning.
4. **Augment** the training videos with random crops at several scales (``crop_scales``).
5. **Train** epoch by epoch (:class:`~featkit.encoders.training.VAETrainer`). After every epoch a
   checkpoint (weights, optimizer state, sampler seed state, epoch, losses, settings and data
   hashes) replaces the previous one atomically. Running the same command again after an
   interruption resumes from the last completed epoch and ends with the same weights as an
   uninterrupted run; a checkpoint made with other settings or other data is refused, naming
   the difference.
6. **Report**: the model is saved as one ``.keras`` file (the full VAE, encoder and decoder;
   ``featkit extract --encoder my_vae.keras`` uses its encoder) and a JSON report beside it with
   the data hashes, settings, per-epoch losses, timings and the held-out PSNR/SSIM next to PCA
   with as many components as latent dimensions, fitted on the same training frames. The
   checkpoint is removed once both are written.

This module imports nothing heavy; TensorFlow, decord and scikit-learn load when training starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from featkit._version import __version__
from featkit.discover import discover_videos
from featkit.exceptions import (
    ConfigError,
    InsufficientDataError,
    LayoutError,
    StoreMismatchError,
    VideoError,
)

__all__ = [
    "DEFAULT_CROP_SCALES",
    "TrainConfig",
    "TrainResult",
    "TrainingWarning",
    "split_videos",
    "summary_lines",
    "train_vae_on_videos",
]

#: Scales at which random crops are cut (the frame's shorter side is resized to ``scale * input_size``).
DEFAULT_CROP_SCALES: tuple[float, ...] = (1.25, 1.5, 2.0)
#: Checkpoint file inside the checkpoint folder, and its format tag.
CHECKPOINT_NAME = "last.npz"
CHECKPOINT_FORMAT = "featkit.train.checkpoint"
CHECKPOINT_VERSION = 1
#: PCA baseline is fitted on at most this many training frames (evenly spaced).
PCA_MAX_FRAMES = 20000
_ARCH_KEYS = ("input_size", "latent_dim", "widths")


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


# -- settings: what the model starts from --------------------------------------------------------


def _new_model_defaults() -> dict[str, Any]:
    """The shipped default's architecture, so a new model follows the same recipe."""
    from featkit.encoders.keras_encoder import default_model_card
    from featkit.exceptions import EncoderError

    try:
        arch = default_model_card()["architecture"]
        return _card_architecture(arch)
    except (EncoderError, KeyError):
        return {"input_size": 64, "latent_dim": 32, "widths": [32, 64, 128, 128], "beta": 1.0, "obs_var": 0.002}


def _card_architecture(arch: dict[str, Any]) -> dict[str, Any]:
    """The build settings a model card names (``latent_grid`` only for a spatial latent)."""
    out = {k: arch[k] for k in (*_ARCH_KEYS, "beta", "obs_var")}
    if arch.get("latent_grid"):
        out["latent_grid"] = int(arch["latent_grid"])
    return out


def _resolve_init(config: TrainConfig) -> tuple[dict[str, Any], list[np.ndarray] | None, dict[str, Any]]:
    """Architecture, initial weights and identity of the starting point."""
    from featkit.files import sha256_of

    if config.init is None:
        base, weights, identity = _new_model_defaults(), None, {"kind": "new"}
    elif config.init == "default":
        from featkit.encoders.keras_encoder import DEFAULT_WEIGHTS_PATH, default_model_card, load_default_vae

        card = default_model_card()
        base = _card_architecture(card["architecture"])
        weights = load_default_vae().get_weights()
        identity = {"kind": "default", "name": card.get("name"), "sha256": sha256_of(DEFAULT_WEIGHTS_PATH)}
    else:
        from featkit.encoders.training import load_vae_file

        vae, base = load_vae_file(config.init)
        weights = vae.get_weights()
        identity = {"kind": "file", "path": os.path.abspath(config.init), "sha256": sha256_of(config.init)}
    base = {**base, "widths": [int(w) for w in base["widths"]]}
    if config.init is not None:
        for key in _ARCH_KEYS:
            given = getattr(config, key)
            given = list(given) if isinstance(given, tuple) else given
            if given is not None and given != base[key]:
                what = "the shipped default" if config.init == "default" else repr(config.init)
                raise ConfigError(
                    f"The '{key}' parameter must match the initial model's when fine-tuning {what}: "
                    f"it is {base[key]!r}. Got {given!r} instead. Leave it out, or train a new model (no init)."
                )
    arch = {key: (base[key] if getattr(config, key, None) is None else getattr(config, key)) for key in base}
    arch["widths"] = [int(w) for w in arch["widths"]]
    if arch["input_size"] % 2 ** len(arch["widths"]):
        raise ConfigError(
            f"The 'input_size' parameter must be divisible by 2**len(widths)={2 ** len(arch['widths'])}. "
            f"Got {arch['input_size']!r} instead (widths {arch['widths']})."
        )
    if arch.get("latent_grid"):
        # A new model follows the default's spatial design (one code per cell of the last feature map)
        # when its latent_dim fills that grid, and has one global code otherwise; the report's
        # architecture says which. A fine-tuned model keeps its own (its shape keys cannot change).
        side = arch["input_size"] // 2 ** len(arch["widths"])
        if arch["latent_dim"] % side**2:
            del arch["latent_grid"]
        else:
            arch["latent_grid"] = side
    return arch, weights, identity


def _settings(config: TrainConfig, arch: dict[str, Any], init: dict[str, Any]) -> dict[str, Any]:
    """What the trained weights depend on, besides the data (compared on resume)."""
    keep = {k: v for k, v in config.to_dict().items() if k not in ("init", "holdout_videos", "holdout_fraction")}
    keep.update(arch)
    if config.learning_rate is None:
        keep["learning_rate"] = 1e-3 if config.init is None else 1e-4
    keep["init"] = {k: v for k, v in init.items() if k != "path"}
    return json.loads(json.dumps(keep))


# -- data ----------------------------------------------------------------------------------------


@dataclass
class _Data:
    train: np.ndarray
    held: np.ndarray
    videos: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    holdout: str
    n_views: int

    def fingerprint(self) -> dict[str, Any]:
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


def _read_data(root: Path, config: TrainConfig, size: int, progress: bool, warned: list[str]) -> _Data:
    from featkit.encoders.training import random_crops, read_views
    from featkit.files import sha256_of

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
    return _Data(
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


# -- checkpoints ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the checkpoint folder (released by the OS if the process dies).

    On release the lock file goes, and the folder too when nothing else is left in it.
    """
    from featkit.locking import release_lock, take_lock

    lock = folder / ".lock"
    fd = take_lock(
        lock,
        lambda holder: (
            f"{folder} is in use by another featkit train process (pid {holder}). Wait for it to finish, "
            "or choose another output or --checkpoint-dir."
        ),
    )
    try:
        yield
    finally:
        release_lock(fd, lock)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty (no checkpoint left): never removes anything else


def _write_checkpoint(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the state and its metadata to a temporary file, then move it over ``path`` (atomic)."""
    from featkit.files import atomic_writer

    arrays = {f"v{i:05d}": a for i, a in enumerate(state["variables"])}
    meta = {**meta, "epoch": int(state["epoch"]), "n_variables": len(arrays)}
    with atomic_writer(path) as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(state, meta)`` of a checkpoint, or raise LayoutError saying why it cannot be used."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != CHECKPOINT_FORMAT or meta.get("version") != CHECKPOINT_VERSION:
                raise LayoutError(
                    f"{path} is not a featkit train checkpoint of version {CHECKPOINT_VERSION}. "
                    f"Received: format={meta.get('format')!r}, version={meta.get('version')!r}. "
                    "Use --overwrite to start again."
                )
            variables = [z[f"v{i:05d}"] for i in range(int(meta["n_variables"]))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise LayoutError(
            f"The checkpoint {path} cannot be read ({type(exc).__name__}: {exc}). Use --overwrite to start again."
        ) from exc
    return {"epoch": int(meta["epoch"]), "variables": variables}, meta


def _differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Human-readable differences between two settings or data fingerprints."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and key.endswith("videos"):
            what = key.replace("_", " ")
            out += [f"{what}: {p} added" for p in sorted(set(b) - set(a))]
            out += [f"{what}: {p} no longer there" for p in sorted(set(a) - set(b))]
            out += [
                f"{what}: {p} changed (sha256 {a[p][:12]}… now {b[p][:12]}…)"
                for p in sorted(set(a) & set(b))
                if a[p] != b[p]
            ]
        elif key == "frames_sha256":
            out.append("the decoded frames differ (another decoder version, or files changed in place)")
        else:
            out.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return out


def _check_same(saved: dict[str, Any], now: dict[str, Any], what: str, ckpt: Path) -> None:
    diffs = _differences(saved, now)
    if diffs:
        raise StoreMismatchError(
            f"The checkpoint {ckpt} was made with different {what}, so it cannot be resumed: "
            + "; ".join(diffs[:10])
            + (f"; and {len(diffs) - 10} more" if len(diffs) > 10 else "")
            + ". Run with the checkpoint's settings, or --overwrite to start again (or another --checkpoint-dir)."
        )


# -- evaluation and output -----------------------------------------------------------------------


def _quality(x: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    from featkit.metrics import psnr, ssim

    return {"psnr_db": round(float(np.mean(psnr(x, rec))), 4), "ssim": round(float(np.mean(ssim(x, rec))), 4)}


def _evaluate(
    vae: Any,
    train: np.ndarray,
    held: np.ndarray,
    arch: dict[str, Any],
    seed: int,
    init_weights: list[np.ndarray] | None = None,
) -> dict[str, Any] | None:
    """Held-out reconstruction quality of the VAE, of PCA with as many components, and of the initial model."""
    if not len(held):
        return None
    from sklearn.decomposition import PCA

    from featkit.encoders.training import reconstruct
    from featkit.encoders.vae import build_vae, kl_divergence

    x = held.astype(np.float32) / np.float32(255.0)
    kl = []
    for lo in range(0, len(x), 256):
        mu, logvar = vae.encoder(x[lo : lo + 256], training=False)
        kl.append(np.asarray(kl_divergence(mu, logvar)))
    fit = train
    if len(fit) > PCA_MAX_FRAMES:
        fit = fit[np.round(np.linspace(0, len(fit) - 1, PCA_MAX_FRAMES)).astype(int)]
    flat = fit.reshape(len(fit), -1).astype(np.float32) / np.float32(255.0)
    n_comp = int(min(arch["latent_dim"], flat.shape[0], flat.shape[1]))
    pca = PCA(n_components=n_comp, random_state=seed).fit(flat)
    pca_rec = np.clip(pca.inverse_transform(pca.transform(x.reshape(len(x), -1))), 0, 1).reshape(x.shape)
    vae_q, pca_q = _quality(x, reconstruct(vae, held)), _quality(x, pca_rec)
    out = {
        "n_frames": len(held),
        "vae": vae_q,
        "pca": {"n_components": n_comp, "n_fit_frames": len(fit), **pca_q},
        "mean_kl_nats": round(float(np.mean(np.concatenate(kl))), 4),
        "vae_beats_pca": {k: bool(vae_q[k] > pca_q[k]) for k in vae_q},
    }
    if init_weights is not None:  # did fine-tuning help on unseen video?
        start = build_vae(**arch, seed=seed)
        start.set_weights(init_weights)
        out["init"] = _quality(x, reconstruct(start, held))
    return out


def _save_model(vae: Any, arch: dict[str, Any], seed: int, output: Path) -> None:
    """Save a clean (uncompiled, no optimizer) copy of the VAE as one ``.keras`` file, atomically."""
    from featkit.encoders.vae import build_vae

    clean = build_vae(**arch, seed=seed)
    clean.set_weights(vae.get_weights())
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}.keras")  # Keras wants the suffix
    try:
        clean.save(tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from featkit.files import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    from featkit.io.video import decoder_version

    return {
        "featkit": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "decoder": decoder_version(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines that summarise a training report (what ``featkit train`` prints)."""
    d, h = report["data"], report["history"]
    lines = [
        f"{report['output']}: {report['config']['epochs']} epochs on {d['n_train_frames']} frames "
        f"({d['n_train_videos']} videos, {d['n_train_crops']} of them crops); final loss {h['loss'][-1]:.6g} "
        f"(recon {h['recon'][-1]:.6g}, KL {h['kl'][-1]:.4g} nats)",
    ]
    ho = report["held_out"]
    if ho is None:
        lines.append("  no held-out frames: no report on unseen video")
    else:
        worse = [{"psnr_db": "PSNR", "ssim": "SSIM"}[m] for m, ok in ho["vae_beats_pca"].items() if not ok]
        verdict = "VAE does NOT beat PCA on " + " and ".join(worse) if worse else "VAE beats PCA"
        k = ho["pca"]["n_components"]
        lines.append(
            f"  held-out ({d['holdout']}, {ho['n_frames']} frames): PSNR {ho['vae']['psnr_db']:.2f} dB "
            f"(PCA-{k} {ho['pca']['psnr_db']:.2f}), SSIM {ho['vae']['ssim']:.3f} (PCA-{k} {ho['pca']['ssim']:.3f}): "
            f"{verdict}"
        )
        if "init" in ho:
            lines.append(
                f"  initial model on the same frames: PSNR {ho['init']['psnr_db']:.2f} dB, "
                f"SSIM {ho['init']['ssim']:.3f}"
            )
    lines.append(f"  report: {report['report']}; {report['timings']['total_s']:.1f} s")
    return lines


def train_vae_on_videos(
    root: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train (or fine-tune) a featkit VAE on the videos under a folder; see the module docstring.

    Parameters
    ----------
    root : path-like
        Folder of videos (searched recursively), or one video file.
    output : path-like
        The ``.keras`` file to write; the report goes to the same name with ``.json``.
    config : TrainConfig, optional
        Settings; ``TrainConfig()`` by default.
    checkpoint_dir : path-like, optional
        Where the per-epoch checkpoint lives; default ``<output without .keras>.ckpt/``.
        An existing checkpoint made with the same settings and data is resumed automatically.
    resume : bool, default=False
        Require a checkpoint to resume from (error if there is none).
    overwrite : bool, default=False
        Discard an existing checkpoint and start again.
    progress : bool, default=True
        Show progress bars (tqdm) with the running loss, reconstruction and KL terms.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epochs_done, logs)`` after each epoch's checkpoint is written.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        Bad settings, a missing folder, an output not ending in ``.keras``, or an initial model
        whose architecture differs from the one asked for.
    InsufficientDataError
        No readable video, or too few frames to train and hold out.
    StoreMismatchError
        The checkpoint was made with other settings or data (the message names the differences).
    StoreLockedError
        Another ``featkit train`` uses the same checkpoint folder.
    LayoutError
        The checkpoint cannot be read.
    EncoderError
        The initial model cannot be loaded.

    Notes
    -----
    The data order of epoch ``e`` depends only on ``(seed, e)``, and the checkpoint holds the
    rest of the training state, so a run interrupted after any epoch and resumed ends with the
    same weights as an uninterrupted one (measured bit-identical on CPU).

    """
    t_start = time.time()
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig. Got {type(config).__name__} instead.")
    root, output = Path(root), Path(output)
    if output.suffix != ".keras":
        raise ConfigError(f"The output must be a '.keras' file. Got {os.fspath(output)!r} instead.")
    if not root.exists():
        raise ConfigError(f"The input folder {os.fspath(root)!r} does not exist.")
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other: resume needs the checkpoint overwrite discards.")
    output.parent.mkdir(parents=True, exist_ok=True)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else output.with_suffix(".ckpt")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    report_path = output.with_suffix(".json")
    warned: list[str] = []
    with _locked(ckpt_dir):
        ckpt = ckpt_dir / CHECKPOINT_NAME
        if overwrite:
            ckpt.unlink(missing_ok=True)
        if resume and not ckpt.exists():
            raise ConfigError(f"Nothing to resume: there is no checkpoint {ckpt}. Leave out --resume to start.")
        state, meta = _read_checkpoint(ckpt) if ckpt.exists() else (None, None)
        arch, init_weights, init_id = _resolve_init(config)
        settings = _settings(config, arch, init_id)
        if meta is not None:  # settings first: refuse before the videos are read
            _check_same(meta["settings"], settings, "settings", ckpt)
        t0 = time.time()
        data = _read_data(root, config, arch["input_size"], progress, warned)
        read_s = time.time() - t0
        fingerprint = data.fingerprint()
        if meta is not None:
            _check_same(meta["data"], fingerprint, "data", ckpt)

        from featkit.encoders.training import VAETrainer

        trainer = VAETrainer(
            data.train,
            architecture=arch,
            epochs=config.epochs,
            batch_size=config.batch_size,
            learning_rate=settings["learning_rate"],
            seed=config.seed,
            flip=config.flip,
            init_weights=init_weights,
        )
        history: dict[str, list[float]] = {"loss": [], "recon": [], "kl": []}
        epoch_s: list[float] = []
        resumed_from = None
        if state is not None and meta is not None:
            trainer.set_state(state)
            history, epoch_s, resumed_from = meta["history"], meta["epoch_seconds"], trainer.epoch
        steps = trainer.steps_per_epoch
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=config.epochs * steps,
                initial=trainer.epoch * steps,
                unit="step",
                desc="featkit train",
                dynamic_ncols=True,
            )

        def on_batch(step: int, logs: dict[str, float]) -> None:
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(
                    f"epoch {trainer.epoch + 1}/{config.epochs} loss {logs['loss']:.5g} "
                    f"recon {logs['recon']:.5g} kl {logs['kl']:.4g}",
                    refresh=False,
                )

        try:
            while trainer.epoch < config.epochs:
                t_epoch = time.time()
                logs = trainer.run_epoch(on_batch)
                for k in history:
                    history[k].append(logs[k])
                epoch_s.append(round(time.time() - t_epoch, 3))
                meta = {
                    "format": CHECKPOINT_FORMAT,
                    "version": CHECKPOINT_VERSION,
                    "settings": settings,
                    "data": fingerprint,
                    "history": history,
                    "epoch_seconds": epoch_s,
                    "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
                _write_checkpoint(ckpt, trainer.get_state(), meta)
                if on_epoch_end is not None:
                    on_epoch_end(trainer.epoch, logs)
        finally:
            if bar is not None:
                bar.close()

        t_eval = time.time()
        held_out = _evaluate(trainer.vae, data.train, data.held, arch, config.seed, init_weights)
        eval_s = time.time() - t_eval
        _save_model(trainer.vae, arch, config.seed, output)
        from featkit.store import sha256_of

        report = {
            "featkit_train_report": 1,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "output": os.fspath(output),
            "output_sha256": sha256_of(output),
            "report": os.fspath(report_path),
            "root": os.path.abspath(root),
            "config": config.to_dict(),
            "architecture": arch,
            "init": init_id,
            "seed": config.seed,
            "optimizer": f"Adam, cosine decay from {settings['learning_rate']:g} to 5 % of it over all epochs",
            "learning_rate": settings["learning_rate"],
            "data": {
                "videos": data.videos,
                "skipped": data.skipped,
                "holdout": data.holdout,
                "n_train_videos": sum(v["role"] == "train" for v in data.videos),
                "n_held_out_videos": sum(v["role"] == "held_out" for v in data.videos),
                "n_train_frames": len(data.train),
                "n_train_crops": len(data.train) - data.n_views,
                "n_held_out_frames": len(data.held),
                "frames_sha256": fingerprint["frames_sha256"],
            },
            "history": history,
            "held_out": held_out,
            "resumed_from_epoch": resumed_from,
            "warnings": warned,
            "timings": {
                "read_s": round(read_s, 3),
                "train_s": round(float(sum(epoch_s)), 3),
                "epoch_s": epoch_s,
                "eval_s": round(eval_s, 3),
                "total_s": round(time.time() - t_start, 3),
            },
            "versions": _versions(),
        }
        _write_json(report_path, report)
        ckpt.unlink(missing_ok=True)
    return TrainResult(output=output, report_path=report_path, report=report, resumed_from=resumed_from)


# -- command line --------------------------------------------------------------------------------


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",") if t.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def _int_or_none(text: str) -> int | None:
    return None if text.lower() in {"none", "all", "0"} else int(text)


def add_arguments(parser: Any) -> None:
    """Add the options of ``featkit train`` to an :class:`argparse.ArgumentParser`."""
    d = TrainConfig()
    p = parser
    p.add_argument("root", metavar="VIDEOS_DIR", help="folder of videos (searched recursively), or one video")
    p.add_argument("-o", "--output", required=True, help="the .keras file to write (report: same name, .json)")
    p.add_argument(
        "--init",
        default=None,
        help="start from 'default' (the shipped VAE) or a .keras file from featkit train (default: a new model)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the frames ({d.epochs})")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (the initial model's / default's)")
    p.add_argument("--input-size", type=int, default=None, help="frame side in pixels (the initial model's / 64)")
    p.add_argument("--widths", type=_ints, default=None, help="conv filters, e.g. 32,64,128,128 (as the default)")
    p.add_argument("--beta", type=float, default=None, help="KL weight (the initial model's / default's)")
    p.add_argument("--obs-var", type=float, default=None, help="decoder variance (the initial model's / default's)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"frames per step ({d.batch_size})")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate, cosine decay (1e-3; 1e-4 with --init)")
    p.add_argument("--fps", type=float, default=d.fps, help=f"frames sampled per second of video ({d.fps:g})")
    p.add_argument(
        "--max-per-video",
        type=_int_or_none,
        default=d.max_per_video,
        help=f"sampled frames per video at most ({d.max_per_video}; 'all')",
    )
    p.add_argument("--crops", type=int, default=d.crops, help=f"random crops per training frame ({d.crops})")
    p.add_argument(
        "--crop-scales",
        type=_floats,
        default=d.crop_scales,
        help=f"crop scales, comma-separated ({','.join(f'{s:g}' for s in d.crop_scales)})",
    )
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    hold = p.add_mutually_exclusive_group()
    hold.add_argument(
        "--holdout-fraction",
        type=float,
        default=d.holdout_fraction,
        help=f"fraction of whole videos held out for the report ({d.holdout_fraction:g}; 0: none)",
    )
    hold.add_argument(
        "--holdout-videos",
        nargs="+",
        default=(),
        metavar="VIDEO",
        help="videos to hold out instead (path, name or stem; put VIDEOS_DIR first)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed ({d.seed})")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (default: OUT without .keras + .ckpt)")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume", action="store_true", help="require a checkpoint to resume (a matching one is resumed anyway)"
    )
    resume.add_argument("--overwrite", action="store_true", help="discard the checkpoint and start again")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def run_cli(args: Any) -> int:
    """Run ``featkit train`` from parsed arguments; return the exit code (errors propagate)."""
    import sys

    config = TrainConfig(
        epochs=args.epochs,
        init=args.init,
        input_size=args.input_size,
        latent_dim=args.latent_dim,
        widths=args.widths,
        beta=args.beta,
        obs_var=args.obs_var,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        fps=args.fps,
        max_per_video=args.max_per_video,
        crops=args.crops,
        crop_scales=args.crop_scales,
        flip=not args.no_flip,
        holdout_fraction=args.holdout_fraction,
        holdout_videos=tuple(args.holdout_videos),
        seed=args.seed,
    )

    default_show = warnings.showwarning

    def show(message: Any, category: type[Warning], *rest: Any, **kwargs: Any) -> None:
        if issubclass(category, TrainingWarning):
            print(f"featkit train: warning: {message}", file=sys.stderr)
        else:
            default_show(message, category, *rest, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("always", TrainingWarning)
        warnings.showwarning = show
        result = train_vae_on_videos(
            args.root,
            args.output,
            config,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    if not args.quiet:
        if result.resumed_from is not None:
            print(f"featkit train: resumed after epoch {result.resumed_from}", file=sys.stderr)
        for line in summary_lines(result.report):
            print(line, file=sys.stderr)
    return 0
