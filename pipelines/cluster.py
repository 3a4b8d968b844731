"""Clustering recipe: standardised clip features, clustered; scored against labels when there are any.

``featkit cluster features.h5 -o out/`` runs :func:`run_clustering`: it writes
``report.json`` (NMI and ARI per clip and per video when labels exist, the
silhouette score otherwise too), ``clusters_clips.csv``, ``clusters_videos.csv``
(each video's most frequent cluster among its clips) and ``clusters.png`` (a
2-D PCA projection coloured by cluster).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Options, validate_params
from featkit.exceptions import ConfigError, InsufficientDataError

__all__ = ["METHODS", "make_clusterer", "run_clustering"]

METHODS = ("kmeans", "gmm", "agglomerative", "hdbscan")


def make_clusterer(
    method: str = "kmeans", n_clusters: int = 3, *, random_state: int = 0, min_cluster_size: int = 5
) -> Any:
    """Build a clusterer; every one has ``fit_predict``.

    Parameters
    ----------
    method : {"kmeans", "gmm", "agglomerative", "hdbscan"}, default="kmeans"
    n_clusters : int, default=3
        Ignored by HDBSCAN, which finds the number itself (noise is cluster -1).
    random_state : int, default=0
    min_cluster_size : int, default=5
        HDBSCAN's smallest cluster.

    Returns
    -------
    estimator

    """
    validate_params("make_clusterer", {"method": [Options(METHODS)]}, {"method": method})
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state)
    if method == "gmm":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(n_components=n_clusters, covariance_type="diag", random_state=random_state)
    if method == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward")
    from sklearn.cluster import HDBSCAN  # the last of METHODS

    return HDBSCAN(min_cluster_size=min_cluster_size, copy=True)


def _majority(labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.unique(groups)
    out = np.empty(len(ids), dtype=labels.dtype)
    for k, g in enumerate(ids):
        vals, counts = np.unique(labels[groups == g], return_counts=True)
        out[k] = vals[np.argmax(counts)]  # ties: the smallest cluster id
    return ids, out


def run_clustering(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str] | None = None,
    *,
    method: str = "kmeans",
    n_clusters: int | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Cluster the clips of a feature file and write assignments, a report and a figure.

    Parameters
    ----------
    path : path-like
    outdir : path-like, optional
        Nothing is written when ``None``.
    method : {"kmeans", "gmm", "agglomerative", "hdbscan"}, default="kmeans"
    n_clusters : int, optional
        Default: the number of labels when the file has at least two, else 3.
    random_state : int, default=0

    Returns
    -------
    dict
        The report: settings, ``n_clusters_found``, ``clip`` / ``video`` scores, and
        the ``clip_clusters`` / ``video_clusters`` arrays.

    Raises
    ------
    ConfigError, InsufficientDataError, StoreError, LayoutError
        Checked before anything is written.

    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
    from sklearn.preprocessing import StandardScaler

    from featkit.sklearn import load_features, load_videos

    validate_params("run_clustering", {"method": [Options(METHODS)]}, {"method": method})
    X, y, groups, _ = load_features(path, group_by="video")  # per-video rows name each stored path
    labelled = y is not None and len(set(y) - {""}) >= 2
    if n_clusters is None:
        n_clusters = len(set(y) - {""}) if labelled else 3
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2:
        raise ConfigError(f"The number of clusters must be an integer >= 2. Got {n_clusters!r} instead.")
    if X.shape[0] < max(n_clusters, 2) + 1:
        raise InsufficientDataError(
            f"Clustering into {n_clusters} clusters needs more than {n_clusters} clips; "
            f"{os.fspath(path)} has {X.shape[0]}."
        )
    Xs = StandardScaler().fit_transform(X.astype(np.float64))
    est = make_clusterer(method, n_clusters, random_state=random_state, min_cluster_size=max(2, min(5, len(X) // 10)))
    from featkit.pipelines.classify import _openmp_guard

    with _openmp_guard():
        clip_clusters = np.asarray(est.fit_predict(Xs), dtype=np.int64)
    vids, video_clusters = _majority(clip_clusters, groups)
    paths = load_videos(path, as_frame=False).get("path", np.zeros(0, dtype=object))
    found = sorted(set(clip_clusters.tolist()) - {-1})
    report: dict[str, Any] = {
        "features": os.fspath(path),
        "method": method,
        "n_clusters": int(n_clusters) if method != "hdbscan" else None,
        "n_clusters_found": len(found),
        "n_noise_clips": int(np.sum(clip_clusters == -1)),
        "n_clips": int(X.shape[0]),
        "n_videos": len(vids),
        "clip": {},
        "video": {},
        "files": {},
    }
    if 2 <= len(set(clip_clusters.tolist())) < len(X):
        report["clip"]["silhouette"] = float(silhouette_score(Xs, clip_clusters))
    if labelled:
        lab = y != ""
        _, yv = _majority(y, groups)
        vlab = yv != ""
        report["clip"]["nmi"] = float(normalized_mutual_info_score(y[lab], clip_clusters[lab]))
        report["clip"]["ari"] = float(adjusted_rand_score(y[lab], clip_clusters[lab]))
        report["video"]["nmi"] = float(normalized_mutual_info_score(yv[vlab], video_clusters[vlab]))
        report["video"]["ari"] = float(adjusted_rand_score(yv[vlab], video_clusters[vlab]))
    if outdir is not None:
        from featkit.pipelines._io import atomic_write_bytes, atomic_write_csv, atomic_write_json

        out = Path(outdir)
        ylist = [""] * len(groups) if y is None else list(y)
        clip_index = np.zeros(len(groups), dtype=np.int64)
        for g in vids:
            idx = np.flatnonzero(groups == g)
            clip_index[idx] = np.arange(len(idx))
        png = _scatter_png(Xs, clip_clusters, method, y)
        files = {
            "clusters_clips.csv": lambda p: atomic_write_csv(
                p,
                ["video", "clip", "label", "cluster"],
                (
                    [paths[g], int(c), lab, int(k)]
                    for g, c, lab, k in zip(groups, clip_index, ylist, clip_clusters, strict=True)
                ),
            ),
            "clusters_videos.csv": lambda p: atomic_write_csv(
                p,
                ["video", "label", "cluster", "n_clips"],
                (
                    [paths[g], "" if y is None else y[groups == g][0], int(k), int(np.sum(groups == g))]
                    for g, k in zip(vids, video_clusters, strict=True)
                ),
            ),
            "clusters.png": lambda p: atomic_write_bytes(p, png),
        }
        for name, write in files.items():
            report["files"][name] = os.fspath(write(out / name))
        report["files"]["report.json"] = os.fspath(out / "report.json")
        atomic_write_json(out / "report.json", report)
    report["clip_clusters"] = clip_clusters
    report["video_clusters"] = dict(zip(vids.tolist(), video_clusters.tolist(), strict=True))
    return report


def _scatter_png(Xs: np.ndarray, clusters: np.ndarray, title: str, labels: np.ndarray | None = None) -> bytes:
    from featkit.pipelines._io import figure_png

    return figure_png(clusters_figure(Xs, clusters, title, labels))


def clusters_figure(Xs: np.ndarray, clusters: np.ndarray, title: str, labels: np.ndarray | None = None) -> Any:
    """The clips on their first two principal components, coloured by cluster and, beside, by known label.

    Parameters
    ----------
    Xs : ndarray of shape (n_clips, n_features)
        Standardised features.
    clusters : ndarray of shape (n_clips,), int
        Cluster of each clip (-1: noise).
    title : str
    labels : ndarray of shape (n_clips,), str, optional
        Known labels; without any, only the cluster panel is drawn.

    Returns
    -------
    matplotlib.figure.Figure

    """
    from sklearn.decomposition import PCA

    from featkit.pipelines._io import pyplot

    plt = pyplot()
    xy = PCA(n_components=2, random_state=0).fit_transform(Xs) if Xs.shape[1] >= 2 else np.c_[Xs, np.zeros(len(Xs))]
    known = labels is not None and any(lab != "" for lab in labels)
    fig, axes = plt.subplots(1, 2 if known else 1, figsize=(10 if known else 5, 4), squeeze=False)
    ax = axes[0, 0]
    for k in sorted(set(clusters.tolist())):
        m = clusters == k
        name, colour = ("noise", "lightgrey") if k == -1 else (f"cluster {k}", None)
        ax.scatter(xy[m, 0], xy[m, 1], s=18, label=name, c=colour)
    ax.legend(title="cluster", loc="best", fontsize=7)
    ax.set_title(f"{title}: clusters found")
    if known:
        ax = axes[0, 1]
        names = np.asarray(labels, dtype=object)
        for name in sorted(set(names.tolist())):
            m = names == name
            ax.scatter(xy[m, 0], xy[m, 1], s=18, label=name or "(no label)", marker="s")
        ax.legend(title="label", loc="best", fontsize=7)
        ax.set_title("same clips: known labels")
    for ax in axes[0]:
        ax.set_xlabel("principal component 1 (standardised features)")
        ax.set_ylabel("principal component 2")
    fig.suptitle(f"{len(xy)} clips", fontsize=9)
    return fig
