"""Decode and validate the three inputs into typed arrays; every problem is one ``InputError``.

Shapes: image ``(H, W, 3)`` uint8 BGR, labels ``(H, W)`` uint8 (core labels, ``core.labels``: a
map in any ``core.label_schemes`` scheme is mapped onto them), landmarks ``(N, 2)`` float64
``(x, y)`` in image pixels. Header sizes are checked before any pixel is decoded.

The steps live beside this module: ``image_headers`` (sizes and limits), ``photo_decoding``,
``label_maps``, ``landmark_formats`` and ``input_checks`` (plausibility, which frame); here they
are put together, with and without a map.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from facesvg.core import orientation as orientation_
from facesvg.core import photo_decoding
from facesvg.core.face_plausibility import check_mesh_shape
from facesvg.core.image_format import PILLOW_FORMATS
from facesvg.core.image_headers import check_image_size, png_chunk_types
from facesvg.core.input_checks import check_landmarks, labels_on_stored_frame
from facesvg.core.label_maps import decode_raw_labels, fit_labels, fits_aspect, label_map_to_image
from facesvg.core.label_schemes import DEFAULT_SCHEME, SCHEMES
from facesvg.core.landmark_formats import Landmarks, LandmarkSource, landmarks_in_image, parse_landmarks
from facesvg.core.options import DEFAULT_LIMITS, Limits

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
    fmt, width, height = check_image_size("image", image, limits)
    if not _checked_by_header(image, fmt):
        load_inputs(image, segmentation, landmarks, limits, label_scheme, face_index)
        return
    check_image_size("segmentation_map", segmentation, limits)
    lm = _parsed(landmarks, limits, face_index)
    raw = decode_raw_labels(segmentation, limits, label_scheme)
    lab = fit_labels(SCHEMES[label_scheme].to_core(raw), width, height)
    check_landmarks(lab, landmarks_in_image(lm, width, height), raw, label_scheme)


def _check_mapless(image: bytes, landmarks: LandmarkSource, limits: Limits, face_index: int) -> None:
    """``check_inputs`` without a map: the photo, and the landmarks' own checks (shape, handedness,
    inside the photo); the checks against a map's labels have nothing to compare with."""
    fmt, width, height = check_image_size("image", image, limits)
    if not _checked_by_header(image, fmt):
        height, width = photo_decoding.decode_image(image, limits).shape[:2]
    lm = _parsed(landmarks, limits, face_index)
    check_mesh_shape(landmarks_in_image(lm, width, height))


def _load_mapless(
    image: bytes, landmarks: LandmarkSource, limits: Limits, face_index: int, width: int, height: int
) -> FaceInputs:
    """``load_inputs`` without a map: the labels are derived from the landmarks and the photo.

    With an EXIF orientation, the landmarks are taken to be on the photo as displayed (what a
    browser or phone shows and MediaPipe is run on), unless their ``dimensions`` fit only the
    stored pixels."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(photo_decoding.decode_stored, bytes(image), width, height)
        lm = _parsed(landmarks, limits, face_index)
        stored, orientation = pending.result()
    photo = orientation_.orient_array(stored, orientation) if orientation != 1 else stored
    on_stored = (
        orientation != 1
        and lm.dimensions is not None
        and fits_aspect(lm.dimensions, stored.shape[1], stored.shape[0])
        and not fits_aspect(lm.dimensions, photo.shape[1], photo.shape[0])
    )
    frame = stored if on_stored else photo
    pts = landmarks_in_image(lm, frame.shape[1], frame.shape[0])
    check_mesh_shape(pts)
    if on_stored:
        pts = orientation_.orient_points(pts, orientation, frame.shape[1], frame.shape[0])
    from facesvg.core.derived_labels import derive_labels  # only map-less jobs need it

    return FaceInputs(image=photo, labels=derive_labels(photo, pts), landmarks=pts, labels_source=LANDMARKS)


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
    _, width, height = check_image_size("image", image, limits)
    if segmentation is None:
        return _load_mapless(image, landmarks, limits, face_index, width, height)
    check_image_size("segmentation_map", segmentation, limits)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(photo_decoding.decode_stored, bytes(image), width, height)
        lm = _parsed(landmarks, limits, face_index)
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
    on_stored = labels_on_stored_frame(photo, stored, orientation, lab, lm)
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


def _checked_by_header(image: bytes, fmt: str) -> bool:
    """Is the photo accepted by its header (and a PNG's intact chunks) rather than decoded? A PNG
    without EXIF, and a HEIF/AVIF where this process has no decoder for it."""
    return (fmt == "png" and b"eXIf" not in png_chunk_types(bytes(image), "image")) or (
        fmt in PILLOW_FORMATS and not photo_decoding.pillow_available(fmt)
    )


def _parsed(landmarks: LandmarkSource, limits: Limits, face_index: int) -> Landmarks:
    return landmarks if isinstance(landmarks, Landmarks) else parse_landmarks(landmarks, limits, face_index)
