"""Aesthetic zones, both coordinate frames, the iris scale and the GeoJSON/COCO exports."""

from __future__ import annotations

import itertools
import json

import geojson
import numpy as np
import pytest
from core_helpers import raster
from facesvg.commands.fidelity_metrics import rasterize
from facesvg.core import exports
from facesvg.core.inputs import FaceInputs
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import RenderResult, render, render_inputs
from facesvg.core.region_names import ZONE_NAMES
from pydantic import ValidationError
from test_core_framing import _variant

ALL = RenderOptions(zones="all")


@pytest.fixture(scope="module")
def with_zones(sample_inputs: FaceInputs) -> RenderResult:
    return render_inputs(sample_inputs, ALL)


def test_every_zone_is_drawn_on_the_sample(with_zones: RenderResult) -> None:
    assert set(with_zones.zones) == set(ZONE_NAMES)
    assert [n for n in with_zones.missing if n in ZONE_NAMES] == []
    assert set(with_zones.visibility) >= set(ZONE_NAMES)


def test_zones_lie_on_the_face_on_their_side_and_never_overlap(with_zones: RenderResult) -> None:
    size = with_zones.size
    face = raster(with_zones.regions["face"], size).astype(bool)
    nose_x = float(np.mean(with_zones.regions["nose"], axis=0)[0])
    # pixel-centre rasterisation: a pixel belongs to a polygon when its centre does (fillPoly would
    # also give both neighbours the pixels their shared edge touches)
    masks = {n: rasterize(p, size) for n, p in with_zones.zones.items()}
    for name, mask in masks.items():
        assert mask.sum() > 300, name
        assert (mask & face).sum() / mask.sum() >= 0.95, name  # clipped to visible skin of the face
        x = float(np.mean(with_zones.zones[name], axis=0)[0])
        if name.startswith("left_"):
            assert x < nose_x, name
        elif name.startswith("right_"):
            assert x > nose_x, name
    for a, b in itertools.combinations(masks, 2):
        assert (masks[a] & masks[b]).sum() <= 0.001 * min(masks[a].sum(), masks[b].sum()), (a, b)


def test_zones_never_change_the_regions(sample_result: RenderResult, with_zones: RenderResult) -> None:
    assert with_zones.regions == sample_result.regions
    assert sample_result.zones == {}
    standard = RenderOptions(zones="standard")
    assert standard.layers() == RenderOptions().layers()


def test_face_svg_groups_the_layers_and_names_every_path(with_zones: RenderResult) -> None:
    import xml.etree.ElementTree as ET

    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(with_zones.svg)
    groups = {g.get("id"): g for g in root.findall("svg:g", ns)}
    assert set(groups) == {"regions", "zones"}
    zone_paths = groups["zones"].findall("svg:path", ns)
    assert [p.get("id") for p in zone_paths] == [f"region-{n}" for n in ZONE_NAMES]
    for p in zone_paths:
        name = (p.get("id") or "")[len("region-") :]
        side = "left" if name.startswith("left_") else "right" if name.startswith("right_") else "centre"
        assert p.get("class") == f"layer-zones side-{side}"
        assert p.findtext("svg:title", namespaces=ns) == name.replace("_", " ")
    # and one standalone SVG per zone, like the regions
    assert set(with_zones.region_svgs) == set(with_zones.regions) | set(with_zones.zones)


def test_an_explicit_list_draws_exactly_those(sample_inputs: FaceInputs) -> None:
    res = render_inputs(sample_inputs, RenderOptions(zones=["nose", "left_nasolabial", "glabella"]))
    assert set(res.regions) == {"nose"} and set(res.zones) == {"left_nasolabial", "glabella"}


