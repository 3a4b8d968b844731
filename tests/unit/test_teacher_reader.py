"""The restricted reader of legacy PyTorch state dicts (benchmarks/teacher.py): arrays back, code refused.

The files are written here with the legacy layout (magic, protocol, system info,
the state pickle with storages as persistent ids, the storage keys, raw
storages), using stand-in ``torch`` modules so no PyTorch is needed.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.teacher import _LEGACY_MAGIC, TeacherFileError, load_state_dict


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, data


def _rebuild_tensor_v2(*args):  # stand-in; never called by the reader
    raise AssertionError


class FloatStorage:  # stand-in for torch.FloatStorage
    pass


@pytest.fixture
def fake_torch(monkeypatch):
    torch = types.ModuleType("torch")
    torch.FloatStorage = FloatStorage
    FloatStorage.__module__ = "torch"
    utils = types.ModuleType("torch._utils")
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    _rebuild_tensor_v2.__module__ = "torch._utils"
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)


class _Tensor:
    def __init__(self, storage: _Storage, shape, stride, offset=0) -> None:
        self.storage, self.shape, self.stride, self.offset = storage, shape, stride, offset

    def __reduce__(self):
        hooks = collections.OrderedDict()
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, hooks))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.data.size, None)
        return None


def _write(path: Path, state, storages: list[_Storage], *, truncate: int = 0) -> Path:
    buf = io.BytesIO()
    for header in (_LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, buf, protocol=2)
    _Pickler(buf, protocol=2).dump(state)
    pickle.dump([s.key for s in storages], buf, protocol=2)
    for s in storages:
        buf.write(np.int64(s.data.size).tobytes())
        buf.write(s.data.astype("<f4").tobytes())
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) - truncate])
    return path


def test_reads_tensors_with_offsets_and_strides(tmp_path, fake_torch):
    rng = np.random.default_rng(0)
    a, b = _Storage("0", rng.normal(size=24).astype(np.float32)), _Storage("1", rng.normal(size=5).astype(np.float32))
    state = collections.OrderedDict(
        conv=_Tensor(a, (2, 3, 2, 2), (12, 4, 2, 1)),
        transposed=_Tensor(a, (3, 2), (1, 3), offset=4),
        bias=_Tensor(b, (5,), (1,)),
    )
    out = load_state_dict(_write(tmp_path / "w.pt", state, [a, b]))
    assert list(out) == ["conv", "transposed", "bias"]
    np.testing.assert_array_equal(out["conv"], a.data.reshape(2, 3, 2, 2))
    np.testing.assert_array_equal(out["transposed"], a.data[4:10].reshape(2, 3).T)
    np.testing.assert_array_equal(out["bias"], b.data)
    assert out["conv"].flags.writeable


def test_refuses_a_file_that_names_other_code(tmp_path, fake_torch):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = _write(tmp_path / "evil.pt", collections.OrderedDict(x=Evil()), [])
    with pytest.raises(TeacherFileError, match=r"refusing (posix|os)\.system"):
        load_state_dict(path)


def test_refuses_code_in_the_header(tmp_path):
    path = tmp_path / "h.pt"
    path.write_bytes(pickle.dumps(collections.OrderedDict(), protocol=2))
    with pytest.raises(TeacherFileError, match=r"refusing collections\.OrderedDict in a file header"):
        load_state_dict(path)


def test_refuses_short_storages_and_out_of_range_views(tmp_path, fake_torch):
    a = _Storage("0", np.arange(6, dtype=np.float32))
    with pytest.raises(TeacherFileError, match="short"):
        load_state_dict(_write(tmp_path / "short.pt", {"w": _Tensor(a, (6,), (1,))}, [a], truncate=4))
    with pytest.raises(TeacherFileError, match="outside its storage"):
        load_state_dict(_write(tmp_path / "far.pt", {"w": _Tensor(a, (4,), (2,))}, [a]))
    with pytest.raises(TeacherFileError, match="negative or mismatched"):
        load_state_dict(_write(tmp_path / "neg.pt", {"w": _Tensor(a, (3,), (-1,), offset=2)}, [a]))
    # Cut inside the element count of the only storage.
    with pytest.raises(TeacherFileError, match="short"):
        load_state_dict(_write(tmp_path / "count.pt", {"w": _Tensor(a, (6,), (1,))}, [a], truncate=24 + 4))


def test_refuses_zip_checkpoints_and_other_files(tmp_path):
    zpath = tmp_path / "new.pt"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("archive/data.pkl", b"")
    with pytest.raises(TeacherFileError, match="zip-format"):
        load_state_dict(zpath)
    other = tmp_path / "other.pt"
    other.write_bytes(pickle.dumps(12345))
    with pytest.raises(TeacherFileError, match="not a legacy PyTorch file"):
        load_state_dict(other)
