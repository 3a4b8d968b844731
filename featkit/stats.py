"""Per-clip statistics of the encoder's posterior, and their column names (numpy only).

For a clip of T frames the encoder gives the posterior mean ``mu`` and log
variance ``logvar``, both of shape (T, d). Each statistic reduces them over
time to a vector of length d; the feature row of a clip is the concatenation
of the chosen statistics, named ``<stat>_<j>`` (``mu_mean_00`` …).

The statistics of :data:`TIME_STATISTICS` (``mu_slope``, ``mu_delta``) are
*signed in time*: they change sign when the clip is played backwards, so they
carry motion direction (pan left vs right, zoom in vs out) that the
time-symmetric ones (mean, std, mean absolute change) cannot. ``mu_slope``
needs the presentation time of each frame. ``motion`` goes further: four
columns of camera motion (pan x, pan y, zoom, rotation per second), the
median of the similarity motions fitted to each pair of consecutive frames
(:mod:`featkit.motion`), so their meaning does not depend on the picture.
``motion_speed`` is the size of that motion, unsigned, so a camera turning
either way is told from a still one.

``quality`` (:mod:`featkit.quality`) describes the signal rather than the
picture: nine columns of detail, fine-to-coarse detail, block-grid steps, posterior size, the
whiteness of frame changes and the shape of μ's path, each a ratio or a log,
which :class:`featkit.ClipAnomalyDetector` scores by default.

``polarity`` (:mod:`featkit.polarity`) is one column: how much better the VAE
explains the clip's middle frame than that frame's photographic negative, a log
ratio of negative ELBOs that inverted colours flip. ``residual``
(:mod:`featkit.residual`) is one column too: how much of the VAE's error on that
frame falls where the frame is flat, which occlusions and noise raise. Both
come from one decoder pass (:data:`DECODED_STATISTICS`) and need an encoder with
a decoder (the default has one).

A statistic of :data:`SCORE_STATISTICS` (``anomaly``) instead reduces per-frame
scores from :meth:`featkit.encoders.Encoder.score` to one column with its own
name (``anomaly_nelbo``); it needs an encoder with a decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from featkit.motion import MOTION_COLUMNS, SPEED_COLUMNS, clip_motion, clip_speed
from featkit.polarity import POLARITY_COLUMN
from featkit.posterior import LOGVAR_RANGE, posterior_sigma
from featkit.quality import FRAME_QUALITY, QUALITY_COLUMNS, clip_quality
from featkit.residual import RESIDUAL_COLUMN

__all__ = [
    "DECODED_MEASURES",
    "DECODED_STATISTICS",
    "DEFINITION_VERSIONS",
    "FIXED_COLUMNS",
    "LOGVAR_RANGE",
    "MOTION_STATISTICS",
    "QUALITY_STATISTICS",
    "SCORE_STATISTICS",
    "STATISTICS",
    "TIME_STATISTICS",
    "clip_statistics",
    "definition_versions",
    "feature_names",
    "needs_decoded",
    "needs_motion",
    "needs_quality",
    "needs_scores",
]


def _absdiff(mu: np.ndarray) -> np.ndarray:
    if mu.shape[0] < 2:
        return np.zeros(mu.shape[1], dtype=np.float64)
    return np.abs(np.diff(mu, axis=0)).mean(axis=0)


def _slope(mu: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Least-squares slope of each latent against time, per second; 0 where time does not vary."""
    dt = times - times.mean()
    denom = float(dt @ dt)
    # One frame, or every frame stamped alike (a still repeated by sampling): no trend to measure.
    if mu.shape[0] < 2 or denom <= 1e-12:
        return np.zeros(mu.shape[1], dtype=np.float64)
    return (dt @ (mu - mu.mean(axis=0))) / denom


def _delta(mu: np.ndarray) -> np.ndarray:
    """Mean of the clip's second half minus its first half (the middle frame of an odd clip is in neither)."""
    half = mu.shape[0] // 2
    if half == 0:
        return np.zeros(mu.shape[1], dtype=np.float64)
    return mu[-half:].mean(axis=0) - mu[:half].mean(axis=0)


_Optional = np.ndarray | None
_Reduce = Callable[[np.ndarray, np.ndarray, _Optional, _Optional, _Optional, _Optional, _Optional], np.ndarray]


#: Per-frame measurements of the decoder pass, the columns of ``decoded=`` of :func:`clip_statistics`.
DECODED_MEASURES: tuple[str, ...] = ("polarity", "residual")


