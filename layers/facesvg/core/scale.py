"""Physical scale from the iris: millimetres per pixel, when the landmarks carry the iris.

The visible iris (horizontal visible iris diameter) of adults is 11.7 mm on average with a spread
of about +-0.5 mm (~4 %) between people and hardly any change after childhood, which makes it the
usual ruler in face photos. MediaPipe's refined landmarks put four points on each iris's rim
(469-472 round 468, 474-477 round 473): the diameter is the mean of the two rim-to-rim distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facesvg.core import landmarks_topology as topo

IRIS_MM = 11.7
MAX_DISAGREEMENT = 0.15  # the two eyes' iris diameters may differ by this much (turned head, squint)
RIMS = ((469, 471, 470, 472), (474, 476, 475, 477))  # (left end, right end, top, bottom) per iris


@dataclass(frozen=True)
class IrisScale:
    mm_per_px: float  # in the input photo's pixels
    iris_px: tuple[float, float]  # each eye's iris diameter, input px (subject's right, left)

    def to_json(self, canvas_per_source: float) -> dict[str, object]:
        return {
            "method": "iris",
            "iris_mm": IRIS_MM,
            "iris_px": [round(v, 2) for v in self.iris_px],
            "mm_per_source_px": round(self.mm_per_px, 5),
            "mm_per_px": round(self.mm_per_px / canvas_per_source, 5),
        }


def iris_diameter(points: np.ndarray, rim: tuple[int, int, int, int]) -> float:
    a, b, c, d = (points[i] for i in rim)
    return float((np.hypot(*(a - b)) + np.hypot(*(c - d))) / 2)


def iris_scale(points: np.ndarray) -> IrisScale | None:
    """The scale of the photo ``points`` are in, or None without iris points or when the eyes disagree."""
    if len(points) < topo.N_WITH_IRIS:
        return None
    right, left = (iris_diameter(points, rim) for rim in RIMS)
    if min(right, left) <= 0 or abs(right - left) > MAX_DISAGREEMENT * max(right, left):
        return None
    return IrisScale(IRIS_MM / ((right + left) / 2), (right, left))
