"""What loading a model file would run, found before anything is loaded.

featkit loads encoders safely by default (see :mod:`featkit.encoders.loading`):

- pickle and joblib files (and PyTorch archives of pickles) run code when unpickled, so they are
  refused always, even with ``unsafe=True``;
- Keras ``.keras`` files are scanned (their ``config.json`` only) for Lambda layers and Python
  functions, and then load in Keras ``safe_mode``;
- SavedModels are scanned as protocol buffers, *before* TensorFlow reads them, for ops that touch
  files, the network or Python (``ReadFile``, ``WriteFile``, ``PyFunc``, ...), in every function, in
  the init op loading runs, and in graphs serialised inside constants; tf.data and iterator ops
  (which run graphs given at run time) and TF1 SavedModels (whose init op loading runs from the main
  graph) are refused outright.

``unsafe=True`` (``--unsafe``) skips the scans, for files whose author the user trusts.
TensorFlow's protobuf modules are imported inside the SavedModel scan only.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from featkit.exceptions import EncoderError, UnsafeEncoderError

__all__ = [
    "PICKLE_SUFFIXES",
    "check_keras_file",
    "check_saved_model",
    "is_pickle",
    "refuse_pickle",
    "scan_keras_file",
    "scan_saved_model",
    "unsafe_message",
]

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


# --------------------------------------------------------------------------- messages


def unsafe_message(spec: str, why: str, problems: list[str]) -> str:
    """The refusal: what ``spec`` would run (the first five findings), and how to load it anyway."""
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    return (
        f"Refusing to load {spec!r}: {why} that would run with your permissions ({shown}). featkit loads "
        "encoders safely by default. If you trust the file's author, pass --unsafe (Python: unsafe=True); "
        "otherwise re-save the model without it."
    )


# --------------------------------------------------------------------------- pickles


def is_pickle(path: Path) -> bool:
    """Whether ``path`` is a pickle: by its suffix, or by its content where the suffix may hold anything."""
    return path.suffix.lower() in _PICKLE_ONLY_SUFFIXES or _looks_like_pickle(path)


def refuse_pickle(path: Path, spec: str) -> None:
    """Raise :class:`UnsafeEncoderError` if ``path`` is a pickle (never loaded, not even with ``unsafe``)."""
    if is_pickle(path):
        raise UnsafeEncoderError(
            f"Refusing to load {spec!r}: it is a pickle (or a PyTorch archive of pickles), and pickles run arbitrary "
            "code when "
            "loaded, and featkit never unpickles encoders, not even with --unsafe. Save the model with Keras "
            "(model.save('model.keras')) or as a SavedModel (featkit export)."
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


# --------------------------------------------------------------------------- Keras files


def check_keras_file(path: Path, spec: str) -> None:
    """Raise :class:`UnsafeEncoderError` if the ``.keras`` file carries Python code (see :func:`scan_keras_file`)."""
    problems = scan_keras_file(path)
    if problems:
        raise UnsafeEncoderError(unsafe_message(spec, "it carries Python code", problems))


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


def check_saved_model(path: Path) -> None:
    """Raise :class:`UnsafeEncoderError` if the SavedModel has ops featkit refuses (see :func:`scan_saved_model`)."""
    problems = scan_saved_model(path)
    if problems:
        raise UnsafeEncoderError(
            unsafe_message(
                os.fspath(path),
                "its TensorFlow graph has ops that touch files, run Python or run graphs featkit cannot check",
                problems,
            )
        )


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
