"""Reading feature files for scikit-learn: the public home of :func:`load_features` and friends.

The reader lives beside the writer, in :mod:`featkit.store.reader`; this
module re-exports it so ``featkit.sklearn.load_features`` (the documented
path) keeps working. Importing it stays light (no h5py until a file is read).
"""

from __future__ import annotations

from featkit.store.reader import (
    Features,
    FrameLatents,
    content_groups,
    load_features,
    load_frames,
    load_videos,
)

__all__ = ["Features", "FrameLatents", "content_groups", "load_features", "load_frames", "load_videos"]
