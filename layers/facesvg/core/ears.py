"""Ears: the skin that stands out of the head's outline beside each side of the face.

LaPa labels ears as skin, so an ear is found, not labelled. Row by row beside the face we measure
how far the skin reaches out past the face oval; the head's own outline is that profile with every
bump shorter than an ear removed (a 1-D grey opening longer than any ear), and the ear is the skin
that stands out beyond it, between about brow and nose-base height (the ear's height in the facial
thirds), next to where the ear attaches (the tragus lies beside 234/93, 454/323). So a strip of
cheek or neck skin along the face's edge (a turned face's far side) is outline, not ear, and an ear
that the oval passes over (it happens when hair hides the jaw) is still found.

A frontal ear is a thin rim: a few pixels wide on a small canvas, where whole-pixel columns and a
one-pixel gap to its neighbours would decide a third of it. So it is traced in a frame of its own,
the ear's window resampled from the label map at ``TRACE_UNIT`` px per inter-eye distance whatever
the canvas or the photo's size, and its contour mapped back to the canvas with sub-pixel vertices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core import visibility
from facesvg.core.align import compose
from facesvg.core.blobs import EMPTY, Blob, disc, filled, outer_contours, poly_blob
from facesvg.core.face_geometry import Geometry, geometry
from facesvg.core.labels import BACKGROUND, GLASSES, HAIR
from facesvg.core.smooth import PIXEL_EDGE, outset

# Lengths in inter-eye distances (about 6.3 cm on an adult; an ear is about as long).
ABOVE_BROW = 0.25  # the ear's top may sit this far above the brows...
BELOW_NOSE = 0.5  # ... and the lobe this far below the nose base
OUTLINE_SPAN = 1.4  # the outline follows nothing shorter than this (longer than an ear)
CONTEXT = 0.9  # rows measured above and below the ear zone, so the outline has support there
REACH_OUT = 1.1  # how far out from the oval an ear can reach
REACH_IN = 0.12  # how far inside the oval the outline may run (the oval can pass over an ear)
STANDS_OUT = 0.02  # skin must stand out this much past the outline to be ear
RIM = 0.015  # a light opening: frays of the label edge are not ear
MIN_AREA = 0.03  # x scale^2: smaller is a speck, or an ear almost fully hidden
# The auricle projects 1.5-2 cm from the head: even seen from the front its rim stands well past the
# cheek's outline and it is wider than a strip of cheek skin along the face's edge (~0.5 cm).
MIN_STANDOUT = 0.12  # how far past the face oval the ear's rim must reach (~8 mm)
MIN_WIDTH = 0.13  # the ear's widest row (~8 mm)
TRACE_UNIT = 160.0  # px per inter-eye distance in the frame an ear is traced in (~ an 820 px canvas)


# A head turned by yaw t foreshortens the side turning away: with the head as a cylinder, the face
# sides ~70 deg round it and the nose tip 0.3 radius in front, that side's share of the nose-to-side
# widths is ~0.31 at 20 deg and ~0.26 at 25 deg. Turned further, the head hides that side's ear.
TURNED_AWAY_SHARE = 0.25


def turned_away(g: Geometry, viewer_left: bool) -> bool:
    """True when this side of the face is turned so far away that the head hides its ear."""
    nose_x = float(g.pts[topo.NOSE_TIP, 0])
    near = abs(float(_anchors(g, viewer_left)[:, 0].mean()) - nose_x)
    far = abs(float(_anchors(g, not viewer_left)[:, 0].mean()) - nose_x)
    return near < TURNED_AWAY_SHARE * (near + far)


def _levels(g: Geometry) -> tuple[float, float]:
    brows = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")])
    return float(brows[:, 1].min()), float(g.pts[topo.NOSE_BASE, 1])


def _anchors(g: Geometry, viewer_left: bool) -> np.ndarray:
    return g.chain("EAR_ANCHOR", g.left if viewer_left else g.right)


def _outer_x(mask: np.ndarray, out: float) -> np.ndarray:
    """Per row, the outermost set column (towards ``out``), or -1 where the row is empty."""
    w = mask.shape[1]
    cols = mask[:, ::-1] if out > 0 else mask
    first = np.argmax(cols > 0, axis=1)
    x = (w - 1 - first) if out > 0 else first
    return np.where(mask.any(axis=1), x, -1)


def _window(g: Geometry, viewer_left: bool) -> tuple[float, float, float, float]:
    """The canvas box ``find`` searches: beside the anchors, from above the brows to below the nose."""
    out = -1.0 if viewer_left else 1.0
    brow_y, nose_y = _levels(g)
    top, bottom = brow_y - (ABOVE_BROW + CONTEXT) * g.scale, nose_y + (BELOW_NOSE + CONTEXT) * g.scale
    ax = float(_anchors(g, viewer_left)[:, 0].mean())
    xa, xb = sorted((ax - out * 0.6 * g.scale, ax + out * REACH_OUT * g.scale))
    return xa, top, xb, bottom


OUTSIDE = 255  # not a label: what the frame shows past the label map's edge


@dataclass(frozen=True)
class Frame:
    """The ear's window of the canvas resampled from the label map at ``TRACE_UNIT`` px per
    inter-eye distance (see the module's doc)."""

    to_frame: np.ndarray  # 2x3 canvas px -> frame px
    labels: np.ndarray  # the label map seen in the frame (nearest); OUTSIDE past its edge
    skin: np.ndarray  # 0/1: what the head's outline is traced from
    g: Geometry  # the landmarks in the frame
    oval: np.ndarray  # 0/1 filled face oval
    viewer_left: bool

    @cached_property
    def profile(self) -> Profile | None:
        return _profile(self.skin, self.oval, self.g, self.viewer_left)

    def warp(self, canvas_mask: np.ndarray, box: Blob) -> np.ndarray:
        """A canvas 0/1 mask seen in the frame (nearest), over the frame blob ``box``'s extent."""
        m = self.to_frame - np.array([[0.0, 0.0, box.x0], [0.0, 0.0, box.y0]])
        shape = box.mask.shape[::-1]
        return np.asarray(cv2.warpAffine(canvas_mask, m, shape, flags=cv2.INTER_NEAREST))


def frame(
    labels: np.ndarray,
    to_canvas: np.ndarray,
    g: Geometry,
    viewer_left: bool,
    is_skin: Callable[[np.ndarray], np.ndarray],
) -> Frame | None:
    """The frame of one side's ear: ``labels`` is the label map at its own resolution, ``to_canvas``
    its px -> canvas px (2x3), ``is_skin`` labels -> 0/1 skin. None when the window is off the canvas."""
    if not g.scale > 0:  # coincident eyes: no unit to trace in (refused earlier as InvalidLandmarks)
        return None
    zoom = TRACE_UNIT / g.scale  # the frame is ~1.7 x 3.3 inter-eye distances: ~270 x 530 px
    xa, ya, xb, yb = _window(g, viewer_left)
    xa, ya = max(xa, -0.5), max(ya, -0.5)
    xb, yb = min(xb, g.size - 0.5), min(yb, g.size - 0.5)
    if xb - xa < 2 or yb - ya < 2:
        return None
    # canvas -> frame: the window's corner (a pixel edge) at the frame's, zoom frame px per canvas px.
    to_frame = np.array([[zoom, 0.0, -(xa + 0.5) * zoom - 0.5], [0.0, zoom, -(ya + 0.5) * zoom - 0.5]])
    size = (int(np.ceil((xb - xa) * zoom)), int(np.ceil((yb - ya) * zoom)))
    seen = cv2.warpAffine(
        labels, compose(to_frame, to_canvas), size, flags=cv2.INTER_NEAREST, borderValue=OUTSIDE
    )
    gf = geometry(g.pts @ to_frame[:, :2].T + to_frame[:, 2], max(size))
    oval = np.zeros(size[::-1], np.uint8)
    cv2.fillPoly(oval, [np.rint(gf.oval * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return Frame(to_frame, seen, is_skin(seen), gf, oval, viewer_left)


def trace(fr: Frame, taken: np.ndarray) -> tuple[Blob, np.ndarray]:
    """``find`` in the ear's frame: the ear on the frame's side as a blob on the canvas whose
    contour has sub-pixel vertices (or an empty blob), and as the frame's 0/1 mask.

    ``taken``: the canvas pixels other regions hold."""
    none = EMPTY, np.zeros_like(fr.skin)
    # Found in all the skin (the outline then does not depend on how the neighbours were cut), then
    # kept off what the neighbours hold.
    ear = find(fr.skin, fr.oval, fr.g, fr.viewer_left, fr.profile)
    if ear.contour is None:
        return none
    zoom = float(fr.to_frame[0, 0])
    held = fr.warp(taken, ear)
    if round(zoom) > 1:  # a claim holds a canvas pixel round itself: a frame pixel here, as at zoom 1
        held = cv2.erode(held, disc(round(zoom) - 1))
    free = ear.mask & (1 - held)
    contours = outer_contours(free)
    if not contours:
        return none
    ear = filled(max(contours, key=cv2.contourArea), ear.x0, ear.y0)
    assert ear.contour is not None
    in_frame = np.zeros_like(fr.skin)
    in_frame[ear.y0 : ear.y0 + ear.mask.shape[0], ear.x0 : ear.x0 + ear.mask.shape[1]] = ear.mask
    back = cv2.invertAffineTransform(fr.to_frame)
    # A frame contour runs through frame pixel centres; the renderer moves every outline a fixed
    # share of a canvas pixel outwards: keep the ear's edge where a frame pixel's would be.
    contour = outset(
        ear.contour.astype(np.float64) @ back[:, :2].T + back[:, 2], -PIXEL_EDGE * (1 - 1 / zoom)
    )
    blob = poly_blob(contour, taken.shape[0])
    return (Blob(blob.mask, blob.x0, blob.y0, contour), in_frame) if blob.area else none


def seen(fr: Frame, ear: np.ndarray) -> visibility.Visibility:
    """How much of one side's ear shows, row by row over the ear's length, in its frame.

    The ear's length is about the nose's (brow to nose base), centred on the tragus beside the
    middle ear anchor. A row is seen where the ear (``ear``: the frame's 0/1 mask of it) is; else
    what lies just past the side of the head there (``MIN_STANDOUT`` wide, what any auricle covers
    seen from the front) hides it: hair, glasses, the photo's edge; background there is no ear to
    hide (a small ear, or one that lies flat), and counts for nothing. So hair behind a thin frontal
    ear hides none of it, and hair over the top of an ear hides that share of its rows.
    """
    g, viewer_left, prof = fr.g, fr.viewer_left, fr.profile
    out = -1.0 if viewer_left else 1.0
    if prof is None:
        return visibility.NOT_IN_VIEW
    x0, x1, y0, edge_oval, _ = prof
    brow_y, nose_y = _levels(g)
    centre, half = float(_anchors(g, viewer_left)[1, 1]), (nose_y - brow_y) / 2
    r0, r1 = max(int(np.ceil(centre - half)), y0), min(int(np.floor(centre + half)) + 1, y0 + len(edge_oval))
    if r1 <= r0:
        return visibility.NOT_IN_VIEW
    rows = slice(r0, r1)
    edge = _outer_x(fr.skin[rows, x0:x1], out).astype(np.float32)
    oval = edge_oval[r0 - y0 : r1 - y0]
    edge = np.where(edge >= 0, edge, oval)  # no skin in the row: the head's side is the oval's
    past = out * (np.arange(x1 - x0, dtype=np.float32)[None, :] - edge[:, None])
    band = (past > 0) & (past <= MIN_STANDOUT * g.scale)
    labels = fr.labels[rows, x0:x1]
    inside = labels != OUTSIDE
    counts = {
        "hair": (band & inside & (labels == HAIR)).sum(axis=1),
        "glasses": (band & inside & (labels == GLASSES)).sum(axis=1),
        "outside_frame": (band & ~inside).sum(axis=1),
        "background": (band & inside & (labels == BACKGROUND)).sum(axis=1),
    }
    names = list(counts)
    what = np.asarray([names[i] for i in np.argmax(np.stack([counts[n] for n in names]), axis=0)])
    shown = ear[rows].any(axis=1)
    hidden = {n: int(np.count_nonzero(~shown & (what == n))) for n in names if n != "background"}
    total = int(np.count_nonzero(shown)) + sum(hidden.values())
    if total == 0:
        return visibility.NOT_IN_VIEW
    by = tuple(
        n for n, k in sorted(hidden.items(), key=lambda p: -p[1]) if k >= visibility.REPORT_SHARE * total
    )
    return visibility.Visibility(round(int(np.count_nonzero(shown)) / total, 3), by)


Profile = tuple[int, int, int, np.ndarray, np.ndarray]  # x0, x1, y0 of the window; edge_oval, outline


def _profile(skin: np.ndarray, oval: np.ndarray, g: Geometry, viewer_left: bool) -> Profile | None:
    """The window beside the face ``find`` searches, and per window row the oval's outer column and
    how far the head's outline (the skin's reach with every bump shorter than an ear removed)
    stands past it (px; negative inside). None when the window is off the canvas."""
    out = -1.0 if viewer_left else 1.0
    brow_y, nose_y = _levels(g)
    top, bottom = brow_y - ABOVE_BROW * g.scale, nose_y + BELOW_NOSE * g.scale
    ya = max(int(top - CONTEXT * g.scale), 0)
    yb = min(int(bottom + CONTEXT * g.scale), skin.shape[0])
    ax = float(_anchors(g, viewer_left)[:, 0].mean())
    xa, xb = sorted((ax - out * 0.6 * g.scale, ax + out * REACH_OUT * g.scale))
    x0, x1 = max(int(xa), 0), min(int(xb), skin.shape[1])
    if x1 - x0 < 2 or yb - ya < 2:
        return None
    sk, ov = skin[ya:yb, x0:x1], oval[ya:yb, x0:x1]
    edge_oval = _outer_x(ov, out).astype(np.float32)
    edge_skin = _outer_x(sk, out).astype(np.float32)
    rows = edge_oval >= 0
    if not rows.any():
        return None
    edge_oval[~rows] = np.interp(np.flatnonzero(~rows), np.flatnonzero(rows), edge_oval[rows])
    floor = -REACH_IN * g.scale
    reach = np.where(edge_skin >= 0, out * (edge_skin - edge_oval), floor)
    reach = np.maximum(reach, floor).astype(np.float32).reshape(-1, 1)
    span = max(3, round(OUTLINE_SPAN * g.scale) | 1)
    outline = cv2.morphologyEx(reach, cv2.MORPH_OPEN, np.ones((span, 1), np.uint8)).ravel()
    return x0, x1, ya, edge_oval, outline


def find(
    skin: np.ndarray, oval: np.ndarray, g: Geometry, viewer_left: bool, prof: Profile | None = None
) -> Blob:
    """The ear on one viewer side (a blob with its contour), or an empty blob.

    ``skin`` and ``oval`` are 0/1 masks (skin label; the filled face oval) of one frame, the canvas
    or an ear's; ``prof``: their ``_profile``, when known.
    """
    if turned_away(g, viewer_left):
        return EMPTY
    prof = prof if prof is not None else _profile(skin, oval, g, viewer_left)
    if prof is None:
        return EMPTY
    x0, x1, ya, edge_oval, outline = prof
    out = -1.0 if viewer_left else 1.0
    brow_y, nose_y = _levels(g)
    top, bottom = brow_y - ABOVE_BROW * g.scale, nose_y + BELOW_NOSE * g.scale
    sk = skin[ya : ya + len(edge_oval), x0:x1]
    # The ear: skin past the outline (+ a margin), in the ear's rows.
    limit = edge_oval + out * (outline + STANDS_OUT * g.scale)
    xs = np.arange(x1 - x0, dtype=np.float32)
    beyond = (out * (xs[None, :] - limit[:, None])) > 0
    ear = (sk & beyond).astype(np.uint8)
    ear[: max(int(top) - ya, 0)] = 0
    ear[max(int(bottom) - ya, 0) :] = 0
    ear = np.asarray(cv2.morphologyEx(ear, cv2.MORPH_OPEN, disc(max(1, round(RIM * g.scale)))), np.uint8)
    contours = outer_contours(ear)
    if not contours:
        return EMPTY
    best = filled(max(contours, key=cv2.contourArea), x0, ya)
    if not _is_auricle(best, edge_oval[best.y0 - ya :], out, x0, g.scale):
        return EMPTY
    return _to_root(best, sk, edge_oval, out, x0, ya)


def _to_root(ear: Blob, skin: np.ndarray, edge_oval: np.ndarray, out: float, x0: int, y0: int) -> Blob:
    """The ear with, in each of its rows, the skin between it and the face oval: what stands out of
    the outline is the auricle's rim; the visible ear reaches in to where it meets the face's edge.

    ``skin``/``edge_oval``: the search window's skin and per-row oval edge; ``(x0, y0)`` its origin."""
    h, w = ear.mask.shape
    ex, ey = ear.x0 - x0, ear.y0 - y0
    rim = _outer_x(ear.mask, out)  # per ear row, its outermost pixel (window columns after + ex)
    rows = np.flatnonzero(rim >= 0)
    xs = np.arange(skin.shape[1], dtype=np.float32)
    oval = edge_oval[ey + rows]
    between = (out * (xs[None, :] - oval[:, None]) > 0) & (
        out * (xs[None, :] - (rim[rows] + ex)[:, None]) <= 0
    )
    grown = np.zeros((h, skin.shape[1]), np.uint8)
    grown[rows] = skin[ey + rows] & between
    grown[:, ex : ex + w] |= ear.mask
    contours = outer_contours(grown)
    return filled(max(contours, key=cv2.contourArea), x0, ear.y0)


def _is_auricle(blob: Blob, edge_oval: np.ndarray, out: float, x0: int, scale: float) -> bool:
    """Big enough, wide enough and standing out far enough to be an ear (see MIN_STANDOUT)."""
    if blob.area < MIN_AREA * scale**2:
        return False
    rim = _outer_x(blob.mask, out)
    rows = rim >= 0
    standout = out * (rim[rows] + blob.x0 - x0 - edge_oval[: len(rim)][rows])
    width = int(blob.mask.sum(axis=1).max())
    return bool(standout.max() >= MIN_STANDOUT * scale and width >= MIN_WIDTH * scale)
