"""The `motion` statistic: camera motion fitted to the latent trajectory, on synthetic and real videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from featkit.motion import MOTION_COLUMNS, SPEED_COLUMNS, camera_moves, latent_motion, latent_speed, motion_jacobian
from featkit.stats import clip_statistics, feature_names
from tests import videofactory as vf
from tests.natural_frames import natural_frames

finite = st.floats(-10, 10, allow_nan=False)


@st.composite
def clips(draw):
    t, d = draw(st.integers(1, 10)), draw(st.integers(1, 6))
    mu = draw(arrays(np.float64, (t, d), elements=finite))
    jac = draw(arrays(np.float64, (t, d, 4), elements=finite))
    gaps = draw(arrays(np.float64, (t,), elements=st.sampled_from([0.0, 0.04, 0.125])))
    return mu, jac, np.cumsum(gaps)


@settings(max_examples=80, deadline=None)
@given(clips())
def test_reversal_negates_static_is_zero_shift_is_ignored(clip):
    mu, jac, times = clip
    v = latent_motion(mu, jac, times)
    assert v.shape == (4,)
    assert np.all(np.isfinite(v))
    mirrored = times[0] + times[-1] - times[::-1]
    np.testing.assert_allclose(
        latent_motion(mu[::-1], jac[::-1], mirrored), -v, rtol=1e-6, atol=1e-6 * (1 + abs(v).max())
    )
    np.testing.assert_allclose(latent_motion(mu + 3.5, jac, times), v, rtol=1e-6, atol=1e-6 * (1 + abs(v).max()))
    np.testing.assert_array_equal(latent_motion(np.repeat(mu[:1], len(mu), 0), jac, times), 0)
    np.testing.assert_array_equal(latent_motion(mu[:1], jac[:1], times[:1]), 0)


@settings(max_examples=80, deadline=None)
@given(clips())
def test_speed_is_unsigned_in_time_zero_when_static_and_ignores_shifts(clip):
    mu, jac, times = clip
    s = latent_speed(mu, jac, times)
    assert s.shape == (4,)
    assert np.all(np.isfinite(s))
    assert np.all(s >= 0)
    tol = {"rtol": 1e-6, "atol": 1e-6 * (1 + s.max())}
    mirrored = times[0] + times[-1] - times[::-1]
    np.testing.assert_allclose(latent_speed(mu[::-1], jac[::-1], mirrored), s, **tol)
    np.testing.assert_allclose(latent_speed(mu + 3.5, jac, times), s, **tol)
    np.testing.assert_array_equal(latent_speed(np.repeat(mu[:1], len(mu), 0), jac, times), 0)
    np.testing.assert_array_equal(latent_speed(mu[:1], jac[:1], times[:1]), 0)


def test_speed_of_a_back_and_forth_camera_exceeds_its_net_motion():
    """A camera that pans right then left again has net motion ~0 but a known speed."""
    rng = np.random.default_rng(1)
    jac = np.repeat(rng.normal(size=(1, 8, 4)), 17, axis=0)
    times = np.arange(17) / 8.0
    position = np.where(times <= 1.0, times, 2.0 - times) * 4.0  # 4 px/s out, 4 px/s back
    mu = position[:, None] * jac[0, :, 0][None, :]
    np.testing.assert_allclose(latent_speed(mu, jac, times), [4.0, 0, 0, 0], atol=1e-6)
    assert abs(latent_motion(mu, jac, times)[0]) < 0.5


def test_recovers_a_known_velocity_in_a_linear_latent():
    rng = np.random.default_rng(0)
    jac = np.repeat(rng.normal(size=(1, 8, 4)), 16, axis=0)
    v = np.array([3.0, -2.0, 0.5, 0.1])
    times = np.arange(16) / 8.0
    mu = times[:, None] * (jac[0] @ v)[None, :] + rng.normal(size=8)
    np.testing.assert_allclose(latent_motion(mu, jac, times), v, rtol=1e-6)


def test_moves_shift_content_the_documented_way():
    frame = np.zeros((1, 16, 16, 3), np.uint8)
    frame[0, 8, 8] = 200
    right, down, zoom, turn = camera_moves(frame)
    assert right[0, 8, 10, 0] == 200  # 2 px to the right
    assert down[0, 10, 8, 0] == 200  # 2 px down
    assert zoom.shape == turn.shape == frame.shape


def test_names_and_missing_jacobian():
    assert feature_names(["mu_mean", "motion"], 2) == ["mu_mean_00", "mu_mean_01", *MOTION_COLUMNS]
    assert feature_names(["motion_speed"], 2) == list(SPEED_COLUMNS)
    with pytest.raises(ValueError, match="camera moves"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["motion"], times=np.arange(3.0))
    with pytest.raises(ValueError, match="jacobian must have shape"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["motion"], times=np.arange(3.0), jacobian=np.zeros((3, 2)))


PANS = {"content_left": (3, 0), "content_right": (-3, 0), "content_up": (0, 3), "content_down": (0, -3)}


@pytest.fixture(scope="module")
def pan_features(tmp_path_factory, encoder):
    """Real H.264 pans over natural-looking scenes through the real `featkit extract` with the defaults."""
    from featkit import ExtractionConfig, extract, load_features, load_videos

    root = tmp_path_factory.mktemp("pans")
    for name, pan in PANS.items():
        for seed in range(3):
            vf.write_clip(root / name, f"s{seed}", natural_frames(32, 80, 80, seed=seed, pan=pan), fps=16)
    out = root.parent / f"{root.name}.h5"
    assert extract(root, out, ExtractionConfig(), progress=False, encoder=encoder).ok
    data = load_features(out)
    return data, load_videos(out)


def test_extract_reads_the_pan_direction_whatever_the_scene(pan_features):
    (X, y, _, names), _ = pan_features
    names = list(names)
    mx, my = X[:, names.index("motion_x")], X[:, names.index("motion_y")]
    # natural_frames' window moves by `pan` px per frame, so the content moves the other way.
    assert np.all(mx[y == "content_left"] < 0)
    assert np.all(mx[y == "content_right"] > 0)
    assert np.all(my[y == "content_up"] < 0)
    assert np.all(my[y == "content_down"] > 0)
    horizontal = np.isin(y, ["content_left", "content_right"])
    assert np.abs(mx[horizontal]).min() > np.abs(my[horizontal]).max() / 2
    # The unsigned speed is at least the net velocity's size (up to a little noise) and says which axis moves.
    sx, sy = X[:, names.index("motion_speed_x")], X[:, names.index("motion_speed_y")]
    assert np.all(sx >= 0.9 * np.abs(mx))
    assert np.all(sy >= 0.9 * np.abs(my))
    assert np.all(sx[horizontal] > sy[horizontal])
    assert np.all(sy[~horizontal] > sx[~horizontal])


def test_jacobian_of_the_real_encoder_is_batch_independent(encoder):
    frames = natural_frames(5, seed=9)
    full = motion_jacobian(lambda f: encoder.encode(f)[0], frames)
    part = motion_jacobian(lambda f: encoder.encode(f)[0], frames[2:])
    np.testing.assert_array_equal(full[2:], part)


def _reduce(path, encoder, sampling, window):
    from featkit.io.sampling import plan_clips
    from featkit.io.video import DecordReader
    from featkit.reduce import ClipReducer

    reader = DecordReader(path, encoder.input_size)
    plan = plan_clips(reader.info.starts, reader.info.end, sampling)
    reducer = ClipReducer({"path": path.name}, plan, reader.info.starts, reader.info.end, encoder, DEFAULT_MOTION)
    ids = plan.needed_frames()
    for lo in range(0, len(ids), window):
        reducer.add(ids[lo : lo + window], reader.read(ids[lo : lo + window]))
    return reducer.result().features, plan, reader


DEFAULT_MOTION = ("mu_mean", "motion", "motion_speed")


@pytest.fixture(scope="module")
def pan_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    return vf.write_clip(root, "pan", natural_frames(60, 80, 80, seed=4, pan=(2, 1)), fps=16)


def test_probing_every_frame_equals_the_dense_formula(pan_video, encoder):
    from featkit import SamplingConfig

    sampling = SamplingConfig(clip_len=8, stride=5, probe_every=1)
    got, plan, reader = _reduce(pan_video, encoder, sampling, window=7)
    ids = plan.needed_frames()
    frames = reader.read(ids)
    mu, logvar = encoder.encode(frames)
    jac = motion_jacobian(lambda f: encoder.encode(f)[0], frames, mu)
    rows = []
    for i in range(plan.n_clips):
        fids = plan.frame_indices[plan.clip_samples(i)]
        pos = np.searchsorted(ids, fids)
        times = np.round(reader.info.starts[fids], 6)
        rows.append(clip_statistics(mu[pos], logvar[pos], DEFAULT_MOTION, times=times, jacobian=jac[pos]))
    np.testing.assert_array_equal(got, np.stack(rows))


@pytest.mark.parametrize("probe_every", [2, 3])
def test_spaced_probes_do_not_depend_on_windows_and_keep_the_direction(pan_video, encoder, probe_every):
    from featkit import SamplingConfig

    sampling = SamplingConfig(clip_len=8, stride=5, probe_every=probe_every)
    runs = [_reduce(pan_video, encoder, sampling, window)[0] for window in (1, 4, 11, 1000)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0], other)
    dense = _reduce(pan_video, encoder, SamplingConfig(clip_len=8, stride=5, probe_every=1), 1000)[0]
    names = feature_names(DEFAULT_MOTION, encoder.latent_dim)
    motion = [names.index(c) for c in MOTION_COLUMNS + SPEED_COLUMNS]
    assert not np.array_equal(runs[0][:, motion], dense[:, motion])  # fewer probes really were used
    np.testing.assert_array_equal(runs[0][:, : encoder.latent_dim], dense[:, : encoder.latent_dim])
    # The content moves left and up (the window pans right and down) in every clip, as with dense probes.
    x, y = names.index("motion_x"), names.index("motion_y")
    assert np.all(runs[0][:, x] < 0)
    assert np.all(runs[0][:, y] < 0)
    assert np.all(np.sign(runs[0][:, x]) == np.sign(dense[:, x]))


def test_a_file_from_before_probe_spacing_resumes_only_with_every_frame_probed(tmp_path, encoder):
    import h5py

    from featkit import ExtractionConfig, SamplingConfig, StoreMismatchError, extract

    root = tmp_path / "v"
    vf.write_clip(root, "a", natural_frames(20, 64, 64, seed=1, pan=(1, 0)), fps=8)
    out = tmp_path / "old.h5"
    dense = ExtractionConfig(sampling=SamplingConfig(probe_every=1))
    assert extract(root, out, dense, progress=False, encoder=encoder).ok
    with h5py.File(out, "r+") as f:  # what a file written before `probe_every` existed holds
        sampling = json.loads(f.attrs["sampling"])
        del sampling["probe_every"]
        f.attrs["sampling"] = json.dumps(sampling)
    vf.write_clip(root, "b", natural_frames(20, 64, 64, seed=2, pan=(0, 1)), fps=8)
    with pytest.raises(StoreMismatchError, match=r"sampling\.probe_every: file 1, this run 2"):
        extract(root, out, ExtractionConfig(), progress=False, encoder=encoder)
    assert extract(root, out, dense, progress=False, encoder=encoder).ok
