"""A LaPa label map derived from the 478 landmarks and the photo, for clients without a parsing model.

The facial features come from the mesh's own published contours (``mesh_connections``): eyes and
brows are the areas their lid (``eye_outline``) and brow chains enclose, the lips lie between the
outer and the inner lip loop (the mouth inside the inner one; ``lip_edges`` moves the inner one to
an open mouth's edges in the photo, and the upper lip's top out to its colour's), the nose is
``nose_outline``'s (bridge, side walls, alae, nostril sill). Skin, hair and background come from
the photo's colours (``skin_model``), seeded from pixels the mesh says are skin (the cheeks and
the nose): so the forehead ends where the hair starts, a fringe is hair, and an ear beside the face
oval is skin (LaPa labels ears as skin; ``core.ears`` finds them there, as for a client's map).

Where skin may be: inside the face oval, above it as far as a forehead reaches (the oval's upper
half stretched up: MediaPipe puts its top below the hairline), and beside it where ears are. Below
the jaw is the neck, background in LaPa. Inside the oval below the brows the face is skin whatever
its colour (a beard, a shadow: LaPa calls both skin), except at the oval's rim, where hair or the
background can show (a fringe at the temples, the far side of a turned face).

All work on colour is done on a crop round the face reduced to ``WORK_SCALE`` px per inter-eye
distance, whatever the photo's size: a few milliseconds. Lengths are in inter-eye distances.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from facesvg.core import brow_outline, ears, face_skin, lip_edges, nose_outline, scalp_hair, skin_model
from facesvg.core import landmarks_topology as topo
from facesvg.core import mesh_connections as mc
from facesvg.core.colour_refine import connected, refine_by_colour
from facesvg.core.eye_outline import eye_outline
from facesvg.core.face_geometry import Geometry, geometry
from facesvg.core.face_template import TEMPLATE, split_loop
from facesvg.core.labels import BACKGROUND, BROWS, EYES, HAIR, LOWER_LIP, MOUTH, NOSE, SKIN, UPPER_LIP

MESH_PIXEL_CENTRE = 0.5  # where a landmark on a pixel's centre lies (MediaPipe: x_norm * width)
WORK_SCALE = 40.0  # px per inter-eye distance where colours are classified
CROP_SIDE = 1.0  # the crop reaches this far beside the oval (ears; the background beyond them)
CROP_UP = 1.4  # ... and above it (the hair)
FOREHEAD_REACH = 2.2  # the oval's upper half stretched this much up: where forehead skin may be
ORBIT = 0.15  # round an eye this far (inter-eye distances) the face is skin whatever its colour
RIM = 0.12  # the band inside the oval edge where colour decides even below the brows
EAR_OUT = 0.9  # ears reach this far out from the oval
EAR_GAP = 0.15  # ... and may be parted from the face's skin by this much hair or shade
HANGS_IN = 0.25  # hair from the scalp may hang this far inside the oval's edge over the face


def _loop(chain_a: tuple[int, ...], chain_b: tuple[int, ...]) -> tuple[int, ...]:
    """Two chains that bound an area (a brow's upper and lower edge) joined into one loop, end to
    the nearer end (decided on the frontal template, so it holds for any pose)."""
    t = TEMPLATE
    same = np.hypot(*(t[chain_a[-1]] - t[chain_b[-1]])) + np.hypot(*(t[chain_a[0]] - t[chain_b[0]]))
    crossed = np.hypot(*(t[chain_a[-1]] - t[chain_b[0]])) + np.hypot(*(t[chain_a[0]] - t[chain_b[-1]]))
    return chain_a + (chain_b[::-1] if same < crossed else chain_b)


_EYES = (mc.chains(mc.FACEMESH_RIGHT_EYE)[0], mc.chains(mc.FACEMESH_LEFT_EYE)[0])
_BROWS = tuple(_loop(*mc.chains(e)) for e in (mc.FACEMESH_RIGHT_EYEBROW, mc.FACEMESH_LEFT_EYEBROW))
_OUTER_LIP, _INNER_LIP = sorted(mc.chains(mc.FACEMESH_LIPS), key=lambda c: -len(set(c) & {0, 17}))
_UPPER_OUTER, _LOWER_OUTER = split_loop(_OUTER_LIP)
_UPPER_INNER, _LOWER_INNER = split_loop(_INNER_LIP)
# The skin is seeded from the hull of the published nose set and the side-wall points the core's
# nose template uses (``landmarks_topology.NOSE_HULL``); the nose label is ``nose_outline``'s.
_NOSE_SEED = tuple(sorted(set(mc.points(mc.FACEMESH_NOSE)) | set(topo.NOSE_HULL)))
_OVAL = mc.chains(mc.FACEMESH_FACE_OVAL)[0]


def _fill(mask: np.ndarray, poly: np.ndarray, value: int = 1) -> None:
    cv2.fillPoly(mask, [np.rint(poly * 16).astype(np.int32)], value, lineType=cv2.LINE_8, shift=4)


SUPERSAMPLE = 4  # a feature is filled at up to this many sub-pixels per pixel, then area-averaged
FINE_SCALE = 400.0  # ... as many as bring an inter-eye distance to about this many sub-pixels


def coverage(poly: np.ndarray, shape: tuple[int, int], scale: float) -> tuple[tuple[int, int], np.ndarray]:
    """The share of each pixel the polygon covers (float32, in its bounding box, whose top-left
    pixel is returned first): filled at ``SUPERSAMPLE`` x the resolution and area-averaged, so a
    small eye on a 256 px photo is not grown by the outline's pixels (a plain fill adds every
    pixel the edge touches: half a pixel all round, a third of a 4 px tall eye)."""
    corner, share = _coverage_u8(poly, shape, scale)
    return corner, share.astype(np.float32) / 255.0


def _coverage_u8(
    poly: np.ndarray, shape: tuple[int, int], scale: float
) -> tuple[tuple[int, int], np.ndarray]:
    """``coverage`` in 255ths of a pixel (uint8)."""
    h, w = shape
    x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return (0, 0), np.zeros((0, 0), np.uint8)
    k = int(np.clip(round(FINE_SCALE / max(scale, 1e-6)), 1, SUPERSAMPLE))
    fine = np.zeros(((y1 - y0) * k, (x1 - x0) * k), np.uint8)
    # pixel i spans [i - 0.5, i + 0.5]; its k sub-pixels' centres are at (j + 0.5) / k - 0.5
    _fill(fine, (poly - (x0, y0) + 0.5) * k - 0.5, 255)
    small = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return (int(x0), int(y0)), small


def _paint(out: np.ndarray, poly: np.ndarray, value: int, scale: float) -> None:
    """Label the pixels at least half covered by ``poly`` (``scale``: the inter-eye distance, px)."""
    (x0, y0), cov = _coverage_u8(poly, out.shape[:2], scale)
    roi = out[y0 : y0 + cov.shape[0], x0 : x0 + cov.shape[1]]
    roi[cov >= 128] = value  # 128 / 255 is the first share >= 0.5


def _hull(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _forehead_reach(g: Geometry) -> np.ndarray:
    """The face oval with its part above the brows stretched up (where forehead skin may be)."""
    oval = g.at(_OVAL).copy()
    brows = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")])
    up = g.up  # the face's up, not the image's
    level = float((brows @ up).mean())
    height = oval @ up - level
    above = height > 0
    oval[above] += ((FOREHEAD_REACH - 1.0) * height[above])[:, None] * up
    return oval


def derive_labels(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """LaPa labels ``(H, W)`` uint8 for ``image`` (BGR) from its landmarks (``(N, 2)`` image px)."""
    h, w = image.shape[:2]
    # MediaPipe's points are its normalised coordinates times the photo's size: pixel i spans
    # [i, i + 1] there, so its centre is at i + 0.5; labels are per pixel, centres at i.
    g = geometry(points - MESH_PIXEL_CENTRE, max(h, w))
    out = np.zeros((h, w), np.uint8)
    oval = g.at(_OVAL)
    reach = _forehead_reach(g)
    ear_zone = _ear_zones(g)
    zone = np.vstack([reach, oval, *ear_zone])
    x0, y0 = np.floor(zone.min(0) - CROP_SIDE * g.scale).astype(int)
    x1, y1 = np.ceil(zone.max(0) + CROP_SIDE * g.scale).astype(int)
    y0 = min(y0, int(np.floor(zone[:, 1].min() - CROP_UP * g.scale)))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return out
    f = min(1.0, WORK_SCALE / max(g.scale, 1e-6))
    # The reduction starts with whole k x k blocks (INTER_AREA's fast path), then the rest.
    k = max(1, int(1.0 / f))
    x1, y1 = x0 + (x1 - x0) // k * k, y0 + (y1 - y0) // k * k
    ww, wh = max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f))
    sx, sy = ww / (x1 - x0), wh / (y1 - y0)

    def small(poly: np.ndarray) -> np.ndarray:
        return (poly - (x0, y0)) * (sx, sy) + (0.5 * sx - 0.5, 0.5 * sy - 0.5)

    crop = image[y0:y1, x0:x1]
    if k > 1:
        crop = cv2.resize(crop, ((x1 - x0) // k, (y1 - y0) // k), interpolation=cv2.INTER_AREA)
    crop = cv2.resize(crop, (ww, wh), interpolation=cv2.INTER_AREA)
    m = _zone_masks(g, small, (wh, ww), oval, reach, ear_zone)
    score, hair_vs_bg = _skin_score(crop, m, g, f, small)

    # Back to the photo's pixels: the margins are interpolated so the edges are smooth there.
    _write_skin_and_hair(out[y0:y1, x0:x1], score, hair_vs_bg)
    for value, poly in _labelled_features(g, image=image):
        if value not in (UPPER_LIP, MOUTH, LOWER_LIP):  # the lips are painted last (``_lips``)
            _paint(out, poly, value, g.scale)
    # The brows traced in the photo round the mesh's (``brow_outline``); the eyes refined together
    # (a small eye has few pixels to model) at 320 px per inter-eye distance (a tenth of that tall).
    brow_outline.paint_brows(out, image, g, coverage)
    refine_by_colour(out, image, g, EYES, _EYES, 2, work_scale=320.0)
    _lips(out, image, g)
    return out


Small = Callable[[np.ndarray], np.ndarray]  # photo px -> the reduced crop's px


def _zone_masks(
    g: Geometry,
    small: Small,
    shape: tuple[int, int],
    oval: np.ndarray,
    reach: np.ndarray,
    ear_zone: list[np.ndarray],
) -> dict[str, np.ndarray]:
    """The reduced crop's masks: the oval, the forehead's reach, the ear zones, the skin seeds (off
    the features), where skin may be, below the brows, and where hair is sought."""
    wh, ww = shape
    masks: dict[str, np.ndarray] = {
        name: np.zeros((wh, ww), np.uint8) for name in ("oval", "reach", "ears", "seed", "feat")
    }
    _fill(masks["oval"], small(oval))
    _fill(masks["reach"], small(reach))
    for poly in ear_zone:
        _fill(masks["ears"], small(poly))
    for side in ("R", "L"):
        _fill(masks["seed"], small(g.chain("CHEEK", side)))
    _fill(masks["seed"], small(_hull(g.at(_NOSE_SEED))))
    for poly in _feature_polys(g, with_nose=False):
        _fill(masks["feat"], small(poly))
    feat = cv2.dilate(masks["feat"], np.ones((3, 3), np.uint8))
    seed = masks["seed"] & (1 - feat)
    allowed = masks["oval"] | masks["reach"] | masks["ears"]
    brow_line = np.zeros_like(masks["oval"])
    _fill(brow_line, small(_below_brows(g)))
    # Hair is sought above the brows, outside the oval (never on the neck or the shoulders).
    brows = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")])
    below_brows = np.zeros_like(masks["oval"])
    _fill(below_brows, small(_below(g, brows[int(np.argmax(brows @ g.up))])))
    hair_zone = (1 - below_brows) & (1 - masks["oval"]) & (1 - masks["ears"])
    scalp = np.zeros_like(masks["oval"])
    _fill(scalp, small(scalp_hair.scalp_band(brows, g.up, g.scale)))
    scalp &= masks["reach"] & hair_zone
    masks.update(seed=seed, allowed=allowed, brow_line=brow_line, hair_zone=hair_zone, scalp=scalp)
    return masks


def _skin_score(
    crop: np.ndarray, masks: dict[str, np.ndarray], g: Geometry, f: float, small: Small
) -> tuple[np.ndarray, np.ndarray]:
    """The face's skin margin (> 0: skin) and the hair-vs-background margin on the reduced crop."""
    seed, allowed, hair_zone, brow_line = (
        masks["seed"],
        masks["allowed"],
        masks["hair_zone"],
        masks["brow_line"],
    )
    margins = skin_model.classify(crop, seed, allowed, hair_zone, g.scale * f)
    # (score is raised and lowered in place below, where each rule applies: ufuncs' where=)
    score, hair_vs_bg = margins.skin.copy(), margins.hair
    # The hair label from the scalp's colours (``scalp_hair``); the skin above does not use it.
    from_scalp = scalp_hair.margin(margins, allowed, masks["scalp"], g.scale * f)
    hair_vs_bg = from_scalp.label if from_scalp is not None else hair_vs_bg
    # Ears: their own colour (redder, in shade), within the ear zones.
    np.maximum(score, margins.loose, out=score, where=masks["ears"] > 0)
    # ... and, beside the oval, an ear in shade: the hair over it darkens it, but it keeps skin's hue
    # (``face_skin.shaded_skin``); what the background's colours explain stays background.
    beside = np.asarray((masks["ears"] > 0) & (masks["oval"] == 0), np.uint8)
    shade = np.minimum(face_skin.shaded_skin(margins.lab, seed, beside), margins.unlike_background)
    score = np.maximum(score, shade)
    # Inside the oval below the brows (off its rim) the face is skin whatever its colour.
    rim = max(1, round(RIM * g.scale * f))
    inner = np.asarray(cv2.erode(masks["oval"], np.ones((2 * rim + 1, 2 * rim + 1), np.uint8)), np.uint8)
    forced = inner & brow_line
    # ... and round the eyes: lids and orbit are skin, shadowed or made up, even where the oval
    # cuts the far orbit of a turned face (the oval is no silhouette there).
    orbit = np.zeros_like(masks["oval"])
    for chain in _EYES:
        _fill(orbit, small(g.at(chain)))
    reach_eye = max(1, round(ORBIT * g.scale * f))
    orbit = cv2.dilate(orbit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach_eye + 1,) * 2))
    forced |= np.asarray(orbit, np.uint8) & allowed & (1 - hair_zone)
    np.maximum(score, 1.0, out=score, where=forced > 0)
    # ... at its rim it is skin unless it is the background (the far side of a turned face); and
    # below the nose it is skin to the rim (a beard or a shadow at the jaw is skin, as LaPa says).
    below_nose = np.zeros_like(masks["oval"])
    _fill(below_nose, small(_below(g, g.pts[topo.NOSE_BASE])))
    rim_zone = masks["oval"] & brow_line & (1 - inner)
    np.maximum(score, margins.not_background, out=score, where=rim_zone > 0)
    np.maximum(score, 1.0, out=score, where=(masks["oval"] & below_nose) > 0)
    score[allowed == 0] = -1.0
    # ... except the scalp's hair hanging over the face's side (``scalp_hair.hanging``).
    if from_scalp is not None:
        hangs = scalp_hair.hanging(from_scalp.lit, masks["oval"], HANGS_IN * g.scale * f)
        hangs &= (brow_line > 0) & (below_nose == 0) & (orbit == 0)
        np.minimum(score, -1.0, out=score, where=hangs)
    # The face's skin is what touches the seeds (not a skin-coloured wall or shoulder).
    apart = connected(np.asarray(score > 0, np.uint8), seed) == 0
    # ... or an ear: it joins the head beside the oval, but a sideburn or the shade behind the jaw
    # can part it from the face's skin in the photo; what of the ear zone comes within
    # ``EAR_GAP`` of the oval is the ear.
    gap = max(1, round(EAR_GAP * g.scale * f))
    reach_out = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1,) * 2)
    near_oval = np.asarray(cv2.dilate(masks["oval"], reach_out), np.uint8)
    ear_like = np.asarray((score > 0) & (masks["ears"] > 0) & (masks["oval"] == 0), np.uint8)
    apart &= connected(ear_like, near_oval & ear_like) == 0
    np.minimum(score, -1.0, out=score, where=apart)
    # What the face's skin encloses is skin (``face_skin``).
    holes = face_skin.enclosed(np.asarray(score > 0, np.uint8)) > 0
    np.maximum(score, 1.0, out=score, where=holes)

    return score, hair_vs_bg


