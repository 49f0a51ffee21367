"""Bounded parsers for client documents: JSON, and the Python-literal text of a QOVES landmarks.txt.

Both refuse or parse any document of up to ``Limits.max_landmarks_bytes`` (1 MB) in well under
0.2 s and 50 MB, and never raise anything but ``DocumentError`` (a ``ValueError``):

* ``loads_json`` is ``json.loads`` of at most ``MAX_CONTAINERS`` lists and objects, with integers
  longer than ``MAX_INT_DIGITS`` read as infinity (Python refuses to convert them: a
  ``ValueError`` deep inside the decoder before) and nesting deeper than the interpreter's
  recursion limit reported as ``TooDeep``, naming the top-level key whose value is too deep when
  the document is an object.
* ``loads_literal`` reads the Python-literal subset a landmarks file uses (dicts, lists, tuples,
  strings, numbers, True/False/None) with one regular-expression tokenizer that translates it to
  JSON, within ``MAX_TOKENS`` tokens and ``MAX_DEPTH`` levels. ``ast.literal_eval`` (~450 MB and
  5-14 s for a hostile megabyte) is never used; nothing is ever evaluated.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

MAX_INT_DIGITS = 4300  # Python's own limit for int(str)
MAX_TOKENS = 50_000  # a 478-point landmarks.txt has ~4 800
MAX_DEPTH = 32  # a landmarks document nests 4 deep
MAX_CONTAINERS = 20_000  # lists and objects in a JSON document (a landmarks document has ~480)
MAX_ESCAPED_STRINGS = 1_000  # strings with backslash escapes, each decoded on its own


class DocumentError(ValueError):
    """Not a document of the expected kind, or over a bound."""


class TooDeep(DocumentError):
    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def bounded_int(text: str) -> int | float:
    # Beyond MAX_INT_DIGITS int() raises; no coordinate or size that long is finite as a float anyway.
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)


def count_containers(text: str) -> int:
    """An upper bound of the lists and objects in a JSON document (brackets in strings count too):
    two C-speed scans, ~0.3 ms per MB, before paying ~60 bytes and the garbage collector for each."""
    return text.count("[") + text.count("{")


def loads_json(text: str, max_containers: int = MAX_CONTAINERS) -> Any:
    """``json.loads`` that fails only with ``DocumentError`` (``TooDeep`` for nesting)."""
    if count_containers(text) > max_containers:
        raise DocumentError(f"more than {max_containers} lists and objects")
    try:
        return json.loads(text, parse_int=bounded_int)
    except RecursionError:
        raise TooDeep("nested too deeply", deep_key(text)) from None
    except ValueError as exc:
        raise DocumentError(str(exc)) from exc


_WS = re.compile(r"\s*")


def deep_key(text: str) -> str | None:
    """The top-level key whose value is nested too deeply, when ``text`` is an object (else None).

    Only on the error path: decodes the object one member at a time."""
    decoder = json.JSONDecoder(parse_int=bounded_int)
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("{", pos):
        return None
    pos += 1
    try:
        while True:
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            key, pos = decoder.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if not text.startswith(":", pos):
                return None
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            try:
                _, pos = decoder.raw_decode(text, pos)
            except RecursionError:
                return str(key)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if not text.startswith(",", pos):
                return None
            pos += 1
    except (ValueError, RecursionError):
        return None


# ---------------------------------------------------------------------------------- literal

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*")
    | (?P<num>[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?)
    | (?P<name>[A-Za-z_]\w{0,15})
    | (?P<open>[\[({])
    | (?P<close>[\])}])
    | (?P<sep>[,:])
    | (?P<comment>\#[^\n]*)
    )""",
    re.VERBOSE,
)
_NAMES = {"True": "true", "False": "false", "None": "null"}
_CLOSE = {"[": "]", "(": ")", "{": "}"}
_INT = re.compile(r"[-+]?\d+")


def _number(token: str) -> str:
    token = token.replace("_", "")
    if _INT.fullmatch(token):
        digits = len(token.lstrip("+-"))
        if digits > MAX_INT_DIGITS:
            return "-Infinity" if token.startswith("-") else "Infinity"
        return str(int(token))
    value = float(token)
    return json.dumps(value)  # "Infinity" for 1e999, which the caller refuses as non-finite


def loads_literal(text: str) -> Any:
    """A Python literal (the QOVES landmarks.txt) -> the same object ``ast.literal_eval`` gives
    for the subset used by landmark documents; ``DocumentError`` for anything else."""
    # Cheap refusals first (C-speed scans): each container and each comma is at least one token.
    if text.count("(") + count_containers(text) > MAX_CONTAINERS or text.count(",") > MAX_TOKENS // 2:
        raise DocumentError(f"more than {MAX_CONTAINERS} containers or {MAX_TOKENS} tokens")
    out: list[str] = []
    stack: list[str] = []
    escaped = 0
    previous = ""  # the kind of the previous lexeme: adjacent strings concatenate ('a' 'b')
    pos, end = 0, len(text.rstrip())
    for count in range(MAX_TOKENS + 1):
        if pos >= end:
            break
        if count == MAX_TOKENS:
            raise DocumentError(f"more than {MAX_TOKENS} tokens")
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise DocumentError(f"unexpected character at offset {pos}")
        pos = m.end()
        kind = m.lastgroup
        lexeme = m.group(kind)  # type: ignore[arg-type]
        if kind == "comment":
            continue
        if kind == "str":
            if "\\" in lexeme:
                escaped += 1
                if escaped > MAX_ESCAPED_STRINGS:
                    raise DocumentError("too many escaped strings")
                try:
                    value = ast.literal_eval(lexeme)  # one string literal, already bounded by the regex
                except (ValueError, SyntaxError) as exc:
                    raise DocumentError("invalid string escape") from exc
            else:
                value = lexeme[1:-1]
            if previous == "str":
                value = json.loads(out.pop()) + value
            out.append(json.dumps(value))
        elif kind == "num":
            out.append(_number(lexeme))
        elif kind == "name":
            if lexeme not in _NAMES:
                raise DocumentError(f"{lexeme!r} is not a literal")
            out.append(_NAMES[lexeme])
        elif kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")
            stack.append(lexeme)
            out.append("[" if lexeme == "(" else lexeme)
        elif kind == "close":
            if not stack or _CLOSE[stack.pop()] != lexeme:
                raise DocumentError(f"unbalanced {lexeme!r}")
            if out and out[-1] == ",":  # Python allows a trailing comma; JSON does not
                out.pop()
            out.append("]" if lexeme == ")" else lexeme)
        else:
            out.append(lexeme)
        previous = kind  # type: ignore[assignment]
    if stack:
        raise DocumentError("unclosed bracket")
    try:
        return json.loads(" ".join(out))
    except (ValueError, RecursionError) as exc:
        raise DocumentError("not a literal of lists, dicts, strings and numbers") from exc
