"""The hair of the map-less labels (``derived_labels``): what grows from the scalp, seeded there.

``skin_model.classify`` seeks hair as what is neither skin nor like the crop's border. But when the
head fills the photo (a tight portrait crop) the border runs through the hair, the background model
explains the hair too, and no hair is found (or a patch of the wall is): the HAIR label was missing
on seven of the nine real faces, and with it the hair from the render's silhouette (the photo is
blanked outside it) and from its framing.

The scalp is a surer seed: above the face oval, inside the forehead's reach (stretched past any
hairline) and between the brows' outer ends (not past the head's side on a turned face), what the
skin model rejects is hair. The background is then the border's colours the hair does not explain,
and hair is labelled where the hair model explains a pixel better than skin and background, where
the colour is not skin's, joined to the scalp (hair is one piece with it). The seeds are the
scalp's colours the skin model rejects: of light hair only the best-lit strands, so the model also
takes their colours in shade (``hair_shade``), or the grey of white hair at the sides is lost.
Where the background has the hair's colour (black hair on a black backdrop; white hair on a light
grey wall) colour cannot part them: both are labelled hair near the head. The skin decision does
not use this model.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from facesvg.core.hair_shade import shaded
from facesvg.core.skin_model import (
    CLEAR_D2,
    HAIR_BAND,
    MAX_SKIN_D2,
    MIN_SEEDS,
    MIXTURE_PARTS,
    Margins,
    Mixture,
    fit_mixture,
)

SCALP_REACH = 4.0  # inter-eye distances above the brows' top the scalp band runs (clipped by the reach)


def scalp_band(brows: np.ndarray, up: np.ndarray, scale: float) -> np.ndarray:
    """A quad (photo px) above the brows' top, as wide as from one brow's outer end to the other's,
    in the face's own frame (``up``: the face's up, a unit vector; ``brows``: their points)."""
    across = np.array([-up[1], up[0]])
    ends = brows @ across
    lo, hi = float(ends.min()), float(ends.max())
    base = float((brows @ up).max())
    top = base + SCALP_REACH * scale
    return np.array(
        [lo * across + base * up, hi * across + base * up, hi * across + top * up, lo * across + top * up]
    )


class ScalpHair(NamedTuple):
    """Hair-rather-than-skin-or-background margins (> 0: hair) on ``classify``'s crop."""

    label: np.ndarray  # the scalp's colours and the same in shade: the HAIR label's
    lit: np.ndarray  # the lit colours alone: what ``hanging`` judges the face's side by


