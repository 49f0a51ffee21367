"""The addresses of a running local stack, from the ``endpoints.json`` ``facesvg run`` keeps in its
data directory while it serves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from facesvg import names


def read_endpoints(data_dir: Path | None = None) -> dict[str, Any] | None:
    """The addresses a running ``facesvg run`` wrote to its data directory (None when none runs)."""
    path = Path(data_dir or names.LOCAL_DATA_DIR) / names.LOCAL_ENDPOINTS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(doc["pid"]), 0)  # raises when that process is gone
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None
