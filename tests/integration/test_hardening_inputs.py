"""The bad-input matrix, through real HTTP on the local stack.

Every case gets a 4xx JSON error naming the field and the reason (``NoFace`` → 422), and afterwards
S3 (``inputs/``, ``results/``), DynamoDB and SQS hold nothing from it: no new object, no new item,
no message sent. Inputs uploaded while validating (submit uploads them in parallel with the full
decode) must be gone again by the time the answer arrives.

The core's own bad-input unit tests are in ``tests/unit/core/test_core_inputs.py``; this file checks
the same families end to end, through the API's one error mapping.
"""

from __future__ import annotations

import base64
import copy
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR, sample_payload
from facesvg.service.aws.s3 import S3BlobStore
from facesvg.service.aws.sqs import SqsJobQueue
from integration_helpers import keys, submit_url, wait_finished
from jpeg_damage import flip_decoded_with_extraneous_bytes

pytestmark = pytest.mark.integration

_SAMPLE = sample_payload()
_IMAGE = (SAMPLE_DIR / "original_image.png").read_bytes()
_MAP = (SAMPLE_DIR / "segmentation_map.png").read_bytes()
_PHOTO = cv2.imdecode(np.frombuffer(_IMAGE, np.uint8), cv2.IMREAD_COLOR)
_LABELS = cv2.imdecode(np.frombuffer(_MAP, np.uint8), cv2.IMREAD_UNCHANGED)
_POINTS: list[dict[str, float]] = _SAMPLE["landmarks"]["landmarks"][0]
_DIMS: list[int] = _SAMPLE["landmarks"]["dimensions"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A syntactically complete PNG whose IHDR declares ``width`` x ``height`` (a decompression bomb
    shape: the header promises far more pixels than the tiny IDAT holds)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def palette_png(labels: np.ndarray, colours: bool) -> bytes:
    """An 8-bit palette PNG of a label map: a grey palette (index i → grey i) or a colour one."""
    h, w = labels.shape
    raw = b"".join(b"\0" + labels[y].tobytes() for y in range(h))
    pal = bytes(
        v for i in range(256) for v in ((i * 37 % 256, i * 91 % 256, i * 13 % 256) if colours else (i, i, i))
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
        + _chunk(b"PLTE", pal)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def with_points(points: list[dict[str, Any]], dims: Any = _DIMS) -> dict[str, Any]:
    return {"landmarks": [points], "dimensions": dims}


# A fresh content hash per case, so no case can hit a cached job of another test.
_margin = iter(range(10_000))


def base_body() -> dict[str, Any]:
    body = copy.deepcopy(_SAMPLE)
    body["options"] = {"margin": round(0.6 + 0.0001 * next(_margin), 4), "canvas_size": 256}
    return body


@dataclass(frozen=True)
class Case:
    """One row: how to break the request, and the answer it must get."""

    name: str
    status: int
    code: str
    field: str | None
    body: Callable[[dict[str, Any]], Any] | None = None  # edits a valid body (returns the new one)
    raw: bytes | None = None  # or: send these bytes as is
    method: str = "POST"
    path: str = field(default_factory=submit_url)
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def _set(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body.update(changes)
        return body

    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body.pop(key)
        return body

    return edit


def _points(transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Any:
    return _set(landmarks=with_points(transform(copy.deepcopy(_POINTS))))


def _shifted(dx: float, dy: float) -> Any:
    return _points(lambda pts: [{"x": p["x"] + dx, "y": p["y"] + dy} for p in pts])


def _raw_landmark_value(value: str) -> Callable[[dict[str, Any]], str]:
    """The body as JSON text with one coordinate replaced by a bare token (NaN, Infinity)."""

    def edit(body: dict[str, Any]) -> str:
        body["landmarks"] = with_points(copy.deepcopy(_POINTS))
        body["landmarks"]["landmarks"][0][10]["x"] = "__TOKEN__"
        return json.dumps(body).replace('"__TOKEN__"', value)

    return edit


def _random_on_skin(n: int) -> list[dict[str, float]]:
    ys, xs = np.nonzero(cv2.resize(_LABELS, tuple(_DIMS), interpolation=cv2.INTER_NEAREST) == 1)
    pick = np.random.default_rng(3).choice(len(xs), n, replace=False)
    return [{"x": float(xs[i]), "y": float(ys[i])} for i in pick]


def _raw_dimension(value: str) -> Callable[[dict[str, Any]], str]:
    """The body as JSON text with the landmarks' width replaced by a bare token."""

    def edit(body: dict[str, Any]) -> str:
        body["landmarks"] = with_points(copy.deepcopy(_POINTS), ["__TOKEN__", _DIMS[1]])
        return json.dumps(body).replace('"__TOKEN__"', value)

    return edit


def _raw_field(name: str, value: str) -> Callable[[dict[str, Any]], str]:
    """The body as JSON text with one top-level field's value replaced by raw JSON text."""

    def edit(body: dict[str, Any]) -> str:
        body[name] = "__TOKEN__"
        return json.dumps(body).replace('"__TOKEN__"', value)

    return edit


_BIG = "1" + "0" * 400  # 10**400: OverflowError when made a float (a 500 before)
_HUGE = "9" * 5001  # over Python's 4300-digit int() limit: ValueError in the JSON decoder (a 500 before)
_DEEP = "[" * 5000 + "]" * 5000  # RecursionError in the JSON decoder (a 500 before)
_LITERAL_MB = "[True, " + "(0,0)," * 170_000 + "]"  # ast.literal_eval: seconds and ~450 MB before


_JPEG = cv2.imencode(".jpg", _PHOTO)[1].tobytes()
_JPEG_SCAN = _JPEG.index(b"\xff\xda") + 12
_JPEG_CUT = (
    _JPEG[: _JPEG_SCAN + (len(_JPEG) - _JPEG_SCAN) * 3 // 10] + b"\xff\xd9"
)  # cut at 30 %, EOI re-added


_MOTION_PHOTO_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 400


def jpeg_with_exif(img: np.ndarray, orientation: int) -> bytes:
    """A JPEG of ``img`` (its stored pixels) with an EXIF orientation tag."""
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    app1 = b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 1) + entry + b"\0\0\0\0"
    data = cv2.imencode(".jpg", img)[1].tobytes()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


_UPPER_HALF = _LABELS[: _LABELS.shape[0] // 2]
_UNKNOWN = _LABELS.copy()
_UNKNOWN[:20, :20] = 200
_JPEG_MAP = cv2.imencode(".jpg", _LABELS)[1].tobytes()
_COLOUR_MAP = png(cv2.applyColorMap(_LABELS * 20, cv2.COLORMAP_JET))
_TRUNCATED = _IMAGE[: len(_IMAGE) // 2]

CASES: list[Case] = [
    # -- the request itself
    Case("invalid_json", 400, "ValidationError", "body", raw=b'{"image": "abc", '),
    Case("body_not_utf8", 400, "ValidationError", "body", raw=b'{"image": "\xd2\x97\xff\xfe"}'),
    Case("json_array_body", 400, "ValidationError", "body", raw=b"[1, 2, 3]"),
    Case("json_string_body", 400, "ValidationError", "body", raw=b'"hello"'),
    Case("empty_body", 400, "ValidationError", "body", raw=b""),
    Case("missing_image", 400, "ValidationError", "image", body=_drop("image")),
    # (a missing segmentation_map is no error: the labels are derived; an empty one is)
    Case("map_empty_string", 400, "ValidationError", "segmentation_map", body=_set(segmentation_map="")),
    Case("missing_landmarks", 400, "ValidationError", "landmarks", body=_drop("landmarks")),
    Case("image_wrong_type", 400, "ValidationError", "image", body=_set(image=12345)),
    Case("image_empty_string", 400, "ValidationError", "image", body=_set(image="")),
    Case("landmarks_wrong_type", 400, "ValidationError", "landmarks", body=_set(landmarks=42)),
    Case("options_wrong_type", 400, "ValidationError", "options", body=_set(options="big")),
    Case(
        "options_field_wrong_type",
        400,
        "ValidationError",
        "options.canvas_size",
        body=_set(options={"canvas_size": "<script>"}),
    ),
    # booleans and strings are not numbers, floats are not integers (pydantic's lax mode took them)
    Case(
        "options_face_index_true",
        400,
        "ValidationError",
        "options.face_index",
        body=_set(options={"face_index": True}),
    ),
    Case(
        "options_canvas_size_true",
        400,
        "ValidationError",
        "options.canvas_size",
        body=_set(options={"canvas_size": True}),
    ),
    Case(
        "options_canvas_size_float",
        400,
        "ValidationError",
        "options.canvas_size",
        body=_set(options={"canvas_size": 512.0}),
    ),
    Case(
        "options_stroke_width_false",
        400,
        "ValidationError",
        "options.style.stroke_width",
        body=_set(options={"style": {"stroke_width": False}}),
    ),
    Case("unknown_top_level_field", 400, "ValidationError", "image_url", body=_set(image_url="http://x/")),
    # -- the photo
    Case("image_invalid_base64", 400, "InvalidBase64", "image", body=_set(image="!!!not*base64!!!")),
    Case("image_base64_of_nothing", 400, "InvalidBase64", "image", body=_set(image="=")),
    Case(
        "image_not_an_image", 400, "UnsupportedFormat", "image", body=_set(image=b64(b"GIF89a" + b"\0" * 64))
    ),
    Case("image_truncated_png", 400, "Truncated", "image", body=_set(image=b64(_TRUNCATED))),
    Case(
        "image_png_bomb",
        400,
        "TooManyPixels",
        "image",
        body=_set(image=b64(png_header_only(100_000, 100_000))),
    ),
    Case("image_zero_size", 400, "Corrupt", "image", body=_set(image=b64(png_header_only(0, 0)))),
    Case(
        "image_header_lies",
        400,
        "Corrupt",
        "image",
        body=_set(image=b64(png_header_only(1101, 1100))),
    ),
    Case("image_jpeg_cut_with_eoi", 400, "Corrupt", "image", body=_set(image=b64(_JPEG_CUT))),
    Case(
        "image_jpeg_one_bit_flipped",
        400,
        "Corrupt",
        "image",
        body=lambda b: {**b, "image": b64(flip_decoded_with_extraneous_bytes(_JPEG))},
    ),
    Case(
        "image_exif_orientation_ambiguous",
        400,
        "AmbiguousOrientation",
        "image",
        body=_set(image=b64(jpeg_with_exif(np.full_like(_PHOTO, (90, 120, 150)), 3))),
    ),
    # -- the segmentation map
    Case("map_not_png", 400, "NotPNG", "segmentation_map", body=_set(segmentation_map=b64(_JPEG_MAP))),
    Case(
        "map_wrong_aspect",
        400,
        "AspectMismatch",
        "segmentation_map",
        body=_set(segmentation_map=b64(png(_UPPER_HALF))),
    ),
    Case(
        "map_unknown_labels",
        400,
        "UnknownLabels",
        "segmentation_map",
        body=_set(segmentation_map=b64(png(_UNKNOWN))),
    ),
    Case(
        "map_16bit_out_of_range",
        400,
        "UnknownLabels",
        "segmentation_map",
        body=_set(segmentation_map=b64(png(_LABELS.astype(np.uint16) * 257))),
    ),
    Case(
        "map_colour_coded",
        400,
        "NotLabelMap",
        "segmentation_map",
        body=_set(segmentation_map=b64(_COLOUR_MAP)),
    ),
    Case(
        "map_all_background",
        422,
        "NoFace",
        "segmentation_map",
        body=_set(segmentation_map=b64(png(np.zeros_like(_LABELS)))),
    ),
    # -- the landmarks
    Case("landmarks_0", 400, "InvalidLandmarks", "landmarks", body=_set(landmarks=[])),
    Case("landmarks_477", 400, "LandmarkCount", "landmarks", body=_points(lambda p: p[:477])),
    Case("landmarks_479", 400, "LandmarkCount", "landmarks", body=_points(lambda p: [*p, p[0]])),
    Case("landmarks_10000", 400, "LandmarkCount", "landmarks", body=_points(lambda p: (p * 21)[:10_000])),
    Case("landmarks_nan", 400, "NonFinite", "landmarks", body=_raw_landmark_value("NaN")),
    Case("landmarks_inf", 400, "NonFinite", "landmarks", body=_raw_landmark_value("-Infinity")),
    Case("landmarks_huge_number", 400, "NonFinite", "landmarks", body=_raw_landmark_value("1e999")),
    Case(
        "landmarks_string_coordinate", 400, "InvalidLandmarks", "landmarks", body=_raw_landmark_value('"1"')
    ),
    Case("landmarks_negative", 400, "InvalidLandmarks", "landmarks", body=_shifted(-5000, -5000)),
    Case("landmarks_off_the_image", 400, "InvalidLandmarks", "landmarks", body=_shifted(5000, 0)),
    Case(
        "landmarks_dimensions_mismatch",
        400,
        "AspectMismatch",
        "landmarks",
        body=_set(landmarks=with_points(_POINTS, [_DIMS[0], _DIMS[1] * 2])),
    ),
    Case(
        "landmarks_dimensions_invalid",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_set(landmarks=with_points(_POINTS, [0, -3])),
    ),
    Case(
        "landmarks_text_code",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_set(landmarks="__import__('os').system('id')"),
    ),
    Case("landmarks_nested_deeply", 400, "InvalidLandmarks", "landmarks", body=_set(landmarks="[" * 50_000)),
    # -- numbers and nesting that Python's parsers choke on (issue 14.6), a hostile literal (14.7)
    Case("landmarks_coordinate_10e400", 400, "NonFinite", "landmarks", body=_raw_landmark_value(_BIG)),
    Case("landmarks_coordinate_5001_digits", 400, "NonFinite", "landmarks", body=_raw_landmark_value(_HUGE)),
    Case("landmarks_dimensions_10e400", 400, "InvalidLandmarks", "landmarks", body=_raw_dimension(_BIG)),
    Case(
        "landmarks_dimensions_5001_digits", 400, "InvalidLandmarks", "landmarks", body=_raw_dimension(_HUGE)
    ),
    Case(
        "landmarks_body_nested_deeply",
        400,
        "ValidationError",
        "landmarks",
        body=_raw_field("landmarks", _DEEP),
    ),
    Case("options_nested_deeply", 400, "ValidationError", "options", body=_raw_field("options", _DEEP)),
    Case(
        "body_too_many_values",
        400,
        "ValidationError",
        "body",
        body=_raw_field("landmarks", "[" + "[]," * 300_000 + "[]]"),
    ),
    Case(
        "landmarks_literal_megabyte", 400, "InvalidLandmarks", "landmarks", body=_set(landmarks=_LITERAL_MB)
    ),
    Case(
        "landmarks_normalised_with_dimensions",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_points(lambda pts: [{"x": p["x"] / _DIMS[0], "y": p["y"] / _DIMS[1]} for p in pts]),
    ),
    # -- landmarks that are not a FaceMesh of this face (issue 14.3)
    Case(
        "landmarks_mirrored",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_points(lambda pts: [{"x": _DIMS[0] - 1 - p["x"], "y": p["y"]} for p in pts]),
    ),
    Case(
        "landmarks_one_point", 400, "InvalidLandmarks", "landmarks", body=_points(lambda p: [p[205]] * len(p))
    ),
    Case(
        "landmarks_on_a_line",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_points(lambda pts: [{"x": 300 + i, "y": 400 + 0.5 * i} for i in range(len(pts))]),
    ),
    Case(
        "mapless_landmarks_mirrored",  # without a map the landmarks' own checks still hold
        400,
        "InvalidLandmarks",
        "landmarks",
        body=lambda body: _drop("segmentation_map")(
            _points(lambda pts: [{"x": _DIMS[0] - 1 - p["x"], "y": p["y"]} for p in pts])(body)
        ),
    ),
    Case(
        "mapless_landmarks_outside",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=lambda body: _drop("segmentation_map")(
            _points(lambda pts: [{"x": p["x"] + 5 * _DIMS[0], "y": p["y"]} for p in pts])(body)
        ),
    ),
    Case(
        "landmarks_random_on_skin",
        400,
        "InvalidLandmarks",
        "landmarks",
        body=_points(lambda pts: _random_on_skin(len(pts))),
    ),
    # -- transport
    Case(
        "body_over_the_limit",
        413,
        "PayloadTooLarge",
        None,
        body=_set(image="A" * 6_000_000),
    ),
    Case(
        "wrong_content_type",
        415,
        "UnsupportedMediaType",
        "Content-Type",
        body=lambda b: b,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case("unknown_route", 404, "NotFound", None, raw=b"{}", path="/api/v1/submitx"),
    Case("wrong_method", 405, "MethodNotAllowed", None, method="PUT", raw=b"{}"),
    Case("get_on_submit", 405, "MethodNotAllowed", None, method="GET"),
]


@dataclass
class Recorder:
    """Every S3 put and SQS send the API made while a case ran (the handlers run in this process)."""

    puts: list[str] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    put, send = S3BlobStore.put, SqsJobQueue.send

    def recording_put(self: S3BlobStore, key: str, data: bytes, content_type: str) -> None:
        rec.puts.append(key)
        put(self, key, data, content_type)

    def recording_send(self: SqsJobQueue, message: Any) -> None:
        rec.sends.append(message.job_id)
        send(self, message)

    monkeypatch.setattr(S3BlobStore, "put", recording_put)
    monkeypatch.setattr(SqsJobQueue, "send", recording_send)
    yield rec


def _table_keys(stack: Any) -> set[str]:
    pages = (
        stack.clients["dynamodb"]
        .get_paginator("scan")
        .paginate(TableName=names.TABLE_NAME, ProjectionExpression=names.TABLE_PARTITION_KEY)
    )
    return {item[names.TABLE_PARTITION_KEY]["S"] for page in pages for item in page["Items"]}


def _request(api: httpx.Client, case: Case) -> httpx.Response:
    if case.raw is not None:
        content: bytes | None = case.raw
    elif case.body is not None:
        made = case.body(base_body())
        content = made.encode() if isinstance(made, str) else json.dumps(made).encode()
    else:
        content = None
    return api.request(case.method, case.path, content=content, headers=case.headers)


def test_the_matrix_has_at_least_25_cases_with_unique_names() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_4xx_naming_the_field_and_leaves_nothing(
    api: httpx.Client, local_stack: Any, recorder: Recorder, case: Case
) -> None:
    objects_before = keys(local_stack, "inputs/") + keys(local_stack, "results/")
    items_before = _table_keys(local_stack)

    r = _request(api, case)

    assert r.status_code == case.status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == case.code, error
    assert error.get("field") == case.field, error
    assert error["message"]  # the reason, for humans
    if case.field and case.field != "body":
        assert case.field.split(".")[0] in error["message"] or error["code"] != "ValidationError", error
    # Nothing from it anywhere: no object, no item, no message.
    assert recorder.sends == []
    assert keys(local_stack, "inputs/") + keys(local_stack, "results/") == objects_before
    assert _table_keys(local_stack) - items_before == set()


# The cases that decode and parse but fail the full validation upload their inputs while validating:
# prove the upload really happened and was removed (not merely skipped).
_UPLOADING = ["map_unknown_labels", "map_all_background", "landmarks_off_the_image", "map_wrong_aspect"]


@pytest.mark.parametrize("name", _UPLOADING)
def test_inputs_uploaded_while_validating_are_removed(
    api: httpx.Client, local_stack: Any, recorder: Recorder, name: str
) -> None:
    case = next(c for c in CASES if c.name == name)
    r = _request(api, case)
    assert r.status_code == case.status
    uploaded = [k for k in recorder.puts if k.startswith("inputs/")]
    assert len(uploaded) == 4, recorder.puts  # image, map, landmarks, options: all were written
    remaining = set(keys(local_stack, "inputs/"))
    assert not remaining & set(uploaded)


def pillow_photo(fmt: str) -> bytes:
    """The sample photo as HEIC (pillow-heif) or AVIF (Pillow) (issue 16)."""
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.fromarray(cv2.cvtColor(_PHOTO, cv2.COLOR_BGR2RGB)).save(out, fmt, quality=80)
    return out.getvalue()


# Not errors: a grey, 16-bit or palette photo (and a grey-palette or 16-bit label map in range) is
# normalised by the decoder and renders like the original.
_GREY = cv2.cvtColor(_PHOTO, cv2.COLOR_BGR2GRAY)
ACCEPTED = {
    "photo_grey": {"image": b64(png(_GREY))},
    "photo_16bit": {"image": b64(png(_PHOTO.astype(np.uint16) * 257))},
    "photo_palette_and_map_16bit": {
        "image": b64(palette_png(_GREY, colours=False)),
        "segmentation_map": b64(png(_LABELS.astype(np.uint16))),
    },
    "map_grey_palette": {"segmentation_map": b64(palette_png(_LABELS, colours=False))},
    # a palette PNG with a colour palette is read by index (issue 16)
    "map_colour_palette": {"segmentation_map": b64(palette_png(_LABELS, colours=True))},
    # EXIF orientation 6, the map and landmarks computed on the stored pixels: turned with the photo (14.4)
    "photo_exif_6_labels_on_stored_pixels": {"image": b64(jpeg_with_exif(_PHOTO, 6))},
    # phone files: bytes after the end of the image are ignored (issue 14.8)
    "photo_jpeg_motion_photo": {"image": b64(_JPEG + _MOTION_PHOTO_MP4)},
    "photo_png_bytes_after_iend": {"image": b64(_IMAGE + _MOTION_PHOTO_MP4)},
    # what phones and browsers produce (issue 16)
    "photo_webp": {"image": b64(cv2.imencode(".webp", _PHOTO)[1].tobytes())},
    "photo_heic": {"image": b64(pillow_photo("HEIF"))},
    "photo_avif": {"image": b64(pillow_photo("AVIF"))},
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_unusual_but_valid_encodings_are_accepted_and_render(api: httpx.Client, name: str) -> None:
    body = {**base_body(), **ACCEPTED[name]}
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202, r.text[:500]
    assert wait_finished(api, r.json()["id"], timeout=60)["status"] == "completed"


def test_exif_rotated_photo_with_stored_frame_labels_is_uprighted_from_the_displayed_photo(
    api: httpx.Client,
) -> None:
    # Given the sample, and the same photo stored with EXIF orientation 6 (shown turned 90 degrees
    # clockwise) whose map and landmarks were computed on the stored pixels (issue 14.4)
    def rotation(body: dict[str, Any]) -> float:
        r = api.post(submit_url(), json=body)
        assert r.status_code == 202, r.text[:500]
        done = wait_finished(api, r.json()["id"], timeout=60)
        assert done["status"] == "completed", done
        t = done["transform"]  # pixels of the photo as displayed -> canvas
        return float(np.degrees(np.arctan2(t[1][0], t[0][0])))

    plain = rotation(base_body())
    turned = rotation({**base_body(), "image": b64(jpeg_with_exif(_PHOTO, 6))})
    # Then the render turned the displayed photo a quarter turn back: the contours stay on the face
    # (before, the transform was the sample's and the photo lay on its side under upright contours)
    assert abs(abs((turned - plain + 180) % 360 - 180) - 90) < 2


# LaPa -> face-parsing.PyTorch (by class name): the sample's map as a 19-class map (issue 16).
_LAPA_TO_FACEPARSING19 = np.array([0, 1, 2, 3, 4, 5, 10, 12, 11, 13, 17], np.uint8)


def test_a_map_in_another_scheme_is_refused_naming_it_and_renders_when_declared(api: httpx.Client) -> None:
    fp19 = b64(png(_LAPA_TO_FACEPARSING19[_LABELS]))
    r = api.post(submit_url(), json={**base_body(), "segmentation_map": fp19})
    assert r.status_code == 400, r.text[:500]
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("UnknownLabels", "segmentation_map")
    assert error["likely_schemes"][0] == "faceparsing19"
    assert "faceparsing19" in error["message"]

    body = {**base_body(), "segmentation_map": fp19}
    body["options"]["label_scheme"] = "faceparsing19"
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202, r.text[:500]
    assert wait_finished(api, r.json()["id"], timeout=60)["status"] == "completed"


@pytest.mark.parametrize("declared", ["celebamask-hq", "faceparsing19", "facer-celebm"])
def test_a_lapa_map_declared_as_another_scheme_is_refused_naming_the_scheme(
    api: httpx.Client, recorder: Recorder, declared: str
) -> None:
    # Given the sample's LaPa map (0..10: it fits every scheme) declared as a 19-class scheme
    body = base_body()
    body["options"]["label_scheme"] = declared
    r = api.post(submit_url(), json=body)
    # Then the answer blames the scheme, not the landmarks (the nose read as glasses or ears) or NoFace
    assert r.status_code == 400, r.text[:500]
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("LabelSchemeMismatch", "options.label_scheme"), error
    assert error["likely_schemes"][0] == "lapa"
    assert declared in error["message"] and "'lapa'" in error["message"]
    assert recorder.sends == []
