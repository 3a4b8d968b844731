"""The decoder's statistics, ``polarity`` and ``residual``: the shipped VAE on each clip's middle frame, through the
real extraction."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from featkit import DEFAULT_STATS, ExtractionConfig, extract, load_features
from featkit.encoders.keras_encoder import KerasEncoder
from featkit.exceptions import EncoderError
from featkit.polarity import POLARITY_COLUMN, frame_polarity, polarity_frames
from featkit.residual import RESIDUAL_COLUMN, flat_residual
from featkit.stats import clip_statistics, feature_names
from tests import videofactory as vf
from tests.natural_frames import natural_frames


def _photo_crops(n_per_image: int = 12, seed: int = 0) -> np.ndarray:
    """Random square crops of scikit-learn's two bundled photographs, at 64 px."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    out = []
    for img in load_sample_images().images:
        h, w = img.shape[:2]
        for _ in range(n_per_image):
            side = int(rng.integers(64, min(h, w)))
            y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            idx = np.linspace(0, side - 1, 64).astype(int)
            out.append(img[y : y + side, x : x + side][idx][:, idx])
    return np.stack(out).astype(np.uint8)


def _pan(photo: np.ndarray, n: int = 32) -> np.ndarray:
    """A camera panning right over a photograph: (n, 64, 64, 3) uint8."""
    idx = np.linspace(0, 255, 64).astype(int)
    return np.stack([photo[40 : 40 + 256, 8 * i : 8 * i + 256][idx][:, idx] for i in range(n)])


def test_a_negative_has_exactly_the_opposite_polarity(encoder):
    x = _photo_crops(4)
    p = frame_polarity(encoder, x, *encoder.encode(x))
    q = frame_polarity(encoder, 255 - x, *encoder.encode(255 - x))
    np.testing.assert_allclose(q, -p, rtol=0, atol=1e-12)
    assert p.dtype == np.float64


def test_photographs_are_explained_better_than_their_negatives(encoder):
    x = _photo_crops()
    p = frame_polarity(encoder, x, *encoder.encode(x))
    # Measured: 23 of these 24 crops positive, median 0.14 (a crop of sky can go either way).
    assert (p > 0).sum() >= 20
    assert np.median(p) > 0.05


def test_decoded_statistics_are_the_mean_of_the_measured_frames():
    mu, lv = np.zeros((4, 3)), np.zeros((4, 3))
    decoded = np.full((4, 2), np.nan)
    decoded[1] = [0.5, -1.25]
    row = clip_statistics(mu, lv, ["polarity", "residual"], decoded=decoded)
    np.testing.assert_allclose(row, [0.5, -1.25])
    with pytest.raises(ValueError, match="need each frame's decoded measurements"):
        clip_statistics(mu, lv, ["residual"])
    with pytest.raises(ValueError, match="one row of"):
        clip_statistics(mu, lv, ["polarity"], decoded=np.zeros(4))
    assert feature_names(["quality", "polarity", "residual"], 3)[-2:] == [POLARITY_COLUMN, RESIDUAL_COLUMN]
    assert DEFAULT_STATS[-2:] == ("polarity", "residual")


def test_extract_measures_each_clips_middle_frame(encoder, tmp_path):
    """The stored columns equal frame_polarity and flat_residual of each clip's middle sampled frame, read apart."""
    from sklearn.datasets import load_sample_image

    from featkit.config import SamplingConfig
    from featkit.io.backends import open_video
    from featkit.io.sampling import plan_clips

    frames = _pan(load_sample_image("china.jpg"), 40)
    path = vf.write_clip(tmp_path / "v", "pan", frames, fps=16)
    inverted = vf.write_clip(tmp_path / "v", "pan_inverted", 255 - frames, fps=16)
    out = tmp_path / "f.h5"
    assert extract(tmp_path / "v", out, ExtractionConfig(), progress=False, encoder=encoder).ok
    X, _, groups, names = load_features(out)
    column = list(names).index(POLARITY_COLUMN)
    assert list(names).index(RESIDUAL_COLUMN) == column + 1
    for video, file in enumerate(sorted([path, inverted])):
        reader, _ = open_video(file, encoder.input_size)
        plan = plan_clips(reader.info.starts, reader.info.end, SamplingConfig())
        needed = plan.needed_frames()
        decoded = dict(zip(needed.tolist(), reader.read(needed), strict=True))
        reader.close()
        ids = [int(polarity_frames(plan.frame_indices[plan.clip_samples(c)])) for c in range(plan.n_clips)]
        x = np.stack([decoded[i] for i in ids])
        mu, logvar = encoder.encode(x)
        want = frame_polarity(encoder, x, mu, logvar)
        np.testing.assert_allclose(X[groups == video, column], want.astype(np.float32), rtol=1e-6)
        residual = flat_residual(x, encoder.decode(mu))
        np.testing.assert_allclose(X[groups == video, column + 1], residual.astype(np.float32), rtol=1e-6)
    # The video and its negative: opposite signs on every clip.
    assert (X[groups == 0, column] > 0).all()
    assert (X[groups == 1, column] < 0).all()


