"""Finding the videos under a folder, and their labels (stdlib only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VIDEO_EXTENSIONS", "VideoFile", "discover_videos"]

#: File extensions taken as videos (compared case-insensitively).
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".ogv",
        ".ogg",
        ".flv",
        ".wmv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".mts",
        ".3gp",
        ".asf",
        ".vob",
    }
)


@dataclass(frozen=True)
class VideoFile:
    """A video found under the root folder.

    Attributes
    ----------
    path : str
        Path relative to the root, with ``/`` separators (unique within a run).
    label : str
        The first-level subfolder (``root/<label>/...``), or ``""`` for files
        directly in the root.

    """

    path: str
    label: str


def discover_videos(root: str | os.PathLike[str]) -> list[VideoFile]:
    """List the videos under ``root``, recursively, sorted by relative path.

    Hidden files and folders (names starting with ``.``) are skipped, and
    symbolic links to folders are not followed (no loops).

    Parameters
    ----------
    root : path-like
        A folder, or a single video file (then its label is ``""`` and its
        path is its name).

    Returns
    -------
    list of VideoFile

    """
    root = Path(root)
    if root.is_file():
        return [VideoFile(root.name, "")]
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            rel = (rel_dir / name).as_posix()
            label = rel_dir.parts[0] if rel_dir.parts else ""
            found.append(VideoFile(rel, label))
    found.sort(key=lambda v: v.path)
    return found
