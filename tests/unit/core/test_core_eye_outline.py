"""The map-less eyes drawn as a parsing map outlines them (``core.eye_outline``): the mesh's lid
contour with the upper lash line above it.

Measured against the real maps: the QOVES sample's, and the real faces' in ``../shared/faces``
(read in place; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import FACE_DIRS, label_iou
from facesvg.core import derived_labels as dl
from facesvg.core.eye_outline import LASH_LINE, eye_outline
from facesvg.core.face_geometry import geometry
from facesvg.core.inputs import FaceInputs, load_inputs
from facesvg.core.labels import EYES


def _eyes(inputs: FaceInputs) -> list[tuple[float, float]]:
    """Each eye's (IoU with the real map's, derived centroid's drop below the real one in
    inter-eye distances: > 0 the derived eye sits low)."""
    derived = dl.derive_labels(inputs.image, inputs.landmarks)
    real = inputs.labels
    scale = geometry(inputs.landmarks, max(real.shape)).scale
    out = []
    for value in EYES:
        a, b = real == value, derived == value
        drop = (np.nonzero(b)[0].mean() - np.nonzero(a)[0].mean()) / scale
        out.append((label_iou(a, b), float(drop)))
    return out


def _lid_offsets(points: np.ndarray, chain: tuple[int, ...]) -> np.ndarray:
    """How far each mesh point of an eye moved in its outline (> 0: towards the brows), in
    inter-eye distances, in the chain's order."""
    g = geometry(points, 1024)
    outline = eye_outline(g, chain)
    mesh = g.at(chain)
    brows = g.at(dl._BROWS[0] if chain == dl._EYES[0] else dl._BROWS[1]).mean(0)
    moved = {}
    for i, p in zip(chain, mesh, strict=True):
        q = outline[np.argmin(np.hypot(*(outline - p).T))]
        towards_brows = float((q - p) @ (brows - p)) >= 0
        moved[i] = float(np.hypot(*(q - p))) / g.scale * (1 if towards_brows else -1)
    return np.array([moved[i] for i in chain])


def test_the_upper_lid_is_raised_by_the_lash_line_and_the_lower_lid_stays(sample_points: np.ndarray) -> None:
    for chain in dl._EYES:
        moved = _lid_offsets(sample_points, chain)
        # the eye's highest points (the upper lid over the iris) move up by the lash line; the
        # corners and the lower lid stay (a point moved by none lies on its own polygon edge)
        assert 0.9 * LASH_LINE <= moved.max() <= LASH_LINE + 1e-9
        assert np.count_nonzero(moved > 0.5 * LASH_LINE) >= 4
        assert np.count_nonzero(np.abs(moved) < 1e-6) >= len(chain) // 2 + 1  # lower lid + corners
        assert moved.min() > -1e-9  # never lowered


def test_the_outline_is_the_same_on_a_rolled_and_a_mirrored_face(sample_points: np.ndarray) -> None:
    # The lids are told apart on the frontal template, and "up" is the face's: a roll of 40 degrees
    # or a mirror moves the outline with the face.
    centre = sample_points[:468].mean(0)
    t = np.radians(40.0)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    rolled = (sample_points - centre) @ rot.T + centre
    mirrored = sample_points * (-1.0, 1.0) + (2 * centre[0], 0.0)
    for chain in dl._EYES:
        base = eye_outline(geometry(sample_points, 1024), chain)
        turned = eye_outline(geometry(rolled, 1024), chain)
        np.testing.assert_allclose((base - centre) @ rot.T + centre, turned, atol=1e-6)
        flipped = eye_outline(geometry(mirrored, 1024), chain)
        np.testing.assert_allclose(base * (-1.0, 1.0) + (2 * centre[0], 0.0), flipped, atol=1e-6)


def test_the_sample_s_eyes_do_not_sit_below_its_map_s(sample_inputs: FaceInputs) -> None:
    # The mesh's lid contour alone put both eyes 0.3 % of the inter-eye distance low (IoU 0.91,
    # 0.88); with the lash line they sit where the map's do.
    for iou, drop in _eyes(sample_inputs):
        assert iou >= 0.89
        assert abs(drop) <= 0.0015


@pytest.mark.skipif(not FACE_DIRS, reason="no ../shared/faces (real faces are used in place only)")
def test_real_faces_eyes_sit_where_their_maps_do() -> None:
    # The mesh's lid contour alone: the 18 eyes' mean IoU 0.80 with the real maps' (10 of them
    # at 0.8 or more), the derived eyes 0.58 % of the inter-eye distance low on average.
    eyes = []
    for folder in FACE_DIRS:
        image = next(folder / n for n in ("image.jpg", "image.png") if (folder / n).is_file())
        files = image.read_bytes(), (folder / "segmentation_map.png").read_bytes()
        eyes += _eyes(load_inputs(*files, (folder / "landmarks.json").read_bytes()))
    ious, drops = np.array(eyes).T
    assert ious.mean() >= 0.815
    assert np.count_nonzero(ious >= 0.8) >= 13
    assert ious.min() >= 0.69  # an old man's hooded lids (cmhq-28054): 0.70, 0.72
    assert drops.mean() <= 0.004
