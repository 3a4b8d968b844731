"""Pilot: content-normalised corruption scores from the VAE's reconstruction and the latent path.

    python benchmarks/bench_anomaly.py             # first: writes the task's videos into the cache
    python benchmarks/pilot_anomaly_residual.py    # writes benchmarks/results/bench_pilot_anomaly_residual.json

The density scorers of ``bench_anomaly`` sit at chance across sources because
a new source moves a clip as far as a corruption does. A corruption, though,
leaves traces whose *shape* does not depend on the picture: noise and JPEG
blocks are detail the decoder cannot reproduce, blur removes detail it would
have reproduced, a frozen or stuttering clip moves in steps. This pilot
computes, per frame, scalars that compare the frame with its own
reconstruction (relative to the frame's own detail) and, per clip, the shape
of the latent path, then scores each alone and in groups with
``bench_anomaly``'s protocol (fit on clean clips of training sources, AUC on
held-out sources, seeds x folds). Selection is on the ``photos`` set; the
corpus set is reported.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_anomaly as ba  # noqa: E402
from featkit.posterior import kl_to_prior  # noqa: E402
from featkit.quality import _laplacian_energy  # noqa: E402

_EPS = 1e-8


def _gray(x: np.ndarray) -> np.ndarray:
    return x @ np.array([0.299, 0.587, 0.114])


def _lag1(g: np.ndarray) -> np.ndarray:
    g = g - g.mean(axis=(1, 2), keepdims=True)
    var = (g**2).mean(axis=(1, 2)) + _EPS
    h = (g[:, :, 1:] * g[:, :, :-1]).mean(axis=(1, 2))
    v = (g[:, 1:] * g[:, :-1]).mean(axis=(1, 2))
    return 0.5 * (h + v) / var


def _blockiness(g: np.ndarray) -> np.ndarray:
    """Gradient energy across 8-px block edges over that inside blocks (1 for no block structure)."""
    dh = np.abs(np.diff(g, axis=2)).mean(axis=1)  # (n, W-1): column-edge profile
    dv = np.abs(np.diff(g, axis=1)).mean(axis=2)
    edge = np.arange(dh.shape[1]) % 8 == 7
    return 0.5 * (
        dh[:, edge].mean(1) / (dh[:, ~edge].mean(1) + _EPS) + dv[:, edge].mean(1) / (dv[:, ~edge].mean(1) + _EPS)
    )


def frame_scalars(frames: np.ndarray, recon: np.ndarray, mu: np.ndarray, logvar: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame candidate scalars (n,) from frames (uint8), reconstructions in [0, 1] and the posterior."""
    x = frames.astype(np.float64) / 255.0
    r = x - recon.astype(np.float64)
    gx, gr = _gray(x), _gray(r)
    mse = (r**2).mean(axis=(1, 2, 3))
    detail = _laplacian_energy(gx)
    kl = kl_to_prior(mu, logvar)
    cell = (r**2).mean(axis=3).reshape(len(r), 8, 8, 8, 8).mean(axis=(2, 4))  # 8x8 grid of 8-px cells
    return {
        "log_mse": np.log(mse + _EPS),
        "log_kl": np.log(kl + _EPS),
        "log_detail": np.log(detail + _EPS),
        "rel_mse": np.log(mse + _EPS) - np.log(detail + _EPS),
        "resid_lag1": _lag1(gr),
        "resid_hf": np.log(_laplacian_energy(gr) + _EPS) - np.log((gr**2).mean(axis=(1, 2)) + _EPS),
        "resid_peak": np.log(cell.reshape(len(r), -1).max(1) + _EPS) - np.log(cell.reshape(len(r), -1).mean(1) + _EPS),
        "resid_bias": np.log(np.abs(r.mean(axis=(1, 2))).mean(1) + 1e-4),
        "block": np.log(_blockiness(gx) + 1e-6),
        "recon_detail_ratio": np.log(_laplacian_energy(_gray(recon.astype(np.float64))) + _EPS) - np.log(detail + _EPS),
    }


def path_scalars(mu: np.ndarray) -> dict[str, float]:
    """Shape of one clip's latent path (T, d), free of its scale: step irregularity, jitter, still steps."""
    steps = np.linalg.norm(np.diff(mu, axis=0), axis=1)
    acc = np.linalg.norm(np.diff(mu, n=2, axis=0), axis=1)
    med = np.median(steps) + 1e-6
    return {
        "step_kurt": float(np.log((steps**2).mean() / (steps.mean() ** 2 + 1e-12) + 1e-6)),
        "jerk": float(np.log((acc**2).mean() + 1e-10) - np.log((steps**2).mean() + 1e-10)),
        "still_frac": float((steps < 0.2 * med).mean()),
        "log_step_max_med": float(np.log(steps.max() / med + 1e-6)),
        "log_step": float(np.log(steps.mean() + 1e-6)),
    }


