"""Decode and validate the three inputs into typed arrays; every problem is one ``InputError``.

Shapes: image ``(H, W, 3)`` uint8 BGR, labels ``(H, W)`` uint8 (core labels, ``core.labels``: a
map in any ``core.label_schemes`` scheme is mapped onto them), landmarks ``(N, 2)`` float64
``(x, y)`` in image pixels. Header sizes are checked before any pixel is decoded.

Photos: PNG, JPEG and WebP decode with OpenCV; HEIC/HEIF and AVIF with Pillow (+ pillow-heif),
imported only when such a photo arrives (the optional ``photos`` extra: the process image has it,
the zip functions' layer does not, and accepts those photos by their header there).
"""

from __future__ import annotations

import math
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facesvg.core import documents, jpeg
from facesvg.core import orientation as orientation_
from facesvg.core.errors import Field, InputError, NoFace
from facesvg.core.face_plausibility import check_features_on_labels, check_mesh_shape
from facesvg.core.label_schemes import DEFAULT_SCHEME, SCHEMES, better_schemes, likely_schemes
from facesvg.core.landmarks_topology import N_MESH, N_WITH_IRIS
from facesvg.core.options import Limits

N_LABELS = 11  # LaPa: 0 background .. 10 hair
FACE_LABELS = tuple(range(1, 10))  # skin and facial features (not hair, not background)
SKIN = 1
ASPECT_TOLERANCE = 0.02
NORMALISED_MAX = 2.0  # coordinates all within this are normalised (no face spans two pixels)
MAX_DIMENSION = 1_000_000  # px; any real photo is far smaller
MAX_OUTSIDE_FRACTION = 0.5  # more landmarks than this outside the image: wrong image or wrong points
MIN_ON_FACE_FRACTION = 0.5  # fewer landmarks than this on face labels: NoFace

DEFAULT_LIMITS = Limits()

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# ISO BMFF brands (the ``ftyp`` box) of still images: AVIF, and HEIF/HEIC (HEVC).
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
PILLOW_FORMATS = ("heif", "avif")  # decoded by Pillow (lazily imported), not OpenCV
_IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, and its (fixed) CRC


@dataclass(frozen=True)
class Landmarks:
    points: np.ndarray  # (N, 2) float64, N in {468, 478}
    dimensions: tuple[int, int] | None  # (width, height) the points refer to, when the document says

    @property
    def normalised(self) -> bool:
        """MediaPipe's 0..1 output (scaled to the photo later): keep ~6 more decimals than pixels."""
        return self.dimensions is None and bool(np.abs(self.points).max() <= NORMALISED_MAX)


# What callers may pass as landmarks: the JSON/literal text, parsed JSON, or already-parsed points.
LandmarkSource = str | bytes | list[Any] | dict[str, Any] | Landmarks


CLIENT, LANDMARKS = "client", "landmarks"  # where the label map came from (``FaceInputs.labels_source``)


@dataclass(frozen=True)
class FaceInputs:
    image: np.ndarray  # (H, W, 3) uint8 BGR
    labels: np.ndarray  # (H, W) uint8 LaPa labels at the image's size
    landmarks: np.ndarray  # (N, 2) float64, image pixels
    labels_source: str = CLIENT  # CLIENT: the map sent; LANDMARKS: derived (``core.derived_labels``)
    # The label map at its own size, in the photo's frame: regions are traced from it, so a map larger
    # than the photo keeps its detail (None: the same as ``labels``).
    label_map: np.ndarray | None = None

    @property
    def labels_to_image(self) -> np.ndarray:
        """2x3: label-map px -> image px (pixel centres aligned, as ``fit_labels`` resizes)."""
        return label_map_to_image(self.label_map if self.label_map is not None else self.labels, self.image)


# ---------------------------------------------------------------------------------------- headers


