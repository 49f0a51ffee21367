"""Landmark documents -> ``(N, 2)`` float64 points ``(x, y)`` in image pixels.

Formats: the QOVES Python literal, JSON ``{"landmarks": ..., "dimensions"?}``, MediaPipe Tasks'
``FaceLandmarkerResult`` (Python and JavaScript), a list of faces, one face, or a flat list of
numbers; points as ``{x, y}`` or ``[x, y(, z)]``; pixels, or MediaPipe's normalised 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facesvg.core import documents
from facesvg.core.errors import InputError, NoFace
from facesvg.core.label_maps import fits_aspect
from facesvg.core.landmarks_topology import N_MESH, N_WITH_IRIS
from facesvg.core.options import DEFAULT_LIMITS, Limits

NORMALISED_MAX = 2.0  # coordinates all within this are normalised (no face spans two pixels)
MAX_DIMENSION = 1_000_000  # px; any real photo is far smaller
MAX_OUTSIDE_FRACTION = 0.5  # more landmarks than this outside the image: wrong image or wrong points


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
        what = "no face (an empty list)" if isinstance(doc, list | tuple) else "not a list of points"
        raise InputError("landmarks", f"expected a list of points: {what}", "InvalidLandmarks")
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
        if not fits_aspect((dw, dh), width, height):
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
            f"{int(outside.sum())} of {len(pts)} points fall outside the photo's {width}x{height} pixels "
            f"(x {span(pts[:, 0])}, y {span(pts[:, 1])}): are they the landmarks of another image?",
            "InvalidLandmarks",
        )
    return pts


def span(values: np.ndarray) -> str:
    """``min..max`` of some coordinates, in whole pixels (for messages)."""
    return f"{float(np.min(values)):.0f}..{float(np.max(values)):.0f}"
