"""Landmark-derived facts the region definitions share: sides, midline, scale, the face oval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facesvg.core import landmarks_topology as topo
from facesvg.core.blobs import Blob


@dataclass(frozen=True)
class Geometry:
    """Landmarks on the upright canvas ``(N, 2)`` and what follows from them."""

    pts: np.ndarray
    size: int
    left: str  # "R" or "L": which subject side is on the viewer's left
    oval: np.ndarray  # (36, 2) face oval
    mid_a: float  # facial midline x = mid_a * y + mid_b
    mid_b: float
    scale: float  # inter-eye distance, px: the unit of every anatomical length below

    @property
    def right(self) -> str:
        """The subject side on the viewer's right."""
        return "L" if self.left == "R" else "R"

    def chain(self, name: str, side: str) -> np.ndarray:
        """The points of ``topo.<name>_<side>`` (side "R" or "L": the subject's)."""
        return self.pts[list(getattr(topo, f"{name}_{side}"))]

    def at(self, ids: tuple[int, ...]) -> np.ndarray:
        return self.pts[list(ids)]

    def side_value(self, values: tuple[int, int], pts: np.ndarray) -> int:
        """The image-left value of a label pair (``values[0]``) for points mostly left of the
        facial midline, else the image-right one."""
        image_left = bool((pts[:, 0] < self.mid_a * pts[:, 1] + self.mid_b).mean() > 0.5)
        return values[0] if image_left else values[1]

    @property
    def up(self) -> np.ndarray:
        """The face's up (chin to forehead top), a unit vector: the face's frame, not the image's."""
        up = self.pts[topo.FOREHEAD_TOP] - self.pts[topo.CHIN_BOTTOM]
        out: np.ndarray = up / max(float(np.hypot(*up)), 1e-9)
        return out


def geometry(pts: np.ndarray, size: int) -> Geometry:
    mid = pts[list(topo.MIDLINE)]
    a, b = np.polyfit(mid[:, 1], mid[:, 0], 1)
    eye_r = pts[list(topo.EYE_R)].mean(0)
    eye_l = pts[list(topo.EYE_L)].mean(0)
    return Geometry(
        pts=pts,
        size=size,
        left="R" if eye_r[0] < eye_l[0] else "L",
        oval=pts[list(topo.FACE_OVAL)],
        mid_a=float(a),
        mid_b=float(b),
        scale=float(np.hypot(*(eye_r - eye_l))),
    )


def side_of_midline(g: Geometry, blob: Blob, viewer_left: bool) -> np.ndarray:
    """Mask (blob-shaped) of the pixels on the viewer's left (or right) of the facial midline."""
    h, w = blob.mask.shape
    ys = np.arange(blob.y0, blob.y0 + h, dtype=np.float64)
    mid_x = g.mid_a * ys + g.mid_b - blob.x0
    xs = np.arange(w, dtype=np.float64)
    left = xs[None, :] < mid_x[:, None]
    return left if viewer_left else ~left
