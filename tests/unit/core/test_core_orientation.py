"""EXIF orientation vs the frame the labels and landmarks were computed on (issue 14, item 4)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from core_helpers import landmarks_json, png
from facesvg.core.errors import InputError
from facesvg.core.inputs import FaceInputs, check_inputs, load_inputs
from facesvg.core.orientation import orient_array, orient_points
from facesvg.core.photo_decoding import decode_image
from facesvg.core.pipeline import RenderResult, render


def _tiff(orientation: int) -> bytes:
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + b"\0\0\0\0"


def jpeg_with_exif(img: np.ndarray, orientation: int) -> bytes:
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    app1 = b"Exif\x00\x00" + _tiff(orientation)
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def png_with_exif(img: np.ndarray, orientation: int) -> bytes:
    data = png(img)
    body = _tiff(orientation)
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    at = data.index(b"IDAT") - 4
    return data[:at] + chunk + data[at:]


def _wrap(deg: float) -> float:
    return (deg + 180) % 360 - 180


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_array_and_points_agree_with_the_decoder(sample_inputs: FaceInputs, orientation: int) -> None:
    img = sample_inputs.image[:300, :500]
    shown = decode_image(png_with_exif(img, orientation))
    np.testing.assert_array_equal(shown, orient_array(img, orientation))
    h, w = img.shape[:2]
    pts = np.array([[10.0, 20.0], [499.0, 0.0], [0.0, 299.0]])
    moved = np.rint(orient_points(pts, orientation, w, h)).astype(int)
    for (x, y), (u, v) in zip(pts.astype(int), moved, strict=True):
        np.testing.assert_array_equal(img[y, x], shown[v, u])


@pytest.mark.parametrize("encode", [jpeg_with_exif, png_with_exif], ids=["jpeg", "png"])
def test_labels_and_landmarks_of_the_stored_pixels_are_turned_with_the_photo(
    sample_inputs: FaceInputs, sample_result: RenderResult, encode: object
) -> None:
    # Given the sample stored upright with EXIF orientation 6 (display turned 90 degrees clockwise),
    # and the map and landmarks computed on the stored pixels (the square photo fits both frames)
    img, lab, pts = sample_inputs.image, sample_inputs.labels, sample_inputs.landmarks
    h, w = img.shape[:2]
    data = encode(img, 6)  # type: ignore[operator]
    # When it is loaded
    got = load_inputs(data, png(lab), landmarks_json(pts))
    check_inputs(data, png(lab), landmarks_json(pts))
    # Then the photo is as displayed, and the labels and points were turned with it
    assert got.image.shape[:2] == (w, h)
    np.testing.assert_array_equal(got.labels, orient_array(lab, 6))
    np.testing.assert_allclose(got.landmarks, orient_points(pts, 6, w, h))
    # And the render uprights the face from the displayed photo: a quarter turn more than the sample
    res = render(data, png(lab), landmarks_json(pts))
    assert abs(abs(_wrap(res.rotation_deg - sample_result.rotation_deg)) - 90) < 2


def test_labels_and_landmarks_of_the_displayed_photo_stay_as_they_are(sample_inputs: FaceInputs) -> None:
    img, lab, pts = sample_inputs.image, sample_inputs.labels, sample_inputs.landmarks
    h, w = img.shape[:2]
    stored = orient_array(img, 8)  # orientation 6 turns this back upright
    data = jpeg_with_exif(stored, 6)
    got = load_inputs(data, png(lab), landmarks_json(pts, (w, h)))
    np.testing.assert_array_equal(got.labels, lab)
    np.testing.assert_allclose(got.landmarks, pts)


def test_a_non_square_photo_is_decided_by_the_map_aspect(sample_inputs: FaceInputs) -> None:
    img, lab, pts = sample_inputs.image[100:900], sample_inputs.labels[100:900], sample_inputs.landmarks
    pts = pts - (0, 100)
    h, w = img.shape[:2]
    got = load_inputs(jpeg_with_exif(img, 6), png(lab), landmarks_json(pts))
    assert got.image.shape[:2] == (w, h)
    np.testing.assert_allclose(got.landmarks, orient_points(pts, 6, w, h))


def test_mirroring_exif_keeps_the_handedness_of_stored_frame_landmarks(sample_inputs: FaceInputs) -> None:
    img, lab, pts = sample_inputs.image[100:900], sample_inputs.labels[100:900], sample_inputs.landmarks
    pts = pts - (0, 100)
    load_inputs(jpeg_with_exif(img, 5), png(lab), landmarks_json(pts))  # transpose: a mirror + 90 degrees


def test_a_photo_that_fits_neither_frame_clearly_is_refused_naming_exif(sample_inputs: FaceInputs) -> None:
    flat = np.full_like(sample_inputs.image, (90, 120, 150))
    with pytest.raises(InputError) as exc:
        load_inputs(
            jpeg_with_exif(flat, 3), png(sample_inputs.labels), landmarks_json(sample_inputs.landmarks)
        )
    assert (exc.value.field, exc.value.code) == ("image", "AmbiguousOrientation")
    assert "EXIF" in exc.value.message


FACES = Path(__file__).resolve().parents[4] / "shared" / "faces"


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is absent")
@pytest.mark.parametrize(
    "case", sorted(p.name for p in FACES.iterdir() if p.is_dir()) if FACES.is_dir() else []
)
@pytest.mark.parametrize("orientation", [6, 8])
@pytest.mark.parametrize("frame", ["stored", "displayed"])
def test_real_faces_are_placed_on_the_frame_their_labels_were_computed_on(
    case: str, orientation: int, frame: str
) -> None:
    folder = FACES / case
    img = cv2.imread(str(next(folder.glob("image.*"))), cv2.IMREAD_COLOR)
    seg = (folder / "segmentation_map.png").read_bytes()
    labels = cv2.resize(
        cv2.imread(str(folder / "segmentation_map.png"), cv2.IMREAD_UNCHANGED),
        (img.shape[1], img.shape[0]),
        interpolation=cv2.INTER_NEAREST_EXACT,
    )
    inverse = {6: 8, 8: 6}[orientation]
    stored = img if frame == "stored" else orient_array(img, inverse)
    got = load_inputs(jpeg_with_exif(stored, orientation), seg, (folder / "landmarks.json").read_bytes())
    expected = orient_array(labels, orientation) if frame == "stored" else labels
    np.testing.assert_array_equal(got.labels, expected)
