"""The pipeline a user would write without featkit: OpenCV reads every frame, Keras encodes one at a time.

This is the baseline of the speed benchmark, written the way the OpenCV and
Keras tutorials show it, with nothing tuned::

    cap = cv2.VideoCapture(path)
    i = 0
    while True:
        ok, frame = cap.read()               # decode every frame (BGR, native size)
        if not ok:
            break
        if i in wanted:                      # the sampled frames (every 3rd at 24 fps -> 8 fps)
            x = resize shorter side to 64 (INTER_AREA), centre crop, BGR -> RGB, / 255
            mu, logvar = model(x[None])      # the same Keras encoder, one frame per call
        i += 1
    per clip: the same statistics (mean/std of mu, mean sigma, mean |diff mu|)

It is given the very frame indices featkit samples, so both produce the same
clips and the same feature columns (values differ slightly: OpenCV and
decord convert colours and scale differently). It is *honest*, not a straw
man: OpenCV's FFmpeg backend decodes with all cores by default, and the
per-frame model call runs the same compiled Keras layers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["naive_opencv_features"]


def naive_opencv_features(
    path: str | os.PathLike[str],
    model: Any,
    size: int,
    wanted: np.ndarray,
    clips: Sequence[np.ndarray],
    stats: Sequence[str],
    scorer: Any = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Features of one video the naive way.

    Parameters
    ----------
    path : path-like
        The video.
    model : keras.Model
        Encoder taking float frames in [0, 1] of shape (1, size, size, 3), returning ``[mu, logvar]``.
    size : int
        The encoder's input side.
    wanted : ndarray of int
        Frame indices to encode (sorted).
    clips : sequence of ndarray of int
        Each clip's frame indices (a subset of ``wanted``).
    scorer : featkit.encoders.Encoder, optional
        An encoder with a decoder (the same model), for ``polarity``: the clip's middle frame is scored
        through it (one frame per clip, as featkit does; what a user would do by hand costs the same).
    stats : sequence of str
        Statistic names (:mod:`featkit.stats`).

    Returns
    -------
    features : ndarray of shape (n_clips, n_features), float32
    timing : dict
        ``read_s`` (decoding and converting every frame), ``encode_s`` (model
        calls) and ``frames_read``.

    """
    import time

    import cv2

    from featkit.motion import step_motion
    from featkit.polarity import polarity_frames
    from featkit.quality import frame_quality
    from featkit.reduce import measure_decoded
    from featkit.stats import DECODED_MEASURES, clip_statistics, needs_decoded, needs_motion, needs_quality

    if needs_decoded(stats) and scorer is None:
        raise ValueError("The polarity and residual statistics need scorer=, an encoder with a decoder.")

    keep = {int(i) for i in wanted}
    mu_by_frame: dict[int, np.ndarray] = {}
    lv_by_frame: dict[int, np.ndarray] = {}
    rgb_by_frame: dict[int, np.ndarray] = {}
    read_s = encode_s = 0.0
    cap = cv2.VideoCapture(os.fspath(path))
    if not cap.isOpened():
        raise OSError(f"OpenCV cannot open {path}")
    i = 0
    try:
        while True:
            t = time.perf_counter()
            ok, frame = cap.read()
            if not ok:
                break
            if i in keep:
                h, w = frame.shape[:2]
                scale = size / min(h, w)
                tw, th = max(size, round(w * scale)), max(size, round(h * scale))
                small = cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
                y0, x0 = (th - size) // 2, (tw - size) // 2
                rgb = cv2.cvtColor(small[y0 : y0 + size, x0 : x0 + size], cv2.COLOR_BGR2RGB)
                x = rgb.astype(np.float32) / 255.0
                t1 = time.perf_counter()
                read_s += t1 - t
                mu, logvar = model(x[None], training=False)
                mu_by_frame[i], lv_by_frame[i] = np.asarray(mu)[0], np.asarray(logvar)[0]
                rgb_by_frame[i] = rgb
                encode_s += time.perf_counter() - t1
            else:
                read_s += time.perf_counter() - t
            i += 1
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    finally:
        cap.release()
    rows = []
    for fids in clips:
        present = [int(f) for f in fids if int(f) in mu_by_frame]
        if not present:
            raise ValueError(f"OpenCV returned {i} frames of {path}; a clip needs frames {fids[0]}..{fids[-1]}")
        mu, logvar = np.stack([mu_by_frame[f] for f in present]), np.stack([lv_by_frame[f] for f in present])
        quality = None
        if needs_quality(stats):
            quality = frame_quality(np.stack([rgb_by_frame[f] for f in present]), None)
        decoded = None
        if needs_decoded(stats):
            decoded = np.full((len(present), len(DECODED_MEASURES)), np.nan)
            middle = present.index(int(polarity_frames(np.asarray(present))))
            t1 = time.perf_counter()
            one = slice(middle, middle + 1)
            decoded[one] = measure_decoded(scorer, rgb_by_frame[present[middle]][None], mu[one], logvar[one], stats)
            encode_s += time.perf_counter() - t1
        rows.append(
            clip_statistics(
                mu,
                logvar,
                stats,
                times=np.array(present, dtype=np.float64) / fps,  # index / fps: what a naive user does
                steps=step_motion(np.stack([rgb_by_frame[f] for f in present])) if needs_motion(stats) else None,
                quality=quality,
                decoded=decoded,
            )
        )
    return np.stack(rows), {"read_s": read_s, "encode_s": encode_s, "frames_read": i}
