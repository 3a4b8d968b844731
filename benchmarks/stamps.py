"""Training frames of objects: Tux Paint's cut-out stamps pasted on photographs and plain colours.

    from benchmarks.stamps import fetch_stamps, stamp_views

The corpus and the bundled photographs are scenery and texture; a teacher that
names objects has little to teach on them. Debian's ``tuxpaint-stamps-default``
(GPL-2, pinned by version and sha256, fetched with ``apt-get download``) holds
about 800 PNG cut-outs with alpha (photos and clip art of animals, food,
vehicles, plants, tools ...). Each training view pastes one or two of them,
at a random size, place, turn and mirror, on a view of a photograph or on a
plain colour. Only the teacher labels these frames (no class is used).

Two categories are left out so that no evaluation sees its own kind in
training: ``symbols`` (letters, digits, signs: the held-out digit probe and
the MNIST task) and ``clothes`` (the Fashion-MNIST task).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

#: The pinned Debian package: (name, version, sha256 of the .deb).
STAMPS_DEB = (
    "tuxpaint-stamps-default",
    "2022.06.04-1",
    "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34",
)
#: Top-level stamp categories kept out of training (see the module docstring).
LEFT_OUT = ("symbols", "clothes")
#: Longest side a stamp is kept at in memory (views are 64 x 64).
KEEP_SIDE = 160


def fetch_stamps(root: Path) -> dict[str, Any]:
    """Download, check and unpack the stamps once under ``root/stamps``.

    Returns
    -------
    dict
        ``{"package", "deb_sha256", "paths": [...], "left_out": [...]}``, the
        PNG paths sorted, those under :data:`LEFT_OUT` removed.

    Raises
    ------
    RuntimeError
        If the downloaded package's sha256 is not the pinned one.

    """
    name, version, sha = STAMPS_DEB
    folder = root / "stamps"
    images = folder / "x" / "usr" / "share" / "tuxpaint" / "stamps"
    debs = sorted(folder.glob(f"{name}_*.deb"))
    if not debs:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)  # apt's unprivileged user writes here
        subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=folder, check=True, capture_output=True)
        debs = sorted(folder.glob(f"{name}_*.deb"))
    got = hashlib.sha256(debs[0].read_bytes()).hexdigest()
    if got != sha:
        raise RuntimeError(f"{debs[0]}: sha256 {got}, expected {sha} ({name}={version})")
    if not images.exists():
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(folder / "x")], check=True)
    paths = sorted(p for p in images.rglob("*.png") if p.relative_to(images).parts[0] not in LEFT_OUT)
    return {"package": f"{name}={version}", "deb_sha256": sha, "paths": [str(p) for p in paths],
            "left_out": list(LEFT_OUT)}  # fmt: skip


def _load(path: str) -> Any:
    """A stamp as RGBA, cropped to its visible part, its longest side at most :data:`KEEP_SIDE`."""
    from PIL import Image

    im = Image.open(path).convert("RGBA")
    box = im.getchannel("A").getbbox()
    if box:
        im = im.crop(box)
    im.thumbnail((KEEP_SIDE, KEEP_SIDE), Image.LANCZOS)
    return im


def stamp_views(paths: list[str], n: int, size: int, seed: int, backgrounds: np.ndarray) -> np.ndarray:
    """``n`` frames of ``size`` x ``size``: one stamp (two a third of the time) on a background.

    The background is a random frame of ``backgrounds`` half of the time,
    otherwise a plain random colour. Each stamp's longest side is 30-100 % of
    the frame (log-uniform), its centre anywhere in the middle 80 % of it,
    turned by up to ±25° half of the time and mirrored half of the time.
    """
    from PIL import Image

    rng = np.random.default_rng([seed, 5])
    stamps = [_load(p) for p in paths]
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        if rng.random() < 0.5:
            canvas = Image.fromarray(backgrounds[rng.integers(len(backgrounds))])
        else:
            canvas = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 256, 3)))
        for _ in range(2 if rng.random() < 1 / 3 else 1):
            im = stamps[rng.integers(len(stamps))]
            if rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            if rng.random() < 0.5:
                im = im.rotate(float(rng.uniform(-25, 25)), resample=Image.BILINEAR, expand=True)
            side = size * float(np.exp(rng.uniform(np.log(0.3), 0.0)))
            scale = side / max(im.size)
            im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.LANCZOS)
            cx, cy = rng.uniform(0.1 * size, 0.9 * size, 2)
            canvas.paste(im, (round(cx - im.size[0] / 2), round(cy - im.size[1] / 2)), im)
        out[k] = np.asarray(canvas)
    return out
