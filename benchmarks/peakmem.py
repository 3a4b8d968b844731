"""Run a command and measure the peak memory of its whole process tree.

Two measures, both in bytes:

* ``tree_peak_rss``: the highest *sum* of the resident set sizes of the
  command and all its descendants (decoding workers included), sampled every
  ``interval`` seconds with psutil. A sum of RSS counts pages shared between
  processes (libraries, copy-on-write) once per process, so it is an upper
  bound of the memory the tree really held; sampling can miss a spike shorter
  than the interval.
* ``max_process_rss``: the kernel's high-water mark (``ru_maxrss``) of the
  largest single process among the command and the descendants it waited
  for; exact, never missed by sampling.

The command is started by a tiny Python launcher, and ``max_process_rss`` is
the launcher's ``RUSAGE_CHILDREN``: Linux carries a process's high-water mark
across ``exec``, so a command spawned straight from a large process (this
benchmark runner holds TensorFlow) would report the runner's size instead of
its own. The launcher's few MB are not counted in either measure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["PeakMemory", "run_measured"]

_NOISE = ("I0000 ", "W0000 ", "E0000 ", "WARNING: All log messages before absl")

# argv: REPORT_FILE CMD...; runs CMD, writes the children's ru_maxrss (KiB on Linux), exits with CMD's code.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


@dataclass
class PeakMemory:
    """What :func:`run_measured` observed."""

    returncode: int
    wall_s: float
    tree_peak_rss: int
    max_process_rss: int
    max_processes: int
    timeline: list[tuple[float, int]] = field(default_factory=list)
    stderr_tail: str = ""


def run_measured(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, interval: float = 0.05, timeline_every: float = 0.5
) -> PeakMemory:
    """Run ``cmd`` to completion, sampling its process tree's memory.

    Parameters
    ----------
    cmd : sequence of str
        The command.
    env : dict, optional
        Its environment.
    interval : float, default=0.05
        Seconds between samples.
    timeline_every : float, default=0.5
        Seconds between the (time, tree RSS) points kept for plots.

    Returns
    -------
    PeakMemory

    """
    import psutil

    with tempfile.TemporaryDirectory(prefix="featkit-peakmem-") as tmp:
        report = os.path.join(tmp, "maxrss")
        # stderr goes to a file, not a pipe: a pipe nobody reads while we sample could fill and block the child.
        with open(os.path.join(tmp, "stderr"), "w+") as err_file:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, report, *cmd],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )
            launcher = psutil.Process(proc.pid)
            peak = n_max = 0
            timeline: list[tuple[float, int]] = []
            next_point = 0.0
            while proc.poll() is None:
                total = count = 0
                try:
                    procs = launcher.children(recursive=True)
                except psutil.Error:
                    procs = []
                for p in procs:
                    try:
                        total += p.memory_info().rss
                        count += 1
                    except psutil.Error:
                        continue  # exited between listing and reading
                peak, n_max = max(peak, total), max(n_max, count)
                now = time.perf_counter() - t0
                if now >= next_point and total:
                    timeline.append((round(now, 2), total))
                    next_point = now + timeline_every
                time.sleep(interval)
            wall = time.perf_counter() - t0
            err_file.seek(0)
            # TensorFlow's start-up chatter (absl log lines) would crowd out the lines that say what went wrong.
            err = "".join(line for line in err_file if not line.startswith(_NOISE))
        try:
            max_rss = int(open(report).read()) * 1024  # Linux reports KiB
        except (OSError, ValueError):
            max_rss = 0  # the launcher itself failed; the return code says so
    return PeakMemory(
        returncode=proc.returncode,
        wall_s=wall,
        tree_peak_rss=peak,
        max_process_rss=max_rss,
        max_processes=n_max,
        timeline=timeline,
        stderr_tail=err[-2000:],
    )
