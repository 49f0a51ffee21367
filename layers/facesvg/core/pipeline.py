"""render(inputs, options) -> RenderResult: the whole core, stage by stage, with timings."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facesvg.core import align, regions, smooth, svg
from facesvg.core.inputs import DEFAULT_LIMITS, FaceInputs, LandmarkSource, load_inputs
from facesvg.core.options import Limits, RenderOptions
from facesvg.core.version import PIPELINE_VERSION

__all__ = ["PIPELINE_VERSION", "RenderResult", "render", "render_inputs"]

DEFAULT_OPTIONS = RenderOptions.model_validate({})
# Wall-clock per stage. "encode" is what remains of the photo encode after it overlapped
# "regions" and "smooth" in a worker thread, plus assembling the SVG documents.
STAGES = ("decode", "align", "regions", "smooth", "encode", "total")
SIGMA_PX = 6.0  # contour smoothing at a 1024 px canvas (scaled with the canvas); ~0.35 px mean shift
STEP_PX = 4.0  # spacing of the output vertices at a 1024 px canvas
CLIP_SIGMA_PX = 8.0  # the silhouette's hair edge is ragged: smooth it more
SMALL_SIGMA = 0.1  # x sqrt(area): a small region (an eye in a 256 px photo) is smoothed less
PIXEL_EDGE = 0.3  # traced contours run through boundary pixel centres; < 0.5 keeps touching regions apart


@dataclass(frozen=True)
class RenderResult:
    svg: bytes  # face.svg
    region_svgs: dict[str, bytes]  # region name -> standalone per-region SVG
    size: tuple[int, int]
    transform: list[list[float]]  # 2x3, input px -> output px
    rotation_deg: float
    regions: dict[str, list[list[float]]]
    missing: list[str]
    visibility: dict[str, dict[str, Any]]  # name -> {"visible_fraction", "occluded_by"}, every region
    timings_ms: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The ``result.json`` contract."""
        return {
            "size": list(self.size),
            "transform": self.transform,
            "rotation_deg": self.rotation_deg,
            "regions": self.regions,
            "missing": self.missing,
            "visibility": self.visibility,
            "timings_ms": self.timings_ms,
        }


def _rounded(poly: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.round(poly, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out


def _outset(poly: np.ndarray, d: float) -> np.ndarray:
    """The closed polygon moved ``d`` px outwards along its vertex normals."""
    tangent = np.roll(poly, -1, axis=0) - np.roll(poly, 1, axis=0)
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    normal /= np.maximum(np.hypot(*normal.T), 1e-9)[:, None]
    x, y = poly.T
    signed_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    out: np.ndarray = poly + (d if signed_area > 0 else -d) * normal
    return out


def _region_outline(blob: regions.Blob, scale: float) -> np.ndarray:
    """A region's smooth outline: sub-pixel, on the pixels' outer edge, smoothing scaled to its size."""
    assert blob.contour is not None
    sigma = min(SIGMA_PX * scale, SMALL_SIGMA * float(np.sqrt(blob.area)))
    return _outset(smooth.smooth_closed(blob.contour, sigma, STEP_PX * scale), PIXEL_EDGE)


def _closed_silhouette(labels: np.ndarray, scale: float) -> np.ndarray:
    """Person silhouette with hair gaps closed (the raster behind ``mask_profile``)."""
    k = max(3, round(6 * scale) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.morphologyEx(regions.silhouette(labels), cv2.MORPH_CLOSE, kernel)


def _blank_outside(photo: np.ndarray, silhouette: np.ndarray, scale: float) -> np.ndarray:
    """Pixels well outside the clip are never seen: blank them so the photo encodes small and fast."""
    k = max(3, round(12 * scale) | 1)
    keep = cv2.dilate(silhouette, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.bitwise_and(photo, photo, mask=keep)


def _clip_polygons(silhouette: np.ndarray, scale: float) -> list[np.ndarray]:
    """Smoothed outlines of every sizeable blob of the silhouette."""
    contours, _ = cv2.findContours(silhouette, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    areas = [cv2.contourArea(c) for c in contours]
    biggest = max(areas, default=0.0)
    return [
        _rounded(smooth.smooth_closed(c, CLIP_SIGMA_PX * scale, STEP_PX * scale))
        for c, a in zip(contours, areas, strict=True)
        if a >= 0.01 * biggest and a > 0
    ]


def render_inputs(inputs: FaceInputs, options: RenderOptions = DEFAULT_OPTIONS) -> RenderResult:
    """Render already-decoded inputs (``timings_ms['decode']`` is 0 here)."""
    return _render(inputs, options, decode_ms=0.0, t_start=time.perf_counter())


def render(
    image: bytes,
    segmentation: bytes,
    landmarks: LandmarkSource,
    options: RenderOptions = DEFAULT_OPTIONS,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Bytes in, SVG documents and geometry out. Raises ``InputError``/``NoFace`` on bad input."""
    t0 = time.perf_counter()
    inputs = load_inputs(image, segmentation, landmarks, limits)
    return _render(inputs, options, decode_ms=(time.perf_counter() - t0) * 1e3, t_start=t0)


def _render(inputs: FaceInputs, options: RenderOptions, decode_ms: float, t_start: float) -> RenderResult:
    timings = {"decode": decode_ms}
    t = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[stage] = (now - t) * 1e3
        t = now

    canvas = options.canvas_size
    scale = canvas / 1024.0
    al = align.plan(inputs.labels, inputs.landmarks, canvas, options.margin)
    photo = align.warp_image(inputs.image, al)
    labels = align.warp_labels(inputs.labels, al)
    pts = align.apply(al.matrix, inputs.landmarks)
    sil = _closed_silhouette(labels, scale)
    lap("align")

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The photo encode (the single biggest cost, GIL released) overlaps regions and smoothing.
        photo = _blank_outside(photo, sil, scale)
        encoded = pool.submit(svg.encode_photo, photo, options.image_format, options.image_quality)

        h, w = inputs.image.shape[:2]
        frame = align.apply(al.matrix, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
        carving = regions.all_regions(labels, pts, frame)
        blobs = carving.blobs
        lap("regions")

        polys: dict[str, np.ndarray] = {}
        for name, blob in blobs.items():
            if blob is not None and blob.contour is not None:
                polys[name] = _rounded(_region_outline(blob, scale))
        clip = _clip_polygons(sil, scale)
        lap("smooth")

        href = svg.data_uri(encoded.result(), options.image_format)
    clip_d = svg.path_d(clip)
    ordered = [(name, polys[name]) for name in regions.REGION_NAMES if name in polys]
    paths = {name: svg.path_d([poly]) for name, poly in ordered}
    # The composite shows the anatomical regions; "face" (their union, plus the rest) has its own file.
    composite = [(name, paths[name]) for name, _ in ordered if name != "face"]
    face_svg = svg.document(al.size, clip_d, composite, options.style, href)
    region_svgs = svg.region_documents(al.size, clip_d, list(paths.items()), options.style, href)
    lap("encode")
    timings["total"] = (time.perf_counter() - t_start) * 1e3

    return RenderResult(
        svg=face_svg,
        region_svgs=region_svgs,
        size=al.size,
        transform=[[round(float(v), 6) for v in row] for row in al.matrix],
        rotation_deg=round(al.rotation_deg, 3),
        regions={name: poly.tolist() for name, poly in ordered},
        missing=[name for name in regions.REGION_NAMES if name not in polys],
        visibility={name: v.to_json() for name, v in carving.visibility.items()},
        timings_ms={k: round(timings[k], 2) for k in STAGES},
    )
