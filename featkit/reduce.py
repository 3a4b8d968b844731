"""Encode one video's frames window by window and reduce each clip to its statistics (the core reducer).

Runs wherever the encoder is: in the main process for :class:`~featkit.executors.LocalExecutor`,
in a Dask worker for :class:`~featkit.distributed.DaskExecutor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featkit.exceptions import EncoderError, VideoDecodeError
from featkit.io.sampling import ClipPlan
from featkit.motion import step_motion
from featkit.polarity import frame_polarity, polarity_frames
from featkit.quality import frame_quality
from featkit.residual import flat_residual
from featkit.stats import (
    DECODED_MEASURES,
    DECODED_STATISTICS,
    SCORE_STATISTICS,
    clip_statistics,
    feature_names,
    needs_decoded,
    needs_motion,
    needs_quality,
    needs_scores,
)
from featkit.store import VideoResult

__all__ = ["ClipReducer", "check_scoring", "encode_frames", "encode_video", "measure_decoded", "stats_for_encoder"]


def stats_for_encoder(encoder: Any, stats: Sequence[str]) -> tuple[str, ...]:
    """``stats`` less the statistics that need a decoder, if they are :data:`featkit.DEFAULT_STATS` and it has none.

    The default set's statistics that need a decoder are dropped for encoders
    without one (SavedModels, TF Hub modules, encoder-only ``.keras`` files), so
    that ``featkit extract --encoder ...`` with no ``--stats`` keeps working; asked
    for by name, it still needs a decoder (:func:`check_scoring`).
    """
    from featkit.config import DEFAULT_STATS

    stats = tuple(stats)
    if stats == DEFAULT_STATS and not getattr(encoder, "has_decoder", False):
        return tuple(s for s in stats if s not in DECODED_STATISTICS)
    return stats


def check_scoring(encoder: Any, stats: Sequence[str]) -> None:
    """Raise EncoderError before any work when ``stats`` needs scores the encoder cannot give."""
    if (needs_scores(stats) or needs_decoded(stats)) and not getattr(encoder, "has_decoder", False):
        wanted = [s for s in stats if s in SCORE_STATISTICS or s in DECODED_STATISTICS]
        raise EncoderError(
            f"The statistics {wanted} need an encoder with a decoder (to score frames), and encoder "
            f"{getattr(encoder, 'name', encoder)!r} has none. Use the default encoder or a .keras file holding "
            "a whole featkit VAE, or drop them from the statistics."
        )


def measure_decoded(
    encoder: Any, frames: np.ndarray, mu: np.ndarray, logvar: np.ndarray, stats: Sequence[str]
) -> np.ndarray:
    """The decoder pass of some frames: their :data:`~featkit.stats.DECODED_MEASURES` (NaN where ``stats`` lacks one).

    One decoder call serves both measurements: polarity needs the frames' reconstruction anyway, and the
    residual is measured on it; with ``residual`` alone, only the frames are decoded.

    Returns
    -------
    ndarray of shape (n, 2), float64
        Columns ``polarity`` (:func:`featkit.polarity.frame_polarity`) and ``residual``
        (:func:`featkit.residual.flat_residual`).

    """
    out = np.full((len(frames), len(DECODED_MEASURES)), np.nan)
    if "polarity" in stats:
        out[:, 0], recon = frame_polarity(encoder, frames, mu, logvar, return_reconstruction=True)
    elif "residual" in stats:
        recon = encoder.decode(mu)
    else:
        return out
    if "residual" in stats:
        out[:, 1] = flat_residual(frames, recon)
    return out


def encode_frames(
    encoder: Any, frames: np.ndarray, stats: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Encode a video's frames and, when the statistics need them, score them.

    This is the one call extraction makes per video; the posterior is the
    same whether or not scores are asked for (scoring reuses it).

    Parameters
    ----------
    encoder : featkit.encoders.Encoder
    frames : ndarray of shape (n, S, S, 3), uint8
    stats : sequence of str
        The statistics to be computed (see :data:`featkit.stats.STATISTICS`).

    Returns
    -------
    mu, logvar : ndarray of shape (n, d), float32
    scores : ndarray of shape (n,), float64, or None
        Per-frame negative ELBO when a statistic of
        :data:`featkit.stats.SCORE_STATISTICS` is in ``stats``.

    Raises
    ------
    EncoderError
        If scores are needed and the encoder has no decoder.

    """
    check_scoring(encoder, stats)
    mu, logvar = encoder.encode(frames)
    scores = encoder.score(frames, posterior=(mu, logvar)) if needs_scores(stats) else None
    return mu, logvar, scores


