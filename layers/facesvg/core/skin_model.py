"""Skin, hair and background told apart by colour, each a Gaussian in CIELAB fitted to seed pixels.

Skin is seeded from pixels the mesh says are skin; the background from the crop's border (outside
where the head may be); hair from pixels round the top of the face that are clearly not skin. Each
pixel goes to the likeliest model (log-likelihood with the covariance's size, so a tight skin
model does not lose to a loose background one by spread alone); a pixel far from every model is not
skin. ``classify`` returns per-pixel margins whose sign is the answer, so the caller can interpolate
them to a finer grid and keep smooth edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import cv2
import numpy as np

MIN_SEEDS = 30  # fewer seed pixels than this: no model of that kind
TRIM = 0.9  # the skin model is refitted on the seeds it explains best (highlights, shadows out)
MAX_SKIN_D2 = 16.3  # chi-square, 3 degrees of freedom, 99.9 %: beyond this a pixel is not skin
NOISE = 4.0  # added to each variance (Lab units²): 8-bit quantisation and JPEG noise
HAIR_BAND = 0.9  # hair is sought this far (inter-eye distances) round the top of the allowed area
CLEAR_D2 = 25.0  # hair seeds are at least this far from the skin model
LOOSE = 4.0  # x MAX_SKIN_D2: how far a loose margin lets a colour be from the skin seeds
MIXTURE_PARTS = 3  # background and hair: a few colours each
KMEANS_ROUNDS = 8
MAX_SAMPLES = 2000  # a mixture is fitted on at most about this many pixels


@dataclass(frozen=True)
class Gaussian:
    mean: np.ndarray  # (3,)
    inv: np.ndarray  # (3, 3)
    log_det: float

    def d2(self, lab: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of ``(..., 3)`` pixels, one channel plane at a time (a sum
        over a last axis of 3 is several times slower in numpy)."""
        d = [lab[..., i] - np.float32(self.mean[i]) for i in range(3)]
        m = self.inv.astype(np.float32)

        def term(i: int, j: int) -> np.ndarray:  # m_ij d_i d_j, in place (fewer temporaries)
            t: np.ndarray = m[i, j] * d[i]
            t *= d[j]
            return t

        # m00 d0² + m11 d1² + m22 d2² + 2 (m01 d0 d1 + m02 d0 d2 + m12 d1 d2), summed in that order
        out, cross = term(0, 0), term(0, 1)
        out += term(1, 1)
        out += term(2, 2)
        cross += term(0, 2)
        cross += term(1, 2)
        cross *= 2
        out += cross
        return out

    def log_likelihood(self, d2: np.ndarray) -> np.ndarray:
        """From this model's ``d2`` of the pixels."""
        out: np.ndarray = -0.5 * (d2 + self.log_det)
        return out


def fit(samples: np.ndarray) -> Gaussian | None:
    if len(samples) < MIN_SEEDS:
        return None
    x = samples.astype(np.float64)
    mean = x.mean(axis=0)
    d = x - mean
    cov = d.T @ d / (len(x) - 1) + NOISE * np.eye(3)  # np.cov's result, without its overhead
    return Gaussian(mean, np.linalg.inv(cov), float(np.linalg.slogdet(cov)[1]))


