"""Loading and exporting encoders: SavedModels, TF Hub, safety, and models that do not fit.

Everything is real: the shipped Keras model, SavedModels written by ``tf.saved_model.save``
and read by ``tensorflow_hub.load``, ``.keras`` files with Lambda layers, pickles, videos.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from featkit.cli import main
from featkit.encoders import load_encoder
from featkit.encoders.export import export_encoder
from featkit.encoders.loading import spec_kind
from featkit.encoders.safety import scan_saved_model
from featkit.encoders.savedmodel import EXPORT_METADATA, tree_sha256
from featkit.exceptions import ConfigError, EncoderError, UnsafeEncoderError
from tests import videofactory as vf


@pytest.fixture(scope="module")
def encoder(keras_encoder):
    """Exports are written from the Keras model, so they are compared with it (not the LiteRT default)."""
    return keras_encoder


@pytest.fixture(scope="module")
def exported(encoder, tmp_path_factory) -> Path:
    """The default encoder written by ``featkit export`` (the CLI)."""
    out = tmp_path_factory.mktemp("export") / "default_sm"
    assert main(["export", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("io_videos")
    spec = {
        "square": [vf.ClipSpec("a", "moving_square", seed=1, n_frames=24, motion=(3, 1))],
        "bar": [vf.ClipSpec("a", "rotating_bar", seed=2, n_frames=24, motion=(2, 0))],
    }
    vf.make_corpus(root, spec)
    return root


def _frames(n: int = 70, seed: int = 0) -> np.ndarray:
    kinds = ("moving_square", "stripes", "rotating_bar", "noise")
    return np.concatenate([vf.pattern_frames(n // 4 + 1, 64, 64, kind=k, seed=seed + i) for i, k in enumerate(kinds)])[
        :n
    ]


# --------------------------------------------------------------------------- export and read back


def test_export_reads_back_with_tensorflow_hub_with_identical_outputs(encoder, exported):
    hub = pytest.importorskip("tensorflow_hub")
    obj = hub.load(str(exported))
    sig = obj.signatures["serving_default"]
    _, inputs = sig.structured_input_signature
    assert list(inputs) == ["frames"]
    assert inputs["frames"].shape.as_list() == [None, 64, 64, 3]
    assert inputs["frames"].dtype == tf.float32
    assert sorted(sig.structured_outputs) == ["logvar", "mu"]
    x = _frames(40).astype(np.float32) / 255.0
    got = sig(frames=tf.constant(x))
    want_mu, want_lv = tf.function(lambda v: encoder.model(v, training=False))(x)
    # Same kernels on the same input: not close, equal.
    np.testing.assert_array_equal(got["mu"].numpy(), want_mu.numpy())
    np.testing.assert_array_equal(got["logvar"].numpy(), want_lv.numpy())
    # The VAE's decoder comes along as a second signature.
    z = np.random.default_rng(0).standard_normal((5, encoder.latent_dim)).astype(np.float32)
    want = tf.function(lambda v: encoder.decoder(v, training=False))(z).numpy()
    np.testing.assert_array_equal(obj.signatures["decode"](z=tf.constant(z))["frames"].numpy(), want)


def test_export_metadata_names_the_source(encoder, exported):
    meta = json.loads((exported / EXPORT_METADATA).read_text())
    assert meta["source"] == json.loads(json.dumps(encoder.identity()))
    assert meta["signatures"]["serving_default"]["outputs"]["mu"]["shape"] == [None, encoder.latent_dim]
    assert meta["obs_var"] == encoder.obs_var


def test_saved_model_encoder_matches_the_default_bit_for_bit(encoder, exported):
    sm = load_encoder(str(exported), batch_size=64)
    assert spec_kind(str(exported)) == "saved_model"
    assert (sm.input_size, sm.latent_dim) == (encoder.input_size, encoder.latent_dim)
    frames = _frames(70)
    for got, want in zip(sm.encode(frames), encoder.encode(frames), strict=True):
        np.testing.assert_array_equal(got, want)
    ident = sm.identity()
    assert ident["sha256"] == tree_sha256(exported)
    assert ident["config"]["format"] == "saved_model"
    assert ident["config"]["exported_from"]["sha256"] == encoder.identity()["sha256"]
    assert sm.has_decoder
    z = encoder.encode(frames[:3])[0]
    np.testing.assert_array_equal(sm.decode(z), encoder.decode(z))
    np.testing.assert_array_equal(sm.score(frames[:3]), encoder.score(frames[:3]))


def test_extract_with_exported_folder_gives_the_default_features(encoder, exported, small_tree, tmp_path):
    import h5py

    a, b = tmp_path / "default.h5", tmp_path / "exported.h5"
    assert main(["extract", str(small_tree), "-o", str(a), "-q", "--clip-len", "4", "--runtime", "keras"]) == 0
    assert main(["extract", str(small_tree), "-o", str(b), "-q", "--clip-len", "4", "--encoder", str(exported)]) == 0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fa["features"].shape[0] > 0
        np.testing.assert_array_equal(fa["features"][()], fb["features"][()])
        enc = json.loads(fb.attrs["encoder"])
    assert enc["name"] == exported.name
    assert enc["sha256"] == tree_sha256(exported)
    assert enc["config"]["format"] == "saved_model"
    # Another encoder on the same output is refused (resume compares the encoder identity).
    assert main(["extract", str(small_tree), "-o", str(a), "-q", "--clip-len", "4", "--encoder", str(exported)]) == 2


def test_export_refuses_an_existing_folder_unless_overwrite(exported, tmp_path):
    out = tmp_path / "again"
    export_encoder("default", out)
    with pytest.raises(ConfigError, match="exists"):
        export_encoder("default", out)
    assert main(["export", "-o", str(out)]) == 2
    before = tree_sha256(out)
    assert main(["export", "-o", str(out), "--overwrite"]) == 0
    assert (out / "saved_model.pb").is_file()
    assert tree_sha256(out) != before  # rewritten, not left alone
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_tree_sha256_follows_contents_not_location(exported, tmp_path):
    copy = shutil.copytree(exported, tmp_path / "elsewhere")
    assert tree_sha256(copy) == tree_sha256(exported)
    (copy / "assets.extra" / "note.txt").write_text("x")
    assert tree_sha256(copy) != tree_sha256(exported)


# --------------------------------------------------------------------------- TF Hub handles


def test_hub_handle_loads_from_the_local_cache_only(encoder, exported, tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_hub")
    handle = "https://tfhub.dev/featkit-tests/vae-encoder/1"
    cache = tmp_path / "hub_cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    with pytest.raises(EncoderError, match="not in the local TF Hub cache") as err:
        load_encoder(handle)
    assert "TFHUB_CACHE_DIR=" + str(cache) in str(err.value)
    assert "never downloads" in str(err.value)
    # What tensorflow_hub would have written after hub.resolve(handle) on a connected machine.
    shutil.copytree(exported, cache / hashlib.sha1(handle.encode()).hexdigest())
    enc = load_encoder(handle)
    assert enc.identity()["name"] == handle
    assert enc.identity()["config"]["handle"] == handle
    assert enc.identity()["config"]["loader"] == "tensorflow_hub.load"
    frames = _frames(10)
    np.testing.assert_array_equal(enc.encode(frames)[0], encoder.encode(frames)[0])


def test_unsupported_handles_and_folders_are_named(tmp_path):
    with pytest.raises(EncoderError, match="unsupported scheme"):
        load_encoder("ftp://example.org/model")
    with pytest.raises(EncoderError, match="neither 'default' nor an existing file or folder"):
        load_encoder(str(tmp_path / "missing.keras"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "weights.bin").write_bytes(b"\0")
    with pytest.raises(EncoderError, match=r"not a SavedModel: expected a saved_model.pb inside"):
        load_encoder(str(tmp_path / "empty"))
    (tmp_path / "tf1").mkdir()
    (tmp_path / "tf1" / "tfhub_module.pb").write_bytes(b"")
    with pytest.raises(EncoderError, match="TF1 Hub module"):
        load_encoder(str(tmp_path / "tf1"))
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(EncoderError, match="legacy HDF5 model"):
        load_encoder(str(h5))


# --------------------------------------------------------------------------- safety


def _lambda_model(path: Path) -> Path:
    inp = keras.Input((16, 16, 3))
    h = keras.layers.Flatten()(inp)
    mu = keras.layers.Lambda(lambda t: t * 2.0, name="double")(keras.layers.Dense(4, name="mu_dense")(h))
    logvar = keras.layers.Dense(4, name="logvar")(h)
    keras.Model(inp, [mu, logvar]).save(path)
    return path


def test_keras_file_with_a_lambda_layer_is_refused_then_loads_with_unsafe(tmp_path):
    path = _lambda_model(tmp_path / "lambda.keras")
    with pytest.raises(UnsafeEncoderError, match="Lambda layer 'double'") as err:
        load_encoder(str(path))
    assert "--unsafe" in str(err.value)
    assert main(["extract", str(tmp_path), "-o", str(tmp_path / "f.h5"), "-q", "--encoder", str(path)]) == 2
    enc = load_encoder(str(path), unsafe=True, batch_size=8)
    assert enc.identity()["config"]["safe_mode"] is False
    frames = vf.pattern_frames(3, 16, 16, seed=1)
    mu, _ = enc.encode(frames)
    dense = enc.model.get_layer("mu_dense")
    want = 2.0 * np.asarray(dense(keras.layers.Flatten()(frames.astype(np.float32) / 255.0)))
    np.testing.assert_allclose(mu, want, rtol=1e-6, atol=1e-6)  # the lambda really ran


class _TouchOnLoad:
    """Unpickling this creates a file: what a malicious pickle would do, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "disguised.keras", "noext"])
