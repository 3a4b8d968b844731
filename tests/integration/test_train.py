"""``featkit train``: real videos, real decoder, real Keras training, checkpoints and exact resume."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

keras = pytest.importorskip("keras")

from featkit.cli import main  # noqa: E402
from featkit.config import DEFAULT_STATS  # noqa: E402
from featkit.exceptions import (  # noqa: E402
    ConfigError,
    EncoderError,
    InsufficientDataError,
    StoreMismatchError,
)
from featkit.stats import feature_names  # noqa: E402
from featkit.training import TrainConfig, TrainingWarning, split_videos, train_vae_on_videos  # noqa: E402
from featkit.training.frames import collect_frames, random_crops, read_views  # noqa: E402
from tests import videofactory as vf  # noqa: E402

#: A tiny architecture so each training run takes seconds.
TINY = {"input_size": 32, "widths": (8, 16), "latent_dim": 4, "crops": 1, "batch_size": 8}
TINY_ARGS = ["--input-size", "32", "--widths", "8,16", "--latent-dim", "4", "--crops", "1", "--batch-size", "8"]


def _write_videos(root, n=3, frames=24):
    kinds = ["moving_square", "stripes", "rotating_bar", "moving_square"]
    return [
        vf.write_clip(root, f"v{i}", vf.pattern_frames(frames, 56, 72, kind=kinds[i], seed=i), fmt="h264_mp4", fps=8)
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three real 3-second H.264 videos (12 frames each at the default 4 fps)."""
    root = tmp_path_factory.mktemp("train_videos")
    _write_videos(root)
    return root


def _weights(path):
    return keras.saving.load_model(path, safe_mode=True, compile=False).get_weights()


