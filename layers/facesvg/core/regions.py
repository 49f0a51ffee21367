"""Region masks on the upright canvas: label regions, and regions carved from skin with landmark loops.

Every function takes the warped label map ``(S, S)`` uint8 and the warped landmarks ``(N, 2)`` and
returns binary masks as ``Blob`` (a uint8 0/1 ROI plus its top-left corner), so the work stays
proportional to the region, not to the canvas. "left"/"right" are the viewer's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core.smooth import smooth_closed

SKIN = 1
BROWS = (2, 3)
EYES = (4, 5)
NOSE = 6
UPPER_LIP = 7
MOUTH = 8
LOWER_LIP = 9
HAIR = 10

REGION_NAMES = (
    "face",
    "forehead",
    "left_eyebrow",
    "right_eyebrow",
    "left_eye",
    "right_eye",
    "left_undereye",
    "right_undereye",
    "left_cheek",
    "right_cheek",
    "nose",
    "upper_lip",
    "lower_lip",
    "chin",
    "left_ear",
    "right_ear",
)

OVAL_GROW = 1.04  # the landmark oval sits just inside the skin edge; cheeks/chin may reach it
FOREHEAD_STRETCH = 1.9  # the oval's top is below the hairline: stretch its upper half upwards
FOREHEAD_WIDEN = 1.12  # ... and a little sideways, so the temples reach the hair too


@dataclass(frozen=True)
class Blob:
    mask: np.ndarray  # (h, w) uint8 0/1
    x0: int
    y0: int
    contour: np.ndarray | None = None  # (N, 2) int32 outer contour in canvas px, once it is one blob

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))


@dataclass(frozen=True)
class Geometry:
    """Landmark-derived lines shared by the carvers, in canvas coordinates."""

    pts: np.ndarray
    size: int
    left: str  # "R" or "L": which subject side is on the viewer's left
    oval: np.ndarray  # (36, 2) face oval
    mid_a: float  # facial midline x = mid_a * y + mid_b
    mid_b: float
    scale: float  # typical feature length (inter-eye distance), px

    def idx(self, name: str, side: str) -> np.ndarray:
        return self.pts[list(getattr(topo, f"{name}_{side}"))]


def geometry(pts: np.ndarray, size: int) -> Geometry:
    mid = pts[list(topo.MIDLINE)]
    a, b = np.polyfit(mid[:, 1], mid[:, 0], 1)
    eye_r = pts[list(topo.EYE_R)].mean(0)
    eye_l = pts[list(topo.EYE_L)].mean(0)
    left = "R" if eye_r[0] < eye_l[0] else "L"
    return Geometry(
        pts=pts,
        size=size,
        left=left,
        oval=pts[list(topo.FACE_OVAL)],
        mid_a=float(a),
        mid_b=float(b),
        scale=float(np.hypot(*(eye_r - eye_l))),
    )


# ------------------------------------------------------------------------------------- primitives


def _clip_box(x0: float, y0: float, x1: float, y1: float, size: int) -> tuple[int, int, int, int]:
    return (
        max(int(np.floor(x0)), 0),
        max(int(np.floor(y0)), 0),
        min(int(np.ceil(x1)) + 1, size),
        min(int(np.ceil(y1)) + 1, size),
    )


def poly_blob(poly: np.ndarray, size: int) -> Blob:
    """Filled polygon (sub-pixel vertices) as a blob clipped to the canvas."""
    (ax, ay), (bx, by) = poly.min(0), poly.max(0)
    x0, y0, x1, y1 = _clip_box(ax, ay, bx, by, size)
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if mask.size:
        fixed = np.rint((poly - (x0, y0)) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return Blob(mask, x0, y0)


def crop(full: np.ndarray, blob: Blob) -> np.ndarray:
    h, w = blob.mask.shape
    return full[blob.y0 : blob.y0 + h, blob.x0 : blob.x0 + w]


def keep_largest(blob: Blob, min_area: float, open_px: int = 0) -> Blob | None:
    """Largest blob (after an optional opening), holes filled, or None when below ``min_area``.

    Contours, not connected-component labelling: they are what the SVG needs anyway and are
    several times cheaper on a large mask.
    """
    mask = blob.mask
    if not mask.size:
        return None
    if open_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * open_px + 1, 2 * open_px + 1))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    areas = [cv2.contourArea(c) for c in contours]
    best = contours[int(np.argmax(areas))]
    x, y, w, h = cv2.boundingRect(best)
    filled = np.zeros((h, w), np.uint8)
    cv2.drawContours(filled, [best], 0, 1, thickness=cv2.FILLED, offset=(-x, -y))
    # contourArea ignores the boundary pixels' outer halves; the filled count is the real area.
    if np.count_nonzero(filled) < min_area:
        return None
    contour = best.reshape(-1, 2) + np.array([blob.x0, blob.y0])
    return Blob(filled, blob.x0 + x, blob.y0 + y, contour.astype(np.int32))


def grow(poly: np.ndarray, factor: float) -> np.ndarray:
    c = poly.mean(0)
    return c + (poly - c) * factor


def side_of_midline(g: Geometry, blob: Blob, viewer_left: bool) -> np.ndarray:
    """Mask (blob-shaped) of the pixels on the viewer's left (or right) of the facial midline."""
    h, w = blob.mask.shape
    ys = np.arange(blob.y0, blob.y0 + h, dtype=np.float64)
    mid_x = g.mid_a * ys + g.mid_b - blob.x0
    xs = np.arange(w, dtype=np.float64)
    left = xs[None, :] < mid_x[:, None]
    return left if viewer_left else ~left


