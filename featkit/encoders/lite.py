"""The LiteRT runtime: TensorFlow Lite encoders run on CPU without importing TensorFlow.

Importing TensorFlow and building the Keras model takes ~3.7 s on a 2-core machine,
longer than extracting a short video. The shipped default encoder therefore also ships
as a float32 TensorFlow Lite flatbuffer (``weights/default.tflite``), converted from the
same weights by the recipe (``benchmarks/build_default_tflite.py``), and ``featkit
extract`` runs it through the LiteRT interpreter (``ai_edge_litert``, XNNPACK kernels):
import and load take ~10 ms. Measured against the Keras graph (the model card's
``runtimes.litert`` entry): posterior means agree to ~4e-6, features are bit-identical
across batch sizes, thread counts and fresh processes, and the runtime is part of the
encoder's identity, so a file is never extended with features from the other runtime.

The VAE's decoder ships the same way (``weights/default_decoder.tflite``, card entry
``runtimes.litert.decoder``): default extraction scores one frame per clip with it (the
``polarity`` statistic), so it too must not import TensorFlow. Frames decoded by LiteRT
agree with the Keras decoder's to ~4e-7 and are bit-identical across batch sizes and
thread counts. A package without that file decodes with Keras, loaded on first use.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Options, validate_params
from featkit.config import RUNTIMES
from featkit.encoders.base import Encoder
from featkit.exceptions import ConfigError, DependencyError, EncoderError

__all__ = [
    "DEFAULT_DECODER_TFLITE_PATH",
    "DEFAULT_TFLITE_PATH",
    "RUNTIMES",
    "LiteRTDecoder",
    "LiteRTEncoder",
    "interpreter_runtime",
    "load_default_litert",
    "model_encoder",
    "resolve_runtime",
    "usable_cpus",
]


#: The shipped default's float32 flatbuffer (beside its Keras weights).
DEFAULT_TFLITE_PATH = Path(__file__).resolve().parent / "weights" / "default.tflite"
#: The shipped default's decoder as a float32 flatbuffer (signature ``decode``: z -> frames).
DEFAULT_DECODER_TFLITE_PATH = DEFAULT_TFLITE_PATH.with_name("default_decoder.tflite")


def interpreter_runtime() -> tuple[Any, str]:
    """The TensorFlow Lite interpreter class to use and its name with version.

    LiteRT (``ai_edge_litert``, a featkit dependency) when installed; else
    ``tf.lite.Interpreter`` (deprecated in its favour; imports TensorFlow).
    """
    try:
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, f"ai-edge-litert {version('ai-edge-litert')}"
    except ImportError:
        import tensorflow as tf

        interpreter = getattr(getattr(tf, "lite", None), "Interpreter", None)
        if interpreter is None:  # TensorFlow announced its removal in favour of LiteRT
            raise DependencyError(
                "Running a TensorFlow Lite encoder needs an interpreter, and this TensorFlow "
                f"({tf.__version__}) has none: pip install ai-edge-litert"
            ) from None
        return interpreter, f"tf.lite.Interpreter (tensorflow {tf.__version__})"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads_beside(n_jobs: int) -> int:
    """Interpreter threads for a process whose ``n_jobs`` decode workers each keep a core busy.

    The cores the workers leave, at least one, so that the interpreter's threads do not take turns with
    the decoders (on a 16-core machine at ``-j 8``: 8, not 16). Measured on 2 cores, 60 short clips at
    ``-j 2``: 15.5 / 16.2 s with 2 threads against 14.6 / 15.0 s with 1 while 4 videos were in flight
    per worker; with 16 in flight, 10.4 / 9.9 s against 10.6 / 9.6 s (no difference). Results do not
    depend on the thread count.
    """
    return max(1, usable_cpus() - int(n_jobs))


class LiteRTEncoder(Encoder):
    """Run a TensorFlow Lite encoder (frames in [0, 1] -> ``{"mu", "logvar"}``) on uint8 frames, on CPU.

    Batches have exactly ``batch_size`` frames (the last one zero-padded), as for the
    Keras encoders, so a frame's features do not depend on its batch. Subclasses say
    what the model is (:meth:`identity`) and where a decoder comes from.

    Parameters
    ----------
    model : bytes
        The ``.tflite`` flatbuffer, with a ``serving_default`` signature frames -> mu, logvar.
    name : str
    input_size, latent_dim : int
    batch_size : int, default=64
    num_threads : int, optional
        Interpreter threads; defaults to the CPUs this process may use. Results do not
        depend on it.
    what : str, default="TensorFlow Lite model"
        How error messages name the model.

    """

    def __init__(
        self,
        model: bytes,
        *,
        name: str,
        input_size: int,
        latent_dim: int,
        batch_size: int = 64,
        num_threads: int | None = None,
        what: str = "TensorFlow Lite model",
    ) -> None:
        self.model_bytes = bytes(model)
        super().__init__(name=name, sha256=hashlib.sha256(self.model_bytes).hexdigest(), batch_size=batch_size)
        self.input_size, self.latent_dim = int(input_size), int(latent_dim)
        self.num_threads = int(num_threads or usable_cpus())
        self._what = what
        self._Interpreter, self.runtime = interpreter_runtime()
        self._lock = threading.Lock()  # a TFLite interpreter must not run two calls at once
        self._interpreter = self._new_interpreter()
        sigs = self._interpreter.get_signature_list()
        sig = sigs.get("serving_default")
        if sig is None or sig.get("inputs") != ["frames"] or sorted(sig.get("outputs", [])) != ["logvar", "mu"]:
            raise EncoderError(
                f"The {what} of {name!r} must have a serving_default signature frames -> mu, logvar. "
                f"Received: signatures={sigs}"
            )

    def _new_interpreter(self) -> Any:
        with warnings.catch_warnings():
            # tf.lite.Interpreter warns that it moves to ai_edge_litert; it still ships and works in TF 2.21.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            try:
                return self._Interpreter(model_content=self.model_bytes, num_threads=self.num_threads)
            except (ValueError, RuntimeError) as exc:
                raise EncoderError(f"The {self._what} of {self.name!r} cannot be loaded: {exc}") from exc

    @cached_property
    def _runner(self) -> Any:
        runner = self._interpreter.get_signature_runner("serving_default")
        size = self.input_size
        # Resize once to the fixed batch: every call then reuses the same buffers.
        try:
            out = runner(frames=np.zeros((self.batch_size, size, size, 3), dtype=np.float32))
        except (ValueError, RuntimeError) as exc:
            raise EncoderError(
                f"The {self._what} of {self.name!r} does not take frames of shape (n, {size}, {size}, 3): {exc}"
            ) from exc
        shapes = {k: tuple(v.shape) for k, v in out.items()}
        if any(s != (self.batch_size, self.latent_dim) for s in shapes.values()):
            raise EncoderError(
                f"The {self._what} of {self.name!r} must return mu and logvar of shape (n, {self.latent_dim}). "
                f"Received: {shapes}"
            )
        return runner

    #: Whether a call of fewer than ``batch_size`` frames may run on a smaller fixed batch (the next power of
    #: two, from 1): only where outputs were shown not to depend on the batch (float32 XNNPACK; tested).
    #: A 6-frame clip then costs one 8-frame pass, not a 64-frame one (~16 ms), and polarity's one negative
    #: frame a 1-row pass (0.5 ms, against 2.1-2.8 ms padded to 8): the per-video overhead.
    small_batches = False

    def _runner_for(self, batch: int) -> Any:
        if batch == self.batch_size:
            return self._runner
        runners = self.__dict__.setdefault("_small_runners", {})
        if batch not in runners:
            interpreter = self._new_interpreter()
            runner = interpreter.get_signature_runner("serving_default")
            size = self.input_size
            runner(frames=np.zeros((batch, size, size, 3), dtype=np.float32))
            runners[batch] = (interpreter, runner)  # the interpreter must outlive its runner
        return runners[batch][1]

    def _batch_rows(self, n: int) -> int:
        return self._power_of_two_rows(n, 1) if self.small_batches else self.batch_size

    def _power_of_two_rows(self, n: int, smallest: int) -> int:
        """The next power of two at or above ``n`` (at least ``smallest``, at most ``batch_size``)."""
        return min(self.batch_size, max(smallest, 1 << (max(n, 1) - 1).bit_length()))

    def _encode_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The same cast and scale as the Keras graph (IEEE division is correctly rounded in both).
        out = self._runner_for(len(batch))(frames=batch.astype(np.float32) / np.float32(255.0))
        return out["mu"], out["logvar"]

    def encode(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode uint8 frames of shape (n, S, S, 3) to ``(mu, logvar)``, each (n, d) float32."""
        with self._lock:
            return super().encode(frames)

    def identity(self) -> dict[str, Any]:
        """Name, the flatbuffer's sha256, input and latent size."""
        return self._identity(self.sha256, runtime="litert")

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} input={self.input_size}px latent={self.latent_dim} ({self.runtime})>"
        )


