"""The one writer lock shared by the feature store and training checkpoints (featkit.locking)."""

from __future__ import annotations

import os

import pytest

from featkit.exceptions import StoreLockedError
from featkit.locking import holds_lock, release_lock, take_lock


def busy(holder: str) -> str:
    return f"held by pid {holder}"


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    lock = tmp_path / ".lock"
    fd = take_lock(lock, busy)
    with pytest.raises(StoreLockedError, match=f"held by pid {os.getpid()}"):
        take_lock(lock, busy)
    release_lock(fd, lock)
    assert not lock.exists()
    release_lock(take_lock(lock, busy), lock)  # free again


def test_a_deleted_lock_file_never_lets_the_first_writer_remove_the_seconds(tmp_path):
    lock = tmp_path / ".lock"
    first = take_lock(lock, busy)
    lock.unlink()  # someone deletes the lock mid-run
    assert not holds_lock(first, lock)
    second = take_lock(lock, busy)  # a second writer gets in: the first must notice, not the file
    assert holds_lock(second, lock)
    release_lock(first, lock)
    assert lock.exists(), "the first writer's release left the second writer's lock alone"
    with pytest.raises(StoreLockedError):
        take_lock(lock, busy)
    release_lock(second, lock)


def test_training_checkpoints_use_the_same_lock(tmp_path):
    from featkit.training.checkpoints import locked

    folder = tmp_path / "ckpt"
    folder.mkdir()
    with locked(folder):
        with pytest.raises(StoreLockedError, match="another featkit train process"):
            with locked(folder):
                pass
        assert (folder / ".lock").read_text() == str(os.getpid())
    assert not folder.exists(), "the empty checkpoint folder goes with its lock"
