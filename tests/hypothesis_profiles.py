"""Hypothesis profiles, loaded by ``tests/conftest.py`` before any test module builds its ``@settings``.

* ``ci`` (the default: ``make test``, ``.ci/run``, any run without ``HYPOTHESIS_PROFILE``):
  derandomized, so every run and every machine tries the same examples, and no example database,
  so a green commit stays green;
* ``explore`` (``HYPOTHESIS_PROFILE=explore make test PYTEST_ARGS=tests/unit/core``): random
  seeds, the example database, and ``examples(n)`` scaled up 10x, to look for new counterexamples
  locally. Add what it finds as an explicit ``@example`` so ``ci`` keeps checking it.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """``max_examples`` for a property: ``n`` under ``ci``, 10x that under ``explore``."""
    return n * 10 if PROFILE == "explore" else n