class LiteRTDecoder:
    """A VAE decoder as a TensorFlow Lite model (signature ``decode``: z (n, d) -> ``{"frames"}`` in [0, 1]).

    Parameters
    ----------
    model : bytes
        The ``.tflite`` flatbuffer.
    latent_dim, input_size : int
        What it decodes from and to.
    num_threads : int, optional
        Interpreter threads; defaults to the CPUs this process may use (results do not depend on it).

    """

    def __init__(self, model: bytes, *, latent_dim: int, input_size: int, num_threads: int | None = None) -> None:
        self.model_bytes = bytes(model)
        self.sha256 = hashlib.sha256(self.model_bytes).hexdigest()
        self.latent_dim, self.input_size = int(latent_dim), int(input_size)
        self.num_threads = int(num_threads or usable_cpus())
        self._Interpreter, _ = interpreter_runtime()
        self._lock = threading.Lock()
        self._runners: dict[int, tuple[Any, Any]] = {}  # rows -> (interpreter, runner): one per batch size

    def _runner(self, rows: int) -> Any:
        if rows not in self._runners:
            try:
                interpreter = self._Interpreter(model_content=self.model_bytes, num_threads=self.num_threads)
                runner = interpreter.get_signature_runner("decode")
                out = runner(z=np.zeros((rows, self.latent_dim), dtype=np.float32))
            except (ValueError, RuntimeError) as exc:
                raise EncoderError(f"The shipped LiteRT decoder cannot be loaded: {exc}") from exc
            shape = tuple(out.get("frames", np.zeros(0)).shape)
            if shape != (rows, self.input_size, self.input_size, 3):
                raise EncoderError(
                    f"The shipped LiteRT decoder must map z (n, {self.latent_dim}) to frames "
                    f"(n, {self.input_size}, {self.input_size}, 3). Received: {shape}"
                )
            self._runners[rows] = (interpreter, runner)  # the interpreter must outlive its runner
        return self._runners[rows][1]

    def decode_batch(self, z: np.ndarray) -> np.ndarray:
        """Decode one batch of latents (n, d) float32 to frames (n, S, S, 3) float32."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        with self._lock:
            return np.array(self._runner(len(z))(z=z)["frames"])


class DefaultLiteRTEncoder(LiteRTEncoder):
    """The shipped default VAE's encoder run by LiteRT; its decoder (Keras) loads on first use.

    The identity is the Keras default's plus ``runtime="litert"`` and the flatbuffer's
    hash, so files record which runtime made their features.
    """

    small_batches = True

    def __init__(
        self,
        model: bytes,
        *,
        card: dict[str, Any],
        weights_sha256: str,
        batch_size: int = 64,
        num_threads: int | None = None,
    ) -> None:
        arch = card["architecture"]
        super().__init__(
            model,
            name=card.get("name", "featkit-default"),
            input_size=arch["input_size"],
            latent_dim=arch["latent_dim"],
            batch_size=batch_size,
            num_threads=num_threads,
            what="shipped LiteRT model",
        )
        self.card_architecture = dict(arch)
        self.weights_sha256 = weights_sha256
        self.converter = card.get("runtimes", {}).get("litert", {}).get("converter", "unknown")
        self.has_decoder = True
        self.beta, self.obs_var = float(arch.get("beta", 1.0)), float(arch["obs_var"])

        self.lite_decoder = _shipped_decoder(card, weights_sha256, self.latent_dim, self.input_size, self.num_threads)

    @cached_property
    def keras_encoder(self) -> Encoder:
        """The same model on the Keras runtime (loaded on first use; imports TensorFlow)."""
        from featkit.encoders.keras_encoder import load_keras_encoder

        return load_keras_encoder("default", batch_size=self.batch_size)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode with the shipped LiteRT decoder, or the Keras one where the package has none (imports TensorFlow)."""
        if self.lite_decoder is None:
            return self.keras_encoder.decode(z)
        return super().decode(z)

    def _decode_rows(self, n: int) -> int:
        if self.lite_decoder is None:
            return self._batch_rows(n)
        # The next power of two, from 1: the decoder is ~7x the encoder's cost per row, and polarity decodes
        # two rows per clip (a padded batch of 8 cost ~17 ms a video). Outputs do not depend on the batch
        # (model card: bit-identical at 1, 2, 8 and 64 rows; tests/integration/test_polarity.py).
        return self._power_of_two_rows(n, 1)

    def _decode_batch(self, z: np.ndarray) -> np.ndarray:
        return self.lite_decoder.decode_batch(z)

    def identity(self) -> dict[str, Any]:
        """The Keras default's identity plus ``runtime`` and the flatbuffers' provenance."""
        litert = {"tflite_sha256": self.sha256, "converter": self.converter}
        if self.lite_decoder is not None:
            litert["decoder_tflite_sha256"] = self.lite_decoder.sha256
        return self._identity(
            self.weights_sha256, config={"architecture": self.card_architecture}, runtime="litert", litert=litert
        )


