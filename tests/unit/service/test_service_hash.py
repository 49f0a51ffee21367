"""Content hash and input canonicalisation."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service.hashing import canonical_landmarks, canonical_options, content_hash, decode_base64
from service_fakes import FakeLandmarks, make_harness


def _hash(**overrides: bytes | str) -> str:
    parts: dict[str, bytes | str] = {
        "image": b"img",
        "segmentation_map": b"map",
        "landmarks_json": b"[]",
        "options_json": b"{}",
        "pipeline_version": "1",
    }
    parts.update(overrides)
    return content_hash(**parts)  # type: ignore[arg-type]


def test_hash_is_stable_and_depends_on_every_part() -> None:
    base = _hash()
    assert base == _hash()
    changed = {
        _hash(image=b"img2"),
        _hash(segmentation_map=b"map2"),
        _hash(landmarks_json=b"[1]"),
        _hash(options_json=b'{"a":1}'),
        _hash(pipeline_version="2"),
    }
    assert base not in changed and len(changed) == 5


def test_hash_parts_are_length_prefixed() -> None:
    # Moving a byte from one part to the next must change the hash.
    assert _hash(image=b"ab", segmentation_map=b"c") != _hash(image=b"a", segmentation_map=b"bc")


def test_canonical_landmarks_round_and_ignore_float_noise() -> None:
    a = FakeLandmarks(np.array([[1.00000001, 2.0], [3.0, 4.0]]), (10, 20))
    b = FakeLandmarks(np.array([[1.0, 2.0], [3.0, 4.0000000004]]), (10, 20))
    c = FakeLandmarks(np.array([[1.01, 2.0], [3.0, 4.0]]), (10, 20))
    assert canonical_landmarks(a) == canonical_landmarks(b) != canonical_landmarks(c)
    assert b'"dimensions":[10,20]' in canonical_landmarks(a)


def test_canonical_options_include_defaults() -> None:
    assert canonical_options(RenderOptions.model_validate({})) == canonical_options(
        RenderOptions.model_validate({"canvas_size": 1024})
    )
    assert canonical_options(RenderOptions.model_validate({"canvas_size": 512})) != canonical_options(
        RenderOptions.model_validate({})
    )


def test_an_option_at_its_default_does_not_enter_the_hash() -> None:
    # zones came after the first results were cached: "standard" (its default) must hash as before
    assert canonical_options(RenderOptions.model_validate({"zones": "standard"})) == b"{}"
    assert canonical_options(RenderOptions.model_validate({"zones": "all"})) == b'{"zones":"all"}'


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(b"hello").decode(),
        "data:image/png;base64," + base64.b64encode(b"hello").decode(),
        "aGVs\nbG8=",
    ],
)
def test_decode_base64_accepts_plain_data_urls_and_line_breaks(text: str) -> None:
    assert decode_base64(text, "image") == b"hello"


@pytest.mark.parametrize("text", ["not base64!", "aGVsbG8", ""])
def test_decode_base64_rejects_garbage_naming_the_field(text: str) -> None:
    with pytest.raises(InputError) as err:
        decode_base64(text, "segmentation_map")
    assert err.value.field == "segmentation_map"


def test_prepare_hashes_without_validating_images() -> None:
    h = make_harness()
    p1 = h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], RenderOptions.model_validate({}))
    p2 = h.service.prepare(b"img", b"map", [[1, 2], [3, 4.0000001]], RenderOptions.model_validate({}))
    assert p1.content_hash == p2.content_hash
    assert h.core.validations == 0


def test_normalised_landmarks_keep_their_precision_until_scaled() -> None:
    # Given MediaPipe's 0..1 output for a 4000 px photo (issue 14.9: rounded to 3 decimals before
    # scaling, points moved up to 2 px)
    from facesvg.core.landmark_formats import landmarks_in_image, parse_landmarks

    rng = np.random.default_rng(5)
    norm = rng.uniform(0.2, 0.8, (478, 2))
    parsed = parse_landmarks([{"x": x, "y": y} for x, y in norm.tolist()])
    # When canonicalised (what is hashed, stored and rendered) and scaled to the photo
    stored = parse_landmarks(canonical_landmarks(parsed))
    pixels = landmarks_in_image(stored, 4000, 3000)
    # Then every point is where the unrounded one would be, to 1/1000 px
    np.testing.assert_allclose(pixels, norm * (4000, 3000), atol=1e-3, rtol=0)
    # and pixel documents are still rounded to 1/1000 px
    px = parse_landmarks({"landmarks": [[{"x": 1.23456789, "y": 2.0}] * 478], "dimensions": [10, 10]})
    assert b'"x":1.235' in canonical_landmarks(px)


def test_a_job_without_a_map_hashes_unlike_any_job_with_one() -> None:
    # The "no map" marker stands where a map's length prefix would: no map (not even an empty one,
    # nor one whose bytes are the marker) and no shifting of the other parts hashes alike.
    without = content_hash(b"img", None, b"lm", b"{}", "v1")
    assert without == content_hash(b"img", None, b"lm", b"{}", "v1")
    for seg in (b"", b"\xff" * 8, b"map"):
        assert without != content_hash(b"img", seg, b"lm", b"{}", "v1")
    assert without != content_hash(b"img", b"lm", b"{}", b"", "v1")


def test_prepare_without_a_map_keeps_it_absent() -> None:
    h = make_harness()
    with_map = h.service.prepare(b"img", b"map", [[1.0, 2.0]], RenderOptions())
    without = h.service.prepare(b"img", None, [[1.0, 2.0]], RenderOptions())
    assert without.segmentation_map is None
    assert without.content_hash != with_map.content_hash
