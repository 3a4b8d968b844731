"""Loading a large feature file into NumPy: 1 M clips x 256 features with ``featkit.load_features``.

    python -m benchmarks.bench_load [--clips 1000000] [--features 256] [--repeats 3] [--quick] [--out DIR]

The file is made by featkit's own store (``FeatureStore``: layout, chunking,
compression and tables exactly as ``featkit extract`` writes them) from one
first video, then grown to the full size by appending to the same datasets
with h5py in large blocks (as the store's commits would, only faster):
``--clips`` clips of float32 features drawn from N(0, 1) (posterior means are
about that) in videos of 1,000 clips each. The layout check of
:func:`featkit.store.open_feature_file` must pass and the loaded array must
equal what was written.

Timed: ``load_features(path)`` (``X, y, groups, feature_names``), median of
``--repeats`` with the file in the page cache (warm: the OS cache is not
dropped, which needs root and would hit other users), plus its parts: reading
``/features`` alone with h5py, and the same bytes from a ``.npy`` file
(``np.load``) as the floor of reading 1 GiB from memory, and
``load_features`` on a copy whose ``/features`` is stored without compression
(same chunks), which shows what the gzip filter costs.

Target: ``load_features <= 2 s``. ``--quick`` uses 20,000 clips. Writes
``bench_load.json`` (``bench_load_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import target  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write, summarize  # noqa: E402

NAME = "load"
CLIPS_PER_VIDEO = 1000


def _video_row(i: int, n: int) -> dict[str, Any]:
    return {
        "path": f"label{i % 10}/video{i:06d}.mp4",
        "label": f"label{i % 10}",
        "sha256": f"{i:064x}",
        "size": 1_000_000 + i,
        "mtime_ns": 1_700_000_000_000_000_000 + i,
        "fps": 25.0,
        "n_frames": 2 * n,
        "duration": 2 * n / 25.0,
        "width": 320,
        "height": 240,
        "timestamp_source": "container",
    }


def _clip_table(n: int) -> dict[str, Any]:
    import numpy as np

    start = np.arange(n, dtype=np.int64) * 2
    return {
        "start_frame": start,
        "end_frame": start + 1,
        "start_time": start / 25.0,
        "end_time": (start + 2) / 25.0,
        "n_frames": np.full(n, 16, dtype=np.int32),
    }


def write_feature_file(path: Path, n_clips: int, n_features: int, seed: int = 0) -> dict[str, Any]:
    """Write a featkit feature file of ``n_clips`` random clips; return its sizes and a checksum.

    Parameters
    ----------
    path : Path
        Output file.
    n_clips : int
        Clips in all (videos of :data:`CLIPS_PER_VIDEO` clips, the last one shorter).
    n_features : int
        Features per clip (a multiple of 4: four statistics of ``n_features / 4`` latents).
    seed : int, default=0
        Seed of the feature values.

    Returns
    -------
    dict
        ``videos``, ``clips``, ``features``, ``file_bytes``, ``checksum`` (sum
        of all features in float64) and ``write_s``.

    """
    import h5py
    import numpy as np

    # Statistics with one column per latent (the earlier default), so any --features divisible by 4 works.
    stats = ("mu_mean", "mu_std", "sigma_mean", "mu_absdiff")
    from featkit.stats import feature_names
    from featkit.store import CLIP_FIELDS, VIDEO_FIELDS, FeatureStore, VideoResult

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    latent = n_features // len(stats)
    meta = {
        "encoder": {"name": "bench-load", "sha256": "0" * 64, "input_size": 64, "latent_dim": latent, "config": {}},
        "sampling": {"clip_len": 16, "fps": 8.0, "stride": None, "max_clips": None},
        "stats": list(stats),
        "extraction": {"note": "written by benchmarks/bench_load.py"},
        "feature_names": feature_names(stats, latent),
        "decoder": "none",
    }
    counts = [min(CLIPS_PER_VIDEO, n_clips - lo) for lo in range(0, n_clips, CLIPS_PER_VIDEO)]
    checksum = 0.0
    first = rng.standard_normal((counts[0], n_features), dtype=np.float32)
    checksum += float(first.sum(dtype=np.float64))
    with FeatureStore.open(path, meta, overwrite=True) as store:  # the store makes the layout
        store.add_video(VideoResult(video=_video_row(0, counts[0]), clips=_clip_table(counts[0]), features=first))
    with h5py.File(path, "a") as f:  # grow the same datasets in large blocks
        feats, clips, videos = f["features"], f["clips"], f["videos"]
        # Fields the store fills itself (e.g. the decoder backend) are copied from its first row.
        first_row = {k: videos[k][0] for k in VIDEO_FIELDS}
        total = n_clips
        feats.resize(total, axis=0)
        offset = counts[0]
        block_videos = max(1, 65536 // CLIPS_PER_VIDEO)
        for v0 in range(1, len(counts), block_videos):
            vids = range(v0, min(len(counts), v0 + block_videos))
            n = sum(counts[v] for v in vids)
            x = rng.standard_normal((n, n_features), dtype=np.float32)
            checksum += float(x.sum(dtype=np.float64))
            feats[offset : offset + n] = x
            table = {k: [] for k in CLIP_FIELDS}
            rows = {k: [] for k in VIDEO_FIELDS}
            pos = offset
            for v in vids:
                c = _clip_table(counts[v])
                for k in CLIP_FIELDS:
                    table[k].append(np.full(counts[v], v, np.int64) if k == "video_id" else c[k])
                row = {**first_row, **_video_row(v, counts[v]), "clip_offset": pos, "clip_count": counts[v]}
                for k in VIDEO_FIELDS:
                    rows[k].append(row[k])
                pos += counts[v]
            for k, dtype in CLIP_FIELDS.items():
                _append(clips[k], np.concatenate(table[k]).astype(dtype))
            for k, dtype in VIDEO_FIELDS.items():
                _append(videos[k], np.array(rows[k], dtype=object if videos[k].dtype.kind == "O" else dtype))
            offset += n
    return {
        "videos": len(counts),
        "clips": n_clips,
        "features": n_features,
        "file_bytes": path.stat().st_size,
        "checksum": checksum,
        "write_s": round(time.perf_counter() - t0, 1),
    }


def _append(ds: Any, values: Any) -> None:
    n = ds.shape[0]
    ds.resize(n + len(values), axis=0)
    ds[n:] = values


def _read_features(path: Path) -> Any:
    import h5py

    with h5py.File(path, "r") as f:
        return f["features"][()]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return the result record (without provenance)."""
    import h5py
    import numpy as np

    from featkit.sklearn import load_features
    from featkit.store import open_feature_file

    with tempfile.TemporaryDirectory(prefix="featkit-bench-load-") as tmp_name:
        path = Path(tmp_name) / "features.h5"
        made = write_feature_file(path, args.clips, args.features)
        open_feature_file(path).close()  # the layout check
        with h5py.File(path, "r") as f:
            ds = f["features"]
            layout = {
                "chunks": list(ds.chunks),
                "compression": ds.compression,
                "compression_opts": ds.compression_opts,
                "shuffle": ds.shuffle,
            }
        # The same file with /features stored uncompressed (same chunks): what the gzip filter costs.
        plain = Path(tmp_name) / "features_uncompressed.h5"
        npy = Path(tmp_name) / "features.npy"
        X = load_features(path).X
        if X.shape != (args.clips, args.features) or X.dtype != np.float32:
            raise RuntimeError(f"load_features returned X of shape {X.shape} and dtype {X.dtype}")
        if not np.isclose(float(X.sum(dtype=np.float64)), made["checksum"], rtol=1e-9, atol=1e-3):
            raise RuntimeError("load_features returned other values than were written")
        np.save(npy, X)
        shutil.copyfile(path, plain)
        with h5py.File(plain, "a") as f:
            del f["features"]
            f.create_dataset("features", data=X, chunks=tuple(layout["chunks"]), maxshape=(None, args.features))
        del X
        steps = {
            "load_features": lambda: load_features(path),
            "h5py_features_only": lambda: _read_features(path),
            "load_features_if_uncompressed": lambda: load_features(plain),
            "npy_same_bytes": lambda: np.load(npy),
        }
        times: dict[str, list[float]] = {k: [] for k in steps}
        for r in range(-1, args.repeats):  # r = -1: warm-up (page cache), untimed
            for key, step in steps.items():
                t = time.perf_counter()
                loaded = step()
                dt = time.perf_counter() - t
                if key == "load_features" and r < 0:
                    _, y, groups, names = loaded
                    if len(groups) != args.clips or len(y) != args.clips or len(names) != args.features:
                        raise RuntimeError("load_features returned y/groups/names of the wrong length")
                del loaded
                if r >= 0:
                    times[key].append(dt)
        plain_bytes = plain.stat().st_size
    med = summarize(times["load_features"])["median"]
    gib = args.clips * args.features * 4 / 2**30
    return {
        "config": {
            "clips": args.clips,
            "features": args.features,
            "clips_per_video": CLIPS_PER_VIDEO,
            "repeats": args.repeats,
            "page_cache": "warm",
            "values": "float32 N(0, 1), seed 0",
        },
        "data": [{"name": "features.h5 (generated)", **made}],
        "layout": layout,
        "array_gib": round(gib, 3),
        "timings_s": {k: summarize(v) for k, v in times.items()},
        "load_gib_per_s": round(gib / med, 2),
        "uncompressed_file_bytes": plain_bytes,
        "gzip_saves": round(1 - made["file_bytes"] / (args.clips * args.features * 4), 3),
        "targets": [
            target(f"load {args.clips:,} clips x {args.features} features (load_features)", med, "<=", 2.0, "s")
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=None, help="clips in the file (1,000,000; --quick: 20,000)")
    ap.add_argument("--features", type=int, default=256, help="features per clip (256)")
    ap.add_argument("--repeats", type=int, default=3, help="timed loads (3)")
    ap.add_argument("--quick", action="store_true", help="20,000 clips (CI)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    args = ap.parse_args(argv)
    if args.clips is None:
        args.clips = 20_000 if args.quick else 1_000_000
    path, result = run_and_write(args, NAME, run)
    print(f"{path}: load_features {result['timings_s']['load_features']['median']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
