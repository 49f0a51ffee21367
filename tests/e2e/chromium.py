"""Where the e2e tests' Chromium is and how it starts (a module of its own: test modules import it,
which a ``conftest`` cannot be when several test directories are collected together)."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("FACESVG_CHROMIUM", "/usr/bin/chromium")
# As root in a closed network: no sandbox, and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
