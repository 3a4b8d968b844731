"""Compression and recovery: encode frames to μ, store μ, decode; side-by-side video and a rate/distortion report.

A frame of S x S RGB pixels (3·S² bytes raw) is stored as its posterior mean
μ, d numbers (2·d bytes in float16, 4·d in float32), and recovered by the
decoder. The report gives PSNR and SSIM of every recovered frame against the
frame the model saw (resized and centre-cropped to S x S), the bytes per
frame and the compression ratio. Latents can be saved (``.npz``) and decoded
again later without the video (:func:`decode_latents`).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Interval, Options, validate_params
from featkit.exceptions import EncoderError
from featkit.generative.media import VideoWriter, open_video, side_by_side, to_uint8, upscale
from featkit.generative.model import require_decoder
from featkit.metrics import psnr, ssim

__all__ = ["LATENT_DTYPES", "decode_latents", "rate", "reconstruct", "reconstruct_video"]

#: How stored latents may be kept.
LATENT_DTYPES = ("float16", "float32")


def _check_dtype(owner: str, latent_dtype: str) -> None:
    validate_params(owner, {"latent_dtype": [Options(LATENT_DTYPES)]}, {"latent_dtype": latent_dtype})


def reconstruct(encoder: Any, frames: np.ndarray, *, latent_dtype: str = "float16") -> tuple[np.ndarray, np.ndarray]:
    """Compress frames to their stored latents and recover them.

    Parameters
    ----------
    encoder : featkit.encoders.Encoder
        An encoder with a decoder.
    frames : ndarray of shape (n, S, S, 3), uint8
    latent_dtype : {"float16", "float32"}, default="float16"
        Precision μ is stored in; the decoder sees μ rounded to it.

    Returns
    -------
    recovered : ndarray of shape (n, S, S, 3), uint8
        Decoded frames, rounded to 8 bits as an image would be stored.
    latents : ndarray of shape (n, d), ``latent_dtype``
        What is stored.

    """
    _check_dtype("reconstruct", latent_dtype)
    mu, _ = encoder.encode(frames)
    latents = mu.astype(latent_dtype)
    return to_uint8(encoder.decode(latents.astype(np.float32))), latents


def _check_scale(owner: str, scale: int) -> None:
    validate_params(owner, {"scale": [Interval(int, 1, None)]}, {"scale": scale})


def rate(input_size: int, latent_dim: int, latent_dtype: str = "float16") -> dict[str, float]:
    """Bytes per frame of the stored latents against raw 8-bit RGB at the model's size.

    Returns
    -------
    dict
        ``latent_bytes``, ``latent_bits_per_pixel``, ``raw_bytes`` (3·S²) and
        ``compression_ratio`` (raw / latent).

    """
    _check_dtype("rate", latent_dtype)
    latent_bytes = latent_dim * np.dtype(latent_dtype).itemsize
    raw = 3 * input_size * input_size
    return {
        "latent_bytes": float(latent_bytes),
        "latent_bits_per_pixel": 8.0 * latent_bytes / (input_size * input_size),
        "raw_bytes": float(raw),
        "compression_ratio": raw / latent_bytes,
    }


def _summary(values: list[float]) -> dict[str, Any]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "per_frame": [round(float(v), 4) for v in a],
    }


def reconstruct_video(
    video: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    encoder: Any = None,
    fps: float | None = None,
    max_frames: int | None = None,
    latent_dtype: str = "float16",
    scale: int = 4,
    report: str | os.PathLike[str] | None = None,
    latents: str | os.PathLike[str] | None = None,
    chunk: int = 256,
) -> dict[str, Any]:
    """Compress a video through the VAE, write original | reconstruction side by side, and report.

    Parameters
    ----------
    video : path-like
        The input video.
    output : path-like, optional
        Side-by-side video to write (``.mp4``, ``.mkv``, ``.mov``, ``.webm``
        or ``.avi``); each panel is the S x S frame upscaled ``scale`` times.
    encoder : Encoder, optional
        An encoder with a decoder; default the shipped VAE.
    fps : float, optional
        Sample the video at this rate; default every frame.
    max_frames : int, optional
        Stop after this many frames.
    latent_dtype : {"float16", "float32"}, default="float16"
        Precision of the stored latents.
    scale : int, default=4
        Nearest-neighbour upscaling of each panel in the output video.
    report : path-like, optional
        Write the report as JSON here.
    latents : path-like, optional
        Save the stored latents as ``.npz`` (decode them with :func:`decode_latents`).
    chunk : int, default=256
        Frames processed at a time (bounds memory).

    Returns
    -------
    dict
        The report: input, encoder, frame count and rate, bytes per frame and
        compression ratio, PSNR and SSIM (dB / unitless; per frame, mean,
        median, min, max) of the recovered frames against the frames the model
        saw. The metrics are computed before the output video is encoded, so
        they do not include the H.264 loss of the preview.

    """
    _check_dtype("reconstruct_video", latent_dtype)
    _check_scale("reconstruct_video", scale)
    t0 = time.monotonic()
    encoder = require_decoder(encoder, "reconstruct frames")
    src = open_video(video, encoder.input_size, fps=fps, max_frames=max_frames)
    p_all: list[float] = []
    s_all: list[float] = []
    stored: list[np.ndarray] = []
    with VideoWriter(output, src.fps) if output is not None else nullcontext() as writer:
        for _, frames in src.chunks(chunk):
            recovered, lat = reconstruct(encoder, frames, latent_dtype=latent_dtype)
            x, y = frames.astype(np.float32) / 255.0, recovered.astype(np.float32) / 255.0
            p_all.extend(psnr(x, y).tolist())
            s_all.extend(ssim(x, y).tolist())
            stored.append(lat)
            if writer is not None:
                writer.write(side_by_side(upscale(frames, scale), upscale(recovered, scale), gap=scale))
    lat_all = np.concatenate(stored)
    file_bytes = os.path.getsize(video)
    info = src.reader.info
    out: dict[str, Any] = {
        "input": os.fspath(video),
        "output": None if output is None else os.fspath(output),
        "encoder": {k: encoder.identity().get(k) for k in ("name", "sha256", "input_size", "latent_dim")},
        "n_frames": len(src),
        "fps": src.fps,
        "frame_size": [encoder.input_size, encoder.input_size],
        "latent_dtype": latent_dtype,
        "bytes_per_frame": {
            **{f"latents_{dt}": float(encoder.latent_dim * np.dtype(dt).itemsize) for dt in LATENT_DTYPES},
            "raw_rgb_at_model_size": float(3 * encoder.input_size**2),
            # The source file codes the native resolution: context, not a like-for-like comparison.
            "source_file_native_resolution": file_bytes / max(1, info.n_frames),
        },
        **rate(encoder.input_size, encoder.latent_dim, latent_dtype),
        "psnr_db": _summary(p_all),
        "ssim": _summary(s_all),
        "elapsed_s": round(time.monotonic() - t0, 3),
    }
    if latents is not None:
        path = Path(latents)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            mu=lat_all,
            frame_indices=src.indices,
            fps=np.float64(src.fps),
            encoder_sha256=np.str_(out["encoder"]["sha256"]),
            encoder_name=np.str_(out["encoder"]["name"]),
        )
        out["latents"] = os.fspath(path)
        out["latents_file_bytes"] = os.path.getsize(path)
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps(out, indent=2))
    return out


def decode_latents(
    latents: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    encoder: Any = None,
    scale: int = 1,
    chunk: int = 256,
) -> dict[str, Any]:
    """Recover a video from latents saved by :func:`reconstruct_video` (no source video needed).

    Parameters
    ----------
    latents : path-like
        The ``.npz`` file.
    output : path-like
        The video to write (S x S frames upscaled ``scale`` times).
    encoder : Encoder, optional
        The encoder the latents came from; default the shipped VAE. Its
        weights' sha256 must match the one saved with the latents.
    scale : int, default=1
    chunk : int, default=256

    Returns
    -------
    dict
        ``n_frames``, ``fps``, ``output``.

    Raises
    ------
    EncoderError
        If the latents were made by another model (decoding them would give
        garbage) or the encoder has no decoder.

    """
    _check_scale("decode_latents", scale)
    encoder = require_decoder(encoder, "decode latents")
    with np.load(latents, allow_pickle=False) as data:
        mu = data["mu"]
        fps = float(data["fps"])
        sha = str(data["encoder_sha256"])
    own = str(encoder.identity().get("sha256"))
    if sha != own:
        raise EncoderError(
            f"The latents in {os.fspath(latents)!r} were made by a model with weights sha256 {sha[:12]}…, not by "
            f"encoder {encoder.name!r} ({own[:12]}…); pass the encoder that made them."
        )
    with VideoWriter(output, fps) as writer:
        for lo in range(0, mu.shape[0], chunk):
            writer.write(upscale(to_uint8(encoder.decode(mu[lo : lo + chunk].astype(np.float32))), scale))
    return {"n_frames": int(mu.shape[0]), "fps": fps, "output": os.fspath(output)}