def in_range(labels: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """0/1 uint8 mask of ``lo <= label <= hi`` (cv2.inRange: one fast pass, no bool temporaries)."""
    mask: np.ndarray = np.asarray(cv2.inRange(labels, lo, hi), np.uint8)
    return mask & 1


def label_bbox_blob(labels: np.ndarray, values: tuple[int, ...]) -> Blob:
    """The pixels of a run of consecutive label values, cut to their bounding box."""
    mask = in_range(labels, min(values), max(values))
    x, y, w, h = cv2.boundingRect(mask)
    return Blob(mask[y : y + h, x : x + w], x, y)


# ------------------------------------------------------------------------------------- the regions


def label_regions(labels: np.ndarray, g: Geometry, min_area: float) -> dict[str, Blob | None]:
    """Regions that follow their own label; paired labels are split by the facial midline."""
    out: dict[str, Blob | None] = {}
    for pair, name in ((BROWS, "eyebrow"), (EYES, "eye")):
        both = label_bbox_blob(labels, pair)
        for viewer in ("left", "right"):
            half = side_of_midline(g, both, viewer == "left")
            out[f"{viewer}_{name}"] = keep_largest(Blob(both.mask & half, both.x0, both.y0), min_area)
    out["nose"] = keep_largest(label_bbox_blob(labels, (NOSE,)), min_area)
    out["upper_lip"] = keep_largest(label_bbox_blob(labels, (UPPER_LIP,)), min_area)
    out["lower_lip"] = keep_largest(label_bbox_blob(labels, (LOWER_LIP,)), min_area)
    return out


def _carve(poly: np.ndarray, skin: np.ndarray, g: Geometry, extra: np.ndarray | None = None) -> Blob:
    """Skin inside ``poly`` (and inside ``extra``, a full-canvas 0/1 mask, when given)."""
    blob = poly_blob(poly, g.size)
    mask = blob.mask & crop(skin, blob)
    if extra is not None:
        mask &= crop(extra, blob)
    return Blob(mask, blob.x0, blob.y0)


def round_corners(poly: np.ndarray, sigma: float) -> np.ndarray:
    """The carving polygon with its corners rounded (radius ~ sigma): designers draw no sharp kinks."""
    return smooth_closed(poly, sigma, step=2.0)


def clip_below(poly: np.ndarray, y_cut: float) -> np.ndarray:
    """The part of a closed polygon with ``y <= y_cut`` (Sutherland-Hodgman against one line)."""
    out: list[np.ndarray] = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        p_in, q_in = p[1] <= y_cut, q[1] <= y_cut
        if p_in:
            out.append(p)
        if p_in != q_in:
            t = (y_cut - p[1]) / (q[1] - p[1])
            out.append(p + t * (q - p))
    return np.array(out) if len(out) >= 3 else poly[:0]


def undereye(skin: np.ndarray, g: Geometry, side: str) -> Blob:
    """Band between the lower eyelid and the third ring of points below the eye."""
    lid = g.idx("EYE_LOWER0", side)
    ring = g.idx("EYE_LOWER3", side)
    return _carve(round_corners(np.vstack([lid, ring[::-1]]), 0.02 * g.scale), skin, g)


def _oval_arc(g: Geometry, ids: tuple[int, ...]) -> np.ndarray:
    pos = {v: i for i, v in enumerate(topo.FACE_OVAL)}
    return grow(g.oval, OVAL_GROW)[[pos[i] for i in ids]]


def cheek(skin: np.ndarray, g: Geometry, side: str, face_zone: np.ndarray) -> Blob:
    """Below the under-eye ring, lateral to the nose and nasolabial fold, above the mouth-corner line."""
    ring = g.idx("EYE_LOWER3", side)  # lateral -> medial
    nose_side = g.idx("NOSE_SIDE", side)[1:]  # top -> bottom (the first point is the ring's last)
    arc = _oval_arc(g, topo.CHEEK_ARC_R if side == "R" else topo.CHEEK_ARC_L)  # jaw -> temple
    corner = g.pts[topo.MOUTH_CORNER_R if side == "R" else topo.MOUTH_CORNER_L]
    poly = clip_below(np.vstack([ring, nose_side, arc]), float(corner[1]))
    if len(poly) == 0:
        return Blob(np.zeros((0, 0), np.uint8), 0, 0)
    return _carve(round_corners(poly, 0.05 * g.scale), skin, g, face_zone)


def chin(skin: np.ndarray, g: Geometry, face_zone: np.ndarray) -> Blob:
    """Below the lower lip, from the mouth corners down and round the jaw (a U, not a box)."""
    lip = g.pts[list(topo.LOWER_LIP_OUTER)]  # right corner -> left corner
    jaw = _oval_arc(g, topo.CHIN_ARC)  # left -> right along the jaw
    poly = round_corners(np.vstack([lip, jaw]), 0.05 * g.scale)
    return _carve(poly, skin, g, face_zone)


def forehead(skin: np.ndarray, g: Geometry) -> Blob:
    """Skin above the brow line, inside the upper face oval stretched upwards to pass the hairline."""
    brow_r = g.idx("BROW_UPPER", "R")  # lateral -> medial
    brow_l = g.idx("BROW_UPPER", "L")[::-1]  # medial -> lateral
    line = np.vstack([brow_r, brow_l])
    level = float(line[:, 1].mean())
    pos = {v: i for i, v in enumerate(topo.FACE_OVAL)}
    arc = g.oval[[pos[i] for i in topo.FOREHEAD_ARC]].copy()  # subject's left temple -> right temple
    above = arc[:, 1] < level
    arc[above, 1] = level - (level - arc[above, 1]) * FOREHEAD_STRETCH
    centre_x = float(line[:, 0].mean())
    arc[:, 0] = centre_x + (arc[:, 0] - centre_x) * FOREHEAD_WIDEN
    poly = round_corners(np.vstack([line, arc]), 0.05 * g.scale)
    return _carve(poly, skin, g)


def ears(skin: np.ndarray, g: Geometry, face_zone: np.ndarray) -> tuple[Blob, Blob]:
    """Skin outside the (grown) face oval, between brow and mouth height, beside each side of it."""
    pts = g.pts
    brow_y = float(np.vstack([g.idx("BROW_UPPER", "R"), g.idx("BROW_UPPER", "L")])[:, 1].min())
    mouth_y = float(max(pts[topo.MOUTH_CORNER_R, 1], pts[topo.MOUTH_CORNER_L, 1]))
    y0 = max(int(brow_y - 0.1 * g.scale), 0)
    y1 = min(int(mouth_y + 0.4 * g.scale), g.size)
    reach = 0.15 * g.scale  # an ear may tuck in front of the oval's edge on a turned face
    x_left = min(max(int(g.oval[:, 0].min() + reach), 0), g.size)
    x_right = min(max(int(g.oval[:, 0].max() - reach), 0), g.size)
    out = []
    for x0, x1 in ((0, x_left), (x_right, g.size)):
        band = skin[y0:y1, x0:x1] & (1 - face_zone[y0:y1, x0:x1])
        out.append(Blob(band, x0, y0))
    return out[0], out[1]


def face_zone_mask(g: Geometry) -> np.ndarray:
    zone = np.zeros((g.size, g.size), np.uint8)
    fixed = np.rint(grow(g.oval, OVAL_GROW) * 16).astype(np.int32)
    cv2.fillPoly(zone, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return zone


def all_regions(labels: np.ndarray, pts: np.ndarray) -> dict[str, Blob | None]:
    """Every named region as a blob on the canvas (None = not visible)."""
    size = labels.shape[0]
    g = geometry(pts, size)
    oval_area = float(cv2.contourArea(g.oval.astype(np.float32)))
    small = 5e-4 * oval_area
    carved = 2e-3 * oval_area
    skin = in_range(labels, SKIN, SKIN)
    zone = face_zone_mask(g)
    open_px = max(1, round(0.012 * g.scale))

    out = label_regions(labels, g, small)
    vl, vr = g.left, ("L" if g.left == "R" else "R")
    # Carved regions, in priority order; each one loses what an earlier one took.
    taken = np.zeros_like(skin)
    plan: list[tuple[str, Blob, float]] = [
        ("left_undereye", undereye(skin, g, vl), carved),
        ("right_undereye", undereye(skin, g, vr), carved),
        ("left_cheek", cheek(skin, g, vl, zone), carved),
        ("right_cheek", cheek(skin, g, vr, zone), carved),
        ("chin", chin(skin, g, zone), carved),
        ("forehead", forehead(skin, g), carved),
    ]
    ear_l, ear_r = ears(skin, g, zone)
    plan += [("left_ear", ear_l, 8e-3 * oval_area), ("right_ear", ear_r, 8e-3 * oval_area)]
    for name, blob, min_area in plan:
        free = Blob(blob.mask & (1 - crop(taken, blob)), blob.x0, blob.y0)
        kept = keep_largest(free, min_area, open_px)
        out[name] = kept
        if kept is not None:
            crop(taken, kept)[:] |= kept.mask

    face = in_range(labels, SKIN, LOWER_LIP)
    out["face"] = keep_largest(Blob(face, 0, 0), carved)
    return {name: out.get(name) for name in REGION_NAMES}


def silhouette(labels: np.ndarray) -> np.ndarray:
    """Person silhouette (skin + features + hair), holes closed: the ``mask_profile`` clip."""
    return in_range(labels, SKIN, HAIR)
