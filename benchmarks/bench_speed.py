"""Extraction speed against the decode limit and against the naive OpenCV pipeline, in one run.

    python -m benchmarks.bench_speed [--video ID] [--repeats 7] [--quick] [--out DIR]

For the same sampled frames of the same file, interleaved in each repeat (so
other load on the machine hits every measure alike):

* ``decode_only``: featkit's reader alone (open, timestamps, decode exactly the
  frames the clips need): the floor any extractor pays;
* ``decode_everything``: the same with decord, which decodes and converts every
  frame on the way (the ceiling the moonshot is measured against);
* ``featkit``: the full ``featkit.extract`` (decode, encode with the default
  VAE, statistics, HDF5 commit), encoder loaded beforehand;
* ``naive``: :mod:`benchmarks.naive`, what a user would write with OpenCV and
  Keras (every frame read, the sampled ones encoded one per model call), the
  same model already loaded;
* ``encode_only``: the encoder alone on those frames.

Ratios are of the medians over repeats; ``paired_ratios`` also gives the median of each repeat's own
ratio (the two runs of a repeat share the machine's load of that moment), with its range: the same decode
on this shared machine has varied by ±25 % from one repeat to the next.

Targets: ``decode_only / featkit >= 0.95`` (issue #13: on a long video the encoder and the writes are
not the bottleneck), ``naive / featkit >= 5`` and the moonshot ``decode_everything / featkit >= 1.5``.
A full run also times one cold ``python -m featkit extract`` (interpreter, TensorFlow import and model load
included), as a user sees it.

The default video is the corpus's 720p H.264 ``bbb_trailer`` (fetched if
missing); ``--quick`` uses a generated 640x360 video unless ``--video`` is given,
so it needs no network. Writes ``bench_speed.json`` (``bench_speed_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    Stopwatch,
    cached_corpus_video,
    featkit_cli,
    featkit_env,
    probe,
    target,
)
from benchmarks.provenance import RESULTS_DIR, file_record, run_and_write, summarize  # noqa: E402

NAME = "speed"


def _open(path: Path, size: int, config: Any, backend: str | None = None) -> Any:
    """Open the file with ``backend``, or the reader featkit would use first (its backend setting's first decoder)."""
    try:
        from featkit.io.backends import backends_for, open_reader
    except ImportError:  # a featkit with decord only
        from featkit.io.video import DecordReader

        return DecordReader(path, size, num_threads=config.decode_threads)
    if backend is None:
        try:
            backend = backends_for(getattr(config, "backend", "auto"), path, sparse=config.sampling.fps is not None)[0]
        except TypeError:  # a featkit before the sparse routing
            backend = backends_for(getattr(config, "backend", "auto"), path)[0]
    return open_reader(backend, path, size, num_threads=config.decode_threads)


def _plan(path: Path, size: int, config: Any) -> Any:
    from featkit.io.sampling import plan_clips

    reader = _open(path, size, config)
    try:
        return plan_clips(reader.info.starts, reader.info.end, config.sampling)
    finally:
        getattr(reader, "close", lambda: None)()


def _decode_only(path: Path, size: int, config: Any, backend: str | None = None) -> Any:
    """Open, read the timestamps, plan the clips and decode exactly the frames they need.

    With ``backend="decord"``: the decode-everything ceiling (decord decodes and converts every frame on
    the way to the wanted ones), what featkit paid before it read sparse sampling with PyAV.
    """
    from featkit.io.sampling import plan_clips

    reader = _open(path, size, config, backend)
    try:
        plan = plan_clips(reader.info.starts, reader.info.end, config.sampling)
        return reader.read(plan.needed_frames())
    finally:
        getattr(reader, "close", lambda: None)()


def _video(args: argparse.Namespace, tmp: Path) -> tuple[Path, dict[str, Any]]:
    if args.video is None and args.quick:
        from benchmarks.synth import write_synthetic_video

        path = write_synthetic_video(tmp / "synthetic.mp4", 6.0, fps=24, width=640, height=360, seed=1)
        return path, {"id": "synthetic_640x360_6s", "source": "benchmarks.synth (generated)"}
    video_id = args.video or "bbb_trailer"
    found = cached_corpus_video(video_id, fetch=True)
    if found is None:
        raise FileNotFoundError(f"Corpus video {video_id!r} is unknown or could not be fetched.")
    path, meta = found
    return path, {"id": video_id, "source": f"corpus: {meta.get('package', meta.get('source', ''))}".strip()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return the result record (without provenance)."""
    import numpy as np

    from benchmarks.naive import naive_opencv_features
    from featkit import (
        ExtractionConfig,
        extract,
    )
    from featkit.encoders import load_encoder
    from featkit.encoders.lite import model_encoder
    from featkit.sklearn import load_features

    config = ExtractionConfig()
    t = time.perf_counter()
    encoder = load_encoder(config.encoder, batch_size=config.batch_size)
    load_s = time.perf_counter() - t
    size = encoder.input_size
    # What a user writing it by hand would run: the Keras model (featkit runs its LiteRT conversion).
    keras_model = model_encoder(encoder).model
    with tempfile.TemporaryDirectory(prefix="featkit-bench-speed-") as tmp_name:
        tmp = Path(tmp_name)
        video, about = _video(args, tmp)
        src = tmp / "in"
        src.mkdir()
        os.symlink(video.resolve(), src / video.name)
        plan = _plan(video, size, config)
        wanted = plan.needed_frames()
        clips = [plan.frame_indices[plan.clip_samples(i)] for i in range(plan.n_clips)]

        # Warm-up: page cache, the encoder's compiled graph, the eager per-frame model call.
        frames = _decode_only(video, size, config)
        encoder.encode(frames)
        keras_model(np.zeros((1, size, size, 3), np.float32), training=False)  # the naive run's model, warm
        extract(src, tmp / "warm.h5", config, progress=False, encoder=encoder, overwrite=True)

        keys = ("decode_only", "decode_everything", "featkit", "naive", "encode_only")
        times: dict[str, list[float]] = {k: [] for k in keys}
        cpu: dict[str, list[float]] = {k: [] for k in keys if k != "encode_only"}
        naive_parts: dict[str, list[float]] = {"read_s": [], "encode_s": []}
        for r in range(args.repeats):
            with Stopwatch() as sw:
                _decode_only(video, size, config)
            times["decode_only"].append(sw.wall)
            cpu["decode_only"].append(sw.cpu)
            with Stopwatch() as sw:
                _decode_only(video, size, config, backend="decord")
            times["decode_everything"].append(sw.wall)
            cpu["decode_everything"].append(sw.cpu)
            out = tmp / f"featkit{r}.h5"
            with Stopwatch() as sw:
                report = extract(src, out, config, progress=False, encoder=encoder, overwrite=True)
            times["featkit"].append(sw.wall)
            cpu["featkit"].append(sw.cpu)
            if report.n_extracted != 1 or report.failures:
                raise RuntimeError(f"featkit extract did not extract {video}: {report}")
            with Stopwatch() as sw:
                naive_feats, parts = naive_opencv_features(
                    video, keras_model, size, wanted, clips, config.stats, scorer=encoder
                )
            times["naive"].append(sw.wall)
            cpu["naive"].append(sw.cpu)
            for k in naive_parts:
                naive_parts[k].append(parts[k])
            t = time.perf_counter()
            encoder.encode(frames)
            times["encode_only"].append(time.perf_counter() - t)
        feats = load_features(out).X
        cli_s = None
        if not args.quick:
            t = time.perf_counter()
            subprocess.run(
                [*featkit_cli(), "extract", str(src), "-o", str(tmp / "cli.h5"), "-q", "--overwrite"],
                env=featkit_env(),
                check=True,
                capture_output=True,
            )
            cli_s = time.perf_counter() - t
        data = file_record(video, **about, **probe(video))

    med = {k: summarize(v)["median"] for k, v in times.items()}
    cpu_med = {k: summarize(v)["median"] for k, v in cpu.items()}
    agree = float(np.corrcoef(feats.ravel(), naive_feats.ravel())[0, 1])
    scale = float(np.abs(feats).mean())
    n = len(wanted)
    return {
        "config": {
            "sampling": config.sampling.to_dict(),
            "stats": list(config.stats),
            "batch_size": config.batch_size,
            "n_jobs": config.n_jobs,
            "repeats": args.repeats,
            "encoder": encoder.identity()["name"],
            "naive": "benchmarks/naive.py: cv2.VideoCapture.read every frame, cv2.resize INTER_AREA + crop, "
            "model(x[None]) per sampled frame",
        },
        "data": [data],
        "sampled_frames": n,
        "clips": int(plan.n_clips),
        "encoder_load_s": round(load_s, 3),
        "timings_s": {k: summarize(v) for k, v in times.items()},
        "cpu_s": {k: summarize(v) for k, v in cpu.items()},
        "naive_parts_s": {k: summarize(v) for k, v in naive_parts.items()},
        "cold_cli_extract_s": None if cli_s is None else round(cli_s, 3),
        "ratios": {
            "decode_over_featkit": round(med["decode_only"] / med["featkit"], 3),
            "naive_over_featkit": round(med["naive"] / med["featkit"], 3),
            "decode_everything_over_featkit": round(med["decode_everything"] / med["featkit"], 3),
        },
        # CPU seconds of the process tree: less sensitive than wall time to other jobs on a shared machine.
        "paired_ratios": {
            name: _paired(times[num], times["featkit"])
            for name, num in (
                ("decode_over_featkit", "decode_only"),
                ("naive_over_featkit", "naive"),
                ("decode_everything_over_featkit", "decode_everything"),
            )
        },
        "cpu_ratios": {
            "decode_over_featkit": round(cpu_med["decode_only"] / max(cpu_med["featkit"], 1e-9), 3),
            "naive_over_featkit": round(cpu_med["naive"] / max(cpu_med["featkit"], 1e-9), 3),
        },
        "throughput": {
            "featkit_sampled_frames_per_s": round(n / med["featkit"], 1),
            "featkit_realtime_factor": round(data["duration_s"] / med["featkit"], 1) if data["duration_s"] else None,
            "naive_sampled_frames_per_s": round(n / med["naive"], 1),
            "encoder_frames_per_s": round(n / med["encode_only"], 1),
        },
        "naive_agreement": {
            "corr_with_featkit": round(agree, 4),
            "mean_abs_diff_over_mean_abs": round(float(np.abs(feats - naive_feats).mean()) / scale, 4),
        },
        "targets": [
            target(
                "decode-only time / featkit extract time", round(med["decode_only"] / med["featkit"], 3), ">=", 0.95
            ),
            target("naive OpenCV pipeline time / featkit time", round(med["naive"] / med["featkit"], 3), ">=", 5.0),
            target(
                "moonshot: decode-everything time (decord) / featkit time",
                round(med["decode_everything"] / med["featkit"], 3),
                ">=",
                1.5,
            ),
        ],
    }


def _paired(numerator: list[float], denominator: list[float]) -> dict[str, Any]:
    """Median, min and max of the per-repeat ratios ``numerator[r] / denominator[r]``."""
    import numpy as np

    r = np.asarray(numerator) / np.asarray(denominator)
    return {"median": round(float(np.median(r)), 3), "min": round(float(r.min()), 3), "max": round(float(r.max()), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=None, help="corpus id of the video (default bbb_trailer; --quick: generated)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (7; --quick: 1)")
    ap.add_argument("--quick", action="store_true", help="a short generated video, one repeat (CI)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    path, result = run_and_write(args, NAME, run)
    print(f"{path}: {result['ratios']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