def change_scalars(frames: np.ndarray, mu: np.ndarray) -> dict[str, float]:
    """How the pixels change from frame to frame, against how the latents change (noise moves pixels only)."""
    g = _gray(frames.astype(np.float64) / 255.0)
    d = np.diff(g, axis=0)
    pix = float((d**2).mean()) + _EPS
    lat = float((np.diff(mu, axis=0) ** 2).sum(1).mean()) + 1e-10
    return {
        "temporal_pix": float(np.log(pix)),
        "pix_latent_ratio": float(np.log(pix) - np.log(lat)),
        "temporal_hf": float(np.log(_laplacian_energy(d).mean() + _EPS) - np.log(pix)),
    }


def clip_table(root: Path, rows: list[dict[str, str]], every: int = 2) -> tuple[dict[str, np.ndarray], list[str]]:
    """Decode every video of the task, encode and decode it with the default VAE; per-clip scalars."""
    import av

    from featkit.encoders.loading import load_encoder

    enc = load_encoder("default")
    out: dict[str, list[float]] = {}
    for i, row in enumerate(rows):
        with av.open(str(root / row["path"])) as c:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])[::every]
        mu, lv = enc.encode(frames)
        recon = enc.decode(mu)
        per_frame = frame_scalars(frames, recon, mu.astype(np.float64), lv.astype(np.float64))
        for k, v in per_frame.items():
            out.setdefault(k, []).append(float(v.mean()))
        for k, v in (path_scalars(mu.astype(np.float64)) | change_scalars(frames, mu.astype(np.float64))).items():
            out.setdefault(k, []).append(v)
        if i % 500 == 0:
            print(f"{i}/{len(rows)}", file=sys.stderr, flush=True)
    return {k: np.asarray(v) for k, v in out.items()}, list(out)


def _detector_scorer(columns: Sequence[int], **kw: Any) -> ba.Scorer:
    from featkit.detection import ClipAnomalyDetector

    cols = list(columns)

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        det = ClipAnomalyDetector(statistics=None, log_positive=False, random_state=0, **kw).fit(train[:, cols])
        return det.score_samples(test[:, cols])

    return score


_RESIDUAL = ("rel_mse", "resid_lag1", "resid_hf", "resid_peak", "resid_bias", "recon_detail_ratio")
_PATH = ("step_kurt", "jerk", "still_frac", "log_step_max_med")
GROUPS: dict[str, tuple[str, ...]] = {
    "residual": _RESIDUAL,
    "residual+path": (*_RESIDUAL, *_PATH),
    "residual+path+block": (*_RESIDUAL, *_PATH, "block"),
    "vae_terms": ("log_mse", "log_kl"),
    "all": (),
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = args.cache / "tasks" / "anomaly" / "videos"
    with open(root.parent / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cached = root.parent / "pilot_residual.npz"
    if cached.is_file() and not args.recompute:
        data = dict(np.load(cached))
        names = [n for n in data if n != "_order"]
    else:
        table, names = clip_table(root, rows)
        np.savez(cached, **table)
        data = table
    X = np.column_stack([data[n] for n in names])
    for j in range(X.shape[1]):  # a flat frame has no block edges: log 0, clipped to the column's finite range
        finite = np.isfinite(X[:, j])
        X[:, j] = np.clip(np.nan_to_num(X[:, j]), X[finite, j].min(), X[finite, j].max())
    kinds = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    scorers: dict[str, ba.Scorer] = {}
    for j, n in enumerate(names):
        scorers[f"{n} alone"] = _detector_scorer([j], method="mahalanobis")
    for g, members in GROUPS.items():
        cols = [names.index(m) for m in members] if members else list(range(len(names)))
        scorers[f"{g} mahalanobis"] = _detector_scorer(cols, method="mahalanobis")
        scorers[f"{g} knn20"] = _detector_scorer(cols, method="knn", n_neighbors=20)
        scorers[f"{g} gmm4"] = _detector_scorer(cols, method="gmm", n_components=4)
    results = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        results[s] = ba.evaluate(X[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {"scalars": names, "groups": {k: list(v) for k, v in GROUPS.items()}, "evaluations": results}


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_residual", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