def margin(m: Margins, allowed: np.ndarray, scalp: np.ndarray, scale_px: float) -> ScalpHair | None:
    """Hair rather than skin or background (> 0) on ``classify``'s crop, or None without enough
    scalp to model: the hair label's (the scalp's colours and the same in shade, ``hair_shade``)
    and the lit colours' alone (what ``hanging`` judges the face's side by: the skin decision keeps
    its own, stricter rule). ``allowed``: 0/1 where the head may be; ``scalp``: 0/1 the scalp band
    within the forehead's reach; ``scale_px``: the inter-eye distance in the crop's pixels.

    Decided at half the crop's resolution (hair needs no finer edge; a quarter of the work)."""
    h, w = allowed.shape
    half = (max(2, w // 2), max(2, h // 2))
    lab = cv2.resize(m.lab, half, interpolation=cv2.INTER_AREA)
    skin, ll_skin, ll_bg = (
        cv2.resize(a, half, interpolation=cv2.INTER_AREA)
        for a in (m.skin, m.skin_loglik, m.background_loglik)
    )
    allowed, scalp = (cv2.resize(a, half, interpolation=cv2.INTER_NEAREST) for a in (allowed, scalp))
    seeds = (scalp > 0) & (skin < 0)
    # as many colours as the seeds can model (a short crop of scalp at half resolution is few pixels)
    parts = int(np.clip(np.count_nonzero(seeds) // MIN_SEEDS, 1, MIXTURE_PARTS))
    lit = fit_mixture(lab[seeds], parts)
    if lit is None:
        return None
    known, masks, s = (skin, ll_skin, ll_bg), (allowed, seeds), scale_px * half[0] / w
    both = _margin(lab, known, masks, s, lit)
    label, lit_only = (cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR) for out in both)
    return ScalpHair(label, lit_only)


def _margin(
    lab: np.ndarray,
    known: tuple[np.ndarray, np.ndarray, np.ndarray],
    masks: tuple[np.ndarray, np.ndarray],
    scale_px: float,
    lit: Mixture,
) -> tuple[np.ndarray, np.ndarray]:
    """``margin`` on the reduced crop by the ``lit`` hair model with its shade and by it alone;
    ``known``: the skin margin and the skin's and the border background's log-likelihoods from
    ``classify``; ``masks``: where the head may be and the scalp's seeds."""
    skin, ll_skin, ll_bg = known
    allowed, seeds = masks
    band = max(1, round(HAIR_BAND * scale_px))
    near = cv2.dilate(allowed, np.ones((2 * band + 1, 2 * band + 1), np.uint8)) > 0
    never = np.where(near, -skin, -1.0)  # near the head, and never skin's colour
    border = np.ones(allowed.shape, bool)
    border[1:-1, 1:-1] = False
    d2_lit, ll_lit = lit.d2_and_log_likelihood(lab)
    d2_shade, ll_shade = shaded(lit).d2_and_log_likelihood(lab)
    unlike_lit = border & (d2_lit > CLEAR_D2)
    # The background is the border unlike the hair; near the head, unlike it in shade too (the
    # border runs through the hair's shaded side), but off the head the lit colours say it: a light
    # wall is as near white hair's shade as the shaded side is, and it is the wall there.
    unlike_shade = unlike_lit & ((d2_shade > CLEAR_D2) | ~near)
    outs, fitted = [], {}
    for d2_hair, ll_hair, unlike_hair in ((d2_shade, ll_shade, unlike_shade), (d2_lit, ll_lit, unlike_lit)):
        key = unlike_hair.tobytes()
        if key not in fitted:  # the background's fit, once a set of border pixels
            fitted[key] = _background(lab, unlike_hair, near, ll_bg)
        rivals = np.maximum(fitted[key], ll_skin)
        outs.append(_decided((d2_hair, ll_hair), rivals, never, seeds))
    return outs[0], outs[1]


def _background(lab: np.ndarray, unlike_hair: np.ndarray, near: np.ndarray, ll_bg: np.ndarray) -> np.ndarray:
    """The background's log-likelihood: ``classify``'s (``ll_bg``) unless the border runs through
    hair; then refitted on the border without it (and off the head where it can)."""
    h, w = unlike_hair.shape
    if np.count_nonzero(unlike_hair) == 2 * (h + w) - 4:  # all the border: classify's fits
        return ll_bg
    background = fit_mixture(lab[unlike_hair & ~near]) or fit_mixture(lab[unlike_hair])
    if background is None:
        return np.full_like(ll_bg, -np.inf)
    return background.d2_and_log_likelihood(lab)[1]


def _decided(
    hair: tuple[np.ndarray, np.ndarray], rivals: np.ndarray, never: np.ndarray, seeds: np.ndarray
) -> np.ndarray:
    """Hair (> 0) where its model (d2, log-likelihood) beats the ``rivals``' best log-likelihood
    within skin's reach of its colours, capped by ``never``, one piece with the scalp's ``seeds``."""
    d2_hair, ll_hair = hair
    out = np.minimum(ll_hair - rivals, 0.5 * (2 * MAX_SKIN_D2 - d2_hair))
    out = np.minimum(out, never).astype(np.float32)
    n, comp = cv2.connectedComponents(np.asarray(out > 0, np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[comp[seeds & (out > 0)]] = True
    keep[0] = False
    out[(out > 0) & ~keep[comp]] = -1.0
    return out


def hanging(hair: np.ndarray, oval: np.ndarray, reach_px: float) -> np.ndarray:
    """Where the scalp's hair (``margin`` > 0) lies over the face oval's edge, within ``reach_px``
    of it (bool): a lock hanging over the cheek or the temple. It is one piece with the scalp, has
    the scalp hair's colour and not skin's (``margin`` says so), so it is hair, though the oval's
    inside below the brows is otherwise skin whatever its colour (a shadow, a beard). Deeper in
    the face, and below the nose (a beard), the face stays skin."""
    r = max(1, round(reach_px))
    core = cv2.erode(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    out: np.ndarray = (hair > 0) & (oval > 0) & (core == 0)
    return out


__all__ = ["hanging", "margin", "scalp_band"]
