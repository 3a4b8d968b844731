"""Pilot: where the VAE misses a frame (the ``residual`` statistic), and one-sided tails for the decoder's cues.

    python benchmarks/bench_anomaly.py            # first: writes the task's videos and features.h5 into the cache
    python benchmarks/pilot_anomaly_decoded.py    # writes benchmarks/results/bench_pilot_anomaly_decoded.json

Occluding blocks keep a clip's detail, motion and block grid, so no ``quality``
column sees them. Candidates measured on the reconstruction of each clip's
middle sampled frame (8 fps, the shipped VAE, its decoder's mean of μ), with
the frame cut into 16 x 16 tiles:

* ``flat``: :func:`featkit.residual.flat_residual`, the log of the mean
  squared error over the flattest quarter of the tiles over that of the frame;
* ``corr``: the rank correlation of tile error and tile grey variance (natural
  frames: the error follows the detail);
* ``norm``: log mean squared error over the frame's Laplacian energy (a
  content-normalised residual).

Each is scored alone (one-sided ROC AUC per corruption, pooled over the set,
no fitting), then as a third statistic beside the task's ``quality`` and
``polarity`` columns in :class:`featkit.ClipAnomalyDetector` (Fisher), with both
tails and with polarity's lower / the cue's documented side alone, with
``bench_anomaly``'s protocol (fit on clean clips of training sources, AUC on
held-out sources, seeds x 5 folds). Selection is on ``photos``; ``corpus`` is
reported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_anomaly as ba  # noqa: E402

#: Each candidate's column name (its statistic is the part before the last "_") and the side blocks move it to.
CANDIDATES: dict[str, tuple[str, str]] = {
    "flat": ("residual_flat", "upper"),
    "corr": ("residualcorr_tiles", "lower"),
    "norm": ("residualnorm_energy", "lower"),
}


def _rank_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ra = a.argsort(-1).argsort(-1).astype(np.float64)
    rb = b.argsort(-1).argsort(-1).astype(np.float64)
    ra -= ra.mean(-1, keepdims=True)
    rb -= rb.mean(-1, keepdims=True)
    return (ra * rb).sum(-1) / np.sqrt((ra**2).sum(-1) * (rb**2).sum(-1) + 1e-300)


def frame_cues(frames: np.ndarray, recon: np.ndarray) -> dict[str, np.ndarray]:
    """The candidates of frames (n, 64, 64, 3) uint8 and their reconstructions in [0, 1]."""
    from featkit._pixels import gray
    from featkit.quality import _laplacian_energy
    from featkit.residual import _tile_means, flat_residual

    x = frames.astype(np.float64) / 255.0
    error = _tile_means(((x - recon) ** 2).mean(-1), 4) + 1e-12
    g = gray(frames)
    variance = _tile_means(g**2, 4) - _tile_means(g, 4) ** 2
    return {
        "flat": flat_residual(frames, recon),
        "corr": _rank_corr(np.log(error), variance),
        "norm": np.log(error.mean(-1)) - np.log(_laplacian_energy(g) + 1e-8),
    }


def _table(root: Path, rows: list[dict[str, str]], recompute: bool) -> dict[str, np.ndarray]:
    import av

    from featkit.encoders.loading import load_encoder

    cached = root.parent / "pilot_decoded.npz"
    if cached.is_file() and not recompute:
        return dict(np.load(cached))
    encoder = load_encoder("default")
    table: dict[str, list[float]] = {k: [] for k in CANDIDATES}
    for row in rows:
        with av.open(str(root / row["path"])) as c:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])[::2]  # 16 -> 8 fps
        middle = frames[len(frames) // 2][None]
        recon = encoder.decode(encoder.encode(middle)[0])
        for k, v in frame_cues(middle, recon).items():
            table[k].append(float(v[0]))
    arrays = {k: np.asarray(v) for k, v in table.items()}
    np.savez(cached, **arrays)
    return arrays


def _detector(names: Sequence[str], columns: Sequence[int], **kw: Any) -> ba.Scorer:
    from featkit.detection import ClipAnomalyDetector

    cols = np.asarray(columns)
    kept = [names[i] for i in cols]
    stats = tuple(dict.fromkeys(n.rsplit("_", 1)[0] for n in kept))

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        det = ClipAnomalyDetector(feature_names=kept, statistics=stats, random_state=0, threshold_folds=None, **kw)
        return det.fit(train[:, cols]).score_samples(test[:, cols])

    return score


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit.transformers import statistic_of

    cues, X, names, meta = ba.pilot_task(args.cache, lambda videos, rows: _table(videos, rows, args.recompute))
    base = [i for i, n in enumerate(names) if statistic_of(str(n)) in ("quality", "polarity")]
    M = np.column_stack([X[:, base]] + [cues[k] for k in CANDIDATES])
    cols = [str(names[i]) for i in base] + [name for name, _ in CANDIDATES.values()]
    q = list(range(len(base)))
    kinds, groups, sets = meta["label"], meta["group"], meta["set"]
    alone: dict[str, dict[str, dict[str, float]]] = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        clean = kinds[keep] == "clean"
        alone[s] = {}
        for k, (_, side) in CANDIDATES.items():
            v = cues[k][keep]
            sign = 1.0 if side == "lower" else -1.0  # _auc ranks lower values as more anomalous
            alone[s][k] = {c: ba._auc(sign * v[clean], sign * v[kinds[keep] == c]) for c in ba.CORRUPTIONS}
    scorers: dict[str, ba.Scorer] = {
        "quality + polarity, both tails": _detector(cols, q, tails="both"),
        "quality + polarity, polarity lower": _detector(cols, q),
    }
    for j, (k, (name, side)) in enumerate(CANDIDATES.items()):
        stat = name.rsplit("_", 1)[0]
        with_cue = [*q, len(base) + j]
        scorers[f"+ {k}, both tails"] = _detector(cols, with_cue, tails="both")
        scorers[f"+ {k}, one-sided"] = _detector(cols, with_cue, tails={"polarity": "lower", stat: side})
    evaluations = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        evaluations[s] = ba.evaluate(M[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {
        "candidates": {k: v[0] for k, v in CANDIDATES.items()},
        "alone_one_sided_auc": alone,
        "evaluations": evaluations,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_decoded", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
