"""Render docs/face.png, docs/regions.png and docs/zones.png from the bundled QOVES sample (never
from ../shared/faces).

.venv/bin/python docs/tools/region_pictures.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import resvg_py
from facesvg.core.options import RenderOptions
from facesvg.core.pipeline import render
from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "qoves"
THUMB = 256


def _png(svg: bytes, width: int) -> np.ndarray:
    data = bytes(resvg_py.svg_to_bytes(svg_string=svg.decode(), width=width, background="#fafafa"))
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


def _sheet(region_svgs: dict[str, bytes], names: tuple[str, ...]) -> np.ndarray:
    """One labelled thumbnail per name, four to a row."""
    tiles = []
    for name in names:
        tile = _png(region_svgs[name], THUMB) if name in region_svgs else None
        if tile is None:
            tile = np.full((THUMB, THUMB, 3), 250, np.uint8)
        cv2.putText(tile, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = [np.hstack(tiles[i : i + 4]) for i in range(0, len(tiles), 4)]
    return np.vstack(rows)


def main() -> None:
    result = render(
        (SAMPLE / "original_image.png").read_bytes(),
        (SAMPLE / "segmentation_map.png").read_bytes(),
        (SAMPLE / "landmarks.txt").read_bytes(),
        RenderOptions(zones="all"),
    )
    docs = REPO / "docs"
    standard = render(
        (SAMPLE / "original_image.png").read_bytes(),
        (SAMPLE / "segmentation_map.png").read_bytes(),
        (SAMPLE / "landmarks.txt").read_bytes(),
    )
    cv2.imwrite(str(docs / "face.png"), _png(standard.svg, 768))
    cv2.imwrite(str(docs / "regions.png"), _sheet(result.region_svgs, REGION_NAMES))
    cv2.imwrite(str(docs / "zones.png"), _sheet(result.region_svgs, ZONE_NAMES))


if __name__ == "__main__":
    main()
