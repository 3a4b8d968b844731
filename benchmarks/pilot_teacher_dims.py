"""Pilot: how much of what the teacher knows survives in its whitened top-k directions.

    python benchmarks/pilot_teacher_dims.py   # writes benchmarks/results/pilot_teacher_dims.json

The default encoder's global code is trained to predict the teacher's features
PCA-whitened to k = 64 dimensions (``train_default.py --teacher-dims``). If those
k directions already lost what the held-out probes need, a better student of
them cannot help and k is the lever; if not, the student's fit is. The
teacher's own features of ``pilot_distill``'s held-out probes (30 unseen
wallpapers, scikit-learn's digits placed at random) are projected on the PCA
fitted to its features of the recipe's training frames and probed the same way
(logistic regression at 10 and 30 labels per class, 5 seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import pilot_distill as pd  # noqa: E402
from benchmarks import train_default as td  # noqa: E402

DIMS = (32, 64, 128, 256, 512)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pilot_teacher_dims.json"))
    args = ap.parse_args(argv)

    from sklearn.decomposition import PCA

    from benchmarks.fetch_corpus import corpus_dir
    from benchmarks.teacher import Teacher, cached_features

    root = corpus_dir(None)
    videos = {v["id"]: v for v in json.loads((root / "manifest.json").read_text())["videos"]}
    train_ids = sorted(i for i in videos if i not in td.HELD_OUT and i not in td.EXCLUDED)
    fargs = argparse.Namespace(
        fps=8.0, max_per_video=2500, crops=3, crop_scales=[1.25, 1.5, 2.0], held_fps=8.0, seed=0, photo_views=300
    )
    train = td._v3_data(fargs, root, videos, train_ids)["train"]
    raw = cached_features(train, root, cache=root.parent, input_size=128)
    teacher = Teacher(root.parent, input_size=128)
    walls = pd.fetch_wallpapers(root.parent)
    views = td.photo_views([str(p) for p in walls.values()], 40, td.SIZE, seed=11)
    wall_labels = np.repeat(np.array(list(walls)), 40)
    digits, digit_labels = pd.digit_frames(td.SIZE, 0)
    t_views, t_digits = teacher(views), teacher(digits)
    out: dict[str, object] = {
        "command": "python benchmarks/pilot_teacher_dims.py",
        "n_train_frames": len(train),
        "teacher1280": {
            "wallpaper": pd.frame_probe(t_views, wall_labels),
            "digits": pd.frame_probe(t_digits, digit_labels),
        },
    }
    for k in DIMS:
        w = PCA(k, whiten=True, random_state=0).fit(raw)
        out[f"top{k}"] = {
            "explained_variance": round(float(w.explained_variance_ratio_.sum()), 4),
            "wallpaper": pd.frame_probe(w.transform(t_views), wall_labels),
            "digits": pd.frame_probe(w.transform(t_digits), digit_labels),
        }
        print(k, out[f"top{k}"], flush=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
