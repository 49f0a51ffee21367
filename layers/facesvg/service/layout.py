"""Where things live in the data bucket.

=====================================  =================================================
``inputs/<hash>/``                      image, segmentation_map, landmarks.json, options.json
``results/<hash>/``                     face.svg, regions/<name>.svg, result.json,
                                        result.geojson, result.coco.json (immutable)
``incoming/<name>/<file>``              the drop folder (three fixed file names, and
                                        optionally options.json)
``results/<name>/``                     a drop folder's copy of its job's results + job.json,
                                        or error.json (+ job.json when a job failed); for a
                                        refused name only error.json
=====================================  =================================================
"""

from __future__ import annotations

import re

from facesvg import names

INGEST_IMAGE_FILES = (
    "image.png",
    "image.jpg",
    "image.jpeg",
    "image.webp",
    "image.heic",
    "image.heif",
    "image.avif",
)
INGEST_MAP_FILES = ("segmentation_map.png",)
INGEST_LANDMARK_FILES = ("landmarks.json", "landmarks.txt")
INGEST_FILES = frozenset(INGEST_IMAGE_FILES + INGEST_MAP_FILES + INGEST_LANDMARK_FILES)
# Optional: the API's ``options`` object, read when a set is taken; its own upload starts nothing.
INGEST_OPTIONS_FILE = "options.json"
INGEST_OPTIONS_MAX_BYTES = 64 * 1024  # refused above this, before it is read or parsed
# Every file name a drop folder accepts (any other makes the folder an InvalidFileName error).
INGEST_ACCEPTED_FILES = INGEST_FILES | {INGEST_OPTIONS_FILE}

# Always fullmatch: with re.match, "$" also matches before a final newline ("name\n" would pass).
_INGEST_NAME = re.compile(names.INGEST_NAME_PATTERN)
# Region names become object keys: only these ever do (the core's names all match).
_REGION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# -- inputs/<hash>/ ------------------------------------------------------------------------


def input_prefix(content_hash: str) -> str:
    return f"{names.PREFIX_INPUTS}{content_hash}/"


def input_keys(content_hash: str) -> dict[str, str]:
    """Input name → key (the names ``worker`` reads back)."""
    prefix = input_prefix(content_hash)
    return {
        "image": f"{prefix}image",
        "segmentation_map": f"{prefix}segmentation_map",
        "landmarks": f"{prefix}landmarks.json",
        "options": f"{prefix}options.json",
    }


# -- results/<hash>/ -----------------------------------------------------------------------


def results_prefix(content_hash: str) -> str:
    return f"{names.PREFIX_RESULTS}{content_hash}/"


def is_safe_region_name(name: str) -> bool:
    return _REGION_NAME.fullmatch(name) is not None


def region_key(prefix: str, region: str) -> str:
    return f"{prefix}regions/{region}.svg"


def svg_key(prefix: str) -> str:
    return f"{prefix}face.svg"


def result_json_key(prefix: str) -> str:
    return f"{prefix}result.json"


# The result documents besides face.svg: name -> content type (status presigns a URL for each).
RESULT_DOCUMENTS = {
    "result.json": "application/json",
    "result.geojson": "application/geo+json",
    "result.coco.json": "application/json",
}


def result_document_key(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


# -- the drop folder -----------------------------------------------------------------------


_CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")
# A refused folder name still gets results/<name>/error.json when it is harmless as a key segment.
_ERROR_NAME_FORBIDDEN = frozenset("\\\"'<>&%`")
ERROR_NAME_MAX_CHARS = 200


def is_drop_name(name: str) -> bool:
    """A name the drop folder accepts. Never the shape of a content hash: ``results/<hash>/`` is the
    immutable render that status URLs serve, and a drop folder must not publish over one."""
    return _INGEST_NAME.fullmatch(name) is not None and _CONTENT_HASH.fullmatch(name) is None


def drop_name_problem(name: str) -> str:
    """Why the drop folder refuses ``name`` (for its error.json)."""
    if len(name) > 64:
        return f"the folder name has {len(name)} characters; at most 64"
    if _CONTENT_HASH.fullmatch(name):
        return "the folder name looks like a content hash (64 hex digits), which results/ reserves"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_.-"))})
    if bad:
        return "the folder name may only hold ASCII letters, digits, '_', '.' and '-' (found " + (
            ", ".join(repr(c) for c in bad[:5]) + ")"
        )
    return "the folder name must start with an ASCII letter or digit"


def has_error_folder(name: str) -> bool:
    """May a refused name get ``results/<name>/error.json``? Only a printable single segment with
    nothing a path, a URL or markup would read (no dot first, no quotes, ``%``, ``\\``, ``<``…), not
    shaped like a content hash: then it can only ever name its own error folder."""
    return (
        0 < len(name) <= ERROR_NAME_MAX_CHARS
        and name.isprintable()
        and not name.startswith(".")
        and "/" not in name
        and not (_ERROR_NAME_FORBIDDEN & set(name))
        and _CONTENT_HASH.fullmatch(name) is None
    )


def split_incoming_key(key: str) -> tuple[str, str] | None:
    """``incoming/<name>/<rest>`` → (name, rest) for any non-empty name and rest, checked or not."""
    if not key.startswith(names.PREFIX_INCOMING):
        return None
    name, sep, rest = key[len(names.PREFIX_INCOMING) :].partition("/")
    if not name or not sep or not rest:
        return None
    return name, rest


def incoming_folder(name: str) -> str:
    return f"{names.PREFIX_INCOMING}{name}/"


def printable(text: str, limit: int = 200) -> str:
    """``text`` (an S3 key or bucket name from an event: anyone who may upload chooses it) made safe
    for one log line: cut to ``limit`` characters, then every non-printable character escaped as in
    a Python literal (``\\x1b``, ``\\n``, ``\\u2028``) and backslashes doubled, so a key can neither
    break a line, forge one nor drive the terminal."""
    cut = text[:limit]
    if cut.isprintable() and "\\" not in cut:
        return cut
    return "".join(c if c.isprintable() and c != "\\" else repr(c)[1:-1] for c in cut)


def drop_results_prefix(name: str) -> str:
    return f"{names.PREFIX_RESULTS}{name}/"


def drop_pointer_key(name: str) -> str:
    """``results/<name>/job.json``: which job serves this drop folder."""
    return f"{drop_results_prefix(name)}job.json"


def drop_error_key(name: str) -> str:
    return f"{drop_results_prefix(name)}error.json"
