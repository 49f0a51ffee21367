"""check_inputs: what a request is accepted on. Same errors as load_inputs, but a PNG photo is
checked by its structure (chunk CRCs, data size) and its pixels are left to the renderer."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from core_helpers import png, png_from_chunks
from facesvg.core import inputs, photo_decoding
from facesvg.core.errors import InputError, NoFace
from facesvg.core.image_headers import png_chunk_types
from facesvg.core.inputs import check_inputs, load_inputs


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Shapes of every image OpenCV decodes during the test."""
    seen: list[tuple[int, ...]] = []
    real = cv2.imdecode

    def spy(buf: Any, flags: int) -> Any:
        out = real(buf, flags)
        seen.append(tuple(out.shape) if out is not None else ())
        return out

    monkeypatch.setattr(photo_decoding.cv2, "imdecode", spy)
    return seen


def test_the_sample_is_accepted_without_decoding_the_photo(
    sample_bytes: dict[str, bytes], decodes: list[tuple[int, ...]]
) -> None:
    check_inputs(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert decodes == [(1023, 1024)]  # the label map only


def test_a_jpeg_photo_is_decoded_to_be_checked(
    sample_bytes: dict[str, bytes], sample_inputs: inputs.FaceInputs, decodes: list[tuple[int, ...]]
) -> None:
    jpeg = cv2.imencode(".jpg", sample_inputs.image)[1].tobytes()
    check_inputs(jpeg, sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert (1100, 1101, 3) in decodes


def test_a_png_with_exif_is_decoded_as_its_orientation_may_swap_the_size(
    sample_bytes: dict[str, bytes], decodes: list[tuple[int, ...]]
) -> None:
    chunks = _chunks(sample_bytes["image"])
    exif = b"MM\x00*\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"  # an empty big-endian TIFF directory
    with_exif = png_from_chunks([chunks[0], (b"eXIf", exif), *chunks[1:]])
    check_inputs(with_exif, sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert (1100, 1101, 3) in decodes


def test_a_damaged_byte_anywhere_in_the_pixel_data_is_rejected(sample_bytes: dict[str, bytes]) -> None:
    data = bytearray(sample_bytes["image"])
    data[len(data) // 2] ^= 0x40
    with pytest.raises(InputError) as exc:
        check_inputs(bytes(data), sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert (exc.value.field, exc.value.code) == ("image", "Corrupt")
    assert "CRC" in exc.value.message


@pytest.mark.parametrize("cut", [40, 5000, 0.5, -13, -1])
def test_a_truncated_png_is_rejected(sample_bytes: dict[str, bytes], cut: float) -> None:
    data = sample_bytes["image"]
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    with pytest.raises(InputError) as exc:
        check_inputs(data[:end], sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert (exc.value.field, exc.value.code) == ("image", "Truncated")


def test_a_header_promising_more_pixels_than_its_data_can_hold_is_rejected(
    sample_bytes: dict[str, bytes],
) -> None:
    ihdr = struct.pack(">IIBBBBB", 1101, 1100, 8, 6, 0, 0, 0)
    lie = png_from_chunks([(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\0" * 4096)), (b"IEND", b"")])
    with pytest.raises(InputError) as exc:
        check_inputs(lie, sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert (exc.value.field, exc.value.code) == ("image", "Corrupt")


def test_chunks_out_of_order_or_without_data_are_rejected(sample_bytes: dict[str, bytes]) -> None:
    chunks = _chunks(sample_bytes["image"])
    no_data = [c for c in chunks if c[0] != b"IDAT"]
    for broken in (no_data, chunks[1:], chunks[:-1]):  # no pixel data, no IHDR first, no IEND
        with pytest.raises(InputError) as exc:
            png_chunk_types(png_from_chunks(broken), "image")
        assert exc.value.code == "Corrupt"
    with_text = png_from_chunks([*chunks[:-1], (b"tEXt", b"a\0b"), chunks[-1]])  # extra chunks are fine
    assert png_chunk_types(with_text, "image")[-2:] == [b"tEXt", b"IEND"]


def _label_map_without_skin(segmentation: bytes) -> bytes:
    labels = cv2.imdecode(np.frombuffer(segmentation, np.uint8), cv2.IMREAD_UNCHANGED)
    return png(np.where(labels == 1, 0, labels).astype(np.uint8))


@pytest.mark.parametrize(
    "case",
    ["landmarks_garbage", "too_few_landmarks", "map_is_jpeg", "map_unknown_labels", "no_face", "image_gif"],
)
def test_every_other_problem_is_reported_as_load_inputs_reports_it(
    case: str, sample_bytes: dict[str, bytes]
) -> None:
    image, seg, lm = sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"]
    if case == "landmarks_garbage":
        lm = b"{not landmarks"
    elif case == "too_few_landmarks":
        lm = b"[[1, 2], [3, 4]]"
    elif case == "map_is_jpeg":
        seg = cv2.imencode(".jpg", cv2.imdecode(np.frombuffer(seg, np.uint8), cv2.IMREAD_UNCHANGED))[
            1
        ].tobytes()
    elif case == "map_unknown_labels":
        seg = png(np.full((1023, 1024), 42, np.uint8))
    elif case == "no_face":
        seg = _label_map_without_skin(seg)
    else:
        image = b"GIF89a" + b"\0" * 64
    errors = []
    for check in (check_inputs, load_inputs):
        with pytest.raises(InputError) as exc:
            check(image, seg, lm)
        errors.append((type(exc.value), exc.value.field, exc.value.code))
    assert errors[0] == errors[1]
    if case == "no_face":
        assert errors[0][0] is NoFace
