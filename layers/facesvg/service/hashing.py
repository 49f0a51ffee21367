"""The content hash: decoded inputs, canonical landmarks and options, and the pipeline version.

Identical inputs hash alike however they were sent (base64 with or without a ``data:`` prefix,
landmarks as a list, an object or ``landmarks.txt`` text, options with or without defaults), and the
canonical forms are also what is stored and rendered, so a hash always describes what gets rendered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from facesvg.core.errors import Field as InputField
from facesvg.core.errors import InputError
from facesvg.core.options import Limits, RenderOptions
from facesvg.service.ports import LandmarkDocument, LandmarksLike, RenderCore

HASH_DOMAIN = b"facesvg/content-hash/v1\n"
# In the length prefix's place when no segmentation map was sent: no real part is 2^64 - 1 bytes
# long, so a job without a map never hashes like one with any map (an empty one included).
NO_MAP = (2**64 - 1).to_bytes(8, "big")
LANDMARK_DECIMALS = 3  # 1/1000 px: below any visible difference, above float noise

_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,", re.IGNORECASE)


def decode_base64(value: str, field: InputField) -> bytes:
    """Strict base64 (a ``data:…;base64,`` prefix and line breaks are tolerated)."""
    text = _DATA_URL.sub("", value.strip(), count=1)
    if any(ws in text for ws in (" ", "\n", "\r", "\t")):  # each test is one C-speed scan
        text = "".join(text.split())
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(field, "is not valid base64", code="InvalidBase64") from exc
    if not data:
        raise InputError(field, "is empty", code="Empty")
    return data


def canonical_landmarks(landmarks: LandmarksLike) -> bytes:
    """Landmarks as canonical JSON in the QOVES shape (points rounded, dimensions kept).

    The same document is stored as ``inputs/<hash>/landmarks.json`` and is what the worker
    renders, so the hash always describes exactly what gets rendered.
    """
    # 0..1 coordinates are scaled to the photo later: keep 1/1000 px up to a 10^6 px side.
    decimals = LANDMARK_DECIMALS + 6 if landmarks.normalised else LANDMARK_DECIMALS
    points = [
        {"x": round(float(x), decimals), "y": round(float(y), decimals)} for x, y in landmarks.points.tolist()
    ]
    doc: dict[str, Any] = {"landmarks": [points]}
    if landmarks.dimensions is not None:
        doc["dimensions"] = [int(d) for d in landmarks.dimensions]
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def canonical_options(options: RenderOptions) -> bytes:
    """Only what differs from the defaults: a new option (with a default that keeps today's output)
    leaves every existing request's hash as it was."""
    doc = options.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def content_hash(
    image: bytes,
    segmentation_map: bytes | None,
    landmarks_json: bytes,
    options_json: bytes,
    pipeline_version: str,
) -> str:
    """sha256 over length-prefixed parts, so no two different inputs share a byte stream (``NO_MAP``
    stands for a map that was not sent)."""
    digest = hashlib.sha256(HASH_DOMAIN)
    for part in (pipeline_version.encode(), image, segmentation_map, landmarks_json, options_json):
        if part is None:
            digest.update(NO_MAP)
            continue
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class PreparedInputs:
    """Decoded, canonicalised inputs and their content hash (no pixels decoded yet)."""

    image: bytes
    segmentation_map: bytes | None  # None: not sent (the core derives the labels)
    landmarks_json: bytes
    options: RenderOptions
    options_json: bytes
    content_hash: str


def prepare(
    core: RenderCore,
    limits: Limits,
    image: bytes,
    segmentation_map: bytes | None,
    landmarks: LandmarkDocument,
    options: RenderOptions,
) -> PreparedInputs:
    """Canonicalise and hash. Cheap: parses the landmarks, never decodes the images."""
    for fld, data in (("image", image), ("segmentation_map", segmentation_map)):
        if data is not None and len(data) > limits.max_image_bytes:
            raise InputError(fld, f"is larger than {limits.max_image_bytes} bytes", code="TooLarge")  # type: ignore[arg-type]
    landmarks_json = canonical_landmarks(core.parse_landmarks(landmarks, face_index=options.face_index))
    options_json = canonical_options(options)
    digest = content_hash(image, segmentation_map, landmarks_json, options_json, core.pipeline_version)
    return PreparedInputs(image, segmentation_map, landmarks_json, options, options_json, digest)
