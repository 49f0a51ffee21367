"""The result in other formats clients load directly: GeoJSON and COCO, in the input photo's pixels.

GeoJSON here is planar: coordinates are pixels (x right, y down), not longitude/latitude, as
image-annotation tools read it (the RFC's CRS does not apply; there is no ``crs`` member).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES, layer_of, viewer_side

Polygon = Sequence[Sequence[float]]


def polygon_area(poly: Polygon | np.ndarray) -> float:
    """Shoelace area of a closed polygon (vertices not repeated)."""
    p = np.asarray(poly, np.float64)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2)


def subject_side(name: str, subject_on_viewer_left: str) -> str | None:
    """The subject's own side of a viewer-side name (``subject_on_viewer_left``: "right"/"left")."""
    side = viewer_side(name)
    if side is None:
        return None
    other = "left" if subject_on_viewer_left == "right" else "right"
    return subject_on_viewer_left if side == "left" else other


def _ring(poly: Polygon) -> list[list[float]]:
    ring = [[round(float(x), 2), round(float(y), 2)] for x, y in poly]
    return [*ring, ring[0]]


def geojson(
    polygons: Mapping[str, Polygon],
    areas: Mapping[str, Mapping[str, float | None]],
    visibility: Mapping[str, Mapping[str, Any]],
    subject_on_viewer_left: str,
) -> dict[str, Any]:
    """A FeatureCollection, one Polygon Feature per region and zone (source-photo pixels)."""
    features = []
    for name, poly in polygons.items():
        features.append(
            {
                "type": "Feature",
                "id": name,
                "geometry": {"type": "Polygon", "coordinates": [_ring(poly)]},
                "properties": {
                    "name": name,
                    "layer": layer_of(name),
                    "side_image": viewer_side(name),
                    "side_subject": subject_side(name, subject_on_viewer_left),
                    "area_px": areas[name]["source_px2"],
                    "area_mm2": areas[name]["mm2"],
                    "visible_fraction": visibility[name]["visible_fraction"],
                    "occluded_by": visibility[name]["occluded_by"],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


CATEGORIES = [
    {"id": i + 1, "name": name, "supercategory": layer_of(name)}
    for i, name in enumerate((*REGION_NAMES, *ZONE_NAMES))
]
_CATEGORY_ID = {c["name"]: c["id"] for c in CATEGORIES}


def coco(polygons: Mapping[str, Polygon], width: int, height: int, file_name: str) -> dict[str, Any]:
    """COCO instance annotations: one image, a polygon segmentation + bbox + area per region/zone."""
    annotations = []
    for i, (name, poly) in enumerate(polygons.items(), start=1):
        p = np.asarray(poly, np.float64)
        x0, y0 = p.min(0)
        x1, y1 = p.max(0)
        annotations.append(
            {
                "id": i,
                "image_id": 1,
                "category_id": _CATEGORY_ID[name],
                "segmentation": [[round(float(v), 2) for v in p.ravel()]],
                "bbox": [
                    round(float(x0), 2),
                    round(float(y0), 2),
                    round(float(x1 - x0), 2),
                    round(float(y1 - y0), 2),
                ],
                "area": round(polygon_area(p), 2),
                "iscrowd": 0,
            }
        )
    return {
        "info": {"description": "facesvg regions and zones", "version": "1.0"},
        "images": [{"id": 1, "width": width, "height": height, "file_name": file_name}],
        "categories": CATEGORIES,
        "annotations": annotations,
    }
