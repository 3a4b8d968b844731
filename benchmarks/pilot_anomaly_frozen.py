"""Pilot: why frozen clips slip past the detector on the corpus, and two ways of scoring the path's pace.

    python benchmarks/bench_anomaly.py            # first: writes the task's videos and features.h5 into the cache
    python benchmarks/pilot_anomaly_frozen.py     # writes benchmarks/results/bench_pilot_anomaly_frozen.json

With featkit-default-v4 the shipped detector finds frozen corpus clips at ROC AUC 0.78, though
``quality_pace`` alone, one-sided and unfitted, separates them at 0.97: a frozen clip's pace is
about 2.5 of the clean clips' standard deviations low, and inside the quality group's 8-column t law
that is no further out than a clean clip of a new scene. Candidates, each on ``bench_anomaly``'s protocol
(fit on clean clips of training sources, AUC on held-out sources, seeds x 5 folds; selection on
``photos``, ``corpus`` reported):

* ``quality_pace`` taken out of the quality group as its own one-column statistic, tested on the low side
  (a frozen clip moves slower) or on both;
* the quality group's law Gaussian instead of t;
* the quality group split into the picture's four and the path's four columns (with the pace on its own);
* Zaykin's truncated product instead of Fisher's sum: only tail probabilities below ``tau`` count, so a
  clean clip's moderate distances cost nothing (``tau`` = 1 is Fisher's method).

It also records each default column's one-sided AUC alone for frozen, stutter and noise on the corpus.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_anomaly as ba  # noqa: E402

_PATH = ("quality_kurtosis", "quality_jump", "quality_still")
_ONE_SIDED = {"polarity": "lower", "residual": "upper", "pace": "lower"}


def _scorer(names: Sequence[str], rename: dict[str, str], tau: float = 1.0, **kw: Any) -> ba.Scorer:
    """The detector on the default statistics with columns renamed into other statistics; truncated at ``tau``."""
    from featkit.detection import ClipAnomalyDetector, _log_tail
    from featkit.transformers import statistic_of

    renamed = [rename.get(n, n) for n in names]
    stats = tuple(dict.fromkeys(["quality", "polarity", "residual", *(statistic_of(v) for v in rename.values())]))
    cols = np.array([i for i, n in enumerate(renamed) if statistic_of(n) in stats])
    kept = [renamed[i] for i in cols]

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        det = ClipAnomalyDetector(feature_names=kept, statistics=stats, threshold_folds=None, **kw)
        det.fit(train[:, cols])
        if tau >= 1.0:
            return det.score_samples(test[:, cols])
        Z = det._preprocess(test[:, cols])
        logs = [
            _log_tail(m, Z[:, g], t, dof)
            for m, g, t, dof in zip(det._model, det._z_groups(Z), det.tails_, det.dof_, strict=True)
        ]
        return np.sum([np.minimum(0.0, v - np.log(tau)) for v in logs], axis=0)

    return score


def candidates(names: Sequence[str]) -> dict[str, ba.Scorer]:
    pace = {"quality_pace": "pace_alone"}
    path = {n: n.replace("quality_", "path_") for n in _PATH}
    out = {
        "default": _scorer(names, {}),
        "pace its own statistic, low side": _scorer(names, pace, tails=_ONE_SIDED),
        "pace its own statistic, both sides": _scorer(names, pace),
        "quality group Gaussian": _scorer(names, {}, law="gaussian"),
        "picture / path split": _scorer(names, {**path, "quality_pace": "path_pace"}),
        "picture / path split, pace its own, low side": _scorer(names, {**path, **pace}, tails=_ONE_SIDED),
    }
    for tau in (0.2, 0.05):
        out[f"truncated product, tau {tau}"] = _scorer(names, {}, tau=tau)
        out[f"truncated product, tau {tau}, pace its own, low side"] = _scorer(names, pace, tau=tau, tails=_ONE_SIDED)
    return out


def run(args: Any) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    from featkit.transformers import statistic_of

    _, X, names, meta = ba.pilot_task(args.cache, lambda videos, rows: {})
    kinds, groups, sets = meta["label"], meta["group"], meta["set"]
    scored = [i for i, n in enumerate(names) if statistic_of(n) in ("quality", "polarity", "residual")]
    alone: dict[str, dict[str, float]] = {}
    corpus = sets == "corpus"
    for kind in ("frozen", "stutter", "noise"):
        m = corpus & np.isin(kinds, ["clean", kind])
        y = kinds[m] == kind
        aucs = (roc_auc_score(y, X[m, i]) for i in scored)
        alone[kind] = {names[i]: round(max(a, 1 - a), 3) for i, a in zip(scored, aucs, strict=True)}
    scorers = candidates(names)
    evaluations = {}
    for s in ("photos", "corpus"):
        keep = sets == s
        evaluations[s] = ba.evaluate(X[keep], kinds[keep], groups[keep], scorers, seeds=range(args.seeds), n_splits=5)
    return {"candidates": list(scorers), "corpus_alone_best_side_auc": alone, "evaluations": evaluations}


def main(argv: Sequence[str] | None = None) -> int:
    return ba.pilot_main(argv, "pilot_anomaly_frozen", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