def test_pickles_are_never_loaded(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_TouchOnLoad(marker), protocol=4))
    for unsafe in (False, True):
        with pytest.raises(UnsafeEncoderError, match="never unpickles"):
            load_encoder(str(path), unsafe=unsafe)
    assert not marker.exists()


def _write_file_saved_model(folder: Path, marker: Path) -> Path:
    """A SavedModel whose serving signature writes a file each time it runs."""
    model = _tiny_encoder()
    root = tf.Module()
    spec = tf.TensorSpec((None, 16, 16, 3), tf.float32, name="frames")

    @tf.function(input_signature=[spec])
    def serve(frames):
        tf.io.write_file(str(marker), "written by a model")
        mu, logvar = model(frames)
        return {"mu": mu, "logvar": logvar}

    root.serve = serve
    root.model = model
    tf.saved_model.save(root, str(folder), signatures={"serving_default": serve.get_concrete_function()})
    return folder


def test_saved_model_with_file_ops_is_refused_before_loading(tmp_path):
    marker = tmp_path / "written.txt"
    folder = _write_file_saved_model(tmp_path / "writer", marker)
    assert any(p.startswith("WriteFile in ") for p in scan_saved_model(folder))
    with pytest.raises(UnsafeEncoderError, match="WriteFile") as err:
        load_encoder(str(folder))
    assert "--unsafe" in str(err.value)
    assert not marker.exists()
    enc = load_encoder(str(folder), unsafe=True, batch_size=4)
    enc.encode(vf.pattern_frames(2, 16, 16, seed=0))
    assert marker.read_text() == "written by a model"  # the op the scan found is real


