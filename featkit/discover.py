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


def discover_videos(
    root: str | os.PathLike[str], *, unreadable: list[tuple[str, str]] | None = None
) -> list[VideoFile]:
    """List the videos under ``root``, recursively, sorted by relative path.

    Hidden files and folders (names starting with ``.``) are skipped, and
    symbolic links to folders are not followed (no loops). The walk is
    iterative, so folder depth is not limited by Python's recursion limit.

    Parameters
    ----------
    root : path-like
        A folder, or a single video file (then its label is ``""`` and its
        path is its name).
    unreadable : list, optional
        Receives ``(folder, message)`` for each folder that could not be
        listed (``folder`` relative to the root, ``""`` for the root itself),
        so a caller can tell "cannot see" from "gone".

    Returns
    -------
    list of VideoFile

    """
    root = Path(root)
    if root.is_file():
        return [VideoFile(root.name, "")]
    found = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as it:
                entries = list(it)
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((rel_dir, f"{type(exc).__name__}: {exc.strerror or exc}"))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_dir, is_link = entry.is_dir(), entry.is_symlink()
            except OSError:
                is_dir = is_link = False
            if is_dir:
                if not is_link:  # a link to a folder is not followed (no loops), nor taken as a video
                    stack.append(rel)
            elif Path(name).suffix.lower() in VIDEO_EXTENSIONS:
                found.append(VideoFile(rel, rel.split("/", 1)[0] if rel_dir else ""))
    found.sort(key=lambda v: v.path)
    return found
