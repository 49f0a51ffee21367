"""The contract suite runs each port's tests against its fake and its AWS adapter (on moto's
server, started by ``tests/conftest.py``), so the fakes the unit tests trust cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path

# The fakes live with the unit tests that use them.
_FAKES = str(Path(__file__).resolve().parents[1] / "unit" / "service")
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)
