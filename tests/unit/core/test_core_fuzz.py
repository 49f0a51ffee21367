"""Fuzz: whatever a client sends, the core either succeeds or raises one InputError, never crashes."""

from __future__ import annotations

import json

import numpy as np
from facesvg.core.errors import InputError
from facesvg.core.label_maps import decode_labels
from facesvg.core.landmark_formats import parse_landmarks
from facesvg.core.photo_decoding import decode_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(["x", "y", "landmarks", "dimensions"]), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=examples(150), deadline=None)
@given(JSONISH)
def test_any_json_document_is_parsed_or_rejected(doc: object) -> None:
    for raw in (json.dumps(doc), repr(doc), doc):
        try:
            lm = parse_landmarks(raw)  # type: ignore[arg-type]
        except InputError as exc:
            assert exc.field == "landmarks"
        else:
            assert lm.points.shape in ((468, 2), (478, 2))


@settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_corrupted_images_are_rejected_cleanly(sample_bytes: dict[str, bytes], data: st.DataObject) -> None:
    original = sample_bytes["segmentation"]
    buf = bytearray(original)
    n = data.draw(st.integers(1, 8))
    for _ in range(n):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    mutated = bytes(buf[:cut] if data.draw(st.booleans()) else buf)
    for decode in (decode_image, decode_labels):
        try:
            out = decode(mutated)
        except InputError as exc:
            assert exc.field in ("image", "segmentation_map")
        else:
            assert isinstance(out, np.ndarray) and out.dtype == np.uint8
