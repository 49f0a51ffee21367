"""What the map-less labels (``derived_labels``) call skin beyond the colour model's pixel-by-pixel say.

A parsing map's skin has no holes: what the face's skin surrounds is skin in shade or a highlight
(a crease under the eye, a shine on the forehead, a shadowed concha), or a feature painted later.
Hair and background reach into the face from outside it (a fringe from the scalp, the background
past the far cheek), so they are never enclosed: what is enclosed is skin.

Skin in shade (an ear under the hair beside the face) is darker than any seed, so the colour model
calls it hair; but a shadow dims the light, not the skin's pigment: the pixel keeps skin's hue and
most of its chroma, where dark hair is near grey (``shaded_skin``).
"""

from __future__ import annotations

import cv2
import numpy as np

from facesvg.core.skin_model import MIN_SEEDS


def enclosed(skin: np.ndarray) -> np.ndarray:
    """0/1: the pixels ``skin`` (0/1) surrounds, i.e. not joined to the crop's border by non-skin."""
    free = np.pad(1 - skin, 1, constant_values=1)  # a frame of non-skin: the outside is one part
    _, comp = cv2.connectedComponents(free, connectivity=4)
    holes = (comp != comp[0, 0]) & (free > 0)
    return np.asarray(holes[1:-1, 1:-1], np.uint8)


SHADE_CHROMA = 0.55  # skin in shade keeps at least this share of the lit skin's chroma (dark hair: less)
SHADE_HUE = 0.9  # ... and its hue: the cosine between the two (a*, b*) directions is at least this


def shaded_skin(lab: np.ndarray, seed: np.ndarray, where: np.ndarray) -> np.ndarray:
    """A margin (> 0: skin in shade) from the hue and chroma alone, at the pixels ``where`` (0/1; -1
    elsewhere): a shadow darkens skin but keeps its hue and most of its chroma; dark hair is near
    grey. ``lab``: the crop in CIELAB (float32, OpenCV's 8-bit scale); ``seed``: 0/1 pixels known
    to be skin (lit)."""
    out = np.full(seed.shape, -1.0, np.float32)
    if np.count_nonzero(seed) < MIN_SEEDS or not where.any():
        return out
    _, sa, sb, _ = (v - 128.0 for v in cv2.mean(lab, mask=seed))  # (a*, b*): 0 is grey
    s_chroma = max(float(np.hypot(sa, sb)), 1.0)
    a, b = (lab[..., 1:][where > 0] - 128.0).T
    chroma = np.hypot(a, b)
    cos = (a * sa + b * sb) / (np.maximum(chroma, 1e-3) * s_chroma)
    # margins in about the colour model's units: a few units across the range a pixel's noise spans
    by_chroma = (chroma / s_chroma - SHADE_CHROMA) * 20.0
    by_hue = (cos - SHADE_HUE) * 50.0
    out[where > 0] = np.minimum(by_chroma, by_hue)
    return out


__all__ = ["enclosed", "shaded_skin"]
