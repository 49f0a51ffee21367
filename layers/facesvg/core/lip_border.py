"""Two lip edges a colour model misplaces: the lower lip's bottom (where its redness ends, not where
the shade under it does) and an open mouth's dark line between a lip and the teeth (lip).

A parsing annotator draws the lower lip's red part: its lower border is where the lip's redness
gives way to the skin's, at the top of the shade the lip casts on the chin. MediaPipe's lower loop
runs through that shade, a pixel or two below the border on 9 of the 10 annotated faces (0.3-3 % of
the inter-eye distance; on the sample it is 1 % inside). Lightness cannot find the border (the shade
is darker than both lip and skin, a lip's highlight is lighter), but redness (CIELAB a*) falls
across it: from the lip's a* to the skin's.

So each profile across the mesh's bottom edge, along its normal, is read for a*: the lip's level is
the reddest sample within a band inside the mesh's edge, the skin's the median beyond the shade, and
the border is where a* has first fallen ``FALL`` of the way from one to the other past the reddest
sample (the annotators stop where the fade starts, not half-way down it). The border and the mesh
are both estimates: the result lies between them, nearer the border as the lip's redness stands out
from the skin's (a pale lip, a beard: the mesh decides).

Where an open lower lip meets the teeth, the lip's edge is in its own shade: a line darker than the lip,
one or two pixels, that a parsing map calls lip; a walk scoring lip against the mouth's colours
stops short of it (``across_parting_line``).
"""

from __future__ import annotations

import numpy as np

RED_APART = (4.0, 12.0)  # a* units (8-bit Lab) of lip over skin from which redness starts to, and
# fully does, share the edge with the mesh
TRUST = 0.5  # the colour's share at full contrast: the mesh's edge is as good a guess
INSIDE = 1.0  # bands inside the mesh's edge where the lip's reddest sample is looked for
OUTSIDE = 0.4  # bands beyond the mesh's edge within which the border may lie
FALL = 0.3  # the share of the fall from the lip's redness to the skin's where the border lies
SKIN_FROM = 0.5  # bands beyond the edge from which the profile is skin
LINE = 0.04  # inter-eye distances: the widest the line between a lip and the teeth is
BRIGHT = 2.0  # standard deviations of the lip's lightness above its mean: teeth
DARK = 2.0  # ... below it: the line where the lip parts from the teeth
RISE = 1.5  # widths past the line's darkest within which the teeth show (blur widens the line)


def offsets(a_star: np.ndarray, t: np.ndarray, band: float) -> np.ndarray:
    """Per profile (rows of ``a_star``, samples at offsets ``t`` from the mesh's edge, outwards,
    px): how far to move the edge (negative: in), before smoothing."""
    lip_side = (t >= -INSIDE * band) & (t <= 0.0)
    if not lip_side.any() or not (t >= SKIN_FROM * band).any():
        return np.zeros(len(a_star))
    cols = np.flatnonzero(lip_side)
    peak = cols[np.argmax(a_star[:, lip_side], axis=1)]
    lip = a_star[np.arange(len(a_star)), peak]
    beyond = np.sort(a_star[:, t >= SKIN_FROM * band], axis=1)
    skin = beyond[:, beyond.shape[1] // 2]  # the median (np.median's overhead is most of this)
    half = lip - FALL * (lip - skin)
    idx = np.arange(len(t))[None, :]
    below = (idx > peak[:, None]) & (a_star < half[:, None]) & (t[None, :] <= OUTSIDE * band)
    found = below.any(axis=1)
    first = np.argmax(below, axis=1)
    # the crossing between the sample before and the first one below half-way, interpolated
    prev = np.maximum(first - 1, 0)
    rows = np.arange(len(a_star))
    a0, a1 = a_star[rows, prev], a_star[rows, first]
    frac = np.clip((a0 - half) / np.maximum(a0 - a1, 1e-6), 0.0, 1.0)
    edge = t[prev] + frac * (t[first] - t[prev])
    contrast = np.clip((lip - skin - RED_APART[0]) / (RED_APART[1] - RED_APART[0]), 0.0, 1.0)
    out: np.ndarray = np.where(found, TRUST * contrast * edge, 0.0)
    return out


def across_parting_line(
    light: np.ndarray, t: np.ndarray, cut: np.ndarray, lip: tuple[float, float], width: float
) -> np.ndarray:
    """An open mouth's lower lip edge (``cut``, per profile: rows of ``light``, the lightness sampled
    at offsets ``t`` from the lip into the mouth) moved across the thin dark line between a lip and
    the teeth: a parsing map calls that line lip (the lip's edge in its own shade). Where, within
    ``width`` past the edge, the profile darkens well below the lip (``lip``: its lightness' mean
    and standard deviation) and, within ``RISE`` widths of its darkest, turns brighter than the
    lip (teeth), the edge goes to where the teeth begin: where the lightness has risen half-way from
    the line's darkest to the teeth's. A wide dark stretch (the cavity) or a lip-coloured one (a
    tongue) leaves the edge. (Not the upper lip's: the upper teeth hang from under it, and a dark
    band between them is the cavity or the gums' shade, which the maps call mouth.)"""
    mean, sd = lip
    rows, idx = np.arange(len(light)), np.arange(len(t))[None, :]
    near = (t[None, :] > cut[:, None]) & (t[None, :] <= cut[:, None] + width)
    k_dark = np.argmin(np.where(near, light, np.inf), axis=1)
    darkest = light[rows, k_dark]
    teeth = (idx > k_dark[:, None]) & (t[None, :] <= t[k_dark][:, None] + RISE * width)
    teeth &= light > mean + BRIGHT * sd
    k_teeth = np.argmax(teeth, axis=1)
    moved = near.any(axis=1) & (darkest < mean - DARK * sd) & teeth.any(axis=1)
    level = 0.5 * (darkest + light[rows, k_teeth])
    below = (idx >= k_dark[:, None]) & (idx < k_teeth[:, None]) & (light < level[:, None])
    k = np.minimum(len(t) - 1 - np.argmax(below[:, ::-1], axis=1), len(t) - 2)  # the last below
    lo, hi = light[rows, k], light[rows, k + 1]
    edge = t[k] + np.clip((level - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0) * (t[k + 1] - t[k])
    out: np.ndarray = np.where(moved, np.maximum(edge, cut), cut)
    return out
