"""The anomaly score: the model's own objective per frame, the ``anomaly`` statistic, and that it flags odd clips."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from featkit import ExtractionConfig, SamplingConfig  # noqa: E402
from featkit.encoders.keras_encoder import KerasEncoder, load_default_vae  # noqa: E402
from featkit.exceptions import ConfigError, EncoderError  # noqa: E402
from featkit.generative.anomaly import negative_elbo, reconstruction_mse  # noqa: E402
from featkit.io.sampling import plan_clips  # noqa: E402
from featkit.io.video import DecordReader  # noqa: E402
from featkit.reduce import encode_frames  # noqa: E402
from featkit.stats import SCORE_STATISTICS, clip_statistics, feature_names, needs_scores  # noqa: E402
from tests import videofactory as vf  # noqa: E402
from tests.natural_frames import natural_frames  # noqa: E402


def extract_rows(path, encoder, stats, sampling=None):
    """What ``featkit.extraction.encode_video`` computes for one video, through :func:`encode_frames`."""
    sampling = sampling or SamplingConfig(clip_len=8, fps=8.0)
    reader = DecordReader(path, encoder.input_size)
    plan = plan_clips(reader.info.starts, reader.info.end, sampling)
    frame_ids = plan.needed_frames()
    mu, logvar, scores = encode_frames(encoder, reader.read(frame_ids), stats)
    rows = []
    for i in range(plan.n_clips):
        pos = np.searchsorted(frame_ids, plan.frame_indices[plan.clip_samples(i)])
        rows.append(clip_statistics(mu[pos], logvar[pos], stats, None if scores is None else scores[pos]))
    return np.stack(rows)


def test_score_is_the_models_training_objective_at_the_posterior_mean(encoder):
    frames = natural_frames(6, seed=3)
    x = frames.astype("float32") / 255.0
    vae = load_default_vae()
    y_pred = vae(x, training=False)
    expected = float(vae.compute_loss(x=x, y_pred=y_pred))  # mean over frames of recon NLL + beta * KL
    scores = encoder.score(frames)
    assert scores.shape == (6,)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores.mean(), expected, rtol=1e-4)
    # Per frame, against the model's own loss terms.
    from featkit.encoders.vae import kl_divergence, reconstruction_nll

    x_hat, mu, logvar = (np.asarray(t) for t in y_pred)
    per_frame = np.asarray(reconstruction_nll(x, x_hat, vae.obs_var)) + vae.beta * np.asarray(kl_divergence(mu, logvar))
    np.testing.assert_allclose(scores, per_frame, rtol=1e-4)
    # Passing the posterior gives the same numbers.
    np.testing.assert_array_equal(encoder.score(frames, posterior=encoder.encode(frames)), scores)


def test_negative_elbo_by_hand():
    frames = np.full((2, 4, 4, 3), 255, np.uint8)
    recon = np.full((2, 4, 4, 3), 0.5)
    mu = np.array([[0.0, 0.0], [1.0, 2.0]])
    logvar = np.zeros((2, 2))
    got = negative_elbo(frames, recon, mu, logvar, beta=2.0, obs_var=0.5)
    nll = 48 * 0.25 / (2 * 0.5)
    np.testing.assert_allclose(got, [nll, nll + 2.0 * 0.5 * 5.0])
    np.testing.assert_allclose(reconstruction_mse(frames, recon), [0.25, 0.25])


def test_statistic_names_and_validation():
    assert needs_scores(["mu_mean", "anomaly"])
    assert not needs_scores(["mu_mean"])
    names = feature_names(["mu_mean", "anomaly", "sigma_mean"], 3)
    assert names == ["mu_mean_00", "mu_mean_01", "mu_mean_02", "anomaly_nelbo"] + [f"sigma_mean_0{j}" for j in range(3)]
    assert SCORE_STATISTICS["anomaly"] == "anomaly_nelbo"
    mu, lv = np.zeros((4, 3)), np.zeros((4, 3))
    row = clip_statistics(mu, lv, ["anomaly", "mu_mean"], scores=np.array([1.0, 2.0, 3.0, 6.0]))
    np.testing.assert_allclose(row, [3.0, 0, 0, 0])
    with pytest.raises(ValueError, match="need per-frame scores"):
        clip_statistics(mu, lv, ["anomaly"])
    with pytest.raises(ValueError, match="one value per frame"):
        clip_statistics(mu, lv, ["anomaly"], scores=np.zeros(3))
    assert ExtractionConfig(stats=("mu_mean", "anomaly")).stats == ("mu_mean", "anomaly")
    with pytest.raises(ConfigError):
        ExtractionConfig(stats=("anomaly_nelbo",))


def test_encoder_without_decoder_refuses_clearly(keras_encoder, tmp_path):
    bare = KerasEncoder(keras_encoder.model, name="bare", sha256="", config={})
    assert not bare.has_decoder
    frames = natural_frames(2)
    with pytest.raises(EncoderError, match=r"'bare' cannot score frames.*no decoder"):
        bare.score(frames)
    with pytest.raises(EncoderError, match="no decoder"):
        bare.decode(np.zeros((1, bare.latent_dim)))
    with pytest.raises(EncoderError, match=r"\['anomaly'\] need an encoder with a decoder"):
        encode_frames(bare, frames, ("mu_mean", "anomaly"))
    mu, _, scores = encode_frames(bare, frames, ("mu_mean",))
    assert scores is None
    assert mu.shape == (2, bare.latent_dim)


@pytest.fixture(scope="module")
def scored_videos(tmp_path_factory, encoder):
    """Real H.264 videos: natural-looking clips, corrupted copies, and synthetic patterns; per-clip rows."""
    root = tmp_path_factory.mktemp("anomaly")
    rng = np.random.default_rng(0)
    clips: dict[str, list[np.ndarray]] = {"normal": [], "noise": [], "blocks": [], "inverted": [], "pattern": []}
    for s in range(3):
        nat = natural_frames(16, seed=s, pan=(3, 2))
        clips["normal"].append(nat)
        clips["noise"].append(np.clip(nat + rng.normal(0, 25, nat.shape), 0, 255).astype(np.uint8))
        blocks = nat.copy()
        for frame in blocks:
            for y, x in rng.integers(0, 48, (4, 2)):
                frame[y : y + 16, x : x + 16] = rng.integers(0, 256, 3)
        clips["blocks"].append(blocks)
        clips["inverted"].append(255 - nat)
    for i, kind in enumerate(("checkerboard", "stripes", "noise")):
        clips["pattern"].append(vf.pattern_frames(16, 64, 64, kind=kind, seed=i + 1))
    stats = ("mu_mean", "anomaly")
    rows = {}
    for group, frames_list in clips.items():
        for i, frames in enumerate(frames_list):
            path = vf.write_clip(root / group, f"clip{i}", frames, fps=8)
            rows[(group, i, path)] = extract_rows(path, encoder, stats)
    return rows, stats


def test_anomaly_column_extends_the_features_without_changing_them(scored_videos, encoder):
    rows, stats = scored_videos
    (_group, _i, path), got = next(iter(rows.items()))
    assert got.shape == (2, len(feature_names(stats, encoder.latent_dim)))  # 16 frames at 8 fps, clips of 8
    plain = extract_rows(path, encoder, ("mu_mean",))
    np.testing.assert_array_equal(got[:, :-1], plain)
    assert np.all(np.isfinite(got[:, -1]))
    assert np.all(got[:, -1] > 0)


def _clip_scores(rows, group):
    return np.concatenate([r[:, -1] for (g, _, _), r in rows.items() if g == group])


def test_corrupted_and_out_of_domain_clips_score_above_every_normal_clip(scored_videos):
    rows, _ = scored_videos
    normal = _clip_scores(rows, "normal")
    for group in ("noise", "blocks", "pattern"):
        assert _clip_scores(rows, group).min() > normal.max(), group


def test_anomaly_auc_over_all_corruptions_including_inverted_colours(scored_videos):
    from sklearn.metrics import roc_auc_score

    rows, _ = scored_videos
    normal = _clip_scores(rows, "normal")
    odd = np.concatenate([_clip_scores(rows, g) for g in ("noise", "blocks", "inverted", "pattern")])
    y = np.r_[np.zeros(normal.size), np.ones(odd.size)]
    assert roc_auc_score(y, np.r_[normal, odd]) >= 0.9


def test_extract_stores_the_anomaly_column_and_it_flags_the_odd_video(tmp_path, encoder):
    """Through the real ``featkit.extract`` (worker decode, windowed encode, HDF5 store)."""
    from featkit import extract, load_features

    root = tmp_path / "videos"
    vf.write_clip(root / "normal", "nat", natural_frames(16, seed=5, pan=(3, 2)), fps=8)
    vf.write_clip(root / "odd", "checker", vf.pattern_frames(16, 64, 64, kind="checkerboard", seed=1), fps=8)
    out = tmp_path / "f.h5"
    config = ExtractionConfig(sampling=SamplingConfig(clip_len=8, fps=8.0), stats=("mu_mean", "anomaly"))
    report = extract(root, out, config=config, encoder=encoder)
    assert report.ok
    data = load_features(out)
    assert data.feature_names[-1] == "anomaly_nelbo"
    score = data.X[:, -1]
    assert score[data.y == "odd"].min() > score[data.y == "normal"].max()
    # The same rows as the in-process reference of this file.
    np.testing.assert_allclose(
        data.X[data.y == "normal"], extract_rows(root / "normal" / "nat.mp4", encoder, config.stats), rtol=1e-5
    )