def _decoded(d: np.ndarray, measure: str) -> np.ndarray:
    """Mean of one decoded measurement over the frames where it was measured (the reducer measures one per clip)."""
    values = d[:, DECODED_MEASURES.index(measure)]
    measured = values[np.isfinite(values)]
    return np.array([measured.mean() if len(measured) else np.nan])


#: name -> (description, function of (mu, logvar, scores, times, steps, quality, decoded) in float64 returning
#: shape (d,), or the width of :data:`FIXED_COLUMNS` for those statistics; ``scores`` / ``times`` / ``steps`` /
#: ``quality`` / ``decoded`` are None unless a statistic needing them is asked for).
STATISTICS: dict[str, tuple[str, _Reduce]] = {
    "mu_mean": ("mean of the posterior mean over the clip", lambda mu, lv, sc, t, m, q, p: mu.mean(axis=0)),
    "mu_std": ("standard deviation of the posterior mean over the clip", lambda mu, lv, sc, t, m, q, p: mu.std(axis=0)),
    "sigma_mean": (
        "mean posterior standard deviation (encoder uncertainty)",
        lambda mu, lv, sc, t, m, q, p: posterior_sigma(lv).mean(axis=0),
    ),
    "mu_absdiff": (
        "mean absolute frame-to-frame change of the posterior mean (latent motion)",
        lambda mu, lv, sc, t, m, q, p: _absdiff(mu),
    ),
    "mu_slope": (
        "least-squares slope of the posterior mean against the frames' presentation times, per second "
        "(signed: negated when the clip runs backwards; 0 for a 1-frame clip)",
        lambda mu, lv, sc, t, m, q, p: _slope(mu, t),
    ),
    "mu_delta": (
        "net change of the posterior mean over the clip: mean of its second half minus its first half "
        "(signed: negated when the clip runs backwards; 0 for a 1-frame clip)",
        lambda mu, lv, sc, t, m, q, p: _delta(mu),
    ),
    "motion": (
        "camera motion fitted to the pixels (featkit.motion: median over the clip's steps of the similarity "
        "motion between consecutive frames): content velocity x and y in px/s of a 64-px frame, zoom in "
        "log-scale/s, rotation in rad/s clockwise (signed; 0 for a 1-frame clip)",
        lambda mu, lv, sc, t, m, q, p: clip_motion(m, t),
    ),
    "motion_speed": (
        "size of the camera motion along the same four moves, |motion|, same units (unsigned: unchanged when "
        "the clip runs backwards; 0 for a 1-frame clip)",
        lambda mu, lv, sc, t, m, q, p: clip_speed(m, t),
    ),
    "quality": (
        "signal quality, free of the scene (featkit.quality): log detail, log block-grid gradient ratio, log KL "
        "of the posterior, log whiteness of frame changes and log fine-to-coarse detail ratio, averaged over the "
        "frames; log kurtosis and log "
        "peak-to-median of the latent path's step lengths, its share of still steps, and the log of its length per "
        "second (latent units/s)",
        lambda mu, lv, sc, t, m, q, p: clip_quality(q, mu, t),
    ),
    "polarity": (
        "polarity: log of the VAE's negative ELBO for the photographic negative (255 - x) of the clip's middle "
        "frame over that for the frame itself (featkit.polarity): positive when the model explains the picture "
        "better the right way round, negated by inverted colours; unitless (a log ratio); needs an encoder with "
        "a decoder",
        lambda mu, lv, sc, t, m, q, p: _decoded(p, "polarity"),
    ),
    "residual": (
        "residual: log of the mean squared reconstruction error of the clip's middle frame over its flattest "
        "quarter (4-px tiles of lowest grey variance) over that of the whole frame (featkit.residual): negative "
        "when the VAE's error sits in the detail, as in natural frames, raised by occluding patches and noise; "
        "unitless (a log ratio, at most log 4); needs an encoder with a decoder",
        lambda mu, lv, sc, t, m, q, p: _decoded(p, "residual"),
    ),
    "logvar_mean": (
        "mean posterior log variance over the clip",
        lambda mu, lv, sc, t, m, q, p: np.clip(lv, *LOGVAR_RANGE).mean(axis=0),
    ),
    "anomaly": (
        "anomaly score: mean over the clip's frames of the VAE's negative ELBO per frame, in nats "
        "(see featkit.encoders.Encoder.score; needs an encoder with a decoder)",
        lambda mu, lv, sc, t, m, q, p: np.array([sc.mean()]),
    ),
}

