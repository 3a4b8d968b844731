"""Recipes on featkit features, to import or copy: grouped-CV classification and clustering.

- :mod:`featkit.pipelines.classify`: scaler + logistic regression / linear SVM / gradient boosting,
  cross-validated by video, with a JSON report, a confusion matrix PNG, and a skops model.
- :mod:`featkit.pipelines.cluster`: KMeans, Gaussian mixture, agglomerative or HDBSCAN clustering,
  with NMI/ARI or silhouette, and cluster assignments per clip and per video.

Outputs are written to temporary files and renamed, after every input check has passed.
"""

from featkit.pipelines._io import atomic_write_bytes, atomic_write_text
from featkit.pipelines.classify import (
    load_model,
    make_classifier,
    make_cv,
    predict_file,
    run_classification,
    save_model,
)
from featkit.pipelines.cluster import make_clusterer, run_clustering

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "load_model",
    "make_classifier",
    "make_clusterer",
    "make_cv",
    "predict_file",
    "run_classification",
    "run_clustering",
    "save_model",
]
