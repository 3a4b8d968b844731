"""Classification recipe: scaler + classifier, cross-validated by video, with a report, a figure and a model file.

``featkit classify features.h5 -o out/`` runs :func:`run_classification`: clips
of one video never fall in both the training and the test part of a fold
(:class:`~sklearn.model_selection.StratifiedGroupKFold` when every class has at
least ``folds`` videos, else :class:`~sklearn.model_selection.GroupKFold`).
Classes are weighted ``"balanced"``; the report gives balanced accuracy and
macro-F1 per clip and per video (clip probabilities averaged per video).

Each fold's classifier is tuned on that fold's training videos alone
(:func:`fit_classifier`): how much each statistic group weighs (a camera-motion
task needs its 8 motion columns heard beside 768 content columns, a content task
does not) and the penalty C, by an inner cross-validation that never splits a video.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Options, validate_params
from featkit.exceptions import ConfigError, InsufficientDataError, ModelError

__all__ = [
    "DIRECTION_GROUPS",
    "MODELS",
    "MOTION_GROUPS",
    "TRUSTED_TYPES",
    "TUNING_GRID",
    "can_tune",
    "fit_classifier",
    "load_model",
    "make_classifier",
    "make_cv",
    "predict_file",
    "run_classification",
    "save_model",
]

MODELS = ("logreg", "svm", "gbt")
MODEL_FORMAT = "featkit.model"
MODEL_FORMAT_VERSION = 1

#: Types a model file may hold beyond those skops trusts by default (scikit-learn's estimators,
#: NumPy arrays); a file holding anything else is refused without being loaded.
TRUSTED_TYPES = [
    "featkit.detection.ClipAnomalyDetector",
    "featkit.transformers.LatentStatsSelector",
    "featkit.transformers.StatisticGroupScaler",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


#: The grid of the tuned recipe (:func:`make_classifier` with ``tune=True``): the statistic-group balance of
#: :class:`featkit.transformers.StatisticGroupScaler` (0 = plain standardisation, 1 = every statistic group
#: weighs alike, 2 = narrow groups such as the 4 ``motion`` columns weigh more) and the inverse penalty C.
TUNING_GRID: dict[str, list[float]] = {"scale__balance": [0.0, 0.5, 1.0, 2.0], "clf__C": [0.1, 1.0]}
#: Statistic groups the tuned recipe may also leave out as a whole: those that describe how the picture
#: moves (signed in time, or the camera's speed). On a content task they are noise beside the content
#: statistics; the inner cross-validation decides per task (:func:`make_classifier`).
DIRECTION_GROUPS: tuple[str, ...] = ("mu_slope", "mu_delta", "motion", "motion_speed")
#: Statistic groups the tuned recipe may also keep alone: the camera's motion, read the same way whatever the
#: picture. On a camera-motion task of moving footage every other group is noise that the balance alone does
#: not silence with a few labels (``benchmarks/pilot_motion_fit.py``'s moving set: 0.67 -> 0.75 at 10 labels).
MOTION_GROUPS: tuple[str, ...] = ("motion", "motion_speed")
#: Statistic groups left out when ``stats`` is None: ``polarity`` says whether a clip's colours are inverted and
#: ``residual`` whether the VAE's error sits in flat regions, which no content or motion task asks, and as
#: one-column groups the balance can weigh each like a 128-column one (tests/integration/test_pipelines.py's
#: pattern task: 0.98 balanced accuracy without polarity, 0.88 with it). Name them in ``stats`` to use them.
LEFT_OUT_BY_DEFAULT: tuple[str, ...] = ("polarity", "residual")
#: Folds of the inner cross-validation by video that chooses within :data:`TUNING_GRID`.
INNER_FOLDS = 3


def make_classifier(
    model: str = "logreg",
    *,
    feature_names: Any = None,
    stats: list[str] | None = None,
    random_state: int = 0,
    tune: bool = False,
    inner_folds: int = INNER_FOLDS,
) -> Any:
    """Build the classification pipeline: statistic selection, group-balanced scaling, a balanced classifier.

    A default feature row holds 6 statistics of 128 columns each beside 8 camera-motion
    columns; with plain standardisation the wide groups drown the narrow ones when few
    videos are labelled. The scaling step (:class:`featkit.transformers.StatisticGroupScaler`)
    weights the groups; with ``tune=True`` the weighting and the penalty are chosen on the
    training videos alone by a cross-validation that never splits a video, so a content
    task keeps plain scaling and a motion task lets the motion columns speak.

    Parameters
    ----------
    model : {"logreg", "svm", "gbt"}, default="logreg"
        Logistic regression, linear SVM, or histogram gradient boosting.
    feature_names : array-like of str, optional
        Column names (from :func:`featkit.load_features`); needed with ``stats``, and for
        the group weighting (without names every column is its own group).
    stats : list of str, optional
        Statistic groups to use (all but :data:`LEFT_OUT_BY_DEFAULT` when ``None`` and names are given).
    random_state : int, default=0
    tune : bool, default=False
        Return a :class:`~sklearn.model_selection.GridSearchCV` over :data:`TUNING_GRID`
        with :class:`~sklearn.model_selection.GroupKFold` (``inner_folds``), scored by
        balanced accuracy, refitting the simplest grid point within one standard error of
        the best (smallest balance, then fewer groups, then the best C); fit it with
        ``groups=`` (video ids). Two more branches may leave out the
        :data:`DIRECTION_GROUPS` (content tasks) or keep only the :data:`MOTION_GROUPS`
        (camera-motion tasks). Trees ignore scaling and C, so ``model="gbt"`` is never tuned.
    inner_folds : int, default=3

    Returns
    -------
    sklearn.pipeline.Pipeline or sklearn.model_selection.GridSearchCV
        Untuned, the pipeline scales with ``balance=0`` (plain standardisation).

    """
    from sklearn.pipeline import Pipeline

    from featkit.transformers import LatentStatsSelector, StatisticGroupScaler, statistic_groups

    validate_params("make_classifier", {"model": [Options(MODELS)]}, {"model": model})
    if model == "logreg":
        from sklearn.linear_model import LogisticRegression

        clf: Any = LogisticRegression(max_iter=2000, class_weight="balanced")
    elif model == "svm":
        from sklearn.svm import LinearSVC

        clf = LinearSVC(class_weight="balanced", max_iter=20000, random_state=random_state)
    else:  # "gbt"
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(
            class_weight="balanced", min_samples_leaf=5, max_iter=50, max_depth=3, random_state=random_state
        )
    names = None if feature_names is None else [str(n) for n in feature_names]
    if names is not None and stats is None and set(LEFT_OUT_BY_DEFAULT) & set(statistic_groups(names)):
        stats = [g for g in dict.fromkeys(statistic_groups(names)) if g not in LEFT_OUT_BY_DEFAULT]
    kept = names
    if names is not None and stats is not None:  # the names the selector passes on, in the input's order
        wanted = [stats] if isinstance(stats, str) else list(stats)
        kept = [names[i] for i in np.flatnonzero(np.isin(statistic_groups(names), wanted))]
    pipe = Pipeline(
        [
            ("select", LatentStatsSelector(stats, feature_names=names)),
            ("scale", StatisticGroupScaler(balance=0.0, feature_names=kept)),
            ("clf", clf),
        ]
    )
    if not tune or model == "gbt":
        return pipe
    from sklearn.model_selection import GridSearchCV, GroupKFold

    groups = set() if kept is None else set(statistic_groups(kept))
    grid: Any = {**TUNING_GRID, "scale__exclude": [()]}
    if len(groups) < 2:
        grid["scale__balance"] = [0.0]  # one group (or no names): the balance changes nothing, so spare the fits
    left = groups - set(DIRECTION_GROUPS)
    branches = []
    if left and left != groups:
        # Without the direction groups the others (all d wide) weigh alike whatever the balance: C only.
        branches.append(DIRECTION_GROUPS)
    others = groups - set(MOTION_GROUPS)
    if others and others != groups:
        branches.append(tuple(sorted(others)))  # the motion columns alone: two groups of 4, balance moot
    if branches:
        grid = [grid] + [
            {"clf__C": TUNING_GRID["clf__C"], "scale__balance": [0.0], "scale__exclude": [excluded]}
            for excluded in branches
        ]
    refit = _simplest_within_noise
    return GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=GroupKFold(inner_folds), refit=refit)


def _simplest_within_noise(cv_results: dict[str, Any], *, motion_alone_if_best: bool = False) -> int:
    """The grid point GridSearchCV refits: the simplest one within one standard error of the best.

    Breiman's one-standard-error rule. With a few labelled videos per class the inner
    scores are noisy, and a near-tie decided by chance towards a strong group weighting
    cost up to 40 points on a content task; so among the points scoring within one standard
    error of the best, the smallest balance (plain scaling first) wins, and among those
    the best-scoring C.

    With ``motion_alone_if_best``, a point keeping the motion groups alone
    (:data:`MOTION_GROUPS`) is taken only when one of them scores best, and is
    otherwise left out of the near ties: dropping every content column is a strong
    claim about the task, not a simpler model to fall back on.
    """
    mean = np.asarray(cv_results["mean_test_score"], dtype=np.float64)
    std = np.asarray(cv_results["std_test_score"], dtype=np.float64)
    n_splits = sum(1 for key in cv_results if key.startswith("split") and key.endswith("_test_score"))
    if not np.isfinite(mean).any():
        return 0
    excluded = list(cv_results.get("param_scale__exclude", [()] * len(mean)))
    best = int(np.nanargmax(mean))
    floor = mean[best] - std[best] / np.sqrt(max(n_splits, 1))
    near = np.nan_to_num(mean, nan=-np.inf) >= floor - 1e-12
    if motion_alone_if_best:
        alone = np.array([_keeps_motion_alone(e) for e in excluded], dtype=bool)
        near &= alone if alone[best] else ~alone
    near = np.flatnonzero(near)
    balance = np.asarray(cv_results["param_scale__balance"], dtype=np.float64)
    # Fewer groups is simpler: at the same balance, a point leaving groups out goes first.
    kept_groups = -np.array([len(e) for e in excluded], dtype=float)
    return int(near[np.lexsort((-mean[near], kept_groups[near], balance[near]))[0]])


def _keeps_motion_alone(excluded: Any) -> bool:
    """Whether a grid point's ``scale__exclude`` leaves out everything but the motion groups."""
    excluded = set(excluded or ())
    return bool(excluded) and not excluded & set(MOTION_GROUPS)


