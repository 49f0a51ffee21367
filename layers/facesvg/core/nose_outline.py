"""The nose of the map-less label map (``core.derived_labels``): an outline that follows the anatomy.

A parsing map's nose is not convex: a bridge from the nasion, cut level there as wide as the
bridge, its sides along the nasal side walls to the alae, and its bottom at the nostril sill. The
mesh outlines it with:

- the base: MediaPipe's published ``FACEMESH_NOSE`` lower loop where it runs under the nose, from
  one alar base (64) round the nostril sills and the subnasale (2) to the other (294);
- each side wall: a path along the mesh's own edges (its tessellation; 188 to 217 across one of
  its quads) down the nasofacial junction, the line where the side wall meets the cheek: 193 (where
  the brow's published upper contour ends, beside the nasion: the bridge's width at the top), 245
  (where the infraorbital ring ends at the nose, ``leftEyeLower3``), 188 (the top of the side wall
  the cheek chain ``landmarks_topology.CHEEK`` already shares with the nose), 217, 198 and 209 (the
  mesh's row that runs down the junction to the ala), 129 (the alar crease, in ``NOSE_HULL``) and 64
  (the alar base);
- the top: a cut across the bridge at the nasion, as wide as the bridge there: the side walls' top
  points (193/417) carried along the face's up to that level. The soft-tissue nasion lies above
  MediaPipe's ``midwayBetweenEyes`` (168, level with the inner canthi) and below the glabella
  between the brows (8); parsing maps start their nose above 168 (0.07 inter-eye distances on the
  development faces' average, anywhere from 168 itself up to 8): the cut is a little above 168.

The mesh puts the side walls within a few hundredths of an inter-eye distance of where a parsing map
has them, but not on the visible line: where the photo shows the groove between the nose and the
cheek (the alar crease, the shade along the bridge), the side walls move to its outer side (a
parsing map's nose keeps the groove's shade: ``snap_to_grooves``). The top is a cut, not a line in
the photo, and the base stays on the mesh: there the photo's darkest lines are the nostrils, inside
the nose.
"""

from __future__ import annotations

import cv2
import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core.face_geometry import Geometry
from facesvg.core.smooth import median_filter, smooth_closed

SIDE_WALL_R = (193, 245, 188, 217, 198, 209, 129, 64)  # the subject's right, nasion -> alar base
SIDE_WALL_L = (417, 465, 412, 437, 420, 429, 358, 294)  # its mirror image
BASE = (98, 97, 2, 326, 327)  # FACEMESH_NOSE's lower loop between the alar bases (64, 294)
MIDWAY_BETWEEN_EYES = 168  # MediaPipe's name: on the bridge, level with the inner canthi
GLABELLA = 8  # the midline point between the brows
NASION = 0.2  # the top: this share of the way from 168 up to 8 (about 0.03 inter-eye distances)

STEP = 0.02  # inter-eye distances between the outline's samples where it meets the photo
WORK_SCALE = 80.0  # px per inter-eye distance where the photo is read (a groove is a few px wide)
BAND = 0.1  # a side wall moves at most this far (inter-eye distances) onto a groove
PRIOR = 0.06  # ... and a groove this far off the mesh must be twice as clear as one on it
GROOVE = 0.012  # a groove is about twice this wide (the photo blurred this much) ...
AROUND = 0.05  # ... and darker than the skin this far round it
EYE_MARGIN = 0.08  # ... never within this far of an eye (its dark inner corner is not the nose's)
CLEAR = 0.5  # a groove counts where it is this many spreads of the crop's contrast deep
MEDIAN = 2  # samples each side whose median move is taken (a pore or a freckle moves none)
ROUND = 0.04  # the outline's corners rounded this much: a parsing map draws no mesh kinks


