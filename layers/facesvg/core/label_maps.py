"""Segmentation maps: a label PNG -> ``(h, w)`` uint8 labels, and fitted to the photo's size.

The values are read as stored (grey levels, or a colour palette's indices) in the map's scheme
(``core.label_schemes``), then mapped onto the core labels (``core.labels``).
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

from facesvg.core.errors import InputError
from facesvg.core.image_format import PNG_SIGNATURE
from facesvg.core.image_headers import check_image_size, png_chunk_types
from facesvg.core.label_schemes import DEFAULT_SCHEME, SCHEMES, likely_schemes
from facesvg.core.options import DEFAULT_LIMITS, Limits

ASPECT_TOLERANCE = 0.02  # a map (or the landmarks' dimensions) may differ this much from the photo


# Ancillary chunks that could make a decoder change the palette's colours (they describe colour).
_COLOUR_CHUNKS = frozenset({b"tRNS", b"gAMA", b"iCCP", b"sRGB", b"cHRM", b"sBIT"})


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def _palette_as_indices(data: bytes) -> bytes | None:
    """A palette PNG (colour type 3) whose palette has colours, rewritten so its palette is the grey
    ramp (entry i = (i, i, i)): decoded, its pixels are the indices (OpenCV expands palettes to
    colours). ``None`` for any other PNG, and for a grey palette, whose greys are the values (what
    every viewer shows, and what such a map was read as before). The chunks were walked (lengths,
    CRCs, the IDAT bound) by ``png_chunk_types`` already; the pixel data is not touched.
    """
    depth, colour = data[24], data[25]
    if colour != 3:
        return None
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind == b"PLTE":
            palette = np.frombuffer(data[pos + 8 : pos + 8 + length - length % 3], np.uint8).reshape(-1, 3)
            if (palette == palette[:, :1]).all():
                return None
            ramp = np.repeat(np.arange(1 << min(depth, 8), dtype=np.uint8), 3)
            out.append(_png_chunk(b"PLTE", ramp.tobytes()))
        elif kind not in _COLOUR_CHUNKS:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def decode_labels(data: bytes, limits: Limits = DEFAULT_LIMITS, scheme: str = DEFAULT_SCHEME) -> np.ndarray:
    """Label PNG in ``scheme`` -> ``(h, w)`` uint8 core labels (``core.labels``)."""
    return SCHEMES[scheme].to_core(decode_raw_labels(data, limits, scheme))


def decode_raw_labels(
    data: bytes, limits: Limits = DEFAULT_LIMITS, scheme: str = DEFAULT_SCHEME
) -> np.ndarray:
    """Label PNG -> ``(h, w)`` uint8 values as stored, each within ``scheme``.

    The values are the grey levels of a grey (or grey-as-RGB, or grey-palette) PNG, or the indices
    of a palette PNG with a colour palette; they must fit the scheme (``UnknownLabels`` naming the
    schemes they would fit, likeliest first, otherwise).
    """
    fmt, width, height = check_image_size("segmentation_map", data, limits)
    if fmt != "png":
        raise InputError("segmentation_map", "must be a PNG (JPEG would corrupt the labels)", "NotPNG")
    data = bytes(data)
    if data[25] == 3:  # palette: walk the chunks first (the IDAT bound holds for the rewrite too)
        png_chunk_types(data, "segmentation_map")
        data = _palette_as_indices(data) or data
    lab = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if lab is None or lab.shape[0] != height or lab.shape[1] != width:
        raise InputError("segmentation_map", "cannot decode the PNG (corrupt or truncated)", "Corrupt")
    if lab.ndim == 3:
        # A grey map saved as RGB(A) is fine; a colour-coded map is not a label map.
        colour = lab[:, :, :3]
        if not (
            np.array_equal(colour[:, :, 0], colour[:, :, 1])
            and np.array_equal(colour[:, :, 0], colour[:, :, 2])
        ):
            raise InputError("segmentation_map", "expected single-channel labels, got colours", "NotLabelMap")
        lab = np.ascontiguousarray(colour[:, :, 0])
    top = int(lab.max())
    sch = SCHEMES[scheme]
    if top >= sch.size:
        values = np.unique(lab[lab >= sch.size])[:5].tolist()
        likely = likely_schemes(top, lab)
        hint = f"; its values fit label_scheme {', '.join(likely)}" if likely else ""
        raise InputError(
            "segmentation_map",
            f"unknown label values {values} (label_scheme {scheme!r} uses 0..{sch.size - 1}){hint}",
            "UnknownLabels",
            {"likely_schemes": likely},
        )
    out: np.ndarray = lab.astype(np.uint8, copy=False)
    return out


def fit_labels(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a label map to the image (NEAREST, pixel-centre aligned); aspect must agree within 2%."""
    h, w = labels.shape
    if not fits_aspect((w, h), width, height):
        raise InputError(
            "segmentation_map",
            f"aspect ratio of {w}x{h} differs from the image {width}x{height}",
            "AspectMismatch",
        )
    if (w, h) == (width, height):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)


def label_map_to_image(label_map: np.ndarray, image: np.ndarray) -> np.ndarray:
    """2x3: pixel ``(x, y)`` of a label map -> the same spot on ``image`` (pixel centres aligned)."""
    (mh, mw), (h, w) = label_map.shape[:2], image.shape[:2]
    sx, sy = w / mw, h / mh
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


def fits_aspect(size: tuple[int, int], width: int, height: int) -> bool:
    """Does ``(width, height)`` have the aspect of ``size`` (within ``ASPECT_TOLERANCE``)?"""
    return abs((size[0] / size[1]) / (width / height) - 1.0) <= ASPECT_TOLERANCE
