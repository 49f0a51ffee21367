"""Anatomical regions: the landmark chains, visibility, and the issue's bars on real faces."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
from core_helpers import SAMPLE, raster
from facesvg.commands import fidelity as fid
from facesvg.commands import fidelity_cases as fid_cases
from facesvg.core import landmarks_topology as topo
from facesvg.core.inputs import FaceInputs
from facesvg.core.pipeline import RenderResult, render_inputs
from facesvg.core.version import PIPELINE_VERSION

SHARED = fid_cases.DEFAULT_SHARED


def _reflect(points: np.ndarray) -> np.ndarray:
    mid = points[list(topo.MIDLINE)]
    a, b = np.polyfit(mid[:, 1], mid[:, 0], 1)
    n = np.array([1.0, -a]) / np.hypot(1.0, a)
    return points - 2 * ((points - (b, 0.0)) @ n)[:, None] * n


def test_mirror_pairs_are_reflections_on_the_sample(sample_points: np.ndarray) -> None:
    # Given the sample's landmarks reflected across the facial midline
    ref = _reflect(sample_points[: topo.N_MESH])
    iod = float(np.hypot(*(sample_points[topo.IRIS_CENTRE_R] - sample_points[topo.IRIS_CENTRE_L])))
    # Then every mirror pair lands on its partner, within what a slightly turned face allows.
    for r, left in topo.MIRROR.items():
        assert np.hypot(*(ref[r] - sample_points[left])) < 0.12 * iod, (r, left)


def test_both_sides_use_the_same_chain_shape() -> None:
    assert len(topo.CHEEK_R) == len(topo.CHEEK_L) and topo.mirrored(topo.CHEEK_R) == topo.CHEEK_L
    assert topo.mirrored(topo.UNDEREYE_R) == topo.UNDEREYE_L
    # The cheek and the under-eye share the infraorbital ring, so they tile without a seam.
    ring = set(topo.UNDEREYE_L) & set(topo.CHEEK_L)
    assert {340, 346, 347, 348, 349, 350, 357, 372} <= ring


def test_every_region_reports_its_visibility(sample_result: RenderResult) -> None:
    vis = sample_result.visibility
    assert set(vis) == set(sample_result.regions) | set(sample_result.missing)
    for name, v in vis.items():
        assert 0.0 <= v["visible_fraction"] <= 1.0, name
        assert set(v["occluded_by"]) <= {"hair", "background", "outside_frame", "turned_away"}, name
    for name in ("left_cheek", "right_cheek", "left_undereye", "right_undereye", "nose", "chin"):
        assert vis[name]["visible_fraction"] >= 0.9, name


def test_a_fringe_is_reported_on_the_forehead(sample_inputs: FaceInputs, sample_result: RenderResult) -> None:
    # Given the sample with the upper two thirds of its forehead painted as hair (a fringe)
    t = np.array(sample_result.transform)
    forehead = raster(sample_result.regions["forehead"], sample_result.size).astype(np.uint8)
    ys = np.nonzero(forehead)[0]
    forehead[int(ys.min() + (ys.max() - ys.min()) * 2 / 3) :] = 0
    h, w = sample_inputs.labels.shape
    fringe = cv2.warpAffine(forehead, cv2.invertAffineTransform(t), (w, h), flags=cv2.INTER_NEAREST) > 0
    labels = sample_inputs.labels.copy()
    labels[fringe & (labels == 1)] = 10
    res = render_inputs(FaceInputs(sample_inputs.image, labels, sample_inputs.landmarks))
    # Then the forehead says hair hides part of it, instead of silently shrinking
    before, after = sample_result.visibility["forehead"], res.visibility["forehead"]
    assert "hair" in after["occluded_by"]
    assert after["visible_fraction"] < before["visible_fraction"] - 0.2
    # and the cheeks are not affected.
    assert res.visibility["left_cheek"] == sample_result.visibility["left_cheek"]


def _fingerprint(result: RenderResult) -> str:
    rounded = {name: np.round(np.array(poly)).astype(int).tolist() for name, poly in result.regions.items()}
    doc = json.dumps({"regions": rounded, "missing": result.missing}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


# The cache keys results by content hash + PIPELINE_VERSION: new geometry under an old version would
# serve stale results. Changing the regions? Bump PIPELINE_VERSION and record the new pair here.
GOLDEN = {"1.2.0": "eb6c1805c684572c", "1.2.1": "eb6c1805c684572c", "1.3.0": "9ca59c6583f9c63c"}


def test_region_geometry_changes_come_with_a_version_bump(sample_result: RenderResult) -> None:
    assert PIPELINE_VERSION in GOLDEN, f"record {PIPELINE_VERSION}: {_fingerprint(sample_result)}"
    assert _fingerprint(sample_result) == GOLDEN[PIPELINE_VERSION], (
        "the sample's regions changed: bump PIPELINE_VERSION (core/version.py) and record "
        f'"{PIPELINE_VERSION}": "{_fingerprint(sample_result)}" under the new version'
    )


@pytest.mark.skipif(not (SHARED / "faces").is_dir(), reason="../shared/faces is absent")
def test_the_issue_bars_hold_on_the_real_faces() -> None:
    # Given the QOVES sample, the customer's example face and every real face in ../shared
    _, bars = fid.run(fid_cases.discover(SAMPLE, SHARED))
    # Then every bar of `make fidelity` passes (customer shapes, ears, labels, skin, partition).
    failed = [f"{b.name}: {b.detail}" for b in bars if b.passed is False]
    assert failed == []