def _lips(out: np.ndarray, image: np.ndarray, g: Geometry) -> None:
    """The lips and the mouth painted anew between their contours (the inner ones moved to the
    photo's edges where the mouth is open); the sliver between closed lips goes by colour."""
    mesh = tuple(g.at(chain) for chain in (_UPPER_OUTER, _UPPER_INNER, _LOWER_INNER, _LOWER_OUTER))
    c, open_ = lip_edges.refine(image, g, mesh)
    pts = np.vstack([*mesh, c.upper_inner, c.lower_inner])
    h, w = out.shape
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 3, (w, h))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    roi = out[y0:y1, x0:x1]
    _paint(out, np.vstack([c.upper_outer, c.upper_inner[::-1]]), UPPER_LIP, g.scale)
    _paint(out, np.vstack([c.lower_outer, c.lower_inner[::-1]]), LOWER_LIP, g.scale)
    _paint(out, np.vstack([c.upper_inner, c.lower_inner[::-1]]), MOUTH, g.scale)
    keep = np.zeros(roi.shape, np.uint8)
    for quad in lip_edges.open_mouth(c, open_):
        _fill(keep, quad - (x0, y0))
    lip_edges.sliver_to_lips(roi, image[y0:y1, x0:x1], keep)


def _write_skin_and_hair(roi: np.ndarray, skin: np.ndarray, hair: np.ndarray) -> None:
    """The skin and hair margins (the reduced crop's) interpolated to ``roi``'s photo pixels and
    written there as labels (skin over hair). All in OpenCV and in place in the photo's labels
    (photo-sized numpy temporaries cost more in fresh memory than in arithmetic)."""
    size = (roi.shape[1], roi.shape[0])
    cv2.resize(_as_u8(hair), size, dst=roi, interpolation=cv2.INTER_LINEAR)
    cv2.threshold(roi, 128, HAIR, cv2.THRESH_BINARY, dst=roi)
    is_skin = cv2.resize(_as_u8(skin), size, interpolation=cv2.INTER_LINEAR)
    cv2.threshold(is_skin, 128, SKIN, cv2.THRESH_BINARY, dst=is_skin)
    cv2.copyTo(is_skin, is_skin, roi)  # SKIN where it is skin (is_skin is its own mask)


