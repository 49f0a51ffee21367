"""Issue 16.3: WebP, HEIC/HEIF and AVIF photos, made here from the sample with the decoders' own
encoders (OpenCV for WebP, Pillow for AVIF, pillow-heif for HEIC); header checks and bombs."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from facesvg.core import inputs, photo_decoding
from facesvg.core.errors import InputError
from facesvg.core.image_format import sniff_format
from facesvg.core.image_headers import image_header
from facesvg.core.inputs import check_inputs, load_inputs
from facesvg.core.options import Limits
from facesvg.core.photo_decoding import decode_image

PIL = pytest.importorskip("PIL.Image")
pillow_heif = pytest.importorskip("pillow_heif")


def _pillow(img: np.ndarray, fmt: str, **kw: object) -> bytes:
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
    out = io.BytesIO()
    PIL.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).save(out, fmt, **kw)
    return out.getvalue()


ENCODERS: dict[str, Callable[[np.ndarray], bytes]] = {
    "webp": lambda img: cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 90])[1].tobytes(),
    "webp-lossless": lambda img: cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes(),
    "heif": lambda img: _pillow(img, "HEIF", quality=85),
    "avif": lambda img: _pillow(img, "AVIF", quality=85),
}


@pytest.fixture(scope="module")
def photo(sample_bytes: dict[str, bytes]) -> np.ndarray:
    return decode_image(sample_bytes["image"])


@pytest.fixture(scope="module")
def encoded(photo: np.ndarray) -> dict[str, bytes]:
    return {name: enc(photo) for name, enc in ENCODERS.items()}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_each_format_decodes_to_the_photo_and_renders(
    sample_bytes: dict[str, bytes], photo: np.ndarray, encoded: dict[str, bytes], name: str
) -> None:
    data = encoded[name]
    fmt, width, height = image_header(data, "image")
    assert fmt == name.split("-")[0]
    assert (width - photo.shape[1]) in (0, 1) and height == photo.shape[0]  # HEVC codes an even width
    got = decode_image(data)
    assert got.shape == photo.shape
    assert float(np.abs(got.astype(int) - photo).mean()) < 3.0
    check_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    face = load_inputs(data, sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert face.image.shape == photo.shape


def test_sniffing_names_each_format_as_its_header_does(
    sample_bytes: dict[str, bytes], photo: np.ndarray, encoded: dict[str, bytes]
) -> None:
    files = {**encoded, "png": sample_bytes["image"], "jpeg": cv2.imencode(".jpg", photo)[1].tobytes()}
    for name, data in files.items():
        assert sniff_format(data) == image_header(data, "image")[0] == name.split("-")[0], name
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64)
    for other in (mp4, b"GIF89a" + bytes(64), b"", b"\x89PN"):
        assert sniff_format(other) is None, other[:12]


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heif_and_avif_rotation_is_applied(photo: np.ndarray, fmt: str) -> None:
    crop = photo[:, :700]
    exif = PIL.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: written as the container's irot
    data = _pillow(crop, fmt, quality=85, exif=exif.tobytes())
    assert image_header(data, "image")[1:] == (crop.shape[0], crop.shape[1])  # turned by irot
    got = decode_image(data)
    want = cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE)
    assert got.shape == want.shape and float(np.abs(got.astype(int) - want).mean()) < 3.0


def test_an_animated_webp_is_refused() -> None:
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0]) + (99).to_bytes(3, "little") * 2
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    with pytest.raises(InputError) as exc:
        image_header(data, "image")
    assert exc.value.code == "UnsupportedFormat"


def _webp_bomb(data: bytes) -> bytes:
    """The lossy WebP's frame header says 16383 x 16383 (268 MP) over the same few kB."""
    assert data[12:16] == b"VP8 "
    return data[:26] + struct.pack("<HH", 16383, 16383) + data[30:]


def _webp_lossless_bomb(data: bytes) -> bytes:
    assert data[12:16] == b"VP8L"
    bits = struct.unpack("<I", data[21:25])[0]
    bits = (bits & ~0x0FFFFFFF) | 16382 | (16382 << 14)
    return data[:21] + struct.pack("<I", bits) + data[25:]


def _ispe_bomb(data: bytes) -> bytes:
    """Every ``ispe`` (the image sizes in the header) says 20000 x 20000."""
    out = bytearray(data)
    pos = out.find(b"ispe")
    assert pos > 0
    while pos > 0:
        out[pos + 8 : pos + 16] = struct.pack(">II", 20_000, 20_000)
        pos = out.find(b"ispe", pos + 4)
    return bytes(out)


BOMBS = {"webp": _webp_bomb, "webp-lossless": _webp_lossless_bomb, "heif": _ispe_bomb, "avif": _ispe_bomb}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_in_each_format_is_refused_by_its_header(
    encoded: dict[str, bytes], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing is decoded: a decoder call would fail the test
    monkeypatch.setattr(photo_decoding, "_decode_with_pillow", lambda *a: pytest.fail("decoded"))
    monkeypatch.setattr(photo_decoding.cv2, "imdecode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(InputError) as exc:
        decode_image(BOMBS[name](encoded[name]))
    assert (exc.value.field, exc.value.code) == ("image", "TooManyPixels")


@pytest.mark.parametrize("name", ["heif", "avif"])
def test_a_header_that_understates_the_image_never_yields_more_pixels(
    encoded: dict[str, bytes], name: str
) -> None:
    # libheif refuses it (Corrupt); libavif decodes it at the header's size: never more than checked.
    data = bytearray(encoded[name])
    pos = data.find(b"ispe")
    data[pos + 8 : pos + 16] = struct.pack(">II", 64, 64)
    try:
        got = decode_image(bytes(data))
    except InputError as exc:
        assert exc.code == "Corrupt"
    else:
        assert name == "avif" and got.shape[0] * got.shape[1] <= 64 * 64


@pytest.mark.parametrize("name", list(ENCODERS))
def test_a_truncated_file_is_refused(encoded: dict[str, bytes], name: str) -> None:
    with pytest.raises(InputError) as exc:
        decode_image(encoded[name][: len(encoded[name]) // 2])
    assert exc.value.code in ("Truncated", "Corrupt")


def test_the_limits_apply_to_each_format(encoded: dict[str, bytes]) -> None:
    for data in encoded.values():
        with pytest.raises(InputError) as exc:
            decode_image(data, Limits(max_pixels=1_000_000))
        assert exc.value.code == "TooManyPixels"


@pytest.mark.parametrize("name", ["heif", "avif"])
def test_without_pillow_heif_and_avif_are_checked_by_their_header(
    sample_bytes: dict[str, bytes], encoded: dict[str, bytes], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The zip functions' layer has no Pillow: submit accepts by the header, only the process image decodes.
    monkeypatch.setattr(photo_decoding, "pillow_available", lambda fmt: False)
    check_inputs(encoded[name], sample_bytes["segmentation"], sample_bytes["landmarks"])
    with pytest.raises(InputError) as exc:
        check_inputs(_ispe_bomb(encoded[name]), sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert exc.value.code == "TooManyPixels"


def test_pillow_is_imported_only_for_heif_and_avif() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from facesvg.core.pipeline import render; from pathlib import Path; "
        "d = Path('samples/qoves'); render((d / 'original_image.png').read_bytes(), "
        "(d / 'segmentation_map.png').read_bytes(), (d / 'landmarks.txt').read_bytes()); "
        "print('PIL' in sys.modules, 'pillow_heif' in sys.modules)"
    )
    root = inputs.__file__.rsplit("/layers/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
