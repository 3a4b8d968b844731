"""The `motion` statistics: camera motion fitted to the pixels, on synthetic and real videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import affine_transform

from featkit.motion import MOTION_COLUMNS, SPEED_COLUMNS, clip_motion, clip_speed, step_motion
from featkit.stats import clip_statistics, feature_names
from tests import videofactory as vf
from tests.natural_frames import natural_frames

finite = st.floats(-10, 10, allow_nan=False)


@st.composite
def clips(draw):
    t = draw(st.integers(1, 10))
    steps = draw(arrays(np.float64, (t, 4), elements=finite))
    gaps = draw(arrays(np.float64, (t,), elements=st.sampled_from([0.0, 0.04, 0.125])))
    return steps, np.cumsum(gaps)


def _reversed(steps, times):
    """The same clip played backwards: each step is undone, in reverse order (row 0 stays the unused one)."""
    return np.r_[steps[:1], -steps[1:][::-1]], times[0] + times[-1] - times[::-1]


@settings(max_examples=80, deadline=None)
@given(clips())
def test_reversal_negates_static_is_zero_and_one_frame_is_zero(clip):
    steps, times = clip
    v = clip_motion(steps, times)
    assert v.shape == (4,)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(clip_motion(*_reversed(steps, times)), -v, atol=1e-12)
    np.testing.assert_array_equal(clip_motion(np.zeros_like(steps), times), 0)
    np.testing.assert_array_equal(clip_motion(steps[:1], times[:1]), 0)
    # The step into the clip (row 0) is not the clip's: NaN there (a video's start) changes nothing.
    np.testing.assert_array_equal(clip_motion(np.r_[np.full((1, 4), np.nan), steps[1:]], times), v)


@settings(max_examples=80, deadline=None)
@given(clips())
def test_speed_is_unsigned_in_time_and_zero_when_static(clip):
    steps, times = clip
    s = clip_speed(steps, times)
    assert s.shape == (4,)
    assert np.all(np.isfinite(s))
    assert np.all(s >= 0)
    np.testing.assert_allclose(clip_speed(*_reversed(steps, times)), s, atol=1e-12)
    np.testing.assert_array_equal(clip_speed(np.zeros_like(steps), times), 0)
    np.testing.assert_array_equal(clip_speed(steps[:1], times[:1]), 0)


def test_motion_is_per_second_and_a_repeated_frame_is_no_step():
    steps = np.array([[np.nan] * 4, [1.0, 2.0, 0.1, -0.1], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 0.1, -0.1]])
    times = np.array([0.0, 0.125, 0.125, 0.25])  # frame 2 is frame 1 sampled again
    np.testing.assert_allclose(clip_motion(steps, times), [8.0, 16.0, 0.8, -0.8])
    np.testing.assert_allclose(clip_speed(steps, times), [8.0, 16.0, 0.8, 0.8])


def _camera(picture, v, side=64):
    """The centre of ``picture`` filmed after the content moved by v = (x, y, zoom, rotate) about the centre."""
    x, y, zoom, turn = v
    h = picture.shape[0]
    c = np.array([(h - 1) / 2.0, (h - 1) / 2.0])
    s, cos, sin = np.exp(-zoom), np.cos(turn), np.sin(turn)
    a = s * np.array([[cos, -sin], [sin, cos]])
    off = c - a @ (c + np.array([y, x]) * side / 64)  # v is in px of a 64-px frame
    moved = np.stack([affine_transform(picture[..., k], a, offset=off, order=3) for k in range(3)], -1)
    lo = (h - side) // 2
    return np.clip(moved[lo : lo + side, lo : lo + side], 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "move",
    [
        (2.0, 0.0, 0.0, 0.0),
        (0.0, -3.0, 0.0, 0.0),
        (0.0, 0.0, 0.05, 0.0),
        (0.0, 0.0, 0.0, 0.05),
        (5.0, 3.0, 0.0, 0.0),
        (1.5, -1.0, 0.03, -0.04),
        (8.0, 0.0, 0.1, 0.0),
    ],
)
def test_step_recovers_a_known_camera_move(move):
    """Content moved right, down, grown and turned clockwise reads positive, in px of a 64-px frame."""
    picture = natural_frames(1, 160, 160, seed=1)[0].astype(np.float64)
    frames = np.stack([_camera(picture, (0, 0, 0, 0)), _camera(picture, move)])
    got = step_motion(frames)
    assert np.isnan(got[0]).all()  # no frame before the first
    error = np.abs(got[1] - np.array(move))
    assert np.all(error <= [0.1, 0.1, 0.003, 0.003]), (got[1], move)


def test_step_units_do_not_depend_on_the_frame_size():
    picture = natural_frames(1, 320, 320, seed=3)[0].astype(np.float64)
    small = step_motion(np.stack([_camera(picture, (0, 0, 0, 0)), _camera(picture, (3.0, 0, 0, 0))]))[1]
    big = step_motion(np.stack([_camera(picture, (0, 0, 0, 0), 128), _camera(picture, (3.0, 0, 0, 0), 128)]))[1]
    np.testing.assert_allclose(small[:2], [3.0, 0.0], atol=0.1)
    np.testing.assert_allclose(big[:2], [3.0, 0.0], atol=0.1)


def test_steps_do_not_depend_on_how_the_frames_are_batched():
    frames = natural_frames(12, 64, 64, seed=5, pan=(2, -1))
    whole = step_motion(frames)
    parts = [step_motion(frames[:5]), step_motion(frames[5:9], frames[4]), step_motion(frames[9:], frames[8])]
    np.testing.assert_array_equal(whole[1:], np.concatenate(parts)[1:])
    assert np.isnan(whole[0]).all()


def test_a_brightness_offset_or_reversed_frames_change_steps_the_documented_way():
    """Brighter frames move the same way; the frames played backwards undo each step (up to the fit's accuracy)."""
    frames = natural_frames(6, 64, 64, seed=6, pan=(2, 1)).astype(np.int16)
    frames = np.clip(frames, 0, 200).astype(np.uint8)
    steps = step_motion(frames)
    np.testing.assert_allclose(step_motion(frames + np.uint8(40))[1:], steps[1:], rtol=1e-6, atol=1e-9)
    backwards = step_motion(frames[::-1])[1:][::-1]
    assert np.all(np.abs(backwards + steps[1:]) <= [0.15, 0.15, 0.005, 0.005]), (backwards, steps[1:])


def test_still_flat_and_tiny_frames_give_no_motion():
    still = np.repeat(natural_frames(1, 64, 64, seed=2), 3, axis=0)
    np.testing.assert_array_equal(step_motion(still)[1:], 0)
    flat = np.full((3, 64, 64, 3), 128, np.uint8)
    np.testing.assert_array_equal(step_motion(flat)[1:], 0)
    tiny = natural_frames(3, 3, 3, seed=2)
    np.testing.assert_array_equal(step_motion(tiny)[1:], 0)
    assert step_motion(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 4)


def test_names_and_missing_steps():
    assert feature_names(["mu_mean", "motion"], 2) == ["mu_mean_00", "mu_mean_01", *MOTION_COLUMNS]
    assert feature_names(["motion_speed"], 2) == list(SPEED_COLUMNS)
    with pytest.raises(ValueError, match="camera motion of each step"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["motion"], times=np.arange(3.0))
    with pytest.raises(ValueError, match="steps must have shape"):
        clip_statistics(np.zeros((3, 2)), np.zeros((3, 2)), ["motion"], times=np.arange(3.0), steps=np.zeros((3, 2)))


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
    # natural_frames' window moves by `pan` px per frame of 80 px, i.e. 2 per sampled frame at 8 of 16 fps:
    # the content moves the other way, 6 px of the 80-px frame per step, 4.8 of a 64-px frame, 38.4 px/s.
    assert np.all(mx[y == "content_left"] < 0)
    assert np.all(mx[y == "content_right"] > 0)
    assert np.all(my[y == "content_up"] < 0)
    assert np.all(my[y == "content_down"] > 0)
    horizontal = np.isin(y, ["content_left", "content_right"])
    np.testing.assert_allclose(np.abs(mx[horizontal]), 38.4, rtol=0.1)
    np.testing.assert_allclose(np.abs(my[~horizontal]), 38.4, rtol=0.1)
    assert np.abs(my[horizontal]).max() < 2
    assert np.abs(mx[~horizontal]).max() < 2
    sx, sy = X[:, names.index("motion_speed_x")], X[:, names.index("motion_speed_y")]
    np.testing.assert_array_equal(sx, np.abs(mx))
    np.testing.assert_array_equal(sy, np.abs(my))


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
    root = tmp_path_factory.mktemp("pan")
    return vf.write_clip(root, "pan", natural_frames(60, 80, 80, seed=4, pan=(2, 1)), fps=16)


@pytest.mark.parametrize("sampling", [{"clip_len": 8, "stride": 5}, {"clip_len": 4, "max_clips": 3}])
def test_the_reducer_equals_the_formula_whatever_the_windows(pan_video, encoder, sampling):
    """Window by window, overlapping or gapped clips: the clip's steps are those between its own frames."""
    from featkit import SamplingConfig

    config = SamplingConfig(**sampling)
    runs = [_reduce(pan_video, encoder, config, window) for window in (1, 4, 11, 1000)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0][0], other[0])
    _, plan, reader = runs[0]
    rows = []
    for i in range(plan.n_clips):
        fids = plan.frame_indices[plan.clip_samples(i)]
        frames = reader.read(np.unique(fids))[np.searchsorted(np.unique(fids), fids)]
        mu, logvar = encoder.encode(frames)
        times = np.round(reader.info.starts[fids], 6)
        rows.append(clip_statistics(mu, logvar, DEFAULT_MOTION, times=times, steps=step_motion(frames)))
    np.testing.assert_array_equal(runs[0][0], np.stack(rows))
    names = feature_names(DEFAULT_MOTION, encoder.latent_dim)
    # The window pans right and down: the content moves left and up in every clip.
    assert np.all(runs[0][0][:, names.index("motion_x")] < 0)
    assert np.all(runs[0][0][:, names.index("motion_y")] < 0)


