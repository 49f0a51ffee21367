"""`facesvg fidelity`'s printed report: the table of the measured cases, their inputs, the bars."""

from __future__ import annotations

from collections.abc import Sequence

from facesvg.commands.fidelity_bars import (
    BAR_CUSTOMER_IOU,
    BAR_EAR_IOU,
    BAR_INSIDE_SKIN,
    BAR_LABEL_IOU,
    BAR_OVERLAP,
    Bar,
)
from facesvg.commands.fidelity_cases import FACES
from facesvg.commands.fidelity_measure import EarScore, Report
from facesvg.core.region_names import ZONE_NAMES

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


def num_cell(v: float | None, bar: float | None) -> str:
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
    return num_cell(e.iou, BAR_EAR_IOU) + ("!" if e.false_ear else "")


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
                f"{num_cell(r.label_iou.get(k), BAR_LABEL_IOU if barred else None):>5}"
                for _, k in _LABEL_COLS
            )
            + " | "
            + " ".join(
                f"{num_cell(r.inside_skin.get(k), BAR_INSIDE_SKIN if barred else None):>5}"
                for _, k in _SKIN_COLS
            )
            + f" | {_ear_cell(ears.get('left_ear')) if r.ears else 'n/a':>6}"
            f" {_ear_cell(ears.get('right_ear')) if r.ears else 'n/a':>6}"
            f" | {r.overlap.share:6.2%}{'*' if r.overlap.share > BAR_OVERLAP else ' '}"
            f" | {num_cell(cust.get('right_cheek'), BAR_CUSTOMER_IOU) if r.customer_iou else '':>8}"
            f" {num_cell(cust.get('right_undereye'), BAR_CUSTOMER_IOU) if r.customer_iou else '':>7}"
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