#: Statistics whose definition changed since feature files first held them: name -> version (the others are
#: version 1). A file records the versions of its statistics, so resuming it never mixes two definitions in
#: one column. motion 2: the median of the steps' velocities (1 was one least-squares fit of all steps);
#: motion 3 and motion_speed 2: fitted to the pixels (before, to the latent path through the encoder's
#: response to probing moves), motion_speed the size of motion (1 was the mean absolute step velocity);
#: quality 2: 9 columns, ``quality_scale`` added (1 had 8); quality 3: 8 columns, ``quality_kl`` dropped.
DEFINITION_VERSIONS: dict[str, int] = {"motion": 3, "motion_speed": 2, "quality": 3}

#: Statistics that need each frame's presentation time (``times=`` of :func:`clip_statistics`).
TIME_STATISTICS: frozenset[str] = frozenset({"mu_slope", "motion", "motion_speed", "quality"})
#: Statistics that need the camera motion of each step (``steps=`` of :func:`clip_statistics`).
MOTION_STATISTICS: frozenset[str] = frozenset({"motion", "motion_speed"})
#: Statistics that need per-frame quality measurements (``quality=`` of :func:`clip_statistics`).
QUALITY_STATISTICS: frozenset[str] = frozenset({"quality"})
#: Statistics that need the decoder pass of :data:`DECODED_MEASURES` (``decoded=``; NaN where unmeasured).
DECODED_STATISTICS: frozenset[str] = frozenset(DECODED_MEASURES)

#: Statistics of per-frame scores rather than of the posterior: name -> its single column's name.
SCORE_STATISTICS: dict[str, str] = {"anomaly": "anomaly_nelbo"}
#: Statistics whose columns are not one per latent: name -> their column names.
FIXED_COLUMNS: dict[str, tuple[str, ...]] = {
    **{name: (column,) for name, column in SCORE_STATISTICS.items()},
    "motion": MOTION_COLUMNS,
    "motion_speed": SPEED_COLUMNS,
    "quality": QUALITY_COLUMNS,
    "polarity": (POLARITY_COLUMN,),
    "residual": (RESIDUAL_COLUMN,),
}


def definition_versions(stats: Sequence[str]) -> dict[str, int]:
    """The :data:`DEFINITION_VERSIONS` of those of ``stats`` past version 1 (what a feature file records)."""
    return {s: DEFINITION_VERSIONS[s] for s in stats if s in DEFINITION_VERSIONS}


def needs_scores(stats: Sequence[str]) -> bool:
    """Whether any of ``stats`` needs per-frame scores from :meth:`featkit.encoders.Encoder.score`."""
    return any(s in SCORE_STATISTICS for s in stats)


def needs_motion(stats: Sequence[str]) -> bool:
    """Whether any of ``stats`` needs :func:`featkit.motion.step_motion` of the frames."""
    return any(s in MOTION_STATISTICS for s in stats)


def needs_quality(stats: Sequence[str]) -> bool:
    """Whether any of ``stats`` needs :func:`featkit.quality.frame_quality` of the frames."""
    return any(s in QUALITY_STATISTICS for s in stats)


def needs_decoded(stats: Sequence[str]) -> bool:
    """Whether any of ``stats`` needs the decoder pass of :data:`DECODED_MEASURES` (and so a decoder)."""
    return any(s in DECODED_STATISTICS for s in stats)


def feature_names(stats: Sequence[str], latent_dim: int) -> list[str]:
    """Name every feature column.

    Parameters
    ----------
    stats : sequence of str
        Statistic names, in column order.
    latent_dim : int
        Size d of the latent space.

    Returns
    -------
    list of str
        ``latent_dim`` names such as ``"mu_mean_07"`` per statistic, and those of
        :data:`FIXED_COLUMNS` (``"anomaly_nelbo"``, ``"motion_x"`` …) for the others.

    """
    width = max(2, len(str(latent_dim - 1)))
    names: list[str] = []
    for s in stats:
        if s in FIXED_COLUMNS:
            names.extend(FIXED_COLUMNS[s])
        else:
            names.extend(f"{s}_{j:0{width}d}" for j in range(latent_dim))
    return names


