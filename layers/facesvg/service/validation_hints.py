"""Turning pydantic validation errors into one field and a reason a client can act on: the first
error (an unknown field first: ``segmentation`` next to a missing ``segmentation_map`` is a typo of
it, not two problems), its dotted path, and the field name it probably meant. Used by the API's
request validation and the drop folder's ``options.json``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

_BODY = frozenset({"body"})  # the first part of a request validation error's location
# Unions report the member type tried in the path (``landmarks.list[any]``, ``zones.str``): not fields.
_UNION_MEMBERS = frozenset({"str", "dict", "list"})


def first_problem(errors: Iterable[Any]) -> tuple[dict[str, Any], bool]:
    """The error to report, and whether it is an unknown field (those come first)."""
    errors = list(errors)
    unknown = next((e for e in errors if e.get("type") == "extra_forbidden"), None)
    if unknown is not None:
        return unknown, True
    return (errors[0] if errors else {}), False


def field_path(loc: Iterable[Any], skip: frozenset[str] = frozenset()) -> list[str]:
    """An error's location as field names: without ``skip`` (the API's ``body``) and union members."""
    return [
        p for p in (str(part) for part in loc) if p not in skip and "[" not in p and p not in _UNION_MEMBERS
    ]


def reason(error: dict[str, Any]) -> str:
    """The error's message (a validator's own comes as "Value error, <message>": the prefix is pydantic's)."""
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def fields_at(model: Any, path: Iterable[str]) -> list[str]:
    """The fields ``model`` accepts at ``path`` (``[]`` its own, ``["options"]`` a nested model's)."""
    for part in path:
        info = getattr(model, "model_fields", {}).get(part)
        model = getattr(info, "annotation", None)
        if not isinstance(model, type):
            return []
    return list(getattr(model, "model_fields", {}))


def closest(name: str, known: list[str]) -> str | None:
    """The known field ``name`` most probably meant, if any is close enough."""
    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return guess[0] if guess else None


def request_problem(errors: Any, model: Any) -> tuple[str, str]:
    """An API request's first validation error as (dotted field path without the ``body`` prefix,
    message); an unknown field with the name it probably meant among ``model``'s fields."""
    errors = list(errors or [])
    first, unknown = first_problem(errors)
    if unknown:
        return _unknown_field(first, errors, model)
    if first.get("type") == "json_invalid":  # its loc is the character offset, not a field
        return "body", "the body is not valid JSON"
    loc = field_path(first.get("loc", ()), skip=_BODY) or ["body"]
    return ".".join(loc), reason(first)


def _unknown_field(error: Any, errors: list[Any], model: Any) -> tuple[str, str]:
    loc = [str(p) for p in error.get("loc", ()) if p != "body"]
    name, parent = (loc[-1] if loc else "body"), loc[:-1]
    # the names it may have meant: required siblings that are missing, else every field there
    missing = [
        str(e["loc"][-1])
        for e in errors
        if e.get("type") == "missing" and [str(p) for p in e.get("loc", ()) if p != "body"][:-1] == parent
    ]
    known = missing or fields_at(model, parent)
    guess = closest(name, known) or (missing[0] if missing else None)
    field = ".".join(loc) or "body"
    message = f"unknown field {name!r}"
    if guess:
        message += f"; did you mean {guess!r}?"
        if guess in missing:
            message += f" ({guess!r} is required)"
    elif missing:
        message += f"; missing: {', '.join(missing)}"
    return field, message
