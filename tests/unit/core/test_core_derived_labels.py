"""The label map derived from the landmarks and the photo (no segmentation map sent).

Measured against the real maps: the QOVES sample's, and the real faces' in ``../shared/faces``
(read in place; skipped when absent). Bounds sit a little under what is measured today."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from core_helpers import FACE_DIRS, label_iou, load_face
from facesvg.core import derived_labels as dl
from facesvg.core import landmarks_topology as topo
from facesvg.core import mesh_connections as mc
from facesvg.core.errors import InputError
from facesvg.core.eye_outline import eye_outline
from facesvg.core.face_geometry import geometry
from facesvg.core.inputs import LANDMARKS, FaceInputs, check_inputs, load_inputs
from facesvg.core.labels import BROWS, EYES, HAIR, LOWER_LIP, NOSE, SKIN, UPPER_LIP
from facesvg.core.pipeline import TEMPLATE_DRAWN, render, render_inputs


def _derived(inputs: FaceInputs) -> np.ndarray:
    return dl.derive_labels(inputs.image, inputs.landmarks)


# ------------------------------------------------------------------------- the published sets


def test_the_published_connection_sets_are_the_mesh_contours_the_core_uses() -> None:
    (oval,) = mc.chains(mc.FACEMESH_FACE_OVAL)
    assert oval == topo.FACE_OVAL  # one closed loop, the same 36 points
    (eye_l,) = mc.chains(mc.FACEMESH_LEFT_EYE)
    assert set(eye_l) == set(topo.EYE_L) and len(eye_l) == 16
    assert sorted(map(len, mc.chains(mc.FACEMESH_LIPS))) == [20, 20]  # outer and inner loop
    assert sorted(map(len, mc.chains(mc.FACEMESH_RIGHT_EYEBROW))) == [5, 5]  # upper and lower edge
    assert len(mc.points(mc.FACEMESH_IRISES)) == 8
    # the lips split at their corners into the halves the core's own chains name
    assert {dl._UPPER_OUTER[0], dl._UPPER_OUTER[-1]} == {topo.MOUTH_CORNER_R, topo.MOUTH_CORNER_L}
    assert set(dl._UPPER_OUTER) == set(topo.UPPER_LIP_OUTER)
    assert set(dl._LOWER_OUTER) == set(topo.LOWER_LIP_OUTER)
    assert set(dl._UPPER_INNER) == set(topo.UPPER_LIP_INNER)
    # a brow loop runs along one edge and back along the other (no crossing at the ends)
    assert set(dl._BROWS[1]) == set(topo.BROW_L)


def test_chains_refuse_a_set_that_branches() -> None:
    with pytest.raises(ValueError):
        mc.chains(mc.FACEMESH_NOSE)  # the bridge meets the alae at the tip: not simple paths


# ------------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample_derived(sample_inputs: FaceInputs) -> np.ndarray:
    return _derived(sample_inputs)


def test_the_sample_s_derived_labels_agree_with_its_real_map(
    sample_inputs: FaceInputs, sample_derived: np.ndarray
) -> None:
    real, derived = sample_inputs.labels, sample_derived
    assert derived.shape == real.shape and derived.dtype == np.uint8
    bounds = {SKIN: 0.88, NOSE: 0.82, LOWER_LIP: 0.8, UPPER_LIP: 0.6, HAIR: 0.6}
    for value, bound in bounds.items():
        assert label_iou(real == value, derived == value) >= bound, value
    for pair in (EYES, BROWS):  # each side keeps its value (the image-left one first)
        for value in pair:
            assert label_iou(real == value, derived == value) >= (0.82 if pair == EYES else 0.6), value


def test_a_small_photo_s_eyes_are_not_grown_by_their_outline(sample_inputs: FaceInputs) -> None:
    # The sample reduced to 256 px: an eye is a few px tall. Filled pixel by pixel, every pixel its
    # outline touches joins it (a sixth more than the eye's area); area-averaged, it keeps its size.
    k = 256 / max(sample_inputs.image.shape[:2])
    small = cv2.resize(sample_inputs.image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    pts = (sample_inputs.landmarks + 0.5) * k - 0.5
    g = geometry(pts, 256)  # the eyes' area: their outline's (the lid contour and the lash line)
    area = sum(cv2.contourArea(eye_outline(g, c).astype(np.float32)) for c in dl._EYES)
    derived = dl.derive_labels(small, pts)
    assert 0.85 * area <= np.count_nonzero(np.isin(derived, EYES)) <= 1.08 * area
    for chain in dl._EYES:  # the fill alone, before the photo moves any edge
        _, cov = dl.coverage(pts[list(chain)], small.shape[:2], geometry(pts, 256).scale)
        one = cv2.contourArea(pts[list(chain)].astype(np.float32))
        assert abs(float(cov.sum()) - one) <= 0.07 * one  # the sub-pixels' own outline: 1/8 px
        assert abs(np.count_nonzero(cov >= 0.5) - one) <= 0.1 * one


def test_the_sample_s_brows_reach_the_brow_s_hair(
    sample_inputs: FaceInputs, sample_derived: np.ndarray
) -> None:
    # The mesh's brow band is thinner than the brow; the photo's dark hair beside it is brow.
    mesh_only = np.zeros(sample_derived.shape, np.uint8)
    for chain in dl._BROWS:
        dl._fill(mesh_only, sample_inputs.landmarks[list(chain)])
    real = np.isin(sample_inputs.labels, BROWS)
    assert label_iou(real, np.isin(sample_derived, BROWS)) >= 0.72
    assert label_iou(real, np.isin(sample_derived, BROWS)) > label_iou(real, mesh_only > 0) + 0.02


def test_the_sample_s_forehead_ends_at_its_hairline(
    sample_inputs: FaceInputs, sample_derived: np.ndarray
) -> None:
    # Along the facial midline, the top of the skin is where the real map puts it (the hairline),
    # well above the top of the face oval MediaPipe gives.
    g = geometry(sample_inputs.landmarks, max(sample_inputs.labels.shape))

    def top_of_skin(labels: np.ndarray) -> float:
        ys = np.arange(labels.shape[0])
        xs = np.clip(np.rint(g.mid_a * ys + g.mid_b).astype(int), 0, labels.shape[1] - 1)
        return float(ys[labels[ys, xs] == SKIN].min())

    real, derived = top_of_skin(sample_inputs.labels), top_of_skin(sample_derived)
    assert abs(real - derived) < 0.1 * g.scale
    assert derived < sample_inputs.landmarks[topo.FOREHEAD_TOP, 1] - 0.2 * g.scale


def test_the_derived_map_is_deterministic(sample_inputs: FaceInputs, sample_derived: np.ndarray) -> None:
    assert np.array_equal(_derived(sample_inputs), sample_derived)


def test_a_render_without_a_map_says_where_its_labels_came_from(sample_bytes: dict[str, bytes]) -> None:
    result = render(sample_bytes["image"], None, sample_bytes["landmarks"])
    doc = result.to_json()
    assert doc["segmentation"] == {"source": "landmarks"}
    assert not [m for m in result.missing if not m.endswith("_ear")]
    for name in TEMPLATE_DRAWN:  # drawn from the landmarks themselves: unknown, never made up
        assert doc["visibility"][name] == {"visible_fraction": None, "occluded_by": []}
    assert isinstance(doc["visibility"]["forehead"]["visible_fraction"], float)
    features = result.geojson()["features"]
    assert {f["id"]: f["properties"]["visible_fraction"] for f in features}["nose"] is None
    with_map = render(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert with_map.to_json()["segmentation"] == {"source": "client"}


def test_without_a_map_the_landmark_checks_stay(sample_bytes: dict[str, bytes]) -> None:
    on_a_line = [[float(i), float(i)] for i in range(478)]
    for call in (load_inputs, check_inputs):
        with pytest.raises(InputError) as err:
            call(sample_bytes["image"], None, on_a_line)
        assert err.value.field == "landmarks" and err.value.code == "InvalidLandmarks"
    # the checks against a map's labels are skipped: nothing to compare with
    check_inputs(sample_bytes["image"], None, sample_bytes["landmarks"])
    inputs = load_inputs(sample_bytes["image"], None, sample_bytes["landmarks"])
    assert inputs.labels_source == LANDMARKS and inputs.labels.shape == inputs.image.shape[:2]


# ----------------------------------------------------------------------------- real faces


@pytest.mark.skipif(not FACE_DIRS, reason="no ../shared/faces (real faces are used in place only)")
@pytest.mark.parametrize("folder", FACE_DIRS, ids=lambda p: p.name)
def test_real_faces_derive_every_class_and_the_skin_where_the_map_has_it(folder: Path) -> None:
    inputs = load_face(folder)
    real, derived = inputs.labels, _derived(inputs)
    for value in (SKIN, *BROWS, *EYES, NOSE, UPPER_LIP, LOWER_LIP):
        assert np.count_nonzero(derived == value), value
    assert label_iou(real == SKIN, derived == SKIN) >= 0.72
    assert label_iou(np.isin(real, EYES), np.isin(derived, EYES)) >= 0.7
    assert label_iou(np.isin(real, BROWS), np.isin(derived, BROWS)) >= 0.45
    assert label_iou(real == NOSE, derived == NOSE) >= 0.6
    # Where the forehead may reach, the real map's hair is mostly not taken for skin (a fringe is
    # hair), and its skin mostly is.
    g = geometry(inputs.landmarks, max(real.shape))
    reach = np.zeros(real.shape, np.uint8)
    dl._fill(reach, dl._forehead_reach(g))
    hair, skin = (real == HAIR) & (reach > 0), (real == SKIN) & (reach > 0)
    if np.count_nonzero(hair) > 500:
        assert np.count_nonzero(hair & (derived != SKIN)) >= 0.4 * np.count_nonzero(hair)
    assert np.count_nonzero(skin & (derived == SKIN)) >= 0.85 * np.count_nonzero(skin)
    # Round the eyes the face is skin, made up or shadowed, to the oval's rim (a turned face's far
    # side, where the background is near).
    eyes = np.zeros(real.shape, np.uint8)
    for chain in dl._EYES:
        dl._fill(eyes, inputs.landmarks[list(chain)])
    k = round(0.1 * g.scale)
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    oval = np.zeros(real.shape, np.uint8)
    dl._fill(oval, inputs.landmarks[list(dl._OVAL)])
    orbit = (real == SKIN) & (eyes > 0) & (oval > 0)
    assert np.count_nonzero(orbit & (derived == SKIN)) >= 0.9 * np.count_nonzero(orbit)


@pytest.mark.skipif(not FACE_DIRS, reason="no ../shared/faces (real faces are used in place only)")
@pytest.mark.parametrize("folder", FACE_DIRS, ids=lambda p: p.name)
def test_real_faces_keep_every_ear_without_their_map(folder: Path) -> None:
    # An ear the real map shows is found without it too, also where a sideburn or the shade behind
    # the jaw parts it from the face's skin in the photo.
    image = next(folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file())
    files = (
        image.read_bytes(),
        (folder / "segmentation_map.png").read_bytes(),
        (folder / "landmarks.json").read_bytes(),
    )
    with_map = render_inputs(load_inputs(*files))
    without = render_inputs(load_inputs(files[0], None, files[2]))
    ears = {"left_ear", "right_ear"}
    assert ears & set(with_map.regions) <= set(without.regions)


@pytest.mark.skipif(not FACE_DIRS, reason="no ../shared/faces (real faces are used in place only)")
def test_mediapipe_landmarks_sit_half_a_pixel_off_the_label_grid() -> None:
    # MediaPipe's points are normalised coordinates times the photo's size (a pixel's centre at
    # i + 0.5). Read so, the features agree better with the real maps than read as pixel centres:
    # on small photos by a few hundredths of IoU.
    better = []
    for folder in FACE_DIRS:
        image = next(folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file())
        files = image.read_bytes(), (folder / "segmentation_map.png").read_bytes()
        inputs = load_inputs(*files, (folder / "landmarks.json").read_bytes())
        if max(inputs.image.shape[:2]) > 512:
            continue
        as_mediapipe = _derived(inputs)
        as_centres = dl.derive_labels(inputs.image, inputs.landmarks + dl.MESH_PIXEL_CENTRE)
        features = (*EYES, *BROWS, NOSE, UPPER_LIP, LOWER_LIP)
        score = [
            np.mean([label_iou(inputs.labels == v, d == v) for v in features])
            for d in (as_mediapipe, as_centres)
        ]
        better.append(score[0] - score[1])
    assert better and float(np.mean(better)) >= 0.02 and min(better) > -0.01


def test_without_a_map_exif_landmarks_are_on_the_photo_as_displayed_unless_their_size_says_stored(
    sample_inputs: FaceInputs,
) -> None:
    from core_helpers import landmarks_json
    from facesvg.core.orientation import orient_array, orient_points
    from test_core_orientation import jpeg_with_exif

    img, pts = sample_inputs.image[100:900], sample_inputs.landmarks - (0, 100)  # not square
    h, w = img.shape[:2]
    # Landmarks of the displayed photo (a browser's, a phone's): they stay as they are
    displayed = load_inputs(jpeg_with_exif(orient_array(img, 8), 6), None, landmarks_json(pts))
    assert displayed.image.shape[:2] == (h, w)
    np.testing.assert_allclose(displayed.landmarks, pts)
    # Landmarks of the stored pixels, whose dimensions fit only those: turned with the photo
    stored = load_inputs(jpeg_with_exif(img, 6), None, landmarks_json(pts, (w, h)))
    assert stored.image.shape[:2] == (w, h)
    np.testing.assert_allclose(stored.landmarks, orient_points(pts, 6, w, h))
    assert np.count_nonzero(stored.labels == SKIN) > 0.5 * np.count_nonzero(sample_inputs.labels == SKIN)
