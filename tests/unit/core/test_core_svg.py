"""SVG output: valid XML in the QOVES structure and style, deterministic, nothing from the request."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from facesvg.core.inputs import FaceInputs
from facesvg.core.options import RegionStyle, RenderOptions
from facesvg.core.pipeline import PIPELINE_VERSION, STAGES, RenderResult, render, render_inputs

NS = {"svg": "http://www.w3.org/2000/svg", "xlink": "http://www.w3.org/1999/xlink"}
QOVES_STYLE = {
    "fill": "#AFC0C4",
    "fill-opacity": "0.5",
    "stroke": "#80929C",
    "stroke-width": "2",
    "stroke-dasharray": "4,2",
}
NUMBER = re.compile(r"-?\d+(?:\.(\d+))?")


def _photo(root: ET.Element) -> np.ndarray:
    image = root.find("svg:image", NS)
    assert image is not None
    href = image.get(f"{{{NS['xlink']}}}href") or image.get("href") or ""
    assert href.startswith("data:image/png;base64,")
    img = cv2.imdecode(np.frombuffer(base64.b64decode(href.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_face_svg_structure_and_style(sample_result: RenderResult) -> None:
    root = ET.fromstring(sample_result.svg)
    assert root.tag == f"{{{NS['svg']}}}svg"
    assert root.get("viewBox") == "0 0 1024 1024"
    clip = root.find("svg:defs/svg:clipPath", NS)
    assert clip is not None and clip.get("id") == "mask_profile"
    assert clip.find("svg:path", NS) is not None
    image = root.find("svg:image", NS)
    assert image is not None and image.get("clip-path") == "url(#mask_profile)"
    assert _photo(root).shape == (1024, 1024, 3)
    paths = root.findall("svg:g/svg:path", NS)
    ids = [p.get("id") for p in paths]
    assert ids == [f"region-{n}" for n in sample_result.regions if n != "face"]
    for p in paths:
        assert {k: p.get(k) for k in QOVES_STYLE} == QOVES_STYLE


def test_region_files_hold_one_styled_path_each(sample_result: RenderResult) -> None:
    assert set(sample_result.region_svgs) == set(sample_result.regions)
    for name, doc in sample_result.region_svgs.items():
        root = ET.fromstring(doc)
        paths = root.findall("svg:g/svg:path", NS)
        assert [p.get("id") for p in paths] == [f"region-{name}"]
        assert {k: paths[0].get(k) for k in QOVES_STYLE} == QOVES_STYLE
        assert root.find("svg:defs/svg:clipPath", NS) is not None


def test_path_data_matches_the_published_polygons(sample_result: RenderResult) -> None:
    root = ET.fromstring(sample_result.region_svgs["nose"])
    d = root.findall("svg:g/svg:path", NS)[0].get("d") or ""
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    np.testing.assert_allclose(
        np.array(nums).reshape(-1, 2), np.array(sample_result.regions["nose"]), atol=0.005
    )
    assert d.startswith("M ") and d.endswith(" Z")


def test_coordinates_have_at_most_two_decimals(sample_result: RenderResult) -> None:
    root = ET.fromstring(sample_result.svg)
    for el in root.iter():
        d = el.get("d")
        if d:
            assert all(len(m.group(1) or "") <= 2 for m in NUMBER.finditer(d))
    for poly in sample_result.regions.values():
        for x, y in poly:
            assert round(x, 2) == x and round(y, 2) == y


def test_style_is_overridable(sample_inputs: FaceInputs) -> None:
    style = RegionStyle(
        fill="#112233", fill_opacity=0.25, stroke="#445566", stroke_width=1.5, stroke_dasharray="none"
    )
    res = render_inputs(sample_inputs, RenderOptions(style=style))
    p = ET.fromstring(res.region_svgs["nose"]).findall("svg:g/svg:path", NS)[0]
    assert (
        p.get("fill"),
        p.get("fill-opacity"),
        p.get("stroke"),
        p.get("stroke-width"),
        p.get("stroke-dasharray"),
    ) == (
        "#112233",
        "0.25",
        "#445566",
        "1.5",
        "none",
    )


@pytest.mark.parametrize(("fmt", "mime"), [("jpeg", "image/jpeg"), ("webp", "image/webp")])
def test_embedded_photo_format_option(
    fmt: str, mime: str, sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    res = render_inputs(sample_inputs, RenderOptions(image_format=fmt, image_quality=80))  # type: ignore[arg-type]
    assert f'href="data:{mime};base64,'.encode() in res.svg
    assert len(res.svg) < len(sample_result.svg) / 2
    assert res.regions == sample_result.regions  # the photo encoding does not move any contour


def test_canvas_size_option_scales_everything(sample_inputs: FaceInputs, sample_result: RenderResult) -> None:
    res = render_inputs(sample_inputs, RenderOptions(canvas_size=512))
    assert res.size == (512, 512)
    assert ET.fromstring(res.svg).get("viewBox") == "0 0 512 512"
    a = np.mean(res.regions["nose"], axis=0) * 2
    b = np.mean(sample_result.regions["nose"], axis=0)
    assert np.hypot(*(a - b)) < 3.0


def test_same_input_gives_byte_identical_output(
    sample_bytes: dict[str, bytes], sample_result: RenderResult
) -> None:
    again = render(sample_bytes["image"], sample_bytes["segmentation"], sample_bytes["landmarks"])
    assert again.svg == sample_result.svg
    assert again.region_svgs == sample_result.region_svgs
    a, b = again.to_json(), sample_result.to_json()
    a.pop("timings_ms"), b.pop("timings_ms")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_result_json_contract(sample_result: RenderResult) -> None:
    doc = json.loads(json.dumps(sample_result.to_json()))
    assert set(doc) == {
        "size", "source_size", "transform", "inverse_transform", "rotation_deg", "regions", "zones",
        "regions_source_px", "zones_source_px", "missing", "visibility", "subject_on_image_left", "scale",
        "areas", "timings_ms", "face_index", "segmentation",
    }  # fmt: skip
    assert doc["segmentation"] == {"source": "client"}
    assert set(doc["visibility"]) == set(doc["regions"]) | set(doc["missing"])
    assert doc["size"] == [1024, 1024]
    assert np.array(doc["transform"]).shape == (2, 3)
    assert set(doc["timings_ms"]) == set(STAGES)
    assert all(v >= 0 for v in doc["timings_ms"].values())
    for poly in doc["regions"].values():
        assert len(poly) >= 12 and all(len(p) == 2 for p in poly)
    assert PIPELINE_VERSION


def test_nothing_from_the_request_reaches_the_svg(sample_result: RenderResult) -> None:
    # The QOVES landmark file carries an image_url; no request text is ever written out.
    text = sample_result.svg.decode()
    assert "supabase" not in text and "http" not in text.replace("http://www.w3.org", "")


def test_photo_outside_the_silhouette_is_blanked(sample_result: RenderResult) -> None:
    photo = _photo(ET.fromstring(sample_result.svg))
    # The corners are far outside the head: blank. The face centre is the real photo.
    assert photo[:40, :40].max() == 0
    assert photo[480:540, 480:540].mean() > 60


def test_region_files_equal_single_region_documents(sample_result: RenderResult) -> None:
    # The per-region files come from a template; they must equal a document built for that region.
    from facesvg.core import svg
    from facesvg.core.options import RegionStyle

    doc = sample_result.region_svgs["chin"]
    tail = doc.split(b'href="', 1)[1]
    href = tail.split(b'"', 1)[0]
    root = ET.fromstring(sample_result.svg)
    clip = root.find("svg:defs/svg:clipPath/svg:path", NS)
    assert clip is not None
    d = svg.path_d([np.array(sample_result.regions["chin"])])
    assert svg.document((1024, 1024), clip.get("d") or "", [("chin", d)], RegionStyle(), href) == doc


def test_output_does_not_depend_on_opencv_threads(
    sample_inputs: FaceInputs, sample_result: RenderResult
) -> None:
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = render_inputs(sample_inputs)
    finally:
        cv2.setNumThreads(threads)
    assert single.svg == sample_result.svg
