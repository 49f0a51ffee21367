"""Ears and small features that hold: the same ear on any canvas, an ear's visibility row by row,
a label map traced at its own resolution, and the real faces' ears (skipped without ../shared)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from core_helpers import mapped_back
from facesvg.commands import fidelity_bars as fid_bars
from facesvg.commands import fidelity_cases as fid_cases
from facesvg.commands import fidelity_measure as fid_measure
from facesvg.commands import fidelity_reframe as reframing
from facesvg.core import align
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.label_maps import label_map_to_image
from facesvg.core.labels import HAIR, SKIN
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import RenderResult, render_inputs

FACES = fid_cases.DEFAULT_SHARED / "faces"
EARS = ("left_ear", "right_ear")


@pytest.mark.parametrize("canvas", [256, 384, 512, 2048])
def test_a_thin_frontal_ear_does_not_depend_on_the_canvas(
    sample_inputs: FaceInputs, sample_result: RenderResult, canvas: int
) -> None:
    # Given the sample rendered on a smaller (the ear a few pixels wide) or larger canvas
    res = render_inputs(sample_inputs, RenderOptions(canvas_size=canvas))
    # Then, mapped back onto the default canvas, its ears are the default render's
    # (0.78 at 256 px when they were cut on the canvas's own pixel grid).
    _, scores = mapped_back(sample_result, res, np.eye(2, 3))
    for name in EARS:
        assert scores[name] >= 0.9, (name, scores[name])


def test_the_sample_reframed_keeps_its_ears(sample_inputs: FaceInputs) -> None:
    rows = reframing.measure_reframings(sample_inputs, ((-12.0, 0.5, (0, 60)), (31.0, 0.55, (200, 90))))
    for row in rows:
        assert row.error is None
        assert all(v is not None and v >= reframing.BAR_REFRAME_IOU for v in row.iou.values()), row


def _hair_over_top_half(inputs: FaceInputs, result: RenderResult, name: str) -> np.ndarray:
    """The inputs' labels with hair painted over the upper half of an ear and above it (skin and
    background there become hair), as a fringe or a lock of hair falls over an ear."""
    poly = np.asarray(result.regions[name])
    top, bottom = poly[:, 1].min(), poly[:, 1].max()
    x0, x1 = poly[:, 0].min() - 40, poly[:, 0].max() + 5
    box = np.array([[x0, top - 60], [x1, top - 60], [x1, (top + bottom) / 2], [x0, (top + bottom) / 2]])
    inv = cv2.invertAffineTransform(np.asarray(result.transform))
    painted = np.zeros_like(inputs.labels)
    cv2.fillPoly(painted, [np.rint(box @ inv[:, :2].T + inv[:, 2]).astype(np.int32)], 1)
    labels = inputs.labels.copy()
    labels[(painted > 0) & (labels <= SKIN)] = HAIR
    return labels


def test_hair_over_the_top_of_an_ear_hides_that_share_of_it(
    sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    # The sample's ears are in full view, with hair above them: most of each is reported seen.
    for name in EARS:
        assert sample_result.visibility[name]["visible_fraction"] >= 0.7, name
    # Given hair over the upper half of the left ear
    labels = _hair_over_top_half(sample_inputs, sample_result, "left_ear")
    res = render_inputs(FaceInputs(sample_inputs.image, labels, sample_inputs.landmarks))
    unpainted = render_inputs(FaceInputs(sample_inputs.image, sample_inputs.labels, sample_inputs.landmarks))
    # Then the ear is still drawn, and reported about half hidden by hair (not 95 %, as it was)
    seen = res.visibility["left_ear"]
    assert "left_ear" in res.regions
    assert 0.25 <= seen["visible_fraction"] <= 0.6 and seen["occluded_by"] == ["hair"], seen
    assert res.visibility["right_ear"] == unpainted.visibility["right_ear"]


def test_a_label_map_larger_than_the_photo_is_traced_at_its_own_resolution(
    sample_inputs: FaceInputs,
) -> None:
    # Given the sample's 1024 px map with its photo shrunk to 138 px, and its photo with the map halved
    own = sample_inputs.label_map
    assert own is not None and own.shape == (1023, 1024)
    rows = reframing.measure_label_scales(
        sample_inputs.image, own, sample_inputs.landmarks, ((0.125, 1.0), (1.0, 0.5))
    )
    # Then each label region matches its own map, seen at that map's resolution: the larger map's
    # detail is kept (0.84-0.90 when the map was first reduced to the 138 px photo).
    for row in rows:
        assert row.error is None
        for name, value in row.iou.items():
            assert value is not None and value >= 0.93, (row.label, name, value)


def test_a_label_map_is_warped_from_its_own_pixels() -> None:
    # Given a map twice the photo's size with a one-pixel-wide line (lost when halved first)
    big = np.zeros((200, 200), np.uint8)
    big[:, 101] = 1
    photo = np.zeros((100, 100, 3), np.uint8)
    to_image = label_map_to_image(big, photo)
    # Then on a canvas at twice the photo's scale it is still there, at its own place
    al = align.Alignment(matrix=np.array([[2.0, 0, 0.5], [0, 2.0, 0.5]]), rotation_deg=0.0, size=(200, 200))
    seen = align.warp_labels(big, al, to_image)
    assert np.array_equal(np.flatnonzero(seen[100]), [101])


def _faces_reports() -> list[fid_measure.Report]:
    cases = [c for c in fid_cases.discover(None, fid_cases.DEFAULT_SHARED) if c.kind == fid_cases.FACES]
    return [fid_measure.measure(c) for c in cases]


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is absent")
def test_visible_ears_of_the_real_faces_are_found_and_reported_seen() -> None:
    reports = _faces_reports()
    bars = {b.name: b for b in fid_bars.check_bars(reports)}
    for name, bar in bars.items():
        if "ear" in name and name.startswith("faces:"):
            assert bar.passed, (name, bar.detail)
    # A laughing face whose hair covers both ears: none drawn, both reported hidden by hair.
    laugh = next(r for r in reports if r.case == "cmhq-pred-laugh")
    assert {"left_ear", "right_ear"} <= set(laugh.missing)
    case = next(c for c in fid_cases.discover(None, fid_cases.DEFAULT_SHARED) if c.name == "cmhq-pred-laugh")
    paths = (case.image, case.segmentation, case.landmarks)
    res = render_inputs(load_inputs(*(p.read_bytes() for p in paths)))
    for name in EARS:
        assert (
            res.visibility[name]["visible_fraction"] <= 0.1 and "hair" in res.visibility[name]["occluded_by"]
        )
