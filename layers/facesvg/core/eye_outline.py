"""The eye as a face-parsing map outlines it, from the mesh's lid contour (the map-less labels'
eyes: ``core.derived_labels``).

MediaPipe's eye contour (``FACEMESH_*_EYE``) follows the lid margins, where the lids meet the
eyeball. A parsing map outlines the eye's dark shape instead, and on the upper lid that shape
includes the lash line: the lashes' roots and the margin's dark rim, about a millimetre above
where the lid meets the eyeball (``LASH_LINE``), over the sclera and the iris alike, thinning out
towards the corners. The lower lid's lashes point down and away, and a map's lower edge is the
mesh's.

Measured on the ten faces with a real map, over the iris: the real eye's top lay 0.013 to 0.027
inter-eye distances above the mesh's upper lid on 14 of the 20 eyes, 0 to 0.01 on 3, below it on
3 (a hooded lid, a laughing eye); its bottom within 0.012 of the mesh's lower lid on 17. The lash
line is drawn at about half the usual offset: the width that raised the eyes' IoU the most (the
full offset costs the hooded and the laughing eyes more than it gains). The inner corner is left
where the mesh has it: whether a map's eye takes in the caruncle differs from map to map (the
sample's does, CelebAMask-HQ's mostly not). Colour then trims what looks like the skin
(``colour_refine``). Lengths in inter-eye distances.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from facesvg.core.face_geometry import Geometry
from facesvg.core.face_template import split_loop

LASH_LINE = 0.008  # the upper lash line drawn above the lid margin (half its usual width: see above)


_lids = cache(split_loop)  # two eyes, read on every map


def eye_outline(g: Geometry, loop: tuple[int, ...]) -> np.ndarray:
    """The eye a parsing map would draw, as a closed polygon (image px, the upper lid then the
    lower), from the mesh's eye ``loop`` (``mesh_connections.FACEMESH_*_EYE`` as one chain)."""
    upper, lower = _lids(loop)
    top, bottom = g.at(upper), g.at(lower)
    start, end = top[0], top[-1]
    length = float(np.hypot(*(end - start)))
    if length < 1e-6:
        return np.vstack([top, bottom[::-1][1:-1]])
    axis = (end - start) / length
    up = np.array([axis[1], -axis[0]])
    if float((top.mean(0) - bottom.mean(0)) @ up) < 0:  # towards the upper lid, whatever the roll
        up = -up
    # The lash line: its full width over the eye, none at the corners (0 and 1 along the eye).
    along = np.clip(((top - start) @ axis) / length, 0.0, 1.0)
    top = top + (LASH_LINE * g.scale * np.sqrt(np.sin(np.pi * along)))[:, None] * up
    return np.vstack([top, bottom[::-1][1:-1]])


__all__ = ["LASH_LINE", "eye_outline"]
