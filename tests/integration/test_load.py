"""The load generator: a small run on the local stack passes its exactly-once check, and the check
fails on deliberately broken runs (a lost job, a double render, a duplicate given a new job)."""

from __future__ import annotations

from typing import Any

import pytest
from facesvg.local.load import RunResult, Submission, check, execute, plan, report

pytestmark = pytest.mark.integration


def _good_run() -> RunResult:
    subs = [
        Submission(
            key=k,
            duplicate=False,
            status_code=202,
            job_id=f"job{k}",
            final_status="completed",
            submit_s=0.01,
            completed_s=0.5,
        )
        for k in range(5)
    ]
    subs.append(
        Submission(
            key=2,
            duplicate=True,
            status_code=202,
            job_id="job2",
            final_status="completed",
            submit_s=0.01,
            completed_s=0.1,
        )
    )
    return RunResult(subs, elapsed_s=1.0, renders=5, completions=5, attempts={f"job{k}": 1 for k in range(5)})


def test_check_accepts_a_clean_run() -> None:
    run = _good_run()
    assert check(run) == []
    assert "check: OK" in report(run, [])


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("lost", "not completed"),
        ("double_render", "renders for 5 jobs"),
        ("reclaimed", "claimed 2 times"),
        ("split_duplicate", "different jobs"),
        ("missing_completion", "completions for 5 jobs"),
        ("submit_error", "failed"),
    ],
)
def test_check_fails_a_broken_run(breakage: str, expected: str) -> None:
    run = _good_run()
    if breakage == "lost":
        run.submissions[3].final_status = "pending"
        run.submissions[3].completed_s = None
    elif breakage == "double_render":
        run.renders = 6
    elif breakage == "reclaimed":
        assert run.attempts is not None
        run.attempts["job1"] = 2
    elif breakage == "split_duplicate":
        run.submissions[-1].job_id = "another"
    elif breakage == "missing_completion":  # against a remote stack: no job items to prove it
        run.completions, run.attempts = 4, None
    elif breakage == "submit_error":
        run.submissions[0].job_id = None
        run.submissions[0].error = "HTTP 503"
    problems = check(run)
    assert any(expected in p for p in problems), problems
    assert "check: FAILED" in report(run, problems)


def test_a_counter_shortfall_is_lost_metrics_when_the_job_items_prove_one_render_each() -> None:
    # Given every job completed, claimed once, but one Renders record never reached the exporter
    run = _good_run()
    run.renders = 4
    # Then the run passes and the report names the lost record
    assert check(run) == []
    assert "metric records lost in transit: 1" in report(run, [])


def test_plan_repeats_only_earlier_payloads() -> None:
    order = plan(200, 0.1)
    assert sum(dup for _, dup in order) == 20
    seen: set[int] = set()
    for key, dup in order:
        assert (key in seen) == dup
        seen.add(key)


def test_small_load_run_on_the_local_stack(local_stack: Any) -> None:
    run = execute(jobs=20, clients=5, duplicates=0.1, timeout_s=90, runtime=local_stack)
    problems = check(run)
    assert problems == [], report(run, problems)
    assert run.renders == 18 and run.attempts is not None and len(run.attempts) == 18


def test_a_dropped_connection_is_retried_and_counted() -> None:
    import asyncio

    import httpx
    from facesvg.local.load import _send

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(202, json={"id": "j1", "status": "pending"})

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://t") as c:
            return await _send(c, sub, "POST", "/api/v1/submit", b"{}")

    # Given a submit whose first connection drops
    sub = Submission(key=0, duplicate=False)
    # When it is sent
    response = asyncio.run(go())
    # Then it is re-sent once (submit is idempotent) and the retry is counted
    assert response.status_code == 202
    assert calls == ["POST", "POST"] and sub.transport_retries == 1
