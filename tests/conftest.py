"""Shared fixtures. The local stack (moto's server + resources + API on a free loopback port +
SQS/S3 event sources, the same handler modules Lambda runs) starts once per pytest process, so
``pytest -n 2`` runs two independent stacks.

Hypothesis profiles: ``hypothesis_profiles.py`` (loaded here, before any test module).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import hypothesis_profiles  # noqa: F401 (registers and loads the hypothesis profile)
import pytest

_RUNTIME: list[Any] = []  # the session's LocalRuntime, once a test asked for it
# Threads meant to live as long as the process: the S3 adapter's transfer pool (reused across
# invocations, as in Lambda) and the jsii runtime's pipe reader behind aws_cdk (tests/infra).
PROCESS_LIFETIME_THREADS = ("facesvg-io", "process.stderr_sink")


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Any]:
    """The session's local stack. Its event sources (the threads that poll SQS) run only during
    the tests that use the stack: they start with it, ``pytest_runtest_setup`` starts them again,
    ``pytest_runtest_teardown`` stops them (joined) before a test that does not use the stack, so
    no thread of it runs during, e.g., a unit test that blocks the network."""
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
    _RUNTIME.append(runtime)
    try:
        yield runtime
    finally:
        _RUNTIME.clear()
        runtime.stop()


def _uses_stack(item: pytest.Item | None) -> bool:
    return item is not None and "local_stack" in getattr(item, "fixturenames", ())


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _uses_stack(item) and _RUNTIME:
        _RUNTIME[0].start_pollers()  # a no-op while they run


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _RUNTIME and not _uses_stack(nextitem):
        _RUNTIME[0].stop_pollers()


@pytest.fixture(scope="session")
def api(local_stack: Any) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=local_stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def _stops_its_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every thread a test starts is stopped (joined) by that test. The session stack's threads
    are the hooks' business above, so tests that use it are not checked."""
    before = set(threading.enumerate())
    yield
    # request.fixturenames also holds fixtures a test asked for with getfixturevalue
    if _uses_stack(request.node) or "local_stack" in request.fixturenames:
        return
    left = [
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith(PROCESS_LIFETIME_THREADS)
    ]
    assert left == [], f"{request.node.nodeid} left threads running: {left}"
