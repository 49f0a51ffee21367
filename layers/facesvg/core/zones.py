"""Aesthetic zones: the areas aesthetic assessments talk about, as a second layer over the regions.

Each zone is skin inside a closed landmark chain (an *area*), skin within a band along a landmark
line (a *band*: folds and the jawline are lines, the zone is the skin either side of them), or, for
the perioral zone, skin in a ring round the lips. Zones may overlap
the regions (they are another layer) but never each other: they are carved in the order below, each
a pixel off the ones before it. Definitions: docs/regions.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core.blobs import EMPTY, Blob, disc, poly_blob
from facesvg.core.face_geometry import Geometry
from facesvg.core.region_names import ZONE_NAMES
from facesvg.core.regions import Carving, Scene, carve_in_order, round_corners

BAND = 0.09  # x inter-eye distance: a fold's zone is ~6 mm wide, 3 mm either side of the line
JAW_BAND = 0.14  # the jawline zone is wider: the mandible's border is felt over ~1 cm
PERIORAL = 0.12  # x inter-eye distance: the perioral ring's width round the lips (~7.5 mm)
SLIT = 2  # px either side of the perioral ring's opening (wide enough to survive smoothing)


@dataclass(frozen=True)
class Zone:
    name: str
    kind: str  # "area" | "band" | "perioral"
    chain: str  # topology name without the side suffix ("" for the perioral zone)
    width: float = BAND
    side: str = ""  # "left" / "right" (viewer's) for paired zones


def _paired(chain: str, kind: str = "area", width: float = BAND) -> list[Zone]:
    base = chain.lower()
    return [Zone(f"{v}_{base}", kind, chain, width, v) for v in ("left", "right")]


# Carving order = priority where two zones meet: the perioral ring first (the folds start where
# it ends), then the folds, the jawline (which the marionette lines end just above), then the areas.
ZONES: tuple[Zone, ...] = (
    Zone("perioral", "perioral", ""),
    *_paired("NASOLABIAL", "band"),
    *_paired("MARIONETTE", "band"),
    *_paired("JAWLINE", "band", JAW_BAND),
    *_paired("TEAR_TROUGH"),
    *_paired("UPPER_EYELID"),
    *_paired("CROWS_FEET"),
    *_paired("TEMPLE"),
    Zone("glabella", "area", "GLABELLA"),
)
assert tuple(z.name for z in ZONES) == ZONE_NAMES  # one order: region_names.ZONE_NAMES


def _points(g: Geometry, zone: Zone) -> np.ndarray:
    if not zone.side:
        return g.at(getattr(topo, zone.chain))
    return g.chain(zone.chain, g.left if zone.side == "left" else g.right)


def _band(line: np.ndarray, width: float, size: int) -> Blob:
    """Pixels within ``width / 2`` of a polyline (round caps), as a blob."""
    half = width / 2
    lo = np.floor(line.min(0) - half - 1).astype(int)
    hi = np.ceil(line.max(0) + half + 1).astype(int)
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), size), min(int(hi[1]), size)
    if x1 <= x0 or y1 <= y0:
        return EMPTY
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = np.rint((line - (x0, y0)) * 16).astype(np.int32)
    cv2.polylines(mask, [fixed], False, 1, thickness=max(1, round(width)), lineType=cv2.LINE_8, shift=4)
    return Blob(mask, x0, y0)


def _inside_the_oval(g: Geometry, line: np.ndarray, by: float) -> np.ndarray:
    """A line on the face oval moved ``by`` px towards the face's centre (the jawline lies inside)."""
    towards = g.oval.mean(0) - line
    return line + by * towards / np.maximum(np.hypot(*towards.T), 1e-9)[:, None]


def _perioral(g: Geometry) -> Blob:
    """A ring round the lips, open below the lower lip's middle: one outline that leaves them out."""
    lips = poly_blob(g.at(topo.LIPS_OUTER), g.size)
    w = max(1, round(PERIORAL * g.scale))
    grown = cv2.dilate(np.pad(lips.mask, w), disc(w))
    ring = _clipped(Blob(grown, lips.x0 - w, lips.y0 - w), g.size)
    # From between the lips straight down: through the lower lip (not skin) and the ring below it.
    mouth = g.at(topo.MOUTH_CENTRE).mean(0)
    x = round(mouth[0]) - ring.x0
    y = max(round(mouth[1]) - ring.y0, 0)
    mask = ring.mask.copy()
    mask[y:, max(x - SLIT, 0) : x + SLIT] = 0
    return Blob(mask, ring.x0, ring.y0)


def _clipped(blob: Blob, size: int) -> Blob:
    """A blob cut to the canvas (its corner may lie outside it)."""
    h, w = blob.mask.shape
    x0, y0 = max(blob.x0, 0), max(blob.y0, 0)
    x1, y1 = min(blob.x0 + w, size), min(blob.y0 + h, size)
    if x1 <= x0 or y1 <= y0:
        return EMPTY
    return Blob(blob.mask[y0 - blob.y0 : y1 - blob.y0, x0 - blob.x0 : x1 - blob.x0], x0, y0)


def shape(g: Geometry, zone: Zone) -> Blob:
    """Where the zone lies by its landmarks (before it is clipped to skin)."""
    if zone.kind == "band":
        line = _points(g, zone)
        if zone.chain == "JAWLINE":
            line = _inside_the_oval(g, line, zone.width * g.scale / 2)
        return _band(line, zone.width * g.scale, g.size)
    if zone.kind == "perioral":
        return _perioral(g)
    return poly_blob(round_corners(_points(g, zone), 0.04 * g.scale), g.size)


def carve_zones(sc: Scene, names: Iterable[str]) -> Carving:
    """The requested zones (in ``ZONES`` order) with their visibility; absent ones are None."""
    wanted = set(names)
    plan = []
    for zone in ZONES:
        if zone.name in wanted:
            blob = shape(sc.g, zone)
            plan.append((zone.name, blob, blob))
    blobs, vis = carve_in_order(sc, plan, np.zeros_like(sc.skin))
    return Carving(blobs, vis)
