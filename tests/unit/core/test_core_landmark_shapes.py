"""Issue 16.4: landmarks as MediaPipe writes them, and ``face_index``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from facesvg.core.errors import InputError, NoFace
from facesvg.core.inputs import load_inputs
from facesvg.core.landmark_formats import parse_landmarks
from facesvg.core.options import Limits, RenderOptions
from facesvg.core.pipeline import render
from facesvg.service.hashing import canonical_landmarks, prepare
from facesvg.service.ports import RenderCore

SIZE = (1101.0, 1100.0)  # the sample photo, px


def tasks_result(*faces: np.ndarray) -> str:
    """A Tasks ``FaceLandmarkerResult`` serialised to JSON: normalised x, y with z, visibility, presence."""
    return json.dumps(
        {
            "face_landmarks": [
                [{"x": x, "y": y, "z": -0.01, "visibility": 0.0, "presence": 0.0} for x, y in f.tolist()]
                for f in faces
            ],
            "face_blendshapes": [],
            "facial_transformation_matrixes": [],
        }
    )


def test_the_tasks_json_shape_renders_like_the_pixels(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    doc = tasks_result(sample_points / SIZE)
    lm = parse_landmarks(doc)
    assert lm.normalised and lm.points.shape == (478, 2)
    inputs = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], doc)
    np.testing.assert_allclose(inputs.landmarks, sample_points, atol=1e-6)
    # the JavaScript API's camelCase key too
    js = json.dumps({"faceLandmarks": json.loads(doc)["face_landmarks"]})
    np.testing.assert_array_equal(parse_landmarks(js).points, lm.points)


@pytest.mark.parametrize("per_point", [2, 3])
@pytest.mark.parametrize("count", [468, 478])
def test_a_flat_list_of_numbers(sample_points: np.ndarray, per_point: int, count: int) -> None:
    pts = sample_points[:count]
    flat = np.c_[pts, np.full(count, 0.5)][:, :per_point].ravel().tolist()
    assert len(flat) == count * per_point
    np.testing.assert_allclose(parse_landmarks(json.dumps(flat)).points, pts)
    # one face in a list of faces too
    np.testing.assert_allclose(parse_landmarks(json.dumps([flat])).points, pts)


def test_a_flat_list_of_another_length_is_refused(sample_points: np.ndarray) -> None:
    with pytest.raises(InputError) as exc:
        parse_landmarks(json.dumps(sample_points.ravel().tolist()[:-1]))
    assert exc.value.code == "LandmarkCount"
    assert "956" in exc.value.message


def test_face_index_picks_a_face_and_is_reported(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    other = sample_points[::-1] / SIZE  # not a face: only face 1 renders
    doc = tasks_result(other, sample_points / SIZE)
    np.testing.assert_allclose(parse_landmarks(doc, face_index=1).points * SIZE, sample_points, atol=1e-6)
    result = render(
        sample_bytes["image"], sample_bytes["segmentation"], doc, RenderOptions(face_index=1, canvas_size=256)
    )
    assert result.to_json()["face_index"] == 1
    with pytest.raises(InputError) as exc:
        parse_landmarks(doc, face_index=2)
    assert (exc.value.code, exc.value.message) == ("FaceIndex", "face_index 2, but the document has 2 faces")
    with pytest.raises(InputError) as exc:
        parse_landmarks(json.dumps(sample_points.tolist()), face_index=1)
    assert exc.value.code == "FaceIndex"


def test_no_face_found_by_mediapipe_is_no_face() -> None:
    with pytest.raises(NoFace):
        parse_landmarks(json.dumps({"face_landmarks": []}))


def test_the_service_stores_the_chosen_face_and_renders_it(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    core = RenderCore.default()
    options = RenderOptions(face_index=1, canvas_size=256)
    doc = tasks_result(sample_points[::-1] / SIZE, sample_points / SIZE)
    prepared = prepare(core, Limits(), sample_bytes["image"], sample_bytes["segmentation"], doc, options)
    assert prepared.landmarks_json == canonical_landmarks(parse_landmarks(doc, face_index=1))
    assert b'"face_index":1' in prepared.options_json
    core.check_inputs(
        prepared.image, prepared.segmentation_map, prepared.landmarks_json.decode(), limits=Limits()
    )
    result = core.render(
        prepared.image,
        prepared.segmentation_map,
        prepared.landmarks_json.decode(),
        options=options,
        limits=Limits(),
    )
    assert result.to_json()["face_index"] == 1
