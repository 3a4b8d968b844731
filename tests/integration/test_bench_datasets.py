"""The feature benchmark's data generators and protocol, on tiny data made here (never downloads)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_features as bf
from benchmarks import datasets as ds

# --------------------------------------------------------------------------
# IDX files


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_read_idx_round_trip(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    raw = _idx_bytes(images)
    path = tmp_path / ("x-idx3-ubyte.gz" if gz else "x-idx3-ubyte")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    np.testing.assert_array_equal(ds.read_idx(path), images)


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", "unsigned-byte"), (_idx_bytes(np.zeros(4))[:-1], "data bytes")],
    ids=["float-type", "truncated"],
)
def test_read_idx_rejects_bad_files(tmp_path, data, match):
    path = tmp_path / "bad-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        ds.read_idx(path)


def test_missing_source_without_download_is_refused(tmp_path):
    with pytest.raises(ds.DataUnavailable, match="downloading is off"):
        ds.load_image_source(ds.MNIST, tmp_path, download=False)


def test_digits_fallback_looks_like_mnist():
    images, labels, prov = ds.digits_fallback()
    assert images.shape[1:] == (28, 28)
    assert images.dtype == np.uint8
    assert set(labels.tolist()) == set(range(10))
    assert images[:, :4].max() == 0
    assert images[:, 24:].max() == 0
    assert images.max() > 200
    assert "load_digits" in prov["origin"]


# --------------------------------------------------------------------------
# resampling


def test_area_resize_is_an_exact_box_filter():
    x = np.random.default_rng(0).random((2, 64, 64))
    np.testing.assert_allclose(ds.area_resize(x, 4, 8), x.reshape(2, 4, 16, 8, 8).mean(axis=(2, 4)))
    odd = ds.area_resize(x, 6, 5)  # cells that cut pixels: every pixel still counts equally
    np.testing.assert_allclose(odd.mean(axis=(1, 2)), x.mean(axis=(1, 2)))
    np.testing.assert_allclose(ds.area_resize(np.ones((3, 7, 9)), 2, 4), 1.0)


def test_warp_affine_identity_and_shift():
    img = np.random.default_rng(1).random((20, 20, 3))
    np.testing.assert_allclose(ds.warp_affine(img, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 20), img, atol=1e-12)
    moved = ds.warp_affine(img[..., 0], np.array([[1.0, 0, -3], [0, 1.0, 2]]), 20)  # content 3 right, 2 up
    np.testing.assert_allclose(moved[0:18, 3:20], img[2:20, 0:17, 0], atol=1e-12)
    assert np.all(moved[:, :3] == 0)


# --------------------------------------------------------------------------
# moving images


def _centroids(frames: np.ndarray) -> np.ndarray:
    g = frames[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: g.shape[1], : g.shape[2]]
    mass = g.sum(axis=(1, 2))
    return np.stack([(g * xs).sum(axis=(1, 2)) / mass, (g * ys).sum(axis=(1, 2)) / mass], axis=1)


@pytest.mark.parametrize("direction", list(ds.DIRECTIONS))
def test_moving_image_moves_in_its_direction_and_stays_inside(direction):
    image = np.zeros((28, 28), dtype=np.uint8)
    image[8:20, 10:18] = 255
    frames = ds.moving_image_frames(image, direction, np.random.default_rng(1))
    assert frames.shape == (ds.N_FRAMES, 64, 64, 3)
    c = _centroids(frames)
    step = (c[-1] - c[0]) / (ds.N_FRAMES - 1)
    expected = np.array(ds.DIRECTIONS[direction])
    np.testing.assert_allclose(step / np.abs(step).max(), expected, atol=1e-3)
    assert 0.5 <= np.abs(step).max() <= 0.85
    # The whole image stays on the canvas: its total brightness never drops.
    mass = frames[..., 0].astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(mass, mass[0], rtol=0.01)


@pytest.fixture(scope="module")
def tiny_images():
    """Three classes of plain shapes, four images each (no download)."""
    images, labels = [], []
    for c in range(3):
        for i in range(4):
            im = np.zeros((28, 28), dtype=np.uint8)
            if c == 0:
                im[6:22, 12:16] = 200 + i * 10  # bar
            elif c == 1:
                im[10:18, 6:22] = 200 + i * 10  # slab
            else:
                im[8:20, 8:20] = 200 + i * 10  # square
            images.append(im)
            labels.append(c)
    return np.stack(images), np.array(labels), {"origin": "test shapes", "files": []}


def _read_rows(task_dir: Path) -> list[dict[str, str]]:
    with open(task_dir / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_moving_images_tree_is_a_valid_labelled_video_tree(tmp_path, tiny_images):
    from featkit.discover import discover_videos
    from featkit.io.video import DecordReader

    images, labels, prov = tiny_images
    task = ds.build_moving_images("shapes", images, labels, ("bar", "slab", "square"), prov, tmp_path, per_class=4)
    assert task.root == tmp_path / "tasks" / "shapes" / "videos"
    found = discover_videos(task.root)
    assert sorted((v.path, v.label) for v in found) == sorted((r["path"], r["label"]) for r in task.rows)
    assert task.summary()["counts"]["label"] == {"bar": 4, "slab": 4, "square": 4}
    rows = _read_rows(task.root.parent)
    assert [r["path"] for r in rows] == [r["path"] for r in task.rows]
    groups: dict[str, set[str]] = {}
    for r in rows:
        assert r["direction"] in ds.DIRECTIONS
        assert r["path"].startswith(r["label"] + "/")
        assert r["direction"] in r["path"]
        groups.setdefault(r["group"], set()).add(r["direction"])
    # Two videos per source image, in two different directions; a group never spans classes.
    assert all(len(d) == 2 for d in groups.values())
    assert len(groups) == 6
    reader = DecordReader(task.root / rows[0]["path"], 64)
    assert reader.info.n_frames == ds.N_FRAMES
    frames = reader.read(np.arange(ds.N_FRAMES))
    c = _centroids(frames)
    direction = np.array(ds.DIRECTIONS[rows[0]["direction"]])
    assert float((c[-1] - c[0]) @ direction) > 10  # the decoded video moves the right way


def test_task_folder_is_reused_only_for_the_same_settings(tmp_path, tiny_images):
    images, labels, prov = tiny_images
    args = ("shapes", images, labels, ("bar", "slab", "square"), prov, tmp_path)
    first = ds.build_moving_images(*args, per_class=2, seed=3)
    stamp = {r["path"]: (first.root / r["path"]).stat().st_mtime_ns for r in first.rows}
    again = ds.build_moving_images(*args, per_class=2, seed=3)
    assert {r["path"]: (again.root / r["path"]).stat().st_mtime_ns for r in again.rows} == stamp
    other = ds.build_moving_images(*args, per_class=2, seed=4)
    assert json.loads((other.root.parent / "task.json").read_text())["spec"]["seed"] == 4
    (other.root / other.rows[0]["path"]).write_bytes(b"damaged")  # a changed file is noticed
    redone = ds.build_moving_images(*args, per_class=2, seed=4)
    assert (redone.root / redone.rows[0]["path"]).stat().st_size > len(b"damaged")


# --------------------------------------------------------------------------
# camera motion


def _texture(side: int = 160, seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).random((side, side, 3))
    smooth = gaussian_filter(noise, sigma=(3.0, 3.0, 0.0))
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (255 * smooth).astype(np.uint8)


def _shift(a: np.ndarray, b: np.ndarray, reach: int = 16) -> np.ndarray:
    """The whole-pixel shift (dx, dy) that best maps frame a onto frame b (least squares over the overlap)."""
    a, b = a[..., 1].astype(np.float64), b[..., 1].astype(np.float64)
    n = a.shape[0]
    best, arg = np.inf, (0, 0)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            pa = a[max(0, -dy) : n - max(0, dy), max(0, -dx) : n - max(0, dx)]
            pb = b[max(0, dy) : n - max(0, -dy), max(0, dx) : n - max(0, -dx)]
            err = np.mean((pa - pb) ** 2)
            if err < best:
                best, arg = err, (dx, dy)
    return np.array(arg)


@pytest.mark.parametrize(
    ("motion", "content_moves"),
    [("pan_left", (1, 0)), ("pan_right", (-1, 0)), ("pan_up", (0, 1)), ("pan_down", (0, -1))],
)
def test_pan_moves_the_scene_against_the_camera(motion, content_moves):
    source = np.repeat(_texture()[None], ds.N_FRAMES, axis=0)
    frames = ds.camera_motion_frames(source, motion, np.random.default_rng(0))
    # Eight frames at 0.9-1.5 output pixels per frame: a 7-12 pixel shift, away from the camera's motion.
    shift = _shift(frames[4], frames[12])
    moves = np.array(content_moves)
    assert 6 <= shift @ moves <= 13
    assert abs(shift @ moves[::-1]) <= 1


def _period(frame: np.ndarray) -> float:
    """Dominant period (pixels) of the row profile of a vertical-stripe image."""
    profile = frame[..., 1].astype(np.float64).mean(axis=0)
    spectrum = np.abs(np.fft.rfft(profile - profile.mean()))
    return len(profile) / float(np.argmax(spectrum[1:]) + 1)


@pytest.mark.parametrize("motion", ["zoom_in", "zoom_out"])
def test_zoom_changes_the_scale(motion):
    stripes = np.zeros((160, 160, 3), dtype=np.uint8)
    stripes[:, (np.arange(160) // 4) % 2 == 0] = 255  # period 8 source pixels
    source = np.repeat(stripes[None], ds.N_FRAMES, axis=0)
    frames = ds.camera_motion_frames(source, motion, np.random.default_rng(0))
    first, last = _period(frames[0]), _period(frames[-1])
    assert (last > 1.3 * first) if motion == "zoom_in" else (first > 1.3 * last)


def test_static_and_rotate():
    source = np.repeat(_texture()[None], ds.N_FRAMES, axis=0)
    rng = np.random.default_rng(0)
    static = ds.camera_motion_frames(source, "static", rng)
    assert np.array_equal(static[0], static[-1])
    rotated = ds.camera_motion_frames(source, "rotate", rng)
    assert np.abs(rotated[0].astype(int) - rotated[-1].astype(int)).mean() > 10
    with pytest.raises(ValueError, match="Unknown camera motion"):
        ds.camera_motion_frames(source, "dolly", rng)


def test_camera_task_without_corpus_uses_bundled_photos_only_when_allowed(tmp_path):
    empty = tmp_path / "no-corpus"
    with pytest.raises(ds.DataUnavailable, match="no corpus video"):
        ds.build_camera_motion(tmp_path, empty, per_class=1, download=False)
    task = ds.build_camera_motion(tmp_path, empty, per_class=2, download=False, allow_stills=True)
    assert len(task.rows) == 2 * len(ds.CAMERA_MOTIONS)
    assert {r["label"] for r in task.rows} == set(ds.CAMERA_MOTIONS)
    assert all(ds.MOTION_AXIS[r["label"]] == r["axis"] for r in task.rows)
    assert len({r["group"] for r in task.rows}) == 2  # group = source picture
    assert any("bundled with scikit-learn" in n for n in task.notes)
    with pytest.raises(ds.DataUnavailable):
        ds.build_real_source(tmp_path, empty, per_class=4, download=False)


# --------------------------------------------------------------------------
# baselines and protocol


def test_pixel_baseline_matches_the_latent_dimension():
    frames = np.zeros((3, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :32] = 255  # left half white, right half black
    mu, logvar = bf.pixel_mu_logvar(frames, 32)
    assert mu.shape == logvar.shape == (3, 32)
    luma = mu[0, :16].reshape(4, 4)
    np.testing.assert_allclose(luma[:, :2], 1.0, atol=1e-9)
    np.testing.assert_allclose(luma[:, 2:], 0.0, atol=1e-9)
    np.testing.assert_allclose(mu[0, 16:], 0.5, atol=1e-9)  # grey has neutral chroma
    assert np.all(logvar < -20)  # every block is uniform: no detail left out
    noisy = np.random.default_rng(0).integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    assert np.all(bf.pixel_mu_logvar(noisy, 32)[1] > -6)
    # Dimensions whose blocks do not tile the frame: area-weighted blocks, same values where they do.
    mu48, _ = bf.pixel_mu_logvar(frames, 48)  # luma 6 x 4 blocks, chroma 4 x 3
    assert mu48.shape == (3, 48)
    np.testing.assert_allclose(mu48[0, :24].reshape(6, 4), np.repeat([[1.0, 1.0, 0.0, 0.0]], 6, axis=0), atol=1e-6)
    mu18, var18 = bf.pixel_mu_logvar(noisy, 18)  # not divisible by 4: grey blocks only
    assert mu18.shape == var18.shape == (2, 18)


def _blobs(n_per_class: int, n_classes: int, sep: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat([f"c{k}" for k in range(n_classes)], n_per_class)
    centres = rng.normal(size=(n_classes, 8)) * sep
    X = centres[np.repeat(np.arange(n_classes), n_per_class)] + rng.normal(size=(len(y), 8))
    groups = np.array([f"{lab}-{i // 2}" for i, lab in enumerate(y)])  # pairs of videos share a group
    return X, y, groups


def test_colour_histogram_counts_pixels_in_64_rgb_cells():
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    frames[0] = (255, 0, 0)  # pure red: cell (3, 0, 0)
    frames[1, :2] = (0, 0, 70)  # dark blue: cell (0, 0, 1)
    frames[1, 2:] = (64, 128, 191)  # bin edges: 64 -> 1, 128 -> 2, 191 -> 2
    h = bf.colour_histogram(frames)
    assert h.shape == (64,)
    assert h.sum() == pytest.approx(1.0)
    assert h[48] == pytest.approx(0.5)
    assert h[1] == pytest.approx(0.25)
    assert h[(1 * 4 + 2) * 4 + 2] == pytest.approx(0.25)
    assert np.count_nonzero(h) == 3


def test_evaluate_separates_informative_from_random_features():
    X, y, groups = _blobs(20, 3, sep=6.0, seed=0)
    noise = np.random.default_rng(1).normal(size=X.shape)
    calls = []

    def fitted(train, seed):
        calls.append(None if train is None else len(train))
        return X

    res = bf.evaluate(
        {"vae": X, "pixels": noise, "pca": fitted}, y, groups, seeds=(0, 1, 2), budgets=(1, 5, 50, "all"), n_splits=4
    )
    cls = res["classification"]
    assert cls["vae"]["all"]["accuracy"]["mean"] > 0.95
    assert cls["pixels"]["all"]["accuracy"]["mean"] < 0.7
    assert len(cls["vae"]["5"]["macro_f1"]["per_seed"]) == 3
    assert cls["vae"]["50"]["accuracy"]["mean"] is None  # 20 videos per class cannot give 50 labels
    delta = res["delta_vae_vs_pixels"]["all"]
    np.testing.assert_allclose(
        delta["per_seed"],
        np.subtract(cls["vae"]["all"]["accuracy"]["per_seed"], cls["pixels"]["all"]["accuracy"]["per_seed"]),
    )
    assert delta["ci95"] is not None
    assert delta["ci95"] >= 0
    assert res["clustering"]["vae"]["nmi"]["mean"] > 0.8 > res["clustering"]["pixels"]["nmi"]["mean"]
    assert np.array(res["confusion"]["vae"]).sum() == sum(s["n_test"] for s in res["splits"])
    assert None in calls
    assert all(c is None or c < len(y) for c in calls)
    for split in res["splits"]:
        assert split["n_train"] + split["n_test"] == len(y)


def test_evaluate_never_splits_a_group():
    from sklearn.model_selection import StratifiedGroupKFold

    X, y, groups = _blobs(10, 2, sep=3.0, seed=2)
    for seed in (0, 1):
        cv = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
        train, test = list(cv.split(X, y, groups))[seed % 3]
        assert not set(groups[train]) & set(groups[test])


def test_symmetry_ceiling():
    y = np.array(["left", "right", "up", "down"] * 3)
    assert bf._symmetry_ceiling(y, bf._DIRECTION_AXIS) == pytest.approx(0.5)
    motions = np.array(list(ds.CAMERA_MOTIONS))
    assert bf._symmetry_ceiling(motions, ds.MOTION_AXIS) == pytest.approx(5 / 8)
    assert bf._symmetry_ceiling(y, None) is None


# --------------------------------------------------------------------------
# end to end, tiny


def test_run_end_to_end_on_tiny_tasks(tmp_path, encoder):
    """Quick mode with no cache and no corpus: digits fallback + photos, real extraction, JSON, plots."""
    settings = bf.Settings(
        per_class=2,
        camera_segments=2,
        clips_per_source=4,
        seeds=(0, 1),
        budgets=(1, "all"),
        n_splits=2,
        latent_map="pca",
    )
    out = tmp_path / "results"
    res = bf.run(
        settings, quick=True, cache=str(tmp_path / "cache"), corpus=str(tmp_path / "none"), out_dir=out,
        download=False, encoder=encoder,
    )  # fmt: skip
    saved = json.loads((out / "bench_features_quick.json").read_text())
    assert set(saved["evaluations"]) == {"mnist_class", "mnist_direction", "camera_motion", "camera_axis"}
    assert saved["encoder"]["sha256"] == encoder.identity()["sha256"]
    d = encoder.latent_dim
    # 6 statistics per latent, 8 motion and the quality columns, for the VAE and the pixels alike.
    from featkit.quality import QUALITY_COLUMNS

    width = 6 * d + 8 + len(QUALITY_COLUMNS)
    assert saved["representations"]["vae"]["dim"] == saved["representations"]["pixels"]["dim"] == width
    assert saved["representations"]["vae_motion"]["dim"] == 8
    assert saved["tasks"]["moving_mnist"]["n_videos"] == 20
    assert saved["machine"]["cpu_model"]
    assert saved["versions"]["tensorflow"]
    assert saved["data"]
    for d in saved["data"]:  # every source file hashed, or marked as bundled with a package
        assert len(d.get("sha256", "")) == 64 or d["checksum"] == "bundled"
    assert {t["name"] for t in saved["targets"]} >= {"mnist_class: VAE − pixels accuracy, all labels"}
    assert any("8x8 digits" in n for n in saved["notes"])
    assert any("skipped" in n for n in saved["notes"])
    ev = saved["evaluations"]["mnist_class"]
    for rep in bf.REPRESENTATIONS:
        per_seed = ev["classification"][rep]["all"]["accuracy"]["per_seed"]
        assert len(per_seed) == 2
        assert all(0.0 <= a <= 1.0 for a in per_seed)
    assert saved["evaluations"]["mnist_direction"]["symmetry_ceiling"] == pytest.approx(0.5)
    # The colour-histogram baseline is a row of the real-footage tasks only, with its paired delta.
    assert "colour_hist" in saved["evaluations"]["camera_motion"]["classification"]
    assert "delta_vae_vs_colour_hist" in saved["evaluations"]["camera_motion"]
    assert "colour_hist" not in saved["evaluations"]["mnist_class"]["classification"]
    assert saved["timing"]["moving_mnist"]["vae_extract_s"] > 0
    for png in saved["plots"]:
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    text = bf.markdown_summary(res)
    assert "| mnist_class | 10 | 20 |" in text
    assert "Quick smoke run" in text
    assert "features_accuracy_quick.png" in text
