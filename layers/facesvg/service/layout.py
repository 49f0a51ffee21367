"""Where things live in the data bucket.

=====================================  =================================================
``inputs/<hash>/``                      image, segmentation_map, landmarks.json, options.json
``results/<hash>/``                     face.svg, regions/<name>.svg, result.json,
                                        result.geojson, result.coco.json (immutable)
``incoming/<name>/<file>``              the drop folder (three fixed file names)
``results/<name>/``                     a drop folder's copy of its job's results, job.json,
                                        or error.json
=====================================  =================================================
"""

from __future__ import annotations

import re

from facesvg import names

INGEST_IMAGE_FILES = (
    "image.png",
    "image.jpg",
    "image.jpeg",
    "image.webp",
    "image.heic",
    "image.heif",
    "image.avif",
)
INGEST_MAP_FILES = ("segmentation_map.png",)
INGEST_LANDMARK_FILES = ("landmarks.json", "landmarks.txt")
INGEST_FILES = frozenset(INGEST_IMAGE_FILES + INGEST_MAP_FILES + INGEST_LANDMARK_FILES)

_INGEST_NAME = re.compile(names.INGEST_NAME_PATTERN)
# Region names become object keys: only these ever do (the core's names all match).
_REGION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# -- inputs/<hash>/ ------------------------------------------------------------------------


def input_prefix(content_hash: str) -> str:
    return f"{names.PREFIX_INPUTS}{content_hash}/"


def input_keys(content_hash: str) -> dict[str, str]:
    """Input name → key (the names ``worker`` reads back)."""
    prefix = input_prefix(content_hash)
    return {
        "image": f"{prefix}image",
        "segmentation_map": f"{prefix}segmentation_map",
        "landmarks": f"{prefix}landmarks.json",
        "options": f"{prefix}options.json",
    }


# -- results/<hash>/ -----------------------------------------------------------------------


def results_prefix(content_hash: str) -> str:
    return f"{names.PREFIX_RESULTS}{content_hash}/"


def is_safe_region_name(name: str) -> bool:
    return _REGION_NAME.match(name) is not None


def region_key(prefix: str, region: str) -> str:
    return f"{prefix}regions/{region}.svg"


def svg_key(prefix: str) -> str:
    return f"{prefix}face.svg"


def result_json_key(prefix: str) -> str:
    return f"{prefix}result.json"


# The result documents besides face.svg: name -> content type (status presigns a URL for each).
RESULT_DOCUMENTS = {
    "result.json": "application/json",
    "result.geojson": "application/geo+json",
    "result.coco.json": "application/json",
}


def result_document_key(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


# -- the drop folder -----------------------------------------------------------------------


def is_drop_name(name: str) -> bool:
    return _INGEST_NAME.match(name) is not None


def incoming_folder(name: str) -> str:
    return f"{names.PREFIX_INCOMING}{name}/"


def parse_incoming_key(key: str) -> tuple[str, str] | None:
    """``incoming/<name>/<file>`` → (name, file), or None for anything else (no path tricks:
    exactly two segments, a strict name pattern and a fixed set of file names)."""
    if not key.startswith(names.PREFIX_INCOMING):
        return None
    parts = key[len(names.PREFIX_INCOMING) :].split("/")
    if len(parts) != 2:
        return None
    name, file_name = parts
    if not is_drop_name(name) or file_name not in INGEST_FILES:
        return None
    return name, file_name


def drop_results_prefix(name: str) -> str:
    return f"{names.PREFIX_RESULTS}{name}/"


def drop_pointer_key(name: str) -> str:
    """``results/<name>/job.json``: which job serves this drop folder."""
    return f"{drop_results_prefix(name)}job.json"


def drop_error_key(name: str) -> str:
    return f"{drop_results_prefix(name)}error.json"
