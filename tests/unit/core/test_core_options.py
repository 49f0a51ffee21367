"""Render options: every number is strictly typed (``true`` is not a face index)."""

from __future__ import annotations

from typing import Any

import pytest
from facesvg.core.options import RegionStyle, RenderOptions
from pydantic import BaseModel, ValidationError


def _numeric_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], type]]:
    """Every int and float option, nested ones (``style.*``) included, by its path."""
    out: list[tuple[tuple[str, ...], type]] = []
    for name, info in model.model_fields.items():
        kind = {int: int, float: float}.get(info.annotation) if isinstance(info.annotation, type) else None
        if kind is not None:
            out.append(((*prefix, name), kind))
        elif info.annotation is RegionStyle:
            out += _numeric_fields(RegionStyle, (*prefix, name))
    return out


NUMERIC = _numeric_fields(RenderOptions)


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc: Any = value
    for key in reversed(path):
        doc = {key: doc}
    return dict(doc)


def test_the_numeric_options_are_all_found() -> None:
    names = {".".join(p) for p, _ in NUMERIC}
    assert {"canvas_size", "margin", "image_quality", "face_index", "style.stroke_width"} <= names


@pytest.mark.parametrize(("path", "kind"), NUMERIC, ids=[".".join(p) for p, _ in NUMERIC])
@pytest.mark.parametrize("value", [True, False, "1", "0.5"], ids=repr)
def test_a_boolean_or_a_string_is_not_a_number(path: tuple[str, ...], kind: type, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        RenderOptions.model_validate(_nested(path, value))
    assert [e["loc"] for e in exc.value.errors()] == [path]


@pytest.mark.parametrize(("path", "kind"), [n for n in NUMERIC if n[1] is int], ids=lambda v: str(v))
def test_an_integer_option_refuses_a_float_and_a_float_option_takes_an_integer(
    path: tuple[str, ...], kind: type
) -> None:
    default = RenderOptions.model_validate({})
    value = getattr(default, path[0])
    with pytest.raises(ValidationError):
        RenderOptions.model_validate(_nested(path, float(value)))
    assert RenderOptions.model_validate({"margin": 0}).margin == 0.0
    assert RenderOptions.model_validate_json('{"style": {"stroke_width": 3}}').style.stroke_width == 3.0
