"""Write synthetic H.264 videos fast, for benchmarks that need long or many videos (not for accuracy).

A video is a loop of ``cycle`` distinct frames (a coloured block texture with a
sliding gradient and a square moving on an ellipse) encoded with libx264
``ultrafast`` through PyAV. Each distinct frame is converted to YUV once and
re-sent with new timestamps, so a 60-minute 320x240 video at 10 fps (36,000
frames) takes about 15 s to write on one busy core. The decoder still has to
decode every frame: x264 does not know the frames repeat beyond its reference
window.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["write_synthetic_tree", "write_synthetic_video"]


def _cycle_frames(width: int, height: int, cycle: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    block = 8
    base = rng.integers(0, 256, (height // block + 1, width // block + 1, 3), dtype=np.uint8)
    base = base.repeat(block, 0).repeat(block, 1)[:height, :width]
    xx = np.arange(width)[None, :]
    side = max(4, min(width, height) // 6)
    frames = []
    for k in range(cycle):
        phase = 2 * np.pi * k / cycle
        img = base.copy()
        img[..., int(seed) % 3] = ((xx + 64 * np.sin(phase)) % 256).astype(np.uint8)
        cx = int(width / 2 + width / 3 * np.cos(phase))
        cy = int(height / 2 + height / 3 * np.sin(phase))
        img[max(0, cy - side) : cy + side, max(0, cx - side) : cx + side] = (255, 255, 0)
        frames.append(img)
    return frames


def write_synthetic_video(
    path: str | os.PathLike[str],
    seconds: float,
    *,
    fps: int = 10,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    cycle: int = 120,
    crf: int = 30,
) -> Path:
    """Write a looping synthetic H.264 ``.mp4`` of the given duration.

    Parameters
    ----------
    path : path-like
        Output file (parent folders are created).
    seconds : float
        Duration; ``round(seconds * fps)`` frames are written.
    fps : int, default=10
        Frame rate.
    width, height : int, default=320, 240
        Frame size (even numbers: the stream is YUV 4:2:0).
    seed : int, default=0
        Chooses the texture, so videos of different seeds differ.
    cycle : int, default=120
        Distinct frames before the content repeats.
    crf : int, default=30
        x264 constant rate factor (higher is smaller and blurrier).

    Returns
    -------
    Path

    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    yuv = []
    for img in _cycle_frames(width, height, cycle, seed):
        yuv.append(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p"))
    n = max(1, round(seconds * fps))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf), "mbtree": "0"}  # mbtree: bytes varied run to run
        for i in range(n):
            frame = yuv[i % cycle]
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_synthetic_tree(
    root: str | os.PathLike[str],
    n_videos: int,
    seconds: float,
    *,
    fps: int = 24,
    width: int = 640,
    height: int = 360,
) -> list[Path]:
    """Write ``n_videos`` synthetic videos (seeds 0, 1, ...) as ``root/v<i>.mp4``."""
    root = Path(root)
    return [
        write_synthetic_video(root / f"v{i:02d}.mp4", seconds, fps=fps, width=width, height=height, seed=i)
        for i in range(n_videos)
    ]
