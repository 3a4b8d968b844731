"""The HDF5 feature store: the layout spec, crash-safe writing and reading (the only h5py imports).

Layout (``layout_version`` 1; each table versioned on its own, see
:mod:`featkit.store.layout`; documented in the README)::

    /                       attrs: featkit_layout="featkit.features", layout_version=1,
                                   featkit_version, created, updated, encoder (JSON),
                                   sampling (JSON), stats (JSON), decoder,
                                   roots (JSON list of the input folders)
    /features               float32 (n_clips, n_features), chunked
    /feature_names          str (n_features,)
    /clips/{video_id, start_frame, end_frame, start_time, end_time, n_frames}
    /videos/{path, label, sha256, size, mtime_ns, fps, n_frames, duration,
             width, height, timestamp_source, backend, group, clip_offset, clip_count}
    /failures/{path, reason, message, attempts, size, mtime_ns, time}
    /frames/{video_id, frame_index, time, mu, logvar}   only with --per-frame: every sampled
                            frame's posterior, rows grouped by video (CSR style by video_id)

Clips of video ``i`` are rows ``clip_offset[i] : clip_offset[i] + clip_count[i]``
of ``/features`` and ``/clips`` (CSR style), in the order videos were committed.

Modules: :mod:`~featkit.store.records` (what workers send: no h5py),
:mod:`~featkit.store.layout` (table specs, migrations), :mod:`~featkit.store.validate`
(checks, opening to read), :mod:`~featkit.store.precheck`, :mod:`~featkit.store.journal`,
:mod:`~featkit.store.guarded`, :mod:`~featkit.store.commit`, :mod:`~featkit.store.writer`
(:class:`FeatureStore`) and :mod:`~featkit.store.reader` (``load_features`` and friends).
Names are imported on first use, so ``featkit.store.records`` and the reader stay free of h5py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featkit.files import sha256_of
    from featkit.store.layout import (
        LAYOUT_NAME,
        LAYOUT_VERSION,
        read_table,
    )
    from featkit.store.precheck import precheck_output
    from featkit.store.records import FailureRecord, VideoResult, storable_text
    from featkit.store.validate import open_feature_file, validate_file
    from featkit.store.writer import FeatureStore

__all__ = [
    "LAYOUT_NAME",
    "LAYOUT_VERSION",
    "FailureRecord",
    "FeatureStore",
    "VideoResult",
    "open_feature_file",
    "precheck_output",
    "read_table",
    "sha256_of",
    "storable_text",
    "validate_file",
]

_HOMES = {
    "LAYOUT_NAME": "featkit.store.layout",
    "LAYOUT_VERSION": "featkit.store.layout",
    "CLIP_FIELDS": "featkit.store.layout",
    "VIDEO_FIELDS": "featkit.store.layout",
    "FAILURE_FIELDS": "featkit.store.layout",
    "FRAME_FIELDS": "featkit.store.layout",
    "read_table": "featkit.store.layout",
    "check_layout": "featkit.store.validate",
    "open_feature_file": "featkit.store.validate",
    "validate_file": "featkit.store.validate",
    "precheck_output": "featkit.store.precheck",
    "FailureRecord": "featkit.store.records",
    "VideoResult": "featkit.store.records",
    "bad_name_failure": "featkit.store.records",
    "storable_text": "featkit.store.records",
    "FeatureStore": "featkit.store.writer",
    "sha256_of": "featkit.files",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'featkit.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
