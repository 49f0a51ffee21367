"""`facesvg fidelity`: the metrics on synthetic masks, the bar check, and a run on the QOVES sample."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from core_helpers import SAMPLE
from facesvg.cli import main
from facesvg.commands import fidelity_bars as fid_bars
from facesvg.commands import fidelity_cases as fid_cases
from facesvg.commands import fidelity_mapless as fid_mapless
from facesvg.commands import fidelity_measure as fid_measure
from facesvg.commands import fidelity_metrics as fid_metrics
from facesvg.commands import fidelity_reframe as reframing
from facesvg.commands import fidelity_stability as fid_stability
from facesvg.core import landmarks_topology as topo
from facesvg.core.region_names import REGION_NAMES

SHARED = fid_cases.DEFAULT_SHARED


def _square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _box_mask(x0: int, y0: int, x1: int, y1: int, size: int = 100) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[y0:y1, x0:x1] = True
    return m


# ------------------------------------------------------------------------------------- metrics


def test_rasterize_counts_the_polygon_area_and_neighbours_share_no_pixel() -> None:
    a = fid_metrics.rasterize(_square(10.3, 10.3, 50.3, 50.3), (100, 100))
    b = fid_metrics.rasterize(_square(50.3, 10.3, 90.3, 50.3), (100, 100))
    assert a.sum() == b.sum() == 40 * 40
    assert not (a & b).any()
    # A diagonal shared edge too; a triangle's pixel count is its area (to the boundary's rounding).
    t1 = fid_metrics.rasterize([[10, 10], [80, 30], [10, 80]], (100, 100))
    t2 = fid_metrics.rasterize([[80, 30], [90, 90], [10, 80]], (100, 100))
    assert not (t1 & t2).any()
    assert abs(int(t1.sum()) - 2450) < 0.02 * 2450
    # fillPoly adds the outline: the same neighbours then share a seam.
    f1 = fid_metrics.rasterize(_square(10.3, 10.3, 50.3, 50.3), (100, 100), fid_metrics.FILLPOLY)
    f2 = fid_metrics.rasterize(_square(50.3, 10.3, 90.3, 50.3), (100, 100), fid_metrics.FILLPOLY)
    assert (f1 & f2).any() and f1.sum() > a.sum()


def test_rasterize_clips_to_the_canvas_and_ignores_degenerate_polygons() -> None:
    m = fid_metrics.rasterize(_square(-20.5, -20.5, 30.2, 130.0), (100, 80))
    assert m.shape == (80, 100) and m.sum() == 31 * 80
    assert not fid_metrics.rasterize([[1, 1], [5, 5]], (10, 10)).any()
    assert not fid_metrics.rasterize(_square(200, 200, 300, 300), (10, 10)).any()


def test_iou() -> None:
    a = _box_mask(0, 0, 10, 10)
    assert fid_metrics.iou(a, a) == 1.0
    assert fid_metrics.iou(a, _box_mask(20, 20, 30, 30)) == 0.0
    assert fid_metrics.iou(a, _box_mask(0, 0, 10, 5)) == 0.5
    assert fid_metrics.iou(a, _box_mask(5, 0, 15, 10)) == pytest.approx(50 / 150)
    empty = np.zeros((100, 100), bool)
    assert fid_metrics.iou(empty, empty) is None
    assert fid_metrics.iou(a, empty) == 0.0


def test_inside_share() -> None:
    region = _box_mask(0, 0, 10, 10)
    assert fid_metrics.inside_share(region, _box_mask(0, 0, 10, 5)) == 0.5
    assert fid_metrics.inside_share(region, _box_mask(0, 0, 100, 100)) == 1.0
    assert fid_metrics.inside_share(np.zeros((100, 100), bool), region) is None


def test_max_overlap_is_the_worst_pair_over_the_smaller_area() -> None:
    masks = {
        "big": _box_mask(0, 0, 50, 50),
        "small": _box_mask(45, 45, 55, 55),  # 25 of its 100 px inside "big"
        "apart": _box_mask(80, 80, 90, 90),
        "empty": np.zeros((100, 100), bool),
    }
    worst = fid_metrics.max_overlap(masks)
    assert (worst.a, worst.b) == ("big", "small")
    assert worst.share == pytest.approx(0.25)
    assert fid_metrics.max_overlap({"a": masks["big"], "b": masks["apart"]}).share == 0.0


def test_midline_and_viewer_side() -> None:
    pts = np.zeros((478, 2))
    ys = np.linspace(10, 90, len(topo.MIDLINE))
    pts[list(topo.MIDLINE)] = np.c_[0.5 * ys + 20, ys]  # a slanted midline x = 0.5 y + 20
    a, b = fid_metrics.midline(pts)
    assert (a, b) == pytest.approx((0.5, 20.0))
    left = fid_metrics.viewer_side((100, 100), (a, b), "left")
    assert left[0, 19] and not left[0, 20] and left[60, 49] and not left[60, 50]
    assert (fid_metrics.viewer_side((100, 100), (a, b), "right") == ~left).all()


def test_ear_scores() -> None:
    truth = _box_mask(5, 40, 15, 60)  # an ear on the viewer's left only (200 px)
    line = (0.0, 50.0)
    drawn = {"left_ear": _box_mask(5, 40, 15, 50), "right_ear": _box_mask(85, 40, 95, 60)}
    scores = fid_measure.ear_scores(drawn, truth, line, oval_area=2000.0)
    left, right = scores["left_ear"], scores["right_ear"]
    assert left.visible and left.found and left.iou == 0.5 and not left.false_ear
    assert not right.visible and right.found and right.false_ear  # drawn where there is none
    # Visible but tiny against the face: not counted as an ear; a miss is not a false ear.
    scores = fid_measure.ear_scores({}, truth, line, oval_area=1e6)
    assert not scores["left_ear"].visible and not scores["left_ear"].false_ear
    # Drawn on the ear's side but beside the ear: IoU < 0.1 counts as drawn where there is none.
    scores = fid_measure.ear_scores({"left_ear": _box_mask(20, 40, 30, 60)}, truth, line, oval_area=2000.0)
    assert scores["left_ear"].iou == 0.0 and scores["left_ear"].false_ear


# ---------------------------------------------------------------------------------------- bars


def _report(kind: str = fid_cases.FACES, **kw: object) -> fid_measure.Report:
    r = fid_measure.Report(case=f"{kind}-case", kind=kind)
    r.label_iou = dict.fromkeys(fid_measure.LABEL_REGIONS, 0.95)
    r.inside_skin = dict.fromkeys(fid_measure.CARVED_REGIONS, 0.99)
    r.ears = {
        "left_ear": fid_measure.EarScore(500, 0.01, True, True, 0.8, False),
        "right_ear": fid_measure.EarScore(0, 0.0, False, False, None, False),
    }
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_passing_reports_pass_every_bar_and_absent_material_is_skipped() -> None:
    bars = fid_bars.check_bars([_report()])
    assert fid_bars.exit_code(bars) == 0
    by_name = {b.name: b.passed for b in bars}
    assert [n for n, p in by_name.items() if p is None] == [
        f"example: right_cheek, right_undereye IoU with the customer's >= {fid_bars.BAR_CUSTOMER_IOU}",
        f"{fid_cases.SCHEME}: label regions IoU >= {fid_bars.BAR_SCHEME_LABEL_IOU} with the LaPa render",
        f"{fid_cases.SCHEME}: visible ears IoU >= {fid_bars.BAR_SCHEME_EAR_IOU} with truth_ears",
    ]
    # The sample alone: only the bars that concern every case (renders, overlaps, zones) are measured.
    sample_only = fid_bars.check_bars([_report(fid_cases.SAMPLE, ears=None)])
    assert fid_bars.exit_code(sample_only) == 0
    assert sum(b.passed is None for b in sample_only) == len(sample_only) - 4


@pytest.mark.parametrize(
    ("change", "bar"),
    [
        ({"label_iou": {"nose": 0.84}}, "label regions"),
        ({"inside_skin": {"chin": 0.94}}, "inside skin"),
        ({"missing": ["left_cheek"]}, "non-ear region present"),
        ({"overlap": fid_metrics.Overlap(0.002, "chin", "left_cheek")}, "overlap"),
        ({"error": "NoFace: no skin"}, "every case renders"),
        (
            {"ears": {"left_ear": fid_measure.EarScore(500, 0.01, True, False, None, False)}},
            "visible ears found",
        ),
        ({"ears": {"right_ear": fid_measure.EarScore(0, 0.0, False, True, None, True)}}, "no ear drawn"),
        ({"zone_inside_skin": {"perioral": 0.9}}, "zones: >= 95% inside skin"),
        ({"zone_overlap": fid_metrics.Overlap(0.01, "perioral", "left_nasolabial")}, "zones: no two overlap"),
        ({"zones_off_side": ["left_temple"]}, "zones: no two overlap"),
    ],
)
def test_a_failing_bar_fails_the_run(change: dict[str, object], bar: str) -> None:
    bars = fid_bars.check_bars([_report(), _report(**change)])
    failed = [b for b in bars if b.passed is False]
    assert fid_bars.exit_code(bars) == 1
    assert len(failed) == 1 and bar in failed[0].name
    assert "faces-case" in failed[0].detail


def test_scheme_rows_are_held_to_their_bars() -> None:
    ear = fid_measure.EarScore(500, 0.01, True, True, 0.9, False)
    good = _report(fid_cases.SCHEMES, lapa_iou={"nose": 0.97}, ears={"left_ear": ear})
    by_name = {b.name: b.passed for b in fid_bars.check_bars([good])}
    assert by_name[
        f"{fid_cases.SCHEME}: label regions IoU >= {fid_bars.BAR_SCHEME_LABEL_IOU} with the LaPa render"
    ]
    assert by_name[f"{fid_cases.SCHEME}: visible ears IoU >= {fid_bars.BAR_SCHEME_EAR_IOU} with truth_ears"]
    low = fid_measure.EarScore(500, 0.01, True, True, 0.8, False)
    for bad in (
        _report(fid_cases.SCHEMES, lapa_iou={"nose": 0.94}, ears={"left_ear": ear}),
        _report(fid_cases.SCHEMES, lapa_iou={"nose": 0.97}, ears={"left_ear": low}),
    ):
        assert fid_bars.exit_code(fid_bars.check_bars([bad])) == 1


def test_ear_bar_counts_instances() -> None:
    found = fid_measure.EarScore(500, 0.01, True, True, 0.8, False)
    lost = fid_measure.EarScore(500, 0.01, True, True, 0.4, False)
    both = [_report(ears={"left_ear": found, "right_ear": found}) for _ in range(4)]
    ok = fid_bars.check_bars([*both, _report(ears={"left_ear": found, "right_ear": lost})])  # 9/10
    assert fid_bars.exit_code(ok) == 0
    bad = fid_bars.check_bars([*both[:3], _report(ears={"left_ear": lost, "right_ear": lost})])  # 6/8
    assert fid_bars.exit_code(bad) == 1


def test_ear_iou_and_visibility_bars() -> None:
    good = fid_measure.EarScore(500, 0.01, True, True, 0.8, False, visible_fraction=0.6)
    assert fid_bars.exit_code(fid_bars.check_bars([_report(ears={"left_ear": good})])) == 0
    thin = fid_measure.EarScore(500, 0.01, True, True, 0.6, False, visible_fraction=0.6)
    hidden = fid_measure.EarScore(500, 0.01, True, True, 0.8, False, visible_fraction=0.05)
    for ear, bar in ((thin, "mean IoU"), (hidden, "reported as hidden")):
        bars = fid_bars.check_bars([_report(ears={"left_ear": good}), _report(ears={"left_ear": ear})])
        failed = [b for b in bars if b.passed is False]
        assert len(failed) == 1 and bar in failed[0].name, failed


def test_reframing_rows_pass_or_fail_per_target() -> None:
    def row(kind: str, label: str, **iou: float) -> reframing.Row:
        return reframing.Row(kind, label, iou=dict(iou))

    good = [row(reframing.REFRAMED, "rot +7", left_ear=0.97, nose=0.99)]
    grid = [row(reframing.CANVAS, "canvas 256 px", left_ear=0.9), row(reframing.LABELS, "photo", nose=0.95)]
    assert all(b.passed for b in reframing.bars(good, grid))
    text = reframing.format_rows(good, grid)
    assert "rot +7" in text and "canvas 256 px" in text
    thin_ear = [row(reframing.CANVAS, "canvas 256 px", left_ear=0.79)]
    failed = [b.name for b in reframing.bars(good, thin_ear + grid[1:]) if b.passed is False]
    assert len(failed) == 2 and all("canvas" in n for n in failed)
    assert "left_ear 0.790" in reframing.format_rows(good, thin_ear)
    broken = [reframing.Row(reframing.REFRAMED, "rot +9", error="NoFace: x")]
    assert next(b.passed for b in reframing.bars(broken, grid)) is False


def test_example_bar() -> None:
    good = _report(fid_cases.EXAMPLE, ears=None, customer_iou={"right_cheek": 0.93, "right_undereye": 0.91})
    assert fid_bars.exit_code(fid_bars.check_bars([good])) == 0
    bad = _report(fid_cases.EXAMPLE, ears=None, customer_iou={"right_cheek": 0.75, "right_undereye": 0.91})
    bars = fid_bars.check_bars([bad])
    assert fid_bars.exit_code(bars) == 1
    assert "right_cheek 0.750" in next(b.detail for b in bars if b.passed is False)


# ------------------------------------------------------------------------------- real renders


def test_the_sample_row() -> None:
    (case,) = fid_cases.discover(SAMPLE, None)
    report = fid_measure.measure(case)
    assert report.error is None and report.missing == []
    assert report.render_ms > 0
    nose = report.label_iou["nose"]
    assert nose is not None and nose > 0.9
    assert all(v is not None and v > 0.8 for v in report.label_iou.values())
    assert all(v is not None and v > 0.95 for v in report.inside_skin.values())
    assert report.ears is None and report.customer_iou is None
    json.dumps(report.to_json())  # plain JSON types only


def test_cli_on_a_broken_case_exits_1_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    broken = shared / "faces" / "broken"
    broken.mkdir(parents=True)
    (broken / "image.png").write_bytes(b"not an image")
    shutil.copy(SAMPLE / "segmentation_map.png", broken / "segmentation_map.png")
    (broken / "landmarks.json").write_text("[]")
    out = tmp_path / "fidelity.json"
    rc = main(["fidelity", "--sample", str(SAMPLE), "--shared", str(shared), "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 1
    assert "broken" in text and "FAILED" in text and "FAIL  every case renders" in text
    # The sample's reframing rows are printed with their bars.
    assert "canvas 256 px" in text and "PASS  sample reframed" in text
    doc = json.loads(out.read_text())
    assert [c["case"] for c in doc["cases"]] == ["qoves-sample", "broken"]
    assert {r["kind"] for r in doc["reframed"]} == {reframing.REFRAMED, reframing.CANVAS, reframing.LABELS}
    assert doc["exit"] == 1


def test_cli_with_no_case_exits_2(tmp_path: Path) -> None:
    assert main(["fidelity", "--sample", str(tmp_path), "--shared", str(tmp_path)]) == 2


@pytest.mark.skipif(not (SHARED / "faces").is_dir(), reason="../shared/faces is absent")
def test_every_shared_face_is_measured() -> None:
    cases = fid_cases.discover(None, SHARED)
    faces = [c for c in cases if c.kind == fid_cases.FACES]
    assert faces
    reports = [fid_measure.measure(c) for c in faces]
    assert [r.case for r in reports if r.error] == []
    # The true ears land beside the face: whichever side has one, it is away from the midline.
    truth = [e for r in reports if r.ears for e in r.ears.values() if e.visible]
    assert truth and all(0.002 <= e.truth_share < 0.2 for e in truth)
    for r in reports:
        assert all(v is not None for v in r.label_iou.values()), r.case


@pytest.mark.skipif(
    not (SHARED / "samples" / "qoves-example" / "regions.json").is_file(), reason="../shared is absent"
)
def test_the_example_face_is_compared_with_the_customer() -> None:
    (case,) = [c for c in fid_cases.discover(None, SHARED) if c.kind == fid_cases.EXAMPLE]
    report = fid_measure.measure(case)
    assert report.customer_iou is not None
    assert set(report.customer_iou) == {"right_cheek", "right_undereye"}
    # Whatever today's shapes, ours and the customer's lie on the same part of the face.
    assert all(v is not None and v > 0.3 for v in report.customer_iou.values())


# ------------------------------------------------------------------- landmarks only (no map)


def test_the_sample_s_landmarks_only_row() -> None:
    (case,) = fid_mapless.mapless_cases(fid_cases.discover(SAMPLE, None))
    report = fid_mapless.measure_mapless(case)
    assert report.error is None
    assert set(report.iou) == set(REGION_NAMES)
    # the sample's hairline, skin and features from the landmarks and the photo alone
    assert (report.iou["forehead"] or 0) > 0.9 and (report.iou["face"] or 0) > 0.9
    assert all((report.iou[n] or 0) > 0.85 for n in ("left_eye", "right_eye", "nose", "lower_lip"))
    assert (report.mean_non_ear or 0) > 0.85
    table = fid_mapless.format_mapless_table([report])
    assert "landmarks only" in table and "qoves-sample" in table
    json.dumps(asdict(report))


def test_the_landmarks_only_bars() -> None:
    good = {n: 0.9 for n in REGION_NAMES}
    passing = fid_mapless.MaplessReport("a", iou=dict(good))
    bars = fid_mapless.check_mapless_bars([passing])
    assert [b.passed for b in bars] == [True] * 5
    weak_lip = fid_mapless.MaplessReport("b", iou={**good, "lower_lip": 0.5}, absent=["left_ear"])
    bars = fid_mapless.check_mapless_bars([passing, weak_lip])
    failed = {b.name: b.detail for b in bars if b.passed is False}
    assert any("b/lower_lip 0.500" in d for d in failed.values())
    assert any("b: left_ear" in d for d in failed.values())
    # a region drawn in one render only scores 0; one drawn in neither is left out of the mean
    gone = fid_mapless.MaplessReport("c", iou={**good, "nose": 0.0}, absent=["nose"])
    assert gone.mean_non_ear is not None and gone.mean_non_ear < 0.85
    assert fid_bars.exit_code(fid_mapless.check_mapless_bars([gone])) == 1
    assert fid_mapless.MaplessReport("d", iou={**good, "chin": None}).mean_non_ear == pytest.approx(0.9)


@pytest.mark.skipif(
    not (SHARED / "samples" / "qoves-example" / "regions.json").is_file(), reason="../shared is absent"
)
def test_the_example_face_without_a_map_is_compared_with_the_customer() -> None:
    (case,) = fid_mapless.mapless_example_cases(fid_cases.discover(None, SHARED))
    report = fid_mapless.measure_mapless_example(case)
    assert report.error is None and not report.absent
    # the customer's own cheek and under-eye, from the photo and its landmarks alone
    assert all(v is not None and v >= 0.9 for v in report.customer_iou.values()), report.customer_iou
    assert "qoves-example without a map" in fid_mapless.format_mapless_example([report])
    json.dumps(asdict(report))


def test_the_example_bar_without_a_map() -> None:
    good = fid_mapless.MaplessExample("e", customer_iou={"right_cheek": 0.95, "right_undereye": 0.91})
    (bar,) = fid_mapless.check_mapless_example_bars([good])
    assert bar.passed is True and "min 0.910" in bar.detail
    weak = fid_mapless.MaplessExample("e", customer_iou={"right_cheek": 0.95, "right_undereye": 0.5})
    broken = fid_mapless.MaplessExample("f", error="ValueError: no face")
    (bar,) = fid_mapless.check_mapless_example_bars([weak, broken])
    assert bar.passed is False and "e/right_undereye 0.500" in bar.detail and "f (ValueError" in bar.detail
    (bar,) = fid_mapless.check_mapless_example_bars([])
    assert bar.passed is None


def test_the_sample_s_map_less_labels_hold_on_a_doubled_or_jpeg_d_photo() -> None:
    (case,) = fid_mapless.mapless_cases(fid_cases.discover(SAMPLE, None))
    report = fid_stability.measure_stability(case)
    assert report.error is None
    assert set(report.scores) == {"original", *fid_stability.VARIANTS}
    assert all(set(s) == set(fid_stability.FEATURES) for s in report.scores.values())
    assert report.scores["original"]["eyes"] > 0.85 and report.worst_drop()[2] <= fid_stability.BAR_STABLE
    assert "qoves-sample" in fid_stability.format_stability([report])
    json.dumps(asdict(report))


def test_the_stability_bar() -> None:
    steady = {f: 0.8 for f in fid_stability.FEATURES}
    good = fid_stability.StabilityReport(
        "a", scores={"original": steady, "doubled": steady, "jpeg60": steady}
    )
    (bar,) = fid_stability.check_stability_bars([good])
    assert bar.passed is True and "largest drop 0.000" in bar.detail
    shaky = fid_stability.StabilityReport(
        "b", scores={"original": steady, "doubled": {**steady, "eyes": 0.6}, "jpeg60": steady}
    )
    assert shaky.worst_drop()[:2] == ("doubled", "eyes")
    broken = fid_stability.StabilityReport("c", error="ValueError: no face")
    (bar,) = fid_stability.check_stability_bars([good, shaky, broken])
    assert bar.passed is False and "b/doubled/eyes -0.200" in bar.detail and "c (ValueError" in bar.detail
