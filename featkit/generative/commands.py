"""The ``featkit reconstruct``, ``complete`` and ``generate`` subcommands (argument parsing and printing only)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["COMMANDS", "add_subcommands", "run"]

#: Subcommands defined here.
COMMANDS = ("reconstruct", "complete", "generate")


def _fps(text: str) -> float | None:
    return None if text.lower() in {"none", "all", "native"} else float(text)


def add_subcommands(sub: Any) -> None:
    """Add this module's subcommands to the ``featkit`` parser's subparsers."""
    rc = sub.add_parser(
        "reconstruct",
        help="compress a video to VAE latents and back; side-by-side video and a rate/distortion report",
        description="Encode every frame (at the model's input size) to its posterior mean, store it in float16, "
        "decode, and write original | reconstruction side by side. Prints PSNR/SSIM and bytes per frame. "
        "Given a .npz of latents saved with --latents, decodes them to a video instead.",
    )
    rc.add_argument("input", help="video file, or a .npz of latents from --latents (then only decoded)")
    rc.add_argument("-o", "--output", required=True, help="video to write (.mp4, .mkv, .mov, .webm, .avi)")
    rc.add_argument("--fps", type=_fps, default=None, help="sample the video at this rate (default every frame)")
    rc.add_argument("--max-frames", type=int, default=None, help="use at most this many frames")
    rc.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="stored latents (float16)")
    rc.add_argument("--report", help="write the report (per-frame PSNR/SSIM, bytes per frame) as JSON here")
    rc.add_argument("--latents", help="also save the stored latents to this .npz")
    rc.add_argument("--scale", type=int, default=4, help="upscale each panel by this factor (4)")
    rc.add_argument("--encoder", default="default", help="'default' or a .keras file holding a whole VAE")

    cp = sub.add_parser(
        "complete",
        help="fill missing or damaged frames by interpolating VAE latents between known neighbours",
        description="Read every frame at the model's input size, replace the given frames by decoding latents "
        "interpolated between the nearest known frames, and write the completed video. Prints PSNR/SSIM of the "
        "fill and of plain pixel interpolation against the file's own frames at those positions.",
    )
    cp.add_argument("input", help="video file")
    cp.add_argument("-o", "--output", required=True, help="completed video (.mp4, .mkv, .mov, .webm, .avi)")
    cp.add_argument("--missing", required=True, help="0-based frame numbers and inclusive ranges, e.g. 10-14,30")
    cp.add_argument(
        "--method",
        choices=("linear", "slerp", "hybrid", "pixel"),
        default="linear",
        help="latent linear / spherical interpolation, latent + interpolated residual detail, or pixels (linear)",
    )
    cp.add_argument("--compare", action="store_true", help="three panels: file | pixel interpolation | method")
    cp.add_argument("--max-frames", type=int, default=None, help="use only the first frames")
    cp.add_argument("--report", help="write the report as JSON here")
    cp.add_argument("--scale", type=int, default=4, help="upscale each panel by this factor (4)")
    cp.add_argument("--encoder", default="default", help="'default' or a .keras file holding a whole VAE")

    ge = sub.add_parser(
        "generate",
        help="PNG contact sheets of prior samples, or of latent walks between two clips (--walk A B)",
        description="Decode seeded samples z ~ N(0, T^2 I), or walk in latent space from frames of A to frames "
        "of B (videos or images); write a PNG contact sheet.",
    )
    ge.add_argument("-o", "--output", required=True, help="PNG to write")
    ge.add_argument("--walk", nargs=2, metavar=("A", "B"), help="walk from clip/image A to clip/image B")
    ge.add_argument("--n", type=int, default=64, help="prior samples (64)")
    ge.add_argument("--seed", type=int, default=0, help="seed of the prior samples (0)")
    ge.add_argument("--temperature", type=float, default=1.0, help="standard deviation of the prior samples (1.0)")
    ge.add_argument("--steps", type=int, default=8, help="walk: points per walk, ends included (8)")
    ge.add_argument("--rows", type=int, default=4, help="walk: frames taken from each clip, one walk each (4)")
    ge.add_argument("--method", choices=("linear", "slerp"), default="linear", help="walk: interpolation (linear)")
    ge.add_argument("--scale", type=int, default=2, help="upscale each tile by this factor (2)")
    ge.add_argument("--encoder", default="default", help="'default' or a .keras file holding a whole VAE")


def _encoder(spec: str) -> Any:
    from featkit.generative.model import require_decoder

    return require_decoder(None, "run this command", spec=spec)


def _reconstruct(args: argparse.Namespace) -> int:
    from featkit.generative.reconstruct import decode_latents, reconstruct_video

    enc = _encoder(args.encoder)
    if args.input.lower().endswith(".npz"):
        r = decode_latents(args.input, args.output, encoder=enc, scale=args.scale)
        print(f"decoded {r['n_frames']} frames at {r['fps']:.3g} fps; wrote {r['output']}")
        return 0
    r = reconstruct_video(
        args.input,
        args.output,
        encoder=enc,
        fps=args.fps,
        max_frames=args.max_frames,
        latent_dtype=args.dtype,
        scale=args.scale,
        report=args.report,
        latents=args.latents,
    )
    print(
        f"{r['n_frames']} frames at {r['frame_size'][0]}x{r['frame_size'][1]}: "
        f"{r['latent_bytes']:.0f} bytes/frame ({r['latent_dtype']} latents, {r['compression_ratio']:.0f}x smaller "
        f"than raw RGB); PSNR {r['psnr_db']['mean']:.2f} dB, SSIM {r['ssim']['mean']:.3f} (mean over frames)"
    )
    for key in ("output", "latents"):
        if r.get(key):
            print(f"  wrote {r[key]}")
    if args.report:
        print(f"  wrote {args.report}")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from featkit.generative.completion import complete_video

    enc = _encoder(args.encoder)
    r = complete_video(
        args.input,
        args.output,
        args.missing,
        encoder=enc,
        method=args.method,
        compare=args.compare,
        scale=args.scale,
        max_frames=args.max_frames,
        report=args.report,
    )
    q = r["against_file_frames"]
    scores = "; ".join(f"{k}: PSNR {v['psnr_db']:.2f} dB, SSIM {v['ssim']:.3f}" for k, v in q.items())
    print(f"filled {len(r['missing'])} of {r['n_frames']} frames ({args.method}); against the file's frames: {scores}")
    print(f"  wrote {r['output']}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from featkit.generative.generation import prior_sheet, walk_sheet

    enc = _encoder(args.encoder)
    if args.walk:
        path = walk_sheet(
            args.walk[0],
            args.walk[1],
            args.output,
            encoder=enc,
            steps=args.steps,
            rows=args.rows,
            method=args.method,
            scale=args.scale,
        )
        print(f"{args.rows} latent walks of {args.steps} steps ({args.method}); wrote {path}")
        return 0
    path = prior_sheet(
        args.output, encoder=enc, n=args.n, seed=args.seed, temperature=args.temperature, scale=args.scale
    )
    print(f"{args.n} prior samples (seed {args.seed}, temperature {args.temperature}); wrote {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; return its exit code (2 when an output cannot be written)."""
    try:
        return {"reconstruct": _reconstruct, "complete": _complete, "generate": _generate}[args.command](args)
    except OSError as exc:  # an output folder or file that cannot be written
        print(f"featkit {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
