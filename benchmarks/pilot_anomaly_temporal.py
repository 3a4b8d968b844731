"""Pilot: cues for the two corruptions the detector misses on the corpus (stutter, noise), and other ways to combine.

    python benchmarks/bench_anomaly.py              # first: writes the task's videos and features.h5 into the cache
    python benchmarks/pilot_anomaly_temporal.py     # writes benchmarks/results/bench_pilot_anomaly_temporal.json

Each corruption has a cue that separates it well *alone* (one-sided ROC AUC, no
fitting), and the detector loses most of it, because a clean clip of a new
source is far out in some column too. Candidates, measured on the decoded grey
frames of each clip at the detector's 8 fps (every other frame of the task's
16-fps files) with ``r`` the root mean square change from one frame to the next:

* ``still``: the share of steps with ``r`` under a tenth of its mean (the pixel
  twin of ``quality_still``);
* ``hold``: the share of steps that are still in a rest of at most 0.5 s with a
  moving step on each side (a stutter pauses between moves, a scene that stops
  pauses longer);
* ``isolated``: the share of still steps with a moving step on each side (rests
  of exactly one step);
* ``floor``: the log lower quartile of the 8 x 8-tile mean squared Laplacian, a
  noise floor (noise raises every tile, detail only some).

Each is scored alone, then beside the default's statistics (``quality``,
``polarity``, ``residual``) in :class:`featkit.ClipAnomalyDetector`: inside the
quality Gaussian, or as its own one-sided statistic. Also other combinations of
the default's own columns: the quality group split into the picture's four and
the path's four columns, every quality column its own statistic, and two
scorers outside the detector (empirical tail probabilities of every column
summed, and the smallest of them). ``bench_anomaly``'s protocol (fit on clean
clips of training sources, AUC on held-out sources, seeds x 5 folds); selection
is on ``photos``, ``corpus`` is reported.
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
from benchmarks.pilot_anomaly_decoded import _detector  # noqa: E402

#: Each candidate's side: where its corruption moves it.
CANDIDATES: dict[str, str] = {"still": "upper", "hold": "upper", "isolated": "upper", "floor": "upper"}
_HOLD_S = 0.5
_PICTURE = ("quality_detail", "quality_blocking", "quality_flicker", "quality_scale")


def _rests(still: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of still steps with a moving step on each side."""
    runs, start = [], None
    for i, is_still in enumerate(still):
        if is_still and start is None:
            start = i
        elif not is_still and start is not None:
            if start > 0:
                runs.append((start, i))
            start = None
    return runs


