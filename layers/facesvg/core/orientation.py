"""EXIF orientation: the stored pixels vs the photo as displayed, and which one labels and points fit.

Orientation ``o`` (1..8, EXIF tag 0x0112) says how to turn the stored pixels into the photo a viewer
shows. facesvg renders the photo *as displayed*. Most tools compute the label map and landmarks on
the displayed photo too; some (reading the raw pixels) compute them on the stored frame. Then the
map (and the points) fit the stored frame: by aspect when the photo is not square, else by how well
the label regions separate the photo's colours (``agreement``). Labels and points found on the stored
frame are turned into the displayed frame with the photo, so the output and ``transform`` always
refer to the photo as displayed.
"""

from __future__ import annotations

import cv2
import numpy as np

SWAPS_AXES = {5, 6, 7, 8}
_AGREEMENT_SIDE = 64  # px: the photo and labels are compared at this size
CLEAR_MARGIN = 1.3  # one frame's agreement must beat the other's by this factor to decide


def orient_array(a: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels (H, W[, C]) -> the displayed photo (what OpenCV's EXIF handling returns)."""
    t = a.swapaxes(0, 1) if orientation in SWAPS_AXES else a
    flip = {1: (1, 1), 2: (1, -1), 3: (-1, -1), 4: (-1, 1), 5: (1, 1), 6: (1, -1), 7: (-1, -1), 8: (-1, 1)}
    fy, fx = flip.get(orientation, (1, 1))
    return np.ascontiguousarray(t[::fy, ::fx])


def orient_points(points: np.ndarray, orientation: int, width: int, height: int) -> np.ndarray:
    """Points (x, y) on the stored frame (``width`` x ``height``) -> the same spots on the displayed photo."""
    x, y = points[:, 0], points[:, 1]
    w1, h1 = width - 1, height - 1
    mapped = {
        1: (x, y),
        2: (w1 - x, y),
        3: (w1 - x, h1 - y),
        4: (x, h1 - y),
        5: (y, x),
        6: (h1 - y, x),
        7: (h1 - y, w1 - x),
        8: (y, w1 - x),
    }[orientation]
    return np.stack(mapped, axis=1)


def agreement(photo: np.ndarray, labels: np.ndarray) -> float:
    """How well the label regions (background, skin, hair, features) separate the photo's colours:
    the share of the colour variance between regions (0..1; ~0.2-0.75 for a photo and its own map,
    about half that for the same map on the photo turned by 90 degrees)."""
    n = _AGREEMENT_SIDE
    small = cv2.resize(photo, (n, n), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float64)
    cls: np.ndarray = cv2.resize(labels, (n, n), interpolation=cv2.INTER_NEAREST).ravel()
    cls = np.where(np.isin(cls, (0, 1, 10)), cls, 2)
    mean = lab.mean(axis=0)
    total = float(((lab - mean) ** 2).sum())
    between = sum(
        np.count_nonzero(cls == c) * float(((lab[cls == c].mean(axis=0) - mean) ** 2).sum())
        for c in np.unique(cls)
    )
    return between / total if total > 0 else 0.0
