"""Are the landmarks and the label map a plausible face, and in which frame of the photo?

``check_landmarks``: a face's layout, not mirrored, on the face the map shows, features on their
labels (``core.face_plausibility``). ``labels_on_stored_frame``: whether the map and landmarks of a
photo with an EXIF orientation were computed on its stored pixels or on the photo as displayed.
"""

from __future__ import annotations

import numpy as np

from facesvg.core import orientation as orientation_
from facesvg.core.errors import InputError, NoFace
from facesvg.core.face_plausibility import check_features_on_labels, check_mesh_shape
from facesvg.core.label_maps import fit_labels, fits_aspect
from facesvg.core.label_schemes import DEFAULT_SCHEME, better_schemes
from facesvg.core.labels import SKIN
from facesvg.core.landmark_formats import Landmarks, span

MIN_ON_FACE_FRACTION = 0.5  # fewer landmarks than this on face labels: NoFace


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
    if on_face.mean() < MIN_ON_FACE_FRACTION and np.any(labels == SKIN):
        # The map shows a face, the points are elsewhere: the landmarks are what is wrong (those of
        # another, e.g. smaller, image), not the map.
        ys, xs = np.nonzero((labels >= 1) & (labels <= 9))
        raise InputError(
            "landmarks",
            f"only {int(on_face.sum())} of {len(points)} points sit on the face the segmentation map shows "
            f"(x {span(xs)}, y {span(ys)} of the {w}x{h} photo; the points: x {span(points[:, 0])}, "
            f"y {span(points[:, 1])}): are they the landmarks of another image?",
            "InvalidLandmarks",
        )
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


def labels_on_stored_frame(
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
        if fits_aspect((labels.shape[1], labels.shape[0]), img.shape[1], img.shape[0])
        and (lm.dimensions is None or fits_aspect(lm.dimensions, img.shape[1], img.shape[0]))
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
