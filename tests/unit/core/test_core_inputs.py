"""Inputs: every accepted format decodes to the same arrays; every bad input is one named error."""

from __future__ import annotations

import ast
import json
import struct
import zlib

import cv2
import numpy as np
import pytest
from core_helpers import landmarks_json, png, png_from_chunks
from facesvg.core.errors import InputError, NoFace
from facesvg.core.image_headers import image_header
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.label_maps import decode_labels
from facesvg.core.landmark_formats import Landmarks, parse_landmarks
from facesvg.core.options import Limits
from facesvg.core.photo_decoding import decode_image


def _err(excinfo: pytest.ExceptionInfo[InputError]) -> tuple[str, str]:
    return excinfo.value.field, excinfo.value.code


# ------------------------------------------------------------------------------------- landmarks


def test_qoves_literal_parses_with_dimensions(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    lm = parse_landmarks(sample_bytes["landmarks"])
    assert lm.points.shape == (478, 2)
    assert lm.dimensions == (1101, 1100)
    np.testing.assert_array_equal(lm.points, sample_points)


@pytest.mark.parametrize("shape", ["dicts", "pairs", "triples", "doc", "python_objects"])
def test_every_landmark_shape_gives_the_same_points(shape: str, sample_points: np.ndarray) -> None:
    pts = sample_points
    raw: object
    if shape == "dicts":
        raw = landmarks_json(pts)
    elif shape == "pairs":
        raw = json.dumps(pts.tolist()).encode()
    elif shape == "triples":
        raw = json.dumps([[x, y, 0.1] for x, y in pts.tolist()])
    elif shape == "doc":
        raw = landmarks_json(pts, (1101, 1100))
    else:
        raw = {"landmarks": [[{"x": x, "y": y} for x, y in pts.tolist()]]}
    lm = parse_landmarks(raw)  # type: ignore[arg-type]
    np.testing.assert_allclose(lm.points, pts)


def test_468_points_without_iris_render(sample_bytes: dict[str, bytes], sample_points: np.ndarray) -> None:
    inputs = load_inputs(
        sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(sample_points[:468])
    )
    assert inputs.landmarks.shape == (468, 2)


def test_dimensions_rescale_points_to_the_image(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    # Points given for a 2x copy of the image, saying so in "dimensions".
    doc = landmarks_json(sample_points * 2.0, (2202, 2200))
    inputs = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], doc)
    np.testing.assert_allclose(inputs.landmarks, sample_points, atol=1e-9)


def test_normalised_points_are_scaled_to_pixels(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    doc = landmarks_json(sample_points / (1101.0, 1100.0))
    inputs = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], doc)
    np.testing.assert_allclose(inputs.landmarks, sample_points, atol=1e-6)


def test_landmarks_object_is_accepted(sample_bytes: dict[str, bytes], sample_points: np.ndarray) -> None:
    lm = Landmarks(points=sample_points, dimensions=None)
    inputs = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], lm)
    np.testing.assert_array_equal(inputs.landmarks, sample_points)


def test_python_literal_is_never_executed(tmp_path: object) -> None:
    with pytest.raises(InputError) as exc:
        parse_landmarks("__import__('os').system('echo pwned')")
    assert _err(exc) == ("landmarks", "InvalidLandmarks")


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p: p[:477], "LandmarkCount"),
        (lambda p: np.vstack([p, p[:5]]), "LandmarkCount"),
        (lambda p: np.where(np.arange(len(p))[:, None] == 7, np.nan, p), "NonFinite"),
        (lambda p: np.where(np.arange(len(p))[:, None] == 7, np.inf, p), "NonFinite"),
    ],
    ids=["477", "483", "nan", "inf"],
)
def test_bad_landmark_values(mutate, code: str, sample_points: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps([[float(x), float(y)] for x, y in mutate(sample_points)])
    raw = raw.replace("NaN", "NaN").replace("Infinity", "Infinity")  # json emits both; Python accepts them
    with pytest.raises(InputError) as exc:
        parse_landmarks(raw)
    assert _err(exc) == ("landmarks", code)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00",
        "",
        "{'landmarks': 5}",
        "[1, 2, 3]",
        "not json at all (",
        '[{"x": 1}]',
        '{"points": []}',
    ],
)
def test_malformed_landmark_documents(raw: str | bytes) -> None:
    with pytest.raises(InputError) as exc:
        parse_landmarks(raw)
    assert exc.value.field == "landmarks"


