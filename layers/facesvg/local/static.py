"""Static files of the local server: the browser viewer (``viewer/`` at the repository root) and
the bundled QOVES sample (``samples/qoves/``), served by the local API Gateway stand-in directly,
not through a function. On AWS the viewer is a static site (see ``docs/viewer.md``).

Only the fixed paths below are served: no directory listing, no path taken from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
VIEWER_DIR = REPO_ROOT / "viewer"
SAMPLE_DIR = REPO_ROOT / "samples" / "qoves"

# The page talks to the local stack (API, moto's S3 for presigned URLs) or to a deployed API on
# AWS (API Gateway, S3): nothing else, so a page script cannot send a photo or key anywhere else.
_AWS = "https://*.amazonaws.com"
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    f"img-src 'self' data: blob: http://127.0.0.1:* http://localhost:* {_AWS}; "
    f"connect-src 'self' http://127.0.0.1:* http://localhost:* {_AWS}; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}

ROUTES: dict[str, Path] = {
    "/": VIEWER_DIR / "index.html",
    "/index.html": VIEWER_DIR / "index.html",
    "/viewer.css": VIEWER_DIR / "viewer.css",
    "/viewer.js": VIEWER_DIR / "viewer.js",
    "/config.js": VIEWER_DIR / "config.js",
    "/favicon.svg": VIEWER_DIR / "favicon.svg",
    "/sample/original_image.png": SAMPLE_DIR / "original_image.png",
    "/sample/segmentation_map.png": SAMPLE_DIR / "segmentation_map.png",
    "/sample/landmarks.txt": SAMPLE_DIR / "landmarks.txt",
}


@dataclass(frozen=True)
class Asset:
    headers: dict[str, str]
    body: bytes


def static_asset(path: str) -> Asset | None:
    """The file for a GET of ``path``, or None (not a static path, or the file is absent, e.g.
    when the package is installed without the repository around it)."""
    file = ROUTES.get(path)
    if file is None or not file.is_file():
        return None
    headers = {
        "Content-Type": _TYPES.get(file.suffix, "application/octet-stream"),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if file.suffix == ".html":
        headers["Content-Security-Policy"] = _CSP
        headers["Referrer-Policy"] = "no-referrer"
    return Asset(headers, file.read_bytes())
