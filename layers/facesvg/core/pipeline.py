"""render(inputs, options) -> RenderResult: the whole core, stage by stage, with timings."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from facesvg.core import align, exports, regions, smooth, svg, zones
from facesvg.core.inputs import CLIENT, LANDMARKS, FaceInputs, load_inputs
from facesvg.core.label_schemes import SCHEMES
from facesvg.core.landmark_formats import LandmarkSource
from facesvg.core.options import DEFAULT_LIMITS, Limits, RenderOptions
from facesvg.core.scale import iris_scale
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
PIXEL_EDGE = smooth.PIXEL_EDGE  # outlines move this far out of the boundary pixels' centres
# Regions and zones are carved and traced on a canvas of this side whatever the output's size, then
# mapped onto the output: what exists on the face, its visibility and its photo-pixel geometry do not
# depend on ``canvas_size`` (at 128 px an eye is a few pixels, and thin zones vanished).
TRACE_CANVAS = 1024


@dataclass(frozen=True)
class RenderResult:
    svg: bytes  # face.svg
    region_svgs: dict[str, bytes]  # region or zone name -> standalone SVG
    size: tuple[int, int]
    transform: list[list[float]]  # 2x3, input px -> output px
    rotation_deg: float
    regions: dict[str, list[list[float]]]  # canvas px
    missing: list[str]  # requested regions and zones that are not visible
    visibility: dict[str, dict[str, Any]]  # name -> {"visible_fraction", "occluded_by"}, every one requested
    timings_ms: dict[str, float]
    zones: dict[str, list[list[float]]] = field(default_factory=dict)  # canvas px
    source_size: tuple[int, int] = (0, 0)  # the input photo (after EXIF orientation), px
    scale: dict[str, Any] | None = None  # mm per px from the iris, or None
    subject_on_image_left: str = "right"  # whose side the viewer's "left" names are
    face_index: int = 0  # which face of the landmark document was rendered
    segmentation_source: str = CLIENT  # "client": the map sent; "landmarks": derived from them

    @property
    def inverse_transform(self) -> list[list[float]]:
        inv = cv2.invertAffineTransform(np.asarray(self.transform, np.float64))
        rows: list[list[float]] = np.asarray(inv, np.float64).reshape(2, 3).tolist()
        return [[round(float(v), 8) for v in row] for row in rows]

    def source_px(self, polygons: dict[str, list[list[float]]]) -> dict[str, list[list[float]]]:
        """Polygons mapped back onto the input photo (the frame ``transform`` maps from)."""
        inv = np.asarray(self.inverse_transform)
        return {
            name: _rounded(align.apply(inv, np.asarray(poly))).tolist() for name, poly in polygons.items()
        }

    def polygons(self) -> dict[str, list[list[float]]]:
        return {**self.regions, **self.zones}

    def areas(self) -> dict[str, dict[str, float | None]]:
        """Each region's and zone's area: canvas px², input-photo px², and mm² when the scale is known."""
        m = np.asarray(self.transform, np.float64)
        source_per_canvas = 1.0 / abs(float(np.linalg.det(m[:, :2])))
        mm = self.scale["mm_per_source_px"] if self.scale else None
        out: dict[str, dict[str, float | None]] = {}
        for name, poly in self.polygons().items():
            px2 = exports.polygon_area(poly)
            src = px2 * source_per_canvas
            out[name] = {
                "px2": round(px2, 1),
                "source_px2": round(src, 1),
                "mm2": round(src * mm * mm, 1) if mm else None,
            }
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``result.json`` contract."""
        return {
            "size": list(self.size),
            "source_size": list(self.source_size),
            "transform": self.transform,
            "inverse_transform": self.inverse_transform,
            "rotation_deg": self.rotation_deg,
            "regions": self.regions,
            "zones": self.zones,
            "regions_source_px": self.source_px(self.regions),
            "zones_source_px": self.source_px(self.zones),
            "missing": self.missing,
            "visibility": self.visibility,
            "subject_on_image_left": self.subject_on_image_left,
            "face_index": self.face_index,
            "scale": self.scale,
            "segmentation": {"source": self.segmentation_source},
            "areas": self.areas(),
            "timings_ms": self.timings_ms,
        }

    def geojson(self) -> dict[str, Any]:
        """``result.geojson``: one Feature per region and zone, in the input photo's pixels."""
        polys = self.source_px(self.polygons())
        return exports.geojson(polys, self.areas(), self.visibility, self.subject_on_image_left)

    def coco(self, file_name: str = "image") -> dict[str, Any]:
        """``result.coco.json``: COCO annotations of the regions and zones on the input photo."""
        w, h = self.source_size
        return exports.coco(self.source_px(self.polygons()), w, h, file_name)

    def documents(self, image_name: str = "image") -> dict[str, dict[str, Any]]:
        """Every result document by file name (``image_name``: the photo's name, for COCO)."""
        return {
            "result.json": self.to_json(),
            "result.geojson": self.geojson(),
            "result.coco.json": self.coco(image_name),
        }


