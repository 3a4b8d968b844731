"""Completion: frame lists, neighbours, latent interpolation, and filling held-out frames of real videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featkit.exceptions import ConfigError
from featkit.generative.completion import complete_frames, neighbours, parse_frame_list
from featkit.generative.latent import interpolate
from featkit.generative.media import to_uint8
from featkit.metrics import psnr, ssim
from tests import videofactory as vf
from tests.natural_frames import natural_frames

# ---------------------------------------------------------------- pure logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10-14,30", [10, 11, 12, 13, 14, 30]), ("3", [3]), (" 5 - 6 , 2,2 ", [2, 5, 6]), ("0-0", [0])],
)
def test_parse_frame_list(text, expected):
    assert parse_frame_list(text).tolist() == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "1,,2", "-2", "1.5", "4-"])
def test_parse_frame_list_rejects(text):
    with pytest.raises(ConfigError, match="such as '10-14,30'"):
        parse_frame_list(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), max_size=n - 1))))
def test_neighbours_are_the_nearest_known_frames(case):
    n, missing_set = case
    missing = np.array(sorted(missing_set), dtype=np.int64)
    before, after, t = neighbours(n, missing)
    known = set(range(n)) - missing_set
    for i, a, b, ti in zip(missing, before, after, t, strict=True):
        assert a in known
        assert b in known
        assert 0.0 <= ti <= 1.0
        if a < i < b:  # inside: the closest known on each side, with the right weight
            assert all(k not in known for k in range(a + 1, b))
            assert ti == pytest.approx((i - a) / (b - a))
        else:  # an end of the video: copy the nearest known frame
            assert a == b
            assert ti == 0.0


def test_neighbours_rejects_out_of_range_and_all_missing():
    with pytest.raises(ConfigError, match=r"must lie in \[0, 9\]"):
        neighbours(10, np.array([3, 10]))
    with pytest.raises(ConfigError, match="at least one must be known"):
        neighbours(3, np.array([0, 1, 2]))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["linear", "slerp"]))
def test_interpolation_hits_its_end_points(seed, method):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 8))
    path = interpolate(a, b, np.array([0.0, 0.5, 1.0]), method)
    np.testing.assert_allclose(path[0], a, atol=1e-9)
    np.testing.assert_allclose(path[-1], b, atol=1e-9)
    if method == "slerp":
        # The norm moves linearly from |a| to |b| (no shrinking in the middle as with a straight line).
        assert np.linalg.norm(path[1]) == pytest.approx((np.linalg.norm(a) + np.linalg.norm(b)) / 2)


def test_interpolation_shapes_and_pairwise():
    a, b = np.zeros((3, 4)), np.ones((3, 4))
    assert interpolate(a, b, np.linspace(0, 1, 5)).shape == (5, 3, 4)
    got = interpolate(a, b, np.array([0.0, 0.5, 1.0]), pairwise=True)
    np.testing.assert_allclose(got, np.array([[0.0] * 4, [0.5] * 4, [1.0] * 4]))
    with pytest.raises(ConfigError, match="'method'"):
        interpolate(a, b, [0.5], "cubic")


def test_pixel_fill_is_the_linear_blend_of_the_neighbours():
    frames = np.zeros((5, 4, 4, 3), np.uint8)
    frames[0], frames[4] = 0, 200
    frames[1:4] = 77  # content at missing positions is ignored
    out = complete_frames(frames, np.array([1, 2, 3]), method="pixel")
    assert [int(out[i, 0, 0, 0]) for i in range(5)] == [0, 50, 100, 150, 200]


# ---------------------------------------------------------------- with the shipped VAE


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    """A real H.264 pan over a natural-looking scene and its frames at the model's size."""
    from featkit.io.video import DecordReader

    path = vf.write_clip(tmp_path_factory.mktemp("cmp"), "pan", natural_frames(24, 64, 64, seed=2), fps=12)
    return path, DecordReader(path, 64).read(np.arange(24))


MISSING = np.array([5, 6, 7, 15, 23])


@pytest.mark.parametrize("method", ["linear", "slerp", "hybrid"])
def test_latent_fill_keeps_known_frames_and_decodes_the_interpolated_latent(encoder, pan, method):
    _, frames = pan
    out = complete_frames(frames, MISSING, encoder=encoder, method=method)
    known = np.setdiff1d(np.arange(24), MISSING)
    np.testing.assert_array_equal(out[known], frames[known])
    if method == "linear":
        mu, _ = encoder.encode(frames[[4, 8]])
        z = 0.5 * (mu[0] + mu[1])  # frame 6 lies halfway between known frames 4 and 8
        np.testing.assert_array_equal(out[6], to_uint8(encoder.decode(z[None]))[0])
        # The last frame has no known successor: the decoded latent of frame 22.
        np.testing.assert_array_equal(out[23], to_uint8(encoder.decode(encoder.encode(frames[[22]])[0]))[0])


def test_fills_are_close_to_the_held_out_frames_and_both_methods_are_measured(encoder, pan):
    """The numbers the benchmark reports, on a small case; no claim that latents beat pixels."""
    _, frames = pan
    x = frames[MISSING] / 255.0
    scores = {}
    for method in ("linear", "hybrid", "pixel"):
        y = complete_frames(frames, MISSING, encoder=encoder, method=method)[MISSING] / 255.0
        scores[method] = (psnr(x, y).mean(), ssim(x, y).mean())
    # A latent fill is a picture of this scene: far closer to the true frame than a draw from the prior.
    prior = to_uint8(encoder.decode(np.random.default_rng(0).standard_normal((len(MISSING), encoder.latent_dim))))
    assert scores["linear"][0] > psnr(x, prior / 255.0).mean() + 3
    # Residual detail from the neighbours brings the hybrid fill closer than the latent fill alone, in PSNR.
    # (In SSIM it did with featkit-default-v2; v3's sharper decoder draws structure the hybrid's added
    # residual blurs: 0.50 against 0.54 here, so SSIM is reported by the benchmark, not asserted.)
    assert scores["hybrid"][0] > scores["linear"][0]


def test_complete_video_and_cli(encoder, pan, tmp_path, capsys):
    import av

    from featkit.cli import main as cli_main
    from featkit.generative.completion import complete_video

    path, _ = pan
    report = complete_video(path, tmp_path / "c.mp4", "5-7,15", encoder=encoder, compare=True, scale=1)
    assert report["missing"] == [5, 6, 7, 15]
    assert report["panels"] == ["file", "pixel", "linear"]
    assert set(report["against_file_frames"]) == {"linear", "pixel"}
    with av.open(str(tmp_path / "c.mp4")) as c:
        video = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert video.shape == (24, 64, 3 * 64 + 2, 3)
    rep = tmp_path / "r.json"
    code = cli_main(["complete", str(path), "--missing", "10-12", "-o", str(tmp_path / "d.mp4"), "--report", str(rep)])
    assert code == 0
    assert "filled 3 of 24 frames (linear)" in capsys.readouterr().out
    assert json.loads(rep.read_text())["missing"] == [10, 11, 12]
    assert cli_main(["complete", str(path), "--missing", "30", "-o", str(tmp_path / "e.mp4")]) == 2
    assert "must lie in [0, 23]" in capsys.readouterr().err
