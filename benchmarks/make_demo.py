"""Cut fetched real videos into a small labelled demo: ``<cache>/labelled/<source>/<source>_<k>.mp4``.

The README's first command fetches three real videos (``fetch_corpus.py
--cache demo --only bikes cockatoo vtest``) and runs this script, so that
``featkit extract demo/labelled -o features.h5`` gives a file with labels
(folders as labels: which source a segment comes from) and enough videos per
label for every snippet of the README (``GroupKFold(5)``,
``featkit classify``) to run as written. Each source becomes ``--segments``
consecutive pieces (6) of equal length over its first ``--seconds`` (24 s),
scaled to ``--width`` (320) pixels and written as H.264 with PyAV, in a few
seconds and offline.

    python benchmarks/make_demo.py demo            # reads demo/videos, writes demo/labelled
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

__all__ = ["cut_into_segments", "main", "make_labelled_demo"]

#: The demo's sources (ids of ``fetch_corpus.py``).
DEMO_SOURCES = ("bikes", "cockatoo", "vtest")


def cut_into_segments(
    source: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    segments: int = 6,
    seconds: float = 24.0,
    width: int = 320,
) -> list[Path]:
    """Write ``segments`` consecutive equal pieces of a video's first ``seconds`` as H.264 files.

    Parameters
    ----------
    source : path-like
        Any video PyAV decodes.
    outdir : path-like
        Folder for ``<stem>_<k>.mp4`` (created).
    segments : int, default=6
    seconds : float, default=24.0
        Only this much of the start of the video is used (all of a shorter one).
    width : int, default=320
        Output width in pixels (height keeps the aspect ratio; both even).

    Returns
    -------
    list of Path
        The files written, in order.

    """
    import av

    src = Path(source)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        duration = float(container.duration / av.time_base) if container.duration else seconds
        frames = []
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else len(frames) / float(rate)
            if t >= min(seconds, duration):
                break
            frames.append(frame)
        if not frames:
            raise ValueError(f"{src} has no decodable frames")
        height = max(2, round(frames[0].height * width / frames[0].width / 2) * 2)
        images = [f.reformat(width=width, height=height, format="rgb24").to_ndarray() for f in frames]
    per = max(1, len(images) // segments)
    written = []
    for k in range(segments):
        part = images[k * per : (k + 1) * per] if k < segments - 1 else images[k * per :]
        if not part:
            break
        path = out / f"{src.stem}_{k}.mp4"
        tmp = path.with_name(f".{path.name}.tmp.mp4")
        with av.open(str(tmp), "w") as dst:
            vs = dst.add_stream("libx264", rate=rate)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"preset": "veryfast", "crf": "26", "mbtree": "0"}  # mbtree: bytes varied run to run
            for image in part:
                dst.mux(vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            dst.mux(vs.encode(None))
        os.replace(tmp, path)
        written.append(path)
    return written


def make_labelled_demo(
    cache: str | os.PathLike[str], *, segments: int = 6, seconds: float = 24.0, width: int = 320
) -> Path:
    """Cut each demo source under ``<cache>/videos`` into ``<cache>/labelled/<source>/``; return that folder.

    Raises
    ------
    FileNotFoundError
        If no demo source is in the cache (run ``fetch_corpus.py --cache CACHE --only ...`` first).

    """
    cache = Path(cache)
    videos = cache / "videos"
    found = {p.stem: p for p in sorted(videos.glob("*")) if p.stem in DEMO_SOURCES} if videos.is_dir() else {}
    if not found:
        raise FileNotFoundError(
            f"No demo video under {videos}; run `python benchmarks/fetch_corpus.py --cache {cache} "
            f"--only {' '.join(DEMO_SOURCES)}` first."
        )
    root = cache / "labelled"
    for name, path in found.items():
        cut_into_segments(path, root / name, segments=segments, seconds=seconds, width=width)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python benchmarks/make_demo.py CACHE``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("cache", help="the --cache folder of fetch_corpus.py (holds videos/)")
    parser.add_argument("--segments", type=int, default=6, help="videos per label (6)")
    parser.add_argument("--seconds", type=float, default=24.0, help="seconds of each source used (24)")
    args = parser.parse_args(argv)
    try:
        root = make_labelled_demo(args.cache, segments=args.segments, seconds=args.seconds)
    except (FileNotFoundError, ValueError) as exc:
        print(f"make_demo: error: {exc}", file=sys.stderr)
        return 2
    n = sum(1 for _ in root.rglob("*.mp4"))
    print(f"wrote {n} labelled videos under {root} (folders as labels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