def _shipped_decoder(
    card: dict[str, Any], weights_sha256: str, latent_dim: int, input_size: int, num_threads: int | None = None
) -> LiteRTDecoder | None:
    """The shipped LiteRT decoder when the card vouches for it (same weights, same bytes), else None (Keras decodes)."""
    entry = card.get("runtimes", {}).get("litert", {}).get("decoder")
    if entry is None or not DEFAULT_DECODER_TFLITE_PATH.is_file() or entry.get("weights_sha256") != weights_sha256:
        return None
    data = DEFAULT_DECODER_TFLITE_PATH.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("tflite_sha256"):
        return None
    return LiteRTDecoder(data, latent_dim=latent_dim, input_size=input_size, num_threads=num_threads)


def load_default_litert(batch_size: int = 64, num_threads: int | None = None) -> DefaultLiteRTEncoder:
    """The shipped default encoder on the LiteRT runtime (no TensorFlow import).

    ``num_threads``: interpreter threads of its encoder and decoder (default: the CPUs this process may use).

    Raises
    ------
    EncoderError
        If the shipped flatbuffer is missing, or the model card says it was converted
        from other weights than those shipped (a retrained default whose LiteRT model
        was not rebuilt).

    """
    from featkit.encoders.keras_encoder import DEFAULT_WEIGHTS_PATH, default_model_card
    from featkit.files import sha256_of

    card = default_model_card()
    entry = card.get("runtimes", {}).get("litert")
    rebuild = "Rebuild it with `python -m benchmarks.build_default_tflite`, or pass --runtime keras."
    if entry is None or not DEFAULT_TFLITE_PATH.is_file():
        raise EncoderError(f"The default encoder's LiteRT model is missing ({DEFAULT_TFLITE_PATH}). {rebuild}")
    weights_sha = sha256_of(DEFAULT_WEIGHTS_PATH)
    data = DEFAULT_TFLITE_PATH.read_bytes()
    if entry.get("weights_sha256") != weights_sha or entry.get("tflite_sha256") != hashlib.sha256(data).hexdigest():
        raise EncoderError(
            f"The default encoder's LiteRT model ({DEFAULT_TFLITE_PATH.name}) does not belong to the shipped "
            f"weights (sha256 {weights_sha[:12]}…): its model card entry names other files. {rebuild}"
        )
    return DefaultLiteRTEncoder(
        data, card=card, weights_sha256=weights_sha, batch_size=batch_size, num_threads=num_threads
    )


