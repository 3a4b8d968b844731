"""Shared fixtures: real videos written per session, and the real default encoder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests import videofactory as vf


@pytest.fixture(scope="session")
def encoder():
    """The shipped default encoder as ``featkit extract`` runs it (its real LiteRT model, real weights)."""
    from featkit.encoders import load_encoder

    return load_encoder("default")


@pytest.fixture(scope="session")
def keras_encoder():
    """The shipped default encoder on the Keras runtime (the real Keras model it was converted from)."""
    from featkit.encoders import load_encoder

    return load_encoder("default", runtime="keras")


def write_labelled_tree(root: Path) -> dict[str, list[Path]]:
    """Three classes x two clips with duplicate basenames, plus odd formats and broken files.

    Returns
    -------
    dict with keys "good" and "bad" listing the files written.
    """
    good = vf.make_corpus(root)
    extra = root / "misc"
    good.append(
        vf.write_clip(
            extra, "odd_size", vf.pattern_frames(30, 61, 97, kind="moving_square", seed=3), fmt="mpeg4_avi", fps=15
        )
    )
    if "vp9_webm" in vf.available_formats():
        good.append(
            vf.write_clip(extra, "vp9", vf.pattern_frames(40, 64, 80, kind="stripes", seed=1), fmt="vp9_webm", fps=20)
        )
    good.append(
        vf.write_clip(
            extra, "mjpeg", vf.pattern_frames(20, 72, 64, kind="rotating_bar", seed=2), fmt="mjpeg_mkv", fps=10
        )
    )
    good.append(vf.write_clip(extra, "single_frame", vf.pattern_frames(1, 64, 64, seed=4), fmt="h264_mp4", fps=24))
    good.append(vf.write_vfr_video(extra / "vfr.mp4", vf.pattern_frames(24, 64, 64, seed=5)))
    # Upper-case extension, directly in the root (no label).
    upper = vf.write_clip(root, "UPPER", vf.pattern_frames(24, 64, 64, seed=6), fmt="h264_mp4", fps=24)
    good.append(upper.rename(root / "UPPER.MP4"))
    bad_dir = root / "broken"
    bad = [
        vf.write_zero_bytes(bad_dir / "empty.mp4"),
        vf.write_random_bytes(bad_dir / "noise.mkv"),
        vf.write_text_as_video(bad_dir / "notes.mp4"),
        vf.write_audio_only(bad_dir / "audio.mp4", codec="aac", duration=0.5),
    ]
    (root / "readme.txt").write_text("not a video, not picked up")
    (root / "dir.mp4").mkdir()  # a folder named like a video is not a video
    return {"good": good, "bad": bad}


@pytest.fixture(scope="session")
def labelled_tree(tmp_path_factory) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path_factory.mktemp("videos")
    return root, write_labelled_tree(root)


@pytest.fixture(scope="session")
def extracted(labelled_tree, encoder, tmp_path_factory):
    """One full extraction of the labelled tree (n_jobs=1), shared by read-only tests."""
    from featkit import ExtractionConfig
    from featkit.extraction import extract

    root, _ = labelled_tree
    out = tmp_path_factory.mktemp("out") / "features.h5"
    report = extract(root, out, ExtractionConfig(), progress=False, encoder=encoder)
    return out, report


def features_of(path: Path) -> dict[str, np.ndarray]:
    """Everything in a feature file that must be reproducible, read with plain h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        out = {"features": f["features"][()]}
        for group in ("clips", "videos"):
            for k in f[group]:
                if k in ("mtime_ns",):
                    continue
                out[f"{group}/{k}"] = f[group][k][()]
        return out


def class_corpus_spec() -> dict[str, list[vf.ClipSpec]]:
    """Three visually distinct classes, four videos each, varied seeds and motions."""
    motions = [(3, 2), (2, -3), (-2, 2), (-3, -2)]  # no static pattern
    kinds = {"square": "moving_square", "stripes": "stripes", "bar": "rotating_bar"}
    return {
        label: [vf.ClipSpec(f"v{i}", kind, seed=10 * c + i, motion=motions[i], n_frames=48) for i in range(4)]
        for c, (label, kind) in enumerate(kinds.items())
    }


@pytest.fixture(scope="session")
def class_videos(tmp_path_factory) -> tuple[Path, list[Path]]:
    """12 real videos (3 classes x 4) under root/<label>/."""
    root = tmp_path_factory.mktemp("classes")
    return root, vf.make_corpus(root, class_corpus_spec())


@pytest.fixture(scope="session")
def class_features(class_videos, encoder, tmp_path_factory) -> Path:
    """Features of :func:`class_videos` with short clips (4 clips of 4 samples per video, 48 clips)."""
    from featkit import ExtractionConfig, SamplingConfig
    from featkit.extraction import extract

    out = tmp_path_factory.mktemp("classes_out") / "features.h5"
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=4, fps=8.0))
    report = extract(class_videos[0], out, config, progress=False, encoder=encoder)
    assert report.ok
    assert report.n_extracted == 12
    return out
