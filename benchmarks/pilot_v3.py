"""Pilot ablation for the v3 default encoder: latent design and training data, on whole held-out sources.

    python benchmarks/pilot_v3.py            # writes benchmarks/results/pilot_v3.json

Every design is trained with the same small budget (about ``--frame-steps``
frames seen, seed 0; the corpus frames, plus photo views for the ``+photos``
designs, so those see more distinct frames in fewer epochs) and measured only on videos it never saw (the
recipe's ``HELD_OUT`` sources), never on the benchmark's test numbers:

* reconstruction PSNR / SSIM of the held-out frames, at the stored bytes per
  frame, against PCA fitted on the same training frames at the same bytes
  (PCA-d coefficients in int8, and PCA-d/4 in float32 for 4·d-byte budgets);
* a camera-motion probe: segments of the held-out videos filmed with every
  motion of ``benchmarks.datasets.CAMERA_MOTIONS``, per-clip statistics of μ
  (mean, std, mean |Δμ|, and the least-squares slope over time), a logistic
  regression trained on two sources and tested on the third (leave one source
  out), with 10 labelled clips per class and with all, against matched-size
  pixels and PCA features of the same clips.

Latents are stored in int8 by a per-dimension uniform quantiser whose range is
the 0.5-99.5 % quantiles of the training frames' codes (the same for PCA).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import train_default as td  # noqa: E402

#: name -> (architecture overrides, share of photo views in the training frames)
DESIGNS: dict[str, tuple[dict[str, Any], float]] = {
    "v2_global32": ({"latent_dim": 32, "widths": [32, 64, 128, 128]}, 0.0),
    "grid4x4x8": ({"latent_dim": 128, "latent_grid": 4, "widths": [32, 64, 128, 128]}, 0.0),
    "grid8x8x2": ({"latent_dim": 128, "latent_grid": 8, "widths": [32, 64, 128]}, 0.0),
    "grid4x4x8+photos": ({"latent_dim": 128, "latent_grid": 4, "widths": [32, 64, 128, 128]}, 0.35),
    "grid8x8x2+photos": ({"latent_dim": 128, "latent_grid": 8, "widths": [32, 64, 128]}, 0.35),
    "v2_global32+photos": ({"latent_dim": 32, "widths": [32, 64, 128, 128]}, 0.35),
}


quantiser, quantise, encode, decode = td.quantiser, td.quantise, td.encode, td.decode


def recon_scores(x: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    s = td._scores(x, rec)
    return {"psnr_db": round(float(s["psnr"].mean()), 3), "ssim": round(float(s["ssim"].mean()), 4)}


def pca_rows(train: np.ndarray, x_held: np.ndarray, d: int, seed: int) -> dict[str, Any]:
    """PCA-d reconstructions of the held-out frames in float32 and int8 coefficients."""
    pca = td._pca(train, d, seed)
    flat_train = train[:4000].reshape(min(len(train), 4000), -1).astype(np.float32) / 255.0
    q = quantiser(pca.transform(flat_train))
    coef = pca.transform(x_held.reshape(len(x_held), -1))
    out = {}
    for dtype, c in (("float32", coef), ("int8", quantise(coef, q))):
        rec = np.clip(pca.inverse_transform(c), 0, 1).reshape(x_held.shape)
        out[dtype] = {"bytes": d * (4 if dtype == "float32" else 1), **recon_scores(x_held, rec)}
    return out


def clip_features(mu: np.ndarray) -> np.ndarray:
    """Per-clip statistics of μ (T, d): mean, std, mean |Δμ|, least-squares slope over normalised time."""
    t = np.linspace(-0.5, 0.5, len(mu))[:, None]
    slope = ((t * (mu - mu.mean(axis=0))).sum(axis=0)) / (t * t).sum()
    return np.concatenate([mu.mean(0), mu.std(0), np.abs(np.diff(mu, axis=0)).mean(0), slope])


def motion_clips(per_source: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-motion clips of the held-out sources: frames (n, T, 64, 64, 3), labels, source ids."""
    from benchmarks import datasets as ds
    from benchmarks.fetch_corpus import corpus_dir

    root = corpus_dir(None)
    manifest = json.loads((root / "manifest.json").read_text())
    paths = {v["id"]: root / v["path"] for v in manifest["videos"]}
    rng = np.random.default_rng(seed)
    clips, labels, groups = [], [], []
    for vid in td.HELD_OUT:
        for seg in ds.read_segments(paths[vid], per_source, size=160, max_jump=30.0):
            for motion in ds.CAMERA_MOTIONS:
                clips.append(ds.camera_motion_frames(seg, motion, rng))
                labels.append(motion)
                groups.append(vid)
    return np.stack(clips), np.asarray(labels), np.asarray(groups)