@dataclass(frozen=True)
class Mixture:
    """Several Gaussians (a background of a wall and a shirt; hair with its highlights): a pixel's
    fit is its best component's."""

    parts: tuple[Gaussian, ...]

    def d2_and_log_likelihood(self, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d2s = [g.d2(lab) for g in self.parts]
        lls = [g.log_likelihood(d) for g, d in zip(self.parts, d2s, strict=True)]
        # pairwise minimum/maximum: the same as np.min/np.max over the stack, without stacking
        return reduce(np.minimum, d2s), reduce(np.maximum, lls)


def fit_mixture(samples: np.ndarray, k: int = MIXTURE_PARTS) -> Mixture | None:
    """k-means in Lab (deterministic: seeded on lightness quantiles), one Gaussian per cluster."""
    if len(samples) < MIN_SEEDS:
        return None
    samples = samples[:: max(1, len(samples) // MAX_SAMPLES)]  # a fixed stride: deterministic
    ranks = ((np.arange(k) + 0.5) / k * len(samples)).astype(int)
    centres = samples[_stable_ranks(samples[:, 0], ranks)].astype(np.float64)
    assign = np.zeros(len(samples), np.int64)
    previous = None
    # what the rounds read, made once: 2 s, and each channel as bincount's float64 weights
    twice, channels = 2.0 * samples, np.ascontiguousarray(samples.T, np.float64)
    for _ in range(KMEANS_ROUNDS):
        # |s - c|^2 = |s|^2 - 2 s.c + |c|^2, and |s|^2 does not change which c is nearest
        assign = _nearest((centres**2).sum(axis=1) - twice @ centres.T)
        if previous is not None and np.array_equal(assign, previous):
            break  # converged: the centres are this assignment's already, later rounds change nothing
        previous = assign
        counts = np.bincount(assign, minlength=k)
        sums = np.array([np.bincount(assign, weights=c, minlength=k) for c in channels]).T  # (k, 3)
        centres = np.where((counts > 0)[:, None], sums / np.maximum(counts, 1)[:, None], centres)
    parts = tuple(g for j in range(k) if (g := fit(samples[assign == j])) is not None)
    return Mixture(parts) if parts else None


def _stable_ranks(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The indices ``np.argsort(values, kind="stable")`` puts at ``ranks`` (each rank's value from
    a partial sort; of equal values the earliest first), without sorting them all."""
    part = np.partition(values, ranks)
    out = np.empty(len(ranks), np.intp)
    for i, r in enumerate(ranks):
        out[i] = np.flatnonzero(values == part[r])[r - np.count_nonzero(values < part[r])]
    return out


def _nearest(dist: np.ndarray) -> np.ndarray:
    """``np.argmin(dist, axis=1)`` (the first of equal minima) for a few columns: a column at a
    time is several times faster than numpy's reduction over a short last axis."""
    best = dist[:, 0].copy()
    out = np.zeros(len(dist), np.intp)
    for j in range(1, dist.shape[1]):
        closer = dist[:, j] < best
        out[closer] = j
        np.minimum(best, dist[:, j], out=best)
    return out


def fit_trimmed(samples: np.ndarray) -> Gaussian | None:
    first = fit(samples)
    if first is None:
        return None
    d2 = first.d2(samples)
    # the TRIM share it explains best: d2 up to its k-th smallest (np.quantile's set, without its
    # overhead: most fits are of a few dozen samples)
    k = int(TRIM * (len(d2) - 1))
    return fit(samples[d2 <= np.partition(d2, k)[k]]) or first


@dataclass(frozen=True)
class Margins:
    """Per-pixel float32 margins, > 0 where the pixel is what the name says."""

    skin: np.ndarray  # skin rather than hair or background
    loose: np.ndarray  # the same, for colours further from the seeds (an ear is redder than a cheek)
    not_background: np.ndarray  # skin rather than background (a beard is skin in LaPa)
    hair: np.ndarray  # hair rather than skin or background
    unlike_background: np.ndarray  # far from every colour of the background (> 0)
    lab: np.ndarray  # the crop in CIELAB (float32), for the models fitted after these
    skin_loglik: np.ndarray  # the skin model's log-likelihood of each pixel
    background_loglik: np.ndarray  # the background model's (fitted on the crop's border)


def classify(
    bgr: np.ndarray, seed: np.ndarray, allowed: np.ndarray, hair_zone: np.ndarray, scale_px: float
) -> Margins:
    """The margins of each pixel of ``bgr``; ``hair_zone``: 0/1 where hair may be sought (above
    the brows, outside the face oval).

    ``seed``: 0/1 pixels known to be skin; ``allowed``: 0/1 where skin (and the head) may be;
    ``scale_px``: the inter-eye distance in this crop's pixels.
    """
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    skin = fit_trimmed(lab[seed > 0])
    shape = seed.shape
    if skin is None:
        nothing = np.full(shape, -1.0, np.float32)
        never = np.full(shape, -np.inf, np.float32)
        return Margins(nothing, nothing, nothing, nothing, nothing, lab, never, never)
    d2_skin = skin.d2(lab)
    ll_skin = skin.log_likelihood(d2_skin)
    band = max(1, round(HAIR_BAND * scale_px))
    near = cv2.dilate(allowed, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    border = np.ones(shape, np.uint8)
    border[1:-1, 1:-1] = 0
    background = fit_mixture(lab[(border > 0) & (near == 0)]) or fit_mixture(lab[border > 0])
    # Hair: round the upper part of the head, clearly not skin and unlike the background.
    ring = (near > 0) & (hair_zone > 0) & (d2_skin > CLEAR_D2)
    none = np.full(shape, -np.inf, np.float32)
    d2_bg, ll_bg = background.d2_and_log_likelihood(lab) if background is not None else (None, none)
    if d2_bg is not None:
        ring &= d2_bg > CLEAR_D2
    hair = fit_mixture(lab[ring])
    d2_hair, ll_hair = hair.d2_and_log_likelihood(lab) if hair is not None else (None, none)
    over_others = ll_skin - np.maximum(ll_bg, ll_hair)
    margin = np.minimum(over_others, 0.5 * (MAX_SKIN_D2 - d2_skin))
    if d2_hair is None:
        hair_margin = np.full(shape, -1.0, np.float32)
    else:
        hair_margin = np.minimum(ll_hair - np.maximum(ll_bg, ll_skin), 0.5 * (2 * MAX_SKIN_D2 - d2_hair))
        hair_margin = np.where(near > 0, hair_margin, -1.0)
    loose = np.minimum(over_others, 0.5 * (LOOSE * MAX_SKIN_D2 - d2_skin))
    not_bg = np.minimum(ll_skin - ll_bg, 0.5 * (LOOSE * MAX_SKIN_D2 - d2_skin))
    unlike_bg = 0.5 * (d2_bg - CLEAR_D2) if d2_bg is not None else np.full(shape, 50.0, np.float32)
    skin_m, loose_m, not_bg_m, hair_m, unlike_m = (
        np.clip(m, -50, 50).astype(np.float32, copy=False)
        for m in (margin, loose, not_bg, hair_margin, unlike_bg)
    )
    return Margins(skin_m, loose_m, not_bg_m, hair_m, unlike_m, lab, ll_skin, ll_bg)
