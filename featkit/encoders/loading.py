"""Resolve an ``--encoder`` spec to an :class:`~featkit.encoders.Encoder`, safely.

A spec is one of:

- ``"default"``: the VAE shipped inside featkit;
- a Keras 3 ``.keras`` file (a featkit VAE, or any model mapping frames to ``[mu, logvar]``);
- a TensorFlow SavedModel folder (``featkit export`` writes one), or a local TF Hub module folder;
- a TF Hub handle (``https://...``), loaded with ``tensorflow_hub.load`` from the local cache only
  (``$TFHUB_CACHE_DIR``): featkit never downloads.

Loading is safe by default. Keras files load in ``safe_mode`` after a scan that names any
Lambda layer or Python function they carry; SavedModels are scanned *before* TensorFlow reads
them for ops that touch files, the network or Python (``ReadFile``, ``WriteFile``, ``PyFunc``,
...), in every function, in the init op loading runs, and in graphs serialised inside constants;
tf.data and iterator ops (which run graphs given at run time) and TF1 SavedModels (whose init op
loading runs from the main graph) are refused outright. Pickle and joblib files are never
loaded. ``unsafe=True`` (``--unsafe``) skips the scans and turns Keras safe mode off, for
files whose author you trust.

This module imports TensorFlow lazily, inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from featkit.config import PRECISIONS
from featkit.encoders.base import Encoder, check_frames, encode_in_batches
from featkit.encoders.lite import resolve_runtime
from featkit.exceptions import ConfigError, DependencyError, EncoderError, UnsafeEncoderError

__all__ = [
    "LOGVAR_NAMES",
    "MU_NAMES",
    "SavedModelEncoder",
    "resolve_encoder",
    "scan_keras_file",
    "scan_saved_model",
    "spec_kind",
    "tree_sha256",
]

#: Output names accepted for the posterior mean and log variance of a SavedModel signature.
MU_NAMES = ("mu", "z_mean", "mean")
LOGVAR_NAMES = ("logvar", "z_log_var", "log_var", "logvariance")

#: Suffixes of files that unpickle (run code) when loaded; featkit never opens them as encoders.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".bin", ".npy", ".npz")
# Suffixes that always mean pickle; the others above may hold anything, so their content decides.
_PICKLE_ONLY_SUFFIXES = (".pkl", ".pickle", ".joblib")

# Ops that read or write files, reach the network, or run Python. A frame encoder needs none.
_IO_OPS = frozenset(
    {
        "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "FileSystemSetConfiguration",
        "Save", "SaveSlices", "SaveV2", "MergeV2Checkpoints", "Restore", "RestoreSlice", "RestoreV2",
        "PyFunc", "PyFuncStateless", "EagerPyFunc",
        "Print", "PrintV2",
        "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "LoadAndRemapMatrix",
        "DecodeProtoV2", "EncodeProto",
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "TFRecordReader",
        "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "IdentityReader",
        "IdentityReaderV2", "LMDBReader", "ReaderReadV2", "ReaderRead",
        "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2",
        "TextLineDataset", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "LMDBDataset",
        "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "SaveDataset", "SaveDatasetV2", "LoadDataset", "SnapshotDataset",
        "SnapshotDatasetV2", "CacheDataset", "CacheDatasetV2", "DataServiceDataset", "DataServiceDatasetV2",
        "DataServiceDatasetV3", "DataServiceDatasetV4",
        "Rpc", "TryRpc", "RpcCall", "RpcClient", "RpcServer", "RemoteCall",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
        "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteRawProtoSummary",
        "WriteGraphSummary", "ImportEvent", "FlushSummaryWriter", "CloseSummaryWriter",
        "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNumericSummary", "DebugNumericSummaryV2",
    }
)  # fmt: skip
# TensorFlow's own checkpoint functions (outside what loading runs) save and restore with these.
_CHECKPOINT_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})
# Op names containing these run graphs the scan cannot see: tf.data ops (DatasetFromGraph deserialises a
# GraphDef given as a *tensor*, which can be computed at run time; dataset functions read files) and iterators.
# A frame encoder needs none of them, so they are refused outright rather than scanned.
_OPAQUE_OP_PARTS = ("Dataset", "Iterator")


def _denied(op: str, deny: frozenset[str]) -> bool:
    return op in deny or any(part in op for part in _OPAQUE_OP_PARTS)


def spec_kind(spec: str | os.PathLike[str]) -> str:
    """Say what an encoder spec names, without loading anything.

    Parameters
    ----------
    spec : str
        ``"default"``, a path, or a TF Hub handle.

    Returns
    -------
    str
        ``"default"``, ``"keras"``, ``"saved_model"`` or ``"hub"`` (a URL handle).

    Raises
    ------
    EncoderError
        If the spec is none of these; :class:`UnsafeEncoderError` for pickle files.

    """
    spec = os.fspath(spec)
    if spec == "default":
        return "default"
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if scheme in ("http", "https", "gs"):
            return "hub"
        raise EncoderError(
            f"Encoder handle {spec!r} has an unsupported scheme. Expected 'default', a .keras file, a SavedModel "
            f"folder or an http(s):// or gs:// TF Hub handle. Received: scheme={scheme!r}"
        )
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        raise EncoderError(
            f"Encoder {spec!r} is neither 'default' nor an existing file or folder. Expected 'default', a .keras "
            "file, a SavedModel folder, or a TF Hub handle."
        )
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        if (path / "tfhub_module.pb").is_file():
            raise EncoderError(
                f"Encoder folder {spec!r} is a TF1 Hub module (tfhub_module.pb). featkit loads TF2 SavedModels only; "
                "use the module's TF2 version."
            )
        found = sorted(p.name for p in path.iterdir())[:8]
        raise EncoderError(
            f"Encoder folder {spec!r} is not a SavedModel: expected a saved_model.pb inside. Received: {found}"
        )
    suffix = path.suffix.lower()
    if suffix in _PICKLE_ONLY_SUFFIXES or _looks_like_pickle(path):
        raise UnsafeEncoderError(
            f"Refusing to load {spec!r}: it is a pickle (or a PyTorch archive of pickles), and pickles run arbitrary "
            "code when "
            "loaded, and featkit never unpickles encoders, not even with --unsafe. Save the model with Keras "
            "(model.save('model.keras')) or as a SavedModel (featkit export)."
        )
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise EncoderError(
                f"Encoder file {spec!r} is not a Keras 3 model: a .keras file is a zip archive (config.json and "
                "weights), and this one is not. Save the model with model.save('model.keras')."
            )
        return "keras"
    if suffix in (".h5", ".hdf5"):
        raise EncoderError(
            f"Encoder file {spec!r} is a legacy HDF5 model. featkit loads Keras 3 '.keras' files and SavedModel "
            "folders; re-save it with model.save('model.keras'). Received: suffix=" + repr(path.suffix)
        )
    if suffix == ".pb":
        raise EncoderError(f"Encoder {spec!r} is a protobuf file; pass the SavedModel folder that contains it.")
    raise EncoderError(
        f"Encoder file {spec!r} must be a Keras 3 '.keras' file (saved with model.save) or a SavedModel folder. "
        f"Received: suffix={path.suffix!r}"
    )


def _looks_like_pickle(path: Path) -> bool:
    """Pickle protocol 2+ streams start with 0x80 and the protocol number; PyTorch zips hold ``data.pkl``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
            return True
        if head == b"PK" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(n.endswith(".pkl") for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def resolve_encoder(
    spec: str | os.PathLike[str] = "default",
    *,
    batch_size: int = 64,
    precision: str = "float32",
    unsafe: bool = False,
    runtime: str = "auto",
) -> Encoder:
    """Load the encoder a spec names, at the precision asked for, on the runtime asked for.

    Parameters
    ----------
    spec : str, default="default"
        See :func:`spec_kind`.
    batch_size : int, default=64
        Frames per encoder call.
    precision : {"float32", "float16", "int8"}, default="float32"
        ``float32`` runs the model as loaded; ``float16`` and ``int8`` run a TensorFlow Lite
        conversion of it (float16 weights; int8 dynamic-range quantisation), see
        :mod:`featkit.encoders.variants`.
    unsafe : bool, default=False
        Load files that carry code (Keras Lambda layers, SavedModel file or Python ops).
        Only for files whose author you trust. Pickle files are refused regardless.
    runtime : {"auto", "keras", "litert"}, default="auto"
        What runs the float32 default encoder: ``"litert"``, its shipped TensorFlow Lite
        model on the LiteRT interpreter (no TensorFlow import; see
        :mod:`featkit.encoders.lite`), or ``"keras"``, the Keras model. ``"auto"`` is
        LiteRT for the default and Keras for other encoders.

    Returns
    -------
    Encoder

    Raises
    ------
    EncoderError
        If the encoder cannot be found or loaded, or does not fit.
    UnsafeEncoderError
        If loading it would run code and ``unsafe`` is False.

    """
    if precision not in PRECISIONS:
        raise ConfigError(f"The 'precision' parameter must be one of {list(PRECISIONS)}. Got {precision!r} instead.")
    spec = os.fspath(spec)
    if resolve_runtime(spec, precision, runtime) == "litert" and precision == "float32":
        from featkit.encoders.lite import load_default_litert

        return load_default_litert(batch_size=batch_size)
    kind = spec_kind(spec)
    if kind in ("default", "keras"):
        from featkit.encoders.keras_encoder import load_keras_encoder

        if kind == "keras" and not unsafe:
            problems = scan_keras_file(Path(os.path.expanduser(spec)))
            if problems:
                raise UnsafeEncoderError(_unsafe_message(spec, "it carries Python code", problems))
        base: Encoder = load_keras_encoder(spec, batch_size=batch_size, unsafe=unsafe)
    elif kind == "saved_model":
        base = _load_saved_model(Path(os.path.expanduser(spec)), batch_size=batch_size, unsafe=unsafe)
    else:
        base = _load_hub_handle(spec, batch_size=batch_size, unsafe=unsafe)
    if precision == "float32":
        return base
    from featkit.encoders.variants import make_variant

    return make_variant(base, precision)


def _unsafe_message(spec: str, why: str, problems: list[str]) -> str:
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    return (
        f"Refusing to load {spec!r}: {why} that would run with your permissions ({shown}). featkit loads "
        "encoders safely by default. If you trust the file's author, pass --unsafe (Python: unsafe=True); "
        "otherwise re-save the model without it."
    )


# --------------------------------------------------------------------------- Keras files


def scan_keras_file(path: Path) -> list[str]:
    """List the Python code a ``.keras`` file would run when loaded (Lambda layers, Python functions).

    Reads only the archive's ``config.json``; nothing is deserialised. An unreadable archive
    gives no findings here (Keras then says why it cannot load it).

    Parameters
    ----------
    path : Path

    Returns
    -------
    list of str
        One description per finding, empty when the file carries no code.

    """
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    return list(_code_in_config(config))


def _code_in_config(obj: Any) -> Iterator[str]:
    if isinstance(obj, list):
        for item in obj:
            yield from _code_in_config(item)
        return
    if not isinstance(obj, dict):
        return
    cls, module = obj.get("class_name"), obj.get("module") or ""
    if cls == "Lambda":
        name = (obj.get("config") or {}).get("name", "?")
        yield f"Lambda layer {name!r}"
        return
    if cls == "__lambda__":
        yield "a serialised Python lambda"
        return
    if cls == "function" and not (module == "keras" or module.startswith(("keras.", "featkit."))):
        yield f"Python function {module}.{obj.get('config')}"
        return
    for value in obj.values():
        yield from _code_in_config(value)


# --------------------------------------------------------------------------- SavedModels


def scan_saved_model(path: Path) -> list[str]:
    """List ops in a SavedModel that read or write files, reach the network or run Python.

    The scan reads ``saved_model.pb`` as a protocol buffer, before TensorFlow loads anything.
    Functions that loading or calling the model can run (everything reachable from the saved
    objects and signatures) may use none of these ops; TensorFlow's own checkpoint save and
    restore functions, which loading does not run, may save and restore variables.

    Parameters
    ----------
    path : Path
        The SavedModel folder.

    Returns
    -------
    list of str
        ``"<op> in <function>"`` per finding; empty when the model is safe to load.

    Raises
    ------
    EncoderError
        If ``saved_model.pb`` cannot be parsed.

    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    pb = path / "saved_model.pb"
    try:
        if pb.is_file():
            proto.ParseFromString(pb.read_bytes())
        else:
            from google.protobuf import text_format

            text_format.Parse((path / "saved_model.pbtxt").read_text(), proto)
    except Exception as exc:
        raise EncoderError(f"Could not read the SavedModel {os.fspath(path)!r}: {type(exc).__name__}: {exc}") from exc
    problems: list[str] = []
    for meta in proto.meta_graphs:
        if not meta.object_graph_def.nodes:
            # TF1 format: tf.saved_model.load runs its init op (main_op / legacy_init_op) in the main graph at
            # load time, and that graph holds the save/restore ops; whether an init op writes files cannot be
            # told apart from TensorFlow's own checkpointing, so such models are not loaded safely at all.
            problems.append(
                "a TF1 SavedModel, whose init op (main_op) loading runs from its main graph; re-save it with "
                "TensorFlow 2's tf.saved_model.save"
            )
        functions = {f.signature.name: f for f in meta.graph_def.library.function}
        init_nodes = _init_op_nodes(meta)
        roots = list(meta.object_graph_def.concrete_functions) + _called_functions(init_nodes, functions)
        reachable = _reachable_functions(roots, functions)
        for name, fdef in functions.items():
            deny = _IO_OPS if name in reachable else _IO_OPS - _CHECKPOINT_OPS
            problems += [f"{op} in {name}" for op in sorted({n.op for n in fdef.node_def if _denied(n.op, deny)})]
            problems += _nested_graph_problems(fdef.node_def, f"a graph serialised inside {name}")
        graph_ops = {n.op for n in meta.graph_def.node if _denied(n.op, _IO_OPS - _CHECKPOINT_OPS)}
        problems += [f"{op} in the main graph" for op in sorted(graph_ops)]
        init_ops = {n.op for n in init_nodes if _denied(n.op, _IO_OPS)}
        problems += [f"{op} in the init op, which loading runs" for op in sorted(init_ops)]
        problems += _nested_graph_problems(meta.graph_def.node, "a graph serialised inside the main graph")
    return problems


def _init_op_nodes(meta: Any) -> list[Any]:
    """The main-graph nodes a loader runs at load time: the init ops and everything they depend on."""
    by_name = {n.name: n for n in meta.graph_def.node}
    wanted = []
    if "__saved_model_init_op" in meta.signature_def:
        wanted += [t.name for t in meta.signature_def["__saved_model_init_op"].outputs.values()]
    for key in ("saved_model_main_op", "legacy_init_op", "table_initializer"):
        if key in meta.collection_def:
            wanted += list(meta.collection_def[key].node_list.value)
    seen: dict[str, Any] = {}
    stack = [w.lstrip("^").split(":")[0] for w in wanted]
    while stack:
        name = stack.pop()
        node = by_name.get(name)
        if node is None or name in seen:
            continue
        seen[name] = node
        stack += [i.lstrip("^").split(":")[0] for i in node.input]
    return list(seen.values())


def _called_functions(nodes: list[Any], functions: dict[str, Any]) -> list[str]:
    called = []
    for node in nodes:
        if node.op in functions:
            called.append(node.op)
        for attr in node.attr.values():
            called += [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
    return [c for c in called if c in functions]


def _nested_graph_problems(nodes: Any, where: str, depth: int = 0) -> list[str]:
    """File and Python ops inside GraphDefs serialised into string constants (what DatasetFromGraph runs)."""
    from tensorflow.core.framework import graph_pb2

    problems: list[str] = []
    if depth > 4:
        return problems
    for node in nodes:
        if node.op != "Const" or "value" not in node.attr:
            continue
        for blob in node.attr["value"].tensor.string_val:
            if len(blob) < 16:
                continue
            graph = graph_pb2.GraphDef()
            try:
                graph.ParseFromString(blob)
            except Exception:  # noqa: BLE001 - most strings are not graphs
                continue
            if not graph.node:
                continue
            inner = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
            problems += [f"{op} in {where}" for op in sorted({n.op for n in inner if _denied(n.op, _IO_OPS)})]
            problems += _nested_graph_problems(inner, where, depth + 1)
    return problems


def _reachable_functions(roots: list[str], functions: dict[str, Any]) -> set[str]:
    """Names of the functions ``roots`` call, transitively (through any function-valued attr)."""
    seen: set[str] = set()
    stack = [r for r in roots if r in functions]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in functions[name].node_def:
            for attr in node.attr.values():
                called = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
                stack += [c for c in called if c in functions and c not in seen]
    return seen


def tree_sha256(path: str | os.PathLike[str]) -> str:
    """Content fingerprint of a folder: sha256 over its files' relative paths and sha256s, sorted.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
        Hex digest; equal for equal contents wherever the folder lives.

    """
    from featkit.files import sha256_of

    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        digest.update(f"{rel}\0{sha256_of(file)}\n".encode())
    return digest.hexdigest()


class SavedModelEncoder(Encoder):
    """Run a SavedModel signature (frames in [0, 1] -> ``{"mu", "logvar"}``) on uint8 frames.

    The signature must take one float32 input of shape (None or n, S, S, 3) and return the
    posterior mean and log variance, each (None or n, d), under names in :data:`MU_NAMES`
    and :data:`LOGVAR_NAMES`. Frames are cast and scaled inside one compiled graph of fixed
    batch size, as :class:`~featkit.encoders.keras_encoder.KerasEncoder` does, so a SavedModel
    written by ``featkit export`` gives bit-identical features to the model it came from.

    Parameters
    ----------
    function : tf ConcreteFunction
        The signature.
    name : str
        Name stored as provenance.
    sha256 : str
        Fingerprint of the model's files (:func:`tree_sha256`).
    config : dict
        Provenance: format, signature name, handle, and featkit's export metadata when present.
    batch_size : int, default=64
    owner : object, optional
        The loaded SavedModel, kept alive while the signature is used.
    path : Path, optional
        The SavedModel folder (where bundled variants are looked for).
    decoder_function : tf ConcreteFunction, optional
        A ``decode`` signature ``z (None, d) -> {"frames": (None, S, S, 3)}``, as ``featkit export``
        writes for a VAE; with ``beta`` and ``obs_var`` it enables :meth:`decode` and
        :meth:`~featkit.encoders.Encoder.score`.
    beta, obs_var : float, optional

    """

    def __init__(
        self,
        function: Any,
        *,
        name: str,
        sha256: str,
        config: dict[str, Any],
        batch_size: int = 64,
        owner: Any = None,
        path: Path | None = None,
        decoder_function: Any = None,
        beta: float | None = None,
        obs_var: float | None = None,
    ) -> None:
        self.function = function
        self.owner = owner
        self.path = path
        self.name = name
        self.sha256 = sha256
        self.config = config
        (self.input_key, size, fixed_batch), (self.mu_key, self.logvar_key, self.latent_dim) = _check_signature(
            function, name
        )
        self.input_size = size
        self.batch_size = int(fixed_batch or batch_size)
        self.decoder_function = decoder_function
        self.has_decoder = decoder_function is not None and obs_var is not None and obs_var > 0
        if self.has_decoder:
            self.beta, self.obs_var = (1.0 if beta is None else float(beta)), float(obs_var)

    @cached_property
    def _graph(self) -> Any:
        import tensorflow as tf

        fn, key, mu_key, lv_key = self.function, self.input_key, self.mu_key, self.logvar_key
        spec = tf.TensorSpec((self.batch_size, self.input_size, self.input_size, 3), tf.uint8)

        @tf.function(input_signature=[spec])
        def encode(frames: Any) -> Any:
            out = fn(**{key: tf.cast(frames, tf.float32) / 255.0})
            return out[mu_key], out[lv_key]

        return encode

    def encode(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode uint8 frames of shape (n, S, S, 3) to ``(mu, logvar)``, each (n, d) float32."""
        frames = check_frames(self, frames)

        def call(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            m, v = self._graph(batch)
            return m.numpy(), v.numpy()

        return encode_in_batches(call, frames, self.batch_size, self.latent_dim)

    @cached_property
    def _decode_graph(self) -> Any:
        import tensorflow as tf

        fn = self.decoder_function
        spec = tf.TensorSpec((self.batch_size, self.latent_dim), tf.float32)
        return tf.function(lambda z: fn(z=z)["frames"], input_signature=[spec])

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode latents (n, d) with the model's ``decode`` signature to frames (n, S, S, 3) in [0, 1]."""
        return self._decode_in_batches(z, self._decode_graph if self.has_decoder else None, self.batch_size)

    def identity(self) -> dict[str, Any]:
        """Name, sha256 of the model's files, input size, latent size and config."""
        return self._identity(self.sha256, config=self.config)


def _check_signature(function: Any, name: str) -> tuple[tuple[str, int, int | None], tuple[str, str, int]]:
    """Return ((input key, S, fixed batch or None), (mu key, logvar key, d)) or say what does not fit."""
    import tensorflow as tf

    args, kwargs = function.structured_input_signature
    inputs = dict(kwargs) if not args else {f"arg{i}": v for i, v in enumerate(args)}
    found_in = {k: (tuple(inputs[k].shape), inputs[k].dtype.name) for k in sorted(inputs)}
    if len(inputs) != 1:
        raise EncoderError(
            f"Encoder {name!r} must take one input, frames of shape (None, S, S, 3) float32 in [0, 1]. "
            f"Received: inputs={found_in}"
        )
    key, spec = next(iter(inputs.items()))
    shape = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    if (
        spec.dtype != tf.float32
        or shape is None
        or len(shape) != 4
        or shape[3] != 3
        or shape[1] is None
        or shape[1] != shape[2]
    ):
        raise EncoderError(
            f"Encoder {name!r} must take square RGB frames of a fixed size, shape (None, S, S, 3) float32 in "
            f"[0, 1]. Received: input {key!r} of shape {shape} and dtype {spec.dtype.name}"
        )
    outputs = function.structured_outputs
    if isinstance(outputs, dict):
        found_out: Any = {k: tuple(outputs[k].shape) for k in sorted(outputs)}
    else:
        found_out = type(outputs).__name__
    mu_key = next((k for k in MU_NAMES if isinstance(outputs, dict) and k in outputs), None)
    lv_key = next((k for k in LOGVAR_NAMES if isinstance(outputs, dict) and k in outputs), None)
    if mu_key is None or lv_key is None:
        raise EncoderError(
            f"Encoder {name!r} must return the posterior as outputs named 'mu' and 'logvar' (or "
            f"{'/'.join(MU_NAMES[1:])} and {'/'.join(LOGVAR_NAMES[1:])}). Received: outputs={found_out}"
        )
    mu_shape, lv_shape = tuple(outputs[mu_key].shape.as_list()), tuple(outputs[lv_key].shape.as_list())
    if len(mu_shape) != 2 or mu_shape != lv_shape or mu_shape[1] is None or mu_shape[0] not in (None, shape[0]):
        raise EncoderError(
            f"Encoder {name!r} must return {mu_key!r} and {lv_key!r} of the same shape (None, d), one row per "
            f"frame. Received: {mu_key}={mu_shape}, {lv_key}={lv_shape}"
        )
    return (key, int(shape[1]), shape[0]), (mu_key, lv_key, int(mu_shape[1]))


def read_export_metadata(path: Path) -> dict[str, Any] | None:
    """The metadata ``featkit export`` leaves in ``assets.extra/featkit.json``, if any."""
    meta = path / "assets.extra" / "featkit.json"
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def _load_saved_model(
    path: Path, *, batch_size: int, unsafe: bool, name: str | None = None, extra: dict[str, Any] | None = None
) -> SavedModelEncoder:
    if not unsafe:
        problems = scan_saved_model(path)
        if problems:
            raise UnsafeEncoderError(
                _unsafe_message(
                    os.fspath(path),
                    "its TensorFlow graph has ops that touch files, run Python or run graphs featkit cannot check",
                    problems,
                )
            )
    sha = tree_sha256(path)
    loader = "tensorflow_hub.load" if extra and "handle" in extra else "tf.saved_model.load"
    if extra and "handle" in extra:
        import tensorflow_hub as hub

        load = lambda: hub.load(extra["handle"])  # noqa: E731  (resolves to the checked cache folder)
    else:
        import tensorflow as tf

        load = lambda: tf.saved_model.load(os.fspath(path))  # noqa: E731
    try:
        obj = load()
    except Exception as exc:
        raise EncoderError(f"Could not load the SavedModel {os.fspath(path)!r}: {type(exc).__name__}: {exc}") from exc
    signatures = dict(getattr(obj, "signatures", {}) or {})
    if "serving_default" in signatures:
        sig_name = "serving_default"
    elif len(signatures) == 1:
        sig_name = next(iter(signatures))
    else:
        raise EncoderError(
            f"Encoder {os.fspath(path)!r} must have a 'serving_default' signature (or exactly one signature) "
            f"mapping frames to mu and logvar. Received: signatures={sorted(signatures)}"
        )
    config: dict[str, Any] = {"format": "saved_model", "signature": sig_name, "loader": loader, **(extra or {})}
    meta = read_export_metadata(path) or {}
    if meta:
        config["exported_from"] = meta.get("source")
    decode = signatures.get("decode") if "obs_var" in meta else None
    return SavedModelEncoder(
        signatures[sig_name],
        name=name or path.resolve().name,
        sha256=sha,
        config=config,
        batch_size=batch_size,
        owner=obj,
        path=path,
        decoder_function=decode,
        beta=meta.get("beta"),
        obs_var=meta.get("obs_var"),
    )


def hub_cache_folder(handle: str) -> Path:
    """Where ``tensorflow_hub`` caches a handle: ``$TFHUB_CACHE_DIR/<sha1(handle)>``.

    Without ``TFHUB_CACHE_DIR`` the cache is ``<tmp>/tfhub_modules``, as in tensorflow_hub.
    """
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return Path(cache) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _load_hub_handle(handle: str, *, batch_size: int, unsafe: bool) -> SavedModelEncoder:
    try:
        import tensorflow_hub  # noqa: F401
    except ImportError as exc:
        raise DependencyError(
            f"Loading the TF Hub handle {handle!r} needs tensorflow_hub: pip install 'featkit[hub]'."
        ) from exc
    if os.environ.get("TFHUB_MODEL_LOAD_FORMAT", "").upper() == "UNCOMPRESSED":
        raise EncoderError(
            f"TF Hub handle {handle!r}: TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED reads models from the network, "
            "and featkit never downloads. Unset it to load from the local cache."
        )
    folder = hub_cache_folder(handle)
    complete = folder.is_dir() and any(folder.iterdir()) and not Path(f"{folder}.lock").exists()
    if not complete or not ((folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file()):
        cache = os.environ.get("TFHUB_CACHE_DIR")
        where = (
            f"TFHUB_CACHE_DIR={cache}" if cache else "TFHUB_CACHE_DIR is not set, so the cache is " + str(folder.parent)
        )
        raise EncoderError(
            f"TF Hub handle {handle!r} is not in the local TF Hub cache ({where}; looked for a SavedModel in "
            f"{folder}). featkit never downloads models. On a machine with network access run "
            f"`python -c \"import tensorflow_hub as hub; hub.resolve('{handle}')\"` with the same TFHUB_CACHE_DIR "
            "and copy the cache here, or pass the model's local folder as --encoder."
        )
    return _load_saved_model(
        folder, batch_size=batch_size, unsafe=unsafe, name=handle, extra={"format": "tfhub", "handle": handle}
    )
