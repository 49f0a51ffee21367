"""Submit request bodies from files: the photo, the optional label map and the landmarks (JSON or
QOVES ``landmarks.txt``), and the bundled QOVES sample's."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path
from typing import Any

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "samples" / "qoves"
SAMPLE_IMAGE = SAMPLE_DIR / "original_image.png"
SAMPLE_MAP = SAMPLE_DIR / "segmentation_map.png"


def read_landmarks(path: Path) -> Any:
    """JSON, or a QOVES ``landmarks.txt`` (a Python literal, read with ``ast.literal_eval``)."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = ast.literal_eval(text)
    if isinstance(doc, dict):  # keep what the API reads; drop extras such as image_url
        return {k: doc[k] for k in ("landmarks", "dimensions") if k in doc}
    return doc


def build_payload(
    image: Path, segmentation: Path | None, landmarks: Path, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The submit body; ``segmentation`` None: no map is sent."""
    body: dict[str, Any] = {"image": base64.b64encode(image.read_bytes()).decode("ascii")}
    if segmentation is not None:
        body["segmentation_map"] = base64.b64encode(segmentation.read_bytes()).decode("ascii")
    body["landmarks"] = read_landmarks(landmarks)
    if options:
        body["options"] = options
    return body


def sample_payload(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body for the bundled QOVES sample."""
    return build_payload(SAMPLE_IMAGE, SAMPLE_MAP, SAMPLE_DIR / "landmarks.txt", options)
