"""Binary masks kept as a region of interest (``Blob``) and the raster primitives that make them.

Work stays proportional to a region, not to the canvas. Masks are uint8 0/1; coordinates are (x, y)
canvas pixels; polygons are ``(N, 2)`` float arrays with sub-pixel vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Blob:
    mask: np.ndarray  # (h, w) uint8 0/1
    x0: int
    y0: int
    contour: np.ndarray | None = None  # (N, 2) int32 outer contour in canvas px, once it is one blob

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))


EMPTY = Blob(np.zeros((0, 0), np.uint8), 0, 0)


def _clip_box(x0: float, y0: float, x1: float, y1: float, size: int) -> tuple[int, int, int, int]:
    return (
        max(int(np.floor(x0)), 0),
        max(int(np.floor(y0)), 0),
        min(int(np.ceil(x1)) + 1, size),
        min(int(np.ceil(y1)) + 1, size),
    )


def poly_blob(poly: np.ndarray, size: int) -> Blob:
    """Filled polygon (sub-pixel vertices) as a blob clipped to the canvas."""
    if len(poly) < 3:
        return EMPTY
    (ax, ay), (bx, by) = poly.min(0), poly.max(0)
    x0, y0, x1, y1 = _clip_box(ax, ay, bx, by, size)
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if mask.size:
        fixed = np.rint((poly - (x0, y0)) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return Blob(mask, x0, y0)


def fill_canvas(poly: np.ndarray, size: int) -> np.ndarray:
    """Filled polygon on a whole ``(size, size)`` canvas."""
    out = np.zeros((size, size), np.uint8)
    cv2.fillPoly(out, [np.rint(poly * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return out


def crop(full: np.ndarray, blob: Blob) -> np.ndarray:
    h, w = blob.mask.shape
    return full[blob.y0 : blob.y0 + h, blob.x0 : blob.x0 + w]


def disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return list(contours)


def filled(contour: np.ndarray, x0: int, y0: int) -> Blob:
    """One contour (ROI coordinates, offset ``x0, y0``) as a filled blob that knows its contour."""
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [contour], 0, 1, thickness=cv2.FILLED, offset=(-x, -y))
    outline = (contour.reshape(-1, 2) + np.array([x0, y0])).astype(np.int32)
    return Blob(mask, x0 + x, y0 + y, outline)


def keep_largest(blob: Blob, min_area: float, open_px: int = 0) -> Blob | None:
    """Largest blob (after an optional opening), holes filled, or None when below ``min_area``.

    Contours, not connected-component labelling: they are what the SVG needs anyway and are
    several times cheaper on a large mask.
    """
    mask = blob.mask
    if not mask.size:
        return None
    if open_px > 0:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc(open_px))
    contours = outer_contours(mask)
    if not contours:
        return None
    best = filled(max(contours, key=cv2.contourArea), blob.x0, blob.y0)
    # contourArea ignores the boundary pixels' outer halves; the filled count is the real area.
    return best if best.area >= min_area else None


def in_range(labels: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """0/1 uint8 mask of ``lo <= label <= hi`` (cv2.inRange: one fast pass, no bool temporaries)."""
    mask: np.ndarray = np.asarray(cv2.inRange(labels, lo, hi), np.uint8)
    return mask & 1


def label_bbox_blob(labels: np.ndarray, values: tuple[int, ...]) -> Blob:
    """The pixels of a run of consecutive label values, cut to their bounding box."""
    mask = in_range(labels, min(values), max(values))
    x, y, w, h = cv2.boundingRect(mask)
    return Blob(mask[y : y + h, x : x + w], x, y)