def image_header(data: bytes, field: Field) -> tuple[str, int, int]:
    """``(format, width, height)`` from a PNG, JPEG, WebP, HEIF or AVIF header, without decoding
    pixels (for HEIF/AVIF: the largest image the file describes, turned by its ``irot``).

    Bytes after the end of the image (the IEND chunk, the JPEG EOI) are ignored: phones append
    trailers and Motion Photo videos there.
    """
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 33 or data[12:16] != b"IHDR":
            raise InputError(field, "truncated PNG header", "Truncated")
        width, height = struct.unpack(">II", data[16:24])
        if b"IEND" not in data[-64:] and data.find(_IEND_CHUNK, 33) < 0:
            raise InputError(field, "truncated PNG (no IEND chunk)", "Truncated")
        return "png", width, height
    if data.startswith(JPEG_SIGNATURE):
        info = jpeg.jpeg_info(data, field)
        return "jpeg", info.width, info.height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("webp", *_webp_size(data, field))
    if data[4:8] == b"ftyp":
        return _bmff_header(data, field)
    raise InputError(field, "not a PNG, JPEG, WebP, HEIF or AVIF file", "UnsupportedFormat")


def _webp_size(data: bytes, field: Field) -> tuple[int, int]:
    """The canvas of a WebP file (VP8, VP8L or VP8X); an animation is refused."""
    if len(data) < 30:
        raise InputError(field, "truncated WebP header", "Truncated")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data):
        raise InputError(field, "truncated WebP (shorter than its RIFF size)", "Truncated")
    kind, body = data[12:16], data[20:30]
    if kind == b"VP8X":
        if body[0] & 0x02:
            raise InputError(field, "an animated WebP is not a photo", "UnsupportedFormat")
        width = 1 + int.from_bytes(body[4:7], "little")
        height = 1 + int.from_bytes(body[7:10], "little")
        return width, height
    if kind == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise InputError(field, "corrupt WebP (no VP8 start code)", "Corrupt")
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        if body[0] != 0x2F:
            raise InputError(field, "corrupt WebP (no VP8L signature)", "Corrupt")
        (bits,) = struct.unpack("<I", body[1:5])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    raise InputError(field, f"unknown WebP chunk {kind!r}", "Corrupt")


_BMFF_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}  # boxes holding the properties (+ header)
_BMFF_MAX_BOXES = 10_000


