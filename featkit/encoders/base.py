"""The encoder interface featkit extracts with (no TensorFlow here)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from featkit.exceptions import EncoderError

__all__ = ["Encoder", "check_frames", "encode_in_batches"]


class Encoder(ABC):
    """Maps RGB frames to a diagonal Gaussian posterior ``(mu, logvar)``.

    The base class owns what every encoder does the same way: :meth:`encode` and
    :meth:`decode` run the model on batches of exactly ``batch_size`` rows (the last
    one zero-padded), so a frame's features never depend on what else is in its
    batch, and :meth:`identity` is the provenance stored with the features.
    Subclasses set ``input_size`` and ``latent_dim`` and implement
    :meth:`_encode_batch`, one such batch.

    An encoder that comes with its VAE's decoder also sets ``has_decoder``,
    ``beta`` and ``obs_var`` and implements :meth:`_decode_batch`; it then supports
    reconstruction, completion, generation (:mod:`featkit.generative`) and
    :meth:`score`, the per-frame anomaly score. Encoders without a decoder
    raise :class:`~featkit.exceptions.EncoderError` there.

    Parameters
    ----------
    name : str
        Name stored as provenance.
    sha256 : str
        Fingerprint of the model's file(s).
    batch_size : int, default=64
        Rows per model call.
    config : dict, optional
        Architecture, format and settings stored as provenance.

    """

    name: str
    input_size: int
    latent_dim: int
    #: Whether :meth:`decode` and :meth:`score` are available.
    has_decoder: bool = False
    #: Weight of the KL term and the decoder's fixed variance (None without a decoder).
    beta: float | None = None
    obs_var: float | None = None

    def __init__(self, *, name: str, sha256: str, batch_size: int = 64, config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.sha256 = sha256
        self.batch_size = int(batch_size)
        self.config = config

    def encode(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode frames.

        Parameters
        ----------
        frames : ndarray of shape (n, input_size, input_size, 3), uint8

        Returns
        -------
        mu, logvar : ndarray of shape (n, latent_dim), float32

        Raises
        ------
        EncoderError
            If the frames are not uint8 of shape (n, input_size, input_size, 3).

        """
        frames = check_frames(self, frames)
        return encode_in_batches(self._encode_batch, frames, self._batch_rows(len(frames)), self.latent_dim)

    @abstractmethod
    def _encode_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode one batch: uint8 frames (b, S, S, 3) -> ``(mu, logvar)``, each (b, d), b from :meth:`_batch_rows`."""

    def _batch_rows(self, n: int) -> int:
        """Rows per model call when encoding ``n`` frames: ``batch_size`` (a runtime may pick a smaller fixed size)."""
        return self.batch_size

    def identity(self) -> dict[str, Any]:
        """Name, sha256 of the model's file(s), input size, latent size and config: what is stored as provenance."""
        return self._identity(self.sha256, config=self.config)

    def _identity(self, sha256: str, **extra: Any) -> dict[str, Any]:
        """What every identity holds (name, hash, sizes), then what the subclass adds."""
        return {
            "name": self.name,
            "sha256": sha256,
            "input_size": self.input_size,
            "latent_dim": self.latent_dim,
            **extra,
        }

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode latent vectors to frames (only for encoders with a decoder), on fixed batches (as :meth:`encode`).

        Parameters
        ----------
        z : ndarray of shape (n, latent_dim)

        Returns
        -------
        ndarray of shape (n, input_size, input_size, 3), float32
            Frames with values in [0, 1].

        Raises
        ------
        EncoderError
            If the encoder has no decoder, or ``z`` is not (n, latent_dim).

        """
        if not self.has_decoder:
            raise self._no_decoder("decode latents")
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise EncoderError(
                f"Encoder {self.name!r} decodes latents of shape (n, {self.latent_dim}). Received: shape={z.shape}"
            )
        out = np.empty((z.shape[0], self.input_size, self.input_size, 3), dtype=np.float32)
        for rows, n, batch in _fixed_batches(z, self._decode_rows(len(z))):
            out[rows] = np.asarray(self._decode_batch(batch))[:n]
        return out

    def _decode_rows(self, n: int) -> int:
        """Rows per decoder call when decoding ``n`` latents (as for encoding, unless a runtime says otherwise)."""
        return self._batch_rows(n)

    def _decode_batch(self, z: np.ndarray) -> np.ndarray:
        """Decode one batch of ``batch_size`` latents to frames; encoders with a decoder implement it."""
        raise self._no_decoder("decode latents")

    def score(self, frames: np.ndarray, *, posterior: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Per-frame anomaly score: the VAE's negative ELBO at the posterior mean, in nats.

        ``Σ_pixels (x - x̂)² / (2 · obs_var) + β · KL(q(z|x) ‖ N(0, I))`` with
        ``x̂ = decode(μ)``: the model's own training objective for the frame,
        evaluated deterministically at z = μ, without the constant
        ``½ · D · log(2π · obs_var)`` of the Gaussian likelihood (D pixels x
        channels). Higher means the frame is less like the training data.
        See :func:`featkit.generative.anomaly.negative_elbo`.

        Parameters
        ----------
        frames : ndarray of shape (n, input_size, input_size, 3), uint8
        posterior : (mu, logvar), optional
            The frames' posterior if already computed by :meth:`encode`
            (saves encoding twice).

        Returns
        -------
        ndarray of shape (n,), float64

        Raises
        ------
        EncoderError
            If the encoder has no decoder.

        """
        if not self.has_decoder:
            raise self._no_decoder("score frames (the anomaly statistic)")
        from featkit.generative.anomaly import negative_elbo

        mu, logvar = self.encode(frames) if posterior is None else posterior
        return negative_elbo(frames, self.decode(mu), mu, logvar, beta=self.beta, obs_var=self.obs_var)

    def _no_decoder(self, what: str) -> EncoderError:
        return EncoderError(
            f"Encoder {self.name!r} cannot {what}: it has no decoder. Use the default encoder or a .keras file "
            "holding a whole featkit VAE (encoder and decoder). Received: has_decoder=False"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} input={self.input_size}px latent={self.latent_dim}>"


