"""The map-less labels' lips: the mesh's lip contours moved to where the photo's colours change.

MediaPipe's lip loops are a smooth model's guess. When the mouth opens its inner loop does not
follow the lips' inner edges: on a smile or a laugh it sits inside the lower lip (and a little
inside the upper one), so the lips lose to the mouth what a parsing map calls lip. And its upper lip
is thin: the loop's top runs inside the vermilion. A parsing map's mouth is what shows between the
lips: teeth (bright, grey) and the cavity (dark), unlike the lips' red; what has the lips' colour
inside the mouth (gums, a tongue) is mouth too, which colour cannot tell from lip. Its lip ends,
above, where the lip's red meets the skin (CIELAB a* mostly).

So a contour is walked across, along its normal, outwards from the mesh's edge within ``BAND``: each
sample is scored lip or not (the lip's colour model, fitted on the lip's middle, against the open
mouth's teeth and cavity, or the skin's beyond the band, or anything far from the lip's colour), and
the edge goes where the running score peaks (the lip's last sample before what is not lip outweighs
it); a thin dark line between it and the teeth is lip too (``lip_border``). A profile that never
meets what is not lip (gums beyond the band) keeps the mesh's edge. The offsets are smoothed along
the contour. The upper lip's top moves as far as its colour tells lip from skin (a moustache, a pale
lip on pale skin: the mesh decides). These edges move only outwards: on every annotated face the mesh's
contours lie inside the lip or on its edge there (inwards a walk meets the thin dark line where the
lips part, or a lip's highlight, both lip). The lower lip's bottom fades into the shade under the
lip: no colour model tells where, but its redness falls there; it goes (up to) half-way from the mesh's edge
to that fall (``lip_border``). Closed lips keep the mesh's inner contours (``sliver_to_lips``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facesvg.core import lip_border, skin_model
from facesvg.core.face_geometry import Geometry
from facesvg.core.labels import LOWER_LIP, MOUTH, UPPER_LIP
from facesvg.core.smooth import median_filter

BAND = 0.08  # inter-eye distances: how far an edge may move from the mesh's contour, outwards
STEP = 0.004  # inter-eye distances between samples across an edge (the same count at every photo
# size: a running score over samples weighs a length of lip, not a number of pixels)
WORK_SCALE = 100.0  # px per inter-eye distance where colours are sampled (a larger photo is reduced
# to it: the same face at any size then shows the same colours)
POINTS = 21  # points along each contour: the mesh's 11 and one between each two
L_WEIGHT = 0.5  # lightness counts this much against a* and b* (shade lies more than hue)
CLIP = 3.0  # a sample's log-likelihood ratio is clipped to this (one odd pixel decides nothing)
DROP = 0.02  # inter-eye distances of clear non-lip that end the walk (a tongue past the teeth)
SEEN = 1.5  # ... a sample scoring below -SEEN past the edge: the walk saw what is not lip
OPEN = 0.03  # the mouth is open where the mesh's inner contours are this far apart
SEPARATE = (3.0, 6.0)  # lip-to-skin d' from which colour starts, and fully, to place the upper lip's top
MOUTH_APART = 25.0  # a mouth colour this far (d2) from the lips' models is the mouth's own
MOUTH_ROWS = (0.2, 0.35, 0.5, 0.65, 0.8)  # where across the open mouth its colours are sampled


@dataclass(frozen=True)
class LipContours:
    """The four contours, corner to corner from the image-left corner, ``(POINTS, 2)`` each."""

    upper_outer: np.ndarray
    upper_inner: np.ndarray
    lower_inner: np.ndarray
    lower_outer: np.ndarray


def resample(chain: np.ndarray, n: int = POINTS) -> np.ndarray:
    """``n`` points along a chain at even steps of its index (the mesh's upper and lower points pair
    up by index, so the same steps on two chains pair up too)."""
    u = np.linspace(0.0, len(chain) - 1.0, n)
    idx = np.arange(len(chain))
    return np.stack([np.interp(u, idx, chain[:, 0]), np.interp(u, idx, chain[:, 1])], axis=1)


def _normals(chain: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """Unit normals of a chain, each on the side of ``toward`` (a direction)."""
    tangent = np.empty_like(chain)  # central differences, one-sided at the ends (np.gradient's)
    tangent[1:-1] = 0.5 * (chain[2:] - chain[:-2])
    tangent[0], tangent[-1] = chain[1] - chain[0], chain[-1] - chain[-2]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-9)[:, None]
    flip = (normal @ toward) < 0
    normal[flip] *= -1
    return normal


def _taper(n: int) -> np.ndarray:
    """How far each point may move, as a share of the band: nothing at the corners (where the
    contours meet and the normals are ill-defined), the whole band from a fifth in."""
    u = np.linspace(0.0, 1.0, n)
    out: np.ndarray = np.clip(np.minimum(u, 1.0 - u) / 0.2, 0.0, 1.0)
    return out


TAPER = _taper(POINTS)


class _Sampler:
    """Lab colours (lightness scaled by ``L_WEIGHT``) sampled at sub-pixel points of a crop,
    reduced by ``f`` (a large photo's lips need no more than ``WORK_SCALE`` px per inter-eye
    distance; the reduction averages the noise away)."""

    def __init__(self, image: np.ndarray, box: tuple[int, int, int, int], f: float) -> None:
        x0, y0, x1, y1 = box
        crop = image[y0:y1, x0:x1]
        if f < 1.0:
            size = (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        self.lab = np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2Lab), np.uint8)  # 8-bit: sampled fast
        self.origin = np.array([x0, y0], np.float64)
        self.scale = np.array([crop.shape[1] / (x1 - x0), crop.shape[0] / (y1 - y0)])

    def at(self, xy: np.ndarray) -> np.ndarray:
        """``(..., 2)`` photo px -> ``(..., 3)`` colours (bilinear; the border repeated)."""
        flat = ((xy - self.origin + 0.5) * self.scale - 0.5).astype(np.float32).reshape(-1, 1, 2)
        out = cv2.remap(
            self.lab, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        px = np.asarray(out, np.float32).reshape(*xy.shape[:-1], 3)
        px[..., 0] *= L_WEIGHT
        return px


def _rows(a: np.ndarray, b: np.ndarray, fractions: tuple[float, ...], keep: np.ndarray) -> np.ndarray:
    """Points between paired points of two chains (at ``fractions`` of the way from ``a``)."""
    return np.vstack([(a + f * (b - a))[keep] for f in fractions])


def _mouth_model(
    s: _Sampler, c: LipContours, keep: np.ndarray, lips: tuple[skin_model.Gaussian, ...]
) -> skin_model.Mixture | None:
    """Teeth and cavity: the colours of the open mouth's middle, less those with the lips' colour
    (gums, a tongue, or lip where the mesh's contour sits inside the lip)."""
    if keep.sum() * len(MOUTH_ROWS) < skin_model.MIN_SEEDS:
        return None
    mix = skin_model.fit_mixture(s.at(_rows(c.upper_inner, c.lower_inner, MOUTH_ROWS, keep)), 3)
    if mix is None:
        return None
    kept = tuple(p for p in mix.parts if min(float(lip.d2(p.mean[None])[0]) for lip in lips) > MOUTH_APART)
    return skin_model.Mixture(kept) if kept else None


def _score(px: np.ndarray, lip: skin_model.Gaussian, mouth: skin_model.Mixture | None) -> np.ndarray:
    """Per sample: lip (> 0) or mouth, a clipped log-likelihood ratio; a colour far from the lip's
    (chi-square, 99.9 %) is not lip whatever the mouth's model says."""
    d2_lip = lip.d2(px)
    score = 0.5 * (skin_model.MAX_SKIN_D2 - d2_lip)
    if mouth is not None:
        score = np.minimum(score, lip.log_likelihood(d2_lip) - mouth.d2_and_log_likelihood(px)[1])
    out: np.ndarray = np.clip(score, -CLIP, CLIP)
    return out


def _cut(
    score: np.ndarray, t: np.ndarray, lo: np.ndarray, hi: np.ndarray, drop: float, band: float
) -> np.ndarray:
    """Per profile (rows of ``score``, samples at offsets ``t`` across the mesh's edge, from the
    lip's side, allowed between ``lo`` and ``hi``): the offset where the lip ends. The running sum
    of the scores peaks at the lip's last sample; the walk stops where what is not lip has taken
    ``drop`` off the peak (a tongue past the teeth is not the lip again). A move costs a little; a
    profile that meets nothing clearly not lip past its peak keeps the mesh's edge (0: gums
    beyond the lip are lip-coloured)."""
    half = 0.5 * (t[1] - t[0])
    s = np.where((t[None, :] >= lo[:, None]) & (t[None, :] <= hi[:, None]), score, 0.0)
    run = np.concatenate([np.zeros((len(s), 1)), np.cumsum(s, axis=1)], axis=1)  # run[:, c]: k < c
    edges = np.concatenate([t - half, t[-1:] + half])  # where cut c lies
    stopped = np.maximum.accumulate(np.maximum.accumulate(run, axis=1) - run > drop, axis=1)
    ok = ~stopped & (edges[None, :] >= lo[:, None] - half) & (edges[None, :] <= hi[:, None] + half)
    value = np.where(ok, run - CLIP * (edges[None, :] / band) ** 2, -np.inf)
    best = np.argmax(value, axis=1)
    seen = ((np.arange(s.shape[1])[None, :] >= best[:, None]) & (s < -SEEN)).any(axis=1)
    out: np.ndarray = np.where(seen & np.isfinite(value.max(axis=1)), edges[best], 0.0)
    return out


def _upper_outer(
    s: _Sampler, c: LipContours, lip: skin_model.Gaussian, up: np.ndarray, geo: tuple[float, float, float]
) -> np.ndarray:
    """The upper lip's top moved out to where its colour meets the skin's above it, as far as the
    colours tell lip from skin: by their separation d' (the means' distance in pooled standard
    deviations), not at all below ``SEPARATE[0]``, fully from ``SEPARATE[1]`` (a pale lip on pale
    skin, or a moustache, leaves the mesh's edge). Only outwards: on the annotated faces the
    mesh's top lies inside the lip or on its edge, and a lip's own highlight is not its edge."""
    band, step, drop = geo
    chain = c.upper_outer
    normal = _normals(chain, up)
    inner = TAPER > 0.5
    skin = skin_model.fit_trimmed(s.at(_rows(chain, chain + band * normal, (1.1, 1.3, 1.5), inner)))
    if skin is None:
        return chain
    diff = lip.mean - skin.mean
    pooled = 0.5 * (np.linalg.inv(lip.inv) + np.linalg.inv(skin.inv))
    sep = float(np.sqrt(diff @ np.linalg.solve(pooled, diff)))
    weight = float(np.clip((sep - SEPARATE[0]) / (SEPARATE[1] - SEPARATE[0]), 0.0, 1.0))
    if weight == 0.0:
        return chain
    reach = TAPER * band
    t = np.arange(0.5 * step, band, step)
    px = s.at(chain[:, None, :] + t[None, :, None] * normal[:, None, :])
    d2_lip = lip.d2(px)
    score = np.minimum(
        lip.log_likelihood(d2_lip) - skin.log_likelihood(skin.d2(px)), 0.5 * (skin_model.MAX_SKIN_D2 - d2_lip)
    )
    off = np.clip(
        _smooth(_cut(np.clip(score, -CLIP, CLIP), t, np.zeros(POINTS), reach, drop, band)), 0.0, reach
    )
    out: np.ndarray = chain + weight * off[:, None] * normal
    return out


def _lower_outer(s: _Sampler, c: LipContours, up: np.ndarray, band: float, step: float) -> np.ndarray:
    """The lower lip's bottom moved towards where its redness ends (``lip_border``)."""
    chain = c.lower_outer
    normal = _normals(chain, -up)
    t = np.arange(-band + 0.5 * step, band, step)
    a_star = s.at(chain[:, None, :] + t[None, :, None] * normal[:, None, :])[..., 1]
    reach = TAPER * band
    off = np.clip(_smooth(lip_border.offsets(a_star, t, band)), -reach, reach)
    out: np.ndarray = chain + off[:, None] * normal
    return out


def _smooth(offsets: np.ndarray) -> np.ndarray:
    """Offsets along a contour: a median of five (one odd profile is not an edge), then a blur."""
    median = median_filter(offsets, 2)[None, :]
    out = cv2.GaussianBlur(median, (0, 0), 1.5, borderType=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.float64).ravel()


def refine(image: np.ndarray, g: Geometry, mesh: tuple[np.ndarray, ...]) -> tuple[LipContours, np.ndarray]:
    """The four lip contours (``mesh``: the mesh's upper outer, upper inner, lower inner and lower
    outer chains, image px, each from the image-left corner), moved to the photo's edges: the
    upper lip's top where the colours tell lip from skin, the inner ones where the mouth is open;
    and which of the ``POINTS`` are open."""
    c = LipContours(*(resample(chain) for chain in mesh))
    gap = np.hypot(*(c.lower_inner - c.upper_inner).T)
    open_ = gap > OPEN * g.scale
    band = BAND * g.scale
    step = STEP * g.scale
    h, w = image.shape[:2]
    pts = np.vstack(list(mesh))
    x0, y0 = np.maximum(np.floor(pts.min(0) - 1.6 * band - 3).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + 1.6 * band + 4).astype(int), (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return c, open_
    f = min(1.0, WORK_SCALE / g.scale)
    s = _Sampler(image, (int(x0), int(y0), int(x1), int(y1)), f)
    inner = TAPER > 0.5
    upper = skin_model.fit_trimmed(s.at(_rows(c.upper_outer, c.upper_inner, (0.3, 0.5, 0.7), inner)))
    if upper is None:
        return c, open_
    up = g.up
    drop = CLIP * DROP / STEP
    top = _upper_outer(s, c, upper, up, (band, step, drop))
    bottom = _lower_outer(s, c, up, band, step)
    lower = (
        skin_model.fit_trimmed(s.at(_rows(c.lower_outer, c.lower_inner, (0.3, 0.5, 0.7), inner)))
        if open_.any()
        else None
    )
    if lower is None:
        return LipContours(top, c.upper_inner, c.lower_inner, bottom), open_
    mouth = _mouth_model(s, c, inner & open_, (upper, lower))
    line = lip_border.LINE * g.scale
    # sample centres: cut c lies at c * step; past the band only to see the teeth past a dark line
    t_all = np.arange(0.5 * step, band + line, step)
    t = t_all[t_all < band]
    reach = np.minimum(np.where(open_, TAPER * band, 0.0), gap)  # at most across the mouth
    moved = []
    for chain, lip, away in ((c.upper_inner, upper, -up), (c.lower_inner, lower, up)):
        normal = _normals(chain, away)
        px = s.at(chain[:, None, :] + t_all[None, :, None] * normal[:, None, :])
        cut = _cut(_score(px[:, : len(t)], lip, mouth), t, np.zeros(POINTS), reach, drop, band)
        if lip is lower:  # the upper teeth hang from the upper lip: a dark band there is the mouth's
            light = (float(lip.mean[0]), float(np.sqrt(np.linalg.inv(lip.inv)[0, 0])))
            cut = lip_border.across_parting_line(px[..., 0], t_all, cut, light, line)
        off = np.clip(_smooth(cut), 0.0, reach)
        moved.append(chain + off[:, None] * normal)
    ui, li = moved
    meet = ((ui - li) @ up) < 0  # the moved edges passed each other: the lips meet halfway
    half = 0.5 * (ui + li)
    ui, li = np.where(meet[:, None], half, ui), np.where(meet[:, None], half, li)
    return LipContours(top, ui, li, bottom), open_


def open_mouth(c: LipContours, open_: np.ndarray) -> list[np.ndarray]:
    """The open parts of the mouth: a quad between the inner contours for each open step."""
    both = open_[:-1] & open_[1:]
    ui, li = c.upper_inner, c.lower_inner
    return [np.array([ui[i], ui[i + 1], li[i + 1], li[i]]) for i in np.flatnonzero(both)]


def sliver_to_lips(roi: np.ndarray, bgr: np.ndarray, keep: np.ndarray) -> None:
    """Between closed lips (the mouth's pixels not in ``keep``), what has the lips' colour is lip.

    On closed lips the mesh's inner loop leaves a sliver: the dark line where the lips meet is the
    mouth, the rest is lip. A pixel of it that the lips' own colour model explains better than the
    mouth's (two colours) goes to the nearer lip; without enough mouth pixels to model, the whole
    sliver does. (An open mouth's lip-coloured parts are gums or a tongue: they stay mouth.)"""
    ys, xs = np.nonzero((roi == MOUTH) & (keep == 0))
    if not len(ys):
        return
    # The sliver's box and as much again above and below it: the lips next to it, in its light.
    pad = int(ys.max() - ys.min()) + 2
    y0, y1 = max(int(ys.min()) - pad, 0), int(ys.max()) + pad + 1
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    roi, keep, bgr = roi[y0:y1, x0:x1], keep[y0:y1, x0:x1], bgr[y0:y1, x0:x1]
    mouth, upper, lower = (np.asarray(roi == v, np.uint8) for v in (MOUTH, UPPER_LIP, LOWER_LIP))
    sliver = (mouth > 0) & (keep == 0)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    core = np.ones((3, 3), np.uint8)
    lips_model = skin_model.fit(lab[cv2.erode(upper | lower, core) > 0]) or skin_model.fit(
        lab[(upper | lower) > 0]
    )
    mouth_model = skin_model.fit_mixture(lab[cv2.erode(mouth, core) > 0], 2)
    if lips_model is None:
        return
    sy, sx = np.nonzero(sliver)
    lip_like: np.ndarray = np.ones(len(sy), bool)
    if mouth_model is not None:  # only the sliver's pixels are weighed
        px = lab[sy, sx]
        lip_like = np.asarray(
            lips_model.log_likelihood(lips_model.d2(px)) > mouth_model.d2_and_log_likelihood(px)[1]
        )
    sy, sx = sy[lip_like], sx[lip_like]
    to_upper = cv2.distanceTransform(1 - upper, cv2.DIST_L2, 3)[sy, sx]
    to_lower = cv2.distanceTransform(1 - lower, cv2.DIST_L2, 3)[sy, sx]
    roi[sy, sx] = np.where(to_upper < to_lower, UPPER_LIP, LOWER_LIP).astype(roi.dtype)
