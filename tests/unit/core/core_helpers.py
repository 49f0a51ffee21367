"""Helpers shared by the render-core tests (a uniquely named module: tests have no packages)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from facesvg.core.derived_labels import derive_labels
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.pipeline import RenderResult
from facesvg.core.regions import Carving, carve_regions, scene

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "qoves"


def png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(kind, data) for kind, data in chunks)


def raster(poly: np.ndarray | list[list[float]], size: tuple[int, int]) -> np.ndarray:
    """Filled polygon as a bool mask of ``size`` = (width, height)."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    pts = np.rint(np.asarray(poly, np.float64) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, shift=4)
    return mask.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def warp_labels(labels: np.ndarray, transform: list[list[float]], size: tuple[int, int]) -> np.ndarray:
    """The input label map seen through a result's ``transform`` (the test's own warp)."""
    return cv2.warpAffine(labels, np.array(transform), size, flags=cv2.INTER_NEAREST, borderValue=0)


def landmarks_json(points: np.ndarray, dimensions: tuple[int, int] | None = None) -> str:
    """A JSON landmark document (list of {"x","y"}, or the QOVES-shaped dict when ``dimensions``)."""
    pts = [{"x": float(x), "y": float(y)} for x, y in points]
    if dimensions is None:
        return json.dumps(pts)
    return json.dumps({"landmarks": [pts], "dimensions": list(dimensions)})


def mapped_back(
    reference: RenderResult, variant: RenderResult, to_variant: np.ndarray
) -> tuple[np.ndarray, dict[str, float]]:
    """The 2x3 map from the variant's output px to the reference's, and each region's IoU there.

    variant output px -> variant input px -> original input px -> reference output px.
    """
    back = (
        _affine3(np.array(reference.transform))
        @ np.linalg.inv(_affine3(to_variant))
        @ np.linalg.inv(_affine3(np.array(variant.transform)))
    )[:2]
    scores = {
        name: iou(
            raster(np.asarray(poly) @ back[:, :2].T + back[:, 2], reference.size),
            raster(reference.regions[name], reference.size),
        )
        for name, poly in variant.regions.items()
    }
    return back, scores


def _affine3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def facemesh_mirror_index(points: np.ndarray) -> np.ndarray:
    """For each FaceMesh index, the index at the mirrored position (33 <-> 263, midline points fixed).

    What FaceMesh returns for a mirrored photo is the mirrored coordinates *re-indexed* by this
    permutation; mirrored coordinates alone put the subject's right eye (33) on the wrong side.
    Built by matching the template's points to their reflection across its midline.
    """
    from facesvg.core.face_template import TEMPLATE
    from facesvg.core.landmarks_topology import MIDLINE
    from scipy.optimize import linear_sum_assignment

    x0 = TEMPLATE[list(MIDLINE), 0].mean()
    reflected = TEMPLATE * (-1, 1) + (2 * x0, 0)
    cost = np.linalg.norm(TEMPLATE[:, None, :] - reflected[None, :, :], axis=2)
    _, index = linear_sum_assignment(cost)
    index = list(index)
    if len(points) > 468:  # the iris points: the centres swap, the ring by its reflected positions
        iris = points[468:478]
        mid = points[list(MIDLINE)].mean(axis=0)
        axis = points[263] - points[33]
        axis = axis / np.linalg.norm(axis)
        rel = iris - mid
        refl = iris - 2 * np.outer(rel @ axis, axis)
        _, iris_index = linear_sum_assignment(np.linalg.norm(iris[:, None] - refl[None], axis=2))
        index += [468 + i for i in iris_index]
    return np.array(index)


def mirrored_face(points: np.ndarray, width: int) -> np.ndarray:
    """The landmarks FaceMesh would give for the photo flipped left-right (coordinates and indices)."""
    flipped = points.copy()
    flipped[:, 0] = (width - 1) - flipped[:, 0]
    return flipped[facemesh_mirror_index(points)]


# Geometry checks of the tests (the render never runs them).


def mask_contour(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray | None:
    """Outer contour ``(N, 2)`` of the largest blob in a binary mask, or None if the mask is empty."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=offset)
    if not contours:
        return None
    best = max(contours, key=cv2.contourArea)
    return best.reshape(-1, 2)


def mean_deviation(curve: np.ndarray, reference: np.ndarray) -> float:
    """Mean distance from the points of ``curve`` to the closed polyline ``reference``."""
    ref = reference.reshape(-1, 1, 2).astype(np.float32)
    d = [abs(cv2.pointPolygonTest(ref, (float(x), float(y)), True)) for x, y in curve]
    return float(np.mean(d))


def is_simple(poly: np.ndarray) -> bool:
    """True if the closed polygon has no two non-adjacent edges that intersect (O(n^2), for checks)."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    n = len(a)

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sign(
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1])
            - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    ai, bi = a[:, None, :], b[:, None, :]
    aj, bj = a[None, :, :], b[None, :, :]
    cross = (orient(ai, bi, aj) * orient(ai, bi, bj) < 0) & (orient(aj, bj, ai) * orient(aj, bj, bi) < 0)
    idx = np.arange(n)
    gap = np.abs(idx[:, None] - idx[None, :])
    adjacent = (gap <= 1) | (gap == n - 1)
    return not bool((cross & ~adjacent).any())


def all_regions(labels: np.ndarray, pts: np.ndarray, frame: np.ndarray | None = None) -> Carving:
    """Every named region as a blob on the canvas, with its visibility (see ``scene`` for ``frame``)."""
    return carve_regions(scene(labels, pts, frame))


# ../shared/faces: real faces with real parsing labels, read in place (never copied here); tests
# that use them skip when it is absent (a user's clone).
FACES = Path(__file__).resolve().parents[3].parent / "shared" / "faces"
FACE_DIRS = (
    sorted(p for p in FACES.glob("*") if (p / "segmentation_map.png").is_file()) if FACES.is_dir() else []
)


def label_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two masks; 1.0 when both are empty."""
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 1.0


def load_face(folder: Path) -> FaceInputs:
    """A ../shared/faces case with its real map."""
    image = next(folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file())
    return load_inputs(
        image.read_bytes(),
        (folder / "segmentation_map.png").read_bytes(),
        (folder / "landmarks.json").read_bytes(),
    )


def derived_and_real(inputs: FaceInputs) -> tuple[np.ndarray, np.ndarray]:
    """The labels derived without the map, and the real map's at their size."""
    derived = derive_labels(inputs.image, inputs.landmarks)
    real = inputs.labels
    if real.shape != derived.shape:
        real = cv2.resize(real, derived.shape[::-1], interpolation=cv2.INTER_NEAREST)
    return derived, real
