"""Compression and recovery: real videos through the shipped VAE, side-by-side output, report, latents round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from featkit.cli import main as cli_main  # noqa: E402
from featkit.encoders.keras_encoder import KerasEncoder  # noqa: E402
from featkit.exceptions import ConfigError, EncoderError  # noqa: E402
from featkit.generative.media import to_uint8  # noqa: E402
from featkit.generative.reconstruct import decode_latents, rate, reconstruct, reconstruct_video  # noqa: E402
from featkit.io.video import DecordReader  # noqa: E402
from featkit.metrics import psnr, ssim  # noqa: E402
from tests import videofactory as vf  # noqa: E402
from tests.natural_frames import natural_frames  # noqa: E402
from tests.shipped import default_latent_dim  # noqa: E402

N_FRAMES = 20


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A real 96x128 H.264 clip (the reader resizes to 64 px and centre-crops) and its frames at the model size."""
    path = vf.write_clip(tmp_path_factory.mktemp("rec"), "pan", natural_frames(N_FRAMES, 96, 128, seed=1), fps=10)
    return path, DecordReader(path, 64).read(np.arange(N_FRAMES))


def read_native(path):
    """Every frame of a video at its own size (PyAV; the featkit reader always crops square)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize(("dtype", "nbytes", "ratio"), [("float16", 64, 192.0), ("float32", 128, 96.0)])
def test_rate_counts_bytes_of_the_stored_latents(dtype, nbytes, ratio):
    r = rate(64, 32, dtype)
    assert r["latent_bytes"] == nbytes
    assert r["raw_bytes"] == 64 * 64 * 3
    assert r["compression_ratio"] == ratio
    assert r["latent_bits_per_pixel"] == 8 * nbytes / 64**2
    with pytest.raises(ConfigError, match="latent_dtype"):
        rate(64, 32, "int4")


def test_reconstruct_decodes_the_stored_float16_latents(encoder, clip):
    _, frames = clip
    recovered, latents = reconstruct(encoder, frames)
    assert latents.dtype == np.float16
    assert recovered.dtype == np.uint8
    assert recovered.shape == frames.shape
    mu, _ = encoder.encode(frames)
    np.testing.assert_array_equal(latents, mu.astype(np.float16))
    np.testing.assert_array_equal(recovered, to_uint8(encoder.decode(latents.astype(np.float32))))
    r32, _ = reconstruct(encoder, frames, latent_dtype="float32")
    # float16 rounding of mu moves the pixels only slightly.
    assert np.abs(recovered.astype(int) - r32.astype(int)).max() <= 8
    # A reconstruction, not a constant image: closer to its own frame than to the others.
    x, y = frames.astype(np.float64) / 255, recovered.astype(np.float64) / 255
    assert psnr(x, y).mean() > psnr(x, np.roll(y, N_FRAMES // 2, axis=0)).mean()


def test_reconstruct_video_writes_side_by_side_report_and_latents(encoder, clip, tmp_path):
    path, frames = clip
    out, rep, lat = tmp_path / "sbs.mp4", tmp_path / "r" / "report.json", tmp_path / "lat.npz"
    report = reconstruct_video(path, out, encoder=encoder, scale=2, report=rep, latents=lat)
    assert json.loads(rep.read_text()) == report
    assert report["n_frames"] == N_FRAMES
    assert report["fps"] == pytest.approx(10.0)
    assert report["bytes_per_frame"]["latents_float16"] == 2 * encoder.latent_dim
    assert report["compression_ratio"] == 64 * 64 * 3 / (2 * encoder.latent_dim)
    recovered, _ = reconstruct(encoder, frames)
    x, y = frames / 255.0, recovered / 255.0
    assert report["psnr_db"]["per_frame"] == pytest.approx(psnr(x, y).tolist(), abs=1e-3)
    assert report["ssim"]["mean"] == pytest.approx(float(ssim(x, y).mean()), abs=1e-6)
    assert report["psnr_db"]["min"] <= report["psnr_db"]["mean"] <= report["psnr_db"]["max"]
    # The video: original | reconstruction, each 64 px upscaled twice, 2 px apart.
    video = read_native(out)
    assert video.shape == (N_FRAMES, 128, 2 * 128 + 2, 3)
    left, right = video[:, :, :128][:, ::2, ::2], video[:, :, 130:][:, ::2, ::2]
    assert psnr(left / 255.0, x).mean() > 30  # H.264 at CRF 18 keeps the panels close
    assert psnr(right / 255.0, y).mean() > 30
    # Latents saved at float16 and decoded again without the video.
    with np.load(lat) as data:
        assert data["mu"].dtype == np.float16
        assert data["mu"].shape == (N_FRAMES, encoder.latent_dim)
    back = decode_latents(lat, tmp_path / "back.mp4", encoder=encoder)
    assert back["n_frames"] == N_FRAMES
    decoded = read_native(tmp_path / "back.mp4")
    assert psnr(decoded / 255.0, y).mean() > 30


def test_latents_from_another_model_are_refused(encoder, clip, tmp_path):
    path, _ = clip
    lat = tmp_path / "lat.npz"
    reconstruct_video(path, None, encoder=encoder, latents=lat, max_frames=3)
    with np.load(lat) as data:
        fields = dict(data)
    fields["encoder_sha256"] = np.str_("0" * 64)
    np.savez(lat, **fields)
    with pytest.raises(EncoderError, match="made by a model with weights sha256 000000000000"):
        decode_latents(lat, tmp_path / "x.mp4", encoder=encoder)


def test_sampling_rate_and_frame_limit(encoder, clip):
    path, _ = clip
    report = reconstruct_video(path, None, encoder=encoder, fps=5.0, max_frames=6)
    assert report["n_frames"] == 6
    assert report["fps"] == 5.0
    assert len(report["ssim"]["per_frame"]) == 6


def test_bad_requests_fail_before_any_work(encoder, keras_encoder, clip, tmp_path):
    path, _ = clip
    with pytest.raises(ConfigError, match="must end in one of"):
        reconstruct_video(path, tmp_path / "out.gif", encoder=encoder)
    with pytest.raises(ConfigError, match="'scale'"):
        reconstruct_video(path, tmp_path / "out.mp4", encoder=encoder, scale=0)
    bare = KerasEncoder(keras_encoder.model, name="bare", sha256="", config={})
    with pytest.raises(EncoderError, match="'bare' cannot reconstruct frames"):
        reconstruct_video(path, tmp_path / "out.mp4", encoder=bare)
    assert not (tmp_path / "out.mp4").exists()


def test_cli_reconstruct(clip, tmp_path, capsys):
    path, _ = clip
    out, rep = tmp_path / "cli.mp4", tmp_path / "cli.json"
    assert cli_main(["reconstruct", str(path), "-o", str(out), "--report", str(rep), "--max-frames", "4"]) == 0
    printed = capsys.readouterr().out
    assert f"{2 * default_latent_dim()} bytes/frame" in printed  # float16 μ
    assert "PSNR" in printed
    assert json.loads(rep.read_text())["n_frames"] == 4
    assert out.stat().st_size > 0
    assert cli_main(["reconstruct", str(tmp_path / "missing.mp4"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".avi"])
def test_video_writer_gives_the_same_bytes_for_the_same_frames(tmp_path, suffix):
    from featkit.generative.media import VideoWriter

    frames = natural_frames(24, seed=15, pan=(3, 2))
    other = natural_frames(8, 48, 96, seed=3)
    written = set()
    for i in range(3):
        with VideoWriter(tmp_path / f"out{i}{suffix}", fps=12) as writer:
            writer.write(frames)
        written.add((tmp_path / f"out{i}{suffix}").read_bytes())
        for k, each in enumerate((".webm", ".avi", ".mp4")):  # what x264 encoded before changed its bytes
            with VideoWriter(tmp_path / f"other{i}{k}{each}", fps=10 + i) as writer:
                writer.write(other)
    assert len(written) == 1