def test_a_file_of_the_latent_motion_is_refused_and_one_without_motion_resumes(tmp_path, encoder):
    import h5py

    from featkit import ExtractionConfig, StoreMismatchError, extract

    root = tmp_path / "v"
    vf.write_clip(root, "a", natural_frames(20, 64, 64, seed=1, pan=(1, 0)), fps=8)
    out, plain = tmp_path / "old.h5", tmp_path / "plain.h5"
    config, no_motion = ExtractionConfig(), ExtractionConfig(stats=("mu_mean", "mu_std"))
    assert extract(root, out, config, progress=False, encoder=encoder).ok
    assert extract(root, plain, no_motion, progress=False, encoder=encoder).ok
    for path in (out, plain):
        with h5py.File(path, "r+") as f:  # what files of motion 2 hold
            sampling = json.loads(f.attrs["sampling"])
            f.attrs["sampling"] = json.dumps({**sampling, "probe_every": 2})
            if path == out:
                versions = json.loads(f.attrs["stat_versions"])
                f.attrs["stat_versions"] = json.dumps({**versions, "motion": 2, "motion_speed": 1})
    vf.write_clip(root, "b", natural_frames(20, 64, 64, seed=2, pan=(0, 1)), fps=8)
    with pytest.raises(StoreMismatchError, match=r"stat_versions\.motion: file 2, this run 3"):
        extract(root, out, config, progress=False, encoder=encoder)
    assert extract(root, plain, no_motion, progress=False, encoder=encoder).ok
