"""float16 and int8 encoder variants: real TensorFlow Lite conversions run by a real interpreter.

Drift bounds are relative to the spread of the float32 features, so they hold for any
trained default encoder, not one set of weights.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from featkit import ExtractionConfig, SamplingConfig
from featkit.cli import main, summarise
from featkit.encoders import load_encoder
from featkit.encoders.export import export_encoder
from featkit.encoders.variants import TFLiteEncoder, make_variant, variant_cache_dir
from featkit.exceptions import ConfigError, EncoderError, StoreMismatchError
from featkit.extraction import extract
from featkit.sklearn import load_features
from tests import videofactory as vf


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("variant_cache")


@pytest.fixture(scope="module")
def variants(encoder, cache) -> dict[str, TFLiteEncoder]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation noise reaches users
        return {p: make_variant(encoder, p, cache_dir=cache) for p in ("float16", "int8")}


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    kinds = ("moving_square", "stripes", "rotating_bar", "checkerboard", "gradient", "noise")
    return np.concatenate([vf.pattern_frames(12, 64, 64, kind=k, seed=i) for i, k in enumerate(kinds)])


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("variant_videos")
    spec = {
        "square": [vf.ClipSpec("a", "moving_square", seed=1, n_frames=24, motion=(3, 1))],
        # 1 px a frame (3 px per sampled step): at 2 px (6 px steps of the 16-px square wave) the fit of one
        # clip found no motion once the test files became reproducible (the periodic pattern's aliasing).
        "stripes": [vf.ClipSpec("a", "stripes", seed=2, n_frames=24, motion=(0, 1))],
    }
    vf.make_corpus(root, spec)
    return root


def test_variants_stay_close_to_float32_but_are_other_models(encoder, variants, frames):
    mu32, lv32 = encoder.encode(frames)
    spread = float(np.std(mu32))
    assert spread > 0
    drift = {}
    for precision, enc in variants.items():
        mu, lv = enc.encode(frames)
        assert mu.shape == mu32.shape
        assert mu.dtype == lv.dtype == np.float32
        drift[precision] = np.abs(mu - mu32)
        assert drift[precision].max() > 0, f"{precision} gave float32's features exactly: no variant ran"
        assert np.abs(lv - lv32).mean() < 0.1 * float(np.std(lv32)) + 1e-3
    # float16 weights: rounding-level drift. int8: larger, still small against the features' spread.
    assert drift["float16"].max() < 0.02 * spread
    assert drift["int8"].mean() < 0.05 * spread
    assert drift["int8"].max() < 0.3 * spread
    assert drift["int8"].mean() > drift["float16"].mean()


def test_variants_are_quantised_as_documented(variants):
    sizes = {}
    for precision, enc in variants.items():
        dtypes = {d["dtype"] for d in enc._interpreter.get_tensor_details()}
        wanted = np.float16 if precision == "float16" else np.int8
        assert wanted in dtypes, f"{precision} model has no {wanted.__name__} tensors: {dtypes}"
        sizes[precision] = len(enc.model_bytes)
    assert sizes["int8"] < sizes["float16"]


def test_variants_are_deterministic_and_batch_independent(encoder, variants, frames, cache):
    for precision, enc in variants.items():
        once, _ = enc.encode(frames)
        again, _ = enc.encode(frames)
        np.testing.assert_array_equal(once, again)
        alone, _ = enc.encode(frames[5:8])
        np.testing.assert_array_equal(alone, once[5:8])  # int8 quantises activations per frame, not per batch
        single = make_variant(encoder, precision, cache_dir=cache, num_threads=1)
        np.testing.assert_array_equal(single.encode(frames)[0], once)
        # Threads may share one encoder (the interpreter is not reentrant; the encoder serialises calls).
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i, e=enc: e.encode(frames[i : i + 20])[0], range(0, 60, 10)))
        for i, got in zip(range(0, 60, 10), results, strict=True):
            np.testing.assert_array_equal(got, once[i : i + 20])


def test_conversion_is_cached_atomically_and_damage_is_repaired(encoder, variants, cache):
    files = sorted(cache.glob("*.tflite"))
    assert {f.name.rsplit("-", 1)[1] for f in files} == {"float16.tflite", "int8.tflite"}
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert {v.origin for v in variants.values()} == {"converted"}
    again = make_variant(encoder, "int8", cache_dir=cache)
    assert again.origin == "cache"
    assert again.sha256 == variants["int8"].sha256
    int8_file = next(f for f in files if f.name.endswith("-int8.tflite"))
    int8_file.write_bytes(b"truncated")
    repaired = make_variant(encoder, "int8", cache_dir=cache)
    assert repaired.origin == "converted"
    assert int8_file.read_bytes() == repaired.model_bytes
    assert repaired.sha256 == variants["int8"].sha256  # the converter is deterministic


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FEATKIT_VARIANT_CACHE", str(tmp_path / "c"))
    assert variant_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("FEATKIT_VARIANT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert variant_cache_dir() == tmp_path / "xdg" / "featkit" / "variants"


def test_identity_records_the_precision(encoder, variants):
    base = encoder.identity()
    assert "precision" not in base  # float32 files keep the identity they always had
    for precision, enc in variants.items():
        ident = enc.identity()
        assert ident["precision"] == precision
        assert ident["sha256"] == base["sha256"]  # the weights the variant was made from
        assert ident["variant"]["tflite_sha256"] == enc.sha256
        assert ident["variant"]["format"] == "tflite"
    assert variants["int8"].identity() != variants["float16"].identity()


def test_variants_decode_with_the_float32_decoder(encoder, keras_encoder, variants, frames):
    z = encoder.encode(frames[:4])[0]
    assert variants["int8"].has_decoder
    np.testing.assert_array_equal(variants["int8"].decode(z), keras_encoder.decode(z))
    # The default's LiteRT decoder (polarity) is within its card's drift of that one.
    np.testing.assert_allclose(variants["int8"].decode(z), encoder.decode(z), rtol=0, atol=1e-5)
    assert variants["int8"].score(frames[:4]).shape == (4,)


def test_extract_records_precision_and_refuses_resume_at_another(small_tree, tmp_path, cache, monkeypatch):
    import h5py

    monkeypatch.setenv("FEATKIT_VARIANT_CACHE", str(cache))
    out32, out8 = tmp_path / "f32.h5", tmp_path / "int8.h5"
    sampling = SamplingConfig(clip_len=4)
    assert extract(small_tree, out32, ExtractionConfig(sampling=sampling), progress=False).ok
    with pytest.raises(StoreMismatchError, match="precision"):
        extract(small_tree, out32, ExtractionConfig(sampling=sampling, precision="int8"), progress=False)
    assert main(["extract", str(small_tree), "-o", str(out8), "-q", "--clip-len", "4", "--precision", "int8"]) == 0
    # Resuming at the same precision is fine; at float32 it is refused like any other setting change.
    assert main(["extract", str(small_tree), "-o", str(out8), "-q", "--clip-len", "4", "--precision", "int8"]) == 0
    assert main(["extract", str(small_tree), "-o", str(out8), "-q", "--clip-len", "4"]) == 2
    with h5py.File(out32, "r") as f32, h5py.File(out8, "r") as f8:
        a, b = f32["features"][()], f8["features"][()]
        names = [n.decode() for n in f32["feature_names"][()]]
        enc8 = json.loads(f8.attrs["encoder"])
        extraction = json.loads(f8.attrs["extraction"])
    assert a.shape == b.shape
    # Slopes are per second, so on these short clips they carry the same drift of mu amplified by
    # 1 / duration: each part is compared with its own spread (v4: 0.16 for slopes, 0.13 for the rest).
    slope = [i for i, n in enumerate(names) if n.startswith("mu_slope_")]
    latent = [i for i, n in enumerate(names) if not n.startswith(("motion_", "mu_slope_"))]
    for part in (latent, slope):
        assert 0 < np.abs(a[:, part] - b[:, part]).max() < 0.3 * float(np.std(a[:, part]))
    # Camera motion is fitted through each encoder's own response to known
    # moves, so int8 changes it a little; compare only what the picture
    # determines: the square's (x, y) velocity, the horizontal stripes' y
    # (their x motion is invisible, the aperture problem, and left to the
    # noise). The error is measured against the length of the velocity, not
    # per component: the square's slow y (1 px a frame against 3 for x) is the
    # median of three steps, and which step that is can change with the
    # rounding of another CPU's kernels.
    by_label = {label: load_features(out32, labels=[label]).X.shape[0] for label in ("square", "stripes")}
    n_square = by_label["square"]
    assert n_square > 0
    assert by_label["stripes"] > 0
    motion_x, motion_y = names.index("motion_x"), names.index("motion_y")
    for rows, cols in ((slice(0, n_square), [motion_x, motion_y]), (slice(n_square, None), [motion_y])):
        v32, v8 = a[rows][:, cols], b[rows][:, cols]
        speed = np.linalg.norm(v32, axis=1)
        assert np.all(speed > 1.0), v32  # the moves were seen at all
        assert np.all(np.linalg.norm(v8 - v32, axis=1) < 0.15 * speed), (v32, v8)
    assert enc8["precision"] == "int8"
    assert extraction["precision"] == "int8"
    assert summarise(str(out8))["encoder"]["precision"] == "int8"
    assert summarise(str(out32))["encoder"]["precision"] == "float32"


def test_exported_folder_bundles_variants(encoder, variants, tmp_path, frames, monkeypatch):
    monkeypatch.setenv("FEATKIT_VARIANT_CACHE", str(tmp_path / "cache"))
    out = export_encoder(encoder, tmp_path / "with_int8", variants=("int8",))
    bundled = load_encoder(str(out), precision="int8")
    assert bundled.origin == "bundled"
    assert bundled.identity()["config"]["format"] == "saved_model"
    # Converted from the exported SavedModel, it computes what the default's int8 variant computes.
    np.testing.assert_array_equal(bundled.encode(frames)[0], variants["int8"].encode(frames)[0])
    # A precision not bundled is converted from the SavedModel itself (through its signature) and cached.
    converted = load_encoder(str(out), precision="float16")
    assert converted.origin == "converted"
    assert list((tmp_path / "cache").glob("*-float16.tflite"))
    np.testing.assert_array_equal(converted.encode(frames)[0], variants["float16"].encode(frames)[0])


def test_bad_precisions_and_sources_are_refused(encoder, variants, cache):
    with pytest.raises(ConfigError, match="precision"):
        ExtractionConfig(precision="int4")
    with pytest.raises(ConfigError, match="precision"):
        load_encoder("default", precision="bfloat16")
    with pytest.raises(ConfigError, match="float16' or 'int8"):
        make_variant(encoder, "float32")
    with pytest.raises(EncoderError, match="only Keras and SavedModel encoders"):
        make_variant(variants["int8"], "float16", cache_dir=cache)
    with pytest.raises(EncoderError, match="expects uint8 frames"):
        variants["int8"].encode(np.zeros((2, 32, 32, 3), dtype=np.uint8))