def _rounded(poly: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.round(poly, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out


def _region_outline(blob: regions.Blob, scale: float) -> np.ndarray:
    """A region's smooth outline: sub-pixel, on the pixels' outer edge, smoothing scaled to its size."""
    assert blob.contour is not None
    sigma = min(SIGMA_PX * scale, SMALL_SIGMA * float(np.sqrt(blob.area)))
    return smooth.outset(smooth.smooth_closed(blob.contour, sigma, STEP_PX * scale), PIXEL_EDGE)


def _trace_to_output(trace: align.Alignment, out: align.Alignment) -> np.ndarray:
    """The 2x3 affine from the tracing canvas to the output canvas (through the photo's pixels)."""
    back = np.vstack([cv2.invertAffineTransform(trace.matrix), [0.0, 0.0, 1.0]])
    out_m: np.ndarray = out.matrix @ back
    return out_m


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


# Regions whose derived labels are their landmark template itself: without a parsing map nothing
# says how much of them is hidden (a hand, a fringe over a brow), so their fraction is unknown.
TEMPLATE_DRAWN = ("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "nose", "upper_lip", "lower_lip")
UNKNOWN: dict[str, Any] = {"visible_fraction": None, "occluded_by": []}


def render(
    image: bytes,
    segmentation: bytes | None,
    landmarks: LandmarkSource,
    options: RenderOptions = DEFAULT_OPTIONS,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Bytes in, SVG documents and geometry out. Raises ``InputError``/``NoFace`` on bad input.

    ``segmentation`` None: the label map is derived from the landmarks and the photo."""
    t0 = time.perf_counter()
    inputs = load_inputs(image, segmentation, landmarks, limits, options.label_scheme, options.face_index)
    return _render(inputs, options, decode_ms=(time.perf_counter() - t0) * 1e3, t_start=t0)


class _Laps:
    """Wall-clock per stage, in ms: each ``lap`` closes the stage that ran since the last one."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = (now - self._t) * 1e3
        self._t = now


@dataclass(frozen=True)
class _Aligned:
    """The face on the output canvas, and the tracing canvas its regions are carved on."""

    out: align.Alignment  # input px -> output canvas
    photo: np.ndarray  # the photo on the output canvas
    silhouette: np.ndarray  # the closed person silhouette on the output canvas
    trace: align.Alignment  # input px -> tracing canvas (``out`` itself at the default size)
    trace_labels: np.ndarray  # labels on the tracing canvas
    source: regions.LabelSource  # the map at its own resolution, and its px -> tracing canvas px
    points: np.ndarray  # landmarks on the tracing canvas


def _align(inputs: FaceInputs, options: RenderOptions) -> _Aligned:
    canvas = options.canvas_size
    al = align.plan(inputs.labels, inputs.landmarks, canvas, options.margin)
    photo = align.warp_image(inputs.image, al)
    # The map at its own resolution, and its px -> canvas px: labels are traced from it, not resized.
    own = inputs.labels if inputs.label_map is None else inputs.label_map
    labels = align.warp_labels(own, al, inputs.labels_to_image)
    sil = _closed_silhouette(labels, canvas / 1024.0)
    # The tracing frame: the output's at the default size, else the same alignment at TRACE_CANVAS.
    trace = (
        al
        if canvas == TRACE_CANVAS
        else align.plan(inputs.labels, inputs.landmarks, TRACE_CANVAS, options.margin)
    )
    trace_labels = labels if trace is al else align.warp_labels(own, trace, inputs.labels_to_image)
    source = regions.LabelSource(own, align.compose(trace.matrix, inputs.labels_to_image))
    pts = align.apply(trace.matrix, inputs.landmarks)
    return _Aligned(al, photo, sil, trace, trace_labels, source, pts)


def _carve(
    inputs: FaceInputs, options: RenderOptions, aligned: _Aligned
) -> tuple[regions.Scene, dict[str, regions.Blob | None], dict[str, dict[str, Any]]]:
    """The scene on the tracing canvas, every requested region and zone's blob, and its visibility."""
    h, w = inputs.image.shape[:2]
    frame = align.apply(aligned.trace.matrix, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
    region_names, zone_names = options.layers()
    labels_ears = SCHEMES[options.label_scheme].labels_ears
    sc = regions.scene(aligned.trace_labels, aligned.points, frame, labels_ears, aligned.source)
    blobs: dict[str, regions.Blob | None] = {}
    visibility: dict[str, dict[str, Any]] = {}
    for carving in (
        regions.carve_regions(sc) if region_names else None,
        zones.carve_zones(sc, zone_names) if zone_names else None,
    ):
        if carving is not None:
            blobs.update(carving.blobs)
            visibility.update({n: v.to_json() for n, v in carving.visibility.items()})
    if inputs.labels_source == LANDMARKS:
        visibility.update({n: dict(UNKNOWN) for n in TEMPLATE_DRAWN if n in visibility})
    return sc, blobs, visibility


def _outlines(blobs: dict[str, regions.Blob | None], aligned: _Aligned) -> dict[str, np.ndarray]:
    """Each traced blob's smooth outline, on the output canvas."""
    polys: dict[str, np.ndarray] = {}
    to_output = None if aligned.trace is aligned.out else _trace_to_output(aligned.trace, aligned.out)
    for name, blob in blobs.items():
        if blob is not None and blob.contour is not None:
            outline = _region_outline(blob, TRACE_CANVAS / 1024.0)
            polys[name] = _rounded(outline if to_output is None else align.apply(to_output, outline))
    return polys


def _documents(
    size: tuple[int, int],
    clip: list[np.ndarray],
    polys: dict[str, np.ndarray],
    options: RenderOptions,
    href: bytes,
) -> tuple[bytes, dict[str, bytes]]:
    """``face.svg`` and each region's and zone's own SVG."""
    region_names, zone_names = options.layers()
    clip_d = svg.path_d(clip)
    wanted = (*region_names, *zone_names)
    paths = {name: svg.path_d([polys[name]]) for name in wanted if name in polys}
    # The composite shows the anatomical regions; "face" (their union, plus the rest) has its own file.
    face_svg = svg.document(
        size,
        clip_d,
        [(n, paths[n]) for n in region_names if n in paths and n != "face"],
        options.style,
        href,
        zones=[(n, paths[n]) for n in zone_names if n in paths],
    )
    region_svgs = svg.region_documents(size, clip_d, list(paths.items()), options.style, href)
    return face_svg, region_svgs


def _render(inputs: FaceInputs, options: RenderOptions, decode_ms: float, t_start: float) -> RenderResult:
    laps = _Laps({"decode": decode_ms})
    scale = options.canvas_size / 1024.0
    aligned = _align(inputs, options)
    laps.lap("align")

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The photo encode (the single biggest cost, GIL released) overlaps regions and smoothing.
        photo = _blank_outside(aligned.photo, aligned.silhouette, scale)
        encoded = pool.submit(svg.encode_photo, photo, options.image_format, options.image_quality)
        sc, blobs, visibility = _carve(inputs, options, aligned)
        laps.lap("regions")
        polys = _outlines(blobs, aligned)
        clip = _clip_polygons(aligned.silhouette, scale)
        laps.lap("smooth")
        href = svg.data_uri(encoded.result(), options.image_format)
    face_svg, region_svgs = _documents(aligned.out.size, clip, polys, options, href)
    laps.lap("encode")
    laps.timings["total"] = (time.perf_counter() - t_start) * 1e3
    return _result(inputs, options, aligned.out, sc, polys, visibility, laps.timings, face_svg, region_svgs)


def _result(
    inputs: FaceInputs,
    options: RenderOptions,
    al: align.Alignment,
    sc: regions.Scene,
    polys: dict[str, np.ndarray],
    visibility: dict[str, dict[str, Any]],
    timings: dict[str, float],
    face_svg: bytes,
    region_svgs: dict[str, bytes],
) -> RenderResult:
    region_names, zone_names = options.layers()
    wanted = (*region_names, *zone_names)
    h, w = inputs.image.shape[:2]
    iris = iris_scale(inputs.landmarks)

    return RenderResult(
        svg=face_svg,
        region_svgs=region_svgs,
        size=al.size,
        transform=[[round(float(v), 6) for v in row] for row in al.matrix],
        rotation_deg=round(al.rotation_deg, 3),
        regions={name: polys[name].tolist() for name in region_names if name in polys},
        zones={name: polys[name].tolist() for name in zone_names if name in polys},
        missing=[name for name in wanted if name not in polys],
        visibility=visibility,
        timings_ms={k: round(timings[k], 2) for k in STAGES},
        source_size=(w, h),
        scale=iris.to_json(canvas_per_source=float(np.sqrt(abs(np.linalg.det(al.matrix[:, :2])))))
        if iris
        else None,
        subject_on_image_left="right" if sc.g.left == "R" else "left",
        face_index=options.face_index,
        segmentation_source=inputs.labels_source,
    )
