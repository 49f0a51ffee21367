"""Is a landmark set a plausible FaceMesh of the face in the label map? (Raises ``InvalidLandmarks``.)

Three checks, all on the first 468 points (iris points follow the eyes):

1. **Shape.** An affine fit of the frontal template (``face_template``) to the points: a real face,
   turned up to ~30 degrees, stays within ``MAX_RESIDUAL`` of it (relative to the points' own RMS
   radius; real faces 0.03-0.15, random or shuffled points ~0.9), and the fit's two scales stay
   comparable (``MIN_ANISOTROPY``: points on a line have one scale of zero).
2. **Handedness.** The fitted map must not be a reflection. FaceMesh always returns the subject's
   right eye (33) on the image-left of the subject's left eye (263) *as seen on the photo*, whatever
   the photo: a mirrored photo with landmarks computed on it is a normal face (a different person's
   mirror twin); landmarks that were mirrored without their photo are not, whichever way the face is
   rotated. The sign of the fit's determinant tells them apart, rotation-independently.
3. **Features on their labels.** The eye, nose and lip points must lie on (or next to) the eye, nose
   and lip labels of the map, for the features the map has.

Cost: one 468x3 least-squares fit and ~10k label look-ups, well under a millisecond.
"""

from __future__ import annotations

import numpy as np

from facesvg.core.errors import InputError
from facesvg.core.face_template import TEMPLATE
from facesvg.core.landmarks_topology import (
    EYE_L,
    EYE_R,
    LOWER_LIP_OUTER,
    N_MESH,
    NOSE_HULL,
    UPPER_LIP_OUTER,
)

MAX_RESIDUAL = 0.35  # RMS fit residual / RMS radius of the points
MIN_ANISOTROPY = 0.3  # smaller / larger scale of the affine fit (a 70-degree turn still gives 0.34)
MIN_FACE_PX = 4.0  # RMS radius below this: the points (nearly) coincide
MIN_FEATURE_HITS = 0.5  # share of a feature's points on (or next to) its labels

_EYE_LABELS = (4, 5)
_NOSE_LABELS = (6,)
_LIP_LABELS = (7, 8, 9)
_FEATURES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("eye", EYE_R, _EYE_LABELS),
    ("eye", EYE_L, _EYE_LABELS),
    ("nose", NOSE_HULL, _NOSE_LABELS),
    ("mouth", UPPER_LIP_OUTER + LOWER_LIP_OUTER, _LIP_LABELS),
)
# Look-up offsets around each feature point, in units of the search radius (a 5x5 grid).
_GRID = np.array([(dx, dy) for dx in np.linspace(-1, 1, 5) for dy in np.linspace(-1, 1, 5)])


def _invalid(message: str) -> InputError:
    return InputError("landmarks", f"not a plausible face mesh of this face: {message}", "InvalidLandmarks")


def check_mesh_shape(points: np.ndarray) -> None:
    """Shape and handedness of ``points`` ((N, 2) image pixels, N >= 468) against the template."""
    pts = points[:N_MESH]
    centred = pts - pts.mean(axis=0)
    radius = float(np.sqrt((centred**2).sum(axis=1).mean()))
    if not np.isfinite(radius) or radius < MIN_FACE_PX:
        raise _invalid(f"the points (nearly) coincide (RMS radius {radius:.2g} px)")
    design = np.c_[TEMPLATE, np.ones(N_MESH)]
    solution, *_ = np.linalg.lstsq(design, centred / radius, rcond=None)
    linear = solution[:2].T
    scales = np.linalg.svd(linear, compute_uv=False)
    if scales[0] <= 0 or scales[1] / scales[0] < MIN_ANISOTROPY:
        raise _invalid("the points are (nearly) on a line")
    residual = centred / radius - design @ solution
    rms = float(np.sqrt((residual**2).sum(axis=1).mean()))
    if rms > MAX_RESIDUAL:
        raise _invalid(f"the points do not have a face's layout (fit residual {rms:.2f} > {MAX_RESIDUAL})")
    if np.linalg.det(linear) < 0:
        raise _invalid(
            "the points are mirrored relative to the face (the subject's right eye, index 33, lies on "
            "the wrong side of the left eye, 263); landmarks of a mirrored photo must be computed on it"
        )


def check_features_on_labels(labels: np.ndarray, points: np.ndarray) -> None:
    """Eyes, nose and lips of ``points`` (image pixels) on their labels, for the features present."""
    h, w = labels.shape
    eye_gap = float(np.hypot(*(points[263] - points[33])))
    radius = max(2.0, 0.08 * eye_gap)
    present: np.ndarray | None = None
    for name, idx, wanted in _FEATURES:
        pts = points[list(idx)]
        probe = (pts[:, None, :] + radius * _GRID[None, :, :]).reshape(-1, 2)
        xi = np.clip(np.rint(probe[:, 0]).astype(np.int64), 0, w - 1)
        yi = np.clip(np.rint(probe[:, 1]).astype(np.int64), 0, h - 1)
        found = np.isin(labels[yi, xi], wanted).reshape(len(idx), -1)
        if found.any(axis=1).mean() >= MIN_FEATURE_HITS:
            continue
        if present is None:  # only on this (rare) path: which labels the map has at all
            stride = max(1, int(np.sqrt(labels.size / 500_000)))
            present = np.bincount(labels[::stride, ::stride].ravel(), minlength=16) > 0
        if present[list(wanted)].any():  # absent (closed eyes, covered mouth): nothing to compare
            raise _invalid(f"the {name} points are not on the {name} of the segmentation map")
