"""A drop folder's ``options.json``: the API's ``options`` object, bounded, parsed with the bounded
JSON parser and validated by the same ``RenderOptions`` model; a bad one names the field at fault.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from facesvg.core import documents
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service import layout
from facesvg.service import validation_hints as hints


class OptionsFileError(InputError):
    """The folder's ``options.json`` cannot be used: its error.json names the file and the option."""

    code = "InvalidOptions"

    def __init__(self, option: str, message: str, code: str | None = None) -> None:
        super().__init__("options", message, code=code)
        self.option = option  # "options", or the dotted path of the field at fault ("options.zones")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.option,
            "file": layout.INGEST_OPTIONS_FILE,
            "message": f"{layout.INGEST_OPTIONS_FILE}: {self.message}",
        }


def read_options(options: bytes | None, options_size: int) -> RenderOptions:
    """The set's render options: options.json validated as the API validates ``options``, or the
    defaults when the folder has none. ``OptionsFileError`` names the field at fault."""
    limit = layout.INGEST_OPTIONS_MAX_BYTES
    if options_size > limit:  # before it is parsed (and, by its listed size, before it is read)
        raise OptionsFileError("options", f"is {options_size} bytes; at most {limit}", code="OptionsTooLarge")
    if options is None:
        return RenderOptions.model_validate({})
    try:
        text = options.decode("utf-8-sig")  # (a byte-order mark, as some editors save, is fine)
    except UnicodeDecodeError:
        raise OptionsFileError("options", "is not UTF-8 text") from None
    try:
        doc = documents.loads_json(text, max_containers=1_000)
    except documents.TooDeep as exc:
        raise OptionsFileError(f"options.{exc.key}" if exc.key else "options", "nested too deeply") from None
    except documents.DocumentError as exc:
        raise OptionsFileError("options", f"is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise OptionsFileError(
            "options", 'must be a JSON object, the API\'s `options` (e.g. {"zones": "all"})'
        )
    try:
        return RenderOptions.model_validate(doc)
    except ValidationError as exc:
        field, message = _option_problem(exc.errors())
        raise OptionsFileError(field, message) from None


def _option_problem(errors: list[Any]) -> tuple[str, str]:
    """The first validation error as ("options.<dotted path>", "<path>: <reason>"); an unknown field
    first, with the name it probably meant."""
    error, unknown = hints.first_problem(errors)
    loc = hints.field_path(error.get("loc", ()))
    path = ".".join(loc)
    if unknown:
        known = hints.fields_at(RenderOptions, loc[:-1])
        guess = hints.closest(loc[-1] if loc else "", known)
        reason = "unknown field" + (f"; did you mean {guess!r}?" if guess else f"; known: {', '.join(known)}")
    else:
        reason = hints.reason(error)
    return ("options." + path if path else "options"), (f"{path}: {reason}" if path else reason)
