"""What the shipped VAE does beyond features, measured on held-out real video: compression, completion, anomalies.

    python benchmarks/bench_vae.py [--quick] [--out DIR] [--videos ID ...] [--max-frames 240]

On every frame (at the model's input size, S x S) of videos the default
encoder was not trained on (cockatoo, robot_mp4, megamind):

* **rate/distortion**: the VAE stores μ, 2·d bytes per frame in float16 (4·d in
  float32); PSNR/SSIM of the decoded frames against classical codecs at the
  same or fewer bytes per frame: JPEG (Pillow/libjpeg, 4:2:0) at the highest
  quality that fits, counting only its entropy-coded bytes (headers and
  tables are taken as shared, which favours JPEG); JPEG of the frame
  downscaled to 8, 16 or 32 px and upscaled back (best that fits); a raw RGB
  thumbnail that fits. Plus JPEG's whole rate/distortion curve.
* **completion**: frames sampled at 8 fps held out in gaps of 1, 2 and 4, filled by latent
  interpolation (linear, slerp), latent + interpolated residual ("hybrid"),
  and linear pixel interpolation; PSNR/SSIM against the held-out frames; the
  VAE's own reconstruction of those frames is the ceiling for latent fills.
* **anomaly**: clips of 8 frames scored by the mean negative ELBO per frame
  (and, for comparison, reconstruction MSE); ROC AUC of clean clips against
  corrupted copies (Gaussian noise, random blocks, inverted colours, JPEG at
  quality 5) and synthetic patterns.

Writes ``bench_vae.json`` and PNGs (``vae_rd.png``, ``vae_samples.png``,
``vae_reconstruction.png``, ``vae_completion.png``, ``vae_walk.png``) to
``--out`` (default ``benchmarks/results``). ``--quick`` runs on two short
generated videos (no corpus): its numbers are not to be reported.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.provenance import RESULTS_DIR, file_record, machine_info, write_result  # noqa: E402

HELD_OUT = ("cockatoo", "robot_mp4", "megamind")
JPEG_QUALITIES = (1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)
QUICK_QUALITIES = (1, 5, 20, 50, 90)
THUMB_SIZES = (8, 16, 32)
GAPS = (1, 2, 4)
COMPLETION_FPS = 8.0
FILL_METHODS = ("linear", "slerp", "hybrid", "pixel")
CLIP_LEN = 8


# -- data --------------------------------------------------------------------------------------------------


def _generated_videos(folder: Path, n_frames: int) -> list[tuple[str, Path]]:
    """Two pans over smooth, muted random scenes (quick mode: no corpus needed)."""
    import av
    from scipy.ndimage import gaussian_filter

    out = []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        big = rng.normal(size=(96 + 2 * n_frames, 128 + 3 * n_frames, 3))
        lum = sum(gaussian_filter(big[..., 0], s) * s for s in (2, 6, 16))
        chroma = [gaussian_filter(big[..., c], 12) for c in (1, 2)]
        lum = (lum - lum.mean()) / lum.std()
        c1, c2 = (c / c.std() for c in chroma)
        img = np.clip(0.45 + 0.15 * lum[..., None] + 0.05 * np.stack([c1, -0.5 * (c1 + c2), c2], -1), 0, 1)
        frames = np.stack([img[2 * i : 2 * i + 96, 3 * i : 3 * i + 128] for i in range(n_frames)])
        path = folder / f"generated{seed}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=12)
            s.height, s.width, s.pix_fmt = 96, 128, "yuv420p"
            s.options = {"mbtree": "0"}  # x264's mbtree: bytes varied with what the process encoded before
            for f in np.rint(frames * 255).astype(np.uint8):
                c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            c.mux(s.encode(None))
        out.append((f"generated{seed}", path))
    return out


def _corpus_videos(ids: list[str]) -> list[tuple[str, Path]]:
    from benchmarks.common import cached_corpus_video

    out = []
    for vid in ids:
        found = cached_corpus_video(vid) or cached_corpus_video(vid, fetch=True)
        if found is None:
            raise SystemExit(f"corpus video {vid!r} is not available; run python benchmarks/fetch_corpus.py")
        out.append((vid, found[0]))
    return out


def _trained_on() -> set[str]:
    from featkit.encoders.keras_encoder import default_model_card

    card = default_model_card()
    return {v.get("sha256", "") for v in card.get("training", {}).get("train_videos", [])}


# -- codecs ------------------------------------------------------------------------------------------------


def _entropy_bytes(data: bytes) -> int:
    """Bytes of JPEG entropy-coded data: after the SOS header, up to EOI (all headers and tables excluded)."""
    sos = data.index(b"\xff\xda")
    header_len = int.from_bytes(data[sos + 2 : sos + 4], "big")
    end = data.rindex(b"\xff\xd9")
    return end - (sos + 2 + header_len)


def _jpeg(img: np.ndarray, quality: int) -> tuple[int, int, np.ndarray]:
    """(entropy-coded bytes, whole-file bytes, decoded image) of baseline JPEG at ``quality``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    data = buf.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return _entropy_bytes(data), len(data), decoded


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC))