def encode_video(decoded: Any, encoder: Any, stats: tuple[str, ...]) -> VideoResult:
    """Run the encoder on a decoded video and reduce each clip to its statistics."""
    reducer = ClipReducer(decoded.video, decoded.plan, decoded.starts, decoded.end, encoder, stats)
    reducer.add(decoded.frame_ids, decoded.frames)
    return reducer.result()


class ClipReducer:
    """Encode one video's frames as windows arrive and reduce each clip as soon as its frames are in.

    Latents are kept only for frames a clip still to be reduced uses, so
    memory stays that of a window however long the video.

    Parameters
    ----------
    video : dict
        The video's row of the videos table.
    plan : ClipPlan
        Its clips.
    starts : ndarray of shape (n_frames,)
        Frame start times.
    end : float
        End of the last frame.
    encoder : Encoder
        Gives ``encode(frames) -> (mu, logvar)``.
    stats : tuple of str
        Statistics per clip.
    per_frame : bool, default=False
        Also keep μ and log σ² of every sampled frame (``VideoResult.frames``).

    """

    def __init__(
        self,
        video: dict[str, Any],
        plan: ClipPlan,
        starts: np.ndarray,
        end: float,
        encoder: Any,
        stats: Sequence[str],
        *,
        per_frame: bool = False,
    ) -> None:
        self.video, self.plan, self.encoder, self.stats = video, plan, encoder, tuple(stats)
        self._starts = np.asarray(starts, dtype=np.float64)  # frame times, for the time-signed statistics
        self._frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = [] if per_frame else None
        n = plan.n_clips
        first = plan.frame_indices[plan.clip_starts] if n else np.zeros(0, dtype=np.int64)
        last = plan.frame_indices[plan.clip_starts + plan.clip_lengths - 1] if n else np.zeros(0, dtype=np.int64)
        after = last + 1
        self.clips = {
            "start_frame": first.astype(np.int64),
            "end_frame": last.astype(np.int64),
            "start_time": np.asarray(starts, dtype=np.float64)[first],
            # A clip ends when its last frame leaves the screen.
            "end_time": np.where(
                after < len(starts), np.asarray(starts, dtype=np.float64)[np.minimum(after, len(starts) - 1)], end
            ),
            "n_frames": plan.clip_lengths.astype(np.int64),
        }
        self._first, self._last = first, last
        self._rows: list[np.ndarray] = []
        self._ids = np.zeros(0, dtype=np.int64)
        self._mu: np.ndarray | None = None
        self._logvar: np.ndarray | None = None
        self._scores: np.ndarray | None = None  # per-frame scores, only for statistics that need them
        # Per-frame quality (only for `quality`) and camera steps (only for `motion`); both measure each frame
        # against the one before it, so they keep the window's last frame.
        self._needs_quality = needs_quality(self.stats)
        self._quality: np.ndarray | None = None
        self._motion = needs_motion(self.stats)
        self._steps: np.ndarray | None = None
        # The decoder's measurements (only for `polarity` and `residual`) are taken on one frame per clip: those
        # frames' ids, sorted.
        self._decoded_ids = (
            np.unique([polarity_frames(plan.frame_indices[plan.clip_samples(c)]) for c in range(n)]).astype(np.int64)
            if needs_decoded(self.stats) and n
            else None
        )
        self._decoded: np.ndarray | None = None
        self._previous_frame: np.ndarray | None = None

    @property
    def n_done(self) -> int:
        """Clips reduced so far."""
        return len(self._rows)

    @property
    def n_cached(self) -> int:
        """Frames whose latents are held (those of clips not yet reduced)."""
        return len(self._ids)

    def add(self, frame_ids: np.ndarray, frames: np.ndarray) -> None:
        """Encode a window of frames (ids increasing, after those of earlier windows) and reduce finished clips."""
        if len(frame_ids) == 0:
            return
        frame_ids = np.asarray(frame_ids, dtype=np.int64)
        mu, logvar, scores = encode_frames(self.encoder, frames, self.stats)
        quality = frame_quality(frames, self._previous_frame) if self._needs_quality else None
        steps = step_motion(frames, self._previous_frame) if self._motion else None
        decoded = self._measure_decoded(frame_ids, frames, mu, logvar)
        if self._needs_quality or self._motion:
            self._previous_frame = np.array(frames[-1])
        if self._frames is not None:
            self._frames.append((frame_ids, mu, logvar))
        if self._mu is None:
            self._ids, self._mu, self._logvar, self._scores = frame_ids, mu, logvar, scores
            self._quality, self._steps, self._decoded = quality, steps, decoded
        else:
            self._ids = np.concatenate([self._ids, frame_ids])
            self._mu = np.concatenate([self._mu, mu])
            self._logvar = np.concatenate([self._logvar, logvar])
            self._scores = None if scores is None else np.concatenate([self._scores, scores])
            self._quality = None if quality is None else np.concatenate([self._quality, quality])
            self._steps = None if steps is None else np.concatenate([self._steps, steps])
            self._decoded = None if decoded is None else np.concatenate([self._decoded, decoded])
        newest = int(frame_ids[-1])
        plan = self.plan
        while self.n_done < plan.n_clips and self._last[self.n_done] <= newest:
            fids = plan.frame_indices[plan.clip_samples(self.n_done)]
            pos = np.searchsorted(self._ids, fids)
            scores = None if self._scores is None else self._scores[pos]
            quality = None if self._quality is None else self._quality[pos]
            steps = None if self._steps is None else self._steps[pos]
            decoded = None if self._decoded is None else self._decoded[pos]
            # Microseconds: decoders report the same timestamp with different float rounding (decord and
            # PyAV differed by 1e-9 s), which would otherwise reach the slope's last bits.
            times = np.round(self._starts[fids], 6)
            self._rows.append(
                clip_statistics(
                    self._mu[pos],
                    self._logvar[pos],
                    self.stats,
                    scores,
                    times=times,
                    steps=steps,
                    quality=quality,
                    decoded=decoded,
                )
            )
        self._forget_reduced()

    def _measure_decoded(
        self, frame_ids: np.ndarray, frames: np.ndarray, mu: np.ndarray, logvar: np.ndarray
    ) -> np.ndarray | None:
        """:data:`DECODED_MEASURES` of the window's frames a clip measures them on, NaN elsewhere (None: not needed)."""
        if self._decoded_ids is None:
            return None
        out = np.full((len(frame_ids), len(DECODED_MEASURES)), np.nan)
        hit = np.isin(frame_ids, self._decoded_ids)
        if hit.any():
            out[hit] = measure_decoded(self.encoder, frames[hit], mu[hit], logvar[hit], self.stats)
        return out

    def _forget_reduced(self) -> None:
        """Drop the latents and per-frame measurements no clip still to be reduced uses."""
        if self.n_done < self.plan.n_clips:
            first = self._first[self.n_done]
            keep = self._ids >= first
        else:
            keep = np.zeros(len(self._ids), bool)
        self._ids, self._mu, self._logvar = self._ids[keep], self._mu[keep], self._logvar[keep]
        if self._scores is not None:
            self._scores = self._scores[keep]
        if self._quality is not None:
            self._quality = self._quality[keep]
        if self._steps is not None:
            self._steps = self._steps[keep]
        if self._decoded is not None:
            self._decoded = self._decoded[keep]

    def result(self) -> VideoResult:
        """The finished video.

        Raises
        ------
        VideoDecodeError
            If frames some clip needs never arrived.

        """
        if self.n_done != self.plan.n_clips:
            raise VideoDecodeError(
                self.video["path"],
                f"only {self.n_done} of {self.plan.n_clips} clips got all their frames from the decoder",
            )
        width = len(feature_names(self.stats, self.encoder.latent_dim))
        features = np.stack(self._rows) if self._rows else np.zeros((0, width), dtype=np.float32)
        return VideoResult(video=self.video, clips=dict(self.clips), features=features, frames=self._frame_latents())

    def _frame_latents(self) -> dict[str, np.ndarray] | None:
        """Every sampled frame once, in order: its index, start time, μ and log σ² (``per_frame`` only)."""
        if self._frames is None:
            return None
        d = self.encoder.latent_dim
        ids = np.concatenate([f[0] for f in self._frames]) if self._frames else np.zeros(0, dtype=np.int64)
        mu = np.concatenate([f[1] for f in self._frames]) if self._frames else np.zeros((0, d), dtype=np.float32)
        logvar = np.concatenate([f[2] for f in self._frames]) if self._frames else np.zeros((0, d), dtype=np.float32)
        return {
            "frame_index": ids,
            "time": self._starts[ids] if len(ids) else np.zeros(0),
            "mu": mu.astype(np.float32),
            "logvar": logvar.astype(np.float32),
        }
