"""`facesvg fidelity`: how well the regions match the labels, the skin, the true ears and the customer.

Renders every case once (the bundled QOVES sample, the QOVES example face and each folder of
``../shared/faces`` when present), measures each result on the output canvas and checks the bars
below; the exit status is 1 when a bar fails. ``../shared`` is only read in place.

Layout: metrics on masks (pure), then measuring one case, then the bars, then the printing.
Every mask is a full-canvas ``bool`` array: a region polygon covers the pixels whose centres lie
inside it (see ``rasterize``), and the labels are warped with the render's own ``transform``
(nearest neighbour), so the numbers measure the ``result.json`` contract, not the core's internals.
The render time is one run per case (decode + render), not a benchmark: ``make bench`` is that.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facesvg.core import align
from facesvg.core import landmarks_topology as topo
from facesvg.core.inputs import load_inputs
from facesvg.core.label_maps import decode_labels, fit_labels
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import render_inputs
from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES

REPO = Path(__file__).resolve().parents[3]
DEFAULT_SAMPLE = REPO / "samples" / "qoves"
DEFAULT_SHARED = REPO.parent / "shared"

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

# Bars.
BAR_CUSTOMER_IOU = 0.90
BAR_LABEL_IOU = 0.85
BAR_INSIDE_SKIN = 0.95
BAR_EAR_IOU = 0.5
BAR_EARS_FOUND = 0.90  # share of the visible-ear instances found with IoU >= BAR_EAR_IOU
BAR_OVERLAP = 0.001
EAR_VISIBLE = 0.002  # a true ear counts as visible from this share of the face-oval area
EAR_FALSE_IOU = 0.1  # a drawn ear below this IoU with the true one is drawn "where there is none"
BAR_EAR_MEAN_IOU = 0.75  # mean IoU over the visible true ears that are found
BAR_EAR_SEEN = 0.25  # a visible true ear that is found is not reported as (mostly) hidden

# A face's real 19-class map (face-parsing.PyTorch order) against its LaPa render and true ears.
SCHEME_FILE, SCHEME = "segmentation_map_faceparsing19.png", "faceparsing19"
BAR_SCHEME_LABEL_IOU = 0.95  # each label region against the same region of the LaPa render
BAR_SCHEME_EAR_IOU = 0.85  # each visible true ear against the drawn one (the ears follow the ear labels)

SAMPLE, EXAMPLE, FACES, SCHEMES = "sample", "example", "faces", "schemes"
CENTRE, FILLPOLY = "centre", "fillpoly"  # rasterization rules


# ------------------------------------------------------------------------------ metrics on masks


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def rasterize(
    poly: Sequence[Sequence[float]] | np.ndarray, size: tuple[int, int], rule: str = CENTRE
) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (even-odd, half-open), as a ``bool`` mask.

    Size is (w, h); pixel ``(row i, col j)`` is the point ``(j, i)``, as for OpenCV's warps. Unlike
    ``cv2.fillPoly``, which also sets every pixel the outline touches, this is an unbiased sampling
    (its pixel count is the polygon's area): two polygons that share an edge share no pixel, so the
    overlap bar measures the geometry and not a one-pixel seam (fillPoly puts ~2.5 % of a 40 px
    square into its neighbour). ``rule=FILLPOLY`` gives fillPoly's answer (4 fractional bits).
    """
    w, h = size
    mask = np.zeros((h, w), bool)
    p = np.asarray(poly, np.float64).reshape(-1, 2)
    if len(p) < 3:
        return mask
    if rule == FILLPOLY:
        filled = np.zeros((h, w), np.uint8)
        cv2.fillPoly(filled, [np.rint(p * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        return filled.astype(bool)
    q = np.roll(p, -1, axis=0)
    # Each edge crosses the rows i with min(y) <= i < max(y) (half-open: no vertex counts twice).
    r0 = np.clip(np.ceil(np.minimum(p[:, 1], q[:, 1])), 0, h).astype(np.int64)
    r1 = np.clip(np.ceil(np.maximum(p[:, 1], q[:, 1])), 0, h).astype(np.int64)
    counts = r1 - r0
    if counts.sum() == 0:
        return mask
    edge = np.repeat(np.arange(len(p)), counts)
    rows = r0[edge] + np.arange(len(edge)) - np.repeat(np.cumsum(counts) - counts, counts)
    (x0, y0), (x1, y1) = p[edge].T, q[edge].T
    xs = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
    top, bottom = int(rows.min()), int(rows.max()) + 1
    # Each crossing flips the inside/outside parity from the first pixel centre right of it on.
    cols = np.clip(np.ceil(xs), 0, w).astype(np.int64)
    flips = np.bincount((rows - top) * (w + 1) + cols, minlength=(bottom - top) * (w + 1))
    parity = np.cumsum(flips.reshape(bottom - top, w + 1), axis=1) & 1
    mask[top:bottom] = parity[:, :w].astype(bool)
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    """Intersection over union of two masks; None when both are empty (nothing to compare)."""
    union = _count(a | b)
    return _count(a & b) / union if union else None


def inside_share(region: np.ndarray, inside: np.ndarray) -> float | None:
    """``|region ∩ inside| / |region|``; None for an empty region."""
    area = _count(region)
    return _count(region & inside) / area if area else None


@dataclass(frozen=True)
class Overlap:
    share: float  # |A ∩ B| / min(|A|, |B|)
    a: str = ""
    b: str = ""


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    return x, y, x + w, y + h


def max_overlap(masks: Mapping[str, np.ndarray]) -> Overlap:
    """The pair of masks that overlap most, as a share of the smaller one's area."""
    areas = {k: _count(m) for k, m in masks.items()}
    boxes = {k: _bbox(m) for k, m in masks.items() if areas[k]}
    best = Overlap(0.0)
    for a, b in combinations(boxes, 2):
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
        x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
        if x0 >= x1 or y0 >= y1:
            continue
        shared = _count(masks[a][y0:y1, x0:x1] & masks[b][y0:y1, x0:x1])
        share = shared / min(areas[a], areas[b])
        if share > best.share:
            best = Overlap(share, a, b)
    return best


def midline(points: np.ndarray) -> tuple[float, float]:
    """Facial midline ``x = a * y + b`` through the midline landmarks (canvas px)."""
    mid = points[list(topo.MIDLINE)]
    a, b = np.polyfit(mid[:, 1], mid[:, 0], 1)
    return float(a), float(b)


def viewer_side(shape: tuple[int, int], line: tuple[float, float], side: str) -> np.ndarray:
    """Pixels whose centre lies on the viewer's ``side`` ("left"/"right") of the line ``x = a*y + b``."""
    h, w = shape
    mid_x = line[0] * np.arange(h, dtype=np.float64) + line[1]
    left = np.arange(w, dtype=np.float64)[None, :] < mid_x[:, None]
    return left if side == "left" else ~left


def in_labels(labels: np.ndarray, values: Iterable[int]) -> np.ndarray:
    return np.isin(labels, list(values))


# ------------------------------------------------------------------------------------- one case


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # SAMPLE | EXAMPLE | FACES
    image: Path
    segmentation: Path
    landmarks: Path
    truth_ears: Path | None = None
    customer: Path | None = None  # regions.json of the example face
    label_scheme: str = "lapa"
    lapa_segmentation: Path | None = None  # SCHEMES rows: the LaPa map whose render they must agree with


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


def discover(sample: Path | None, shared: Path | None) -> list[Case]:
    """The QOVES sample, the example face and every case folder of ``shared/faces`` that exist."""
    cases: list[Case] = []
    if sample is not None and (sample / "original_image.png").is_file():
        cases.append(
            Case(
                "qoves-sample",
                SAMPLE,
                sample / "original_image.png",
                sample / "segmentation_map.png",
                sample / "landmarks.txt",
            )
        )
    if shared is None:
        return cases
    example = shared / "samples" / "qoves-example"
    if (example / "photo.png").is_file():
        customer = example / "regions.json"
        cases.append(
            Case(
                "qoves-example",
                EXAMPLE,
                example / "photo.png",
                example / "segmentation_map.png",
                example / "landmarks.json",
                customer=customer if customer.is_file() else None,
            )
        )
    faces = shared / "faces"
    for folder in sorted(p for p in faces.glob("*") if p.is_dir()) if faces.is_dir() else []:
        image = next((folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file()), None)
        if image is None or not (folder / "segmentation_map.png").is_file():
            continue
        truth = folder / "truth_ears.png"
        cases.append(
            Case(
                folder.name,
                FACES,
                image,
                folder / "segmentation_map.png",
                folder / "landmarks.json",
                truth_ears=truth if truth.is_file() else None,
            )
        )
        if (folder / SCHEME_FILE).is_file():
            cases.append(
                Case(
                    f"{folder.name}@{SCHEME}",
                    SCHEMES,
                    image,
                    folder / SCHEME_FILE,
                    folder / "landmarks.json",
                    truth_ears=truth if truth.is_file() else None,
                    label_scheme=SCHEME,
                    lapa_segmentation=folder / "segmentation_map.png",
                )
            )
    return cases


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
        truth_px = _count(true_ear)
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
    report.zone_inside_skin = {name: inside_share(m, skin) for name, m in zones.items()}
    report.zone_overlap = max_overlap(zones)
    for name, mask in zones.items():
        side = name.split("_")[0]
        if side in ("left", "right"):
            on_side = inside_share(mask, viewer_side(mask.shape, line, side))
            if on_side is not None and on_side < 0.5:
                report.zones_off_side.append(name)

    if case.customer is not None:
        doc = json.loads(case.customer.read_text())
        report.customer_iou = {}
        for name in CUSTOMER_REGIONS:
            theirs = rasterize(align.apply(matrix, np.asarray(doc["regions"][name], np.float64)), size, rule)
            report.customer_iou[name] = iou(masks.get(name, empty), theirs)
    return report


# ------------------------------------------------------------------------------------------ bars


@dataclass(frozen=True)
class Bar:
    name: str
    passed: bool | None  # None: not measured (its material is absent)
    detail: str


def _fails(values: Iterable[tuple[str, str, float | None]], ok: Any) -> list[str]:
    return [f"{case}/{name} {v:.3f}" for case, name, v in values if v is not None and not ok(v)]


def _bar(name: str, applies: bool, failures: list[str], measured: str) -> Bar:
    if not applies:
        return Bar(name, None, "not measured")
    return Bar(name, not failures, ", ".join(failures) if failures else measured)


def _at_least_bar(name: str, applies: bool, values: list[tuple[str, str, float | None]], bar: float) -> Bar:
    """Every measured value >= ``bar``; reports the lowest."""
    low = min((v for *_, v in values if v is not None), default=1.0)
    return _bar(name, applies, _fails(values, lambda v: v >= bar), f"min {low:.3f}")


def _overlap_bar(name: str, overlaps: list[tuple[str, Overlap]], other_failures: Sequence[str] = ()) -> Bar:
    failures = [f"{case} {o.a}/{o.b} {o.share:.2%}" for case, o in overlaps if o.share > BAR_OVERLAP]
    worst = max((o.share for _, o in overlaps), default=0.0)
    return _bar(name, bool(overlaps), failures + list(other_failures), f"max {worst:.3%}")


def check_bars(reports: Sequence[Report]) -> list[Bar]:
    """The bars over the measured cases."""
    ok = [r for r in reports if r.error is None]
    example = [r for r in ok if r.kind == EXAMPLE and r.customer_iou is not None]
    faces = [r for r in reports if r.kind == FACES]
    faces_ok = [r for r in faces if r.error is None]
    bars = [
        _bar("every case renders", bool(reports), [f"{r.case} ({r.error})" for r in reports if r.error], "")
    ]

    cust = [(r.case, n, v) for r in example for n, v in (r.customer_iou or {}).items()]
    bars.append(
        _bar(
            f"example: right_cheek, right_undereye IoU with the customer's >= {BAR_CUSTOMER_IOU}",
            bool(example),
            _fails(cust, lambda v: v >= BAR_CUSTOMER_IOU),
            " ".join(f"{n} {v:.3f}" for _, n, v in cust if v is not None),
        )
    )

    absent = [(r.case, [m for m in r.missing if m not in EARS]) for r in faces_ok]
    absent_text = [f"{case}: {', '.join(names)}" for case, names in absent if names]
    bars.append(_bar("faces: every non-ear region present", bool(faces), absent_text, ""))

    instances = [(r.case, n, e) for r in faces_ok if r.ears for n, e in r.ears.items() if e.visible]
    bad = [
        f"{c}/{n} " + (f"IoU {e.iou:.2f}" if e.iou is not None else "not found")
        for c, n, e in instances
        if e.iou is None or e.iou < BAR_EAR_IOU
    ]
    good = len(instances) - len(bad)
    share = good / len(instances) if instances else 1.0
    bars.append(
        _bar(
            f"faces: visible ears found with IoU >= {BAR_EAR_IOU} in >= {BAR_EARS_FOUND:.0%}",
            any(r.ears is not None for r in faces_ok),
            [f"{good}/{len(instances)} = {share:.0%} ({', '.join(bad)})"] if share < BAR_EARS_FOUND else [],
            f"{good}/{len(instances)} = {share:.0%}",
        )
    )
    false_ears = [f"{r.case}/{n}" for r in faces_ok if r.ears for n, e in r.ears.items() if e.false_ear]
    bars.append(
        _bar(
            "faces: no ear drawn where there is none",
            any(r.ears is not None for r in faces_ok),
            false_ears,
            "",
        )
    )

    bars.extend(ear_bars(faces_ok))
    labels = [(r.case, n, v) for r in faces_ok for n, v in r.label_iou.items()]
    bars.append(
        _at_least_bar(
            f"faces: label regions IoU >= {BAR_LABEL_IOU} with their label",
            bool(faces_ok),
            labels,
            BAR_LABEL_IOU,
        )
    )
    skin = [(r.case, n, v) for r in faces_ok for n, v in r.inside_skin.items()]
    bars.append(
        _at_least_bar(
            f"faces: carved regions >= {BAR_INSIDE_SKIN:.0%} inside skin",
            bool(faces_ok),
            skin,
            BAR_INSIDE_SKIN,
        )
    )
    bars.append(
        _overlap_bar(
            f"all: no two regions overlap by more than {BAR_OVERLAP:.1%} of the smaller",
            [(r.case, r.overlap) for r in ok],
        )
    )
    schemes = [r for r in ok if r.kind == SCHEMES]
    agree = [(r.case, n, v) for r in schemes for n, v in (r.lapa_iou or {}).items()]
    bars.append(
        _at_least_bar(
            f"{SCHEME}: label regions IoU >= {BAR_SCHEME_LABEL_IOU} with the LaPa render",
            bool(schemes),
            agree,
            BAR_SCHEME_LABEL_IOU,
        )
    )
    scheme_ears = [
        (r.case, n, e.iou if e.found else 0.0)
        for r in schemes
        if r.ears
        for n, e in r.ears.items()
        if e.visible
    ]
    bars.append(
        _bar(
            f"{SCHEME}: visible ears IoU >= {BAR_SCHEME_EAR_IOU} with truth_ears",
            bool(scheme_ears),
            _fails(scheme_ears, lambda v: v >= BAR_SCHEME_EAR_IOU),
            f"{len(scheme_ears)} ears, min {min((v or 0.0 for *_, v in scheme_ears), default=1.0):.3f}",
        )
    )
    zone_skin = [(r.case, n, v) for r in ok for n, v in r.zone_inside_skin.items()]
    bars.append(
        _at_least_bar(f"zones: >= {BAR_INSIDE_SKIN:.0%} inside skin", bool(ok), zone_skin, BAR_INSIDE_SKIN)
    )
    bars.append(
        _overlap_bar(
            f"zones: no two overlap by more than {BAR_OVERLAP:.1%}, each on its side",
            [(r.case, r.zone_overlap) for r in ok],
            [f"{r.case} {n} off its side" for r in ok for n in r.zones_off_side],
        )
    )
    return bars


def ear_bars(faces: Sequence[Report]) -> list[Bar]:
    """The visible true ears of the LaPa faces that are found: their mean IoU, and that none is
    reported as hidden (how many are found is the bar before)."""
    found = [(r.case, n, e) for r in faces if r.ears for n, e in r.ears.items() if e.visible and e.found]
    ious = [(c, n, e.iou or 0.0) for c, n, e in found]
    mean = sum(v for *_, v in ious) / len(ious) if ious else 1.0
    each = ", ".join(f"{c}/{n} {v:.2f}" for c, n, v in ious)
    return [
        _bar(
            f"faces: visible ears found, mean IoU >= {BAR_EAR_MEAN_IOU} with truth_ears",
            bool(found),
            [f"mean {mean:.3f} ({each})"] if mean < BAR_EAR_MEAN_IOU else [],
            f"mean {mean:.3f} ({each})",
        ),
        _at_least_bar(
            f"faces: no visible ear found is reported as hidden (visible_fraction >= {BAR_EAR_SEEN})",
            bool(found),
            [(c, n, e.visible_fraction) for c, n, e in found],
            BAR_EAR_SEEN,
        ),
    ]


def exit_code(bars: Sequence[Bar]) -> int:
    return 1 if any(b.passed is False for b in bars) else 0


# ------------------------------------------------------------------- landmarks only (no map)

# Each face rendered twice, with its real map and without one (the labels derived from the
# landmarks and the photo): per-region IoU between the two, on the real-map render's canvas.
NON_EAR_REGIONS = tuple(n for n in REGION_NAMES if n not in EARS)
MAPLESS_FEATURES = ("left_eye", "right_eye", "nose", "upper_lip", "lower_lip")
BAR_MAPLESS_MEAN = 0.85  # mean IoU over the non-ear regions, on every face
BAR_MAPLESS_FEATURE = 0.80  # each eye, the nose and each lip
BAR_MAPLESS_FOREHEAD = 0.80  # the hairline from colour


@dataclass
class MaplessReport:
    case: str
    error: str | None = None
    derive_ms: float = 0.0  # the render without a map minus the one with it (decode + render)
    iou: dict[str, float | None] = field(default_factory=dict)  # region -> IoU, None: in neither
    absent: list[str] = field(default_factory=list)  # drawn with the map, not without it

    @property
    def mean_non_ear(self) -> float | None:
        """A region drawn in one render only scores 0; one in neither (None) is left out."""
        measured = [v for n in NON_EAR_REGIONS if (v := self.iou.get(n)) is not None]
        return float(np.mean(measured)) if measured else None


def mapless_cases(cases: Sequence[Case]) -> list[Case]:
    """The sample and the faces with a LaPa map (the rows the landmarks-only table measures)."""
    return [c for c in cases if c.kind in (SAMPLE, FACES)]


def _timed_render(image: bytes, seg: bytes | None, lms: bytes) -> tuple[Any, float]:
    t0 = time.perf_counter()
    inputs = load_inputs(image, seg, lms)
    decode_ms = (time.perf_counter() - t0) * 1e3
    result = render_inputs(inputs)
    return result, decode_ms + result.timings_ms["total"]


def measure_mapless(case: Case, rule: str = CENTRE) -> MaplessReport:
    """Render with the real map and without one; each region's IoU between the two renders."""
    report = MaplessReport(case.name)
    try:
        image, seg, lms = (p.read_bytes() for p in (case.image, case.segmentation, case.landmarks))
        with_map, ms_map = _timed_render(image, seg, lms)
        without, ms_none = _timed_render(image, None, lms)
    except Exception as exc:  # every failure is a row of the table
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    report.derive_ms = round(ms_none - ms_map, 1)
    # The two renders frame the head from different labels: bring the map-less polygons onto the
    # real-map render's canvas through the input photo.
    to_real = np.asarray(with_map.transform, np.float64)
    size = with_map.size
    for name in REGION_NAMES:
        a = with_map.regions.get(name)
        b = without.source_px({name: without.regions[name]})[name] if name in without.regions else None
        if a is not None and b is None:
            report.absent.append(name)
        mask_a = rasterize(a, size, rule) if a is not None else np.zeros((size[1], size[0]), bool)
        mask_b = (
            rasterize(align.apply(to_real, np.asarray(b, np.float64)), size, rule)
            if b is not None
            else np.zeros((size[1], size[0]), bool)
        )
        report.iou[name] = iou(mask_a, mask_b)
    return report


def check_mapless_bars(reports: Sequence[MaplessReport]) -> list[Bar]:
    ok = [r for r in reports if r.error is None]
    applies = bool(reports)
    feats: list[tuple[str, str, float | None]] = [
        (r.case, n, r.iou.get(n) or 0.0) for r in ok for n in MAPLESS_FEATURES
    ]
    return [
        _bar(
            "landmarks only: every face renders",
            applies,
            [f"{r.case} ({r.error})" for r in reports if r.error],
            "",
        ),
        _bar(
            "landmarks only: every region drawn with the map is drawn without it",
            applies,
            [f"{r.case}: {', '.join(r.absent)}" for r in ok if r.absent],
            "",
        ),
        _at_least_bar(
            f"landmarks only: mean IoU over the non-ear regions >= {BAR_MAPLESS_MEAN} on every face",
            applies,
            [(r.case, "mean", r.mean_non_ear) for r in ok],
            BAR_MAPLESS_MEAN,
        ),
        _at_least_bar(
            f"landmarks only: eyes, nose, lips IoU >= {BAR_MAPLESS_FEATURE} each",
            applies,
            feats,
            BAR_MAPLESS_FEATURE,
        ),
        _at_least_bar(
            f"landmarks only: forehead IoU >= {BAR_MAPLESS_FOREHEAD}",
            applies,
            [(r.case, "forehead", r.iou.get("forehead") or 0.0) for r in ok],
            BAR_MAPLESS_FOREHEAD,
        ),
    ]


_MAPLESS_COLS = (
    ("face", "face"), ("fhd", "forehead"), ("brwL", "left_eyebrow"), ("brwR", "right_eyebrow"),
    ("eyeL", "left_eye"), ("eyeR", "right_eye"), ("ueL", "left_undereye"), ("ueR", "right_undereye"),
    ("chkL", "left_cheek"), ("chkR", "right_cheek"), ("nose", "nose"), ("ulip", "upper_lip"),
    ("llip", "lower_lip"), ("chin", "chin"), ("earL", "left_ear"), ("earR", "right_ear"),
)  # fmt: skip


def format_mapless_table(reports: Sequence[MaplessReport]) -> str:
    """Per face: each region's IoU between the render with the real map and the one without."""
    bars = {n: BAR_MAPLESS_FEATURE for n in MAPLESS_FEATURES} | {"forehead": BAR_MAPLESS_FOREHEAD}
    head = (
        f"{'case':<30} {'+ms':>5} | "
        + " ".join(f"{h:>5}" for h, _ in _MAPLESS_COLS)
        + f" | {'mean*':>5} | absent"
    )
    lines = ["landmarks only: IoU of each region, rendered without the map vs with it (*: non-ear)", head]
    lines.append("-" * len(head))
    for r in reports:
        if r.error:
            lines.append(f"{r.case:<30} {'':>5} | FAILED: {r.error}")
            continue
        lines.append(
            f"{r.case:<30} {r.derive_ms:5.0f} | "
            + " ".join(f"{_num(r.iou.get(k), bars.get(k)):>5}" for _, k in _MAPLESS_COLS)
            + f" | {_num(r.mean_non_ear, BAR_MAPLESS_MEAN):>5} | {', '.join(r.absent) or '-'}"
        )
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- printing

_LABEL_COLS = (
    ("nose", "nose"),
    ("ulip", "upper_lip"),
    ("llip", "lower_lip"),
    ("eyeL", "left_eye"),
    ("eyeR", "right_eye"),
    ("brwL", "left_eyebrow"),
    ("brwR", "right_eyebrow"),
)
_SKIN_COLS = (
    ("fhd", "forehead"),
    ("chkL", "left_cheek"),
    ("chkR", "right_cheek"),
    ("ueL", "left_undereye"),
    ("ueR", "right_undereye"),
    ("chin", "chin"),
    ("earL", "left_ear"),
    ("earR", "right_ear"),
)


def _num(v: float | None, bar: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" + ("*" if bar is not None and v < bar else "")


def _ear_cell(e: EarScore | None) -> str:
    if e is None:
        return "n/a"
    if not e.visible:
        return "FP" if e.found else "·"
    if not e.found:
        return "miss"
    return _num(e.iou, BAR_EAR_IOU) + ("!" if e.false_ear else "")


def format_table(reports: Sequence[Report]) -> str:
    head = (
        f"{'case':<30} {'ms':>5} | "
        + " ".join(f"{h:>5}" for h, _ in _LABEL_COLS)
        + " | "
        + " ".join(f"{h:>5}" for h, _ in _SKIN_COLS)
        + f" | {'ear L':>6} {'ear R':>6} | {'overlap':>7} | {'cust chk':>8} {'cust ue':>7} | missing"
    )
    lines = [
        f"{'':<36} | {'IoU with its own warped label':^41} | {'share inside skin (label 1)':^47} | "
        f"{'IoU with truth':^13} | {'max pair':>7} | {'IoU, example':^16} |",
        head,
        "-" * len(head),
    ]
    for r in reports:
        if r.error:
            lines.append(f"{r.case:<30} {'':>5} | FAILED: {r.error}")
            continue
        barred = r.kind == FACES
        ears = r.ears or {}
        cust = r.customer_iou or {}
        lines.append(
            f"{r.case:<30} {r.render_ms:5.0f} | "
            + " ".join(
                f"{_num(r.label_iou.get(k), BAR_LABEL_IOU if barred else None):>5}" for _, k in _LABEL_COLS
            )
            + " | "
            + " ".join(
                f"{_num(r.inside_skin.get(k), BAR_INSIDE_SKIN if barred else None):>5}" for _, k in _SKIN_COLS
            )
            + f" | {_ear_cell(ears.get('left_ear')) if r.ears else 'n/a':>6}"
            f" {_ear_cell(ears.get('right_ear')) if r.ears else 'n/a':>6}"
            f" | {r.overlap.share:6.2%}{'*' if r.overlap.share > BAR_OVERLAP else ' '}"
            f" | {_num(cust.get('right_cheek'), BAR_CUSTOMER_IOU) if r.customer_iou else '':>8}"
            f" {_num(cust.get('right_undereye'), BAR_CUSTOMER_IOU) if r.customer_iou else '':>7}"
            f" | {', '.join(r.missing) or '-'}"
            f" | zones {len(ZONE_NAMES) - len(r.zones_missing)}/{len(ZONE_NAMES)}"
            f" skin>={min((v for v in r.zone_inside_skin.values() if v is not None), default=1.0):.2f}"
            f" ovl {r.zone_overlap.share:.2%}"
        )
    return "\n".join(lines)


def format_details(reports: Sequence[Report]) -> str:
    """Per case: input sizes, the worst overlapping pair, the true ear sizes."""
    lines = []
    for r in reports:
        if r.error:
            continue
        text = f"  {r.case}: photo {r.image_px[0]}x{r.image_px[1]}, labels {r.label_px[0]}x{r.label_px[1]}"
        if r.overlap.a:
            text += f"; overlap {r.overlap.a}/{r.overlap.b}"
        if r.ears:
            text += "; true ears " + ", ".join(
                f"{n[0].upper()} {e.truth_px} px ({e.truth_share:.1%} of the oval)" for n, e in r.ears.items()
            )
        lines.append(text)
    return "\n".join(lines)


def format_bars(bars: Sequence[Bar]) -> str:
    mark = {True: "PASS", False: "FAIL", None: "skip"}
    return "\n".join(f"  {mark[b.passed]}  {b.name}" + (f": {b.detail}" if b.detail else "") for b in bars)


LEGEND = (
    "cells: '*' below its bar (bars apply to ../shared/faces; the example's customer IoU and the overlap "
    "to their cases); ears: IoU when a visible true ear was found, 'miss' visible but not found, "
    "'·' no visible ear and none drawn, 'FP' drawn where there is no ear, '!' IoU < 0.1, "
    "'n/a' no truth_ears.png; '-' region or label absent"
)


# ------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="the QOVES sample folder")
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="folder with samples/qoves-example/ and faces/ (default ../shared; read in place)",
    )
    parser.add_argument("--case", action="append", default=[], help="only cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows and bars as JSON to this file")
    parser.add_argument(
        "--raster",
        choices=(CENTRE, FILLPOLY),
        default=CENTRE,
        help="how polygons become pixels: pixel centres inside (default, unbiased) or cv2.fillPoly "
        "(adds the outline's pixels: larger regions, one-pixel seams between neighbours)",
    )


def run(cases: Sequence[Case], rule: str = CENTRE) -> tuple[list[Report], list[Bar]]:
    reports = [measure(c, rule) for c in cases]
    return reports, check_bars(reports)


def _reframe_rows(sample: Path | None, cases: Sequence[Case], bars: list[Bar]) -> list[dict[str, Any]]:
    """The sample re-framed, on other canvases and with other map sizes (``fidelity_reframe``):
    prints its rows and adds its bars; run when the sample is among the cases."""
    from facesvg.commands import fidelity_reframe

    if sample is None or not any(c.kind == SAMPLE for c in cases):
        return []
    reframed, grid, reframe_bars = fidelity_reframe.run(sample)
    print(fidelity_reframe.format_rows(reframed, grid))
    bars.extend(reframe_bars)
    return [asdict(r) for r in [*reframed, *grid]]


def main(args: argparse.Namespace) -> int:
    shared: Path | None = args.shared if args.shared and args.shared.is_dir() else None
    cases = discover(args.sample, shared)
    if args.case:
        cases = [c for c in cases if any(s in c.name for s in args.case)]
    if not cases:
        print("facesvg fidelity: no cases found", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reports, bars = run(cases, args.raster)
    mapless = [measure_mapless(c, args.raster) for c in mapless_cases(cases)]
    bars += check_mapless_bars(mapless) if mapless else []
    where = f"{shared}" if shared else "no ../shared (sample only)"
    print(f"facesvg fidelity: {len(reports)} cases ({where}), {time.perf_counter() - t0:.1f} s")
    print(format_table(reports))
    print(LEGEND)
    print("inputs:")
    print(format_details(reports))
    if mapless:
        print(format_mapless_table(mapless))
    reframe_rows = _reframe_rows(args.sample, cases, bars)
    print("bars:")
    print(format_bars(bars))
    code = exit_code(bars)
    failed = [b.name for b in bars if b.passed is False]
    print(f"fidelity: {len(failed)} bar(s) failed" if failed else "fidelity: every measured bar passes")
    if args.json:
        doc = {
            "cases": [r.to_json() for r in reports],
            "landmarks_only": [asdict(r) | {"mean_non_ear": r.mean_non_ear} for r in mapless],
            "reframed": reframe_rows,
            "bars": [asdict(b) for b in bars],
            "exit": code,
        }
        args.json.write_text(json.dumps(doc, indent=1))
    return code
