"""Clip-window maths: properties that hold for any timestamps and settings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featkit.config import ExtractionConfig, SamplingConfig
from featkit.exceptions import ConfigError
from featkit.io.sampling import plan_clips, sample_frame_indices

gaps = st.lists(st.floats(0.001, 0.5), min_size=0, max_size=80)
configs = st.builds(
    SamplingConfig,
    clip_len=st.integers(1, 20),
    fps=st.one_of(st.none(), st.floats(0.5, 60)),
    stride=st.one_of(st.none(), st.integers(1, 20)),
    max_clips=st.one_of(st.none(), st.integers(1, 10)),
)


def _timeline(g):
    starts = np.concatenate([[0.0], np.cumsum(g)])
    return starts, float(starts[-1] + 0.04)


@settings(max_examples=200, deadline=None)
@given(gaps, configs)
def test_clips_stay_in_bounds(g, cfg):
    starts, end = _timeline(g)
    plan = plan_clips(starts, end, cfg)
    n = len(plan.frame_indices)
    assert plan.n_clips >= 1
    assert np.all((plan.frame_indices >= 0) & (plan.frame_indices < len(starts)))
    assert np.all(np.diff(plan.frame_indices) >= 0)
    for i in range(plan.n_clips):
        samples = plan.clip_samples(i)
        assert samples[0] >= 0
        assert samples[-1] < n
        assert len(samples) == (cfg.clip_len if n >= cfg.clip_len else n)
    if cfg.max_clips is not None:
        assert plan.n_clips <= cfg.max_clips
    assert np.all(np.diff(plan.clip_starts) > 0)
    needed = plan.needed_frames()
    assert np.all(
        np.isin(plan.frame_indices[np.concatenate([plan.clip_samples(i) for i in range(plan.n_clips)])], needed)
    )


@settings(max_examples=200, deadline=None)
@given(gaps, configs)
def test_a_clips_consecutive_frames_are_neighbours_in_the_decoded_stream(g, cfg):
    """No needed frame lies between two consecutive frames of a clip, so a step measured from the previous
    decoded frame (the motion and quality statistics) is the clip's own step."""
    plan = plan_clips(*_timeline(g), cfg)
    needed = plan.needed_frames()
    for i in range(plan.n_clips):
        fids = plan.frame_indices[plan.clip_samples(i)]
        pos = np.searchsorted(needed, fids)
        assert np.all(np.diff(pos) <= 1)


@settings(max_examples=200, deadline=None)
@given(gaps, st.floats(0.5, 60))
def test_each_sample_is_the_frame_on_screen(g, fps):
    starts, end = _timeline(g)
    idx = sample_frame_indices(starts, end, fps)
    times = np.arange(len(idx)) / fps
    assert np.all(times < end + 1e-6)
    assert len(idx) == max(1, int(np.ceil(end * fps - 1e-6)))
    for t, i in zip(times, idx, strict=True):
        assert starts[i] <= t + 1e-6
        assert i == len(starts) - 1 or starts[i + 1] > t - 1e-6


def test_defaults_non_overlapping_16_at_8fps():
    starts = np.arange(240) / 24.0  # 10 s at 24 fps
    plan = plan_clips(starts, 10.0, SamplingConfig())
    assert len(plan.frame_indices) == 80
    assert plan.n_clips == 5
    assert list(plan.clip_starts) == [0, 16, 32, 48, 64]
    assert list(plan.frame_indices[:4]) == [0, 3, 6, 9]


def test_overlap_and_max_clips_spread():
    starts = np.arange(240) / 24.0
    plan = plan_clips(starts, 10.0, SamplingConfig(stride=8))
    assert plan.n_clips == 9
    spread = plan_clips(starts, 10.0, SamplingConfig(stride=8, max_clips=3))
    assert list(spread.clip_starts) == [0, 32, 64]


def test_short_video_gives_one_short_clip_and_empty_gives_none():
    plan = plan_clips(np.array([0.0, 0.1]), 0.2, SamplingConfig())
    assert plan.n_clips == 1
    assert plan.clip_lengths[0] == 2
    assert plan_clips(np.zeros(0), 0.0, SamplingConfig()).n_clips == 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"clip_len": 0}, "clip_len"),
        ({"fps": -1}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"stride": 0}, "stride"),
        ({"max_clips": 1.5}, "max_clips"),
        ({"clip_len": True}, "clip_len"),
    ],
)
def test_bad_sampling_settings_name_the_parameter(kwargs, name):
    with pytest.raises(ConfigError, match=f"'{name}' parameter of SamplingConfig"):
        SamplingConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"stats": ("mu_mean", "nope")}, "stats"),
        ({"stats": ()}, "stats"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"decode_threads": 4}, "decode_threads"),
        ({"batch_size": 0}, "batch_size"),
        ({"encoder": ""}, "encoder"),
    ],
)
def test_bad_extraction_settings_name_the_parameter(kwargs, name):
    with pytest.raises(ConfigError, match=f"'{name}' parameter of ExtractionConfig"):
        ExtractionConfig(**kwargs)