def resolve_runtime(spec: str, precision: str, runtime: str) -> str:
    """The runtime a load will use: ``"litert"`` or ``"keras"`` (``auto``: LiteRT for the default at float32).

    Raises
    ------
    ConfigError
        If ``runtime`` is unknown, or ``"litert"`` is asked of an encoder that has no LiteRT model.

    """
    validate_params("load_encoder", {"runtime": [Options(RUNTIMES)]}, {"runtime": runtime})
    if precision != "float32":
        return "litert"  # the float16 / int8 variants always run on the TensorFlow Lite interpreter
    if os.fspath(spec) != "default":
        if runtime == "litert":
            raise ConfigError(
                "The 'runtime' parameter can be 'litert' only for the default encoder (it ships a LiteRT model). "
                f"Got runtime='litert' with encoder={spec!r}; use --precision float16 or int8 for a TensorFlow "
                "Lite variant of another encoder."
            )
        return "keras"
    if runtime == "auto":
        return "litert" if DEFAULT_TFLITE_PATH.is_file() else "keras"
    return runtime


def model_encoder(encoder: Encoder) -> Encoder:
    """The encoder whose model ``encoder`` runs: the Keras one behind the LiteRT default, else ``encoder``.

    What export and the float16/int8 conversions start from, so their output and
    identity do not depend on the runtime the source was loaded on.
    """
    return encoder.keras_encoder if isinstance(encoder, DefaultLiteRTEncoder) else encoder
