"""The regions on the upright canvas: label regions, and regions carved from skin by landmark chains.

Each carved region is the skin inside a closed landmark chain (``landmarks_topology``), drawn the
way the customer draws them: the cheek runs from the infraorbital ring down the side of the nose
and the nasolabial fold and round the jaw, the under-eye is the band between the ring below the lid
and the infraorbital ring. Neighbours share their chains, so the regions tile the face without
straight cuts. Definitions and pictures: docs/regions.md. "left"/"right" are the viewer's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facesvg.core import ears, visibility
from facesvg.core import landmarks_topology as topo
from facesvg.core.blobs import (
    Blob,
    crop,
    disc,
    fill_canvas,
    in_range,
    keep_largest,
    label_bbox_blob,
    poly_blob,
)
from facesvg.core.face_geometry import Geometry, geometry, side_of_midline
from facesvg.core.labels import (
    BACKGROUND,
    BROWS,
    EAR,
    EYES,
    FACE_PARTS,
    GLASSES,
    HAIR,
    HEAD,
    LOWER_LIP,
    NOSE,
    SKIN,
    UPPER_LIP,
)
from facesvg.core.region_names import REGION_NAMES
from facesvg.core.smooth import smooth_closed
from facesvg.core.visibility import Occluders, Visibility

MIN_PIXELS = 12  # however small the canvas, a region drawn has this many pixels (an outline, not a dot)
FOREHEAD_STRETCH = 1.9  # the oval's top is below the hairline: stretch its upper half upwards
FOREHEAD_WIDEN = 1.12  # ... and a little sideways, so the temples reach the hair too


@dataclass(frozen=True)
class Carving:
    blobs: dict[str, Blob | None]  # every name in REGION_NAMES; None = not visible
    visibility: dict[str, Visibility]


# ------------------------------------------------------------------------- landmark-defined areas


def round_corners(poly: np.ndarray, sigma: float) -> np.ndarray:
    """A landmark chain with its corners rounded (radius ~ sigma): designers draw no sharp kinks."""
    return smooth_closed(poly, sigma, step=2.0)


def undereye_area(g: Geometry, side: str) -> np.ndarray:
    return round_corners(g.chain("UNDEREYE", side), 0.02 * g.scale)


def cheek_area(g: Geometry, side: str) -> np.ndarray:
    return round_corners(g.chain("CHEEK", side), 0.03 * g.scale)


def chin_area(g: Geometry) -> np.ndarray:
    return round_corners(g.at(topo.CHIN), 0.03 * g.scale)


def forehead_area(g: Geometry, stretch: float = 1.0, widen: float = 1.0) -> np.ndarray:
    """Above the brows' upper edge, under the top of the face oval (stretched up to pass the hairline)."""
    line = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")[::-1]])
    level = float(line[:, 1].mean())
    arc = g.at(topo.FOREHEAD_ARC).copy()  # subject's left temple -> right temple
    above = arc[:, 1] < level
    arc[above, 1] = level - (level - arc[above, 1]) * stretch
    centre_x = float(line[:, 0].mean())
    arc[:, 0] = centre_x + (arc[:, 0] - centre_x) * widen
    return round_corners(np.vstack([line, arc]), 0.05 * g.scale)


