"""Build the shipped default encoder's LiteRT model from its Keras weights, and measure the drift.

The last step of the default encoder's recipe (``benchmarks/train_default.py`` runs it
after training; run it alone after changing the weights or the converter)::

    python -m benchmarks.build_default_tflite [--weights-dir featkit/encoders/weights]

It converts the float32 encoder with the TensorFlow Lite converter (no optimisation, so
no quantisation), writes ``default.tflite`` beside the weights atomically, and records in
the model card (``default.json``, key ``runtimes.litert``) the flatbuffer's and the
weights' sha256 (featkit refuses a flatbuffer whose weights hash does not match), the
converter and interpreter versions, and the measured drift from the Keras graph on
photographs and noise frames: max |Δμ|, max |Δ log σ²|, and whether LiteRT's outputs are
bit-identical across batch sizes and thread counts.

The VAE's decoder is converted the same way to ``default_decoder.tflite`` (card key
``runtimes.litert.decoder``, with its drift on the decoded posterior means of the same
frames): the ``polarity`` statistic scores frames with the decoder during every default
extraction, which must not import TensorFlow. ``--decoder-only`` rebuilds just that one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from featkit.files import atomic_write_bytes, sha256_of

DRIFT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "camera")


def drift_frames(size: int = 64, per_photo: int = 24, seed: int = 0) -> np.ndarray:
    """Random crops of scikit-image's bundled photographs, resized to ``size``, plus uniform noise frames."""
    from skimage import data as skdata
    from skimage.color import gray2rgb
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    out = []
    for name in DRIFT_PHOTOS:
        img = getattr(skdata, name)()
        img = gray2rgb(img) if img.ndim == 2 else img[..., :3]
        h, w = img.shape[:2]
        for _ in range(per_photo):
            side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = resize(img[y : y + side, x : x + side], (size, size), anti_aliasing=True, preserve_range=True)
            out.append(np.clip(np.rint(crop), 0, 255).astype(np.uint8))
    out.extend(rng.integers(0, 256, (per_photo, size, size, 3), dtype=np.uint8))
    return np.stack(out)


def build(weights_dir: Path) -> dict[str, Any]:
    """Convert ``weights_dir``'s default encoder to ``default.tflite`` and update its card; returns the entry."""
    import tensorflow as tf

    from featkit.encoders.lite import LiteRTEncoder, interpreter_runtime
    from featkit.encoders.variants import convert_to_tflite

    card_path = weights_dir / "default.json"
    card = json.loads(card_path.read_text())
    from featkit.encoders.vae import build_vae

    vae = build_vae(**card["architecture"])
    vae.load_weights(weights_dir / "default.weights.h5")
    keras_enc = _keras_encoder(weights_dir, card, vae, with_decoder=False)
    weights_sha = keras_enc.sha256
    data = convert_to_tflite(keras_enc, "float32")
    frames = drift_frames(size=keras_enc.input_size)
    mu_k, lv_k = keras_enc.encode(frames)
    runs = {}
    for batch_size in (1, 64, 256):
        for threads in (1, 2):
            lite = LiteRTEncoder(
                data,
                name=card["name"],
                input_size=keras_enc.input_size,
                latent_dim=keras_enc.latent_dim,
                batch_size=batch_size,
                num_threads=threads,
            )
            runs[(batch_size, threads)] = lite.encode(frames)
    mu_l, lv_l = runs[(64, 2)]
    identical = all(np.array_equal(m, mu_l) and np.array_equal(v, lv_l) for m, v in runs.values())
    entry = {
        "file": "default.tflite",
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "weights_sha256": weights_sha,
        "converter": f"tensorflow {tf.__version__}",
        "interpreter": interpreter_runtime()[1],
        "bytes": len(data),
        "drift_vs_keras": {
            "frames": f"{len(frames)} (random crops of {len(DRIFT_PHOTOS)} scikit-image photos, and noise)",
            "mu_max_abs": float(np.abs(mu_l - mu_k).max()),
            "logvar_max_abs": float(np.abs(lv_l - lv_k).max()),
            "mu_rms": float(np.sqrt(np.mean(np.square(mu_l - mu_k)))),
        },
        "bit_identical_across": {"batch_sizes": [1, 64, 256], "num_threads": [1, 2], "identical": identical},
    }
    atomic_write_bytes(weights_dir / "default.tflite", data)
    card.setdefault("runtimes", {})["litert"] = entry
    atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
    entry["decoder"] = build_decoder(weights_dir, _keras_encoder(weights_dir, card, vae, with_decoder=True))
    return entry


