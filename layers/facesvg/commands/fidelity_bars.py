"""`facesvg fidelity`'s bars over the measured cases: each passes, fails (naming the cases) or is not
measured (its material is absent)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from facesvg.commands.fidelity_cases import EXAMPLE, FACES, SCHEME, SCHEMES
from facesvg.commands.fidelity_measure import EARS, Report
from facesvg.commands.fidelity_metrics import Overlap

BAR_CUSTOMER_IOU = 0.90
BAR_LABEL_IOU = 0.85
BAR_INSIDE_SKIN = 0.95
BAR_EAR_IOU = 0.5
BAR_EARS_FOUND = 0.90  # share of the visible-ear instances found with IoU >= BAR_EAR_IOU
BAR_OVERLAP = 0.001
BAR_EAR_MEAN_IOU = 0.75  # mean IoU over the visible true ears that are found
BAR_EAR_SEEN = 0.25  # a visible true ear that is found is not reported as (mostly) hidden
BAR_SCHEME_LABEL_IOU = 0.95  # each label region against the same region of the LaPa render
BAR_SCHEME_EAR_IOU = 0.85  # each visible true ear against the drawn one (the ears follow the ear labels)


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
    faces = [r for r in reports if r.kind == FACES]
    return [
        _bar("every case renders", bool(reports), [f"{r.case} ({r.error})" for r in reports if r.error], ""),
        _customer_bar([r for r in ok if r.kind == EXAMPLE and r.customer_iou is not None]),
        *_face_bars(faces, [r for r in faces if r.error is None]),
        _overlap_bar(
            f"all: no two regions overlap by more than {BAR_OVERLAP:.1%} of the smaller",
            [(r.case, r.overlap) for r in ok],
        ),
        *_scheme_bars([r for r in ok if r.kind == SCHEMES]),
        *_zone_bars(ok),
    ]


def _customer_bar(example: Sequence[Report]) -> Bar:
    cust = [(r.case, n, v) for r in example for n, v in (r.customer_iou or {}).items()]
    return _bar(
        f"example: right_cheek, right_undereye IoU with the customer's >= {BAR_CUSTOMER_IOU}",
        bool(example),
        _fails(cust, lambda v: v >= BAR_CUSTOMER_IOU),
        " ".join(f"{n} {v:.3f}" for _, n, v in cust if v is not None),
    )


def _face_bars(faces: Sequence[Report], faces_ok: Sequence[Report]) -> list[Bar]:
    """The LaPa faces: regions present, the true ears, the labels, the skin."""
    bars: list[Bar] = []
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
    return bars


def _scheme_bars(schemes: Sequence[Report]) -> list[Bar]:
    """The faces rendered from their real 19-class map."""
    bars: list[Bar] = []
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
    return bars


def _zone_bars(ok: Sequence[Report]) -> list[Bar]:
    bars: list[Bar] = []
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
