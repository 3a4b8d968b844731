"""What ``featkit reconstruct``, ``complete`` and ``generate`` do with parsed arguments (options: featkit.cli)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["COMMANDS", "run"]

#: Subcommands defined here.
COMMANDS = ("reconstruct", "complete", "generate")


def _pick(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The keyword arguments named like the parsed options (``--max-frames`` -> ``max_frames=``)."""
    return {name: getattr(args, name) for name in names}


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
    options = _pick(args, "fps", "max_frames", "scale", "report", "latents")
    r = reconstruct_video(args.input, args.output, encoder=enc, latent_dtype=args.dtype, **options)
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
    options = _pick(args, "method", "compare", "scale", "max_frames", "report")
    r = complete_video(args.input, args.output, args.missing, encoder=enc, **options)
    q = r["against_file_frames"]
    scores = "; ".join(f"{k}: PSNR {v['psnr_db']:.2f} dB, SSIM {v['ssim']:.3f}" for k, v in q.items())
    print(f"filled {len(r['missing'])} of {r['n_frames']} frames ({args.method}); against the file's frames: {scores}")
    print(f"  wrote {r['output']}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from featkit.generative.generation import prior_sheet, walk_sheet

    enc = _encoder(args.encoder)
    if args.walk:
        a, b = args.walk
        path = walk_sheet(a, b, args.output, encoder=enc, **_pick(args, "steps", "rows", "method", "scale"))
        print(f"{args.rows} latent walks of {args.steps} steps ({args.method}); wrote {path}")
        return 0
    path = prior_sheet(args.output, encoder=enc, **_pick(args, "n", "seed", "temperature", "scale"))
    print(f"{args.n} prior samples (seed {args.seed}, temperature {args.temperature}); wrote {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; return its exit code (2 when an output cannot be written)."""
    try:
        return {"reconstruct": _reconstruct, "complete": _complete, "generate": _generate}[args.command](args)
    except OSError as exc:  # an output folder or file that cannot be written
        print(f"featkit {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
