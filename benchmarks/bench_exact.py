"""Frame exactness on real files: what featkit samples against a forward PyAV decode of every frame.

    python benchmarks/bench_exact.py [--quick] [--corpus DIR] [--out DIR]

For every cached corpus video (``benchmarks/fetch_corpus.py``; never downloads)
and every file the test video factory writes for ``tests/integration/test_backends.py``,
the frames :func:`featkit.extraction.decode_video` samples (default sampling,
``--backend auto``, the decoder it picks recorded) are compared with the same
indices of a forward PyAV decode of every frame at the model's size (both
resize in FFmpeg, so the check is equality), and with what the backend
``auto`` did not pick samples from the same file (``decord`` or ``pyav``; a
file only one can read is reported as such). Then the sampled frames of every
file are hashed in ``--runs`` fresh processes, which must agree.

Writes ``bench_exact.json`` (``bench_exact_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import target  # noqa: E402
from benchmarks.provenance import RESULTS_DIR, run_and_write  # noqa: E402

SIZE = 64
_HASH = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from featkit.config import SamplingConfig
from featkit.discover import VideoFile
from featkit.extraction import decode_video
from pathlib import Path
for p in sys.argv[2:]:
    d = decode_video(str(Path(p).parent), VideoFile(Path(p).name, ""), 64, SamplingConfig())
    print(hashlib.sha256(d.frames.tobytes()).hexdigest() if hasattr(d, "frames") else "failed:" + d.reason)
"""


def _factory_files(folder: Path) -> list[Path]:
    from tests import videofactory as vf
    from tests.integration.test_backends import MIXED, PYAV_ONLY, _write

    frames = vf.pattern_frames(26, 300, 400, seed=3)
    formats = {**MIXED, **PYAV_ONLY}
    written = [_write(folder, name, frames, fps=25) for name in sorted(formats) if vf.can_encode(formats[name][0])]
    # DivX-style packed B-frames: FFmpeg labels the decoded pictures with times out of order.
    return [*written, vf.write_packed_bframes_avi(folder / "mpeg4_packed_bframes_avi.avi", frames, fps=25)]


def _corpus_files(corpus: str | None) -> list[Path]:
    from benchmarks.fetch_corpus import corpus_dir

    root = corpus_dir(corpus)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return [root / e["path"] for e in manifest.get("videos", []) if (root / e["path"]).is_file()]


def _check(path: Path) -> dict[str, Any]:
    from featkit.config import SamplingConfig
    from featkit.discover import VideoFile
    from featkit.extraction import DecodedVideo, decode_video
    from featkit.io.pyav_reader import PyAVReader

    got = decode_video(str(path.parent), VideoFile(path.name, ""), SIZE, SamplingConfig())
    if not isinstance(got, DecodedVideo):
        return {"file": path.name, "ok": False, "why": f"{got.reason}: {got.message}"}
    from featkit.exceptions import VideoError

    try:
        reference = PyAVReader(path, SIZE)
        try:
            every = reference.read(np.arange(reference.info.n_frames))  # forward, never seeks
        finally:
            reference.close()
    except VideoError as exc:
        return {"file": path.name, "backend": got.video["backend"], "ok": False, "why": f"reference: {exc.message}"}
    want = every[got.frame_ids]
    wrong = int(np.sum(np.any(got.frames != want, axis=(1, 2, 3))))
    return {
        "file": path.name,
        "backend": got.video["backend"],
        "n_sampled": len(got.frame_ids),
        "n_wrong": wrong,
        "max_abs_diff": int(np.abs(got.frames.astype(np.int16) - want.astype(np.int16)).max()),
        "ok": wrong == 0,
        **_other_backend(path, got),
    }


def _other_backend(path: Path, got: Any) -> dict[str, Any]:
    """The same sampling through the backend ``auto`` did not use: equal frames, or why it could not read the file."""
    from featkit.config import SamplingConfig
    from featkit.discover import VideoFile
    from featkit.extraction import DecodedVideo, decode_video

    other = "pyav" if got.video["backend"] == "decord" else "decord"
    alt = decode_video(str(path.parent), VideoFile(path.name, ""), SIZE, SamplingConfig(), backend=other)
    if not isinstance(alt, DecodedVideo):
        return {"other_backend": other, "other_equal": None, "other_why": f"{alt.reason}: {alt.message}"[:300]}
    same = np.array_equal(alt.frame_ids, got.frame_ids) and np.array_equal(alt.frames, got.frames)
    return {"other_backend": other, "other_equal": bool(same)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files = _factory_files(Path(tmp))
        corpus = [] if args.quick else _corpus_files(args.corpus)
        rows = [{"set": "factory", **_check(p)} for p in files] + [{"set": "corpus", **_check(p)} for p in corpus]
        runs = 2 if args.quick else args.runs
        hashes = []
        for _ in range(runs):
            cmd = [sys.executable, "-c", _HASH, str(REPO), *map(str, files + corpus)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800).stdout.split()
            hashes.append(out)
    n_ok = sum(r["ok"] for r in rows)
    agree = sum(len({h[i] for h in hashes}) == 1 for i in range(len(rows)))
    both = [r for r in rows if r.get("other_equal") is not None]  # files both backends read
    same = sum(r["other_equal"] for r in both)
    return {
        "config": {"size": SIZE, "sampling": "default (8 fps, 16-frame clips)", "backend": "auto", "runs": runs},
        "data": [{"file": r["file"], "checksum": "generated" if r["set"] == "factory" else "corpus"} for r in rows],
        "files": rows,
        "fresh_process_runs": runs,
        "targets": [
            target("files whose sampled frames equal a forward PyAV decode", n_ok / max(len(rows), 1), ">=", 1.0),
            target(
                f"files both backends read ({len(both)} of {len(rows)}) with the same sampled frames",
                same / max(len(both), 1),
                ">=",
                1.0,
            ),
            target(f"files hashed identically in {runs} fresh processes", agree / max(len(rows), 1), ">=", 1.0),
        ],
        "total_s": time.perf_counter() - t0,
    }


def markdown_summary(r: dict[str, Any]) -> str:
    """The report section: one row per file."""
    lines = [
        f"Frame exactness: sampled frames against a forward PyAV decode; {r['fresh_process_runs']} fresh processes.",
        "",
        "| set | file | backend | sampled | wrong | max abs diff | other backend |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["files"]:
        if "n_sampled" in row:
            other = {True: "same frames", False: "**different frames**", None: row.get("other_why", "")}
            lines.append(
                f"| {row['set']} | {row['file']} | {row['backend']} | {row['n_sampled']} | {row['n_wrong']} | "
                f"{row['max_abs_diff']} | {row.get('other_backend', '')}: {other[row.get('other_equal')]} |"
            )
        else:
            lines.append(f"| {row['set']} | {row['file']} | {row.get('backend', 'failed')} | | | {row['why']} | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="factory files only, 2 fresh processes")
    ap.add_argument("--corpus", default=None, help="corpus cache of benchmarks/fetch_corpus.py")
    ap.add_argument("--runs", type=int, default=10, help="fresh processes (10)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="where the JSON goes")
    args = ap.parse_args(argv)
    path, result = run_and_write(args, "exact", run)
    for t in result["targets"]:
        print(f"{t['name']}: {t['value']:.3f} ({'met' if t['met'] else 'MISSED'})")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
