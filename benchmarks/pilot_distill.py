"""Pilot: does a teacher term make the VAE's latents better features on sources it never saw.

    python benchmarks/pilot_distill.py            # writes benchmarks/results/pilot_distill.json

The teacher is the frozen ImageNet MobileNetV2 of ``benchmarks/teacher.py``.
The VAE's observation becomes the frame *and* the teacher's pooled features of
it (``featkit.training.distill``): a second decoder head predicts the
teacher's features (PCA-whitened to ``--teacher-dims``) from z, with a
Gaussian likelihood weighted by λ, beside the pixel term and β·KL. The
encoder still sees only pixels, so the teacher is needed at training time only.

Each candidate starts from a trained model (the v3 stage-2 grid latent, the
shipped v2 global code) or, for the hybrid latent (an 8x8 grid plus a 64-d
global code), from scratch, and is trained for ``--epochs`` on the v3
recipe's frames (corpus + photo views, no flips), with the teacher term and
without it (the control: the same training, λ = 0). Everything is measured on sources
no model or teacher head saw:

* reconstruction of the recipe's three held-out videos at the stored bytes
  (int8 codes), against PCA at the same bytes;
* the camera-motion probe of ``pilot_v3`` (held-out videos filmed with every
  camera motion, leave one source out);
* scene identity: 30 KDE Plasma wallpapers (Debian ``plasma-workspace-wallpapers``;
  none in any training set), each seen through random virtual-camera views
  (15-100 % zoom, place, rotation); a logistic regression on one view's μ
  names the wallpaper (10 labelled views per class, and 30), over 5 seeds;
* digit class: scikit-learn's bundled 8x8 digits (not MNIST), upscaled to
  28x28 and placed at a random spot of a 64x64 frame; the same probe on one
  frame's μ (a class that has to survive translation).

The baselines get the same probes: PCA and pixel block means at the same
size, a colour histogram, and the teacher itself (its 1280 features).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import pilot_v3 as p3  # noqa: E402
from benchmarks import train_default as td  # noqa: E402

WALLPAPERS = ("plasma-workspace-wallpapers", "4:5.27.5-2")
RESULTS = REPO / "benchmarks" / "results"
RECON_ROWS = ("vae_int8", "pca32_int8", "pca128_int8")

#: The hybrid latent: an 8x8 grid of 1-channel codes (64) plus a 64-d global code, 128 bytes per frame in int8.
HYBRID = {"input_size": 64, "latent_dim": 128, "widths": [32, 64, 128], "beta": 1.0, "obs_var": 0.002,
          "latent_grid": 8, "latent_global": 64}  # fmt: skip

#: name -> (initial model folder, or "new" for HYBRID from scratch; weight λ of the teacher term, 0 = the control)
CANDIDATES: dict[str, tuple[str, float]] = {
    "hybrid_new": ("new", 0.0),
    "hybrid_new_teacher": ("new", 300.0),
    "hybrid_new_teacher3k": ("new", 3000.0),
    "grid8x8x2_ft": (str(RESULTS / "v3_stage2"), 0.0),
    "grid8x8x2_teacher": (str(RESULTS / "v3_stage2"), 300.0),
    "grid8x8x2_teacher3k": (str(RESULTS / "v3_stage2"), 3000.0),
    "global32_ft": ("default", 0.0),
    "global32_teacher": ("default", 300.0),
    "global32_teacher3k": ("default", 3000.0),
}
DEFAULT_CANDIDATES = ("grid8x8x2_ft", "grid8x8x2_teacher", "global32_ft", "global32_teacher")


def fetch_wallpapers(cache: Path) -> dict[str, Path]:
    """One 1920x1080 image per wallpaper of the pinned Debian package, extracted once into ``cache``."""
    folder = cache / "wallpapers"
    images = folder / "x" / "usr" / "share" / "wallpapers"
    if not images.exists():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)  # apt's unprivileged user writes here
        subprocess.run(["apt-get", "download", f"{WALLPAPERS[0]}={WALLPAPERS[1]}"], cwd=folder, check=True)
        (deb,) = folder.glob(f"{WALLPAPERS[0]}_*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(folder / "x")], check=True)
    out = {}
    for d in sorted(images.iterdir()):
        found = sorted((d / "contents" / "images").glob("1920x1080.*"))
        if found:
            out[d.name] = found[0]
    return out


def frame_probe(feats: np.ndarray, labels: np.ndarray, seeds: int = 5) -> dict[str, float]:
    """Balanced accuracy of a logistic regression naming the class of one view: 10 labels per class and 30."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, list[float]] = {"10": [], "30": []}
    classes = np.unique(labels)
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 7])
        per = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
        test = np.concatenate([p[30:] for p in per])
        for k in (10, 30):
            pick = np.concatenate([p[:k] for p in per])
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
            clf.fit(feats[pick], labels[pick])
            out[str(k)].append(balanced_accuracy_score(labels[test], clf.predict(feats[test])))
    return {f"bacc_{k}_per_class": round(float(np.mean(v)), 4) for k, v in out.items()}


