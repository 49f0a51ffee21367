"""A brow's outline found in the photo: the dark band above the eye, traced across the brow.

MediaPipe's brow chains follow the brow ridge more than the hair: on most faces the lower chain runs
through the hair rather than under it, the upper one sits off the hair, and the tail ends where the
mesh ends, not where the hair does. So the brow is looked for in the photo, in a strip straightened
along the mesh's brow (the mid-line between its upper and lower chain, a little past either end),
across it from the lid to the forehead:

- in each column of the strip the brow's core is its darkest sample near the mesh's band;
- its upper edge lies where the lightness has come most of the way back to the forehead's, its lower
  edge half way back to the lid's (the lid is often in the brow ridge's shade, darker than the
  forehead): each side relative to its own contrast, so a grey brow on pale skin and a black one on
  dark skin are found alike, and a parsing map's generous outline (it draws round the hair) is met;
- where a side's contrast is within the skin's own grain (a sparse or grey brow) the edge stays on
  the mesh's;
- the head ends where the mesh's does (its shade runs on into the glabella's), the tail where the
  brow fades out (less than a share of its own contrast), and the ends are rounded;
- the edges are smoothed along the brow (a parsing map labels an area, not single hairs).

Lengths are in inter-eye distances (``Geometry.scale``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from facesvg.core import mesh_connections as mc
from facesvg.core.face_geometry import Geometry
from facesvg.core.face_template import TEMPLATE
from facesvg.core.labels import BROWS, SKIN
from facesvg.core.smooth import median_filter

SAMPLES = 60.0  # strip samples per inter-eye distance, along and across the brow
PAST_ENDS = 0.15  # the strip runs this far (a share of the brow's length) past the mesh's ends
ABOVE, BELOW = 0.3, 0.22  # ... from this far above the mid-line to this far below (above the lashes)
ALONG, ACROSS = 0.05, 0.015  # lightness smoothed over this much along and across (hairs, pores)
CORE_BELOW = 0.06  # the core is sought from the mesh's upper edge to this far below its lower one
SKIN_GAP = 0.06  # the forehead is sampled from this far above the core
LID_GAP = (0.06, 0.15)  # ... the lid between these distances below it
TOP_LEVEL = 0.75  # the upper edge: this share of the way from the core back to the forehead
BOTTOM_LEVEL = 0.5  # the lower edge: this share of the way back to the lid
TRUST = 2.0  # a side's edge is the photo's from 2x this many skin spreads of contrast (mesh's below 1x)
LOWER_PRIOR = 0.03  # the mesh's lower edge, as the hair's, lies this much lower (the mesh's fallback)
REACH = 0.06  # an edge found in the photo stays within this much of the mesh's
TAIL_FROM = 0.1  # the tail is followed out from this far along the mesh's brow (lateral end = 0)...
END_SHARE = 0.3  # ... while its contrast is at least this share of the brow's typical one
MIN_CONTRAST = 2.0  # ... and this many skin spreads; a brow with less is left as the mesh has it
HEAD_PAST = 0.03  # the head ends this far (a share of the length) past the mesh's medial end
SMOOTH_EDGE = 0.1  # edges median-filtered over this much along the brow
MAX_WIDEN = 1.3  # nowhere wider than this many times its median width (the glabella's shade)
CAP = 0.04  # the ends rounded over this much

Coverage = Callable[[np.ndarray, tuple[int, int], float], tuple[tuple[int, int], np.ndarray]]


def _pairs(edges: mc.Edges) -> tuple[np.ndarray, np.ndarray]:
    """A brow's (upper, lower) chain, both lateral -> medial (decided on the frontal template)."""
    a, b = mc.chains(edges)
    t = TEMPLATE
    if np.hypot(*(t[a[0]] - t[b[0]])) > np.hypot(*(t[a[0]] - t[b[-1]])):
        b = b[::-1]
    if abs(t[a[0], 0] - t[10, 0]) < abs(t[a[-1], 0] - t[10, 0]):  # lateral: farther from the midline
        a, b = a[::-1], b[::-1]
    upper, lower = (a, b) if t[list(a), 1].mean() < t[list(b), 1].mean() else (b, a)
    return np.array(upper), np.array(lower)


BROW_CHAINS = tuple(_pairs(e) for e in (mc.FACEMESH_RIGHT_EYEBROW, mc.FACEMESH_LEFT_EYEBROW))


