"""A feature's edge moved from the mesh's outline to where the photo's colours change (the
map-less labels' eyes: ``core.derived_labels``)."""

from __future__ import annotations

import cv2
import numpy as np

from facesvg.core import skin_model
from facesvg.core.face_geometry import Geometry
from facesvg.core.labels import SKIN

REFINE_BAND = 0.08  # inter-eye distances: how far a feature's edge may move to the photo's edge
SMOOTH = 0.015  # ... decided over about this much (inter-eye distances)
OUTLINE_SLACK = 0.02  # how far past the mesh's contour a feature's outline may reach


def refine_by_colour(
    out: np.ndarray,
    image: np.ndarray,
    g: Geometry,
    values: tuple[int, ...],
    chains: tuple[tuple[int, ...], ...],
    parts: int,
    work_scale: float = 80.0,
) -> None:
    """Take from a feature (labelled ``values``: one, or an image-left and an image-right one; the
    mesh's ``chains`` round it) the pixels within ``REFINE_BAND`` of its edge whose colour is the
    skin's round it rather than its own (the map-less eyes: a lid the mesh's contour took in).

    The feature's colours are modelled on its core (the mesh's feature, eroded: ``parts`` colours,
    an eye's white and iris), the skin's on a ring just outside the band. Only what stays joined to
    the core is kept. Decided on a crop reduced to ``work_scale`` px per inter-eye distance, the
    answer interpolated back to the photo."""
    h, w = out.shape
    pts = np.vstack([g.at(c) for c in chains])
    # the crop holds the skin ring (two bands out) round the feature, which may reach a little
    # past the mesh's contour (``eye_outline`` raises the upper lid)
    pad = (2 * REFINE_BAND + OUTLINE_SLACK) * g.scale + 2
    x0, y0 = np.maximum(np.floor(pts.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + pad).astype(int) + 1, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    roi = out[y0:y1, x0:x1]
    f = min(1.0, work_scale / max(g.scale, 1e-6))
    size = (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f)))
    bgr = image[y0:y1, x0:x1]
    labels = roi
    if f < 1.0:
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        labels = cv2.resize(roi, size, interpolation=cv2.INTER_NEAREST)
    band = max(1, round(REFINE_BAND * g.scale * f))
    mine = np.asarray(any_of(labels, values), np.uint8)
    core = np.asarray(cv2.erode(mine, np.ones((3, 3), np.uint8)), np.uint8)
    # distances to the feature and, inside it, to its edge (cheaper than dilating by a disc)
    outside = cv2.distanceTransform(1 - mine, cv2.DIST_L2, 3)
    inside = cv2.distanceTransform(mine, cv2.DIST_L2, 3)
    is_mine, is_skin = mine > 0, labels == SKIN
    ring = is_skin & (outside > band) & (outside <= 2 * band)
    feature_model = skin_model.fit_mixture(_lab(bgr[core > 0]), parts)
    skin_fit = skin_model.fit_trimmed(_lab(bgr[ring]))
    if feature_model is None or skin_fit is None:
        return
    # Colours are weighed in the band either side of the edge (the skin's side votes in the
    # smoothing below); deeper inside, the feature stays.
    edge = (outside <= band) & (inside <= band) & (is_mine | is_skin)
    px = _lab(bgr[edge])
    feature_like = is_mine.copy()
    feature_like[edge] = feature_model.d2_and_log_likelihood(px)[1] > skin_fit.log_likelihood(skin_fit.d2(px))
    # A parsing map labels areas, not single lashes or pores: the majority round each pixel decides.
    sigma = SMOOTH * g.scale * f
    if sigma >= 0.5:
        feature_like = cv2.GaussianBlur(feature_like.astype(np.float32), (0, 0), sigma) > 0.5
    feature_like &= is_mine
    kept = connected(np.asarray(is_mine & ~edge | (edge & feature_like), np.uint8), core)
    _write_back(roi, kept, np.asarray(edge, np.uint8), f < 1.0, values, g, (x0, y0, x1, y1))


def _lab(bgr: np.ndarray) -> np.ndarray:
    """``(N, 3)`` BGR pixels in CIELAB (float32): only the pixels read are converted (the crop is
    mostly neither the feature's core, its band nor the skin's ring)."""
    if len(bgr) == 0:
        return np.zeros((0, 3), np.float32)
    lab: np.ndarray = cv2.cvtColor(bgr.reshape(-1, 1, 3), cv2.COLOR_BGR2Lab).reshape(-1, 3)
    return lab.astype(np.float32)


def _write_back(
    roi: np.ndarray,
    kept: np.ndarray,
    zone: np.ndarray,
    reduced: bool,
    values: tuple[int, ...],
    g: Geometry,
    box: tuple[int, int, int, int],
) -> None:
    """The refined feature (``kept``, decided in ``zone``) written into the photo's labels."""
    x0, y0, x1, y1 = box
    if reduced:  # back to the photo's pixels (the edge smooth there)
        full = (x1 - x0, y1 - y0)
        smooth = cv2.resize(kept * np.uint8(255), full, interpolation=cv2.INTER_LINEAR)
        kept = np.asarray(smooth >= 128, np.uint8)
        zone = np.asarray(cv2.resize(zone, full, interpolation=cv2.INTER_NEAREST), np.uint8)
    want = kept > 0
    was = any_of(roi, values)
    zone_b = (zone > 0) & (was | (roi == SKIN))
    roi[zone_b & was & ~want] = SKIN
    if len(values) == 1:
        roi[zone_b & want] = values[0]
        return
    ys, xs = np.arange(y0, y1, dtype=np.float32)[:, None], np.arange(x0, x1, dtype=np.float32)[None, :]
    side = np.where(xs < g.mid_a * ys + g.mid_b, values[0], values[1]).astype(np.uint8)
    roi[zone_b & want] = side[zone_b & want]


def any_of(labels: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """``np.isin`` for a value or two, several times faster."""
    out: np.ndarray = labels == values[0]
    for v in values[1:]:
        out |= labels == v
    return out


def connected(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The parts of ``mask`` that touch ``seed`` (the face's skin, not a skin-coloured wall)."""
    n, comp = cv2.connectedComponents(mask, connectivity=4)
    if n <= 1:
        return mask
    keep = np.zeros(n, np.uint8)
    keep[comp[(seed > 0) & (mask > 0)]] = 1  # (no np.unique: repeated indices are set alike)
    keep[0] = 0
    return keep[comp]