def can_tune(y: Any, groups: Any, inner_folds: int = INNER_FOLDS) -> bool:
    """Whether the inner cross-validation of the tuned recipe can work on these labelled clips.

    It needs at least ``inner_folds`` videos, and two videos of every class, so that each
    inner training part still sees most classes.

    Parameters
    ----------
    y, groups : array-like of shape (n_clips,)
        Labels and video ids.
    inner_folds : int, default=3

    Returns
    -------
    bool

    """
    y, groups = np.asarray(y), np.asarray(groups)
    if len(np.unique(groups)) < inner_folds:
        return False
    return all(len(np.unique(groups[y == c])) >= 2 for c in np.unique(y))


def fit_classifier(
    X: Any,
    y: Any,
    groups: Any,
    model: str = "logreg",
    *,
    feature_names: Any = None,
    stats: list[str] | None = None,
    random_state: int = 0,
    tune: bool = True,
) -> tuple[Any, dict[str, Any] | None]:
    """Fit featkit's classification recipe on labelled clips, tuned by video when the labels allow it.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_features)
    y, groups : array-like of shape (n_clips,)
        Labels and video ids (clips of one video never fall on both sides of an inner split).
    model : {"logreg", "svm", "gbt"}, default="logreg"
    feature_names, stats, random_state
        As for :func:`make_classifier`.
    tune : bool, default=True
        Choose within :data:`TUNING_GRID` where :func:`can_tune` allows; else the untuned pipeline.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Fitted on all of ``X`` (with the chosen parameters when tuned).
    chosen : dict or None
        The chosen grid parameters, or None when not tuned.

    """
    kwargs = {"feature_names": feature_names, "stats": stats, "random_state": random_state}
    if tune and model != "gbt" and can_tune(y, groups):
        import warnings

        search = make_classifier(model, tune=True, **kwargs)
        with warnings.catch_warnings():
            # An inner validation part may miss a class; its balanced accuracy is still a fair vote.
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            search.fit(X, y, groups=groups)
        chosen = {k: [str(g) for g in v] if isinstance(v, tuple) else float(v) for k, v in search.best_params_.items()}
        return search.best_estimator_, chosen
    return make_classifier(model, **kwargs).fit(X, y), None


