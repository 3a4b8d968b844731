"""Anomaly recipe: fit :class:`featkit.ClipAnomalyDetector` on normal videos, score other feature files.

``featkit anomaly fit NORMAL.h5 -o detector.skops`` and ``featkit anomaly score
detector.skops OUT.h5 [-o scores.csv]`` call :func:`fit_detector` and
:func:`score_file`. The model file is the skops bundle of
:func:`featkit.pipelines.classify.dump_model_bytes` (feature names travel with it, and
only trusted types are ever loaded); a file of another feature layout is
refused before anything is scored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from featkit.exceptions import InsufficientDataError, ModelError
from featkit.pipelines.classify import dump_model_bytes, load_model

__all__ = ["DETECTOR_KIND", "fit_detector", "score_file"]

#: ``info["kind"]`` of a detector bundle, telling it apart from a classifier saved by ``featkit classify``.
DETECTOR_KIND = "anomaly_detector"


def fit_detector(
    features_path: str | os.PathLike[str], output: str | os.PathLike[str], **params: Any
) -> dict[str, Any]:
    """Fit a detector on every clip of a feature file of normal videos and save it with skops.

    Parameters
    ----------
    features_path : path-like
        HDF5 file from ``featkit extract`` holding only normal videos.
    output : path-like
        ``.skops`` file to write (atomically).
    **params
        Parameters of :class:`featkit.ClipAnomalyDetector`.

    Returns
    -------
    dict
        ``n_clips``, ``n_videos``, ``offset``, ``params``, the scored ``columns`` and ``output``.

    """
    from featkit.detection import ClipAnomalyDetector
    from featkit.pipelines._io import atomic_write_bytes
    from featkit.sklearn import load_features

    X, _, groups, names = load_features(features_path)
    if len(X) < 2:
        raise InsufficientDataError(
            f"{os.fspath(features_path)} holds {len(X)} clip(s); a detector needs at least 2 clips of normal videos "
            "(more videos give a steadier threshold)."
        )
    # The detector finds its columns (the quality statistics by default) by name.
    det = ClipAnomalyDetector(**{"feature_names": [str(n) for n in names], **params}).fit(X, groups=groups)
    data = dump_model_bytes(
        det, names, [], kind=DETECTOR_KIND, trained_on=os.path.abspath(features_path), n_clips=len(X)
    )
    path = atomic_write_bytes(output, data)
    return {
        "n_clips": len(X),
        "n_videos": len(np.unique(groups)),
        "offset": det.offset_,
        "params": {k: v for k, v in det.get_params().items() if k != "feature_names"},
        "columns": [str(names[i]) for i in det.columns_],
        "output": os.fspath(path),
    }


def score_file(
    model_path: str | os.PathLike[str],
    features_path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score every clip of a feature file; write a per-clip CSV and a per-video CSV beside it.

    Parameters
    ----------
    model_path : path-like
        ``.skops`` file from :func:`fit_detector`.
    features_path : path-like
        HDF5 file from ``featkit extract`` (same encoder and statistics as the normal file).
    output : path-like, optional
        Per-clip CSV (``video, clip, start_time, end_time, score, decision, anomalous``); the per-video
        CSV (``video, n_clips, mean_score, min_score, anomalous_clips, anomalous``) goes to
        ``<stem>_videos.csv`` beside it. A video counts as anomalous when its mean score is below
        the detector's threshold.

    Returns
    -------
    dict
        ``n_clips``, ``n_videos``, ``n_anomalous_clips``, ``n_anomalous_videos``, ``scores`` (per clip),
        ``video_scores`` (video id -> mean score) and the written ``files``.

    Raises
    ------
    ModelError
        If the model is not a featkit detector, or its feature names differ from the file's.

    """
    from featkit.pipelines._io import atomic_write_csv
    from featkit.sklearn import load_features, load_videos
    from featkit.store import open_feature_file, read_table

    bundle = load_model(model_path)
    if bundle.get("info", {}).get("kind") != DETECTOR_KIND:
        raise ModelError(
            f"{os.fspath(model_path)} is a featkit model but not an anomaly detector (it was saved by "
            "`featkit classify`); fit one with `featkit anomaly fit NORMAL.h5 -o detector.skops`."
        )
    X, _, groups, names = load_features(features_path)
    if [str(n) for n in names] != bundle["feature_names"]:
        raise ModelError(
            f"The detector {os.fspath(model_path)} was fitted on {len(bundle['feature_names'])} features "
            f"({', '.join(bundle['feature_names'][:3])} …); {os.fspath(features_path)} has {len(names)} "
            f"({', '.join(map(str, names[:3]))} …). Extract both files with the same encoder and --stats."
        )
    det = bundle["model"]
    score = det.score_samples(X)
    decision = score - det.offset_
    paths = np.asarray(load_videos(features_path).get("path", np.zeros(0, dtype=object)))
    with open_feature_file(features_path) as f:  # every clip is loaded, so its rows align with X
        clips = read_table(f, "clips")
    clip_index = np.zeros(len(groups), dtype=np.int64)
    ids = np.unique(groups)
    video_rows, video_scores = [], {}
    for g in ids:
        idx = np.flatnonzero(groups == g)
        clip_index[idx] = np.arange(len(idx))
        mean = float(score[idx].mean())
        video_scores[int(g)] = mean
        video_rows.append(
            [
                paths[g],
                len(idx),
                f"{mean:.6f}",
                f"{score[idx].min():.6f}",
                int((decision[idx] < 0).sum()),
                int(mean < det.offset_),
            ]
        )
    summary: dict[str, Any] = {
        "n_clips": len(X),
        "n_videos": len(ids),
        "n_anomalous_clips": int((decision < 0).sum()),
        "n_anomalous_videos": int(sum(r[-1] for r in video_rows)),
        "scores": score,
        "video_scores": video_scores,
        "files": {},
    }
    if output is not None:
        rows = [
            [
                paths[groups[i]],
                int(clip_index[i]),
                f"{clips['start_time'][i]:.6f}",
                f"{clips['end_time'][i]:.6f}",
                f"{score[i]:.6f}",
                f"{decision[i]:.6f}",
                int(decision[i] < 0),
            ]
            for i in range(len(X))
        ]
        header = ["video", "clip", "start_time", "end_time", "score", "decision", "anomalous"]
        out = Path(output)
        summary["files"]["clips"] = os.fspath(atomic_write_csv(out, header, rows))
        vheader = ["video", "n_clips", "mean_score", "min_score", "anomalous_clips", "anomalous"]
        vpath = out.with_name(f"{out.stem}_videos{out.suffix or '.csv'}")
        summary["files"]["videos"] = os.fspath(atomic_write_csv(vpath, vheader, video_rows))
    return summary
