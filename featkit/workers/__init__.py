"""Decoding in child processes that no video can hang or crash the run from, in bounded memory.

decord can hang forever inside native code while holding the GIL, abort or
segfault the whole process on a corrupt file, and keep memory after a long
video. So every decode runs in a worker process of a :class:`DecodePool`:

* a per-video wall-clock **timeout**: a worker that owes a result for longer
  is killed (SIGKILL) and replaced, and the video fails with ``timeout``;
* a worker that **dies** (segfault, abort, killed for memory) fails its video
  with ``worker_crashed`` (the signal or exit code in the message) and is
  replaced; the run goes on;
* **fallback**: a task lists the backends to try (``("decord", "pyav")`` for
  ``backend="auto"``); after ``open_failed``, ``decode_failed``, ``timeout`` or
  ``worker_crashed`` the next one is tried from the start;
* **windows**: a worker never holds a whole video; it decodes the frames the
  clips need in windows of at most a few MB and streams them. At most
  ``max_buffered`` windows per video wait in the parent, 256 MiB of frames
  for all the videos behind the one being encoded, and at most ``4 * n_jobs``
  videos are in flight, so memory does not grow with video length or count
  while a worker runs ahead of a long video on another.

The parent sees, per video and in task order, :class:`VideoStarted`, then
:class:`FramesDecoded` windows, then :class:`VideoDone` or :class:`VideoFailed`.
A second :class:`VideoStarted` for the same video (after a fallback) means:
forget what came before. Workers are started once per pool with
``python -c`` (not ``multiprocessing``), so they never import TensorFlow or the
caller's ``__main__``; they die with the parent (``PR_SET_PDEATHSIG``).

Time spent waiting for the parent to take a window is not charged to the
timeout: only time while the parent is waiting for a worker that owes it
something counts.

For tests, the environment variable ``FEATKIT_FAULT_INJECT`` makes a worker
misbehave on chosen files, after sending their first window: a ``;``-separated
list of ``ACTION[=ARG][@BACKEND]:GLOB`` rules, ``GLOB`` matched against the
video's path relative to the root; ``ACTION`` is ``hang`` (sleep in C holding
the GIL), ``segfault``, ``abort``, ``kill`` (SIGKILL, as the OOM killer does),
``exit`` (``os._exit(ARG)``) or ``sleep`` (``time.sleep(ARG)``, releasing the
GIL). Example: ``FEATKIT_FAULT_INJECT="hang:*/stuck.mp4;segfault@decord:bad*"``.

The package has three rooms: :mod:`~featkit.workers.messages` (tasks and the
events the pool yields), :mod:`~featkit.workers.worker` (the worker process:
numpy and the decoders only, never h5py or TensorFlow) and
:mod:`~featkit.workers.pool` (the parent side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featkit.workers.messages import (
    DecodeEvent,
    DecodeTask,
    FramesDecoded,
    VideoDone,
    VideoFailed,
    VideoStarted,
    window_frames,
)
from featkit.workers.worker import FAULT_ENV, check_plausible, file_signature, serve, video_row

if TYPE_CHECKING:
    from featkit.workers.pool import DecodePool, worker_sys_path

__all__ = [
    "FAULT_ENV",
    "DecodeEvent",
    "DecodePool",
    "DecodeTask",
    "FramesDecoded",
    "VideoDone",
    "VideoFailed",
    "VideoStarted",
    "check_plausible",
    "file_signature",
    "serve",
    "video_row",
    "window_frames",
    "worker_sys_path",
]


def __getattr__(name: str) -> object:
    # The parent side loads on first use: a worker imports this package too, and the pool (logging,
    # concurrent.futures, subprocess) would add ~25 ms to every worker's start.
    if name in ("DecodePool", "worker_sys_path"):
        from featkit.workers import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
