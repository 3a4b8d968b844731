"""Pilot: pixel cues aimed at the two corruptions the detector misses, occluding blocks and inverted colours.

    python benchmarks/bench_anomaly.py          # first: writes the task's videos and features.h5 into the cache
    python benchmarks/pilot_anomaly_cues.py     # writes benchmarks/results/bench_pilot_anomaly_cues.json

The default detector (Mahalanobis on the ``quality`` columns) scores blocks and
inversion near chance across sources (``bench_anomaly``: 0.58 and 0.61 on the
corpus). Candidate cues that do not name the scene, per clip of the task's
videos decoded at 8 fps:

* ``flat``: log share of 4x4 tiles whose every channel spans at most 2 grey levels (a pasted block is flat);
* ``flat_static``: log share of tiles flat in every frame and unchanged over the clip (a block does not move);
* ``flat_static_moving``: the same times the share of tiles that do change (a still block in a moving picture);
* ``lskew``: mean skewness of the grey frame (natural scenes have more dark than bright; inversion flips it);
* ``cskew3``, ``cskew7``: skewness of local contrast (grey minus its 3x3 / 7x7 mean), the "dark excess" of
  natural images, which inversion also flips.

Each is scored alone, appended to the quality columns (one Mahalanobis), and
as a second detector whose tail p-value is combined with the quality
detector's by taking the smaller (``minp``), with ``bench_anomaly``'s protocol
(fit on clean clips of training sources, AUC on held-out sources, seeds x 5
folds). Selection would be on ``photos``; ``corpus`` is reported.
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
from featkit._pixels import gray  # noqa: E402

_TILE = 4
_FLAT_LEVELS = 2  # grey levels a flat tile may span (H.264 leaves a pasted block this flat)
_STILL_LEVELS = 1.0  # change of a tile's mean over the clip below which it did not move
_FLOOR = 1e-3  # share floor: a clip without such tiles stays finite


def _skew(x: np.ndarray) -> np.ndarray:
    """Skewness of each frame (n, h, w) over its pixels."""
    c = x - x.mean(axis=(1, 2), keepdims=True)
    return (c**3).mean(axis=(1, 2)) / ((c**2).mean(axis=(1, 2)) ** 1.5 + 1e-10)


def clip_cues(frames: np.ndarray) -> dict[str, float]:
    """The cues of one clip's frames (n, H, W, 3) uint8 (H and W multiples of 4)."""
    from scipy.ndimage import uniform_filter

    g = gray(frames)
    out = {}
    for k in (3, 7):
        local = g - uniform_filter(g, size=(1, k, k), mode="nearest")
        m2 = (local**2).mean(axis=(1, 2)) + 1e-10
        out[f"cskew{k}"] = float(np.mean((local**3).mean(axis=(1, 2)) / m2**1.5))
    out["lskew"] = float(_skew(g).mean())
    n, h, w, _ = frames.shape
    tiles = frames.astype(np.int16).reshape(n, h // _TILE, _TILE, w // _TILE, _TILE, 3)
    flat = (tiles.max(axis=(2, 4)) - tiles.min(axis=(2, 4))).max(axis=-1) <= _FLAT_LEVELS  # (n, h/4, w/4)
    means = tiles.mean(axis=(2, 4))
    still = np.abs(means - means[:1]).max(axis=(0, 3)) <= _STILL_LEVELS
    flat_still = (flat.all(axis=0) & still).mean()
    out["flat"] = float(np.log(flat.mean() + _FLOOR))
    out["flat_static"] = float(np.log(flat_still + _FLOOR))
    out["flat_static_moving"] = float(np.log(flat_still * (1 - still.mean()) + _FLOOR))
    return out


def _table(root: Path, rows: list[dict[str, str]], recompute: bool) -> dict[str, np.ndarray]:
    import av

    cached = root.parent / "pilot_cues.npz"
    if cached.is_file() and not recompute:
        return dict(np.load(cached))
    table: dict[str, list[float]] = {}
    for row in rows:
        with av.open(str(root / row["path"])) as c:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])[::2]  # 16 -> 8 fps
        for k, v in clip_cues(frames).items():
            table.setdefault(k, []).append(v)
    arrays = {k: np.asarray(v) for k, v in table.items()}
    np.savez(cached, **arrays)
    return arrays


def _scorer(cols: Sequence[int]) -> ba.Scorer:
    return ba._columns_scorer(np.asarray(cols), method="mahalanobis")


def _mahalanobis(train: np.ndarray, test: np.ndarray, cols: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    from featkit.detection import ClipAnomalyDetector

    det = ClipAnomalyDetector(statistics=None, random_state=0, threshold_folds=None, method="mahalanobis")
    det.fit(train[:, list(cols)])
    return det.score_samples(train[:, list(cols)]), det.score_samples(test[:, list(cols)])


def _minp(groups: Sequence[Sequence[int]]) -> ba.Scorer:
    """Log of the smallest tail p-value (against the training clips' own scores) over several detectors."""

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        p = []
        for cols in groups:
            fitted, scored = _mahalanobis(train, test, cols)
            ranks = np.searchsorted(np.sort(fitted), scored, side="right")
            p.append((ranks + 1) / (len(fitted) + 1))
        return np.log(np.min(p, axis=0))

    return score


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit.transformers import statistic_of

    cues, X, names, meta = ba.pilot_task(args.cache, lambda videos, rows: _table(videos, rows, args.recompute))
    quality = [i for i, n in enumerate(names) if statistic_of(str(n)) == "quality"]
    cue_names = sorted(cues)
    M = np.column_stack([X[:, quality]] + [cues[k] for k in cue_names])
    q = list(range(len(quality)))
    col = {k: len(quality) + j for j, k in enumerate(cue_names)}
    scorers: dict[str, ba.Scorer] = {"quality (the default)": _scorer(q)}
    for k in cue_names:
        scorers[f"{k} alone"] = _scorer([col[k]])
        scorers[f"quality + {k}"] = _scorer([*q, col[k]])
    for k in ("flat_static", "flat_static_moving", "lskew"):
        scorers[f"minp(quality, {k})"] = _minp([q, [col[k]]])
    scorers["minp(quality, flat_static_moving, lskew)"] = _minp([q, [col["flat_static_moving"]], [col["lskew"]]])
    scorers["minp(each quality column)"] = _minp([[j] for j in q])
    kinds, groups, sets = meta["label"], meta["group"], meta["set"]
    evaluations = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        evaluations[s] = ba.evaluate(M[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {"cues": cue_names, "evaluations": evaluations}


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_cues", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