def make_cv(y: Any, groups: Any, n_splits: int = 5, random_state: int = 0) -> Any:
    """Grouped cross-validation for clips: stratified by class when every class has enough videos.

    Parameters
    ----------
    y : array-like of shape (n_clips,) or None
    groups : array-like of shape (n_clips,)
        Video ids.
    n_splits : int, default=5
    random_state : int, default=0

    Returns
    -------
    StratifiedGroupKFold or GroupKFold

    Raises
    ------
    InsufficientDataError
        Without labels, with a single class, or with fewer videos than folds.
    ConfigError
        If ``n_splits < 2``.

    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ConfigError(f"The number of folds must be an integer >= 2. Got {n_splits!r} instead.")
    if y is None:
        raise InsufficientDataError(
            "The features have no labels, so there is nothing to classify. Labels come from folders: extract "
            "DIR/<label>/<video> (or run `featkit cluster` for unlabelled features)."
        )
    y, groups = np.asarray(y), np.asarray(groups)
    classes = np.unique(y)
    if len(classes) < 2:
        raise InsufficientDataError(
            f"The features hold a single class ({classes[0]!r} if any); classification needs at least two labels."
        )
    n_videos = len(np.unique(groups))
    if n_videos < n_splits:
        raise InsufficientDataError(
            f"{n_splits}-fold cross-validation by video needs at least {n_splits} videos; the features hold "
            f"{n_videos}. Use --folds {max(2, n_videos)} or fewer, or extract more videos."
        )
    per_class = {c: len(np.unique(groups[y == c])) for c in classes}
    if min(per_class.values()) >= n_splits:
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return GroupKFold(n_splits=n_splits)


def _labelled(path: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    from featkit.sklearn import load_features, load_videos

    X, y, groups, names = load_features(path)
    paths = load_videos(path, as_frame=False).get("path", np.zeros(0, dtype=object))
    if y is None:
        return X, None, groups, names, paths, 0
    keep = y != ""
    return X[keep], y[keep], groups[keep], names, paths, len(np.unique(groups[~keep]))


def run_classification(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str] | None = None,
    *,
    model: str = "logreg",
    folds: int = 5,
    save: str | os.PathLike[str] | None = None,
    random_state: int = 0,
    stats: list[str] | None = None,
    tune: bool = True,
) -> dict[str, Any]:
    """Cross-validate a classifier on a feature file by video; write a report, a figure and optionally a model.

    Parameters
    ----------
    path : path-like
        Feature file. Videos without a label (directly in the extraction root) are left out.
    outdir : path-like, optional
        Folder for ``report.json`` and ``confusion_matrix.png``; nothing is written when ``None``.
    model : {"logreg", "svm", "gbt"}, default="logreg"
    folds : int, default=5
    save : path-like, optional
        Write the pipeline fitted on all labelled clips to this ``.skops`` file.
    random_state : int, default=0
    stats : list of str, optional
        Classify on these statistic groups only (``["motion", "motion_speed"]``); the selection is the
        pipeline's first step, so a saved model takes the whole feature row. ``None``: every column.
    tune : bool, default=True
        In every fold, choose the statistic-group balance and C on that fold's training videos
        (:func:`fit_classifier`; a fold whose videos are too few is left untuned).

    Returns
    -------
    dict
        The report: settings, ``tuning`` (the grid, or None), ``chosen`` (the final model's
        parameters when saved), ``cv`` (splitter and each fold's test videos and chosen
        parameters), ``clip`` and
        ``video`` metrics (accuracy, balanced accuracy, macro-F1, per-class report,
        confusion matrix), and the files written.

    Raises
    ------
    InsufficientDataError, ConfigError, StoreError, LayoutError
        Checked before anything is written.

    """
    validate_params("run_classification", {"model": [Options(MODELS)]}, {"model": model})
    X, y, groups, names, paths, n_unlabelled = _labelled(path)
    cv = make_cv(y, groups, folds, random_state)
    if stats is not None:
        from featkit.transformers import statistic_of

        known = sorted({statistic_of(n) for n in names})
        unknown = [s for s in stats if s not in known]
        if unknown or not stats:
            raise ConfigError(
                f"The 'stats' parameter must name statistic groups of {os.fspath(path)} ({', '.join(known)}). "
                f"Got {unknown or stats} instead."
            )
    import functools

    fit = functools.partial(
        fit_classifier, model=model, feature_names=names, stats=stats, random_state=random_state, tune=tune
    )
    with _openmp_guard():
        return _cross_validate(
            path, outdir, model, folds, save, X, y, groups, names, paths, n_unlabelled, cv, fit, stats, tune
        )


def _openmp_guard() -> Any:
    """One OpenMP thread while TensorFlow is loaded in this process.

    TensorFlow's thread pools make scikit-learn's OpenMP loops (gradient
    boosting, k-means) spin for seconds on few cores.
    """
    import contextlib

    if "tensorflow" not in sys.modules:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


def _cross_validate(
    path: Any,
    outdir: Any,
    model: str,
    folds: int,
    save: Any,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: np.ndarray,
    paths: np.ndarray,
    n_unlabelled: int,
    cv: Any,
    fit: Any,
    stats: list[str] | None,
    tune: bool,
) -> dict[str, Any]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        classification_report,
        confusion_matrix,
        f1_score,
    )

    from featkit.aggregate import predict_by_video

    classes = np.unique(y)
    clip_pred = np.empty(len(y), dtype=object)
    vid_true, vid_pred, fold_report = [], [], []
    for k, (train, test) in enumerate(cv.split(X, y, groups)):
        train_v, test_v = set(groups[train].tolist()), set(groups[test].tolist())
        if train_v & test_v:  # cannot happen with group splitters; checked because it is the point
            raise RuntimeError(f"fold {k} shares videos between training and test: {sorted(train_v & test_v)}")
        est, chosen = fit(X[train], y[train], groups[train])
        clip_pred[test] = est.predict(X[test])
        ids, labels, _ = predict_by_video(est, X[test], groups[test])
        first = {g: y[test][np.flatnonzero(groups[test] == g)[0]] for g in ids}
        vid_true += [first[g] for g in ids]
        vid_pred += list(labels)
        fold_report.append(
            {
                "fold": k,
                "test_videos": sorted(str(paths[g]) for g in ids),
                "n_test_clips": len(test),
                "chosen": chosen,
            }
        )

    def metrics(t: Any, p: Any) -> dict[str, Any]:
        return {
            "n": len(t),
            "accuracy": float(accuracy_score(t, p)),
            "balanced_accuracy": float(balanced_accuracy_score(t, p)),
            "macro_f1": float(f1_score(t, p, average="macro", labels=classes, zero_division=0)),
            "per_class": classification_report(t, p, labels=classes, output_dict=True, zero_division=0),
            "confusion_matrix": confusion_matrix(t, p, labels=classes).tolist(),
        }

    report: dict[str, Any] = {
        "features": os.fspath(path),
        "model": model,
        "statistics": stats or "all",
        "tuning": (
            {"grid": TUNING_GRID, "inner_cv": f"GroupKFold({INNER_FOLDS}) by video", "scoring": "balanced_accuracy"}
            if tune and model != "gbt"
            else None
        ),
        "classes": [str(c) for c in classes],
        "n_clips": len(y),
        "n_videos": len(np.unique(groups)),
        "n_unlabelled_videos_left_out": n_unlabelled,
        "cv": {"splitter": type(cv).__name__, "n_splits": folds, "folds": fold_report},
        "clip": metrics(y, clip_pred.astype(str)),
        "video": metrics(np.array(vid_true, dtype=str), np.array(vid_pred, dtype=str)),
        "files": {},
    }
    payload: dict[str, bytes] = {}
    model_bytes = None
    if save is not None:
        final, report["chosen"] = fit(X, y, groups)
        model_bytes = dump_model_bytes(
            final, names, classes, source=os.fspath(path), estimator=model, training_sha256=_training_digests(path)
        )
    if outdir is not None:
        payload["confusion_matrix.png"] = _confusion_png(
            report["clip"]["confusion_matrix"], report["video"]["confusion_matrix"], report["classes"], model
        )
    # Everything is computed; now write, each file atomically.
    from featkit.pipelines._io import atomic_write_bytes, atomic_write_json

    if model_bytes is not None:
        report["files"]["model"] = os.fspath(atomic_write_bytes(save, model_bytes))
    if outdir is not None:
        out = Path(outdir)
        for name, data in payload.items():
            report["files"][name] = os.fspath(atomic_write_bytes(out / name, data))
        report["files"]["report.json"] = os.fspath(out / "report.json")
        atomic_write_json(out / "report.json", report)
    return report


def _training_digests(path: Any) -> str:
    """JSON list of the sha256 of the labelled videos a final model is fitted on (for predict's overlap warning)."""
    from featkit.sklearn import load_videos

    table = load_videos(path, as_frame=False)
    labelled = [str(d) for d, lab in zip(table.get("sha256", []), table.get("label", []), strict=True) if lab != ""]
    return json.dumps(sorted(set(labelled)))


def _confusion_png(clip_cm: Any, video_cm: Any, classes: list[str], title: str) -> bytes:
    from featkit.pipelines._io import figure_png

    return figure_png(confusion_figure(clip_cm, video_cm, classes, title))


def confusion_figure(clip_cm: Any, video_cm: Any, classes: list[str], title: str) -> Any:
    """Cross-validated confusion matrices side by side: per clip, and per video (clip probabilities averaged).

    Parameters
    ----------
    clip_cm, video_cm : array-like of shape (n_classes, n_classes), int
        Counts, true classes as rows.
    classes : list of str
    title : str
        The model's name.

    Returns
    -------
    matplotlib.figure.Figure

    """
    from featkit.pipelines._io import pyplot

    plt = pyplot()
    side = 1.2 + 0.6 * len(classes)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1, side))
    for ax, cm, what in zip(axes, (clip_cm, video_cm), ("clips", "videos"), strict=True):
        cm_arr = np.asarray(cm)
        ax.imshow(cm_arr, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {what} ({int(cm_arr.sum())}), cross-validated")
        for (i, j), v in np.ndenumerate(cm_arr):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm_arr.max() / 2 else "black")
    fig.tight_layout()
    return fig


