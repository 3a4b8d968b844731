"""Extraction throughput against the decode limit, on a real 720p video, in one run.

    python benchmarks/bench_extract.py [--video ID] [--repeats 3] [--quick]

Measures, for the same sampled frames of the same file:

* ``decode``: open + timestamps + decode of exactly the frames the clips need
  (the featkit reader alone: the floor any extractor must pay);
* ``extract``: the full ``featkit.extract`` (decode in a prefetch thread,
  encode with the default VAE, statistics, HDF5 commit), encoder already loaded;
* ``encode``: the encoder alone on those frames.

It reports the ratio ``decode_time / extract_time`` (target >= 0.9: the encoder
and the writes must not be the bottleneck), the medians of ``--repeats`` runs,
and writes ``benchmarks/results/bench_extract.json`` with machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.fetch_corpus import corpus_dir, fetch_corpus  # noqa: E402


def _decode_only(path: Path, size: int, sampling) -> int:
    from featkit.io.sampling import plan_clips
    from featkit.io.video import DecordReader

    reader = DecordReader(path, size)
    plan = plan_clips(reader.info.starts, reader.info.end, sampling)
    return len(reader.read(plan.needed_frames()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default="bbb_trailer", help="corpus id of a 720p video (default bbb_trailer)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat on the short cockatoo clip")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_extract.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.video, args.repeats = "cockatoo", 1

    import decord
    import h5py
    import keras
    import tensorflow as tf

    from featkit import ExtractionConfig, __version__
    from featkit.encoders import load_encoder
    from featkit.extract import extract

    manifest = fetch_corpus(only=[args.video])
    meta = next(v for v in manifest["videos"] if v["id"] == args.video)
    video = corpus_dir() / meta["path"]
    config = ExtractionConfig()
    t = time.perf_counter()
    encoder = load_encoder("default")
    load_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        os.symlink(video, src / video.name)
        # Warm-up: trace the encoder graph and touch the file once.
        n_frames = _decode_only(video, encoder.input_size, config.sampling)
        import numpy as np

        t = time.perf_counter()
        encoder.encode(np.zeros((n_frames, encoder.input_size, encoder.input_size, 3), np.uint8))
        encode_s = time.perf_counter() - t
        decode, full = [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            _decode_only(video, encoder.input_size, config.sampling)
            decode.append(time.perf_counter() - t)
            out = Path(tmp) / f"f{r}.h5"
            t = time.perf_counter()
            report = extract(src, out, config, progress=False, encoder=encoder)
            full.append(time.perf_counter() - t)
            assert report.n_extracted == 1
            assert not report.failures
            with h5py.File(out, "r") as f:
                n_clips = f["features"].shape[0]
    d, e = statistics.median(decode), statistics.median(full)
    result = {
        "video": {k: meta[k] for k in ("id", "sha256", "codec", "width", "height", "fps", "duration_s", "frames")},
        "sampling": config.sampling.to_dict(),
        "sampled_frames_decoded": n_frames,
        "clips": n_clips,
        "repeats": args.repeats,
        "decode_only_s": round(d, 3),
        "extract_s": round(e, 3),
        "encode_only_s": round(encode_s, 3),
        "encoder_load_s": round(load_s, 3),
        "ratio_decode_over_extract": round(d / e, 3),
        "extract_sampled_frames_per_s": round(n_frames / e, 1),
        "extract_realtime_factor": round(meta["duration_s"] / e, 1),
        "encoder_frames_per_s": round(n_frames / encode_s, 1),
        "all_decode_s": [round(x, 3) for x in decode],
        "all_extract_s": [round(x, 3) for x in full],
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {
            "featkit": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "decord": decord.__version__,
            "h5py": h5py.__version__,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "decode_only_s",
                    "extract_s",
                    "ratio_decode_over_extract",
                    "extract_realtime_factor",
                    "encoder_frames_per_s",
                )
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
