"""`facesvg fidelity`'s measuring of one case: render it once and score the result against its labels,
the skin, the true ears and the customer's regions, on the output canvas."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facesvg.commands.fidelity_cases import Case
from facesvg.commands.fidelity_metrics import (
    CENTRE,
    Overlap,
    in_labels,
    inside_share,
    iou,
    max_overlap,
    midline,
    pixel_count,
    rasterize,
    viewer_side,
)
from facesvg.core import align
from facesvg.core import landmarks_topology as topo
from facesvg.core.inputs import load_inputs
from facesvg.core.label_maps import decode_labels, fit_labels
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import render_inputs
from facesvg.core.region_names import ZONE_NAMES

SKIN = 1
# Label regions: name -> (label values, viewer side or None). Paired labels are split by the midline.
LABEL_REGIONS: dict[str, tuple[tuple[int, ...], str | None]] = {
    "nose": ((6,), None),
    "upper_lip": ((7,), None),
    "lower_lip": ((9,), None),
    "left_eye": ((4, 5), "left"),
    "right_eye": ((4, 5), "right"),
    "left_eyebrow": ((2, 3), "left"),
    "right_eyebrow": ((2, 3), "right"),
}
CARVED_REGIONS = (
    "forehead",
    "left_cheek",
    "right_cheek",
    "left_undereye",
    "right_undereye",
    "chin",
    "left_ear",
    "right_ear",
)
EARS = ("left_ear", "right_ear")
ALL_LAYERS = RenderOptions(zones="all")  # one render measures the regions and the zones
CUSTOMER_REGIONS = ("right_cheek", "right_undereye")

EAR_VISIBLE = 0.002  # a true ear counts as visible from this share of the face-oval area
EAR_FALSE_IOU = 0.1  # a drawn ear below this IoU with the true one is drawn "where there is none"


@dataclass
class EarScore:
    truth_px: int  # true ear pixels on the canvas, on this side
    truth_share: float  # ... as a share of the face-oval area
    visible: bool
    found: bool
    iou: float | None
    false_ear: bool  # drawn where there is no ear, or with IoU < EAR_FALSE_IOU with it
    visible_fraction: float | None = None  # what result.json reports for this ear


@dataclass
class Report:
    case: str
    kind: str
    error: str | None = None
    render_ms: float = 0.0
    label_px: tuple[int, int] = (0, 0)  # the label map's (w, h), as given
    image_px: tuple[int, int] = (0, 0)
    missing: list[str] = field(default_factory=list)
    label_iou: dict[str, float | None] = field(default_factory=dict)
    inside_skin: dict[str, float | None] = field(default_factory=dict)
    ears: dict[str, EarScore] | None = None  # None: no truth for this case
    overlap: Overlap = field(default_factory=lambda: Overlap(0.0))
    customer_iou: dict[str, float | None] | None = None
    # The aesthetic zones (rendered with zones "all"; they never change the regions above)
    zones_missing: list[str] = field(default_factory=list)
    zone_inside_skin: dict[str, float | None] = field(default_factory=dict)
    zone_overlap: Overlap = field(default_factory=lambda: Overlap(0.0))
    zones_off_side: list[str] = field(default_factory=list)  # a left_/right_ zone on the wrong side
    lapa_iou: dict[str, float | None] | None = None  # SCHEMES rows: label regions vs the LaPa render

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _warp(
    full_res: np.ndarray, matrix: np.ndarray, size: tuple[int, int], to_image: np.ndarray | None = None
) -> np.ndarray:
    """A label-like map at the photo's size (or another, ``to_image``: its px -> photo px) seen on the
    canvas (the core's own nearest warp)."""
    return align.warp_labels(full_res, align.Alignment(matrix=matrix, rotation_deg=0.0, size=size), to_image)


def ear_scores(
    drawn: Mapping[str, np.ndarray], truth: np.ndarray, line: tuple[float, float], oval_area: float
) -> dict[str, EarScore]:
    """Each drawn ear against the true ear pixels on the same viewer side of the midline."""
    out = {}
    for name in EARS:
        side = name.split("_")[0]
        true_ear = truth & viewer_side(truth.shape, line, side)
        truth_px = pixel_count(true_ear)
        visible = truth_px >= EAR_VISIBLE * oval_area > 0
        mask = drawn.get(name)
        found = mask is not None and bool(mask.any())
        score = iou(mask, true_ear) if found and mask is not None and visible else None
        false_ear = bool(found and (not visible or score is None or score < EAR_FALSE_IOU))
        share = truth_px / oval_area if oval_area > 0 else 0.0
        out[name] = EarScore(truth_px, round(share, 5), visible, found, score, false_ear)
    return out


def measure(case: Case, rule: str = CENTRE) -> Report:
    """Render the case once and measure the result; a failed render is reported, not raised."""
    report = Report(case.name, case.kind)
    try:
        image, seg, lms = (p.read_bytes() for p in (case.image, case.segmentation, case.landmarks))
        t0 = time.perf_counter()
        inputs = load_inputs(image, seg, lms, label_scheme=case.label_scheme)
        decode_ms = (time.perf_counter() - t0) * 1e3
        options = ALL_LAYERS.model_copy(update={"label_scheme": case.label_scheme})
        result = render_inputs(inputs, options)
        lapa = None
        if case.lapa_segmentation is not None:
            lapa = render_inputs(load_inputs(image, case.lapa_segmentation.read_bytes(), lms), ALL_LAYERS)
    except Exception as exc:  # every failure is a row of the table
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    report.render_ms = round(decode_ms + result.timings_ms["total"], 1)
    height, width = inputs.image.shape[:2]
    raw = decode_labels(seg, scheme=case.label_scheme)
    report.label_px = (raw.shape[1], raw.shape[0])
    report.image_px = (width, height)
    report.missing = [m for m in result.missing if m not in ZONE_NAMES]
    report.zones_missing = [m for m in result.missing if m in ZONE_NAMES]

    size = result.size
    matrix = np.array(result.transform, np.float64)
    # The labels the render traced: the map at its own resolution, seen through the render's transform.
    own = inputs.label_map
    labels = (
        _warp(inputs.labels, matrix, size)
        if own is None
        else _warp(own, matrix, size, inputs.labels_to_image)
    )
    points = align.apply(matrix, inputs.landmarks)
    line = midline(points)
    masks = {name: rasterize(poly, size, rule) for name, poly in result.regions.items()}
    empty = np.zeros((size[1], size[0]), bool)

    for name, (values, side) in LABEL_REGIONS.items():
        truth = in_labels(labels, values)
        if side is not None:
            truth &= viewer_side(truth.shape, line, side)
        report.label_iou[name] = iou(masks.get(name, empty), truth)
    if lapa is not None:
        lapa_masks = {name: rasterize(poly, lapa.size, rule) for name, poly in lapa.regions.items()}
        report.lapa_iou = {
            name: iou(masks[name], lapa_masks[name]) if name in masks and name in lapa_masks else None
            for name in LABEL_REGIONS
        }
    skin = labels == SKIN
    for name in CARVED_REGIONS:
        if case.label_scheme != "lapa" and name in EARS:
            continue  # drawn from the ear labels, not carved out of skin
        report.inside_skin[name] = inside_share(masks[name], skin) if name in masks else None

    if case.truth_ears is not None:
        truth_raw = decode_labels(case.truth_ears.read_bytes())
        truth = _warp(fit_labels(truth_raw, width, height), matrix, size) > 0
        oval_area = float(cv2.contourArea(points[list(topo.FACE_OVAL)].astype(np.float32)))
        report.ears = ear_scores(masks, truth, line, oval_area)
        for name, score in report.ears.items():
            score.visible_fraction = result.visibility.get(name, {}).get("visible_fraction")

    report.overlap = max_overlap({k: m for k, m in masks.items() if k != "face"})

    zones = {name: rasterize(poly, size, rule) for name, poly in result.zones.items()}
    _measure_zones(report, zones, skin, line)
    if case.customer is not None:
        report.customer_iou = customer_iou(case.customer, matrix, masks, size, rule)
    return report


def _measure_zones(
    report: Report, zones: Mapping[str, np.ndarray], skin: np.ndarray, line: tuple[float, float]
) -> None:
    """The aesthetic zones: inside the skin, apart, each left_/right_ one on its side."""
    report.zone_inside_skin = {name: inside_share(m, skin) for name, m in zones.items()}
    report.zone_overlap = max_overlap(zones)
    for name, mask in zones.items():
        side = name.split("_")[0]
        if side in ("left", "right"):
            on_side = inside_share(mask, viewer_side(mask.shape, line, side))
            if on_side is not None and on_side < 0.5:
                report.zones_off_side.append(name)


def customer_iou(
    customer: Path, matrix: np.ndarray, masks: Mapping[str, np.ndarray], size: tuple[int, int], rule: str
) -> dict[str, float | None]:
    """The example face's ``CUSTOMER_REGIONS`` against the customer's own polygons (``regions.json``)."""
    doc = json.loads(customer.read_text())
    empty = np.zeros((size[1], size[0]), bool)
    out: dict[str, float | None] = {}
    for name in CUSTOMER_REGIONS:
        theirs = rasterize(align.apply(matrix, np.asarray(doc["regions"][name], np.float64)), size, rule)
        out[name] = iou(masks.get(name, empty), theirs)
    return out