def clip_cues(frames: np.ndarray, fps: float) -> dict[str, float]:
    """The candidates of one clip's grey frames (n, H, W) in [0, 1], sampled at ``fps``."""
    from featkit.quality import _STILL, _laplacian  # a step under this share of the mean step is still

    r = np.sqrt((np.diff(frames, axis=0) ** 2).mean(axis=(1, 2)))
    mean = float(r.mean()) if len(r) else 0.0
    still = r < _STILL * mean if mean > 1e-12 else np.zeros(len(r), dtype=bool)
    rests = _rests(still)
    n = max(len(r), 1)
    energy = _laplacian(frames) ** 2
    t = (energy.shape[1] // 8) * 8, (energy.shape[2] // 8) * 8
    tiles = energy[:, : t[0], : t[1]].reshape(len(frames), t[0] // 8, 8, t[1] // 8, 8).mean(axis=(2, 4))
    return {
        "still": float(still.mean()) if len(r) else 0.0,
        "hold": sum(b - a for a, b in rests if (b - a) / fps <= _HOLD_S + 1e-9) / n,
        "isolated": sum(1 for a, b in rests if b - a == 1) / n,
        "floor": float(np.log(np.quantile(tiles.reshape(len(frames), -1), 0.25, axis=1) + 1e-8).mean()),
    }


def _table(root: Path, rows: list[dict[str, str]], recompute: bool) -> dict[str, np.ndarray]:
    import av

    cached = root.parent / "pilot_temporal.npz"
    if cached.is_file() and not recompute:
        return dict(np.load(cached))
    table: dict[str, list[float]] = {k: [] for k in CANDIDATES}
    for row in rows:
        with av.open(str(root / row["path"])) as c:
            grey = [f.to_ndarray(format="gray").astype(np.float64) / 255.0 for f in c.decode(video=0)]
        for k, v in clip_cues(np.stack(grey)[::2], 8.0).items():  # 16 -> 8 fps, as the detector samples
            table[k].append(v)
    arrays = {k: np.asarray(v) for k, v in table.items()}
    np.savez(cached, **arrays)
    return arrays


def _empirical(columns: Sequence[int], sides: Sequence[str], combine: str) -> ba.Scorer:
    """Empirical tail probabilities of each column (add-one smoothed), summed in logs or their minimum."""

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        logs = []
        for c, side in zip(columns, sides, strict=True):
            ref, n = np.sort(train[:, c]), len(train)
            below = (np.searchsorted(ref, test[:, c], side="right") + 1) / (n + 2)
            above = (n - np.searchsorted(ref, test[:, c], side="left") + 1) / (n + 2)
            p = {"upper": above, "lower": below}.get(side, np.minimum(1.0, 2 * np.minimum(below, above)))
            logs.append(np.log(p))
        return np.sum(logs, axis=0) if combine == "sum" else np.min(logs, axis=0)

    return score


def run(args: argparse.Namespace) -> dict[str, Any]:
    from featkit.detection import ANOMALOUS_TAILS
    from featkit.quality import QUALITY_COLUMNS

    cues, X, names, meta = ba.pilot_task(args.cache, lambda videos, rows: _table(videos, rows, args.recompute))
    base_names = [*QUALITY_COLUMNS, "polarity_nelbo", "residual_flat"]
    M = np.column_stack([X[:, [names.index(n) for n in base_names]]] + [cues[k] for k in CANDIDATES])
    kinds, groups, sets = meta["label"], meta["group"], meta["set"]
    base = list(range(len(base_names)))
    n_quality = len(QUALITY_COLUMNS)
    extra = {k: len(base_names) + j for j, k in enumerate(CANDIDATES)}

    alone: dict[str, dict[str, dict[str, float]]] = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        clean = kinds[keep] == "clean"
        alone[s] = {
            k: {c: ba._auc(-M[keep][clean, j], -M[keep][kinds[keep] == c, j]) for c in ba.CORRUPTIONS}
            for k, j in extra.items()
        }

    def named(inside: dict[str, str]) -> list[str]:
        """Column names: the default's, with ``inside`` mapping a candidate to the statistic it joins."""
        return base_names + [f"{inside.get(k, k)}_px{k}" for k in CANDIDATES]

    tails = dict(ANOMALOUS_TAILS)
    scorers: dict[str, ba.Scorer] = {"default": _detector(named({}), base)}
    for k, j in extra.items():
        scorers[f"+ {k} in the quality Gaussian"] = _detector(named({k: "quality"}), [*base, j])
        scorers[f"+ {k}, its own one-sided statistic"] = _detector(
            named({}), [*base, j], tails={**tails, k: CANDIDATES[k]}
        )
    split = [f"qualitypicture_{n[8:]}" if n in _PICTURE else f"qualitypath_{n[8:]}" for n in QUALITY_COLUMNS]
    scorers["quality split: picture / path"] = _detector(split + base_names[n_quality:], base)
    own = [f"quality{n[8:]}_x" for n in QUALITY_COLUMNS]
    scorers["every quality column its own statistic"] = _detector(own + base_names[n_quality:], base)
    sides = ["both"] * n_quality + ["lower", "upper"]
    scorers["empirical tails, summed"] = _empirical(base, sides, "sum")
    scorers["empirical tails, smallest"] = _empirical(base, sides, "min")
    evaluations = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        evaluations[s] = ba.evaluate(M[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {
        "candidates": CANDIDATES,
        "alone_one_sided_auc": alone,
        "evaluations": evaluations,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_temporal", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