def paint_brows(out: np.ndarray, image: np.ndarray, g: Geometry, coverage: Coverage) -> None:
    """Each brow of the labels ``out`` (the mesh's outline) redrawn as traced in ``image`` (BGR),
    over skin only (a fringe or an eye stays what it is). Where the photo shows no brow the mesh's
    outline stays.
    ``coverage``: the share of each pixel a polygon covers (``derived_labels.coverage``)."""
    h, w = out.shape
    for upper, lower in BROW_CHAINS:
        poly = trace(image, g, upper, lower)
        if poly is None:
            continue
        mesh = g.pts[np.r_[upper, lower[::-1]]]  # the loop the mesh's brow was painted as
        value = g.side_value(BROWS, mesh)
        both = np.vstack([poly, mesh])
        x0, y0 = np.maximum(np.floor(both.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(both.max(0)).astype(int) + 3, (w, h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        roi, shape = out[y0:y1, x0:x1], (y1 - y0, x1 - x0)
        # the mesh's brow back to skin (only its own: on a turned head both brows may share a value)
        (cx, cy), cov = coverage(mesh - (x0, y0), shape, g.scale)
        part = roi[cy : cy + cov.shape[0], cx : cx + cov.shape[1]]
        part[(cov > 0) & (part == value)] = SKIN
        (cx, cy), cov = coverage(poly - (x0, y0), shape, g.scale)
        part = roi[cy : cy + cov.shape[0], cx : cx + cov.shape[1]]
        part[(cov >= 0.5) & (part == SKIN)] = value


def trace(image: np.ndarray, g: Geometry, upper: np.ndarray, lower: np.ndarray) -> np.ndarray | None:
    """The brow's outline (a polygon, photo px), or None where the photo shows no brow."""
    m, n, thick = _frame(g, upper, lower)
    step = g.scale / SAMPLES
    v = np.arange(ABOVE * g.scale, -BELOW * g.scale - 1e-9, -step) / step  # rows: forehead -> lid
    grid = (m[None, :, :] + (v * step)[:, None, None] * n[None, :, :]).astype(np.float32)
    light = _lightness(image, grid, g.scale)
    if light is None:
        return None
    smooth = cv2.GaussianBlur(light, (0, 0), sigmaX=ALONG * SAMPLES, sigmaY=ACROSS * SAMPLES)
    found = _edges(smooth, v, thick / step, _grain(light))
    if found is None:
        return None
    cols, top, bottom = found
    upper_edge = m[cols] + (top * step)[:, None] * n[cols]
    lower_edge = m[cols] + (bottom * step)[:, None] * n[cols]
    return np.vstack([upper_edge, lower_edge[::-1]])


def _frame(g: Geometry, upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strip's columns: points on the mesh brow's mid-line (``(nu, 2)``, lateral -> medial,
    ``PAST_ENDS`` past either end), their unit normals towards the forehead, and the mesh's brow
    width at each (px)."""
    up, lo = g.pts[upper], g.pts[lower]
    mid = (up + lo) / 2
    d = np.r_[0.0, np.cumsum(np.hypot(*np.diff(mid, axis=0).T))]
    length = max(float(d[-1]), 1e-6)
    nu = max(8, round(length * (1 + 2 * PAST_ENDS) / max(g.scale, 1e-6) * SAMPLES))
    s = np.linspace(-PAST_ENDS * length, (1 + PAST_ENDS) * length, nu)
    m = np.stack([np.interp(s, d, mid[:, k]) for k in range(2)], 1)
    # past the ends the mid-line goes straight on
    first, last = (mid[1] - mid[0]) / max(d[1], 1e-6), (mid[-1] - mid[-2]) / max(d[-1] - d[-2], 1e-6)
    m[s < 0] = mid[0] + s[s < 0, None] * first
    m[s > length] = mid[-1] + (s[s > length, None] - length) * last
    t = np.gradient(m, axis=0)
    t /= np.maximum(np.hypot(*t.T), 1e-9)[:, None]
    n = np.stack([t[:, 1], -t[:, 0]], 1)
    if float((up - lo).mean(0) @ n.mean(0)) < 0:
        n = -n
    return m, n, np.interp(s, d, np.hypot(*(up - lo).T))


def _lightness(image: np.ndarray, grid: np.ndarray, scale: float) -> np.ndarray | None:
    """CIELAB lightness sampled on ``grid`` (photo px), the photo first reduced to the strip's
    resolution (single hairs are not aliased)."""
    h, w = image.shape[:2]
    pts = grid.reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 3, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = image[y0:y1, x0:x1, :3]
    f = min(1.0, SAMPLES / max(scale, 1e-6))
    if f < 1.0:
        size = (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    fx, fy = crop.shape[1] / (x1 - x0), crop.shape[0] / (y1 - y0)
    light = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2Lab)[..., 0].astype(np.float32)
    gx = ((grid[..., 0] - x0 + 0.5) * fx - 0.5).astype(np.float32)
    gy = ((grid[..., 1] - y0 + 0.5) * fy - 0.5).astype(np.float32)
    out: np.ndarray = cv2.remap(light, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _grain(light: np.ndarray) -> float:
    """The skin's own spread of lightness (pores, grain, JPEG noise): the robust spread of what a
    local mean does not explain, over the strip (mostly skin)."""
    detail = light - cv2.GaussianBlur(light, (0, 0), 2.0)
    return max(1.4826 * float(np.median(np.abs(detail))), 0.5)


def _edges(
    light: np.ndarray, v: np.ndarray, thick: np.ndarray, spread: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The columns that hold brow, and in each its upper and lower edge (samples above the
    mid-line). ``v``: each row's height above the mid-line, ``thick``: the mesh's width per column
    (samples); ``spread``: the skin's grain."""
    nv, nu = light.shape
    rows, c = np.arange(nv)[:, None], np.arange(nu)
    band = (v[:, None] <= 0.5 * thick) & (v[:, None] >= -0.5 * thick - CORE_BELOW * SAMPLES)
    core = np.argmin(np.where(band, light, np.inf), axis=0)
    l_core = light[core, c]
    forehead = _masked_quantile(light, rows < core - SKIN_GAP * SAMPLES, 0.5)
    lid_rows = (rows > core + LID_GAP[0] * SAMPLES) & (rows < core + LID_GAP[1] * SAMPLES)
    lid = _masked_quantile(light, lid_rows, 0.75)
    top = v[0] - _crossing(light, core, l_core + TOP_LEVEL * (forehead - l_core), -1)
    bottom = v[0] - _crossing(light, core, l_core + BOTTOM_LEVEL * (lid - l_core), +1)
    top = _trust(top, 0.5 * thick, forehead - l_core, spread)
    bottom = _trust(bottom, -0.5 * thick - LOWER_PRIOR * SAMPLES, lid - l_core, spread)
    cols = _extent(forehead - l_core, spread)
    if cols is None:
        return None
    k = max(1, round(SMOOTH_EDGE * SAMPLES))
    top, bottom = median_filter(top, k)[cols], median_filter(bottom, k)[cols]
    mid, half = (top + bottom) / 2, (top - bottom) / 2
    half = np.minimum(half, MAX_WIDEN * float(np.median(half)))
    # the ends rounded (a quarter ellipse over CAP), as a parsing map draws them
    d = np.minimum(np.arange(len(cols)), np.arange(len(cols))[::-1]) + 0.5
    half = half * np.sqrt(1 - (1 - np.minimum(d / (CAP * SAMPLES), 1)) ** 2)
    return cols, mid + half, mid - half


def _trust(edge: np.ndarray, prior: np.ndarray, contrast: np.ndarray, spread: float) -> np.ndarray:
    """An edge found in the photo, kept within ``REACH`` of the mesh's (``prior``) and blended into
    it where its side's contrast is within ``TRUST`` skin spreads."""
    w = np.clip(contrast / (TRUST * spread) - 1.0, 0.0, 1.0)
    reach = REACH * SAMPLES
    out: np.ndarray = w * np.clip(edge, prior - reach, prior + reach) + (1 - w) * prior
    return out


def _extent(contrast: np.ndarray, spread: float) -> np.ndarray | None:
    """The columns the brow spans: from past the mesh's head out to where the tail fades."""
    nu = len(contrast)
    u = np.linspace(-PAST_ENDS, 1 + PAST_ENDS, nu)
    typical = float(np.median(contrast[np.abs(u - 0.5) < 0.25]))
    if typical < MIN_CONTRAST * spread:
        return None
    has = (contrast > MIN_CONTRAST * spread) & (contrast > END_SHARE * typical)
    first = int(np.searchsorted(u, TAIL_FROM))
    while first > 0 and has[first - 1]:
        first -= 1
    last = int(np.searchsorted(u, 1.0 + HEAD_PAST))
    return np.arange(first, min(last, nu)) if last - first >= 4 else None


def _crossing(light: np.ndarray, core: np.ndarray, level: np.ndarray, direction: int) -> np.ndarray:
    """Per column, the fractional row where the lightness first comes back to ``level`` walking
    from the core up (``direction`` -1) or down (+1); the strip's end where it never does."""
    nv, nu = light.shape
    rows = np.arange(nv)[:, None]
    back = light >= level
    if direction < 0:
        r = np.where(back & (rows < core), rows, -1).max(axis=0)
        r = np.maximum(r, 0)
        before = np.minimum(r + 1, nv - 1)
    else:
        r = np.where(back & (rows > core), rows, nv).min(axis=0)
        r = np.minimum(r, nv - 1)
        before = np.maximum(r - 1, 0)
    c = np.arange(nu)
    at, prev = light[r, c], light[before, c]
    frac = np.clip((at - level) / np.maximum(at - prev, 1e-6), 0.0, 1.0)
    out: np.ndarray = r - direction * frac
    return out


def _masked_quantile(a: np.ndarray, mask: np.ndarray, q: float) -> np.ndarray:
    """Per column, the ``q`` quantile of the entries ``mask`` keeps (nearest rank; the column's
    largest entry where it keeps none)."""
    n = mask.sum(axis=0)
    ranked = np.sort(np.where(mask, a, np.inf), axis=0)
    k = np.clip(np.round(q * (n - 1)), 0, None).astype(int)
    out: np.ndarray = np.where(n > 0, ranked[k, np.arange(a.shape[1])], a.max(axis=0))
    return out
