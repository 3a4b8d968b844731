"""Completion: fill missing or damaged frames from their known neighbours, in latent space or in pixels.

For a missing frame i between the nearest known frames a < i < b, with
t = (i - a) / (b - a):

* ``"linear"`` / ``"slerp"``: decode the interpolation of μ_a and μ_b
  (:func:`featkit.generative.latent.interpolate`);
* ``"hybrid"``: the latent fill plus the linearly interpolated residuals
  (x_a − decode(μ_a), x_b − decode(μ_b)), which puts back the detail the
  decoder cannot draw; it equals ``"linear"`` for a perfect decoder and
  ``"pixel"`` for a useless one;
* ``"pixel"``: the baseline, ``(1 - t) x_a + t x_b``.

Frames before the first or after the last known frame copy that frame.
Known frames are kept as they are.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from featkit._validation import Interval, Options, validate_params
from featkit.exceptions import ConfigError
from featkit.generative.latent import interpolate
from featkit.generative.media import VideoWriter, open_video, side_by_side, to_uint8, upscale
from featkit.generative.model import require_decoder
from featkit.metrics import psnr, ssim

__all__ = ["COMPLETION_METHODS", "complete_frames", "complete_video", "neighbours", "parse_frame_list"]

#: Ways to fill a missing frame.
COMPLETION_METHODS = ("linear", "slerp", "hybrid", "pixel")

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_frame_list(text: str) -> np.ndarray:
    """Parse frame numbers such as ``"10-14,30"`` (inclusive ranges, 0-based) into sorted unique ints.

    Raises
    ------
    ConfigError
        On anything that is not a comma-separated list of ``N`` or ``N-M`` with N <= M.

    """
    out: set[int] = set()
    for part in str(text).split(","):
        m = _RANGE.match(part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ConfigError(
                "Missing frames must be a comma-separated list of 0-based frame numbers and inclusive ranges, "
                f"such as '10-14,30'. Got {text!r} instead."
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        out.update(range(lo, hi + 1))
    return np.array(sorted(out), dtype=np.int64)


def neighbours(n: int, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each missing frame, its nearest known frames before and after, and its position between them.

    Parameters
    ----------
    n : int
        Number of frames.
    missing : ndarray of int
        Missing frame numbers, each in [0, n).

    Returns
    -------
    before, after : ndarray of shape (m,), int64
        Nearest known frame at or before / at or after (the other one at the
        ends of the video).
    t : ndarray of shape (m,), float64
        ``(i - before) / (after - before)``, 0 when both are the same frame.

    Raises
    ------
    ConfigError
        If a frame number is out of range, or no frame is left known.

    """
    missing = np.unique(np.asarray(missing, dtype=np.int64))
    if missing.size and (missing[0] < 0 or missing[-1] >= n):
        raise ConfigError(
            f"Missing frame numbers must lie in [0, {n - 1}] for a video of {n} frames. "
            f"Got {missing[0]}..{missing[-1]} instead."
        )
    known = np.setdiff1d(np.arange(n), missing)
    if known.size == 0:
        raise ConfigError(f"Every one of the {n} frames is marked missing; at least one must be known.")
    pos = np.searchsorted(known, missing)
    before = known[np.clip(pos - 1, 0, known.size - 1)]
    after = known[np.clip(pos, 0, known.size - 1)]
    before = np.where(pos == 0, after, before)
    after = np.where(pos == known.size, before, after)
    span = (after - before).astype(np.float64)
    t = np.where(span > 0, (missing - before) / np.where(span > 0, span, 1.0), 0.0)
    return before, after, t


