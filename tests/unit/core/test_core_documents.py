"""Landmark documents: huge numbers and deep nesting are 400s naming the field; every document is
refused or parsed quickly and in little memory (issue 14, items 6 and 7)."""

from __future__ import annotations

import ast
import contextlib
import json
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from core_helpers import SAMPLE
from facesvg.core.documents import DocumentError, TooDeep, loads_json, loads_literal
from facesvg.core.errors import InputError
from facesvg.core.landmark_formats import parse_landmarks

_DOC = ast.literal_eval((SAMPLE / "landmarks.txt").read_text())
_POINTS = _DOC["landmarks"][0]


def _json_with(x: str | None = None, dims: str | None = None) -> str:
    doc = {"landmarks": [_POINTS], "dimensions": [1101, 1100]}
    text = json.dumps(doc)
    if x is not None:
        text = text.replace(json.dumps(_POINTS[10]["x"]), x, 1)
    if dims is not None:
        text = text.replace('"dimensions": [1101, 1100]', f'"dimensions": [{dims}, 1100]')
    return text


BIG = "1" + "0" * 400  # 10**400: an int Python holds, but no float does
HUGE = "9" * 5001  # beyond Python's int(str) limit of 4300 digits


@pytest.mark.parametrize("x", [BIG, "-" + BIG, HUGE])
def test_a_coordinate_beyond_float_range_is_non_finite_on_landmarks(x: str) -> None:
    for text in (_json_with(x=x), _json_with(x=x).replace('"', "'")):  # JSON and the QOVES literal
        with pytest.raises(InputError) as exc:
            parse_landmarks(text)
        assert (exc.value.field, exc.value.code) == ("landmarks", "NonFinite")


def test_a_parsed_document_with_a_huge_int_is_non_finite() -> None:
    pts = [{"x": p["x"], "y": p["y"]} for p in _POINTS]
    pts[3]["x"] = 10**400
    with pytest.raises(InputError) as exc:
        parse_landmarks({"landmarks": [pts]})
    assert exc.value.code == "NonFinite"


@pytest.mark.parametrize("dims", [BIG, HUGE, "1e400", "0.2"])
def test_dimensions_beyond_any_photo_are_invalid_landmarks(dims: str) -> None:
    for raw in (_json_with(dims=dims), json.loads(_json_with(dims=dims.replace(HUGE, BIG)))):
        with pytest.raises(InputError) as exc:
            parse_landmarks(raw)
        assert (exc.value.field, exc.value.code) == ("landmarks", "InvalidLandmarks")


def test_too_deep_json_names_its_top_level_key() -> None:
    deep = '{"image": "x", "landmarks": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(TooDeep) as exc:
        loads_json(deep)
    assert exc.value.key == "landmarks"
    with pytest.raises(TooDeep) as exc:
        loads_json("[" * 5000 + "]" * 5000)
    assert exc.value.key is None


@pytest.mark.parametrize(
    "text",
    [
        "{'landmarks': [[{'x': 1.5, 'y': 2}, {'x': 3e2, 'y': -4.25}]], 'dimensions': (10, 20)}",
        "[(1, 2), (3, 4,), [5_0, .5], [1., -0.0]]",
        "{'a': True, 'b': False, 'c': None, \"d\": 'it\\'s', 'e': 'x' 'y', 'f': {}, 'g': []}  # note",
        "{'s': '\\u00e9\\n\\t\\\\', 'k': [1e-3, 1E+3, +2]}",
    ],
)
def test_the_literal_reader_means_what_literal_eval_means(text: str) -> None:
    def lists(value: object) -> object:
        if isinstance(value, list | tuple):
            return [lists(v) for v in value]
        if isinstance(value, dict):
            return {k: lists(v) for k, v in value.items()}
        return value

    assert loads_literal(text) == lists(ast.literal_eval(text))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id')",
        "[1, 2",
        "[1, 2)",
        "{1, 2}",
        "b'x'",
        "[1 2]",
        "[1j]",
        "lambda: 0",
        "'a' + 'b'",
        "[" * 40 + "]" * 40,
    ],
)
def test_the_literal_reader_refuses_everything_else(text: str) -> None:
    with pytest.raises(DocumentError):
        loads_literal(text)


MB = 1_000_000


def _fill(unit: str, head: str = "[True, ", tail: str = "]") -> str:
    return head + unit * ((MB - len(head) - len(tail)) // len(unit)) + tail


HOSTILE: dict[str, Callable[[], str]] = {
    "ints": lambda: _fill("0,"),
    "floats": lambda: _fill("1.5e3,"),
    "tuples": lambda: _fill("(0,0),"),
    "empty_lists": lambda: _fill("[],"),
    "empty_dicts": lambda: _fill("{},"),
    "small_dicts": lambda: _fill("{'x':0},"),
    "strings": lambda: _fill("'a',"),
    "escaped_strings": lambda: _fill("'\\n',"),
    "nones": lambda: _fill("None,"),
    "long_string": lambda: "['" + "a" * (MB - 10) + "', True]",
    "deep": lambda: "(" * (MB // 2) + ")" * (MB // 2),
    "json_dicts": lambda: _fill("{},", head="[", tail="{}]"),
    "json_lists": lambda: _fill("[],", head="[", tail="[]]"),
    "json_small_dicts": lambda: _fill('{"x":0},', head="[", tail="{}]"),
    "json_deep": lambda: "[" * (MB // 2) + "]" * (MB // 2),
    "qoves_repeated": lambda: (
        ("{'landmarks': [" + ", ".join([repr(p) for p in _POINTS] * 40))[: MB - 3] + "]}"
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_any_megabyte_document_is_refused_or_parsed_in_under_0_2_s_and_50_mb(name: str) -> None:
    text = HOSTILE[name]()
    assert len(text) <= 1024 * 1024

    def attempt() -> None:
        with contextlib.suppress(InputError):
            parse_landmarks(text)

    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        attempt()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    try:
        attempt()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert min(times) < 0.2, (name, times)
    assert peak < 50 * 2**20, (name, peak / 2**20)


def test_the_qoves_sample_still_parses_to_its_points() -> None:
    got = parse_landmarks((SAMPLE / "landmarks.txt").read_bytes())
    np.testing.assert_array_equal(got.points, [[p["x"], p["y"]] for p in _POINTS])
