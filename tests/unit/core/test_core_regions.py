"""Regions: label regions match their label, carved regions are skin, sides are right, no overlaps."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from core_helpers import all_regions, iou, is_simple, mean_deviation, png, raster, warp_labels
from facesvg.core import align, regions, smooth
from facesvg.core.inputs import FaceInputs
from facesvg.core.pipeline import RenderResult, render_inputs

LABEL_REGIONS = {
    "nose": ((6,), 0.95),
    "upper_lip": ((7,), 0.85),
    "lower_lip": ((9,), 0.85),
    "left_eye": ((4, 5), 0.85),
    "right_eye": ((4, 5), 0.85),
    "left_eyebrow": ((2, 3), 0.85),
    "right_eyebrow": ((2, 3), 0.85),
}
CARVED = (
    "forehead",
    "left_undereye",
    "right_undereye",
    "left_cheek",
    "right_cheek",
    "chin",
    "left_ear",
    "right_ear",
)


@pytest.fixture(scope="module")
def warped(sample_result: RenderResult, sample_inputs: FaceInputs) -> np.ndarray:
    return warp_labels(sample_inputs.labels, sample_result.transform, sample_result.size)


def test_all_regions_present_on_the_sample(sample_result: RenderResult) -> None:
    assert sample_result.missing == []
    assert set(sample_result.regions) == set(regions.REGION_NAMES)


@pytest.mark.parametrize("name", list(LABEL_REGIONS))
def test_label_regions_agree_with_their_warped_label(
    name: str, sample_result: RenderResult, warped: np.ndarray
) -> None:
    values, threshold = LABEL_REGIONS[name]
    label = np.isin(warped, values)
    if len(values) == 2:
        # The pair is split by side: keep the label blob on this region's side of the nose.
        n, comp = cv2.connectedComponents(label.astype(np.uint8))
        nose_x = np.mean(sample_result.regions["nose"], axis=0)[0]
        sizes = [(np.count_nonzero(comp == i), i) for i in range(1, n)]
        blobs = [i for _, i in sorted(sizes)[-2:]]
        xs = {i: np.nonzero(comp == i)[1].mean() for i in blobs}
        want = min(blobs, key=xs.get) if name.startswith("left") else max(blobs, key=xs.get)
        assert (xs[want] < nose_x) == name.startswith("left")
        label = comp == want
    got = raster(sample_result.regions[name], sample_result.size)
    assert iou(got, label) >= threshold


@pytest.mark.parametrize("name", CARVED)
def test_carved_regions_lie_inside_the_skin(
    name: str, sample_result: RenderResult, warped: np.ndarray
) -> None:
    mask = raster(sample_result.regions[name], sample_result.size)
    on_skin = np.count_nonzero(mask & (warped == 1)) / np.count_nonzero(mask)
    assert on_skin >= 0.95
    assert np.count_nonzero(mask) > 500  # a real region, not a speck


@pytest.mark.parametrize("name", ["eye", "eyebrow", "undereye", "cheek", "ear"])
def test_left_and_right_sit_on_the_viewers_sides(name: str, sample_result: RenderResult) -> None:
    mid = np.mean(sample_result.regions["nose"], axis=0)[0]
    left = np.array(sample_result.regions[f"left_{name}"])
    right = np.array(sample_result.regions[f"right_{name}"])
    assert left[:, 0].mean() < mid < right[:, 0].mean()
    # Whole regions, not just their centres, stay on their side of the nose.
    assert np.percentile(left[:, 0], 95) < mid < np.percentile(right[:, 0], 5)


def test_vertical_order_is_anatomical(sample_result: RenderResult) -> None:
    y = {name: np.mean(poly, axis=0)[1] for name, poly in sample_result.regions.items()}
    assert y["forehead"] < y["left_eyebrow"] < y["left_eye"] < y["left_undereye"] < y["left_cheek"]
    assert y["nose"] < y["upper_lip"] < y["lower_lip"] < y["chin"]


def test_regions_do_not_overlap(sample_result: RenderResult) -> None:
    masks = {n: raster(p, sample_result.size) for n, p in sample_result.regions.items() if n != "face"}
    for a, b in itertools.combinations(masks, 2):
        inter = np.count_nonzero(masks[a] & masks[b])
        smaller = min(np.count_nonzero(masks[a]), np.count_nonzero(masks[b]))
        assert inter <= 0.05 * smaller, (a, b, inter, smaller)


def test_face_region_covers_every_other_region(sample_result: RenderResult) -> None:
    face = raster(sample_result.regions["face"], sample_result.size)
    for name, poly in sample_result.regions.items():
        mask = raster(poly, sample_result.size)
        assert np.count_nonzero(mask & face) >= 0.95 * np.count_nonzero(mask), name


def _turning_deg(curve: np.ndarray) -> float:
    """Total absolute turning of a closed polyline (360 for a convex shape; a staircase turns a lot)."""
    d = np.diff(np.vstack([curve, curve[:2]]), axis=0).astype(np.float64)
    a = np.arctan2(d[:, 1], d[:, 0])
    return float(np.degrees(np.abs(np.angle(np.exp(1j * np.diff(a)))).sum()))


def test_curves_are_smooth_simple_and_close_to_the_boundary(
    sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    al = align.plan(sample_inputs.labels, sample_inputs.landmarks, 1024, 0.12)
    labels = align.warp_labels(sample_inputs.labels, al)
    blobs = all_regions(labels, align.apply(al.matrix, sample_inputs.landmarks)).blobs
    for name, blob in blobs.items():
        assert blob is not None and blob.contour is not None, name
        curve = np.array(sample_result.regions[name])  # what the product publishes
        assert is_simple(curve), name
        assert mean_deviation(curve, blob.contour) <= 1.5, name
        # Smooth: far less turning than the pixel boundary sampled at the same spacing.
        raw = smooth.resample_closed(blob.contour.astype(np.float64), 4.0)
        assert _turning_deg(curve) < 0.6 * _turning_deg(raw), name
        # Evenly resampled.
        seg = np.hypot(*np.diff(np.vstack([curve, curve[:1]]), axis=0).T)
        assert seg.max() < 1.5 * np.median(seg) + 0.1, name


def test_a_hidden_ear_is_missing_not_invented(sample_inputs: FaceInputs, sample_result: RenderResult) -> None:
    # Given the sample with the image-right ear painted as hair in the label map
    t = np.array(sample_result.transform)
    inv = cv2.invertAffineTransform(t)
    ear = raster(sample_result.regions["right_ear"], sample_result.size).astype(np.uint8)
    ear = cv2.dilate(ear, np.ones((9, 9), np.uint8))
    h, w = sample_inputs.labels.shape
    ear_in = cv2.warpAffine(ear, inv, (w, h), flags=cv2.INTER_NEAREST) > 0
    labels = sample_inputs.labels.copy()
    labels[ear_in & (labels == 1)] = 10
    res = render_inputs(FaceInputs(sample_inputs.image, labels, sample_inputs.landmarks))
    # Then the right ear is reported missing, and the left one is still there.
    assert "right_ear" in res.missing and "right_ear" not in res.regions
    assert "left_ear" in res.regions
    assert "region-right_ear" not in res.svg.decode()


def test_no_nose_label_means_no_nose(sample_inputs: FaceInputs) -> None:
    labels = sample_inputs.labels.copy()
    labels[labels == 6] = 1
    res = render_inputs(FaceInputs(sample_inputs.image, labels, sample_inputs.landmarks))
    assert "nose" in res.missing and "nose" not in res.region_svgs


def test_png_round_trip_of_labels_is_lossless(sample_inputs: FaceInputs) -> None:
    # Guard for the helpers above: the test's own label PNGs do not change values.
    back = cv2.imdecode(np.frombuffer(png(sample_inputs.labels), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back, sample_inputs.labels)
