"""Finding the videos under a folder, and their labels (stdlib only)."""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VIDEO_EXTENSIONS", "Skipped", "VideoFile", "discover_videos", "read_video_list"]

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
        # Containers FFmpeg (decord, PyAV) decodes as well; skipping them silently surprised users.
        ".3g2",
        ".f4v",
        ".m1v",
        ".m2v",
        ".rm",
        ".rmvb",
        ".divx",
        ".dv",
        ".mxf",
        ".nut",
        ".y4m",
        # Animated GIF (TGIF-style datasets): both decoders read it, each frame's delay gives its time;
        # a still GIF is a 1-frame video.
        ".gif",
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


class Skipped(Counter):
    """Files passed over during discovery, counted by reason (a :class:`collections.Counter`).

    Reasons: ``"hidden"``, ``"not a video extension (.txt)"`` (one key per
    extension), ``"excluded by --exclude"``, ``"not matched by --include"``.
    """

    def summary(self) -> str:
        """``"3 not a video extension (.txt), 1 hidden"``, most frequent first; ``""`` when empty."""
        return ", ".join(f"{n} {reason}" for reason, n in self.most_common() if n > 0)


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    """Whether a relative path or its name matches one of the glob patterns."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _skip_reason(rel: str, name: str, include: Sequence[str], exclude: Sequence[str]) -> str | None:
    """Why a file is not taken as a video, or None if it is."""
    if name.startswith("."):
        return "hidden"
    if include and _matches(rel, include):
        return "excluded by --exclude" if exclude and _matches(rel, exclude) else None
    if include:
        return "not matched by --include"
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        return f"not a video extension ({suffix or 'none'})"
    if exclude and _matches(rel, exclude):
        return "excluded by --exclude"
    return None


def discover_videos(
    root: str | os.PathLike[str],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skipped: Skipped | None = None,
    unreadable: list[tuple[str, str]] | None = None,
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
    include : sequence of str, default=()
        Glob patterns (``fnmatch``, matched against the relative path and
        against the file name): when given, exactly the files matching one
        are taken, whatever their extension (e.g. ``"*.bin"``).
    exclude : sequence of str, default=()
        Glob patterns of files to leave out (applied after ``include``).
    skipped : Skipped, optional
        Filled with the files passed over, counted by reason.
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
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_dir, is_link = entry.is_dir(), entry.is_symlink()
            except OSError:
                is_dir = is_link = False
            if is_dir:
                if name.startswith("."):
                    if skipped is not None:
                        skipped["hidden"] += 1
                elif not is_link:  # a link to a folder is not followed (no loops), nor taken as a video
                    stack.append(rel)
                continue
            reason = _skip_reason(rel, name, include, exclude)
            if reason is not None:
                if skipped is not None:
                    skipped[reason] += 1
                continue
            found.append(VideoFile(rel, rel.split("/", 1)[0] if rel_dir else ""))
    found.sort(key=lambda v: v.path)
    return found


def read_video_list(list_file: str | os.PathLike[str]) -> tuple[Path, list[VideoFile], dict[str, str]]:
    """Read a list of videos with optional labels and groups (how UCF-101 and Kinetics splits come).

    A ``.csv`` file has the columns ``path[,label[,group]]``, with or without
    that header (a header may name them in any order). Any other file has one
    video per line, its fields separated by whitespace (``path [label
    [group]]``, as UCF-101's ``trainlist01.txt``). Blank lines and lines
    starting with ``#`` are ignored. Relative paths resolve against the
    list's folder and are stored relative to it; a video without a label gets
    its first-level folder, as under a root folder.

    Parameters
    ----------
    list_file : path-like

    Returns
    -------
    base : Path
        The list's folder (what stored relative paths are relative to).
    files : list of VideoFile
        In the list's order, each path once.
    groups : dict of str to str
        Stored path to the list's group, for the videos that have one.

    Raises
    ------
    ConfigError
        If the list is missing, unreadable, has a line without a path, or names no video.

    """
    import csv

    from featkit.exceptions import ConfigError

    list_path = Path(list_file)
    try:
        text = list_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the video list {os.fspath(list_file)}: {exc}") from exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if list_path.suffix.lower() == ".csv":
        parsed = csv.reader(line for _, line in lines)
        rows = [(n, [c.strip() for c in row]) for (n, _), row in zip(lines, parsed, strict=True)]
    else:
        rows = [(n, line.split()) for n, line in lines]
    columns = ["path", "label", "group"]
    if rows and rows[0][1] and rows[0][1][0].lower() == "path":  # a header row
        columns = [c.lower() for c in rows[0][1]]
        rows = rows[1:]
    base = list_path.resolve().parent
    files: list[VideoFile] = []
    groups: dict[str, str] = {}
    seen: set[str] = set()
    for n, cells in rows:
        fields = dict(zip(columns, cells, strict=False))
        raw = fields.get("path", "")
        if not raw:
            raise ConfigError(f"{os.fspath(list_file)}, line {n}: no video path. Expected path[,label[,group]].")
        full = Path(os.path.expanduser(raw))
        full = full if full.is_absolute() else base / full
        try:
            rel = full.relative_to(base).as_posix()
        except ValueError:
            rel = full.as_posix()  # outside the list's folder: stored as given, absolute
        if rel in seen:
            continue
        seen.add(rel)
        label = fields.get("label") or (rel.split("/")[0] if "/" in rel and not rel.startswith("/") else "")
        files.append(VideoFile(rel, label))
        if fields.get("group"):
            groups[rel] = fields["group"]
    if not files:
        raise ConfigError(f"The video list {os.fspath(list_file)} names no video.")
    return base, files, groups