def probe(feats: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int) -> dict[str, float]:
    """Leave-one-source-out balanced accuracy of a logistic regression, at 10 labels per class and at all."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, list[float]] = {"10": [], "all": []}
    for held in np.unique(groups):
        tr, te = np.flatnonzero(groups != held), np.flatnonzero(groups == held)
        for k in ("10", "all"):
            reps = 5 if k == "10" else 1
            for r in range(reps):
                if k == "10":
                    rng = np.random.default_rng([seed, r])
                    pick = np.concatenate([rng.permutation(tr[labels[tr] == c])[:10] for c in np.unique(labels[tr])])
                else:
                    pick = tr
                clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
                clf.fit(feats[pick], labels[pick])
                out[k].append(balanced_accuracy_score(labels[te], clf.predict(feats[te])))
    return {f"bacc_{k}_per_class" if k == "10" else "bacc_all": round(float(np.mean(v)), 4) for k, v in out.items()}


def _load_card_model(folder: str) -> tuple[Any, dict[str, Any]]:
    from featkit.encoders.vae import build_vae

    if folder == "default":
        from featkit.encoders.keras_encoder import DEFAULT_WEIGHTS_PATH

        folder = str(DEFAULT_WEIGHTS_PATH.parent)
    card = json.loads((Path(folder) / "default.json").read_text())
    vae = build_vae(**card["architecture"])
    vae.load_weights(Path(folder) / "default.weights.h5")
    return vae, card


def evaluate_trained(args: argparse.Namespace) -> int:
    """Held-out reconstruction at matched bytes and the camera-motion probe (motion and axis) of trained models."""
    from benchmarks import datasets as ds
    from benchmarks.bench_features import colour_histogram, pixel_mu_logvar
    from benchmarks.fetch_corpus import corpus_dir

    root = corpus_dir(None)
    manifest = json.loads((root / "manifest.json").read_text())
    videos = {v["id"]: v for v in manifest["videos"]}
    train_ids = sorted(i for i in videos if i not in td.HELD_OUT and i not in td.EXCLUDED)
    fargs = argparse.Namespace(
        fps=8.0, max_per_video=2500, crops=3, crop_scales=[1.25, 1.5, 2.0], held_fps=8.0, seed=args.seed
    )
    data = td._frames(fargs, root, videos, train_ids)
    corpus, held = data["train"], data["held"]
    pca = {k: td._pca(corpus, k, args.seed) for k in (32, 128)}
    clips, labels, groups = motion_clips(args.per_source, args.seed)
    axis = np.asarray([ds.MOTION_AXIS[m] for m in labels])
    n_clips, n_t = clips.shape[:2]
    flat = clips.reshape(-1, *clips.shape[2:])
    out: dict[str, Any] = {
        "command": "python benchmarks/pilot_v3.py " + " ".join(sys.argv[1:]),
        "held_out_sources": list(td.HELD_OUT),
        "n_held_out_frames": len(held),
        "probe": {"clips": n_clips, "frames_per_clip": n_t, "labels": "motion (8) and axis (5)"},
        "models": {},
        "baselines": {},
    }

    def probes(per_clip: np.ndarray) -> dict[str, Any]:
        return {"motion": probe(per_clip, labels, groups, args.seed), "axis": probe(per_clip, axis, groups, args.seed)}

    for d in (32, 128):
        z = pca[d].transform(flat.reshape(len(flat), -1).astype(np.float32) / 255.0).reshape(n_clips, n_t, d)
        out["baselines"][f"pca{d}"] = probes(np.stack([clip_features(c) for c in z]))
        mu, _ = pixel_mu_logvar(flat, d)
        out["baselines"][f"pixels{d}"] = probes(np.stack([clip_features(c) for c in mu.reshape(n_clips, n_t, d)]))
    out["baselines"]["colour_hist64"] = probes(np.stack([colour_histogram(c) for c in clips]))
    for folder in args.evaluate:
        vae, card = _load_card_model(folder)
        d = card["architecture"]["latent_dim"]
        rows = td.bytes_matched(vae, corpus, held, pca, data["held_video"])
        z = encode(vae, flat).reshape(n_clips, n_t, d)
        out["models"][card["name"]] = {
            "folder": folder,
            "architecture": card["architecture"],
            "reconstruction": td._public(rows),
            "probe": probes(np.stack([clip_features(c) for c in z])),
        }
        print(card["name"], json.dumps(out["models"][card["name"]]), flush=True)
    print(json.dumps(out["baselines"]))
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frame-steps", type=int, default=22000, help="training budget: frames seen per design")
    ap.add_argument("--photo-views", type=int, default=200, help="views per photograph")
    ap.add_argument("--per-source", type=int, default=6, help="probe segments per held-out source")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pilot_v3.json"))
    ap.add_argument(
        "--evaluate",
        nargs="*",
        default=None,
        metavar="DIR",
        help="instead of training: evaluate trained models (folders with default.weights.h5 + default.json; "
        "'default' for the shipped one) on the same held-out frames and probe, into --out",
    )
    args = ap.parse_args(argv)
    if args.evaluate is not None:
        return evaluate_trained(args)

    from benchmarks.bench_features import pixel_mu_logvar
    from benchmarks.fetch_corpus import corpus_dir
    from featkit.training.trainer import VAETrainer

    root = corpus_dir(None)
    manifest = json.loads((root / "manifest.json").read_text())
    videos = {v["id"]: v for v in manifest["videos"]}
    train_ids = sorted(i for i in videos if i not in td.HELD_OUT and i not in td.EXCLUDED)
    fargs = argparse.Namespace(
        fps=4.0, max_per_video=800, crops=1, crop_scales=[1.25, 1.5, 2.0], held_fps=8.0, seed=args.seed
    )
    t0 = time.time()
    data = td._frames(fargs, root, videos, train_ids)
    photos = td.fetch_photos(root)
    photo_frames = td.photo_views([p["path"] for p in photos["images"].values()], args.photo_views, td.SIZE, args.seed)
    corpus = data["train"]
    held = data["held"]
    x_held = held.astype(np.float32) / 255.0
    print(f"corpus frames {len(corpus)}, photo views {len(photo_frames)}, held {len(held)} ({time.time() - t0:.0f} s)")
    clips, labels, groups = motion_clips(args.per_source, args.seed)
    n_clips, n_t = clips.shape[:2]
    flat_clips = clips.reshape(-1, *clips.shape[2:])
    print(f"probe clips {clips.shape}", flush=True)

    rng = np.random.default_rng(args.seed)
    result: dict[str, Any] = {
        "command": "python benchmarks/pilot_v3.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "held_out_sources": list(td.HELD_OUT),
        "train_sources": train_ids,
        "photos": photos["wheel"],
        "budget": {"frame_steps": args.frame_steps, "batch_size": 64, "lr": 1e-3, "seed": args.seed},
        "n_held_out_frames": len(held),
        "probe": {"clips": n_clips, "frames_per_clip": n_t, "classes": sorted(set(labels.tolist()))},
        "designs": {},
        "baselines": {},
    }
    photo_pick = rng.permutation(len(photo_frames))
    # Baselines: PCA at the same stored bytes (fitted on the corpus training frames), and pixels.
    base_train = corpus
    for d in (32, 128):
        result["baselines"][f"pca{d}_reconstruction"] = pca_rows(base_train, x_held, d, args.seed)
        pca = td._pca(base_train, d, args.seed)
        z = pca.transform(flat_clips.reshape(len(flat_clips), -1).astype(np.float32) / 255.0).reshape(n_clips, n_t, d)
        result["baselines"][f"pca{d}_probe"] = probe(np.stack([clip_features(c) for c in z]), labels, groups, args.seed)
        mu, _ = pixel_mu_logvar(flat_clips, d)
        mu = mu.reshape(n_clips, n_t, d)
        result["baselines"][f"pixels{d}_probe"] = probe(
            np.stack([clip_features(c) for c in mu]), labels, groups, args.seed
        )
        print(d, result["baselines"][f"pca{d}_reconstruction"], result["baselines"][f"pca{d}_probe"], flush=True)
        print(d, "pixels", result["baselines"][f"pixels{d}_probe"], flush=True)

    for name in args.designs.split(","):
        arch, photo_share = DESIGNS[name]
        n_photo = round(photo_share / (1 - photo_share) * len(corpus))
        train = np.concatenate([corpus, photo_frames[photo_pick[:n_photo]]])
        epochs = max(1, round(args.frame_steps / len(train)))
        full = {"input_size": td.SIZE, "beta": 1.0, "obs_var": 0.002, **arch}
        trainer = VAETrainer(train, architecture=full, epochs=epochs, learning_rate=1e-3, seed=args.seed)
        t1 = time.time()
        hist = [trainer.run_epoch() for _ in range(epochs)]
        seconds = time.time() - t1
        vae = trainer.vae
        d = arch["latent_dim"]
        q = quantiser(encode(vae, train[:4000]))
        mu_held = encode(vae, held)
        rec = {"float32": {"bytes": 4 * d, **recon_scores(x_held, decode(vae, mu_held))}}
        rec["int8"] = {"bytes": d, **recon_scores(x_held, decode(vae, quantise(mu_held, q)))}
        z = encode(vae, flat_clips).reshape(n_clips, n_t, d)
        row = {
            "architecture": full,
            "photo_share": photo_share,
            "n_train_frames": len(train),
            "epochs": epochs,
            "params": int(vae.count_params()),
            "train_seconds": round(seconds, 1),
            "last_epoch": hist[-1],
            "reconstruction": rec,
            "probe": probe(np.stack([clip_features(c) for c in z]), labels, groups, args.seed),
        }
        result["designs"][name] = row
        print(name, json.dumps(row), flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