def _jpeg_table(frames: np.ndarray, qualities: tuple[int, ...]) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """(side coded, quality) -> per-frame entropy bytes, file bytes, PSNR, SSIM (and the decoded frames)."""
    size = frames.shape[1]
    table = {}
    for side in (size, *THUMB_SIZES):
        small = frames if side == size else np.stack([_resize(f, side) for f in frames])
        for q in qualities:
            coded = [_jpeg(f, q) for f in small]
            dec = np.stack([c[2] if side == size else _resize(c[2], size) for c in coded])
            p, s = _quality(frames, dec)
            table[(side, q)] = {
                "entropy_bytes": np.array([c[0] for c in coded]),
                "file_bytes": np.array([c[1] for c in coded]),
                "psnr": p,
                "ssim": s,
                "decoded": dec,
            }
    return table


def _quality(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from featkit.metrics import psnr, ssim

    x, y = ref.astype(np.float32) / 255.0, test.astype(np.float32) / 255.0
    return psnr(x, y), ssim(x, y)


def _best_within(frames: np.ndarray, table: dict, budget: float, sides: tuple[int, ...]) -> dict[str, Any]:
    """Per frame, the highest-PSNR JPEG among ``sides`` whose entropy-coded bytes fit ``budget``."""
    n = frames.shape[0]
    best_p, best_s = np.full(n, np.nan), np.full(n, np.nan)
    best_bytes, chosen = np.full(n, np.nan), np.empty(n, dtype=object)
    for (side, q), t in table.items():
        if side not in sides:
            continue
        ebytes, p, s = t["entropy_bytes"], t["psnr"], t["ssim"]
        ok = (ebytes <= budget) & ~(p <= best_p)  # NaN compares False: first fit wins
        best_p[ok], best_s[ok], best_bytes[ok] = p[ok], s[ok], ebytes[ok]
        chosen[ok] = f"{side}px q{q}"
    fit = ~np.isnan(best_p)
    out: dict[str, Any] = {"frames_that_fit": int(fit.sum()), "n_frames": n}
    if fit.any():
        out.update(
            psnr_db=float(best_p[fit].mean()),
            ssim=float(best_s[fit].mean()),
            mean_bytes=float(best_bytes[fit].mean()),
            most_common_setting=max(set(chosen[fit]), key=list(chosen[fit]).count),
        )
    return out


def _thumbnail(frames: np.ndarray, budget: float) -> dict[str, Any]:
    """Raw 8-bit RGB thumbnail of the largest side that fits, upscaled back (bicubic)."""
    side = int(np.sqrt(budget / 3))
    size = frames.shape[1]
    up = np.stack([_resize(_resize(f, side), size) for f in frames])
    p, s = _quality(frames, up)
    return {"side": side, "bytes": 3 * side * side, "psnr_db": float(p.mean()), "ssim": float(s.mean())}


# -- the three measurements ------------------------------------------------------------------------------


def rate_distortion(
    encoder: Any, frames: np.ndarray, qualities: tuple[int, ...] = JPEG_QUALITIES
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from featkit.generative.reconstruct import rate, reconstruct

    size = frames.shape[1]
    table = _jpeg_table(frames, qualities)
    out: dict[str, Any] = {"vae": {}, "jpeg_curve": [], "baselines": {}}
    recon = {}
    for dtype in ("float16", "float32"):
        rec, _ = reconstruct(encoder, frames, latent_dtype=dtype)
        p, s = _quality(frames, rec)
        budget = rate(size, encoder.latent_dim, dtype)["latent_bytes"]
        out["vae"][dtype] = {"bytes": budget, "psnr_db": float(p.mean()), "ssim": float(s.mean())}
        out["baselines"][dtype] = {
            "jpeg_full_size": _best_within(frames, table, budget, (size,)),
            "jpeg_any_size": _best_within(frames, table, budget, (size, *THUMB_SIZES)),
            "raw_thumbnail": _thumbnail(frames, budget),
        }
        recon[dtype] = rec
    for q in qualities:
        t = table[(size, q)]
        out["jpeg_curve"].append(
            {
                "quality": q,
                "entropy_bytes": float(t["entropy_bytes"].mean()),
                "file_bytes": float(t["file_bytes"].mean()),
                "psnr_db": float(t["psnr"].mean()),
                "ssim": float(t["ssim"].mean()),
            }
        )
    # Strip material: the lowest-quality JPEG, and the best classical codec at the float16 budget.
    recon["jpeg_q1"] = table[(size, 1)]["decoded"]
    return out, recon


def completion(encoder: Any, frames: np.ndarray) -> dict[str, Any]:
    from featkit.generative.completion import complete_frames
    from featkit.generative.reconstruct import reconstruct

    n = frames.shape[0]
    out = {}
    ceiling, _ = reconstruct(encoder, frames, latent_dtype="float32")
    for gap in GAPS:
        missing = np.concatenate([np.arange(s, s + gap) for s in range(1, n - gap - 1, gap + 3)])
        res: dict[str, Any] = {"n_missing": int(missing.size)}
        for method in FILL_METHODS:
            filled = complete_frames(frames, missing, encoder=encoder, method=method)
            p, s = _quality(frames[missing], filled[missing])
            res[method] = {"psnr_db": float(p.mean()), "ssim": float(s.mean())}
        p, s = _quality(frames[missing], ceiling[missing])
        res["vae_reconstruction_ceiling"] = {"psnr_db": float(p.mean()), "ssim": float(s.mean())}
        out[str(gap)] = res
    return out


def _corruptions(clip: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    noisy = np.clip(clip + rng.normal(0, 25, clip.shape), 0, 255).astype(np.uint8)
    blocks = clip.copy()
    s = clip.shape[1] // 4
    for frame in blocks:
        for y, x in rng.integers(0, clip.shape[1] - s, (4, 2)):
            frame[y : y + s, x : x + s] = rng.integers(0, 256, 3)
    jpeg5 = np.stack([_jpeg(f, 5)[2] for f in clip])
    return {"noise": noisy, "blocks": blocks, "inverted": 255 - clip, "jpeg_q5": jpeg5}


def _patterns(n_clips: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Synthetic out-of-domain clips: checkerboards, stripes, uniform noise, a flat square on black."""
    t = np.arange(CLIP_LEN)[:, None, None]
    y, x = (a[None] for a in np.mgrid[0:size, 0:size])
    clips = []
    for i in range(n_clips):
        kind = i % 4
        c1, c2 = rng.integers(0, 256, (2, 3))
        if kind == 0:
            mask = ((x + 2 * t) // 8 + y // 8) % 2 == 0
        elif kind == 1:
            mask = ((y + t) // 6) % 2 == 0
        elif kind == 2:
            clips.append(rng.integers(0, 256, (CLIP_LEN, size, size, 3), dtype=np.uint8))
            continue
        else:
            c2 = np.zeros(3, int)
            mask = (np.abs(x - 20 - 2 * t) < 10) & (np.abs(y - 30) < 10)
        clips.append(np.where(mask[..., None], c1, c2).astype(np.uint8))
    return clips


def _png_bits(frame: np.ndarray) -> int:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "PNG", compress_level=9)
    return 8 * len(buf.getvalue())


#: Clip scores compared: featkit's statistic, plain reconstruction error, and a complexity-corrected variant.
SCORES = ("nelbo", "mse", "nelbo_minus_png")


def anomaly(encoder: Any, videos: dict[str, np.ndarray], seed: int = 0) -> dict[str, Any]:
    """ROC AUC of clean clips against corrupted copies and synthetic patterns, for each score of SCORES.

    ``nelbo_minus_png`` is the negative ELBO in bits minus the PNG size of the
    frame in bits (Serrà et al., ICLR 2020: likelihoods favour simple images;
    subtracting a generic compressor's code length removes that). Up to a
    constant per model it is a likelihood ratio against PNG.
    """
    from sklearn.metrics import roc_auc_score

    from featkit.generative.anomaly import reconstruction_mse

    rng = np.random.default_rng(seed)

    def scores(clip: np.ndarray) -> list[float]:
        mu, logvar = encoder.encode(clip)
        nelbo = encoder.score(clip, posterior=(mu, logvar))
        mse = reconstruction_mse(clip, encoder.decode(mu))
        corrected = nelbo / np.log(2.0) - np.array([_png_bits(f) for f in clip])
        return [float(nelbo.mean()), float(mse.mean()), float(corrected.mean())]

    groups: dict[str, list[list[float]]] = {}
    for frames in videos.values():
        for lo in range(0, frames.shape[0] - CLIP_LEN + 1, CLIP_LEN):
            clip = frames[lo : lo + CLIP_LEN]
            groups.setdefault("clean", []).append(scores(clip))
            for kind, bad in _corruptions(clip, rng).items():
                groups.setdefault(kind, []).append(scores(bad))
    n_clean = len(groups["clean"])
    groups["patterns"] = [scores(c) for c in _patterns(max(4, n_clean // 2), encoder.input_size, rng)]
    clean = np.array(groups["clean"])

    def auc(odd: np.ndarray) -> dict[str, Any]:
        y = np.r_[np.zeros(len(clean)), np.ones(len(odd))]
        out = {k: float(roc_auc_score(y, np.r_[clean[:, j], odd[:, j]])) for j, k in enumerate(SCORES)}
        return {**out, "n": len(odd)}

    out: dict[str, Any] = {
        "n_clean_clips": n_clean,
        "clip_len": CLIP_LEN,
        "auc": {},
        "paired_win_rate": {},
        "mean_score": {},
    }
    for kind, vals in groups.items():
        v = np.array(vals)
        out["mean_score"][kind] = {k: float(v[:, j].mean()) for j, k in enumerate(SCORES)}
        if kind != "clean":
            out["auc"][kind] = auc(v)
        if kind not in ("clean", "patterns"):
            # Within one scene: how often the corrupted copy scores above the same clip clean.
            out["paired_win_rate"][kind] = {k: float(np.mean(v[:, j] > clean[:, j])) for j, k in enumerate(SCORES)}
    out["auc"]["all"] = auc(np.concatenate([np.array(v) for k, v in groups.items() if k != "clean"]))
    return out


# -- pictures ----------------------------------------------------------------------------------------------


def _plots(out_dir: Path, encoder: Any, videos: dict, sampled: dict, paths: dict, recon: dict, rd: dict) -> list[str]:
    from featkit.generative.completion import complete_frames
    from featkit.generative.generation import prior_sheet, walk_sheet
    from featkit.generative.media import contact_sheet, upscale, write_png

    written = []
    prior_sheet(out_dir / "vae_samples.png", encoder=encoder, n=64, seed=0, scale=2)
    written.append("vae_samples.png")
    # Reconstruction strip: rows original, VAE float16, JPEG q1 (the smallest JPEG), 8 frames per video.
    rows = {"original": [], "vae_float16": [], "jpeg_q1": []}
    for vid, frames in videos.items():
        idx = np.linspace(0, frames.shape[0] - 1, 8).round().astype(int)
        rows["original"].append(frames[idx])
        rows["vae_float16"].append(recon[vid]["float16"][idx])
        rows["jpeg_q1"].append(recon[vid]["jpeg_q1"][idx])
    grid = np.stack([np.concatenate(v) for v in rows.values()])
    write_png(out_dir / "vae_reconstruction.png", contact_sheet(upscale(grid, 2)))
    written.append("vae_reconstruction.png")
    # Completion strip, at the completion rate: a gap of 3 frames; rows: truth, pixel, linear latent, hybrid.
    comp_frames = next(iter(sampled.values()))
    n = comp_frames.shape[0]
    lo = n // 2 - 3
    missing = np.arange(lo + 1, lo + 4)
    strip = [comp_frames[lo : lo + 5]]
    for method in ("pixel", "linear", "hybrid"):
        strip.append(complete_frames(comp_frames, missing, encoder=encoder, method=method)[lo : lo + 5])
    write_png(out_dir / "vae_completion.png", contact_sheet(upscale(np.stack(strip), 3)))
    written.append("vae_completion.png")
    ids = list(paths)
    if len(ids) >= 2:
        walk_sheet(paths[ids[0]], paths[ids[1]], out_dir / "vae_walk.png", encoder=encoder, rows=3, steps=8)
        written.append("vae_walk.png")
    written.append(_rd_plot(out_dir / "vae_rd.png", rd))
    return written


def _rd_plot(path: Path, rd_all: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (vid, rd) in enumerate(rd_all.items()):
        colour = f"C{i}"
        curve = rd["jpeg_curve"]
        ax.plot(
            [c["entropy_bytes"] for c in curve],
            [c["psnr_db"] for c in curve],
            "-",
            color=colour,
            alpha=0.7,
            label=f"{vid}: JPEG (entropy-coded bytes)",
        )
        for dtype, marker in (("float16", "*"), ("float32", "o")):
            v = rd["vae"][dtype]
            ax.plot(
                v["bytes"],
                v["psnr_db"],
                marker,
                color=colour,
                markersize=12 if marker == "*" else 7,
                label=f"{vid}: VAE {dtype}" if i == 0 or dtype == "float16" else None,
            )
            b = rd["baselines"][dtype]["jpeg_any_size"]
            if "psnr_db" in b:
                ax.plot(
                    b["mean_bytes"],
                    b["psnr_db"],
                    "s",
                    color=colour,
                    mfc="none",
                    label=f"{vid}: best JPEG/thumbnail ≤ VAE bytes" if dtype == "float16" else None,
                )
    ax.set_xscale("log")
    ax.set_xlabel("bytes per frame (64x64 RGB frame = 12,288 raw)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("VAE latents against JPEG, held-out frames")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# -- main --------------------------------------------------------------------------------------------------


def _pooled(per_video: dict[str, Any], getter) -> float:
    return float(np.mean([getter(v) for v in per_video.values()]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two short generated videos, no corpus (numbers not reported)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="results folder (benchmarks/results)")
    ap.add_argument("--videos", nargs="+", default=list(HELD_OUT), help=f"corpus ids (default {' '.join(HELD_OUT)})")
    ap.add_argument("--max-frames", type=int, default=240, help="frames per video, from the start (240)")
    ap.add_argument(
        "--completion-fps", type=float, default=COMPLETION_FPS, help=f"rate completion is tested at ({COMPLETION_FPS})"
    )
    args = ap.parse_args(argv)
    machine = machine_info()
    t0 = time.perf_counter()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    from featkit.encoders import load_encoder
    from featkit.generative.media import open_video

    encoder = load_encoder("default")
    with tempfile.TemporaryDirectory(prefix="featkit-bench-vae-") as tmp:
        if args.quick:
            sources = _generated_videos(Path(tmp), 24)
            max_frames, qualities = 24, QUICK_QUALITIES
        else:
            sources = _corpus_videos(args.videos)
            max_frames, qualities = args.max_frames, JPEG_QUALITIES
        trained = _trained_on()
        data, frames_of, sampled_of, paths = [], {}, {}, {}
        for vid, path in sources:
            rec = file_record(path, id=vid)
            rec["in_default_training_set"] = rec["sha256"] in trained
            data.append(rec)
            frames_of[vid] = open_video(path, encoder.input_size, max_frames=max_frames).read()
            sampled_of[vid] = open_video(path, encoder.input_size, fps=args.completion_fps).read()
            paths[vid] = path
        rd, recon, comp = {}, {}, {}
        for vid, frames in frames_of.items():
            rd[vid], recon[vid] = rate_distortion(encoder, frames, qualities)
            comp[vid] = completion(encoder, sampled_of[vid])
        anom = anomaly(encoder, frames_of)
        plots = _plots(out_dir, encoder, frames_of, sampled_of, paths, recon, rd)

    vae16 = _pooled(rd, lambda r: r["vae"]["float16"]["psnr_db"])
    # Per video, the better of the best fitting JPEG and the raw thumbnail; then the mean over videos.
    classical16 = _pooled(
        rd,
        lambda r: max(
            r["baselines"]["float16"]["jpeg_any_size"].get("psnr_db", -np.inf),
            r["baselines"]["float16"]["raw_thumbnail"]["psnr_db"],
        ),
    )
    gap2 = {
        m: _pooled(comp, lambda c, m=m: c["2"][m]["psnr_db"]) for m in (*FILL_METHODS, "vae_reconstruction_ceiling")
    }
    auc_all = anom["auc"]["all"]["nelbo"]
    targets = [
        {
            "name": "anomaly ROC AUC, clean vs all corruptions and patterns (negative ELBO)",
            "value": auc_all,
            "unit": "",
            "op": ">=",
            "target": 0.9,
            "met": auc_all >= 0.9,
        },
        {
            "name": "VAE float16 PSNR minus best classical codec at <= the same bytes/frame",
            "value": vae16 - classical16,
            "unit": "dB",
            "op": ">=",
            "target": 0.0,
            "met": vae16 - classical16 >= 0.0,
        },
        {
            "name": "completion, gap 2 at 8 fps: best latent fill PSNR minus pixel interpolation",
            "value": max(gap2["linear"], gap2["slerp"], gap2["hybrid"]) - gap2["pixel"],
            "unit": "dB",
            "op": ">=",
            "target": 0.0,
            "met": max(gap2["linear"], gap2["slerp"], gap2["hybrid"]) >= gap2["pixel"],
        },
    ]
    result = {
        "config": {
            "encoder": {k: encoder.identity().get(k) for k in ("name", "sha256", "input_size", "latent_dim")},
            "beta": encoder.beta,
            "obs_var": encoder.obs_var,
            "max_frames_per_video": max_frames,
            "jpeg": "Pillow/libjpeg baseline, 4:2:0, standard tables; budget compared with entropy-coded bytes",
            "jpeg_qualities": list(qualities),
            "thumbnail_sides": list(THUMB_SIZES),
            "completion_gaps": list(GAPS),
            "completion_fps": args.completion_fps,
            "anomaly_clip_len": CLIP_LEN,
            "anomaly_score": "mean over the clip of per-frame negative ELBO at z=mu (nats), Encoder.score",
        },
        "data": data,
        "rate_distortion": rd,
        "completion": comp,
        "anomaly": anom,
        "summary": {
            "vae_float16_psnr_db": vae16,
            "best_classical_at_float16_bytes_psnr_db": classical16,
            "completion_gap2_psnr_db": gap2,
            "anomaly_auc_all_nelbo": auc_all,
            "anomaly_auc_all_mse": anom["auc"]["all"]["mse"],
            "anomaly_auc_all_nelbo_minus_png": anom["auc"]["all"]["nelbo_minus_png"],
        },
        "targets": targets,
        "plots": plots,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    path = write_result(out_dir, "vae", result, quick=args.quick, machine=machine)
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {path}")
    return 0


def markdown_summary(r: dict[str, Any]) -> str:
    """The report section: rate/distortion, completion and anomaly tables."""
    lines = []
    vids = list(r["rate_distortion"])
    rows = []
    for vid in vids:
        rd = r["rate_distortion"][vid]
        for dtype in ("float16", "float32"):
            v, b = rd["vae"][dtype], rd["baselines"][dtype]
            j, a, t = b["jpeg_full_size"], b["jpeg_any_size"], b["raw_thumbnail"]
            jtxt = (
                f"{j['psnr_db']:.2f} / {j['ssim']:.3f} ({j['frames_that_fit']}/{j['n_frames']} fit)"
                if "psnr_db" in j
                else f"does not fit (0/{j['n_frames']})"
            )
            atxt = (
                f"{a['psnr_db']:.2f} / {a['ssim']:.3f} ({a['most_common_setting']})"
                if "psnr_db" in a
                else "does not fit"
            )
            rows.append(
                f"| {vid} | {dtype}: {v['bytes']:.0f} B | {v['psnr_db']:.2f} / {v['ssim']:.3f} | {jtxt} | {atxt} | "
                f"{t['psnr_db']:.2f} / {t['ssim']:.3f} ({t['side']}px) |"
            )
    lines += [
        "Rate/distortion (PSNR dB / SSIM, mean over frames; JPEG bytes = entropy-coded only):",
        "",
        "| video | VAE latents | VAE | JPEG 64px at ≤ bytes | best JPEG of 8–64px at ≤ bytes | raw thumbnail |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    rows = []
    for vid in vids:
        for gap, res in r["completion"][vid].items():
            cells = " | ".join(
                f"{res[m]['psnr_db']:.2f} / {res[m]['ssim']:.3f}" for m in (*FILL_METHODS, "vae_reconstruction_ceiling")
            )
            rows.append(f"| {vid} | {gap} | {cells} |")
    lines += [
        f"Completion of held-out frames sampled at {r['config'].get('completion_fps')} fps (PSNR dB / SSIM):",
        "",
        "| video | gap | latent linear | latent slerp | hybrid | pixel | VAE recon (ceiling) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    paired = r["anomaly"].get("paired_win_rate", {})
    rows = [
        f"| {k} | {v['nelbo']:.3f} | {v['mse']:.3f} | {v['nelbo_minus_png']:.3f} | {v['n']} | "
        + (f"{paired[k]['nelbo']:.3f} |" if k in paired else "– |")
        for k, v in r["anomaly"]["auc"].items()
    ]
    lines += [
        f"Anomaly ROC AUC against {r['anomaly']['n_clean_clips']} clean clips of {r['anomaly']['clip_len']} frames:",
        "",
        "| corruption | negative ELBO (featkit's statistic) | reconstruction MSE | negative ELBO − PNG bits | clips "
        "| paired: corrupted copy above its clean clip (negative ELBO) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
