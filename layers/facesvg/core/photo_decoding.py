"""Photo bytes -> ``(H, W, 3)`` uint8 BGR pixels, once the header was checked (``image_headers``).

PNG, JPEG and WebP decode with OpenCV; HEIC/HEIF and AVIF with Pillow (+ pillow-heif), imported
only when such a photo arrives (the optional ``photos`` extra: the process image has it, the zip
functions' layer does not, and accepts those photos by their header there).
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from facesvg.core import jpeg
from facesvg.core import orientation as orientation_
from facesvg.core.errors import InputError
from facesvg.core.image_format import JPEG_SIGNATURE, PNG_SIGNATURE, is_iso_media
from facesvg.core.image_headers import check_image_size, image_header
from facesvg.core.options import DEFAULT_LIMITS, Limits


def decode_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Photo bytes -> ``(H, W, 3)`` uint8 BGR as displayed (EXIF orientation applied); alpha
    dropped, grey expanded, 16-bit reduced."""
    _, width, height = check_image_size("image", data, limits)
    stored, orientation = decode_stored(data, width, height)
    return orientation_.orient_array(stored, orientation) if orientation != 1 else stored


def _png_orientation(data: bytes) -> int:
    """The EXIF orientation of a PNG's eXIf chunk (1 when none): walks the chunk headers only."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"eXIf":
            return jpeg.exif_orientation(data[pos + 8 : pos + 8 + length])
        if kind in (b"IDAT", b"IEND"):  # eXIf must precede the image data
            return 1
        pos += 12 + length
    return 1


def decode_stored(data: bytes, width: int, height: int) -> tuple[np.ndarray, int]:
    """The stored pixels (EXIF orientation *not* applied) and the EXIF orientation (1..8).

    IMREAD_COLOR does the normalisation inside the decoder: alpha stripped, grey expanded, 16 bits
    reduced to 8. The orientation is applied by the caller, once it knows which frame the label map
    and landmarks were computed on (``orientation``).
    """
    if is_iso_media(data):
        return _decode_with_pillow(data, width, height), 1
    info = jpeg.jpeg_info(data, "image") if data.startswith(JPEG_SIGNATURE) else None
    if info is not None:
        jpeg.check_restart_markers(data, info, "image")
        jpeg.check_scan_data(data, info, "image")
    if info is not None:
        orientation = info.orientation
    else:  # a WebP's EXIF orientation is not applied (as libwebp and most viewers do not)
        orientation = _png_orientation(data) if data.startswith(PNG_SIGNATURE) else 1
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None or img.shape[:2] != (height, width):
        raise InputError("image", "cannot decode the image (corrupt or truncated)", "Corrupt")
    if info is not None and jpeg.ends_in_grey_fill(img, info.mcu_size):
        # libjpeg only warns when the scan data ends early or is damaged, and returns grey for the rest
        raise InputError("image", "corrupt JPEG (scan data ends early or is damaged: grey fill)", "Corrupt")
    return img, orientation


_PILLOW_OPENERS: list[str] = []  # the HEIF opener is registered once, on the first HEIF photo


def _decode_with_pillow(data: bytes, width: int, height: int) -> np.ndarray:
    """A HEIF or AVIF photo, as displayed (``irot``/``imir`` and EXIF orientation applied), in BGR.

    Pillow (and pillow-heif for HEIF) are imported here, on the first such photo only. The size in
    the header was checked against the limits already; the decoder's own size must agree with it
    before any pixel is decoded (``Image.open`` reads the header only).
    """
    try:
        from PIL import Image, ImageOps
    except ImportError:  # the zip functions' layer: it accepts these photos by their header only
        raise InputError(
            "image", "HEIF/AVIF photos are not supported here (no decoder)", "UnsupportedFormat"
        ) from None
    import io
    import warnings

    if image_header(data, "image")[0] == "heif" and "heif" not in _PILLOW_OPENERS:
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            raise InputError(
                "image", "HEIF photos are not supported here (no decoder)", "UnsupportedFormat"
            ) from None
        register_heif_opener(thumbnails=False)
        _PILLOW_OPENERS.append("heif")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            if opened.width * opened.height > width * height:
                raise InputError(
                    "image", f"{opened.width}x{opened.height} is larger than its header says", "Corrupt"
                )
            opened.load()
            rgb = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
    except InputError:
        raise
    except Exception as exc:  # Pillow/libheif raise many kinds: all of them mean a bad file here
        raise InputError(
            "image", f"cannot decode the image ({type(exc).__name__}: {exc})", "Corrupt"
        ) from None
    h, w = rgb.shape[:2]
    # ``ispe`` is the coded size: a clean aperture (``clap``) may crop a few pixels off it.
    if rgb.ndim != 3 or not ((w <= width and h <= height) or (w <= height and h <= width)):
        raise InputError("image", "cannot decode the image (larger than its header says)", "Corrupt")
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def pillow_available(fmt: str) -> bool:
    """Can this process decode ``fmt`` (``heif``/``avif``)? Looked up, not imported."""
    import importlib.util

    needed = ("PIL", "pillow_heif") if fmt == "heif" else ("PIL",)
    return all(importlib.util.find_spec(name) is not None for name in needed)