def clip_statistics(
    mu: np.ndarray,
    logvar: np.ndarray,
    stats: Sequence[str],
    scores: np.ndarray | None = None,
    times: np.ndarray | None = None,
    steps: np.ndarray | None = None,
    quality: np.ndarray | None = None,
    decoded: np.ndarray | None = None,
) -> np.ndarray:
    """Reduce one clip's posterior to a feature row.

    Parameters
    ----------
    mu, logvar : ndarray of shape (T, d)
        Posterior mean and log variance of the clip's T frames (T >= 1).
    stats : sequence of str
        Names from :data:`STATISTICS`, in column order.
    scores : ndarray of shape (T,), optional
        Per-frame scores of the clip (:meth:`featkit.encoders.Encoder.score`);
        required when ``stats`` holds a statistic of :data:`SCORE_STATISTICS`.
    times : ndarray of shape (T,), optional
        Presentation time of each frame in seconds (a frame sampled twice
        appears twice with the same time); required when ``stats`` holds a
        statistic of :data:`TIME_STATISTICS`.
    steps : ndarray of shape (T, 4), optional
        :func:`featkit.motion.step_motion` of the frames (row 0, the step
        into the clip, is not used); required when ``stats`` holds a
        statistic of :data:`MOTION_STATISTICS`.
    quality : ndarray of shape (T, 4), optional
        :func:`featkit.quality.frame_quality` of the frames; required when
        ``stats`` holds a statistic of :data:`QUALITY_STATISTICS`.
    decoded : ndarray of shape (T, 2), optional
        Columns of :data:`DECODED_MEASURES`: :func:`featkit.polarity.frame_polarity`
        and :func:`featkit.residual.flat_residual` of the frames, NaN where not
        measured; required when ``stats`` holds a statistic of
        :data:`DECODED_STATISTICS`.

    Returns
    -------
    ndarray of shape (len(feature_names(stats, d)),), float32
        Computed in float64, so the result does not depend on summation order
        at float32 precision.

    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape or mu.shape[0] < 1:
        raise ValueError(
            "mu and logvar must have the same shape (T, d) with T >= 1. "
            f"Received: mu.shape={mu.shape}, logvar.shape={logvar.shape}"
        )
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != mu.shape[:1]:
            raise ValueError(
                f"scores must have one value per frame, shape ({mu.shape[0]},). Received: scores.shape={scores.shape}"
            )
    elif needs_scores(stats):
        raise ValueError(
            f"The statistics {[s for s in stats if s in SCORE_STATISTICS]} need per-frame scores "
            "(Encoder.score); pass scores=... . Received: scores=None"
        )
    if times is not None:
        times = np.asarray(times, dtype=np.float64)
        if times.shape != mu.shape[:1] or not np.all(np.isfinite(times)):
            raise ValueError(
                f"times must hold one finite time per frame, shape ({mu.shape[0]},). "
                f"Received: times.shape={times.shape}"
            )
    elif any(s in TIME_STATISTICS for s in stats):
        raise ValueError(
            f"The statistics {[s for s in stats if s in TIME_STATISTICS]} need each frame's presentation time; "
            "pass times=... . Received: times=None"
        )
    if steps is not None:
        steps = np.asarray(steps, dtype=np.float64)
        if steps.shape != (mu.shape[0], len(MOTION_COLUMNS)):
            raise ValueError(
                f"steps must have shape (T, {len(MOTION_COLUMNS)}) = {(mu.shape[0], len(MOTION_COLUMNS))}. "
                f"Received: steps.shape={steps.shape}"
            )
    elif needs_motion(stats):
        raise ValueError(
            f"The statistics {[s for s in stats if s in MOTION_STATISTICS]} need the camera motion of each step "
            "(featkit.motion.step_motion); pass steps=... . Received: steps=None"
        )
    if quality is not None:
        quality = np.asarray(quality, dtype=np.float64)
        if quality.shape != (mu.shape[0], len(FRAME_QUALITY)):
            raise ValueError(
                f"quality must have shape (T, {len(FRAME_QUALITY)}) = {(mu.shape[0], len(FRAME_QUALITY))}. "
                f"Received: quality.shape={quality.shape}"
            )
    elif needs_quality(stats):
        raise ValueError(
            f"The statistics {[s for s in stats if s in QUALITY_STATISTICS]} need per-frame quality measurements "
            "(featkit.quality.frame_quality); pass quality=... . Received: quality=None"
        )
    if decoded is not None:
        decoded = np.asarray(decoded, dtype=np.float64)
        want = (mu.shape[0], len(DECODED_MEASURES))
        if decoded.shape != want:
            raise ValueError(
                f"decoded must have one row of {DECODED_MEASURES} (or NaN) per frame, shape {want}. "
                f"Received: decoded.shape={decoded.shape}"
            )
    elif needs_decoded(stats):
        raise ValueError(
            f"The statistics {[s for s in stats if s in DECODED_STATISTICS]} need each frame's decoded measurements "
            f"{DECODED_MEASURES} (NaN where unmeasured); pass decoded=... . Received: decoded=None"
        )
    rows = [STATISTICS[s][1](mu, logvar, scores, times, steps, quality, decoded) for s in stats]
    return np.concatenate(rows).astype(np.float32)
