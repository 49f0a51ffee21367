"""The eye as a face-parsing map outlines it, from the mesh's lid contour (the map-less labels'
eyes: ``core.derived_labels``).

MediaPipe's eye contour (``FACEMESH_*_EYE``) follows the lid margins, where the lid meets the
eyeball. An annotator outlines the eye's dark shape instead, and two parts of it lie outside the
margins:

- the upper lash line: the lashes and the lid margin's dark rim sit on the upper lid, about a
  millimetre wide (``LASH_LINE``), and the parsing maps' eyes reach its top edge (over the
  sclera and the iris alike); towards the corners the lid and its lashes thin out;
- the inner corner: the mesh's medial point is the canthus itself, past the caruncle (the pink
  tissue between the sclera and the canthus, about a millimetre and a half), and a map's eye
  mostly ends at the caruncle's edge (``CARUNCLE``). The lower lid is where the mesh says.

Over the ten faces with a real map (bias measured against the real labels) the mesh's eye sat
0.5 to 3 px low at 1024 px (the derived/real centroid shift) and its inner corner reached
about 0.04 inter-eye distances past the map's; raising only the lower lid or moving the outer
corner made as many eyes worse as better. Colour then trims what is skin (``colour_refine``).
Lengths are in inter-eye distances (``Geometry.scale``).
"""

from __future__ import annotations

import numpy as np

from facesvg.core.face_geometry import Geometry
from facesvg.core.face_template import TEMPLATE

LASH_LINE = 0.008  # the upper lash line's width above the lid margin (~0.5 mm at a 63 mm IPD)
CARUNCLE = 0.02  # how far the map's eye ends short of the mesh's inner canthus
NOSE_TIP = 1  # on the template's midline: the eye corner nearer it is the inner canthus


def _lids(loop: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], int, int]:
    """An eye loop split at its corners into the upper and the lower lid (each corner to corner,
    from the same corner), and its outer and inner corner: read on the frontal template, so it
    holds for any pose."""
    t = TEMPLATE[list(loop)]
    i, j = sorted((int(np.argmin(t[:, 0])), int(np.argmax(t[:, 0]))))
    a = loop[i : j + 1]
    b = (loop[j:] + loop[: i + 1])[::-1]
    upper, lower = (a, b) if TEMPLATE[list(a), 1].mean() < TEMPLATE[list(b), 1].mean() else (b, a)
    ends = (upper[0], upper[-1])
    mid_x = TEMPLATE[NOSE_TIP, 0]
    inner = min(ends, key=lambda k: abs(TEMPLATE[k, 0] - mid_x))
    outer = ends[1] if inner == ends[0] else ends[0]
    return upper, lower, outer, inner


def eye_outline(g: Geometry, loop: tuple[int, ...]) -> np.ndarray:
    """The eye a parsing map would draw, as a closed polygon (image px, upper lid then lower),
    from the mesh's eye ``loop`` (``mesh_connections.FACEMESH_*_EYE`` as one chain)."""
    upper, lower, outer, inner = _lids(loop)
    top, bottom = g.at(upper), g.at(lower)
    o, m = g.pts[outer], g.pts[inner]
    length = float(np.hypot(*(m - o)))
    if length < 1e-6:
        return np.vstack([top, bottom[::-1][1:-1]])
    axis = (m - o) / length  # outer -> inner corner
    up = np.array([axis[1], -axis[0]])
    if float((top.mean(0) - bottom.mean(0)) @ up) < 0:  # towards the upper lid, whatever the roll
        up = -up

    def along(p: np.ndarray) -> np.ndarray:  # 0 at the outer corner, 1 at the inner one
        return np.asarray(np.clip(((p - o) @ axis) / length, 0.0, 1.0))

    # The lash line: full width over the eye, thinning to nothing at the corners.
    u = along(top)
    top = top + (LASH_LINE * g.scale * np.sqrt(np.sin(np.pi * u)))[:, None] * up
    # The caruncle: the inner half of both lids drawn in, the canthus the most.
    out = []
    for lid in (top, bottom):
        pull = np.clip((along(lid) - 0.5) / 0.5, 0.0, 1.0) ** 2
        out.append(lid - (CARUNCLE * g.scale * pull)[:, None] * axis)
    return np.vstack([out[0], out[1][::-1][1:-1]])


__all__ = ["CARUNCLE", "LASH_LINE", "eye_outline"]