def check_frames(encoder: Encoder, frames: Any) -> np.ndarray:
    """Return ``frames`` as an array, or raise EncoderError naming the expected and received shape."""
    frames = np.asarray(frames)
    size = encoder.input_size
    if frames.ndim != 4 or frames.shape[1:] != (size, size, 3) or frames.dtype != np.uint8:
        raise EncoderError(
            f"Encoder {encoder.name!r} expects uint8 frames of shape (n, {size}, {size}, 3). "
            f"Received: shape={frames.shape}, dtype={frames.dtype}"
        )
    return frames


def encode_in_batches(call: Any, frames: np.ndarray, batch_size: int, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Run ``call`` on batches of exactly ``batch_size`` frames (the last one zero-padded).

    Fixed-size batches make a frame's features independent of what else is in its batch.

    Parameters
    ----------
    call : callable
        Maps a (batch_size, S, S, 3) uint8 array to ``(mu, logvar)``, each (batch_size, d).
    frames : ndarray of shape (n, S, S, 3), uint8
    batch_size, latent_dim : int

    Returns
    -------
    mu, logvar : ndarray of shape (n, latent_dim), float32

    """
    mu = np.empty((frames.shape[0], latent_dim), dtype=np.float32)
    logvar = np.empty((frames.shape[0], latent_dim), dtype=np.float32)
    for rows, n, batch in _fixed_batches(frames, batch_size):
        m, v = call(batch)
        mu[rows] = np.asarray(m)[:n]
        logvar[rows] = np.asarray(v)[:n]
    return mu, logvar


def _fixed_batches(x: np.ndarray, batch_size: int) -> Iterator[tuple[slice, int, np.ndarray]]:
    """Yield ``(rows, n, batch)``: ``x`` in batches of exactly ``batch_size`` rows, the last one zero-padded.

    ``rows`` are the batch's rows in ``x`` and ``n`` how many are real. One buffer is reused, so a
    caller copies what it keeps before asking for the next batch.
    """
    padded = np.zeros((batch_size, *x.shape[1:]), dtype=x.dtype)
    for lo in range(0, x.shape[0], batch_size):
        chunk = x[lo : lo + batch_size]
        padded[: len(chunk)] = chunk
        padded[len(chunk) :] = 0
        yield slice(lo, lo + len(chunk)), len(chunk), padded
