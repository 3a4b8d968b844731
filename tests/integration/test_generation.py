"""Generation: seeded prior samples, latent walks between real clips and images, PNG contact sheets."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from PIL import Image  # noqa: E402

from featkit.cli import main as cli_main  # noqa: E402
from featkit.exceptions import ConfigError, VideoOpenError  # noqa: E402
from featkit.generative.generation import latent_walk, prior_sheet, sample_prior, walk_sheet  # noqa: E402
from featkit.generative.media import contact_sheet, to_uint8, write_png  # noqa: E402
from tests import videofactory as vf  # noqa: E402
from tests.natural_frames import natural_frames  # noqa: E402


def test_contact_sheet_layout():
    tiles = np.arange(5 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 2, 3, 3)
    sheet = contact_sheet(tiles, ncols=3, pad=1, background=9)
    assert sheet.shape == (2 * 3 + 1, 3 * 4 + 1, 3)
    np.testing.assert_array_equal(sheet[1:3, 1:4], tiles[0])
    np.testing.assert_array_equal(sheet[4:6, 5:8], tiles[4])
    assert np.all(sheet[4:6, 9:12] == 9)  # the sixth cell is empty
    assert contact_sheet(np.zeros((2, 4, 3, 3, 3), np.uint8), pad=0).shape == (6, 12, 3)


def test_prior_samples_are_seeded(encoder):
    a = sample_prior(6, encoder=encoder, seed=3)
    assert a.shape == (6, encoder.input_size, encoder.input_size, 3)
    assert a.dtype == np.uint8
    np.testing.assert_array_equal(a, sample_prior(6, encoder=encoder, seed=3))
    assert not np.array_equal(a, sample_prior(6, encoder=encoder, seed=4))
    # They are decodings of N(0, I) draws from numpy's seeded generator, nothing else.
    z = np.random.default_rng(3).standard_normal((6, encoder.latent_dim))
    np.testing.assert_array_equal(a, to_uint8(encoder.decode(z)))
    # Distinct images, not one blob repeated.
    assert np.abs(a[0].astype(int) - a[1].astype(int)).mean() > 2
    with pytest.raises(ConfigError, match="'temperature'"):
        sample_prior(2, encoder=encoder, temperature=0)


def test_prior_sheet_png_is_reproducible(encoder, tmp_path):
    p1 = prior_sheet(tmp_path / "a.png", encoder=encoder, n=10, seed=1, scale=2)
    p2 = prior_sheet(tmp_path / "b.png", encoder=encoder, n=10, seed=1, scale=2)
    assert p1.read_bytes() == p2.read_bytes()
    img = np.asarray(Image.open(p1))
    s = 2 * encoder.input_size
    assert img.shape == (3 * (s + 2) + 2, 4 * (s + 2) + 2, 3)  # 10 tiles in a 4-column grid
    first = sample_prior(10, encoder=encoder, seed=1)[0]
    np.testing.assert_array_equal(img[2 : 2 + s : 2, 2 : 2 + s : 2], first)


def test_latent_walk_starts_and_ends_at_the_reconstructions(encoder):
    a, b = natural_frames(3, seed=0), natural_frames(3, seed=5)
    walk = latent_walk(a, b, encoder=encoder, steps=5)
    assert walk.shape == (3, 5, 64, 64, 3)
    mu_a, _ = encoder.encode(a)
    mu_b, _ = encoder.encode(b)
    np.testing.assert_array_equal(walk[:, 0], to_uint8(encoder.decode(mu_a)))
    np.testing.assert_array_equal(walk[:, -1], to_uint8(encoder.decode(mu_b)))
    mid = to_uint8(encoder.decode(0.5 * (mu_a + mu_b)))
    np.testing.assert_array_equal(walk[:, 2], mid)
    # Pixels move away from the start as the walk goes on.
    dist = [np.abs(walk[:, k].astype(int) - walk[:, 0].astype(int)).mean() for k in range(5)]
    assert dist[0] == 0
    assert dist[-1] > dist[2] > 0
    slerp = latent_walk(a, b, encoder=encoder, steps=5, method="slerp")
    np.testing.assert_array_equal(slerp[:, 0], walk[:, 0])


def test_walk_sheet_between_videos_and_images(encoder, tmp_path):
    va = vf.write_clip(tmp_path, "a", natural_frames(12, 72, 96, seed=1), fps=12)
    vb = vf.write_clip(tmp_path, "b", vf.pattern_frames(12, 64, 64, kind="moving_square", seed=2), fps=12)
    out = walk_sheet(va, vb, tmp_path / "walk.png", encoder=encoder, steps=4, rows=3, scale=1)
    img = np.asarray(Image.open(out))
    assert img.shape == (3 * 66 + 2, 6 * 66 + 2, 3)  # rows x (original, 4 steps, original)
    # An image file is a one-frame clip; rows repeat it.
    ia = write_png(tmp_path / "a.png", natural_frames(1, 80, 120, seed=7)[0])
    out2 = walk_sheet(ia, vb, tmp_path / "walk2.png", encoder=encoder, steps=3, rows=2, originals=False, scale=1)
    img2 = np.asarray(Image.open(out2))
    assert img2.shape == (2 * 66 + 2, 3 * 66 + 2, 3)
    np.testing.assert_array_equal(img2[2:66, 2:66], img2[68:132, 2:66])  # same start image in both rows
    with pytest.raises(VideoOpenError, match="no such file"):
        walk_sheet(tmp_path / "nope.mp4", vb, tmp_path / "x.png", encoder=encoder)


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert cli_main(["generate", "-o", str(out), "--n", "4", "--seed", "2", "--scale", "1"]) == 0
    assert "4 prior samples (seed 2" in capsys.readouterr().out
    assert np.asarray(Image.open(out)).shape == (2 * 66 + 2, 2 * 66 + 2, 3)
    a = write_png(tmp_path / "a.png", natural_frames(1, seed=1)[0])
    b = write_png(tmp_path / "b.png", natural_frames(1, seed=2)[0])
    walk = tmp_path / "walk.png"
    assert cli_main(["generate", "--walk", str(a), str(b), "-o", str(walk), "--steps", "3", "--rows", "1"]) == 0
    assert np.asarray(Image.open(walk)).shape == (1 * 130 + 2, 5 * 130 + 2, 3)