# -- model files ---------------------------------------------------------------------------


def dump_model_bytes(model: Any, feature_names: Any, classes: Any, **info: Any) -> bytes:
    """Serialise a fitted pipeline with its feature names and classes, with skops (no pickle)."""
    import skops.io as sio

    from featkit._version import __version__

    bundle = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "featkit_version": __version__,
        "feature_names": [str(n) for n in feature_names],
        "classes": [str(c) for c in classes],
        "info": {k: str(v) for k, v in info.items()},
        "model": model,
    }
    return sio.dumps(bundle)


def save_model(model: Any, path: str | os.PathLike[str], feature_names: Any, classes: Any, **info: Any) -> Path:
    """Write a fitted pipeline to a ``.skops`` file atomically; see :func:`load_model`."""
    from featkit.pipelines._io import atomic_write_bytes

    return atomic_write_bytes(path, dump_model_bytes(model, feature_names, classes, **info))


def load_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a model file written by :func:`save_model`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        ``model`` (the fitted pipeline), ``feature_names``, ``classes``, ``info``.

    Raises
    ------
    ModelError
        If the file is missing, not a skops file, not a featkit model, or holds a type
        outside :data:`TRUSTED_TYPES` (it is then not loaded at all).

    """
    import skops.io as sio

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the model file {os.fspath(path)}: {exc}") from exc
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises assorted errors on foreign files
        raise ModelError(f"{os.fspath(path)} is not a skops model file: {type(exc).__name__}: {exc}") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise ModelError(
            f"{os.fspath(path)} holds types featkit does not trust, so it was not loaded: {refused}. "
            "Inspect it with skops.io.get_untrusted_types and load it yourself if you trust its source."
        )
    try:
        bundle = sio.loads(data, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
    except Exception as exc:  # a damaged or crafted file of trusted types
        raise ModelError(f"{os.fspath(path)} cannot be loaded as a skops model: {type(exc).__name__}: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ModelError(f"{os.fspath(path)} is a skops file but not a featkit model (no 'format': {MODEL_FORMAT!r}).")
    if bundle.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"{os.fspath(path)} has featkit model format version {bundle.get('format_version')}; this featkit "
            f"reads version {MODEL_FORMAT_VERSION}."
        )
    problem = _tree_problem(bundle.get("model"))
    if problem:
        raise ModelError(
            f"{os.fspath(path)} holds a tree model whose arrays are inconsistent ({problem}); predicting with it "
            "would read outside its arrays, so it was refused. The file is damaged or crafted."
        )
    problem = _layout_problem(bundle)
    if problem:
        raise ModelError(
            f"{os.fspath(path)} holds a model that cannot predict on its own feature layout ({problem}). "
            "The file is damaged or crafted."
        )
    return bundle


def _layout_problem(bundle: dict[str, Any]) -> str | None:
    """Why the model fails on one row of its recorded feature columns, or None.

    Its arrays (a scaler's weights, a selector's columns) may disagree with the layout in a damaged
    or crafted file; this shows it at load time, as a ModelError, not as a crash in ``predict``. Tree
    arrays are checked first (:func:`_tree_problem`), so the trial row cannot read outside them.
    """
    import warnings

    import numpy as np

    names = bundle.get("feature_names")
    model = bundle.get("model")
    if not isinstance(names, list | tuple) or not hasattr(model, "predict"):
        return "no feature names or no predict method"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.predict(np.zeros((1, len(names)), dtype=np.float32))
    except Exception as exc:  # noqa: BLE001  whatever the arrays make predict raise, the file is at fault
        return f"predict on one row of {len(names)} columns: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _tree_problem(obj: Any, depth: int = 0) -> str | None:
    """What is wrong with the tree arrays of an estimator or anything it holds, or None.

    Tree predictors index their node arrays with the values stored in them, in compiled code and without
    bounds checks: a child index, feature index or bitset index out of range reads arbitrary memory.
    Children must come after their parent (as scikit-learn numbers them), so no walk can loop.
    """
    import numpy as np

    if depth > 20:
        return "nested too deeply"
    name = type(obj).__name__
    if name == "TreePredictor":
        nodes = getattr(obj, "nodes", None)
        if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or len(nodes) == 0:
            return "TreePredictor.nodes is not a non-empty 1-D array"
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

        if nodes.dtype != PREDICTOR_RECORD_DTYPE:
            return f"TreePredictor.nodes has dtype {nodes.dtype}, not scikit-learn's node record"
        inner = np.flatnonzero(nodes["is_leaf"] == 0)
        n, bitsets = len(nodes), getattr(obj, "raw_left_cat_bitsets", np.zeros((0, 8)))
        for side in ("left", "right"):
            child = nodes[side][inner].astype(np.int64)
            if np.any(child <= inner) or np.any(child >= n):
                return f"TreePredictor node {side} children out of range for {n} nodes"
        if np.any(nodes["feature_idx"][inner] < 0):
            return "TreePredictor feature index below 0"
        cat = inner[nodes["is_categorical"][inner] != 0]
        if np.any(nodes["bitset_idx"][cat] >= len(bitsets)):
            return "TreePredictor categorical bitset index out of range"
        return None
    if name == "Tree" and hasattr(obj, "children_left"):
        keys = ("children_left", "children_right", "feature")
        left, right, feature = (np.asarray(getattr(obj, k), np.int64) for k in keys)
        n, inner = len(left), np.flatnonzero(np.asarray(obj.children_left) != -1)
        if not (len(right) == len(feature) == n):
            return "Tree arrays of different lengths"
        if (
            np.any(left[inner] <= inner)
            or np.any(right[inner] <= inner)
            or np.any(left[inner] >= n)
            or np.any(right[inner] >= n)
        ):
            return f"Tree children out of range for {n} nodes"
        if np.any(feature[inner] < 0) or np.any(feature[inner] >= obj.n_features):
            return "Tree feature index out of range"
        return None
    values: list[Any] = []
    if isinstance(obj, dict):
        values = list(obj.values())
    elif isinstance(obj, list | tuple):
        values = list(obj)
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        values = list(obj.ravel())
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("sklearn", "featkit"):
        values = list(vars(obj).values())
    for value in values:
        problem = _tree_problem(value, depth + 1)
        if problem:
            return problem
    n_features = getattr(obj, "n_features_in_", None)
    predictors = getattr(obj, "_predictors", None)
    if n_features is not None and predictors is not None:
        for row in predictors:
            for predictor in row:
                if np.any(predictor.nodes["feature_idx"][predictor.nodes["is_leaf"] == 0] >= n_features):
                    return f"TreePredictor feature index out of range for {n_features} features"
    return None


def predict_file(
    model_path: str | os.PathLike[str], features_path: str | os.PathLike[str], output: str | os.PathLike[str] | None
) -> dict[str, Any]:
    """Apply a saved model to a feature file: one CSV row per clip, with the video's averaged prediction.

    Parameters
    ----------
    model_path : path-like
        A ``.skops`` file from ``featkit classify --save``.
    features_path : path-like
    output : path-like, optional
        CSV to write (columns ``video, clip, label, prediction, video_prediction, proba_<class>…``).

    Returns
    -------
    dict
        ``n_clips``, ``n_videos``, ``output``, and ``accuracy`` / ``video_accuracy`` when the file has labels.

    Raises
    ------
    ModelError
        If the model cannot be loaded or its feature names differ from the file's.

    """
    from featkit.aggregate import predict_by_video
    from featkit.sklearn import load_features, load_videos

    bundle = load_model(model_path)
    X, y, groups, names = load_features(features_path, group_by="video")  # one CSV row per stored path
    if [str(n) for n in names] != bundle["feature_names"]:
        raise ModelError(
            f"The model {os.fspath(model_path)} was trained on {len(bundle['feature_names'])} features "
            f"({bundle['feature_names'][:2]} …); {os.fspath(features_path)} has {len(names)} "
            f"({list(names[:2])} …). Extract with the same encoder and --stats."
        )
    est = bundle["model"]
    pred = est.predict(X)
    ids, vlabels, _ = predict_by_video(est, X, groups)
    by_video = dict(zip(ids.tolist(), vlabels, strict=True))
    paths = load_videos(features_path, as_frame=False).get("path", np.zeros(0, dtype=object))
    proba = est.predict_proba(X) if hasattr(est, "predict_proba") else None
    classes = list(bundle["classes"])
    clip_index = np.zeros(len(groups), dtype=np.int64)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        clip_index[idx] = np.arange(len(idx))
    rows = []
    for i in range(len(groups)):
        row = [paths[groups[i]], int(clip_index[i]), "" if y is None else y[i], pred[i], by_video[int(groups[i])]]
        rows.append(row + ([] if proba is None else [f"{p:.6f}" for p in proba[i]]))
    summary: dict[str, Any] = {"n_clips": len(groups), "n_videos": len(ids), "output": None}
    trained_on = set(json.loads(bundle["info"].get("training_sha256", "[]")))
    digests = load_videos(features_path, as_frame=False).get("sha256", np.zeros(0, dtype=object))
    # Scores on the clips a model was fitted on say nothing about new videos: say so.
    summary["n_training_videos"] = int(sum(str(digests[g]) in trained_on for g in ids))
    if y is not None and np.any(y != ""):
        lab = y != ""
        summary["accuracy"] = float(np.mean(pred[lab] == y[lab]))
    if output is not None:
        from featkit.pipelines._io import atomic_write_csv

        header = ["video", "clip", "label", "prediction", "video_prediction"]
        header += [] if proba is None else [f"proba_{c}" for c in classes]
        summary["output"] = os.fspath(atomic_write_csv(output, header, rows))
    summary["predictions"] = pred
    summary["video_predictions"] = by_video
    return summary