def digit_frames(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as white-on-black 28x28 glyphs at random places of ``size`` x ``size`` RGB frames."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng([seed, 3])
    frames = np.zeros((len(digits.images), size, size, 3), np.uint8)
    for k, img in enumerate(digits.images):
        glyph = np.asarray(Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((28, 28), Image.BILINEAR))
        y, x = rng.integers(0, size - 28, size=2)
        frames[k, y : y + 28, x : x + 28] = glyph[..., None]
    return frames, digits.target.astype(str)


def fine_tune(
    vae: Any, train: np.ndarray, targets: np.ndarray, lam: float, epochs: int, lr: float, seed: int, cosine: bool
) -> tuple[Any, list[dict[str, float]]]:
    """``epochs`` of Adam on ``train`` with the teacher term weighted ``lam`` (0: plain VAE loss).

    With ``cosine`` the learning rate decays from ``lr`` to 5 % of it over the
    run; otherwise it stays at ``lr``.
    """
    import keras

    from featkit.training.distill import build_distillation_vae

    keras.utils.set_random_seed(seed)
    model = build_distillation_vae(vae, targets.shape[1], lam)
    steps = epochs * int(np.ceil(len(train) / 64))
    schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.05) if cosine else lr
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    history = []
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(train))
        model.reset_metrics()
        t0 = time.time()
        for lo in range(0, len(order), 64):
            idx = np.sort(order[lo : lo + 64])
            logs = model.train_on_batch(train[idx].astype(np.float32) / 255.0, targets[idx], return_dict=True)
        row = {k: round(float(v), 2) for k, v in logs.items()}
        history.append({**row, "seconds": round(time.time() - t0, 1)})
        print(f"  epoch {epoch + 1}/{epochs}: {history[-1]}", flush=True)
    return vae, history


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES), help=f"any of {', '.join(CANDIDATES)}")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    ap.add_argument("--teacher-dims", type=int, default=64)
    ap.add_argument("--teacher-size", type=int, default=128)
    ap.add_argument("--photo-views", type=int, default=300)
    ap.add_argument("--wallpaper-views", type=int, default=40)
    ap.add_argument("--per-source", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default=None, help="folder: keep each fine-tuned model's weights there")
    ap.add_argument(
        "--evaluate",
        nargs="*",
        default=None,
        metavar="DIR",
        help="instead of training: measure trained models (folders with default.weights.h5 + default.json; "
        "'default' for the shipped one) on the same probes, without the baselines",
    )
    ap.add_argument("--out", default=str(RESULTS / "pilot_distill.json"))
    args = ap.parse_args(argv)

    from sklearn.decomposition import PCA

    from benchmarks.bench_features import colour_histogram, pixel_mu_logvar
    from benchmarks.fetch_corpus import corpus_dir
    from benchmarks.teacher import Teacher, cached_features

    root = corpus_dir(None)
    cache = root.parent
    manifest = json.loads((root / "manifest.json").read_text())
    videos = {v["id"]: v for v in manifest["videos"]}
    train_ids = sorted(i for i in videos if i not in td.HELD_OUT and i not in td.EXCLUDED)
    fargs = argparse.Namespace(
        fps=8.0, max_per_video=2500, crops=3, crop_scales=[1.25, 1.5, 2.0], held_fps=8.0,
        seed=args.seed, photo_views=args.photo_views,
    )  # fmt: skip
    t0 = time.time()
    data = td._v3_data(fargs, root, videos, train_ids)
    train, corpus, held = data["train"], data["corpus"], data["held"]
    print(f"train frames {len(train)} (corpus {len(corpus)}), held-out {len(held)} ({time.time() - t0:.0f} s)")
    teacher = Teacher(cache, input_size=args.teacher_size)
    raw_targets = cached_features(train, root, cache=cache, input_size=args.teacher_size)
    whiten = PCA(args.teacher_dims, whiten=True, random_state=args.seed).fit(raw_targets)
    targets = whiten.transform(raw_targets).astype(np.float32)

    walls = fetch_wallpapers(cache)
    views = td.photo_views([str(p) for p in walls.values()], args.wallpaper_views, td.SIZE, seed=11)
    wall_labels = np.repeat(np.array(list(walls)), args.wallpaper_views)
    digits, digit_labels = digit_frames(td.SIZE, args.seed)
    clips, labels, groups = p3.motion_clips(args.per_source, args.seed)
    n_clips, n_t = clips.shape[:2]
    flat = clips.reshape(-1, *clips.shape[2:])
    pca = {k: td._pca(corpus, k, args.seed) for k in (32, 128)}

    def motion(z: np.ndarray) -> dict[str, float]:
        z = z.reshape(n_clips, n_t, -1)
        return p3.probe(np.stack([p3.clip_features(c) for c in z]), labels, groups, args.seed)

    result: dict[str, Any] = {
        "command": "python benchmarks/pilot_distill.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "save")},
        "teacher": teacher.identity,
        "held_out_sources": list(td.HELD_OUT),
        "n_train_frames": len(train),
        "wallpapers": {"package": "=".join(WALLPAPERS), "names": list(walls), "views": args.wallpaper_views},
        "motion_probe": {"clips": n_clips, "frames_per_clip": n_t},
        "baselines": {},
        "models": {},
    }
    flat01 = lambda f: f.reshape(len(f), -1).astype(np.float32) / 255.0  # noqa: E731
    for d in () if args.evaluate else (32, 128):
        result["baselines"][f"pca{d}"] = {
            "wallpaper": frame_probe(pca[d].transform(flat01(views)), wall_labels),
            "digits": frame_probe(pca[d].transform(flat01(digits)), digit_labels),
            "motion": motion(pca[d].transform(flat01(flat))),
        }
        result["baselines"][f"pixels{d}"] = {
            "wallpaper": frame_probe(pixel_mu_logvar(views, d)[0], wall_labels),
            "digits": frame_probe(pixel_mu_logvar(digits, d)[0], digit_labels),
            "motion": motion(pixel_mu_logvar(flat, d)[0]),
        }
    if not args.evaluate:
        result["baselines"]["colour_hist64"] = {
            "wallpaper": frame_probe(np.stack([colour_histogram(v[None]) for v in views]), wall_labels)
        }
        t_views = teacher(views)
        result["baselines"]["teacher1280"] = {
            "wallpaper": frame_probe(t_views, wall_labels),
            "wallpaper_whitened": frame_probe(whiten.transform(t_views), wall_labels),
            "digits": frame_probe(teacher(digits), digit_labels),
            "motion": motion(whiten.transform(teacher(flat))),
        }
        print(json.dumps(result["baselines"]), flush=True)

    def measure(vae: Any) -> dict[str, Any]:
        rows = td.bytes_matched(vae, corpus, held, pca, data["held_video"])
        return {
            "reconstruction": {k: v for k, v in td._public(rows).items() if k in RECON_ROWS},
            "wallpaper": frame_probe(td.encode(vae, views), wall_labels),
            "digits": frame_probe(td.encode(vae, digits), digit_labels),
            "motion": motion(td.encode(vae, flat)),
        }

    if args.evaluate:
        for folder in args.evaluate:
            vae, card = p3._load_card_model(folder)
            result["models"][card["name"]] = {"folder": folder, **measure(vae)}
            print(card["name"], json.dumps(result["models"][card["name"]]), flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
        return 0

    initial: dict[str, Any] = {}
    for name in args.candidates.split(","):
        folder, lam = CANDIDATES[name]
        if folder == "new":
            import keras

            from featkit.encoders.vae import build_vae

            keras.utils.set_random_seed(args.seed)
            vae, card = build_vae(**HYBRID, seed=args.seed), {"name": "hybrid (new)", "architecture": HYBRID}
        else:
            vae, card = p3._load_card_model(folder)
        if folder not in initial and folder != "new":
            initial[folder] = {"name": card["name"], **measure(vae)}
            result["models"][f"{card['name']} (start)"] = initial[folder]
            print(card["name"], json.dumps(initial[folder]), flush=True)
        t1 = time.time()
        vae, history = fine_tune(vae, train, targets, lam, args.epochs, args.lr, args.seed, args.schedule == "cosine")
        row = {"from": card["name"], "lam": lam, "history": history, "train_seconds": round(time.time() - t1, 1)}
        row.update(measure(vae))
        result["models"][name] = row
        print(name, json.dumps(row), flush=True)
        if args.save:
            out = Path(args.save) / name
            out.mkdir(parents=True, exist_ok=True)
            vae.save_weights(out / "default.weights.h5")
            (out / "default.json").write_text(json.dumps({**card, "name": f"pilot-{name}"}, indent=2))
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
