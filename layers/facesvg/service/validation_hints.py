"""Turning pydantic validation errors into one field and a reason a client can act on: the first
error (an unknown field first: ``segmentation`` next to a missing ``segmentation_map`` is a typo of
it, not two problems), its dotted path, and the field name it probably meant. Used by the API's
request validation and the drop folder's ``options.json``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

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
