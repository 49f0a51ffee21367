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


@dataclass(frozen=True)
class Blob:
    mask: np.ndarray  # (h, w) uint8 0/1
    x0: int
    y0: int

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
    """Largest connected component (after an optional opening), or None when below ``min_area``."""
    mask = blob.mask
    if open_px > 0 and mask.size:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * open_px + 1, 2 * open_px + 1))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    if not mask.size:
        return None
    n, comp, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < min_area:
        return None
    x, y, w, h = (int(v) for v in stats[best, :4])
    return Blob((comp[y : y + h, x : x + w] == best).astype(np.uint8), blob.x0 + x, blob.y0 + y)


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


def label_bbox_blob(labels: np.ndarray, values: tuple[int, ...]) -> Blob:
    mask = (
        np.isin(labels, values).astype(np.uint8)
        if len(values) > 1
        else (labels == values[0]).astype(np.uint8)
    )
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


def undereye(skin: np.ndarray, g: Geometry, side: str) -> Blob:
    """Band between the lower eyelid and the third ring of points below the eye."""
    lid = g.idx("EYE_LOWER0", side)
    ring = g.idx("EYE_LOWER3", side)
    return _carve(np.vstack([lid, ring[::-1]]), skin, g)


def cheek(skin: np.ndarray, g: Geometry, side: str, face_zone: np.ndarray) -> Blob:
    """Below the under-eye ring, lateral to the nose and nasolabial fold, above the mouth-corner line."""
    pts = g.pts
    ring = g.idx("EYE_LOWER3", side)  # lateral -> medial
    nose_side = g.idx("NOSE_SIDE", side)[1:]  # top -> bottom (first point is the ring's last)
    oval = grow(g.oval, OVAL_GROW)
    n = len(topo.FACE_OVAL)
    pos = {v: i for i, v in enumerate(topo.FACE_OVAL)}
    # Oval arc from the jaw (below the mouth) up to the temple (eye level), on this side.
    if side == "R":
        arc_ids = [pos[i] for i in (136, 172, 58, 132, 93, 234, 127)]
    else:
        arc_ids = [pos[i] for i in (365, 397, 288, 361, 323, 454, 356)]
    arc = oval[[i % n for i in arc_ids]]
    poly = np.vstack([ring, nose_side, arc])
    blob = _carve(poly, skin, g, face_zone)
    corner = pts[topo.MOUTH_CORNER_R if side == "R" else topo.MOUTH_CORNER_L]
    cut = int(np.ceil(corner[1])) - blob.y0  # the mouth-corner line, level on the upright canvas
    mask = blob.mask.copy()
    if cut < mask.shape[0]:
        mask[max(cut, 0) :] = 0
    return Blob(mask, blob.x0, blob.y0)


def chin(skin: np.ndarray, g: Geometry, face_zone: np.ndarray) -> Blob:
    """Below the lower lip, between the mouth corners, down to the jaw (the face zone)."""
    lip = g.pts[list(topo.LOWER_LIP_OUTER)]
    r, l_ = lip[0], lip[-1]
    bottom = g.size + 1.0
    poly = np.vstack([lip, [[l_[0], bottom], [r[0], bottom]]])
    return _carve(poly, skin, g, face_zone)


def forehead(skin: np.ndarray, g: Geometry) -> Blob:
    """Skin above the brow line (extended across the face) inside the upward-stretched face oval."""
    first, second = ("R", "L") if g.left == "R" else ("L", "R")
    brow_a = g.idx("BROW_UPPER", first)  # lateral -> medial
    brow_b = g.idx("BROW_UPPER", second)[::-1]  # medial -> lateral
    line = np.vstack([brow_a, brow_b])
    far = 2.0 * g.size
    brow_poly = np.vstack([[[line[0, 0] - far, line[0, 1]]], line, [[line[-1, 0] + far, line[-1, 1]]]])
    brow_poly = np.vstack([brow_poly, [[brow_poly[-1, 0], -far], [brow_poly[0, 0], -far]]])
    # Stretch the part of the oval above the brow line upwards so it reaches the hairline.
    level = float(line[:, 1].mean())
    oval = g.oval.copy()
    above = oval[:, 1] < level
    oval[above, 1] = level - (level - oval[above, 1]) * FOREHEAD_STRETCH
    zone = poly_blob(oval, g.size)
    band = poly_blob(brow_poly, g.size)
    # Intersect the two blobs on the zone's box.
    mask = zone.mask & crop(skin, zone)
    bx = _shift(band, zone)
    return Blob(mask & bx, zone.x0, zone.y0)


def _shift(src: Blob, dst: Blob) -> np.ndarray:
    """``src`` re-cut to ``dst``'s box (zeros where ``src`` does not reach)."""
    h, w = dst.mask.shape
    out = np.zeros((h, w), np.uint8)
    sx0, sy0 = max(dst.x0, src.x0), max(dst.y0, src.y0)
    sx1 = min(dst.x0 + w, src.x0 + src.mask.shape[1])
    sy1 = min(dst.y0 + h, src.y0 + src.mask.shape[0])
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - dst.y0 : sy1 - dst.y0, sx0 - dst.x0 : sx1 - dst.x0] = src.mask[
            sy0 - src.y0 : sy1 - src.y0, sx0 - src.x0 : sx1 - src.x0
        ]
    return out


def ears(skin: np.ndarray, g: Geometry, face_zone: np.ndarray) -> tuple[Blob, Blob]:
    """Skin outside the (grown) face oval, between brow and mouth height, on each side."""
    pts = g.pts
    brow_y = float(np.vstack([g.idx("BROW_UPPER", "R"), g.idx("BROW_UPPER", "L")])[:, 1].min())
    mouth_y = float(max(pts[topo.MOUTH_CORNER_R, 1], pts[topo.MOUTH_CORNER_L, 1]))
    y0 = max(int(brow_y - 0.1 * g.scale), 0)
    y1 = min(int(mouth_y + 0.4 * g.scale), g.size)
    band = (skin[y0:y1] & (1 - face_zone[y0:y1])).astype(np.uint8)
    blob = Blob(band, 0, y0)
    left = side_of_midline(g, blob, True)
    return Blob(band & left, 0, y0), Blob(band & ~left, 0, y0)


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
    skin = (labels == SKIN).astype(np.uint8)
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

    face = ((labels >= 1) & (labels <= 9)).astype(np.uint8)
    out["face"] = keep_largest(Blob(face, 0, 0), carved)
    return {name: out.get(name) for name in REGION_NAMES}


def silhouette(labels: np.ndarray) -> np.ndarray:
    """Person silhouette (skin + features + hair), holes closed: the ``mask_profile`` clip."""
    return ((labels >= 1) & (labels <= HAIR)).astype(np.uint8)