def test_points_mostly_outside_the_image(sample_bytes: dict[str, bytes], sample_points: np.ndarray) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(
            sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(sample_points + 900.0)
        )
    assert _err(exc) == ("landmarks", "InvalidLandmarks")
    assert "points fall outside the photo's 1101x1100 pixels" in exc.value.message


def test_dimensions_with_another_aspect_ratio(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(
            sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(sample_points, (1101, 800))
        )
    assert _err(exc) == ("landmarks", "AspectMismatch")


def test_landmark_document_size_limit(sample_bytes: dict[str, bytes]) -> None:
    with pytest.raises(InputError) as exc:
        parse_landmarks(sample_bytes["landmarks"], Limits(max_landmarks_bytes=1000))
    assert _err(exc) == ("landmarks", "TooLarge")


# ----------------------------------------------------------------------------------------- image


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but holds (almost) no pixel data."""

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return png_from_chunks([(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\0" * 64)), (b"IEND", b"")])


def test_pixel_limit_is_checked_from_the_header_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(*_: object) -> None:
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    with pytest.raises(InputError) as exc:
        decode_image(_png_header_only(60_000, 60_000))
    assert _err(exc) == ("image", "TooManyPixels")


def test_tiny_pixel_limit_rejects_the_sample(sample_bytes: dict[str, bytes]) -> None:
    with pytest.raises(InputError) as exc:
        load_inputs(
            sample_bytes["image"],
            sample_bytes["segmentation"],
            sample_bytes["landmarks"],
            Limits(max_pixels=10_000),
        )
    assert _err(exc) == ("image", "TooManyPixels")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\0" * 100, "UnsupportedFormat"),
        (b"", "Empty"),
        (b"%PDF-1.4 hello", "UnsupportedFormat"),
    ],
)
def test_not_an_image(data: bytes, code: str) -> None:
    with pytest.raises(InputError) as exc:
        decode_image(data)
    assert _err(exc) == ("image", code)


def test_truncated_png(sample_bytes: dict[str, bytes]) -> None:
    data = sample_bytes["image"]
    for cut in (20, 4000, len(data) // 2, len(data) - 13):
        with pytest.raises(InputError) as exc:
            decode_image(data[:cut])
        assert _err(exc) == ("image", "Truncated")


def test_corrupt_png_body(sample_bytes: dict[str, bytes]) -> None:
    data = bytearray(sample_bytes["image"])
    data[2000:60000] = b"\x00" * 58000
    with pytest.raises(InputError) as exc:
        decode_image(bytes(data))
    assert exc.value.field == "image"


def test_truncated_jpeg(sample_inputs: FaceInputs) -> None:
    data = cv2.imencode(".jpg", sample_inputs.image)[1].tobytes()
    assert image_header(data, "image") == ("jpeg", 1101, 1100)
    with pytest.raises(InputError) as exc:
        decode_image(data[: len(data) // 2])
    assert _err(exc) == ("image", "Truncated")


@pytest.mark.parametrize("mode", ["rgba", "rgb", "grey", "jpeg", "png16"])
def test_image_modes_decode_to_bgr(
    mode: str, sample_bytes: dict[str, bytes], sample_inputs: FaceInputs
) -> None:
    bgr = sample_inputs.image
    if mode == "rgba":
        data = sample_bytes["image"]
    elif mode == "rgb":
        data = png(bgr)
    elif mode == "grey":
        data = png(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    elif mode == "png16":
        data = png(bgr.astype(np.uint16) * 257)
    else:
        data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    img = decode_image(data)
    assert img.shape == (1100, 1101, 3) and img.dtype == np.uint8
    diff = np.abs(img.astype(int) - bgr.astype(int)).mean()
    assert diff < (40 if mode == "grey" else 3)
    # And the whole input set loads with it.
    inputs = load_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert inputs.image.shape == (1100, 1101, 3)


def test_alpha_is_dropped_not_composited(sample_bytes: dict[str, bytes]) -> None:
    rgba = cv2.imdecode(np.frombuffer(sample_bytes["image"], np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decode_image(sample_bytes["image"]), rgba[:, :, :3])


# ---------------------------------------------------------------------------------- segmentation


def test_labels_are_upscaled_with_nearest(sample_inputs: FaceInputs) -> None:
    assert sample_inputs.labels.shape == (1100, 1101)
    assert set(np.unique(sample_inputs.labels).tolist()) == set(range(11))


def test_segmentation_at_another_resolution(
    sample_bytes: dict[str, bytes], sample_inputs: FaceInputs
) -> None:
    seg = decode_labels(sample_bytes["segmentation"])
    for size in ((2048, 2046), (512, 511), (1101, 1100)):
        other = cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST_EXACT)
        inputs = load_inputs(sample_bytes["image"], png(other), sample_bytes["landmarks"])
        assert inputs.labels.shape == (1100, 1101)
        agree = np.mean(inputs.labels == sample_inputs.labels)
        assert agree > (0.98 if size[0] < 1024 else 0.995)


def test_grey_segmentation_saved_as_rgb(sample_bytes: dict[str, bytes], sample_inputs: FaceInputs) -> None:
    seg = decode_labels(sample_bytes["segmentation"])
    inputs = load_inputs(sample_bytes["image"], png(cv2.merge([seg, seg, seg])), sample_bytes["landmarks"])
    np.testing.assert_array_equal(inputs.labels, sample_inputs.labels)


def _seg_error(sample_bytes: dict[str, bytes], seg: bytes) -> tuple[str, str]:
    with pytest.raises(InputError) as exc:
        load_inputs(sample_bytes["image"], seg, sample_bytes["landmarks"])
    return _err(exc)


def test_segmentation_aspect_mismatch(sample_bytes: dict[str, bytes]) -> None:
    seg = decode_labels(sample_bytes["segmentation"])
    squashed = cv2.resize(seg, (1024, 900), interpolation=cv2.INTER_NEAREST)
    assert _seg_error(sample_bytes, png(squashed)) == ("segmentation_map", "AspectMismatch")
    # Within 2 % is fine (rounding when the client resized).
    near = cv2.resize(seg, (1024, 1010), interpolation=cv2.INTER_NEAREST)
    load_inputs(sample_bytes["image"], png(near), sample_bytes["landmarks"])


def test_unknown_labels(sample_bytes: dict[str, bytes]) -> None:
    seg = decode_labels(sample_bytes["segmentation"]).copy()
    seg[0:10, 0:10] = 17
    assert _seg_error(sample_bytes, png(seg)) == ("segmentation_map", "UnknownLabels")


def test_colour_coded_segmentation_is_rejected(sample_bytes: dict[str, bytes]) -> None:
    seg = decode_labels(sample_bytes["segmentation"])
    colour = cv2.merge([seg, seg * 2, seg * 3])
    assert _seg_error(sample_bytes, png(colour)) == ("segmentation_map", "NotLabelMap")


def test_segmentation_must_be_png(sample_bytes: dict[str, bytes]) -> None:
    seg = decode_labels(sample_bytes["segmentation"])
    jpg = cv2.imencode(".jpg", seg)[1].tobytes()
    assert _seg_error(sample_bytes, jpg) == ("segmentation_map", "NotPNG")
    assert _seg_error(sample_bytes, b"nope")[1] == "UnsupportedFormat"
    assert _seg_error(sample_bytes, sample_bytes["segmentation"][:3000])[1] == "Truncated"


@pytest.mark.parametrize("fill", [0, 10])
def test_no_skin_near_the_landmarks_is_noface(fill: int, sample_bytes: dict[str, bytes]) -> None:
    seg = np.full((1023, 1024), fill, np.uint8)
    with pytest.raises(NoFace) as exc:
        load_inputs(sample_bytes["image"], png(seg), sample_bytes["landmarks"])
    assert exc.value.code == "NoFace"
    assert exc.value.to_dict()["field"] == "segmentation_map"


def test_landmarks_of_another_smaller_image_blame_the_landmarks(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    # Squeeze the points into the empty top-left corner (the landmarks of a smaller photo): inside
    # the photo, on background, while the map shows a face elsewhere. The landmarks are wrong.
    corner = (sample_points - sample_points.min(0)) * 0.2 + 5
    with pytest.raises(InputError) as exc:
        load_inputs(sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(corner))
    assert not isinstance(exc.value, NoFace)
    assert _err(exc) == ("landmarks", "InvalidLandmarks")
    assert "on the face the segmentation map shows" in exc.value.message
    assert "of the 1101x1100 photo" in exc.value.message


def test_first_bad_field_is_reported_deterministically(sample_bytes: dict[str, bytes]) -> None:
    # Both the image and the landmarks are bad: the image is always the one named.
    for _ in range(3):
        with pytest.raises(InputError) as exc:
            load_inputs(b"junk", sample_bytes["segmentation"], "junk")
        assert exc.value.field == "image"


@pytest.mark.parametrize(
    "text",
    [
        "{'landmarks': [[{'x': 1.5, 'y': 2}, {'x': 3e2, 'y': -4.25}]], 'dimensions': [10, 20]}",
        "{'landmarks': [(1, 2), (3, 4)], 'ok': True, 'none': None}",  # tuples/True/None: literal_eval
        "{'landmarks': [[1, 2], [3, 4],], 'note': 'it''s'}",  # trailing comma, implicit concatenation
        "{'landmarks': [[1, 2]], 'url': 'https://x/y?a=1'}  # a comment",
    ],
)
def test_python_literal_fast_path_means_what_literal_eval_means(text: str) -> None:
    from facesvg.core.landmark_formats import _decode_text

    def lists(value: object) -> object:  # tuples read as lists: the same points
        if isinstance(value, list | tuple):
            return [lists(v) for v in value]
        if isinstance(value, dict):
            return {k: lists(v) for k, v in value.items()}
        return value

    assert _decode_text(text) == lists(ast.literal_eval(text))


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "{'a':" * 50_000 + "1" + "}" * 50_000, "(" * 10_000 + ")" * 10_000],
)
def test_deeply_nested_documents_are_rejected(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_landmarks(text)
    assert exc.value.field == "landmarks"


def test_normalised_points_with_pixel_dimensions_are_a_units_error_on_landmarks(
    sample_bytes: dict[str, bytes], sample_points: np.ndarray
) -> None:
    # Given MediaPipe's 0..1 points sent with the photo's pixel size (they sat in the top-left
    # pixel and the answer was NoFace on the map)
    norm = sample_points / (1101, 1100)
    with pytest.raises(InputError) as exc:
        load_inputs(sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(norm, (1101, 1100)))
    assert (exc.value.field, exc.value.code) == ("landmarks", "InvalidLandmarks")
    assert "normalised" in exc.value.message
    # while the same points without dimensions are scaled to the photo
    got = load_inputs(sample_bytes["image"], sample_bytes["segmentation"], landmarks_json(norm))
    np.testing.assert_allclose(got.landmarks, sample_points, atol=1e-9)
