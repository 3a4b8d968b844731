"""Pilot: picture measures that could join the ``quality`` columns, scored on bench_anomaly's protocol.

    python benchmarks/bench_anomaly.py            # first: writes the task's videos and features.h5
    python benchmarks/pilot_anomaly_picture.py    # writes benchmarks/results/bench_pilot_anomaly_picture.json

The default detector misses occluding blocks and inverted colours most
(corpus AUC 0.59 and 0.60): both keep a clip's detail, motion and block grid,
which is what the quality columns read. Each candidate here is a per-frame
scalar of the encoder's 64-px input (or of its posterior) whose meaning does
not depend on the scene, averaged over the video:

* ``flat_share``: the share of 4x4 tiles with no grey-level variation at all
  (an overlay, a dead region, a letterbox; natural footage has sensor noise);
* ``unchanged_share``: the share of pixels equal to the previous frame's;
* ``chroma_bias``: the mean opponent colour (red-green, yellow-blue) over its
  spread, signed: natural light is warm and foliage green, an inverted frame
  flips both;
* ``flip_kl``: log KL of the frame's posterior minus log KL of its colour
  negative's (a frame the encoder finds more typical than its negative is
  the right way round), one extra encoder pass;
* ``luma_skew``: skewness of the grey levels (highlights are small, shadows large);
* ``noise_sigma``: log of Immerkaer's noise estimate (the mean absolute
  response to a kernel that cancels planes and ramps);
* ``scale_ratio``: log Laplacian energy of the frame over that of its 2x2-mean
  half (white noise log 4, natural pictures about -1 to 0, blur lower);
* ``residual_lag1``: the correlation of horizontally neighbouring Laplacian
  residuals (white noise has a fixed one, edges and blur another);
* ``chroma_detail``: log Laplacian energy of the opponent colours over that of
  the grey frame (edges in natural light are mostly edges of brightness).

Each is scored with the detector (Gaussian mixture, log scale; and Mahalanobis)
on the 8 quality columns of version 1 plus that candidate, and all together.
``scale_ratio`` lifted both sets under Mahalanobis and joined the statistic as
``quality_scale`` (quality version 2); the others did not. Selection is on the
``photos`` set, sources held out; the corpus set is reported, not chosen on.
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
from featkit.quality import QUALITY_COLUMNS, _gray, _laplacian, _laplacian_energy, _scale_ratio  # noqa: E402

CANDIDATES: tuple[str, ...] = (
    "flat_share",
    "unchanged_share",
    "chroma_rg",
    "chroma_yb",
    "flip_kl",
    "luma_skew",
    "noise_sigma",
    "scale_ratio",
    "residual_lag1",
    "chroma_detail",
)
# Version 1 of the quality statistic: the baseline the candidates are added to.
QUALITY_V1: tuple[str, ...] = tuple(c for c in QUALITY_COLUMNS if c != "quality_scale")
_IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def _flat_share(g: np.ndarray, tile: int = 4) -> np.ndarray:
    n, h, w = g.shape
    t = g[:, : h - h % tile, : w - w % tile].reshape(n, h // tile, tile, w // tile, tile)
    spread = t.max(axis=(2, 4)) - t.min(axis=(2, 4))
    return (spread <= 1.0 / 255.0).mean(axis=(1, 2))


def frame_candidates(frames: np.ndarray, encoder: Any) -> dict[str, np.ndarray]:
    """Per-frame candidate scalars (n,) of uint8 frames (n, S, S, 3) in stream order."""
    x = frames.astype(np.float64) / 255.0
    g = _gray(frames)
    unchanged = np.full(len(g), np.nan)
    unchanged[1:] = (np.abs(np.diff(g, axis=0)) <= 0.5 / 255.0).mean(axis=(1, 2))
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    spread = np.sqrt(rg.var(axis=(1, 2)) + yb.var(axis=(1, 2))) + 1e-3
    centred = g - g.mean(axis=(1, 2), keepdims=True)
    skew = (centred**3).mean(axis=(1, 2)) / ((centred**2).mean(axis=(1, 2)) ** 1.5 + 1e-9)
    from scipy.ndimage import convolve

    residual = np.stack([convolve(f, _IMMERKAER, mode="reflect")[1:-1, 1:-1] for f in g])
    noise_sigma = np.sqrt(np.pi / 2) * np.abs(residual).mean(axis=(1, 2)) / 6
    lap = _laplacian(g)
    lag1 = (lap[:, :, 1:] * lap[:, :, :-1]).mean(axis=(1, 2)) / ((lap**2).mean(axis=(1, 2)) + 1e-12)
    chroma = _laplacian_energy(rg) + _laplacian_energy(yb)
    mu, lv = encoder.encode(frames)
    mu_n, lv_n = encoder.encode(255 - frames)
    flip = np.log(kl_to_prior(mu, lv) + 1e-8) - np.log(kl_to_prior(mu_n, lv_n) + 1e-8)
    return {
        "flat_share": _flat_share(g),
        "unchanged_share": unchanged,
        "chroma_rg": rg.mean(axis=(1, 2)) / spread,
        "chroma_yb": yb.mean(axis=(1, 2)) / spread,
        "flip_kl": flip,
        "luma_skew": skew,
        "noise_sigma": np.log(noise_sigma + 1e-6),
        "scale_ratio": _scale_ratio(g),
        "residual_lag1": lag1,
        "chroma_detail": np.log(chroma + 1e-8) - np.log(_laplacian_energy(g) + 1e-8),
    }


def video_table(root: Path, paths: Sequence[str]) -> np.ndarray:
    """(n_videos, len(CANDIDATES)): each candidate's mean over the video's frames."""
    import av

    from featkit.encoders.loading import load_encoder

    enc = load_encoder("default")
    out = np.zeros((len(paths), len(CANDIDATES)))
    for i, rel in enumerate(paths):
        with av.open(str(root / rel)) as c:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
        per_frame = frame_candidates(frames, enc)
        out[i] = [np.nanmean(per_frame[k]) if np.isfinite(per_frame[k]).any() else 0.0 for k in CANDIDATES]
        if i % 500 == 0:
            print(f"{i}/{len(paths)}", file=sys.stderr, flush=True)
    return out


def _scorer(columns: Sequence[int], **kw: Any) -> ba.Scorer:
    from featkit.detection import ClipAnomalyDetector

    cols = list(columns)

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        det = ClipAnomalyDetector(statistics=None, random_state=0, threshold_folds=None, **kw).fit(train[:, cols])
        return det.score_samples(test[:, cols])

    return score


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit import load_features, load_videos

    folder = args.cache / "tasks" / "anomaly"
    with open(folder / "labels.csv", newline="") as f:
        by_path = {r["path"]: r for r in csv.DictReader(f)}
    X, _, video_ids, names = load_features(folder / "features.h5", group_by="video")
    paths = np.asarray(load_videos(folder / "features.h5")["path"]).astype(str)
    cached = folder / "pilot_picture.npz"
    stored = np.load(cached) if cached.is_file() and not args.recompute else None
    if stored is not None and list(stored["candidates"]) == list(CANDIDATES) and len(stored["table"]) == len(paths):
        per_video = stored["table"]
    else:
        per_video = video_table(folder / "videos", paths)
        np.savez(cached, table=per_video, candidates=np.array(CANDIDATES))
    quality = [list(names).index(c) for c in QUALITY_V1]
    M = np.column_stack([X[:, quality], per_video[video_ids]])
    q = list(range(len(quality)))
    extra = {c: len(quality) + j for j, c in enumerate(CANDIDATES)}
    rows = [by_path[paths[i]] for i in video_ids]
    kinds = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    scorers: dict[str, ba.Scorer] = {}
    for method, kw in (("gmm4_log", {"method": "gmm", "n_components": 4}), ("mahalanobis", {"method": "mahalanobis"})):
        scorers[f"quality {method}"] = _scorer(q, **kw)
        for c, j in extra.items():
            scorers[f"quality+{c} {method}"] = _scorer([*q, j], **kw)
        scorers[f"quality+chroma {method}"] = _scorer([*q, extra["chroma_rg"], extra["chroma_yb"]], **kw)
        scorers[f"quality+all {method}"] = _scorer([*q, *extra.values()], **kw)
        scorers[f"quality+all but flip_kl {method}"] = _scorer(
            [*q, *(j for c, j in extra.items() if c != "flip_kl")], **kw
        )
        scorers[f"quality-detail+scale_ratio {method}"] = _scorer([*q[1:], extra["scale_ratio"]], **kw)
    results = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        results[s] = ba.evaluate(M[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {"candidates": list(CANDIDATES), "evaluations": results}


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_picture", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