def test_cli_writes_a_model_and_report_that_extract_uses(videos, tmp_path, capsys):
    from featkit import ExtractionConfig, SamplingConfig, load_features
    from featkit.encoders import load_encoder
    from featkit.encoders.vae import VAE
    from featkit.extraction import extract

    out = tmp_path / "models" / "my_vae.keras"
    assert main(["train", str(videos), "-o", str(out), "--epochs", "2", *TINY_ARGS]) == 0
    err = capsys.readouterr().err
    assert "held-out (videos, 12 frames)" in err
    assert "PCA-4" in err
    assert not (tmp_path / "models" / "my_vae.ckpt").exists()  # removed once the model is written

    report = json.loads((tmp_path / "models" / "my_vae.json").read_text())
    for v in report["data"]["videos"]:
        assert v["sha256"] == hashlib.sha256((videos / v["path"]).read_bytes()).hexdigest()
    roles = [v["role"] for v in report["data"]["videos"]]
    assert sorted(roles) == ["held_out", "train", "train"]
    assert report["data"]["n_train_frames"] == 2 * 12 * 2  # two videos, 12 views + 12 crops each
    assert report["architecture"] == {"input_size": 32, "latent_dim": 4, "widths": [8, 16], "beta": 1.0,
                                      "obs_var": report["architecture"]["obs_var"]}  # fmt: skip
    assert all(len(report["history"][k]) == 2 for k in ("loss", "recon", "kl"))
    held = report["held_out"]
    assert (held["n_frames"], held["pca"]["n_components"]) == (12, 4)
    for q in (held["vae"], held["pca"]):
        assert 0 < q["psnr_db"] < 60
        assert -1 <= q["ssim"] <= 1
    assert report["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()

    assert isinstance(keras.saving.load_model(out, safe_mode=True, compile=False), VAE)
    enc = load_encoder(str(out))
    assert (enc.input_size, enc.latent_dim) == (32, 4)
    feats = tmp_path / "features.h5"
    config = ExtractionConfig(encoder=str(out), sampling=SamplingConfig(clip_len=4, fps=4.0))
    assert extract(videos, feats, config, progress=False).ok
    X, _, groups, _ = load_features(feats)
    # 3 videos x 3 clips; the default statistics' columns for a 4-dimensional latent.
    assert X.shape == (9, len(feature_names(DEFAULT_STATS, 4)))
    assert len(set(groups)) == 3
    assert np.isfinite(X).all()


def test_resume_after_an_interruption_matches_an_uninterrupted_run(videos, tmp_path):
    config = TrainConfig(epochs=4, **TINY)
    full = train_vae_on_videos(videos, tmp_path / "full.keras", config, progress=False)
    assert full.resumed_from is None

    data = tmp_path / "data"
    shutil.copytree(videos, data)
    out = tmp_path / "cut.keras"
    done = []

    def interrupt_after_two(epochs_done, logs):
        done.append(epochs_done)
        if epochs_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vae_on_videos(data, out, config, progress=False, on_epoch_end=interrupt_after_two)
    assert done == [1, 2]
    assert not out.exists()
    assert (tmp_path / "cut.ckpt" / "last.npz").is_file()

    # Other settings or other data are refused, naming the difference; the checkpoint survives.
    with pytest.raises(StoreMismatchError, match=r"latent_dim: checkpoint 4, now 8"):
        train_vae_on_videos(data, out, TrainConfig(epochs=4, **{**TINY, "latent_dim": 8}), progress=False)
    with pytest.raises(StoreMismatchError, match=r"epochs: checkpoint 4, now 5"):
        train_vae_on_videos(data, out, TrainConfig(epochs=5, **TINY), progress=False)
    extra = _write_videos(tmp_path / "extra", n=4)[-1]
    shutil.copy(extra, data / "v9.mp4")
    with pytest.raises(StoreMismatchError, match=r"v9\.mp4 added"):
        train_vae_on_videos(data, out, config, progress=False)
    (data / "v9.mp4").unlink()

    resumed = train_vae_on_videos(data, out, config, progress=False, resume=True)
    assert resumed.resumed_from == 2
    assert resumed.report["history"] == full.report["history"]
    for a, b in zip(_weights(out), _weights(full.output), strict=True):
        np.testing.assert_array_equal(a, b)  # the data order is a function of (seed, epoch): exact
    assert resumed.report["held_out"] == full.report["held_out"]


def test_fine_tune_from_the_default_and_from_a_trained_file(videos, tmp_path):
    from featkit.encoders.keras_encoder import default_model_card, load_default_vae

    card = default_model_card()
    config = TrainConfig(epochs=1, init="default", fps=1.0, crops=0, batch_size=8)
    tuned = train_vae_on_videos(videos, tmp_path / "tuned.keras", config, progress=False)
    arch = {k: card["architecture"][k] for k in ("input_size", "latent_dim", "widths", "beta", "obs_var")}
    # A spatial or hybrid latent keeps its design, and so do the optional layers (v4's pooled global inputs).
    for key in ("latent_grid", "latent_global", "encoder_blocks", "global_hidden", "global_pool"):
        if card["architecture"].get(key):
            arch[key] = card["architecture"][key]
    assert tuned.report["architecture"] == arch
    assert tuned.report["init"]["kind"] == "default"
    assert len(tuned.report["init"]["sha256"]) == 64
    after, before = _weights(tuned.output), load_default_vae().get_weights()
    assert all(a.shape == b.shape for a, b in zip(after, before, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(after, before, strict=True))  # it did train
    held = tuned.report["held_out"]
    assert held["n_frames"] == 3
    assert set(held["init"]) == {"psnr_db", "ssim"}  # the shipped model on the same held-out frames
    assert tuned.report["learning_rate"] == 1e-4  # fine-tuning starts gentler than training anew

    with pytest.raises(ConfigError, match=r"'latent_dim' parameter must match .* shipped default"):
        train_vae_on_videos(videos, tmp_path / "x.keras", TrainConfig(init="default", latent_dim=8), progress=False)

    again = train_vae_on_videos(
        videos, tmp_path / "again.keras", TrainConfig(epochs=1, init=str(tuned.output), fps=1.0, crops=0),
        progress=False,
    )  # fmt: skip
    assert again.report["architecture"] == arch
    assert again.report["init"]["kind"] == "file"

    from featkit.encoders.vae import build_encoder

    encoder_only = tmp_path / "encoder_only.keras"
    build_encoder(32, 4, (8, 16)).save(encoder_only)
    with pytest.raises(EncoderError, match="not a featkit VAE"):
        train_vae_on_videos(videos, tmp_path / "y.keras", TrainConfig(init=str(encoder_only)), progress=False)


def test_a_single_readable_video_holds_out_its_tail_and_broken_files_are_skipped(tmp_path):
    root = tmp_path / "one"
    _write_videos(root, n=1)
    vf.write_zero_bytes(root / "broken.mp4")
    config = TrainConfig(epochs=1, holdout_fraction=0.25, **TINY)
    with pytest.warns(TrainingWarning) as caught:
        result = train_vae_on_videos(root, tmp_path / "one.keras", config, progress=False)
    messages = [str(w.message) for w in caught if w.category is TrainingWarning]
    assert any(m.startswith("skipped broken.mp4: open_failed") for m in messages)
    assert any("only one readable video" in m for m in messages)
    data = result.report["data"]
    assert data["holdout"] == "tail"
    assert data["n_held_out_frames"] == 3
    assert data["n_train_frames"] == 9 * 2  # the first 9 of 12 views, each with one crop
    assert [s["path"] for s in data["skipped"]] == ["broken.mp4"]
    assert result.report["warnings"] == messages


def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a video")
    with pytest.raises(InsufficientDataError, match="No video files under"):
        train_vae_on_videos(empty, tmp_path / "m.keras", progress=False)
    assert main(["train", str(empty), "-o", str(tmp_path / "m.keras"), "-q"]) == 2
    assert "featkit train: error: No video files" in capsys.readouterr().err

    broken = tmp_path / "broken"
    vf.write_random_bytes(broken / "noise.mkv")
    vf.write_text_as_video(broken / "notes.mp4")
    with pytest.raises(InsufficientDataError, match=r"None of the 2 video files .* could be read .*open_failed"):
        train_vae_on_videos(broken, tmp_path / "m.keras", progress=False)

    with pytest.raises(ConfigError, match="does not exist"):
        train_vae_on_videos(tmp_path / "missing", tmp_path / "m.keras", progress=False)
    with pytest.raises(ConfigError, match=r"must be a '\.keras' file"):
        train_vae_on_videos(empty, tmp_path / "m.h5", progress=False)
    with pytest.raises(ConfigError, match="Nothing to resume"):
        train_vae_on_videos(empty, tmp_path / "m.keras", resume=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "empty"]  # no model, no checkpoint folder


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("crops", -1),
        ("crop_scales", (0.5,)),
        ("holdout_fraction", 1.0),
        ("learning_rate", 0.0),
        ("widths", ()),
        ("holdout_videos", "v0.mp4"),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"The '{field}' parameter of TrainConfig"):
        TrainConfig(**{field: value})


def test_config_checks_input_size_against_widths():
    with pytest.raises(ConfigError, match=r"divisible by 2\*\*len\(widths\)=8"):
        TrainConfig(input_size=36, widths=(8, 8, 8))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), fraction=st.floats(0, 0.95), seed=st.integers(0, 2**32 - 1))
