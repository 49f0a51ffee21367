"""Typed input errors raised by the render core.

Every problem with a caller's input raises exactly one ``InputError`` naming the field at fault
and a stable machine-readable ``code``. The API maps ``InputError`` to 400 and ``NoFace`` to 422
in one place (``facesvg.service``); the core never knows about HTTP.
"""

from __future__ import annotations

from typing import Any, Literal

Field = Literal["image", "segmentation_map", "landmarks", "options", "options.label_scheme"]


class InputError(ValueError):
    """A caller's input cannot be rendered. ``code`` is stable; ``message`` is for humans."""

    code: str = "InvalidInput"

    def __init__(
        self, field: Field, message: str, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field: Field = field
        self.message = message
        self.details = details or {}  # extra members of the error body (e.g. ``likely_schemes``)
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message, **self.details}


class NoFace(InputError):
    """The inputs decode fine but show no usable face (e.g. no skin label near the landmarks)."""

    code = "NoFace"
