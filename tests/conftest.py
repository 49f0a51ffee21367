"""Shared fixtures. The local stack (moto's server + resources + API on a free loopback port +
SQS/S3 event sources, the same handler modules Lambda runs) starts once per pytest process, so
``pytest -n 2`` runs two independent stacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Any]:
    from facesvg.local.runtime import LocalRuntime, RuntimeConfig

    runtime = LocalRuntime(
        RuntimeConfig(
            api_port=0,
            log_level="WARNING",
            retry_delay_seconds=1,
            load_test_mode=True,
            notify_backoff_seconds=0,  # webhook retries come back at once (tests drive them)
        )
    ).start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(scope="session")
def api(local_stack: Any) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=local_stack.api_url, timeout=30) as client:
        yield client