def _bmff_header(data: bytes, field: Field) -> tuple[str, int, int]:
    """HEIF/AVIF: the brand, and the largest ``ispe`` (image spatial extent) in the ``meta`` box,
    turned by ``irot``. The largest bounds every image in the file (a grid, its tiles, thumbnails)."""
    (ftyp_size,) = struct.unpack(">I", data[:4])
    brands = {data[i : i + 4] for i in range(8, min(ftyp_size, len(data), 4096), 4)} - {b"\0\0\0\0"}
    if brands & _AVIF_BRANDS:
        fmt = "avif"
    elif brands & _HEIF_BRANDS:
        fmt = "heif"
    else:
        raise InputError(field, "an ISO media file that is not a HEIF or AVIF image", "UnsupportedFormat")
    sizes: list[tuple[int, int]] = []
    turned = False
    boxes = 0
    stack = [(0, len(data))]
    while stack:
        pos, end = stack.pop()
        while pos + 8 <= end:
            boxes += 1
            if boxes > _BMFF_MAX_BOXES:
                raise InputError(field, f"corrupt {fmt.upper()} (too many boxes)", "Corrupt")
            size, kind = struct.unpack(">I4s", data[pos : pos + 8])
            header = 8
            if size == 1 and pos + 16 <= end:
                (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
                header = 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                if kind == b"mdat":  # the pixel data may run past a truncated file: checked by decoding
                    break
                raise InputError(field, f"truncated {fmt.upper()} ({kind!r} box cut short)", "Truncated")
            body = pos + header
            if kind in _BMFF_CONTAINERS:
                stack.append((body + _BMFF_CONTAINERS[kind], pos + size))
            elif kind == b"ispe" and size >= header + 12:
                sizes.append(struct.unpack(">II", data[body + 4 : body + 12]))
            elif kind == b"irot" and size >= header + 1:
                turned = turned or bool(data[body] & 1)
            pos += size
    if not sizes:
        raise InputError(field, f"corrupt {fmt.upper()} (no image size in its header)", "Corrupt")
    width, height = max(sizes, key=lambda wh: wh[0] * wh[1])
    return (fmt, height, width) if turned else (fmt, width, height)


def _check_size(field: Field, data: bytes, limits: Limits) -> tuple[str, int, int]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(field, "expected bytes", "InvalidType")
    data = bytes(data)
    if len(data) == 0:
        raise InputError(field, "empty file", "Empty")
    if len(data) > limits.max_image_bytes:
        raise InputError(field, f"file larger than {limits.max_image_bytes} bytes", "TooLarge")
    fmt, width, height = image_header(data, field)
    if width <= 0 or height <= 0:
        raise InputError(field, "zero image size", "Corrupt")
    if width * height > limits.max_pixels:
        raise InputError(
            field, f"{width}x{height} exceeds the limit of {limits.max_pixels} pixels", "TooManyPixels"
        )
    return fmt, width, height


# ------------------------------------------------------------------------------------------ image


# Deflate cannot compress better than 1032:1; more pixels than that behind the IDAT bytes is a lie.
_DEFLATE_MAX_RATIO = 1032
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def png_chunk_types(data: bytes, field: Field) -> list[bytes]:
    """Walk a PNG's chunks, checking each one's length and CRC (~0.4 ms for 1 MB; nothing inflated).

    Catches truncation and damage anywhere in the file, and a header that promises more pixels
    than its compressed data could hold. Returns the chunk types in order.
    """
    types: list[bytes] = []
    idat_bytes = 0
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise InputError(field, "truncated PNG (a chunk header cut short)", "Truncated")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        name = kind.decode("latin-1")
        end = pos + 8 + length
        if end + 4 > len(data):
            raise InputError(field, f"truncated PNG ({name!r} chunk cut short)", "Truncated")
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(data[pos + 8 : end], zlib.crc32(kind)) != crc:
            raise InputError(field, f"corrupt PNG ({name!r} chunk fails its CRC)", "Corrupt")
        types.append(kind)
        idat_bytes += length if kind == b"IDAT" else 0
        pos = end + 4
        if kind == b"IEND":
            break
    if not types or types[0] != b"IHDR" or types[-1] != b"IEND":
        raise InputError(field, "corrupt PNG (chunks out of order or IEND missing)", "Corrupt")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    raw_bytes = height * (1 + math.ceil(width * _PNG_CHANNELS.get(colour, 4) * depth / 8))
    if raw_bytes > _DEFLATE_MAX_RATIO * idat_bytes + 1024:
        message = f"corrupt PNG ({idat_bytes} bytes of data cannot hold {width}x{height} pixels)"
        raise InputError(field, message, "Corrupt")
    return types


def decode_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Photo bytes -> ``(H, W, 3)`` uint8 BGR as displayed (EXIF orientation applied); alpha
    dropped, grey expanded, 16-bit reduced."""
    _, width, height = _check_size("image", data, limits)
    stored, orientation = _decode_stored(data, width, height)
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


def _decode_stored(data: bytes, width: int, height: int) -> tuple[np.ndarray, int]:
    """The stored pixels (EXIF orientation *not* applied) and the EXIF orientation (1..8).

    IMREAD_COLOR does the normalisation inside the decoder: alpha stripped, grey expanded, 16 bits
    reduced to 8. The orientation is applied by the caller, once it knows which frame the label map
    and landmarks were computed on (``orientation``).
    """
    if data[4:8] == b"ftyp":
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
    fmt, width, height = _check_size("segmentation_map", data, limits)
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


# -------------------------------------------------------------------------------------- landmarks


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError("landmarks", "coordinates must be numbers", "InvalidLandmarks")
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range (10**400): as infinite as 1e400
        raise InputError(
            "landmarks", f"coordinate too large ({len(str(value))} digits)", "NonFinite"
        ) from None


def _point(p: Any) -> tuple[float, float]:
    if isinstance(p, dict):
        if "x" not in p or "y" not in p:
            raise InputError("landmarks", "a point needs 'x' and 'y'", "InvalidLandmarks")
        return _number(p["x"]), _number(p["y"])
    if isinstance(p, list | tuple) and len(p) in (2, 3):
        return _number(p[0]), _number(p[1])
    raise InputError("landmarks", "a point must be {'x','y'} or [x, y]", "InvalidLandmarks")


def _is_point(p: Any) -> bool:
    return isinstance(p, dict) or (
        isinstance(p, list | tuple) and len(p) in (2, 3) and all(isinstance(v, int | float) for v in p)
    )


def _dimensions(doc: dict[str, Any]) -> tuple[int, int] | None:
    dims = doc.get("dimensions")
    if dims is None:
        return None
    if isinstance(dims, dict):
        dims = [dims.get("width"), dims.get("height")]
    if (
        not isinstance(dims, list | tuple)
        or len(dims) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in dims)
        or not all(1 <= v <= MAX_DIMENSION for v in dims)  # compares ints of any size, rejects NaN
    ):
        raise InputError(
            "landmarks", f"'dimensions' must be [width, height], each 1..{MAX_DIMENSION}", "InvalidLandmarks"
        )
    return round(dims[0]), round(dims[1])


def _decode_text(raw: str | bytes) -> Any:
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError("landmarks", "not UTF-8 text", "InvalidLandmarks") from exc
    text = raw.strip()
    if not text:
        raise InputError("landmarks", "empty document", "InvalidLandmarks")
    try:
        return documents.loads_json(text)
    except documents.TooDeep as exc:
        raise InputError("landmarks", "document nested too deeply", "InvalidLandmarks") from exc
    except documents.DocumentError:
        pass
    if '"' not in text and "\\" not in text:
        # Fast path for the QOVES literal (C speed). Without double quotes and backslashes every '
        # delimits a plain string, so swapping them yields JSON that means exactly what the literal
        # means; anything JSON rejects (True, tuples, trailing commas...) falls through.
        try:
            return documents.loads_json(text.replace("'", '"'))
        except documents.TooDeep as exc:
            raise InputError("landmarks", "document nested too deeply", "InvalidLandmarks") from exc
        except documents.DocumentError:
            pass
    try:
        # The QOVES landmarks.txt is a Python literal (single quotes): a bounded tokenizer reads it,
        # nothing is evaluated (ast.literal_eval took seconds and ~450 MB on a hostile megabyte).
        return documents.loads_literal(text)
    except documents.TooDeep as exc:
        raise InputError("landmarks", "document nested too deeply", "InvalidLandmarks") from exc
    except documents.DocumentError as exc:
        raise InputError(
            "landmarks", f"neither JSON nor a Python literal ({exc})", "InvalidLandmarks"
        ) from exc


_FLAT_SIZES = {N_MESH * 2: 2, N_WITH_IRIS * 2: 2, N_MESH * 3: 3, N_WITH_IRIS * 3: 3}  # numbers -> per point


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_face(doc: Any) -> bool:
    """One face: a list of points, or a flat list of numbers (x, y[, z] after each other)."""
    return isinstance(doc, list | tuple) and bool(doc) and (_is_point(doc[0]) or _is_number(doc[0]))


def _faces(doc: Any) -> tuple[list[Any], dict[str, Any]]:
    """The faces of a landmark document (each a list of points or numbers), and its top level when
    it is an object. Shapes: MediaPipe Tasks' ``FaceLandmarkerResult`` (``face_landmarks``, or the
    JavaScript API's ``faceLandmarks``: a list of faces of ``{x, y, z, visibility?, presence?}``),
    ``{"landmarks": ..., "dimensions"?}``, a list of faces, or one face."""
    top: dict[str, Any] = {}
    if isinstance(doc, dict):
        top = doc
        key = next((k for k in ("face_landmarks", "faceLandmarks", "landmarks") if k in doc), None)
        if key is None:
            raise InputError(
                "landmarks",
                "document has no 'landmarks' (or MediaPipe 'face_landmarks') key",
                "InvalidLandmarks",
            )
        doc = doc[key]
        if key != "landmarks" and isinstance(doc, list | tuple) and not doc:
            raise NoFace("landmarks", "MediaPipe found no face (its face_landmarks list is empty)")
    if not isinstance(doc, list | tuple) or not doc:
        raise InputError("landmarks", "expected a list of points", "InvalidLandmarks")
    return ([doc] if _is_face(doc) else list(doc)), top


def parse_landmarks(
    raw: str | bytes | list[Any] | dict[str, Any], limits: Limits = DEFAULT_LIMITS, face_index: int = 0
) -> Landmarks:
    """Parse any supported landmark document into ``Landmarks`` (image pixels, not yet rescaled).

    ``face_index`` picks the face of a document with several (MediaPipe returns one list per face).
    """
    if isinstance(raw, str | bytes | bytearray):
        if len(raw) > limits.max_landmarks_bytes:
            raise InputError(
                "landmarks", f"document larger than {limits.max_landmarks_bytes} bytes", "TooLarge"
            )
        doc = _decode_text(raw)
    else:
        doc = raw
    faces, top = _faces(doc)
    dimensions = _dimensions(top) if top else None
    if not 0 <= face_index < len(faces):
        raise InputError(
            "landmarks",
            f"face_index {face_index}, but the document has {len(faces)} face{'s' * (len(faces) != 1)}",
            "FaceIndex",
        )
    face = faces[face_index]
    if not isinstance(face, list | tuple) or not face:
        raise InputError("landmarks", "a face must be a list of points", "InvalidLandmarks")
    if _is_number(face[0]):
        per_point = _FLAT_SIZES.get(len(face))
        if per_point is None:
            raise InputError(
                "landmarks",
                f"a flat list of numbers must hold {N_MESH} or {N_WITH_IRIS} points as x,y pairs or x,y,z "
                f"triples ({', '.join(map(str, sorted(_FLAT_SIZES)))} numbers), got {len(face)}",
                "LandmarkCount",
            )
        flat = np.array([_number(v) for v in face], dtype=np.float64)
        points = np.ascontiguousarray(flat.reshape(-1, per_point)[:, :2])
    else:
        if len(face) not in (N_MESH, N_WITH_IRIS):
            raise InputError(
                "landmarks", f"expected {N_MESH} or {N_WITH_IRIS} points, got {len(face)}", "LandmarkCount"
            )
        points = np.array([_point(p) for p in face], dtype=np.float64)
    if not np.isfinite(points).all():
        raise InputError("landmarks", "coordinates must be finite (found NaN or inf)", "NonFinite")
    return Landmarks(points=points, dimensions=dimensions)


def landmarks_in_image(landmarks: Landmarks, width: int, height: int) -> np.ndarray:
    """Points in image pixels: rescale when the document's ``dimensions`` (or 0..1 coords) say so."""
    pts = landmarks.points.copy()
    if landmarks.dimensions is not None:
        dw, dh = landmarks.dimensions
        if abs((dw / dh) / (width / height) - 1.0) > ASPECT_TOLERANCE:
            raise InputError(
                "landmarks", f"dimensions {dw}x{dh} do not match the image {width}x{height}", "AspectMismatch"
            )
        if np.abs(pts).max() <= NORMALISED_MAX and max(dw, dh) > 10 * NORMALISED_MAX:
            # 0..1 values with pixel dimensions: the points would sit in the top-left pixel (NoFace
            # on the map before); the units are what is wrong.
            raise InputError(
                "landmarks",
                f"the coordinates are normalised (all within 0..{NORMALISED_MAX:g}) but 'dimensions' "
                f"({dw}x{dh}) says they are pixels: send pixels with 'dimensions', or 0..1 values without",
                "InvalidLandmarks",
            )
        pts *= (width / dw, height / dh)
    elif landmarks.normalised:
        pts *= (width, height)  # MediaPipe's normalised output
    outside = (pts[:, 0] < -0.5) | (pts[:, 0] > width - 0.5) | (pts[:, 1] < -0.5) | (pts[:, 1] > height - 0.5)
    if outside.mean() > MAX_OUTSIDE_FRACTION:
        raise InputError(
            "landmarks",
            f"{int(outside.sum())} of {len(pts)} points lie outside the image",
            "LandmarksOutside",
        )
    return pts


# ------------------------------------------------------------------------------------------- all


def fit_labels(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a label map to the image (NEAREST, pixel-centre aligned); aspect must agree within 2%."""
    h, w = labels.shape
    if abs((w / h) / (width / height) - 1.0) > ASPECT_TOLERANCE:
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


def check_face(labels: np.ndarray, points: np.ndarray) -> None:
    """Raise ``NoFace`` unless most landmarks sit on face labels and skin is present around them."""
    h, w = labels.shape
    xy = np.rint(points).astype(np.int64)
    xi = np.clip(xy[:, 0], 0, w - 1)
    yi = np.clip(xy[:, 1], 0, h - 1)
    on_face = (labels[yi, xi] >= 1) & (labels[yi, xi] <= 9)
    x0, y0 = max(int(xi.min()), 0), max(int(yi.min()), 0)
    x1, y1 = int(xi.max()) + 1, int(yi.max()) + 1
    box = labels[y0:y1, x0:x1]
    skin_fraction = float(np.count_nonzero(box == SKIN)) / max(box.size, 1)
    if on_face.mean() < MIN_ON_FACE_FRACTION or skin_fraction < 0.05:
        raise NoFace("segmentation_map", "no skin label near the landmarks: no usable face")


def check_landmarks(
    labels: np.ndarray, points: np.ndarray, raw: np.ndarray | None = None, scheme: str = DEFAULT_SCHEME
) -> None:
    """The points (image pixels) are a plausible FaceMesh of the face in ``labels``: a face's layout,
    not mirrored (``InvalidLandmarks``), on the face (``NoFace``), eyes/nose/lips on their labels.

    ``raw``: the map's values as sent, in ``scheme``. When the points are not on the face or its
    features, a map that fits another scheme better is blamed on ``options.label_scheme``
    (``LabelSchemeMismatch``), not on the landmarks: a LaPa map read as a 19-class scheme puts the
    nose on another class, or the skin on the neck's.
    """
    check_mesh_shape(points)
    try:
        check_face(labels, points)
        check_features_on_labels(labels, points)
    except InputError as exc:
        likely = better_schemes(raw, scheme) if raw is not None else []
        if likely:
            raise InputError(
                "options.label_scheme",
                f"the segmentation map does not read as label_scheme {scheme!r} (read so: "
                f"{exc.message.removeprefix('not a plausible face mesh of this face: ')}); it fits "
                f"label_scheme {likely[0]!r} better (likeliest first: {', '.join(likely)})",
                "LabelSchemeMismatch",
                {"likely_schemes": likely},
            ) from None
        raise


def check_inputs(
    image: bytes,
    segmentation: bytes | None,
    landmarks: LandmarkSource,
    limits: Limits = DEFAULT_LIMITS,
    label_scheme: str = DEFAULT_SCHEME,
    face_index: int = 0,
) -> None:
    """What ``load_inputs`` checks, for accepting a request: raises the same errors, but a PNG photo
    is verified by its structure (every chunk's CRC, pixel data present) instead of being decoded.

    The pixels are then decoded once, by the renderer; a PNG whose chunks are intact but whose
    compressed data is not (it takes a crafted file) fails its job with ``Corrupt`` there. A JPEG,
    or a PNG with EXIF (whose orientation may swap width and height), is decoded here as before; so
    are a WebP, and a HEIF/AVIF where Pillow is installed (elsewhere, the zip functions' layer, those
    are accepted by their header's size, turned by its ``irot``, as a PNG is).
    """
    if segmentation is None:
        _check_mapless(image, landmarks, limits, face_index)
        return
    fmt, width, height = _check_size("image", image, limits)
    by_header = (fmt == "png" and b"eXIf" not in png_chunk_types(bytes(image), "image")) or (
        fmt in PILLOW_FORMATS and not _pillow_available(fmt)
    )
    if not by_header:
        load_inputs(image, segmentation, landmarks, limits, label_scheme, face_index)
        return
    _check_size("segmentation_map", segmentation, limits)
    lm = landmarks if isinstance(landmarks, Landmarks) else parse_landmarks(landmarks, limits, face_index)
    raw = decode_raw_labels(segmentation, limits, label_scheme)
    lab = fit_labels(SCHEMES[label_scheme].to_core(raw), width, height)
    check_landmarks(lab, landmarks_in_image(lm, width, height), raw, label_scheme)


def _check_mapless(image: bytes, landmarks: LandmarkSource, limits: Limits, face_index: int) -> None:
    """``check_inputs`` without a map: the photo, and the landmarks' own checks (shape, handedness,
    inside the photo); the checks against a map's labels have nothing to compare with."""
    fmt, width, height = _check_size("image", image, limits)
    by_header = (fmt == "png" and b"eXIf" not in png_chunk_types(bytes(image), "image")) or (
        fmt in PILLOW_FORMATS and not _pillow_available(fmt)
    )
    if not by_header:
        height, width = decode_image(image, limits).shape[:2]
    lm = landmarks if isinstance(landmarks, Landmarks) else parse_landmarks(landmarks, limits, face_index)
    check_mesh_shape(landmarks_in_image(lm, width, height))


def _load_mapless(
    image: bytes, landmarks: LandmarkSource, limits: Limits, face_index: int, width: int, height: int
) -> FaceInputs:
    """``load_inputs`` without a map: the labels are derived from the landmarks and the photo.

    With an EXIF orientation, the landmarks are taken to be on the photo as displayed (what a
    browser or phone shows and MediaPipe is run on), unless their ``dimensions`` fit only the
    stored pixels."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_decode_stored, bytes(image), width, height)
        lm = landmarks if isinstance(landmarks, Landmarks) else parse_landmarks(landmarks, limits, face_index)
        stored, orientation = pending.result()
    photo = orientation_.orient_array(stored, orientation) if orientation != 1 else stored
    on_stored = (
        orientation != 1
        and lm.dimensions is not None
        and _fits(lm.dimensions, stored.shape[1], stored.shape[0])
        and not _fits(lm.dimensions, photo.shape[1], photo.shape[0])
    )
    frame = stored if on_stored else photo
    pts = landmarks_in_image(lm, frame.shape[1], frame.shape[0])
    check_mesh_shape(pts)
    if on_stored:
        pts = orientation_.orient_points(pts, orientation, frame.shape[1], frame.shape[0])
    from facesvg.core.derived_labels import derive_labels  # only map-less jobs need it

    return FaceInputs(image=photo, labels=derive_labels(photo, pts), landmarks=pts, labels_source=LANDMARKS)


def _pillow_available(fmt: str) -> bool:
    """Can this process decode ``fmt`` (``heif``/``avif``)? Looked up, not imported."""
    import importlib.util

    needed = ("PIL", "pillow_heif") if fmt == "heif" else ("PIL",)
    return all(importlib.util.find_spec(name) is not None for name in needed)


def load_inputs(
    image: bytes,
    segmentation: bytes | None,
    landmarks: LandmarkSource,
    limits: Limits = DEFAULT_LIMITS,
    label_scheme: str = DEFAULT_SCHEME,
    face_index: int = 0,
) -> FaceInputs:
    """Decode and validate everything; raises ``InputError`` (naming the field) or ``NoFace``.

    Headers are checked first (cheap, and before any pixel is decoded); then the photo decodes in
    a worker thread (OpenCV releases the GIL) while this thread parses landmarks and labels.
    The order in which errors are reported does not depend on thread timing.

    The result is in the frame of the photo as displayed (EXIF orientation applied); labels and
    landmarks computed on the stored pixels of a photo with an EXIF orientation are turned into it.
    ``label_scheme``: the map's scheme (``core.label_schemes``); ``face_index``: which face of a
    landmark document with several. ``segmentation`` None: no map was sent, the labels are derived
    from the landmarks and the photo (``core.derived_labels``; ``labels_source`` says so).
    """
    _, width, height = _check_size("image", image, limits)
    if segmentation is None:
        return _load_mapless(image, landmarks, limits, face_index, width, height)
    _check_size("segmentation_map", segmentation, limits)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_decode_stored, bytes(image), width, height)
        lm = landmarks if isinstance(landmarks, Landmarks) else parse_landmarks(landmarks, limits, face_index)
        raw = decode_raw_labels(segmentation, limits, label_scheme)
        lab = SCHEMES[label_scheme].to_core(raw)
        stored, orientation = pending.result()
    height, width = stored.shape[:2]  # a HEIF/AVIF's header bounds its size; the decoder turns it
    native = lab
    if orientation == 1:
        lab = fit_labels(lab, width, height)
        pts = landmarks_in_image(lm, width, height)
        check_landmarks(lab, pts, raw, label_scheme)
        return FaceInputs(image=stored, labels=lab, landmarks=pts, label_map=_own_size(native, lab))
    photo = orientation_.orient_array(stored, orientation)
    on_stored = _labels_on_stored_frame(photo, stored, orientation, lab, lm)
    frame = stored if on_stored else photo
    height, width = frame.shape[:2]
    lab = fit_labels(lab, width, height)
    pts = landmarks_in_image(lm, width, height)
    check_landmarks(lab, pts, raw, label_scheme)  # in the landmarks' own frame: handedness is the face's
    if on_stored:
        lab = orientation_.orient_array(lab, orientation)
        native = orientation_.orient_array(native, orientation)
        pts = orientation_.orient_points(pts, orientation, width, height)
    return FaceInputs(image=photo, labels=lab, landmarks=pts, label_map=_own_size(native, lab))


def _own_size(native: np.ndarray, fitted: np.ndarray) -> np.ndarray | None:
    return None if native.shape == fitted.shape else native


def _fits(size: tuple[int, int], width: int, height: int) -> bool:
    return abs((size[0] / size[1]) / (width / height) - 1.0) <= ASPECT_TOLERANCE


def _labels_on_stored_frame(
    photo: np.ndarray, stored: np.ndarray, orientation: int, labels: np.ndarray, lm: Landmarks
) -> bool:
    """Were the map and landmarks computed on the stored pixels rather than the displayed photo?

    By aspect (the map's, and the landmarks' ``dimensions``) when only one frame fits; else by
    which photo the label regions fit (``orientation.agreement``); ``AmbiguousOrientation`` naming
    EXIF when neither fits clearly better.
    """
    frames = {"displayed": photo, "stored": stored}
    fitting = [
        name
        for name, img in frames.items()
        if _fits((labels.shape[1], labels.shape[0]), img.shape[1], img.shape[0])
        and (lm.dimensions is None or _fits(lm.dimensions, img.shape[1], img.shape[0]))
    ]
    if len(fitting) == 1:
        return fitting[0] == "stored"
    if not fitting:
        return False  # the usual AspectMismatch, against the displayed photo
    score = {
        name: orientation_.agreement(img, fit_labels(labels, img.shape[1], img.shape[0]))
        for name, img in frames.items()
    }
    if score["stored"] > orientation_.CLEAR_MARGIN * score["displayed"]:
        return True
    if score["displayed"] > orientation_.CLEAR_MARGIN * score["stored"]:
        return False
    raise InputError(
        "image",
        f"the photo's EXIF orientation ({orientation}) turns it, and the segmentation map fits both the "
        "photo as displayed and its stored pixels: send the photo upright without an EXIF orientation, "
        "or with labels and landmarks computed on the photo as displayed",
        "AmbiguousOrientation",
    )
