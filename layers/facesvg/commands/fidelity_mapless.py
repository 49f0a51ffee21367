"""`facesvg fidelity`'s landmarks-only rows: each face rendered with its real map and without one (the
labels derived from the landmarks and the photo), per-region IoU between the two."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facesvg.commands.fidelity_bars import Bar, _at_least_bar, _bar, _fails
from facesvg.commands.fidelity_cases import EXAMPLE, FACES, SAMPLE, Case
from facesvg.commands.fidelity_measure import EARS, customer_iou
from facesvg.commands.fidelity_metrics import CENTRE, iou, rasterize
from facesvg.commands.fidelity_report import num_cell
from facesvg.core import align
from facesvg.core.inputs import load_inputs
from facesvg.core.pipeline import render_inputs
from facesvg.core.region_names import REGION_NAMES

NON_EAR_REGIONS = tuple(n for n in REGION_NAMES if n not in EARS)
MAPLESS_FEATURES = ("left_eye", "right_eye", "nose", "upper_lip", "lower_lip")
BAR_MAPLESS_MEAN = 0.85  # mean IoU over the non-ear regions, on every face
BAR_MAPLESS_FEATURE = 0.80  # each eye, the nose and each lip
BAR_MAPLESS_FOREHEAD = 0.80  # the hairline from colour
BAR_MAPLESS_CUSTOMER = 0.90  # the example face's regions against the customer's, as with a map


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


@dataclass
class MaplessExample:
    """The customer's example face rendered without a map, against the customer's drawn regions
    (none of the map-less rules was developed on this face: a held-out check)."""

    case: str
    error: str | None = None
    customer_iou: dict[str, float | None] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # regions the render without a map lacks


def measure_mapless_example(case: Case, rule: str = CENTRE) -> MaplessExample:
    report = MaplessExample(case.name)
    if case.customer is None:
        report.error = "no regions.json"
        return report
    try:
        result = render_inputs(load_inputs(case.image.read_bytes(), None, case.landmarks.read_bytes()))
    except Exception as exc:  # a failure is a row
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    masks = {name: rasterize(poly, result.size, rule) for name, poly in result.regions.items()}
    matrix = np.asarray(result.transform, np.float64)
    report.customer_iou = customer_iou(case.customer, matrix, masks, result.size, rule)
    report.absent = sorted(n for n in REGION_NAMES if n not in result.regions)
    return report


def mapless_example_cases(cases: Sequence[Case]) -> list[Case]:
    return [c for c in cases if c.kind == EXAMPLE and c.customer is not None]


def check_mapless_example_bars(reports: Sequence[MaplessExample]) -> list[Bar]:
    values = [(r.case, n, v) for r in reports for n, v in r.customer_iou.items()]
    low = min((v for *_, v in values if v is not None), default=0.0)
    failures = _fails(values, lambda v: v >= BAR_MAPLESS_CUSTOMER) + [
        f"{r.case} ({r.error})" for r in reports if r.error
    ]
    name = (
        "landmarks only: example's right_cheek, right_undereye IoU with the customer's"
        f" >= {BAR_MAPLESS_CUSTOMER}"
    )
    return [_bar(name, bool(reports), failures, f"min {low:.3f}")]


def format_mapless_example(reports: Sequence[MaplessExample]) -> str:
    lines = []
    for r in reports:
        if r.error:
            lines.append(f"{r.case} without a map: FAILED: {r.error}")
            continue
        ious = " ".join(f"{n} {v:.3f}" if v is not None else f"{n} -" for n, v in r.customer_iou.items())
        lines.append(
            f"{r.case} without a map, IoU with the customer's: {ious}; absent: {', '.join(r.absent) or '-'}"
        )
    return "\n".join(lines)


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
            + " ".join(f"{num_cell(r.iou.get(k), bars.get(k)):>5}" for _, k in _MAPLESS_COLS)
            + f" | {num_cell(r.mean_non_ear, BAR_MAPLESS_MEAN):>5} | {', '.join(r.absent) or '-'}"
        )
    return "\n".join(lines)