def test_clean_saved_model_passes_the_scan(exported):
    assert scan_saved_model(exported) == []


# --------------------------------------------------------------------------- models that do not fit


def _tiny_encoder(size: int = 16, d: int = 4) -> keras.Model:
    inp = keras.Input((size, size, 3), name="frames")
    h = keras.layers.Flatten()(inp)
    return keras.Model(inp, [keras.layers.Dense(d, name="mu")(h), keras.layers.Dense(d, name="logvar")(h)])


def _unfit_keras(kind: str) -> keras.Model:
    if kind == "grey":
        inp = keras.Input((16, 16, 1))
    elif kind == "not_square":
        inp = keras.Input((16, 24, 3))
    elif kind == "uint8":
        inp = keras.Input((16, 16, 3), dtype="uint8")
    else:
        inp = keras.Input((16, 16, 3))
    h = keras.layers.Flatten()(keras.layers.Rescaling(1.0)(inp) if kind == "uint8" else inp)
    if kind == "one_output":
        return keras.Model(inp, keras.layers.Dense(4)(h))
    if kind == "shapes_differ":
        return keras.Model(inp, [keras.layers.Dense(4)(h), keras.layers.Dense(3)(h)])
    if kind == "dict":
        return keras.Model(inp, {"mu": keras.layers.Dense(4)(h), "logvar": keras.layers.Dense(4)(h)})
    if kind == "two_inputs":
        other = keras.Input((16, 16, 3))
        h = keras.layers.Flatten()(keras.layers.Add()([inp, other]))
        return keras.Model([inp, other], [keras.layers.Dense(4)(h), keras.layers.Dense(4)(h)])
    return keras.Model(inp, [keras.layers.Dense(4)(h), keras.layers.Dense(4)(h)])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("grey", r"square RGB frames of shape \(None, S, S, 3\). Received: input shape=\(None, 16, 16, 1\)"),
        ("not_square", r"Received: input shape=\(None, 16, 24, 3\)"),
        ("uint8", r"float frames in \[0, 1\].*Received: input dtype=uint8"),
        ("one_output", r"two outputs \[mu, logvar\].*Received: output shapes=\[\(None, 4\)\]"),
        ("shapes_differ", r"Received: output shapes=\[\(None, 4\), \(None, 3\)\]"),
        ("dict", r"list \[mu, logvar\], not a dict. Received: outputs named \['logvar', 'mu'\]"),
        ("two_inputs", r"one input.*Received: 2 inputs"),
    ],
)
def test_unfit_keras_files_say_what_was_expected_and_found(tmp_path, kind, message):
    path = tmp_path / f"{kind}.keras"
    _unfit_keras(kind).save(path)
    with pytest.raises(EncoderError, match=message):
        load_encoder(str(path))


