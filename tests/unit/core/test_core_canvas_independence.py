"""What exists on the face does not depend on the output's resolution (``canvas_size``).

The same face rendered at 128 px and at the default 1024 px has the same regions and zones, the same
``missing`` list and visibility, and the same outlines in the photo's pixels (GeoJSON, COCO,
``*_source_px``); only the canvas-pixel outputs are scaled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_helpers import SAMPLE, iou, raster
from facesvg.commands import fidelity_cases as fid_cases
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import RenderResult, render

FACES = fid_cases.DEFAULT_SHARED / "faces"
MIN_IOU = 0.97  # in photo pixels; the outlines differ only by the canvas-pixel rounding (< 0.1 px)


def _case(folder: Path) -> tuple[bytes, bytes, bytes]:
    if folder == SAMPLE:
        return (
            (folder / "original_image.png").read_bytes(),
            (folder / "segmentation_map.png").read_bytes(),
            (folder / "landmarks.txt").read_bytes(),
        )
    image = next(p for p in sorted(folder.glob("image.*")))
    return (
        image.read_bytes(),
        (folder / "segmentation_map.png").read_bytes(),
        (folder / "landmarks.json").read_bytes(),
    )


def _real_faces() -> list[Path]:
    return sorted(p for p in FACES.iterdir() if (p / "landmarks.json").is_file()) if FACES.is_dir() else []


def _render(folder: Path, canvas: int) -> RenderResult:
    image, segmentation, landmarks = _case(folder)
    return render(image, segmentation, landmarks, RenderOptions(canvas_size=canvas, zones="all"))


def _assert_same_face(small: RenderResult, default: RenderResult, canvas: int) -> None:
    # The same regions and zones exist, with the same visibility, and the same ones are missing
    assert set(small.regions) == set(default.regions)
    assert set(small.zones) == set(default.zones)
    assert small.missing == default.missing
    assert small.visibility == default.visibility
    # and in the photo's pixels they are the same outlines (GeoJSON and COCO are made from these)
    size = default.source_size
    got, want = small.source_px(small.polygons()), default.source_px(default.polygons())
    overlap = {name: iou(raster(got[name], size), raster(want[name], size)) for name in want}
    assert min(overlap.values()) >= MIN_IOU, sorted(overlap.items(), key=lambda kv: kv[1])[:3]
    features = {f["properties"]["name"] for f in small.geojson()["features"]}
    assert features == set(default.polygons())
    # while the canvas-pixel outputs are the output's own size
    assert small.size == (canvas, canvas)
    assert np.asarray(small.regions["face"]).max() <= canvas


@pytest.mark.parametrize("canvas", [128, 256])
def test_the_sample_has_the_same_regions_and_outlines_at_any_canvas_size(canvas: int) -> None:
    _assert_same_face(_render(SAMPLE, canvas), _render(SAMPLE, 1024), canvas)


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is absent")
@pytest.mark.parametrize("folder", _real_faces(), ids=lambda p: p.name)
def test_real_faces_have_the_same_regions_and_outlines_at_128_px(folder: Path) -> None:
    _assert_same_face(_render(folder, 128), _render(folder, 1024), 128)
