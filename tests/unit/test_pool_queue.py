"""How many jobs the parent sends ahead to a busy decode worker (:func:`featkit.workers.pool._has_room`).

A job queued behind a busy worker cannot move to one that falls idle, so the bound is what balances -j 2
on a folder of long videos (``benchmarks/bench_jobs.py``) while short clips still queue deep enough that a
worker never waits for the parent (``benchmarks/bench_folder.py``).
"""

from __future__ import annotations

from collections import deque

from featkit.config import SamplingConfig
from featkit.workers import pool
from featkit.workers.messages import DecodeTask

MB = 1 << 20


def _job(key: int, cost: int) -> pool._Job:
    task = DecodeTask(f"/v/{key}.mp4", f"{key}.mp4", "", 64, SamplingConfig(), ("pyav",), 1, 256, 64)
    return pool._Job(key, task, cost=cost)


def test_an_idle_worker_takes_any_job_and_one_more_waits_behind_its_current_one():
    assert pool._has_room(deque(), _job(0, 10 * pool._QUEUE_BYTES))
    assert pool._has_room(deque([_job(0, MB)]), _job(1, 10 * pool._QUEUE_BYTES))


def test_short_clips_fill_the_queue_up_to_its_length():
    queue: deque[pool._Job] = deque()
    key = 0
    while pool._has_room(queue, job := _job(key, 100_000)):
        queue.append(job)
        key += 1
    assert len(queue) == pool._QUEUE


def test_a_long_video_is_not_queued_behind_other_waiting_jobs():
    busy = deque([_job(0, 8 * MB), _job(1, MB)])  # decoding one, one waiting
    assert not pool._has_room(busy, _job(2, pool._QUEUE_BYTES))
    assert pool._has_room(busy, _job(2, pool._QUEUE_BYTES - MB))
    assert not pool._has_room(deque([_job(0, MB), _job(1, 8 * MB)]), _job(2, 1))  # bytes waiting, not decoding


def test_a_file_that_cannot_be_read_costs_nothing(tmp_path):
    assert pool._file_bytes(str(tmp_path / "missing.mp4")) == 0
    (tmp_path / "a.mp4").write_bytes(b"x" * 1234)
    assert pool._file_bytes(str(tmp_path / "a.mp4")) == 1234


def test_a_single_worker_keeps_its_full_queue_whatever_the_sizes():
    queue = deque([_job(0, MB), _job(1, 8 * MB)])
    assert pool._has_room(queue, _job(2, 8 * MB), balance=False)
    queue.extend([_job(2, 8 * MB), _job(3, 8 * MB)])
    assert not pool._has_room(queue, _job(4, 1), balance=False)