def _saved_model(folder: Path, kind: str) -> tuple[Path, keras.Model]:
    model = _tiny_encoder()
    root = tf.Module()
    root.model = model
    size = None if kind == "any_size" else 16
    channels = 1 if kind == "grey" else 3
    spec = tf.TensorSpec((None, size, size, channels), tf.float32, name="frames")

    def body(frames):
        x = tf.image.resize(tf.image.grayscale_to_rgb(frames) if channels == 1 else frames, (16, 16))
        mu, logvar = model(x)
        if kind == "unnamed":
            return {"output_0": mu, "output_1": logvar}
        if kind == "shapes_differ":
            return {"mu": mu, "logvar": logvar[:, :3]}
        return {"mu": mu, "logvar": logvar}

    root.serve = tf.function(body, input_signature=[spec])
    sigs = {"serving_default": root.serve.get_concrete_function()}
    if kind == "two_signatures":
        root.other = tf.function(body, input_signature=[spec])
        sigs = {"a": root.serve.get_concrete_function(), "b": root.other.get_concrete_function()}
    tf.saved_model.save(root, str(folder), signatures=sigs)
    return folder, model


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unnamed", r"outputs named 'mu' and 'logvar'.*Received: outputs=\{'output_0': \(None, 4\), 'output_1'"),
        ("any_size", r"fixed size, shape \(None, S, S, 3\).*Received: input 'frames' of shape \(None, None, None, 3\)"),
        ("grey", r"Received: input 'frames' of shape \(None, 16, 16, 1\)"),
        ("shapes_differ", r"same shape \(None, d\).*Received: mu=\(None, 4\), logvar=\(None, 3\)"),
        ("two_signatures", r"'serving_default' signature.*Received: signatures=\['a', 'b'\]"),
    ],
)
def test_unfit_saved_models_say_what_was_expected_and_found(tmp_path, kind, message):
    folder, _ = _saved_model(tmp_path / kind, kind)
    with pytest.raises(EncoderError, match=message):
        load_encoder(str(folder))


def test_a_fitting_foreign_saved_model_loads(tmp_path):
    folder, model = _saved_model(tmp_path / "ok", "ok")
    enc = load_encoder(str(folder), batch_size=4)
    frames = vf.pattern_frames(6, 16, 16, seed=3)
    mu, logvar = enc.encode(frames)
    want_mu, want_lv = model(frames.astype(np.float32) / 255.0)
    np.testing.assert_allclose(mu, np.asarray(want_mu), atol=1e-6)
    np.testing.assert_allclose(logvar, np.asarray(want_lv), atol=1e-6)
    assert not enc.has_decoder
    with pytest.raises(EncoderError, match="expects uint8 frames of shape"):
        enc.encode(frames.astype(np.float32))


def test_names_keep_the_import_paths_they_had_before_the_format_modules():
    """loading and export re-export what lived there before savedmodel, safety and hub existed."""
    import featkit.encoders
    from featkit.encoders import export, loading, safety, savedmodel

    for name in ("scan_keras_file", "scan_saved_model"):
        assert getattr(loading, name) is getattr(safety, name), name
    for name in ("SavedModelEncoder", "tree_sha256", "MU_NAMES", "LOGVAR_NAMES"):
        assert getattr(loading, name) is getattr(savedmodel, name), name
    for name in ("EXPORT_METADATA", "serving_module", "write_saved_model"):
        assert getattr(export, name) is getattr(savedmodel, name), name
    assert loading.resolve_encoder is loading.load_encoder is featkit.encoders.load_encoder
    assert featkit.encoders.export_encoder is export.export_encoder


def test_the_encoder_package_and_its_dispatch_import_no_tensorflow():
    code = (
        "import sys, featkit.encoders, featkit.encoders.loading, featkit.encoders.export, featkit.encoders.hub; "
        "print([m for m in ('tensorflow', 'keras', 'tensorflow_hub') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
