"""The API's documentation pages: Swagger UI (``/docs``, ``/swagger``), ReDoc (``/redoc``) and the
OpenAPI document (``/openapi.json``), every asset served by the function itself (no CDN: the pages
work offline and send nothing elsewhere).

Swagger UI's assets ship inside Powertools (inlined by ``enable_swagger``). ReDoc's standalone
bundle comes from npm (``redoc`` in package.json, pinned by package-lock.json): the Lambda layer
carries a copy next to this module (``static/``, put there by ``infra.layer``); a checkout reads it
from ``node_modules/`` (``npm ci``).
"""

from __future__ import annotations

import functools
from pathlib import Path

REDOC_BUNDLE = "redoc.standalone.js"
# In the Lambda layer (infra.layer copies it there), then in a checkout after `npm ci`.
REDOC_BUNDLE_PATHS = (
    Path(__file__).resolve().parent / "static" / REDOC_BUNDLE,
    Path(__file__).resolve().parents[3] / "node_modules" / "redoc" / "bundles" / REDOC_BUNDLE,
)
REDOC_MISSING = (
    "ReDoc's bundle is not installed here: run `npm ci` in the repository (Swagger UI at /docs needs nothing)"
)


@functools.cache
def redoc_bundle() -> str | None:
    """ReDoc's standalone script, or None when neither copy exists (read once per process)."""
    for path in REDOC_BUNDLE_PATHS:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


# The page loads nothing from elsewhere: ReDoc's "API docs by Redocly" logo (a CDN image) is
# refused by the browser, never requested, and hidden.
REDOC_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "font-src data:; worker-src blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def redoc_html(spec_json: str, bundle: str, title: str) -> str:
    """The ReDoc page with the script and the OpenAPI document inlined (one request, no CDN)."""
    spec = spec_json.replace("</", "<\\/")  # a "</script>" inside a description cannot end the tag
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API — ReDoc</title>
<style>body {{ margin: 0; }} a[href*="redocly.com"] {{ display: none !important; }}</style>
</head>
<body>
<div id="redoc"></div>
<script>{bundle}</script>
<script>Redoc.init({spec}, {{}}, document.getElementById("redoc"));</script>
</body>
</html>
"""
