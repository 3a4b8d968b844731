"""``featkit reconstruct``, ``complete`` and ``generate``: their options (the work: featkit.generative.commands)."""

from __future__ import annotations

import argparse

from featkit.cli._registry import Command, lazy
from featkit.cli.extract import fps_or_native

__all__ = ["COMMANDS"]

_VIDEO_SUFFIXES = "(.mp4, .mkv, .mov, .webm, .avi)"


def _add_shared(
    p: argparse.ArgumentParser, *, output: str, scale: int, report: str | None = None, tile: str = "panel"
) -> None:
    """The options every generative command has: -o, --scale, --encoder (and --report where given)."""
    p.add_argument("-o", "--output", required=True, help=output)
    if report:
        p.add_argument("--report", help=report)
    p.add_argument("--scale", type=int, default=scale, help=f"upscale each {tile} by this factor ({scale})")
    p.add_argument("--encoder", default="default", help="'default' or a .keras file holding a whole VAE")


def _add_reconstruct(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="video file, or a .npz of latents from --latents (then only decoded)")
    report = "write the report (per-frame PSNR/SSIM, bytes per frame) as JSON here"
    _add_shared(p, output=f"video to write {_VIDEO_SUFFIXES}", scale=4, report=report)
    p.add_argument(
        "--fps", type=fps_or_native, default=None, help="sample the video at this rate (default every frame)"
    )
    p.add_argument("--max-frames", type=int, default=None, help="use at most this many frames")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="stored latents (float16)")
    p.add_argument("--latents", help="also save the stored latents to this .npz")


def _add_complete(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="video file")
    _add_shared(p, output=f"completed video {_VIDEO_SUFFIXES}", scale=4, report="write the report as JSON here")
    p.add_argument("--missing", required=True, help="0-based frame numbers and inclusive ranges, e.g. 10-14,30")
    p.add_argument(
        "--method",
        choices=("linear", "slerp", "hybrid", "pixel"),
        default="linear",
        help="latent linear / spherical interpolation, latent + interpolated residual detail, or pixels (linear)",
    )
    p.add_argument("--compare", action="store_true", help="three panels: file | pixel interpolation | method")
    p.add_argument("--max-frames", type=int, default=None, help="use only the first frames")


def _add_generate(p: argparse.ArgumentParser) -> None:
    _add_shared(p, output="PNG to write", scale=2, tile="tile")
    p.add_argument("--walk", nargs=2, metavar=("A", "B"), help="walk from clip/image A to clip/image B")
    p.add_argument("--n", type=int, default=64, help="prior samples (64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples (0)")
    p.add_argument("--temperature", type=float, default=1.0, help="standard deviation of the prior samples (1.0)")
    p.add_argument("--steps", type=int, default=8, help="walk: points per walk, ends included (8)")
    p.add_argument("--rows", type=int, default=4, help="walk: frames taken from each clip, one walk each (4)")
    p.add_argument("--method", choices=("linear", "slerp"), default="linear", help="walk: interpolation (linear)")


_RUN = lazy("featkit.generative.commands", "run")

COMMANDS = (
    Command(
        "reconstruct",
        help="compress a video to VAE latents and back; side-by-side video and a rate/distortion report",
        description="Encode every frame (at the model's input size) to its posterior mean, store it in float16, "
        "decode, and write original | reconstruction side by side. Prints PSNR/SSIM and bytes per frame. "
        "Given a .npz of latents saved with --latents, decodes them to a video instead.",
        add_arguments=_add_reconstruct,
        run=_RUN,
    ),
    Command(
        "complete",
        help="fill missing or damaged frames by interpolating VAE latents between known neighbours",
        description="Read every frame at the model's input size, replace the given frames by decoding latents "
        "interpolated between the nearest known frames, and write the completed video. Prints PSNR/SSIM of the "
        "fill and of plain pixel interpolation against the file's own frames at those positions.",
        add_arguments=_add_complete,
        run=_RUN,
    ),
    Command(
        "generate",
        help="PNG contact sheets of prior samples, or of latent walks between two clips (--walk A B)",
        description="Decode seeded samples z ~ N(0, T^2 I), or walk in latent space from frames of A to frames "
        "of B (videos or images); write a PNG contact sheet.",
        add_arguments=_add_generate,
        run=_RUN,
    ),
)
