"""What a training run leaves: held-out quality against PCA, the saved ``.keras`` model, the JSON run record.

The held-out report compares the VAE's reconstructions of unseen frames with PCA of as many
components as latent dimensions, fitted on the same training frames, and (when fine-tuning) with
the initial model; :func:`summary_lines` is what ``featkit train`` prints of it.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from featkit._version import __version__
from featkit.files import atomic_write_bytes, atomic_writer
from featkit.metrics import psnr, ssim

__all__ = ["PCA_MAX_FRAMES", "evaluate_held_out", "save_model", "summary_lines", "versions", "write_json"]

#: PCA baseline is fitted on at most this many training frames (evenly spaced).
PCA_MAX_FRAMES = 20000


def _quality(x: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    return {"psnr_db": round(float(np.mean(psnr(x, rec))), 4), "ssim": round(float(np.mean(ssim(x, rec))), 4)}


def evaluate_held_out(
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

    from featkit.encoders.vae import build_vae, kl_divergence
    from featkit.training.trainer import reconstruct

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


def save_model(vae: Any, arch: dict[str, Any], seed: int, output: Path) -> None:
    """Save a clean (uncompiled, no optimizer) copy of the VAE as one ``.keras`` file, atomically."""
    from featkit.encoders.vae import build_vae

    clean = build_vae(**arch, seed=seed)
    clean.set_weights(vae.get_weights())
    with tempfile.TemporaryDirectory(prefix="featkit-train-") as tmp:
        staged = Path(tmp) / output.name  # Keras saves only to a path with the .keras suffix
        clean.save(staged)
        with staged.open("rb") as src, atomic_writer(output) as dst:
            shutil.copyfileobj(src, dst)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write the report as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def versions() -> dict[str, str]:
    """Versions of featkit, TensorFlow, Keras, the decoder, Python and the machine (recorded in the report)."""
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
