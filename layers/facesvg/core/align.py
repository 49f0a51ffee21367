"""Upright + crop as ONE affine (input px -> output px), and the warps that apply it.

Rotating into a grown canvas and then cropping is the same as warping straight into the crop with
the composed matrix, so nothing is cut and every array is resampled exactly once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core.labels import HEAD  # labels that make up the head box (skin, features, hair, ears)

COARSE = 256  # side of the coarse label warp used to find the head box


@dataclass(frozen=True)
class Alignment:
    matrix: np.ndarray  # (2, 3) float64, input px -> output px
    rotation_deg: float  # eye-line angle of the input (y down, so positive = clockwise on screen)
    size: tuple[int, int]  # (width, height) of the output canvas


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the subject's right and left eye: iris centres when present, else eye corners."""
    if len(points) >= topo.N_WITH_IRIS:
        return points[topo.IRIS_CENTRE_R], points[topo.IRIS_CENTRE_L]
    return points[list(topo.EYE_CORNERS_R)].mean(0), points[list(topo.EYE_CORNERS_L)].mean(0)


def eye_line_angle(points: np.ndarray) -> float:
    """Angle (radians) of the eye line, oriented so that the chin ends up below the eyes."""
    right, left = eye_centres(points)
    eye = left - right
    down = points[topo.CHIN_BOTTOM] - points[topo.FOREHEAD_TOP]
    # A mirrored photo puts the subject's right eye on the image-right; flip so "down" stays down.
    if eye[0] * down[1] - eye[1] * down[0] < 0:
        eye = -eye
    return math.atan2(eye[1], eye[0])


def rotation(angle: float) -> np.ndarray:
    """2x2 matrix that levels a line at ``angle`` (y-down coordinates)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, s], [-s, c]])


def head_box(labels: np.ndarray, points: np.ndarray, rot: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` in rotated coordinates around the landmarks plus the head's labels.

    Only labels near the face count (a window around the landmarks), so long hair or a stray
    blob elsewhere in the map cannot blow the box up. The labels are warped coarsely (256 px).
    """
    rp = points @ rot.T
    lx0, ly0 = rp.min(0)
    lx1, ly1 = rp.max(0)
    w, h = lx1 - lx0, ly1 - ly0
    # Search window: wide enough for ears and hair, barely below the chin (the neck is not face).
    sx0, sx1 = lx0 - 0.45 * w, lx1 + 0.45 * w
    sy0, sy1 = ly0 - 0.6 * h, ly1 + 0.04 * h
    scale = COARSE / max(sx1 - sx0, sy1 - sy0)
    m = np.hstack([scale * rot, [[-scale * sx0], [-scale * sy0]]])
    coarse = cv2.warpAffine(labels, m, (COARSE, COARSE), flags=cv2.INTER_NEAREST, borderValue=0)
    head = ((coarse >= HEAD[0]) & (coarse <= HEAD[1])).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(head, connectivity=8)
    box = [lx0, ly0, lx1, ly1]
    if n > 1:
        # The component(s) overlapping the landmark box are the head; take their union's bbox.
        cx0, cy0 = (lx0 - sx0) * scale, (ly0 - sy0) * scale
        cx1, cy1 = (lx1 - sx0) * scale, (ly1 - sy0) * scale
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            overlaps = x < cx1 and x + bw > cx0 and y < cy1 and y + bh > cy0
            if overlaps and area >= 0.01 * (cx1 - cx0) * (cy1 - cy0):
                box[0] = min(box[0], x / scale + sx0)
                box[1] = min(box[1], y / scale + sy0)
                box[2] = max(box[2], (x + bw) / scale + sx0)
                box[3] = max(box[3], (y + bh) / scale + sy0)
    return box[0], box[1], box[2], box[3]


def plan(labels: np.ndarray, points: np.ndarray, canvas: int, margin: float) -> Alignment:
    """The affine that levels the eyes and centres the head box on a ``canvas``-px square."""
    angle = eye_line_angle(points)
    rot = rotation(angle)
    x0, y0, x1, y1 = head_box(labels, points, rot)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    scale = canvas / side
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    shift = canvas / 2.0 - scale * centre
    matrix = np.hstack([scale * rot, shift[:, None]])
    return Alignment(matrix=matrix, rotation_deg=math.degrees(angle), size=(canvas, canvas))


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points through a 2x3 affine."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_image(image: np.ndarray, al: Alignment) -> np.ndarray:
    return cv2.warpAffine(image, al.matrix, al.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_labels(labels: np.ndarray, al: Alignment, to_image: np.ndarray | None = None) -> np.ndarray:
    """Labels on the canvas (nearest). ``to_image``: 2x3 label px -> image px, for a map of another
    size than the photo, sampled at its own resolution rather than resized to the photo's first."""
    matrix = al.matrix if to_image is None else compose(al.matrix, to_image)
    return cv2.warpAffine(labels, matrix, al.size, flags=cv2.INTER_NEAREST, borderValue=0)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer`` after ``inner``."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])