def test_split_holds_out_whole_videos_deterministically(n, fraction, seed):
    paths = [f"label/v{i:02d}.mp4" for i in range(n)]
    train, held = split_videos(paths, holdout_fraction=fraction, seed=seed)
    assert (train, held) == split_videos(paths, holdout_fraction=fraction, seed=seed)
    assert sorted(train + held) == paths
    assert not set(train) & set(held)
    assert len(train) >= 1
    if n >= 2 and fraction > 0:
        assert len(held) == min(n - 1, max(1, round(fraction * n)))
    else:
        assert held == []


def test_split_by_name():
    paths = ["a/x.mp4", "b/x.mp4", "b/y.mkv"]
    assert split_videos(paths, holdout_videos=["y"]) == (["a/x.mp4", "b/x.mp4"], ["b/y.mkv"])
    assert split_videos(paths, holdout_videos=["a/x.mp4"]) == (["b/x.mp4", "b/y.mkv"], ["a/x.mp4"])
    with pytest.raises(ConfigError, match=r"'x\.mp4' matches 2 videos"):
        split_videos(paths, holdout_videos=["x.mp4"])
    with pytest.raises(ConfigError, match="'z' matches no video"):
        split_videos(paths, holdout_videos=["z"])
    with pytest.raises(InsufficientDataError, match="none is left for training"):
        split_videos(paths, holdout_videos=paths)