def complete_frames(
    frames: np.ndarray, missing: np.ndarray, *, encoder: Any = None, method: str = "linear"
) -> np.ndarray:
    """Replace the missing frames of a sequence by fills from their known neighbours.

    Parameters
    ----------
    frames : ndarray of shape (n, S, S, 3), uint8
        The sequence; the content at the missing positions is never looked at.
    missing : ndarray of int
        Frame numbers to fill.
    encoder : Encoder, optional
        An encoder with a decoder (not needed for ``"pixel"``); default the shipped VAE.
    method : {"linear", "slerp", "hybrid", "pixel"}, default="linear"
        See the module docstring.

    Returns
    -------
    ndarray of shape (n, S, S, 3), uint8
        The sequence with the missing frames filled.

    """
    validate_params("complete_frames", {"method": [Options(COMPLETION_METHODS)]}, {"method": method})
    frames = np.asarray(frames, dtype=np.uint8)
    missing = np.unique(np.asarray(missing, dtype=np.int64))
    before, after, t = neighbours(frames.shape[0], missing)
    out = frames.copy()
    if missing.size == 0:
        return out
    tt = t[:, None, None, None]
    xa, xb = frames[before].astype(np.float64) / 255.0, frames[after].astype(np.float64) / 255.0
    if method == "pixel":
        out[missing] = to_uint8((1.0 - tt) * xa + tt * xb)
        return out
    encoder = require_decoder(encoder, "complete frames in latent space")
    ends = np.unique(np.concatenate([before, after]))
    mu_known, _ = encoder.encode(frames[ends])
    ia, ib = np.searchsorted(ends, before), np.searchsorted(ends, after)
    z = interpolate(mu_known[ia], mu_known[ib], t, "slerp" if method == "slerp" else "linear", pairwise=True)
    filled = encoder.decode(z.astype(np.float32)).astype(np.float64)
    if method == "hybrid":
        recon = encoder.decode(mu_known).astype(np.float64)
        res = frames[ends].astype(np.float64) / 255.0 - recon
        filled = filled + (1.0 - tt) * res[ia] + tt * res[ib]
    out[missing] = to_uint8(filled)
    return out


def complete_video(
    video: str | os.PathLike[str],
    output: str | os.PathLike[str],
    missing: str | np.ndarray,
    *,
    encoder: Any = None,
    method: str = "linear",
    compare: bool = False,
    scale: int = 4,
    max_frames: int | None = None,
    report: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Fill the missing frames of a video and write the completed video at the model's size.

    Parameters
    ----------
    video : path-like
        The input video (every frame is read, resized and centre-cropped to S x S).
    output : path-like
        The completed video.
    missing : str or ndarray of int
        Frame numbers to fill (``"10-14,30"`` or an array), 0-based.
    encoder : Encoder, optional
        An encoder with a decoder; default the shipped VAE.
    method : {"linear", "slerp", "hybrid", "pixel"}, default="linear"
        How to fill (see the module docstring).
    compare : bool, default=False
        Write three panels instead of one: the file's own frame | pixel
        interpolation | ``method``.
    scale : int, default=4
        Nearest-neighbour upscaling of each panel.
    max_frames : int, optional
        Use only the first frames.
    report : path-like, optional
        Write the report as JSON here.

    Returns
    -------
    dict
        Frames filled, and PSNR/SSIM of ``method`` and of pixel interpolation
        on the filled frames against the file's own frames there. These
        measure completion when the frames were held out but are intact in
        the file; for frames that really are damaged they only say how far
        the fill is from the damage.

    """
    validate_params("complete_video", {"scale": [Interval(int, 1, None)]}, {"scale": scale})
    missing_idx = parse_frame_list(missing) if isinstance(missing, str) else np.asarray(missing, dtype=np.int64)
    if method != "pixel" or encoder is None:  # pixel filling needs only the model's input size
        encoder = require_decoder(encoder, "complete frames")
    src = open_video(video, encoder.input_size, max_frames=max_frames)
    frames = src.read()
    done = complete_frames(frames, missing_idx, encoder=encoder, method=method)
    pixel = done if method == "pixel" else complete_frames(frames, missing_idx, method="pixel")
    with VideoWriter(output, src.fps) as writer:
        for lo in range(0, frames.shape[0], 256):
            sl = slice(lo, lo + 256)
            panels = (frames[sl], pixel[sl], done[sl]) if compare else (done[sl],)
            writer.write(side_by_side(*(upscale(p, scale) for p in panels), gap=scale if compare else 0))
    m = np.unique(missing_idx)
    ref = frames[m].astype(np.float32) / 255.0

    def quality(x: np.ndarray) -> dict[str, float | None]:
        if m.size == 0:
            return {"psnr_db": None, "ssim": None}
        y = x[m].astype(np.float32) / 255.0
        return {"psnr_db": float(psnr(ref, y).mean()), "ssim": float(ssim(ref, y).mean())}

    out = {
        "input": os.fspath(video),
        "output": os.fspath(output),
        "n_frames": int(frames.shape[0]),
        "fps": src.fps,
        "missing": [int(i) for i in m],
        "method": method,
        "against_file_frames": {method: quality(done), "pixel": quality(pixel)},
        "panels": ["file", "pixel", method] if compare else [method],
    }
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps(out, indent=2))
    return out