def _keras_encoder(weights_dir: Path, card: dict[str, Any], vae: Any = None, *, with_decoder: bool) -> Any:
    """The Keras encoder of ``weights_dir``'s weights and ``card``: the package's or a recipe run's.

    ``vae``: those weights already built. ``with_decoder`` adds the decoder, whose
    ``decode`` signature then joins the SavedModel: the encoder's flatbuffer is
    converted without it (as shipped), the decoder's from it.
    """
    from featkit.encoders.keras_encoder import KerasEncoder
    from featkit.encoders.vae import build_vae

    weights_path = weights_dir / "default.weights.h5"
    if vae is None:
        vae = build_vae(**card["architecture"])
        vae.load_weights(weights_path)
    extra = {"decoder": vae.decoder, "beta": vae.beta, "obs_var": vae.obs_var} if with_decoder else {}
    return KerasEncoder(
        vae.encoder,
        name=card["name"],
        sha256=sha256_of(weights_path),
        config={"architecture": card["architecture"]},
        **extra,
    )


def build_decoder(weights_dir: Path, keras_enc: Any = None) -> dict[str, Any]:
    """Convert ``weights_dir``'s default decoder to ``default_decoder.tflite``; record it in the card's LiteRT entry.

    ``keras_enc``: the same weights already loaded (by :func:`build`), so they are not built twice.
    """
    import tempfile

    from featkit.encoders.lite import LiteRTDecoder
    from featkit.encoders.savedmodel import write_saved_model
    from featkit.encoders.variants import convert_saved_model

    card_path = weights_dir / "default.json"
    card = json.loads(card_path.read_text())
    keras_enc = keras_enc or _keras_encoder(weights_dir, card, with_decoder=True)
    with tempfile.TemporaryDirectory(prefix="featkit-decoder-") as tmp:
        saved = Path(tmp) / "saved_model"
        write_saved_model(keras_enc, saved)
        data = convert_saved_model(saved, "float32", signature="decode")
    z, _ = keras_enc.encode(drift_frames(size=keras_enc.input_size))
    x_keras = keras_enc.decode(z)
    runs = {}
    for batch_size in (1, 2, 8, 64):
        for threads in (1, 2):
            decoder = LiteRTDecoder(
                data, latent_dim=keras_enc.latent_dim, input_size=keras_enc.input_size, num_threads=threads
            )
            runs[(batch_size, threads)] = np.concatenate(
                [decoder.decode_batch(z[i : i + batch_size]) for i in range(0, len(z), batch_size)]
            )
    x_lite = runs[(64, 2)]
    identical = all(np.array_equal(x, x_lite) for x in runs.values())
    entry = {
        "file": "default_decoder.tflite",
        "tflite_sha256": hashlib.sha256(data).hexdigest(),
        "weights_sha256": sha256_of(weights_dir / "default.weights.h5"),
        "bytes": len(data),
        "drift_vs_keras": {
            "latents": f"{len(z)} posterior means of the encoder's drift frames",
            "frames_max_abs": float(np.abs(x_lite - x_keras).max()),
            "frames_rms": float(np.sqrt(np.mean(np.square(x_lite - x_keras)))),
        },
        "bit_identical_across": {"batch_sizes": [1, 2, 8, 64], "num_threads": [1, 2], "identical": identical},
    }
    atomic_write_bytes(weights_dir / "default_decoder.tflite", data)
    card.setdefault("runtimes", {}).setdefault("litert", {})["decoder"] = entry
    atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(__file__).resolve().parents[1] / "featkit" / "encoders" / "weights"
    parser.add_argument("--weights-dir", type=Path, default=default_dir, help="folder of default.weights.h5/.json")
    parser.add_argument("--decoder-only", action="store_true", help="rebuild default_decoder.tflite only")
    args = parser.parse_args(argv)
    entry = build_decoder(args.weights_dir) if args.decoder_only else build(args.weights_dir)
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