@pytest.mark.parametrize("scales", [(1.5,), (1.25, 2.0)], ids=["one-scale", "two-scales"])
def test_crops_are_windows_of_the_frame_decoded_at_their_scale(videos, scales):
    from numpy.lib.stride_tricks import sliding_window_view

    from featkit.io.video import DecordReader

    path = videos / "v1.mp4"
    idx, views = read_views(path, size=32, fps=4.0)
    crops = random_crops(path, idx, size=32, crops=2, scales=scales, rng=np.random.default_rng(0))
    assert crops.shape == (2 * len(idx), 32, 32, 3)
    big = {round(32 * s): DecordReader(path, round(32 * s)).read(idx) for s in scales}
    used = set()
    for k, crop in enumerate(crops):
        i = k % len(idx)
        for side, frames in big.items():
            windows = sliding_window_view(frames[i], (32, 32, 3))[:, :, 0]
            if (windows == crop).all(axis=(2, 3, 4)).any():
                used.add(side)
                break
        else:
            pytest.fail(f"crop {k} is no window of frame {i} at any of the scales {scales}")
    assert used == set(big)  # every scale is drawn
    again = random_crops(path, idx, size=32, crops=2, scales=scales, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(crops, again)
    frames = collect_frames([path], size=32, fps=4.0, crops=2, crop_scales=scales, seed=0)
    np.testing.assert_array_equal(frames, np.concatenate([views, crops]))


def test_a_new_model_follows_the_defaults_latent_design_when_its_size_allows():
    from featkit.encoders.keras_encoder import default_model_card
    from featkit.encoders.vae import build_vae
    from featkit.training.init_model import resolve_init

    grid = default_model_card()["architecture"].get("latent_grid")
    arch, weights, init = resolve_init(TrainConfig())
    assert (weights, init) == (None, {"kind": "new"})
    assert arch.get("latent_grid") == grid
    build_vae(**arch)  # buildable as resolved
    # 4 values cannot fill an 8x8 grid: the small model has one global code.
    tiny, _, _ = resolve_init(TrainConfig(input_size=32, widths=(8, 16), latent_dim=4))
    assert "latent_grid" not in tiny
    sized, _, _ = resolve_init(TrainConfig(input_size=32, widths=(8, 16), latent_dim=128))
    assert sized.get("latent_grid") == (8 if grid else None)
    assert sized.get("latent_global") == default_model_card()["architecture"].get("latent_global")
    build_vae(**sized)
    # A hybrid default's global part is dropped when the rest cannot fill the grid.
    odd, _, _ = resolve_init(TrainConfig(input_size=32, widths=(8, 16), latent_dim=64))
    assert "latent_global" not in odd
    assert odd.get("latent_grid") == (8 if grid else None)
    build_vae(**odd)


def test_cli_options_map_one_to_one_onto_the_config():
    """Every TrainConfig field is one `featkit train` option (dest = field) whose default is the field's."""
    import argparse
    import dataclasses

    from featkit.training.command import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["videos", "-o", "out.keras"])
    fields = {f.name: getattr(TrainConfig(), f.name) for f in dataclasses.fields(TrainConfig)}
    assert {name: getattr(args, name) for name in fields} == fields
    args = parser.parse_args(["v", "-o", "o.keras", "--lr", "0.01", "--no-flip", "--holdout-videos", "a", "b"])
    assert (args.learning_rate, args.flip, args.holdout_videos) == (0.01, False, ["a", "b"])
    with pytest.raises(SystemExit):  # the two hold-out options still exclude each other
        parser.parse_args(["v", "-o", "o.keras", "--holdout-fraction", "0.5", "--holdout-videos", "a"])


@pytest.mark.parametrize(
    ("init", "given", "expected"),
    [(None, None, 1e-3), ("default", None, 1e-4), (None, 0.01, 0.01)],
    ids=["new-model-default", "fine-tune-default", "given"],
)
def test_the_trainer_reads_its_schedule_from_the_config(init, given, expected):
    from featkit.training.trainer import VAETrainer

    config = TrainConfig(init=init, learning_rate=given, epochs=3, batch_size=2, seed=5, flip=False)
    assert config.effective_learning_rate == expected
    frames = np.zeros((5, 16, 16, 3), np.uint8)
    trainer = VAETrainer.from_config(frames, config, {"input_size": 16, "latent_dim": 2, "widths": [4, 8]})
    assert (trainer.epochs, trainer.batch_size, trainer.seed, trainer.flip) == (3, 2, 5, False)
    assert trainer.steps_per_epoch == 3


def test_trainer_with_teacher_targets_learns_them_and_resumes_exactly():
    """A teacher term (featkit.training.distill): the head learns the targets; a saved state resumes bit for bit."""
    from featkit.training.trainer import VAETrainer

    rng = np.random.default_rng(0)
    base = rng.integers(40, 216, size=(96, 1, 1, 3))
    frames = np.clip(base + rng.integers(-40, 41, size=(96, 16, 16, 3)), 0, 255).astype(np.uint8)
    # Targets the frame determines: mean colour, as seen and mirrored (the same here), whitened.
    colour = frames.reshape(96, -1, 3).mean(axis=1)
    colour = (colour - colour.mean(0)) / colour.std(0)
    targets = np.stack([colour, colour], axis=1).astype(np.float32)
    arch = {"input_size": 16, "latent_dim": 8, "widths": [4, 8], "obs_var": 0.05}

    def trainer(weight):
        return VAETrainer(frames, architecture=arch, epochs=8, batch_size=8, learning_rate=3e-3,
                          teacher_targets=targets, teacher_weight=weight)  # fmt: skip

    taught, control = trainer(50.0), trainer(0.0)
    taught_curve = [taught.run_epoch()["teacher"] for _ in range(8)]
    control_curve = [control.run_epoch()["teacher"] for _ in range(8)]
    # Without the weight the head learns nothing; with it, the error falls well below that.
    assert np.mean(taught_curve[-3:]) < 0.6 * np.mean(control_curve[-3:])
    assert np.mean(taught_curve[-3:]) < 0.6 * taught_curve[0]

    a = trainer(50.0)
    a.run_epoch()
    b = trainer(50.0)
    b.set_state(a.get_state())
    assert a.run_epoch() == b.run_epoch()
    for va, vb in zip(a.vae.get_weights(), b.vae.get_weights(), strict=True):
        np.testing.assert_array_equal(va, vb)
    with pytest.raises(ValueError, match=r"teacher_targets must have shape \(n, 2, m\)"):
        VAETrainer(frames, architecture=arch, teacher_targets=targets[:, 0])
