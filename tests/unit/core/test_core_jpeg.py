"""Photo files as phones write them (trailers after the image) and JPEGs whose scan data is cut or
damaged (decoders only warn and fill with grey): issue 14, items 5 and 8."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from core_helpers import png_chunk
from facesvg.core.errors import InputError
from facesvg.core.image_headers import image_header
from facesvg.core.inputs import FaceInputs, check_inputs, load_inputs
from facesvg.core.photo_decoding import decode_image
from jpeg_damage import opencv_warnings, scan_start, single_bit_flips


@pytest.fixture(scope="module")
def photo(sample_inputs: FaceInputs) -> np.ndarray:
    return sample_inputs.image


def _jpeg(img: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, list(params))
    assert ok
    return buf.tobytes()


def _cut(data: bytes, fraction: float) -> bytes:
    """The scan cut at ``fraction`` and an end-of-image marker added (what a broken upload gives)."""
    s = scan_start(data)
    return data[: s + int((len(data) - s) * fraction)] + b"\xff\xd9"


def _bit_errors(data: bytes, count: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    s = scan_start(data)
    for i in rng.integers(s + 16, len(data) - 2, count):
        out[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 400 + b"\xff\xd9\xff\xd8junk"
_SAMSUNG = b"\x00\x00SEFH" + b"\x01" * 3000 + b"SEFT"


# ----------------------------------------------------------------------------------- trailers (8)


@pytest.mark.parametrize("trailer", [_MP4, _SAMSUNG], ids=["motion_photo_mp4", "samsung_trailer"])
def test_a_jpeg_with_bytes_after_its_end_marker_is_accepted(
    sample_bytes: dict[str, bytes], photo: np.ndarray, trailer: bytes
) -> None:
    plain = _jpeg(photo, cv2.IMWRITE_JPEG_QUALITY, 92)
    data = plain + trailer
    assert image_header(data, "image")[1:] == image_header(plain, "image")[1:]
    np.testing.assert_array_equal(decode_image(data), decode_image(plain))
    check_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    load_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])


def test_a_png_with_bytes_after_iend_is_accepted(sample_bytes: dict[str, bytes]) -> None:
    data = sample_bytes["image"] + _MP4
    np.testing.assert_array_equal(decode_image(data), decode_image(sample_bytes["image"]))
    check_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    load_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    # ... also when the trailer looks like more chunks
    chunky = sample_bytes["image"] + png_chunk(b"tEXt", b"k\0v") * 3
    check_inputs(chunky, sample_bytes["segmentation"], sample_bytes["landmarks"])


def test_a_jpeg_without_any_end_marker_is_still_truncated(photo: np.ndarray) -> None:
    data = _jpeg(photo)
    with pytest.raises(InputError) as exc:
        decode_image(data[: len(data) // 2])
    assert exc.value.code == "Truncated"


# -------------------------------------------------------------------------- corrupt scan data (5)


@pytest.mark.parametrize("fraction", [0.3, 0.9])
@pytest.mark.parametrize("restart", [0, 4], ids=["no_restart_markers", "restart_markers"])
def test_a_jpeg_cut_short_with_an_end_marker_re_added_is_corrupt(
    sample_bytes: dict[str, bytes], photo: np.ndarray, fraction: float, restart: int
) -> None:
    data = _cut(_jpeg(photo, cv2.IMWRITE_JPEG_RST_INTERVAL, restart), fraction)
    for attempt in (
        lambda: decode_image(data),
        lambda: check_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"]),
    ):
        with pytest.raises(InputError) as exc:
            attempt()
        assert (exc.value.field, exc.value.code) == ("image", "Corrupt")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_jpeg_whose_bit_errors_leave_a_grey_fill_is_corrupt(photo: np.ndarray, seed: int) -> None:
    with pytest.raises(InputError) as exc:
        decode_image(_bit_errors(_jpeg(photo), 200, seed))
    assert exc.value.code == "Corrupt"


@pytest.mark.parametrize(
    "params",
    [
        (),
        (cv2.IMWRITE_JPEG_RST_INTERVAL, 1),
        (cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
        (cv2.IMWRITE_JPEG_QUALITY, 40),
    ],
)
def test_intact_jpegs_are_not_corrupt(photo: np.ndarray, params: tuple[int, ...]) -> None:
    decode_image(_jpeg(photo, *params))
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    decode_image(_jpeg(grey, *params))
    # a photo whose bottom is a flat colour is fine, also the decoder's mid-grey: a letterbox bar,
    # and the corners of a photo rotated onto a 128-grey canvas (as ../shared/faces has one)
    for value in ((120, 130, 140), (128, 128, 128)):
        padded = cv2.copyMakeBorder(photo, 0, 64, 0, 0, cv2.BORDER_CONSTANT, value=value)
        decode_image(_jpeg(padded, *params))
    h, w = photo.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 22, 1.0)
    rotated = cv2.warpAffine(photo, turn, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))
    decode_image(_jpeg(rotated, *params))
    decode_image(
        _jpeg(cv2.copyMakeBorder(rotated, 0, 40, 0, 0, cv2.BORDER_CONSTANT, value=(128, 128, 128)), *params)
    )


# ---------------------------------------------------- damage the decoder recovers from, with a warning


@pytest.mark.parametrize("restart", [0, 8], ids=["no_restart_markers", "restart_markers"])
def test_a_single_bit_error_libjpeg_warns_about_is_corrupt(
    sample_bytes: dict[str, bytes], photo: np.ndarray, restart: int
) -> None:
    # Given the sample as a JPEG, and 60 copies each with one flipped bit in its scan data
    clean = _jpeg(photo, cv2.IMWRITE_JPEG_RST_INTERVAL, restart)
    flipped = single_bit_flips(clean, 60)
    warnings = opencv_warnings([clean, *flipped])
    assert warnings[0] == ""  # the clean file decodes silently
    warned = [f for f, w in zip(flipped, warnings[1:], strict=True) if "Corrupt JPEG data" in w]
    assert len(warned) >= 3, warnings  # the seeded flips include real cases
    assert any("extraneous bytes" in w for w in warnings)  # finished early: no grey fill to see
    # Then every one that OpenCV decodes with libjpeg's "Corrupt JPEG data" warning is refused, at
    # submit (check_inputs) and in the worker (its load_inputs decodes as decode_image does); the
    # clean file renders
    for data in warned:
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV's picture
        for attempt in (
            decode_image,
            lambda d: check_inputs(d, sample_bytes["segmentation"], sample_bytes["landmarks"]),
        ):
            with pytest.raises(InputError) as exc:
                attempt(data)
            assert (exc.value.field, exc.value.code) == ("image", "Corrupt")
            assert "damaged scan data" in exc.value.message or "grey fill" in exc.value.message
    load_inputs(clean, sample_bytes["segmentation"], sample_bytes["landmarks"])