def label_area(g: Geometry, name: str) -> np.ndarray:
    """Where the landmarks put a label region (its visibility template)."""
    side = {"left": g.left, "right": g.right}.get(name.split("_")[0], "")
    if name.endswith("_eye"):
        return g.chain("EYE", side)
    if name.endswith("_eyebrow"):
        return g.chain("BROW", side)
    if name == "nose":
        return cv2.convexHull(g.at(topo.NOSE_HULL).astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if name == "upper_lip":
        return np.vstack([g.at(topo.UPPER_LIP_OUTER), g.at(topo.UPPER_LIP_INNER)[::-1]])
    return np.vstack([g.at(topo.LOWER_LIP_OUTER), g.at(topo.LOWER_LIP_INNER)[::-1]])


# ------------------------------------------------------------------------------------- the regions

LABELS = {"nose": NOSE, "upper_lip": UPPER_LIP, "lower_lip": LOWER_LIP}


def split_by_midline(
    labels: np.ndarray, values: tuple[int, ...], g: Geometry, name: str, min_area: float
) -> dict[str, Blob | None]:
    """``left_<name>`` and ``right_<name>``: the label's largest blob on each side of the midline.

    Schemes disagree on whose left a "left eye" is; the midline does not."""
    both = label_bbox_blob(labels, values)
    out: dict[str, Blob | None] = {}
    for viewer in ("left", "right"):
        half = side_of_midline(g, both, viewer == "left")
        out[f"{viewer}_{name}"] = keep_largest(Blob(both.mask & half, both.x0, both.y0), min_area)
    return out


def label_regions(labels: np.ndarray, g: Geometry, min_area: float) -> dict[str, Blob | None]:
    """Regions that follow their own label; paired labels are split by the facial midline."""
    out = {
        **split_by_midline(labels, BROWS, g, "eyebrow", min_area),
        **split_by_midline(labels, EYES, g, "eye", min_area),
    }
    for name, value in LABELS.items():
        out[name] = keep_largest(label_bbox_blob(labels, (value,)), min_area)
    return out


@dataclass(frozen=True)
class LabelSource:
    """The label map at its own resolution and its px -> canvas px (2x3): what thin regions are
    traced from at a resolution of their own (``ears.trace``)."""

    labels: np.ndarray
    to_canvas: np.ndarray


@dataclass(frozen=True)
class Scene:
    """What every carving reads: the warped labels, the landmark geometry, skin and occluders."""

    labels: np.ndarray
    g: Geometry
    skin: np.ndarray  # what regions are carved from: skin, and skin behind glasses frames
    bare_skin: np.ndarray  # skin that is seen (visibility counts it)
    occ: Occluders
    ears_labelled: bool  # the map has an ear class: ears follow it, and are never carved
    min_area: float  # smallest carved region worth drawing, px
    open_px: int  # opening that removes slivers from a carved region
    source: LabelSource  # the labels before they were warped to the canvas

    @property
    def size(self) -> int:
        return self.g.size


def scene(
    labels: np.ndarray,
    pts: np.ndarray,
    frame: np.ndarray | None = None,
    ears_labelled: bool = False,
    source: LabelSource | None = None,
) -> Scene:
    """``frame``: the input photo's outline on the canvas (``(4, 2)``); None = the whole canvas.
    ``ears_labelled``: the label scheme has an ear class (``core.label_schemes``). ``source``: the
    map ``labels`` were warped from (None: ``labels`` themselves)."""
    size = labels.shape[0]
    g = geometry(pts, size)
    bare_skin = in_range(labels, SKIN, SKIN)
    glasses = in_range(labels, GLASSES, GLASSES)
    in_frame = fill_canvas(frame, size) if frame is not None else np.ones_like(bare_skin)
    occ = Occluders(
        hair=in_range(labels, HAIR, HAIR),
        background=in_range(labels, BACKGROUND, BACKGROUND) & in_frame,
        outside_frame=1 - in_frame,
        glasses=glasses,
    )
    oval_area = float(cv2.contourArea(g.oval.astype(np.float32)))
    return Scene(
        labels,
        g,
        bare_skin | glasses,
        bare_skin,
        occ,
        ears_labelled,
        max(2e-3 * oval_area, 4 * MIN_PIXELS),
        max(1, round(0.012 * g.scale)),
        source if source is not None else LabelSource(labels, np.eye(2, 3)),
    )


def claim(taken: np.ndarray, blob: Blob) -> None:
    """Mark a region and a pixel round it as taken: outlines carved later cannot touch it."""
    _or_into(taken, cv2.dilate(np.pad(blob.mask, 1), disc(1)), blob.x0 - 1, blob.y0 - 1)


def carve_in_order(
    sc: Scene, plan: list[tuple[str, Blob, Blob]], taken: np.ndarray
) -> tuple[dict[str, Blob | None], dict[str, Visibility]]:
    """Skin inside each ``(name, reach, template)`` in turn, minus what earlier ones (and ``taken``) hold.

    ``reach`` is where the region may extend, ``template`` where its landmarks say it is (for its
    visibility). ``taken`` is updated.
    """
    blobs: dict[str, Blob | None] = {}
    vis: dict[str, Visibility] = {}
    for name, reach, template in plan:
        free = Blob(reach.mask & crop(sc.skin, reach) & (1 - crop(taken, reach)), reach.x0, reach.y0)
        kept = keep_largest(free, sc.min_area, sc.open_px)
        blobs[name] = kept
        vis[name] = visibility.measure(template, sc.bare_skin, sc.occ)
        if kept is None and template.area < sc.min_area:  # the landmarks fold it onto a turned side
            vis[name] = visibility.Visibility(0.0, ("turned_away",))
        if kept is not None:
            claim(taken, kept)
    return blobs, vis


def carve_regions(sc: Scene) -> Carving:
    g, size, labels = sc.g, sc.size, sc.labels
    blobs = label_regions(labels, g, max(sc.min_area / 4, MIN_PIXELS))
    vis: dict[str, Visibility] = {}
    for name in blobs:
        values = EYES if name.endswith("_eye") else BROWS if name.endswith("_eyebrow") else (LABELS[name],)
        own = in_range(labels, min(values), max(values))
        vis[name] = visibility.measure(poly_blob(label_area(g, name), size), own, sc.occ)

    # Carved regions, in priority order, each a pixel off the features and the regions before it.
    taken = np.zeros_like(sc.skin)
    for blob in blobs.values():
        if blob is not None:
            claim(taken, blob)
    plan: list[tuple[str, Blob, Blob]] = []
    for name, area in (
        *((f"{v}_undereye", undereye_area(g, s)) for v, s in (("left", g.left), ("right", g.right))),
        *((f"{v}_cheek", cheek_area(g, s)) for v, s in (("left", g.left), ("right", g.right))),
        ("chin", chin_area(g)),
    ):
        blob = poly_blob(area, size)
        plan.append((name, blob, blob))
    reach = poly_blob(forehead_area(g, FOREHEAD_STRETCH, FOREHEAD_WIDEN), size)
    plan.append(("forehead", reach, poly_blob(forehead_area(g), size)))
    carved, carved_vis = carve_in_order(sc, plan, taken)
    blobs.update(carved)
    vis.update(carved_vis)

    ear_blobs, ear_vis = _ears(sc, taken)
    blobs.update(ear_blobs)
    vis.update(ear_vis)

    face = in_range(labels, *FACE_PARTS) | sc.occ.glasses
    blobs["face"] = keep_largest(Blob(face, 0, 0), sc.min_area)
    vis["face"] = visibility.measure(poly_blob(g.oval, size), face, sc.occ)
    return Carving({n: blobs.get(n) for n in REGION_NAMES}, {n: vis[n] for n in REGION_NAMES})


def _ears(sc: Scene, taken: np.ndarray) -> tuple[dict[str, Blob | None], dict[str, Visibility]]:
    """The ears and their visibility: their own label split by the midline when the scheme has one,
    else found in skin, in each ear's own frame (``ears.frame``)."""
    labelled = split_by_midline(sc.labels, (EAR,), sc.g, "ear", sc.min_area) if sc.ears_labelled else {}
    found: dict[str, Blob | None] = {}
    vis: dict[str, Visibility] = {}
    for viewer_left, name in ((True, "left_ear"), (False, "right_ear")):
        away = ears.turned_away(sc.g, viewer_left)
        fr = ears.frame(sc.source.labels, sc.source.to_canvas, sc.g, viewer_left, _skin)
        found[name] = labelled.get(name)
        if fr is None:
            vis[name] = visibility.TURNED_AWAY if away and found[name] is None else visibility.NOT_IN_VIEW
            continue
        if sc.ears_labelled:
            shown = in_range(fr.labels, EAR, EAR)
        else:
            ear, shown = ears.trace(fr, taken) if not away else (ears.EMPTY, np.zeros_like(fr.skin))
            found[name] = ear if ear.area else None
        vis[name] = visibility.TURNED_AWAY if away and found[name] is None else ears.seen(fr, shown)
    return found, vis


def _skin(labels: np.ndarray) -> np.ndarray:
    """What regions are carved from (``Scene.skin``): skin, and skin behind glasses frames."""
    return in_range(labels, SKIN, SKIN) | in_range(labels, GLASSES, GLASSES)


def _or_into(full: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
    """``full[y0:, x0:] |= mask``, clipped to the canvas."""
    h, w = mask.shape
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, full.shape[1]), min(y0 + h, full.shape[0])
    if fx1 > fx0 and fy1 > fy0:
        full[fy0:fy1, fx0:fx1] |= mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def silhouette(labels: np.ndarray) -> np.ndarray:
    """Person silhouette (skin, features, hair, ears, glasses): the ``mask_profile`` clip."""
    return in_range(labels, *HEAD)
