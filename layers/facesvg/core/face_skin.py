"""The face's skin as a whole, after the colour model has spoken pixel by pixel (``derived_labels``).

A parsing map's skin has no holes: what the face's skin surrounds is skin in shade or a highlight
(a crease under the eye, a shine on the forehead, a shadowed concha), or a feature painted later.
Hair and background reach into the face from outside it (a fringe from the scalp, the background
past the far cheek), so they are never enclosed: what is enclosed is skin.
"""

from __future__ import annotations

import cv2
import numpy as np


def enclosed(skin: np.ndarray) -> np.ndarray:
    """0/1: the pixels ``skin`` (0/1) surrounds, i.e. not joined to the crop's border by non-skin."""
    free = np.pad(1 - skin, 1, constant_values=1)  # a frame of non-skin: the outside is one part
    _, comp = cv2.connectedComponents(free, connectivity=4)
    holes = (comp != comp[0, 0]) & (free > 0)
    return np.asarray(holes[1:-1, 1:-1], np.uint8)


__all__ = ["enclosed"]
