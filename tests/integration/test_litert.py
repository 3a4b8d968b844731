"""The LiteRT runtime of the shipped default: fast start, deterministic, close to Keras, recorded in the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from featkit import ExtractionConfig, extract
from featkit.cli import main
from featkit.encoders import lite, load_encoder
from featkit.encoders.keras_encoder import DEFAULT_CONFIG_PATH
from featkit.exceptions import ConfigError, EncoderError
from tests import videofactory as vf
from tests.natural_frames import natural_frames

# Measured by benchmarks/build_default_tflite.py (model card runtimes.litert): max |Δμ| ~1e-5 on photos.
DRIFT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("litert_videos")
    spec = {
        "pan": [vf.ClipSpec("a", "moving_square", seed=3, n_frames=32, motion=(3, 1), height=96, width=128)],
        "bar": [vf.ClipSpec("b", "rotating_bar", seed=4, n_frames=24, motion=(2, 0), fmt="mpeg4_avi")],
    }
    vf.make_corpus(root, spec)
    return root


def test_default_runs_on_litert_and_records_it(encoder):
    assert isinstance(encoder, lite.DefaultLiteRTEncoder)
    ident = encoder.identity()
    assert ident["runtime"] == "litert"
    card = json.loads(DEFAULT_CONFIG_PATH.read_text())["runtimes"]["litert"]
    assert ident["litert"]["tflite_sha256"] == card["tflite_sha256"] == encoder.sha256
    assert ident["sha256"] == card["weights_sha256"]  # converted from exactly the shipped weights


def test_litert_stays_within_the_stated_drift_of_keras(encoder, keras_encoder):
    frames = np.concatenate([natural_frames(40, seed=s, pan=(s - 2, 1)) for s in range(4)])
    for got, want in zip(encoder.encode(frames), keras_encoder.encode(frames), strict=True):
        assert np.abs(got - want).max() < DRIFT_TOLERANCE
    ident_k, ident_l = keras_encoder.identity(), encoder.identity()
    assert "runtime" not in ident_k  # Keras identities are what files held before LiteRT
    assert {k: v for k, v in ident_l.items() if k not in ("runtime", "litert")} == ident_k


def test_litert_is_batch_and_thread_independent(encoder):
    frames = natural_frames(70, seed=7)
    data = lite.DEFAULT_TFLITE_PATH.read_bytes()
    ref = encoder.encode(frames)
    for batch_size, threads in ((1, 1), (8, 2), (16, 2), (32, 1), (256, 1)):
        other = lite.LiteRTEncoder(
            data, name="x", input_size=64, latent_dim=encoder.latent_dim, batch_size=batch_size, num_threads=threads
        )
        for got, want in zip(other.encode(frames), ref, strict=True):
            np.testing.assert_array_equal(got, want)
    # A frame's features do not depend on its neighbours, nor on the smaller batch a short call runs on.
    np.testing.assert_array_equal(encoder.encode(frames[5:6])[0][0], ref[0][5])
    for n in (3, 9, 17, 40):
        np.testing.assert_array_equal(encoder.encode(frames[:n])[0], ref[0][:n])
    # Each short call ran on the next power of two from 1 (other tests may have made other sizes before).
    assert {1, 4, 16, 32} <= set(encoder._small_runners) <= {1, 2, 4, 8, 16, 32}


def test_extraction_gives_the_interpreters_the_cores_the_workers_leave(encoder, monkeypatch):
    """Encoder and decoder interpreters get the CPUs the decode workers leave (at least 1); same outputs."""
    monkeypatch.setattr(lite, "usable_cpus", lambda: 8)
    assert [lite.threads_beside(n) for n in (1, 2, 7, 8, 16)] == [7, 6, 1, 1, 1]
    one = load_encoder("default", num_threads=1)
    assert one.num_threads == one.lite_decoder.num_threads == 1
    assert load_encoder("default").num_threads == 8  # outside extract: every CPU, as before
    frames = natural_frames(12, seed=3)
    for got, want in zip(one.encode(frames), encoder.encode(frames), strict=True):
        np.testing.assert_array_equal(got, want)
    z = encoder.encode(frames)[0][:3]
    np.testing.assert_array_equal(one.decode(z), encoder.decode(z))


def test_fresh_processes_give_bit_identical_features(tree, tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"f{i}.h5"
        subprocess.run([sys.executable, "-m", "featkit", "extract", str(tree), "-o", str(out), "-q"], check=True)
        with h5py.File(out, "r") as f:
            outs.append(f["features"][()])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_extract_does_not_import_tensorflow(tree, tmp_path):
    out = tmp_path / "light.h5"
    code = (
        "import sys\nfrom featkit.cli import main\n"
        f"assert main(['extract', {str(tree)!r}, '-o', {str(out)!r}, '-q']) == 0\n"
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    with h5py.File(out, "r") as f:
        assert json.loads(f.attrs["encoder"])["runtime"] == "litert"
        assert f["features"].shape[0] > 0


def test_features_match_the_keras_runtime_closely_and_files_do_not_mix(tree, tmp_path):
    lit, ker = tmp_path / "lite.h5", tmp_path / "keras.h5"
    assert main(["extract", str(tree), "-o", str(lit), "-q"]) == 0
    assert main(["extract", str(tree), "-o", str(ker), "-q", "--runtime", "keras"]) == 0
    with h5py.File(lit, "r") as a, h5py.File(ker, "r") as b:
        fa, fb = a["features"][()], b["features"][()]
        names = [n.decode() if isinstance(n, bytes) else n for n in a["feature_names"][()]]
    assert fa.shape == fb.shape
    # The motion columns are fits to differences of μ, so they carry the drift amplified; the rest stay tight.
    motion = np.array([n.startswith("motion") for n in names])
    assert np.abs(fa[:, ~motion] - fb[:, ~motion]).max() < DRIFT_TOLERANCE
    assert np.abs(fa[:, motion] - fb[:, motion]).max() < 0.05 * (np.abs(fb[:, motion]).max() + 1)
    # Resuming a Keras-runtime file on LiteRT is refused and names the runtime; with --runtime keras it resumes.
    assert main(["extract", str(tree), "-o", str(ker), "-q"]) == 2
    assert main(["extract", str(tree), "-o", str(ker), "-q", "--runtime", "keras"]) == 0


def test_refused_runtime_requests(tmp_path):
    with pytest.raises(ConfigError, match="'runtime' parameter of ExtractionConfig"):
        ExtractionConfig(runtime="onnx")
    with pytest.raises(ConfigError, match="'runtime' parameter of load_encoder must be one of"):
        load_encoder("default", runtime="tflite")
    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="only for the default encoder"):
        load_encoder(str(model), runtime="litert")


def test_a_flatbuffer_from_other_weights_is_refused(tmp_path, monkeypatch):
    stale = tmp_path / "default.tflite"
    data = bytearray(lite.DEFAULT_TFLITE_PATH.read_bytes())
    data[-1] ^= 1
    stale.write_bytes(bytes(data))
    monkeypatch.setattr(lite, "DEFAULT_TFLITE_PATH", stale)
    with pytest.raises(EncoderError, match="does not belong to the shipped weights"):
        lite.load_default_litert()
    monkeypatch.setattr(lite, "DEFAULT_TFLITE_PATH", tmp_path / "missing.tflite")
    with pytest.raises(EncoderError, match="LiteRT model is missing"):
        lite.load_default_litert()


def test_decoder_and_scores_agree_with_keras(encoder, keras_encoder):
    """The shipped LiteRT decoder (tests/integration/test_polarity.py) stays within its card's drift of Keras."""
    frames = natural_frames(6, seed=2)
    z = keras_encoder.encode(frames)[0]
    np.testing.assert_allclose(encoder.decode(z), keras_encoder.decode(z), rtol=0, atol=1e-5)
    np.testing.assert_allclose(encoder.score(frames), keras_encoder.score(frames), rtol=1e-4)
    assert encoder.has_decoder
    assert encoder.obs_var == keras_encoder.obs_var


def test_variants_do_not_depend_on_the_runtime_they_start_from(encoder, keras_encoder, tmp_path):
    from featkit.encoders.variants import make_variant

    a = make_variant(encoder, "int8", cache_dir=tmp_path)
    b = make_variant(keras_encoder, "int8", cache_dir=tmp_path)
    assert a.identity() == b.identity()
    assert "runtime" not in a.identity()


def test_extract_python_api_defaults_to_litert(tree, tmp_path):
    report = extract(tree, tmp_path / "api.h5", ExtractionConfig(), progress=False)
    assert report.n_extracted == 2
    with h5py.File(tmp_path / "api.h5", "r") as f:
        assert json.loads(f.attrs["extraction"])["runtime"] == "auto"
