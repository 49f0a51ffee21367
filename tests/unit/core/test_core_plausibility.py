"""Landmarks must be a plausible FaceMesh of the face: a face's layout, not mirrored, features on labels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from core_helpers import landmarks_json, mirrored_face, png
from facesvg.core.errors import InputError
from facesvg.core.face_plausibility import check_mesh_shape
from facesvg.core.inputs import FaceInputs, check_inputs, load_inputs

FACES = Path(__file__).resolve().parents[4] / "shared" / "faces"


def _rejected(sample_bytes: dict[str, bytes], points: np.ndarray, dims: tuple[int, int]) -> InputError:
    lm = landmarks_json(points, dims)
    with pytest.raises(InputError) as load:
        load_inputs(sample_bytes["image"], sample_bytes["segmentation"], lm)
    with pytest.raises(InputError) as check:  # submit answers the same
        check_inputs(sample_bytes["image"], sample_bytes["segmentation"], lm)
    assert (load.value.field, load.value.code) == ("landmarks", "InvalidLandmarks")
    assert (check.value.code, check.value.message) == (load.value.code, load.value.message)
    return load.value


def _dims(inputs: FaceInputs) -> tuple[int, int]:
    return inputs.image.shape[1], inputs.image.shape[0]


def test_mirrored_landmarks_on_the_unmirrored_photo_are_refused(
    sample_bytes: dict[str, bytes], sample_inputs: FaceInputs
) -> None:
    # Given the sample's points flipped left-right (only the points: the photo and map are as they were)
    w, h = _dims(sample_inputs)
    pts = sample_inputs.landmarks.copy()
    pts[:, 0] = (w - 1) - pts[:, 0]
    # Then the mesh is mirrored relative to the face, and the answer says so
    assert "mirrored" in _rejected(sample_bytes, pts, (w, h)).message


def test_a_mirrored_photo_with_its_own_landmarks_is_accepted(sample_inputs: FaceInputs) -> None:
    # Given the photo and map flipped, with the points FaceMesh finds on the flipped photo
    w, h = _dims(sample_inputs)
    img, lab = cv2.flip(sample_inputs.image, 1), cv2.flip(sample_inputs.labels, 1)
    pts = mirrored_face(sample_inputs.landmarks, w)
    # Then it loads: handedness is about the points' topology on the face, not about the photo
    got = load_inputs(png(img), png(lab), landmarks_json(pts, (w, h)))
    np.testing.assert_allclose(got.landmarks, pts)


def test_upside_down_and_rotated_faces_keep_their_handedness(sample_inputs: FaceInputs) -> None:
    pts = sample_inputs.landmarks
    for angle in (90, 180, 270, 33):
        a = np.radians(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        check_mesh_shape(pts @ rot.T + 5000)  # no error


@pytest.mark.parametrize("case", ["one_point", "on_a_line", "random_on_skin", "shuffled", "noise"])
def test_points_that_are_not_a_face_mesh_are_refused(
    sample_bytes: dict[str, bytes], sample_inputs: FaceInputs, case: str
) -> None:
    rng = np.random.default_rng(7)
    w, h = _dims(sample_inputs)
    pts = sample_inputs.landmarks
    if case == "one_point":  # used to pass submit and fail the worker three times (LinAlgError)
        bad = np.repeat(pts[205:206], len(pts), axis=0)  # a cheek point: on the skin
    elif case == "on_a_line":
        t = np.linspace(0, 1, len(pts))[:, None]
        bad = pts[33] + t * (pts[152] - pts[33])
    elif case == "random_on_skin":
        ys, xs = np.nonzero(sample_inputs.labels == 1)
        pick = rng.choice(len(xs), len(pts), replace=False)
        bad = np.c_[xs[pick], ys[pick]].astype(np.float64)
    elif case == "shuffled":
        bad = pts[rng.permutation(len(pts))]
    else:  # every point moved at random by a fifth of the face's width
        bad = pts + rng.normal(0, 0.2 * np.ptp(pts[:, 0]), pts.shape)
    _rejected(sample_bytes, bad, (w, h))


def test_a_mesh_off_its_features_is_refused(
    sample_bytes: dict[str, bytes], sample_inputs: FaceInputs
) -> None:
    # Given the right points moved down by half the eye distance (still on the face, wrong features)
    w, h = _dims(sample_inputs)
    pts = sample_inputs.landmarks
    shifted = pts + np.array([0.0, 0.5 * np.linalg.norm(pts[263] - pts[33])])
    err = _rejected(sample_bytes, shifted, (w, h))
    assert "not on the" in err.message


def test_a_map_without_a_feature_label_does_not_fail_that_feature(
    sample_bytes: dict[str, bytes], sample_inputs: FaceInputs
) -> None:
    # Given a map whose eyes are labelled skin (closed eyes, sunglasses): nothing to compare the eyes to
    lab = sample_inputs.labels.copy()
    lab[(lab == 4) | (lab == 5)] = 1
    w, h = _dims(sample_inputs)
    load_inputs(sample_bytes["image"], png(lab), landmarks_json(sample_inputs.landmarks, (w, h)))


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is absent")
@pytest.mark.parametrize(
    "case", sorted(p.name for p in FACES.iterdir() if p.is_dir()) if FACES.is_dir() else []
)
def test_every_real_face_is_plausible_and_its_mirrored_points_are_not(case: str) -> None:
    folder = FACES / case
    image = next(folder.glob("image.*")).read_bytes()
    seg = (folder / "segmentation_map.png").read_bytes()
    points = np.array([[p["x"], p["y"]] for p in json.loads((folder / "landmarks.json").read_text())])
    got = load_inputs(image, seg, landmarks_json(points))  # the mirror case included
    flipped = points.copy()
    flipped[:, 0] = (got.image.shape[1] - 1) - flipped[:, 0]
    with pytest.raises(InputError) as err:
        load_inputs(image, seg, landmarks_json(flipped))
    assert err.value.code == "InvalidLandmarks"