def test_default_statistics_leave_the_decoded_ones_out_for_an_encoder_without_decoder(keras_encoder, tmp_path):
    bare = KerasEncoder(keras_encoder.model, name="bare", sha256="", config={})
    vf.write_clip(tmp_path / "v", "a", natural_frames(24), fps=16)
    out = tmp_path / "bare.h5"
    assert extract(tmp_path / "v", out, ExtractionConfig(), progress=False, encoder=bare).ok
    names = list(load_features(out)[3])
    assert POLARITY_COLUMN not in names
    assert RESIDUAL_COLUMN not in names
    assert "quality_pace" in names
    # Asked for by name, they need the decoder.
    for stat in ("polarity", "residual"):
        with pytest.raises(EncoderError, match=rf"\['{stat}'\] need an encoder with a decoder"):
            extract(tmp_path / "v", tmp_path / "x.h5", ExtractionConfig(stats=("mu_mean", stat)), encoder=bare)
        assert not (tmp_path / "x.h5").exists()


def test_litert_decoder_matches_keras_without_importing_tensorflow(encoder, keras_encoder):
    assert encoder.lite_decoder is not None
    assert "decoder_tflite_sha256" in encoder.identity()["litert"]
    z = keras_encoder.encode(natural_frames(5, seed=4))[0]
    lite = encoder.decode(z)
    np.testing.assert_allclose(lite, keras_encoder.decode(z), rtol=0, atol=1e-5)
    # Bit-identical whatever else is decoded alongside (fixed power-of-two batches).
    np.testing.assert_array_equal(encoder.decode(z[:1]), lite[:1])
    np.testing.assert_array_equal(encoder.decode(np.repeat(z, 20, axis=0))[::20], lite)


def test_default_extraction_with_polarity_does_not_import_tensorflow(tmp_path):
    import subprocess

    vf.write_clip(tmp_path / "v", "a", natural_frames(24), fps=16)
    code = (
        "import sys; from featkit import extract, ExtractionConfig; "
        f"r = extract({str(tmp_path / 'v')!r}, {str(tmp_path / 'f.h5')!r}, ExtractionConfig(), progress=False); "
        "assert r.ok; print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_residual_alone_decodes_the_frames_only(encoder, tmp_path):
    """Without polarity, the residual still comes from the middle frame's reconstruction, and equals the default's."""
    from sklearn.datasets import load_sample_image

    frames = _pan(load_sample_image("flower.jpg"), 24)
    vf.write_clip(tmp_path / "v", "pan", frames, fps=16)
    both = extract(tmp_path / "v", tmp_path / "both.h5", ExtractionConfig(), progress=False, encoder=encoder)
    alone = ExtractionConfig(stats=("mu_mean", "residual"))
    assert both.ok
    assert extract(tmp_path / "v", tmp_path / "alone.h5", alone, progress=False, encoder=encoder).ok
    X, _, _, names = load_features(tmp_path / "both.h5")
    Y, _, _, names_alone = load_features(tmp_path / "alone.h5")
    assert list(names_alone)[-1] == RESIDUAL_COLUMN
    np.testing.assert_array_equal(Y[:, -1], X[:, list(names).index(RESIDUAL_COLUMN)])


def test_residual_rises_where_a_flat_patch_or_noise_covers_a_photograph(encoder):
    """The VAE misses a pasted flat block and pixel noise in flat places, unlike a photograph's own flat regions."""
    x = _photo_crops(8, seed=3)
    rng = np.random.default_rng(0)
    blocked = x.copy()
    for frame in blocked:
        r, c = rng.integers(0, 40, size=2)
        frame[r : r + 20, c : c + 20] = rng.integers(0, 256, size=3)
    noisy = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)

    def residual(frames):
        return flat_residual(frames, encoder.decode(encoder.encode(frames)[0]))

    clean = residual(x)
    assert np.isfinite(clean).all()
    assert np.median(clean) < -0.5  # the error sits in the detail (measured: median -1.5)
    # Measured: 16 of 16 crops rise with a block (median +0.97), 15 of 16 with noise (median +0.55).
    assert (residual(blocked) > clean).mean() >= 0.8
    assert (residual(noisy) > clean).mean() >= 0.8