def _as_u8(margin: np.ndarray) -> np.ndarray:
    """A margin as uint8 round 128 (interpolates several times faster than float32)."""
    return np.asarray(np.clip(margin * 16.0 + 128.5, 0, 255), np.uint8)


def _below_brows(g: Geometry) -> np.ndarray:
    """The oval's part below the brows' upper edge (a polygon)."""
    oval = g.at(_OVAL)
    brows = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")])
    up = g.up
    level = float((brows @ up).max())
    keep = oval[(oval @ up) <= level]
    return _hull(np.vstack([keep, brows])) if len(keep) >= 3 else keep


def _below(g: Geometry, point: np.ndarray) -> np.ndarray:
    """A quad covering the face below ``point`` (across the face's up direction)."""
    up = g.up
    across = np.array([-up[1], up[0]])
    far = 4.0 * g.scale
    return np.array(
        [point - far * across, point + far * across, point + far * (across - up), point - far * (across + up)]
    )


def _ear_zones(g: Geometry) -> list[np.ndarray]:
    """Beside each side of the oval, from above the brows to below the nose base: where ears are
    (a box in the face's own frame, so it holds on a tilted head)."""
    up = g.up
    across = np.array([-up[1], up[0]])
    brows = np.vstack([g.chain("BROW_UPPER", "R"), g.chain("BROW_UPPER", "L")])
    top = float((brows @ up).max()) + ears.ABOVE_BROW * g.scale
    bottom = float(g.pts[topo.NOSE_BASE] @ up) - ears.BELOW_NOSE * g.scale
    nose = float(g.pts[topo.NOSE_TIP] @ across)
    zones = []
    for side in ("R", "L"):
        anchor = float((g.chain("EAR_ANCHOR", side) @ across).mean())
        out = 1.0 if anchor >= nose else -1.0
        inner, outer = anchor - out * 0.2 * g.scale, anchor + out * EAR_OUT * g.scale
        corners = [(inner, top), (outer, top), (outer, bottom), (inner, bottom)]
        zones.append(np.array([a * across + u * up for a, u in corners]))
    return zones


def _feature_polys(g: Geometry, with_nose: bool = True) -> list[np.ndarray]:
    return [poly for _, poly in _labelled_features(g, with_nose)]


def _labelled_features(
    g: Geometry, with_nose: bool = True, image: np.ndarray | None = None
) -> list[tuple[int, np.ndarray]]:
    """(label, polygon) in painting order: nose (on the photo's grooves, given it), brows, eyes,
    lips, mouth."""
    out: list[tuple[int, np.ndarray]] = []
    if with_nose:
        out.append((NOSE, nose_outline.outline(g, image)))
    out += [(g.side_value(BROWS, g.at(c)), g.at(c)) for c in _BROWS]
    out += [(g.side_value(EYES, g.at(c)), eye_outline(g, c)) for c in _EYES]  # as a map outlines eyes
    out.append((UPPER_LIP, np.vstack([g.at(_UPPER_OUTER), g.at(_UPPER_INNER)[::-1]])))
    out.append((LOWER_LIP, np.vstack([g.at(_LOWER_OUTER), g.at(_LOWER_INNER)[::-1]])))
    out.append((MOUTH, g.at(_INNER_LIP)))
    return out


__all__ = ["BACKGROUND", "derive_labels"]
