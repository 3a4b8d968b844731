"""Former name of the extraction speed benchmark, kept so old commands work: see :mod:`benchmarks.bench_speed`.

    python benchmarks/bench_extract.py [--video ID] [--repeats 3] [--quick] [--out DIR]

is ``python -m benchmarks.bench_speed`` with the same options (it writes
``bench_speed.json``; ``python -m benchmarks`` runs it with all the others).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_speed import main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
