"""Alignment: the eye line is level, the head is centred, and a mirrored photo stays upright."""

from __future__ import annotations

import math

import cv2
import numpy as np
from core_helpers import landmarks_json, mirrored_face, png
from facesvg.core.align import apply, eye_line_angle
from facesvg.core.inputs import FaceInputs
from facesvg.core.pipeline import RenderResult, render, render_inputs


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    return math.degrees(math.atan2(d[1], d[0]))


def test_eye_line_is_level_after_alignment(sample_result: RenderResult, sample_points: np.ndarray) -> None:
    # Given the input iris centres, mapped through the published transform ...
    t = np.array(sample_result.transform)
    right, left = apply(t, sample_points[[468, 473]])
    # ... the eye line is level and runs left to right (the subject's right eye on the viewer's left).
    assert abs(_angle_deg(right, left)) < 0.5
    assert right[0] < left[0]
    # The sample's eye line slopes down to image-right by about 22 degrees.
    assert 21.5 < sample_result.rotation_deg < 23.0


def test_eye_labels_are_level_too(sample_result: RenderResult) -> None:
    # Independent of the landmarks: the centres of the eye regions (from the label) are level.
    left = np.mean(sample_result.regions["left_eye"], axis=0)
    right = np.mean(sample_result.regions["right_eye"], axis=0)
    assert abs(_angle_deg(left, right)) < 1.5


def test_transform_is_a_similarity(sample_result: RenderResult) -> None:
    t = np.array(sample_result.transform)
    a, b, c, d = t[0, 0], t[0, 1], t[1, 0], t[1, 1]
    assert math.isclose(a, d, rel_tol=1e-6) and math.isclose(b, -c, rel_tol=1e-6)
    assert math.isclose(math.degrees(math.atan2(b, a)), sample_result.rotation_deg, abs_tol=0.01)


def test_head_is_centred_and_fills_the_canvas(sample_result: RenderResult) -> None:
    face = np.array(sample_result.regions["face"])
    (x0, y0), (x1, y1) = face.min(0), face.max(0)
    w, h = sample_result.size
    assert abs((x0 + x1) / 2 - w / 2) < 0.06 * w
    assert 0.45 * h < y1 - y0 < 0.9 * h
    # Nothing of the face is cut by the canvas edge.
    assert x0 > 0 and y0 > 0 and x1 < w and y1 < h


def test_468_points_level_from_eye_corners(sample_inputs: FaceInputs) -> None:
    pts = sample_inputs.landmarks[:468]
    res = render_inputs(FaceInputs(sample_inputs.image, sample_inputs.labels, pts))
    t = np.array(res.transform)
    corners = apply(t, pts[[33, 133, 263, 362]])
    assert abs(_angle_deg(corners[:2].mean(0), corners[2:].mean(0))) < 0.5
    assert abs(res.rotation_deg - math.degrees(eye_line_angle(sample_inputs.landmarks))) < 3.0


def test_mirrored_photo_is_uprighted_and_sides_follow_the_viewer(
    sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    # Given the sample flipped left-right, labels too, with the landmarks FaceMesh would find on it
    # (mirrored coordinates re-indexed: the subject's right eye of the mirrored face is on the left)
    w = sample_inputs.image.shape[1]
    img = cv2.flip(sample_inputs.image, 1)
    lab = cv2.flip(sample_inputs.labels, 1)
    pts = mirrored_face(sample_inputs.landmarks, w)
    res = render(png(img), png(lab), landmarks_json(pts))
    # Then the chin is still below the eyes and the eye line is level
    t = np.array(res.transform)
    eyes = apply(t, pts[[468, 473]])
    chin = apply(t, pts[[152]])[0]
    assert chin[1] > eyes[:, 1].max()
    assert abs(eyes[0, 1] - eyes[1, 1]) < 2.0
    assert abs(res.rotation_deg + sample_result.rotation_deg) < 0.5
    # And "left" is still the viewer's left.
    for name in ("eye", "eyebrow", "cheek", "undereye", "ear"):
        lx = np.mean(res.regions[f"left_{name}"], axis=0)[0]
        rx = np.mean(res.regions[f"right_{name}"], axis=0)[0]
        assert lx < rx, name