def mesh_outline(g: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The nose's outline from the mesh alone (``(N, 2)``), and which of its points are on a side
    wall (the points that may move onto the photo's grooves)."""
    up = g.up
    low, high = float(g.pts[MIDWAY_BETWEEN_EYES] @ up), float(g.pts[GLABELLA] @ up)
    level = low + NASION * (high - low)
    right, left = g.at(SIDE_WALL_R), g.at(SIDE_WALL_L)[::-1]

    def at_top(p: np.ndarray) -> np.ndarray:
        out: np.ndarray = p + (level - float(p @ up)) * up
        return out

    poly = np.vstack([at_top(right[0]), right, g.at(BASE), left, at_top(left[-1])])
    walls = np.array([False] + [True] * len(right) + [False] * len(BASE) + [True] * len(left) + [False])
    return poly, walls


def outline(g: Geometry, image: np.ndarray | None = None) -> np.ndarray:
    """The nose's outline (``(N, 2)`` image px); with the photo (BGR) its side walls on its grooves."""
    poly, walls = mesh_outline(g)
    if image is not None:
        poly = snap_to_grooves(image, g, poly, walls)
    return smooth_closed(poly, ROUND * g.scale, step=2.0)


def snap_to_grooves(image: np.ndarray, g: Geometry, poly: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """``poly`` resampled every ``STEP``, its side-wall samples moved along the outline's normal onto
    the outer side of the darkest line within ``BAND`` (weighed against its distance from the mesh),
    where that line is clear; the moves are median-filtered along the outline."""
    pts, movable = _resample(poly, walls, STEP * g.scale)
    x0, y0, valley, f = _valley(image, g, poly)
    if valley is None:
        return pts
    normal = _outward_normals(pts)
    offsets = np.linspace(-BAND, BAND, round(2 * BAND / 0.01) + 1)
    along = pts[:, None, :] + offsets[None, :, None] * g.scale * normal[:, None, :]
    sx, sy = f
    mx = ((along[..., 0] - x0) * sx + 0.5 * sx - 0.5).astype(np.float32)
    my = ((along[..., 1] - y0) * sy + 0.5 * sy - 0.5).astype(np.float32)
    depth = cv2.remap(valley, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    best = np.argmax(depth - 0.5 * (offsets / PRIOR) ** 2, axis=1)
    clear = depth[np.arange(len(pts)), best] > CLEAR
    # A parsing map's nose keeps the groove's shade: its edge is the groove's outer side.
    move = np.where(clear & movable, offsets[best] + GROOVE, 0.0)
    move = np.where(movable, median_filter(move, MEDIAN, closed=True), 0.0)
    out: np.ndarray = pts + (move * g.scale)[:, None] * normal
    return out


def _valley(
    image: np.ndarray, g: Geometry, poly: np.ndarray
) -> tuple[int, int, np.ndarray | None, tuple[float, float]]:
    """How much darker each pixel is than the skin round it (a groove is > 0), in spreads of that
    contrast over the crop, on a crop round ``poly`` reduced to ``WORK_SCALE``: the crop's corner,
    the map and its px per photo px."""
    h, w = image.shape[:2]
    pad = (BAND + 3 * AROUND) * g.scale + 2
    x0, y0 = np.maximum(np.floor(poly.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(poly.max(0) + pad).astype(int) + 1, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0, 0, None, (1.0, 1.0)
    k = min(1.0, WORK_SCALE / max(g.scale, 1e-6))
    size = (max(4, round((x1 - x0) * k)), max(4, round((y1 - y0) * k)))
    crop = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    if k < 1.0:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    grey = grey.astype(np.float32)
    px = g.scale * k
    near = cv2.GaussianBlur(grey, (0, 0), max(0.5, GROOVE * px))
    around = cv2.GaussianBlur(grey, (0, 0), max(1.0, AROUND * px))
    scale = (grey.shape[1] / (x1 - x0), grey.shape[0] / (y1 - y0))
    contrast = np.asarray(around - near, np.float32)
    spread = float(np.std(contrast))
    if spread < 0.01:  # grey levels: a crop without contrast has no grooves
        return 0, 0, None, (1.0, 1.0)
    valley = np.asarray(contrast / spread, np.float32)
    # The eyes' inner corners are dark beside the bridge's top: no groove of the nose is there.
    eyes = np.zeros(valley.shape, np.uint8)
    for chain in (topo.EYE_R, topo.EYE_L):
        loop = (g.at(chain) - (x0, y0)) * scale + (0.5 * scale[0] - 0.5, 0.5 * scale[1] - 0.5)
        cv2.fillPoly(eyes, [np.rint(loop * 16).astype(np.int32)], 1, shift=4)
    reach = max(1, round(EYE_MARGIN * px))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    valley[cv2.dilate(eyes, disc) > 0] = 0.0
    return int(x0), int(y0), valley, scale


def _resample(poly: np.ndarray, walls: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points about ``step`` apart along the closed ``poly``; a point is on a side wall where both
    ends of its segment are."""
    nxt = np.roll(poly, -1, axis=0)
    counts = np.maximum(1, np.ceil(np.hypot(*(nxt - poly).T) / max(step, 1e-6)).astype(int))
    seg = np.repeat(np.arange(len(poly)), counts)
    frac = np.arange(len(seg)) - np.repeat(np.cumsum(counts) - counts, counts)
    t = (frac / counts[seg])[:, None]
    pts: np.ndarray = poly[seg] + (nxt[seg] - poly[seg]) * t
    return pts, (walls & np.roll(walls, -1))[seg]


def _outward_normals(pts: np.ndarray) -> np.ndarray:
    tangent = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    normal /= np.maximum(np.hypot(*normal.T), 1e-9)[:, None]
    x, y = pts.T
    clockwise_on_screen = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) > 0
    out: np.ndarray = normal if clockwise_on_screen else -normal
    return out
