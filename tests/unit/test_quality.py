"""The ``quality`` statistic: invariances, edge cases, and that each column answers its corruption."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from featkit.quality import FRAME_QUALITY, QUALITY_COLUMNS, clip_quality, frame_quality
from featkit.stats import clip_statistics, feature_names
from tests.natural_frames import natural_frames

finite = st.floats(-10, 10, allow_nan=False, width=32)
COLUMN = {name: i for i, name in enumerate(QUALITY_COLUMNS)}


def _quality(frames: np.ndarray, mu: np.ndarray | None = None, fps: float = 8.0) -> np.ndarray:
    mu = frames.reshape(len(frames), -1)[:, ::97].astype(np.float64) / 255.0 if mu is None else mu
    times = np.arange(len(frames)) / fps
    return clip_quality(frame_quality(frames, None), mu, times)


def test_columns_are_named_and_reach_the_feature_row():
    assert feature_names(["quality"], 32) == list(QUALITY_COLUMNS)
    frames = natural_frames(8, seed=1)
    mu = np.random.default_rng(0).normal(size=(8, 4))
    per_frame = frame_quality(frames, None)
    assert per_frame.shape == (8, len(FRAME_QUALITY))
    row = clip_statistics(mu, np.zeros_like(mu), ["quality"], times=np.arange(8) / 8.0, quality=per_frame)
    np.testing.assert_allclose(row, clip_quality(per_frame, mu, np.arange(8) / 8.0).astype(np.float32))
    with pytest.raises(ValueError, match="need per-frame quality measurements"):
        clip_statistics(mu, np.zeros_like(mu), ["quality"], times=np.arange(8) / 8.0)
    with pytest.raises(ValueError, match="quality must have shape"):
        clip_statistics(mu, np.zeros_like(mu), ["quality"], times=np.arange(8) / 8.0, quality=per_frame[:3])


def test_windows_give_the_frames_of_one_call():
    """The reducer measures window by window, handing on the previous frame: the same numbers as one call."""
    frames = natural_frames(12, seed=2)
    whole = frame_quality(frames, None)
    parts = np.concatenate(
        [
            frame_quality(frames[:5], None),
            frame_quality(frames[5:], frames[4]),
        ]
    )
    np.testing.assert_array_equal(whole, parts)
    assert np.isnan(whole[0, FRAME_QUALITY.index("flicker")])  # no frame before the first
    assert np.isfinite(whole[1:]).all()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=finite), finite)
def test_path_columns_ignore_time_direction_and_a_shift(mu, shift):
    per_frame = np.zeros((len(mu), len(FRAME_QUALITY)))
    times = np.arange(len(mu)) / 8.0
    forward = clip_quality(per_frame, mu, times)
    assert np.isfinite(forward).all()
    np.testing.assert_allclose(clip_quality(per_frame, mu[::-1], times), forward, atol=1e-9)
    # Away from the still line (mean step 1e-12), where the float rounding of the shift itself decides
    # (Hypothesis found steps of 1e-12 still before a shift of 1 and moving after it).
    steps = np.linalg.norm(np.diff(mu, axis=0), axis=1)
    assume(len(steps) == 0 or steps.mean() == 0.0 or steps.mean() > 1e-9)
    np.testing.assert_allclose(clip_quality(per_frame, mu + shift, times), forward, atol=1e-6)


def test_still_and_single_frame_clips_have_defined_values():
    still = np.ones((6, 3))
    for mu in (still, still[:1]):
        row = clip_quality(np.zeros((len(mu), len(FRAME_QUALITY))), mu, np.arange(len(mu)) / 8.0)
        np.testing.assert_allclose(row[COLUMN["quality_kurtosis"] :], [0.0, 0.0, 1.0, np.log(1e-3)])
        assert row[COLUMN["quality_flicker"]] == 0.0  # no frame changed


def test_scale_ratio_of_white_noise_flat_and_tiny_frames():
    rng = np.random.default_rng(0)
    noise = np.clip(rng.normal(128, 25, size=(4, 64, 64, 3)), 0, 255).astype(np.uint8)
    scale = FRAME_QUALITY.index("scale")
    # White noise: a 2x2 mean quarters its variance, so the Laplacian energy falls by 4.
    np.testing.assert_allclose(frame_quality(noise, None)[:, scale], np.log(4.0), atol=0.15)
    flat = np.full((2, 64, 64, 3), 90, dtype=np.uint8)
    assert (frame_quality(flat, None)[:, scale] == 0.0).all()
    tiny = natural_frames(2, seed=4)[:, :5, :5]  # no Laplacian at half resolution: defined as 0
    assert (frame_quality(tiny, None)[:, scale] == 0.0).all()


def test_each_column_answers_its_corruption():
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(5)
    clean = natural_frames(16, seed=3, pan=(2, 1))
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    blurred = np.clip(gaussian_filter(clean.astype(float), (0, 1.5, 1.5, 0)), 0, 255).astype(np.uint8)
    jpeg = []
    for frame in clean:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=5)
        jpeg.append(np.asarray(Image.open(buf).convert("RGB")))
    stutter = clean[(np.arange(16) // 4) * 4]
    q = {name: _quality(f) for name, f in [("clean", clean), ("noise", noisy), ("blur", blurred)]}
    q["jpeg"], q["stutter"] = _quality(np.stack(jpeg)), _quality(stutter)
    q["frozen"] = _quality(np.repeat(clean[:1], 16, axis=0))
    c = COLUMN
    assert q["noise"][c["quality_detail"]] > q["clean"][c["quality_detail"]] + 1.0
    assert q["blur"][c["quality_detail"]] < q["clean"][c["quality_detail"]] - 1.0
    assert q["noise"][c["quality_flicker"]] > q["clean"][c["quality_flicker"]] + 0.5
    # Noise is white (fine detail as strong as coarse); blur takes the finest scale first.
    assert q["noise"][c["quality_scale"]] > q["clean"][c["quality_scale"]] + 1.0
    assert q["blur"][c["quality_scale"]] < q["clean"][c["quality_scale"]] - 0.05  # these frames are smooth already
    assert q["noise"][c["quality_flicker"]] == pytest.approx(np.log(20.0), abs=0.5)  # near white change
    assert q["jpeg"][c["quality_blocking"]] > q["clean"][c["quality_blocking"]] + 0.3
    # Held 4 steps: 3 of 4 steps still, kurtosis log 4.
    assert q["stutter"][c["quality_still"]] == pytest.approx(0.75, abs=0.1)
    assert q["stutter"][c["quality_kurtosis"]] == pytest.approx(np.log(4.0), abs=0.3)
    assert q["clean"][c["quality_still"]] == 0.0
    assert q["frozen"][c["quality_pace"]] == pytest.approx(np.log(1e-3))
    assert q["frozen"][c["quality_still"]] == 1.0
