"""Pilot for the moonshot: what sparse sampling can skip decoding, and at what frame error.

    python benchmarks/pilot_sparse_decode.py    # writes benchmarks/results/bench_pilot_sparse_decode.json

At featkit's default 8 samples per second of a 24-30 fps source, two frames in
three are decoded only to be dropped. Candidates, each timed against decoding
every frame with the same decoder (PyAV, FFmpeg's H.264), interleaved
``--repeats`` times, at 1 and 2 decoder threads:

* ``skip_nonref``: before each packet, FFmpeg is told to skip it when it is not
  a reference frame and no clip needs it (``skip_frame = NONREF`` for that
  packet only). A non-reference frame is by definition never used to predict
  another, so the frames kept must be bit-identical to the full decode; the
  pilot checks that on every sampled frame;
* ``skip_loop_filter``: the deblocking filter turned off for every frame
  (``skip_loop_filter = all``): faster, but every frame differs, and the error
  travels along the prediction chain until the next keyframe;
* both together.

Reported per corpus H.264 file: time of each candidate over the full decode
(speed-up), frames kept and missing, and the mean absolute error of the kept
sampled frames against the full decode (grey levels at full size). Nothing
here is used by ``featkit extract`` yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import cached_corpus_video  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write  # noqa: E402

VIDEOS = ("bbb_trailer", "bikes", "cockatoo", "robot_mp4")
#: Candidate -> (codec options, skip non-reference frames no clip needs).
CANDIDATES: dict[str, tuple[dict[str, str] | None, bool]] = {
    "full": (None, False),
    "skip_nonref": (None, True),
    "skip_loop_filter": ({"skip_loop_filter": "all"}, False),
    "both": ({"skip_loop_filter": "all"}, True),
}


def _stream_info(path: Path) -> dict[str, Any]:
    """Codec, size, frame rate and the sorted packet timestamps of the first video stream (one demux pass)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "codec": stream.codec_context.name,
            "size": [stream.width, stream.height],
            "fps": float(stream.average_rate or 0),
            "pts": sorted(p.pts for p in container.demux(stream) if p.size and p.pts is not None),
        }


def decode_sampled(
    path: Path, wanted: set[int], *, options: dict[str, str] | None, skip_nonref: bool, threads: int
) -> tuple[float, dict[int, np.ndarray]]:
    """Decode the video, keeping the grey frames whose timestamps are ``wanted``; the wall time and the frames."""
    import av

    t0 = time.perf_counter()
    kept: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_count = threads
        if threads > 1:
            stream.thread_type = "FRAME"
        if options:
            ctx.options = options
        for packet in container.demux(stream):
            if skip_nonref:
                # Read when this packet is decoded: a needed frame is always decoded in full.
                ctx.skip_frame = "DEFAULT" if packet.pts in wanted else "NONREF"
            for frame in packet.decode():
                if frame.pts in wanted:
                    kept[frame.pts] = frame.to_ndarray(format="gray")
    return time.perf_counter() - t0, kept


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.perf_counter()
    files: dict[str, Any] = {}
    for video_id in args.videos:
        found = cached_corpus_video(video_id, fetch=True)
        if found is None:
            files[video_id] = {"skipped": "not in the corpus cache"}
            continue
        path, _ = found
        info = _stream_info(path)
        times, fps = info.pop("pts"), info["fps"]
        step = max(1, round(fps / args.fps)) if fps else 3
        wanted = set(times[::step])
        entry: dict[str, Any] = {**info, "frames": len(times), "sampled": len(wanted)}
        for threads in (1, 2):
            walls: dict[str, list[float]] = {k: [] for k in CANDIDATES}
            quality: dict[str, Any] = {}
            reference: dict[int, np.ndarray] = {}
            for r in range(args.repeats):
                for name, (options, skip) in CANDIDATES.items():
                    wall, kept = decode_sampled(path, wanted, options=options, skip_nonref=skip, threads=threads)
                    walls[name].append(wall)
                    if r == 0 and name == "full":
                        reference = kept
                    elif r == 0:
                        common = sorted(set(kept) & set(reference))
                        err = [np.abs(kept[k].astype(np.float64) - reference[k]).mean() for k in common]
                        quality[name] = {
                            "kept": len(kept),
                            "missing": len(wanted - set(kept)),
                            "identical": bool(all(np.array_equal(kept[k], reference[k]) for k in common)),
                            "mean_abs_error_grey": float(np.mean(err)) if err else None,
                            "max_frame_error_grey": float(np.max(err)) if err else None,
                        }
            med = {k: float(np.median(v)) for k, v in walls.items()}
            entry[f"threads_{threads}"] = {
                "wall_s": {k: {"median": med[k], "all": v} for k, v in walls.items()},
                "speedup_over_full": {k: round(med["full"] / med[k], 3) for k in CANDIDATES if k != "full"},
                "frames": quality,
            }
        files[video_id] = entry
        print(video_id, json.dumps({t: files[video_id][t]["speedup_over_full"] for t in ("threads_1", "threads_2")}))
    return {
        "protocol": f"PyAV decode of each corpus H.264 file, frames wanted every {args.fps:g} per second; "
        f"{args.repeats} interleaved repeats, median wall time; errors against the full decode",
        "files": files,
        "total_s": time.perf_counter() - t_start,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", nargs="+", default=list(VIDEOS), help="corpus ids")
    ap.add_argument("--fps", type=float, default=8.0, help="sampled frames per second (8)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out-dir", dest="out", default=str(RESULTS_DIR))
    args = ap.parse_args(argv)
    if args.quick:
        args.videos, args.repeats = args.videos[1:2], 1
    path, _ = run_and_write(args, "pilot_sparse_decode", run)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
