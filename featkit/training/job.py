"""The ``featkit train`` job: train or fine-tune a VAE on a folder of videos, resumably, with a held-out report.

The steps, in order:

1. **Discover** the videos under the folder (as ``featkit extract`` does) and hash each file (sha256).
2. **Read** sampled frames at the model's input size, exactly as the extractor sees them. A video
   that cannot be opened or decoded is skipped, recorded in the report, and warned about.
3. **Split** whole videos into training and held-out sets (:func:`~featkit.training.data.split_videos`;
   deterministic given the seed). A folder with a single readable video holds out the *tail* of that video
   (its last ``holdout_fraction`` of sampled frames), with a warning.
4. **Augment** the training videos with random crops at several scales (``crop_scales``).
5. **Train** epoch by epoch (:class:`~featkit.training.trainer.VAETrainer`). After every epoch a
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

This module runs the steps in order (:func:`train_vae_on_videos`); each step has its module in
:mod:`featkit.training`. It imports nothing heavy; TensorFlow, decord and scikit-learn load when
training starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from featkit.exceptions import ConfigError
from featkit.files import sha256_of
from featkit.training.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    check_same,
    locked,
    read_checkpoint,
    write_checkpoint,
)
from featkit.training.config import TrainConfig, TrainResult
from featkit.training.data import TrainingData, read_training_data
from featkit.training.init_model import resolve_init, run_settings
from featkit.training.report import evaluate_held_out, save_model, versions, write_json

__all__ = ["train_vae_on_videos"]


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
    with locked(ckpt_dir):
        ckpt = ckpt_dir / CHECKPOINT_NAME
        if overwrite:
            ckpt.unlink(missing_ok=True)
        if resume and not ckpt.exists():
            raise ConfigError(f"Nothing to resume: there is no checkpoint {ckpt}. Leave out --resume to start.")
        state, meta = read_checkpoint(ckpt) if ckpt.exists() else (None, None)
        arch, init_weights, init_id = resolve_init(config)
        settings = run_settings(config, arch, init_id)
        if meta is not None:  # settings first: refuse before the videos are read
            check_same(meta["settings"], settings, "settings", ckpt)
        t0 = time.time()
        data = read_training_data(root, config, arch["input_size"], progress, warned)
        read_s = time.time() - t0
        fingerprint = data.fingerprint()
        if meta is not None:
            check_same(meta["data"], fingerprint, "data", ckpt)

        from featkit.training.trainer import VAETrainer

        trainer = VAETrainer.from_config(data.train, config, arch, init_weights)
        run = {"settings": settings, "data": fingerprint, "history": {"loss": [], "recon": [], "kl": []}}
        run["epoch_seconds"], resumed_from = [], None
        if state is not None and meta is not None:
            trainer.set_state(state)
            run.update(history=meta["history"], epoch_seconds=meta["epoch_seconds"])
            resumed_from = trainer.epoch
        _train_epochs(trainer, config.epochs, ckpt, run, progress, on_epoch_end)

        t_eval = time.time()
        held_out = evaluate_held_out(trainer.vae, data.train, data.held, arch, config.seed, init_weights)
        eval_s = time.time() - t_eval
        save_model(trainer.vae, arch, config.seed, output)
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
            "data": _data_summary(data, fingerprint),
            "history": run["history"],
            "held_out": held_out,
            "resumed_from_epoch": resumed_from,
            "warnings": warned,
            "timings": {
                "read_s": round(read_s, 3),
                "train_s": round(float(sum(run["epoch_seconds"])), 3),
                "epoch_s": run["epoch_seconds"],
                "eval_s": round(eval_s, 3),
                "total_s": round(time.time() - t_start, 3),
            },
            "versions": versions(),
        }
        write_json(report_path, report)
        ckpt.unlink(missing_ok=True)
    return TrainResult(output=output, report_path=report_path, report=report, resumed_from=resumed_from)


def _train_epochs(
    trainer: Any,
    epochs: int,
    ckpt: Path,
    run: dict[str, Any],
    progress: bool,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None,
) -> None:
    """Train the remaining epochs, replacing the checkpoint after each; ``run`` gains each epoch's losses and time."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        steps = trainer.steps_per_epoch
        bar = tqdm(
            total=epochs * steps, initial=trainer.epoch * steps, unit="step", desc="featkit train", dynamic_ncols=True
        )

    def on_batch(step: int, logs: dict[str, float]) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(
                f"epoch {trainer.epoch + 1}/{epochs} loss {logs['loss']:.5g} "
                f"recon {logs['recon']:.5g} kl {logs['kl']:.4g}",
                refresh=False,
            )

    try:
        while trainer.epoch < epochs:
            t_epoch = time.time()
            logs = trainer.run_epoch(on_batch)
            for k, values in run["history"].items():
                values.append(logs[k])
            run["epoch_seconds"].append(round(time.time() - t_epoch, 3))
            meta = {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                **run,
                "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            write_checkpoint(ckpt, trainer.get_state(), meta)
            if on_epoch_end is not None:
                on_epoch_end(trainer.epoch, logs)
    finally:
        if bar is not None:
            bar.close()


def _data_summary(data: TrainingData, fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The report's ``data`` section."""
    return {
        "videos": data.videos,
        "skipped": data.skipped,
        "holdout": data.holdout,
        "n_train_videos": sum(v["role"] == "train" for v in data.videos),
        "n_held_out_videos": sum(v["role"] == "held_out" for v in data.videos),
        "n_train_frames": len(data.train),
        "n_train_crops": len(data.train) - data.n_views,
        "n_held_out_frames": len(data.held),
        "frames_sha256": fingerprint["frames_sha256"],
    }