@pytest.mark.parametrize(
    ("zones", "needle"),
    [
        (["nose", "dimple"], "dimple"),
        ([], "at least one"),
        (["nose", "nose"], "each once"),
        ("some", "standard"),
    ],
)
def test_unknown_zone_names_are_refused_by_name(zones: object, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        RenderOptions.model_validate({"zones": zones})


def test_source_frame_polygons_map_onto_the_canvas_ones(with_zones: RenderResult) -> None:
    doc = with_zones.to_json()
    m = np.array(doc["transform"])
    for layer in ("regions", "zones"):
        for name, poly in doc[f"{layer}_source_px"].items():
            back = np.array(poly) @ m[:, :2].T + m[:, 2]
            assert np.abs(back - np.array(doc[layer][name])).max() <= 0.05, name
    inv = np.array(doc["inverse_transform"])
    np.testing.assert_allclose(np.vstack([inv, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]]), np.eye(3), atol=1e-5)


def test_mm_per_px_from_the_iris_agrees_with_the_interpupillary_distance(
    sample_result: RenderResult, sample_points: np.ndarray
) -> None:
    scale = sample_result.scale
    assert scale is not None and scale["method"] == "iris"
    ipd_px = float(np.hypot(*(sample_points[468] - sample_points[473])))
    assert scale["mm_per_source_px"] == pytest.approx(63.0 / ipd_px, rel=0.10)
    areas = sample_result.areas()
    nose = areas["nose"]
    assert nose["mm2"] == pytest.approx(nose["source_px2"] * scale["mm_per_source_px"] ** 2, rel=1e-3)
    assert 300 < (nose["mm2"] or 0) < 3000  # a nose seen from the front: a few cm²


def test_no_iris_points_means_no_scale(sample_inputs: FaceInputs) -> None:
    res = render_inputs(FaceInputs(sample_inputs.image, sample_inputs.labels, sample_inputs.landmarks[:468]))
    assert res.scale is None and all(a["mm2"] is None for a in res.areas().values())


@pytest.mark.parametrize("kind", ["rotate", "scale", "pad", "jpeg"])
def test_the_scale_does_not_depend_on_framing(
    kind: str, sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    image, seg, lm, _ = _variant(sample_inputs, kind)
    res = render(image, seg, lm)
    assert res.scale is not None and sample_result.scale is not None
    assert res.scale["mm_per_px"] == pytest.approx(sample_result.scale["mm_per_px"], rel=0.02)


def test_geojson_is_valid_and_in_source_pixels(with_zones: RenderResult) -> None:
    doc = with_zones.geojson()
    parsed = geojson.loads(json.dumps(doc))
    assert parsed.is_valid, parsed.errors()
    names = [f["properties"]["name"] for f in doc["features"]]
    assert set(names) == set(with_zones.regions) | set(with_zones.zones)
    src = with_zones.source_px(with_zones.polygons())
    areas = with_zones.areas()
    for f in doc["features"]:
        p = f["properties"]
        ring = f["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        np.testing.assert_allclose(ring[:-1], src[p["name"]], atol=0.01)
        assert p["layer"] in ("regions", "zones") and p["area_px"] == areas[p["name"]]["source_px2"]
        assert p["visible_fraction"] == with_zones.visibility[p["name"]]["visible_fraction"]
    sides = {f["properties"]["name"]: f["properties"] for f in doc["features"]}
    # The sample is not mirrored: the viewer's left cheek is the subject's right one.
    assert (sides["left_cheek"]["side_image"], sides["left_cheek"]["side_subject"]) == ("left", "right")
    assert sides["glabella"]["side_subject"] is None


def test_coco_areas_and_boxes_match_the_polygons(with_zones: RenderResult) -> None:
    doc = with_zones.coco("original_image.png")
    assert doc["images"] == [{"id": 1, "width": 1101, "height": 1100, "file_name": "original_image.png"}]
    names = {c["id"]: c["name"] for c in doc["categories"]}
    src = with_zones.source_px(with_zones.polygons())
    assert len(doc["annotations"]) == len(src)
    for a in doc["annotations"]:
        poly = np.array(src[names[a["category_id"]]])
        assert a["area"] == pytest.approx(exports.polygon_area(poly), abs=0.01)
        x, y, w, h = a["bbox"]
        assert (x, y) == pytest.approx(tuple(poly.min(0)), abs=0.01)
        assert (x + w, y + h) == pytest.approx(tuple(poly.max(0)), abs=0.02)
        assert np.array(a["segmentation"][0]).reshape(-1, 2) == pytest.approx(poly, abs=0.01)
