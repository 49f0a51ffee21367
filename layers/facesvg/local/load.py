"""Load test (``make load``): N submits from C concurrent clients, each waiting for its job.

    python -m facesvg.local.load [--jobs 1000] [--clients 20] [--duplicates 0.1] [--api URL --metrics URL]

Without ``--api`` it starts the local stack itself (``LOAD_TEST_MODE=true``, loopback, free ports).
Each client submits a payload, polls the status until the job is finished, and takes the next one.
Unique inputs are the QOVES sample with a different render option each (a new content hash, still
valid, cheap to render: small canvas, JPEG photo); ``--duplicates`` of the submits repeat an earlier
payload and must get the same job back. Everything is bounded by ``--timeout``.

``--webhooks`` also gives every submit (duplicates included) its own ``callback_url`` on a local
receiver (``facesvg.local.webhooks``) and checks that each one got exactly one verified delivery,
for its job, by delivery id (``submit → webhook`` percentiles in the report).

It prints requests/s, submit and submit→completed p50/p95/p99, the error count, and checks that
every job completed exactly once: every unique payload got one job id (duplicates the same one),
every job is completed, and the process function rendered each job once (the ``Renders`` and
``JobsCompleted`` counters on ``/metrics`` grew by the number of jobs; with its own stack also
every job item's ``attempts`` is 1). Exit status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from facesvg import names
from facesvg.service.metrics_catalog import JOBS_COMPLETED, RENDERS, MetricDef

SUBMIT_PATH = names.ROUTE_PREFIXES[0] + names.SUBMIT_PATH
TRANSPORT_ATTEMPTS = 3


@dataclass
class Submission:
    key: int  # which unique payload
    duplicate: bool
    status_code: int = 0
    job_id: str | None = None
    submit_s: float = 0.0
    completed_s: float | None = None  # submit → completed, as the client saw it
    final_status: str | None = None
    error: str | None = None
    transport_retries: int = 0  # connection errors recovered by re-sending (submit is idempotent)
    callback: str | None = None  # --webhooks: this submit's callback URL
    started: float = 0.0  # time.time() of the submit (webhook latency)


@dataclass
class RunResult:
    submissions: list[Submission]
    elapsed_s: float
    renders: float | None = None  # Renders counter growth during the run
    completions: float | None = None  # JobsCompleted counter growth during the run
    attempts: dict[str, int] | None = None  # job id → attempts (own stack only)
    webhooks: list[Any] | None = None  # --webhooks: every POST the receiver got (Received)
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def plan(jobs: int, duplicate_share: float, seed: int = 7) -> list[tuple[int, bool]]:
    """(payload key, is duplicate) per submit: duplicates repeat a key submitted earlier."""
    rng = random.Random(seed)  # noqa: S311 (not crypto)
    n_dup = round(jobs * duplicate_share)
    dup_positions = set(rng.sample(range(1, jobs), n_dup)) if jobs > 1 and n_dup else set()
    out: list[tuple[int, bool]] = []
    next_key = 0
    for i in range(jobs):
        if i in dup_positions and next_key > 0:
            out.append((rng.randrange(next_key), True))
        else:
            out.append((next_key, False))
            next_key += 1
    return out


def payload(base: dict[str, Any], key: int, run_tag: int) -> dict[str, Any]:
    """The sample with options unique to (run, key): a new hash, a valid and cheap render."""
    margin = round(0.05 + (key % 1000) * 0.0003, 4)
    width = round(0.5 + (key // 1000) * 0.01 + (run_tag % 1000) * 0.0001, 4)
    return {
        **base,
        "options": {
            "canvas_size": 256,
            "margin": margin,
            "image_format": "jpeg",
            "image_quality": 60,
            "style": {"stroke_width": width},
        },
    }


def metrics_shortfall(result: RunResult) -> int:
    """EMF records the exporter never received (counted against the job items, own stack only)."""
    if result.attempts is None:
        return 0
    jobs = len(result.attempts)
    return int(sum(max(0.0, jobs - c) for c in (result.renders, result.completions) if c is not None))


def check(result: RunResult) -> list[str]:
    """Problems with the run (empty = every job completed exactly once)."""
    problems: list[str] = []
    by_key: dict[int, set[str]] = {}
    for s in result.submissions:
        if s.error or s.job_id is None:
            problems.append(f"submit of payload {s.key} failed: {s.error or s.status_code}")
            continue
        by_key.setdefault(s.key, set()).add(s.job_id)
        if s.final_status != "completed":
            problems.append(f"job {s.job_id} is {s.final_status!r}, not completed (lost, or past --timeout)")
    for key, ids in by_key.items():
        if len(ids) != 1:
            problems.append(f"payload {key} got {len(ids)} different jobs: {sorted(ids)}")
    keys = {s.key for s in result.submissions}
    missing = keys - set(by_key)
    if missing:
        problems.append(f"{len(missing)} payloads never got a job")
    jobs = len(keys)
    # The job items' attempt counts (own stack) prove "rendered once" on their own; the counters
    # come over best-effort UDP, so a shortfall there is only a failure without that proof. More
    # renders than jobs is always one: a transport can lose records, not invent them.
    proven = result.attempts is not None and len(result.attempts) == jobs
    for label, count in (("renders", result.renders), ("completions", result.completions)):
        if count is None or count == jobs or (count < jobs and proven):
            continue
        problems.append(f"{count:g} {label} for {jobs} jobs (lost or double render)")
    if result.attempts is not None:
        for job_id, n in result.attempts.items():
            if n != 1:
                problems.append(f"job {job_id} was claimed {n} times")
    if result.webhooks is not None:
        problems += check_webhooks(result)
    return problems


def check_webhooks(result: RunResult) -> list[str]:
    """Every submit's callback got exactly one verified delivery, for its own job."""
    problems: list[str] = []
    by_path: dict[str, list[Any]] = {}
    for got in result.webhooks or []:
        by_path.setdefault(got.path, []).append(got)
    ids = [g.delivery_id for g in result.webhooks or [] if g.status == 200]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} delivery ids were delivered more than once")
    for s in result.submissions:
        if s.callback is None or s.job_id is None:
            continue
        path = s.callback[s.callback.index("/load/") :]
        got = [g for g in by_path.get(path, []) if g.status == 200]
        if len(got) != 1:
            problems.append(f"callback {path} got {len(got)} deliveries, not 1")
        elif not got[0].verified or got[0].body.get("id") != s.job_id:
            problems.append(f"callback {path}: unverified, or for another job")
    return problems


def counter(metrics_text: str, metric: MetricDef) -> float:
    """Sum of a counter's samples in a ``/metrics`` body."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == metric.prometheus_name:
                total += sample.value
    return total


async def _client(
    client: httpx.AsyncClient,
    queue: asyncio.Queue[Submission],
    bodies: dict[int, bytes],
    deadline: float,
    poll_s: float,
) -> None:
    while not queue.empty():
        s = queue.get_nowait()
        t0 = time.perf_counter()
        s.started = time.time()
        body = bodies[s.key]
        if s.callback is not None:  # the payload's closing brace, then this submit's callback
            body = body[:-1] + b',"callback_url":' + json.dumps(s.callback).encode() + b"}"
        try:
            r = await _send(client, s, "POST", SUBMIT_PATH, body)
            s.submit_s = time.perf_counter() - t0
            s.status_code = r.status_code
            if r.status_code not in (200, 202):
                s.error = f"HTTP {r.status_code}: {r.text[:200]}"
                continue
            body = r.json()
            s.job_id = body["id"]
            status, url = body["status"], body.get("status_url") or ""
            path = url[url.index("/api/") :] if "/api/" in url else url
            while status not in ("completed", "failed") and time.monotonic() < deadline:
                await asyncio.sleep(poll_s)
                status = (await _send(client, s, "GET", path)).json()["status"]
            s.final_status = status
            if status == "completed":
                s.completed_s = time.perf_counter() - t0
        except Exception as exc:
            s.error = f"{type(exc).__name__}: {exc}"[:300]


async def _send(
    client: httpx.AsyncClient, s: Submission, method: str, path: str, body: bytes | None = None
) -> httpx.Response:
    """One request, re-sent after a dropped connection, as a real client would: a submit is
    idempotent (same content hash, same job), so a retry can never create a second job."""
    for attempt in range(TRANSPORT_ATTEMPTS):
        try:
            if body is None:
                return await client.request(method, path)
            return await client.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
        except httpx.TransportError:
            if attempt == TRANSPORT_ATTEMPTS - 1:
                raise
            s.transport_retries += 1
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def run_load(
    api_url: str,
    jobs: int,
    clients: int,
    duplicates: float,
    timeout_s: float,
    poll_s: float = 0.25,
    callback_base: str | None = None,
) -> tuple[list[Submission], float]:
    from facesvg.client.payload import sample_payload

    base = sample_payload()
    run_tag = int(time.time())
    order = plan(jobs, duplicates)
    bodies = {key: json.dumps(payload(base, key, run_tag)).encode() for key, dup in order if not dup}
    queue: asyncio.Queue[Submission] = asyncio.Queue()
    submissions = [Submission(key, dup) for key, dup in order]
    if callback_base is not None:
        for i, s in enumerate(submissions):
            s.callback = f"{callback_base}/load/{i}"
    for s in submissions:
        queue.put_nowait(s)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    deadline = time.monotonic() + timeout_s
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as client:
        tasks = [
            asyncio.create_task(_client(client, queue, bodies, deadline, poll_s)) for _ in range(clients)
        ]
        await asyncio.wait(tasks, timeout=timeout_s + 60)
    return submissions, time.perf_counter() - t0


def report(result: RunResult, problems: list[str]) -> str:
    subs = result.submissions
    submit_ms = [s.submit_s * 1000 for s in subs if s.job_id]
    done_ms = [s.completed_s * 1000 for s in subs if s.completed_s is not None]
    errors = sum(1 for s in subs if s.error)

    def pct(v: list[float]) -> str:
        return " ".join(f"p{int(q * 100)}={percentile(v, q):.0f}ms" for q in (0.5, 0.95, 0.99))

    lines = [
        f"submits: {len(subs)} ({sum(s.duplicate for s in subs)} duplicates,"
        f" {len({s.key for s in subs})} jobs)"
        f" in {result.elapsed_s:.1f}s = {len(subs) / result.elapsed_s:.1f} submits/s",
        f"submit:              {pct(submit_ms)}",
        f"submit → completed:  {pct(done_ms)}",
        f"errors: {errors}  (dropped connections recovered by re-sending: "
        f"{sum(s.transport_retries for s in subs)})",
        f"renders: {result.renders if result.renders is not None else 'n/a'}"
        f"  completions: {result.completions if result.completions is not None else 'n/a'}"
        f"  (metric records lost in transit: {metrics_shortfall(result)})",
        *_webhook_lines(result),
        "check: OK — every job completed exactly once"
        if not problems
        else "check: FAILED\n  " + "\n  ".join(problems[:20]),
    ]
    return "\n".join(lines)


def _webhook_lines(result: RunResult) -> list[str]:
    if result.webhooks is None:
        return []
    started = {s.callback[s.callback.index("/load/") :]: s.started for s in result.submissions if s.callback}
    ok = [g for g in result.webhooks if g.status == 200]
    latency = [(g.at - started[g.path]) * 1000 for g in ok if g.path in started]
    pct = " ".join(f"p{int(q * 100)}={percentile(latency, q):.0f}ms" for q in (0.5, 0.95, 0.99))
    return [
        f"webhooks: {len(ok)} delivered for {sum(1 for s in result.submissions if s.callback)} callbacks"
        f" ({len({g.delivery_id for g in ok})} distinct delivery ids)",
        f"submit → webhook:    {pct}",
    ]


def _attempts(runtime: Any, job_ids: set[str]) -> dict[str, int]:
    ddb = runtime.clients["dynamodb"]
    out: dict[str, int] = {}
    for job_id in job_ids:
        item = ddb.get_item(
            TableName=runtime.resources.table,
            Key={names.TABLE_PARTITION_KEY: {"S": names.JOB_KEY_PREFIX + job_id}},
        ).get("Item", {})
        out[job_id] = int(item.get("attempts", {}).get("N", 0))
    return out


def _metric_counts(metrics_url: str | None) -> tuple[float, float] | None:
    if not metrics_url:
        return None
    text = httpx.get(metrics_url, timeout=10).text
    return counter(text, RENDERS), counter(text, JOBS_COMPLETED)


def _settled(
    metrics_url: str | None, before: tuple[float, float] | None, jobs: int
) -> tuple[float, float] | None:
    """Counter growth, waiting briefly for the last EMF records to reach the exporter."""
    if metrics_url is None or before is None:
        return None
    deadline = time.monotonic() + 5
    while True:
        now = _metric_counts(metrics_url)
        assert now is not None
        grown = (now[0] - before[0], now[1] - before[1])
        if grown[1] >= jobs or time.monotonic() > deadline:
            time.sleep(0.3)  # a late duplicate render would show up now
            now = _metric_counts(metrics_url)
            assert now is not None
            return now[0] - before[0], now[1] - before[1]
        time.sleep(0.1)


def _wait_idle(runtime: Any, metrics_url: str | None, timeout_s: float = 60.0) -> None:
    """Until the job queue is empty (nothing waiting, nothing in flight) and the counters are still."""
    sqs = runtime.clients["sqs"]
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        from facesvg.local.resources import queue_depth

        depth = queue_depth(sqs, runtime.resources.queue_url)
        counts = _metric_counts(metrics_url)
        if depth == 0 and counts == last:
            return
        last = counts
        time.sleep(0.3)
    raise TimeoutError("the local stack did not become idle")


def execute(
    jobs: int = 1000,
    clients: int = 20,
    duplicates: float = 0.1,
    timeout_s: float = 1200.0,
    api_url: str | None = None,
    metrics_url: str | None = None,
    process_workers: int = 2,
    runtime: Any = None,
    moto_speedups: bool | None = None,
    webhooks: bool = False,
) -> RunResult:
    """Run the load against ``api_url``, a given running ``LocalRuntime``, or a local stack started
    (and stopped) here."""
    own = runtime is None and api_url is None
    if runtime is not None:
        api_url, metrics_url = runtime.api_url, runtime.metrics_url
    if own:
        from facesvg.local.runtime import LocalRuntime, RuntimeConfig

        config = RuntimeConfig(
            api_port=0,
            load_test_mode=True,
            log_level="WARNING",
            process_workers=process_workers,
            moto_speedups=moto_speedups,
        )
        runtime = LocalRuntime(config).start()
        api_url, metrics_url = runtime.api_url, runtime.metrics_url
    assert api_url is not None
    receiver = None
    if webhooks:
        if runtime is None:
            raise SystemExit("--webhooks needs the local stack (its signing secret); drop --api")
        from facesvg.local.webhooks import WebhookReceiver

        receiver = WebhookReceiver(runtime.webhook_secret()).start()
    try:
        if runtime is not None and not own:
            _wait_idle(runtime, metrics_url)  # a shared stack may still be finishing earlier jobs
        before = _metric_counts(metrics_url)
        callback_base = receiver.url("").rstrip("/") if receiver is not None else None
        submissions, elapsed = asyncio.run(
            run_load(api_url, jobs, clients, duplicates, timeout_s, callback_base=callback_base)
        )
        n_jobs = len({s.key for s in submissions})
        grown = _settled(metrics_url, before, n_jobs)
        result = RunResult(submissions, elapsed)
        if grown is not None:
            result.renders, result.completions = grown
        if runtime is not None:
            result.attempts = _attempts(runtime, {s.job_id for s in submissions if s.job_id})
        if receiver is not None:
            result.webhooks = _deliveries(receiver, sum(1 for s in submissions if s.job_id))
        return result
    finally:
        if receiver is not None:
            receiver.stop()
        if own and runtime is not None:
            runtime.stop()


def _deliveries(receiver: Any, expected: int, timeout_s: float = 120.0) -> list[Any]:
    """Every POST the receiver got, once ``expected`` were answered 200 and no more arrive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(1 for g in receiver.received if g.status == 200) >= expected:
            break
        time.sleep(0.1)
    time.sleep(1.5)  # a duplicate would arrive within this (the notify poller waits ≤ 1 s)
    return list(receiver.received)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000, help="submits (default 1000)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of repeated submits (0.1)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="give up after this many seconds")
    parser.add_argument("--workers", type=int, default=2, help="process workers of the local stack")
    parser.add_argument("--api", help="a running stack's API URL (default: start one)")
    parser.add_argument("--metrics", help="its /metrics URL, for the render count")
    parser.add_argument(
        "--moto-speedups",
        action="store_true",
        default=None,
        help="apply moto_patches' speed-only patches (a long run's transactions stay O(1))",
    )
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="give every submit a callback on a local receiver; check each got exactly one delivery",
    )
    args = parser.parse_args(argv)
    result = execute(
        args.jobs,
        args.clients,
        args.duplicates,
        args.timeout,
        args.api,
        args.metrics,
        args.workers,
        moto_speedups=args.moto_speedups,
        webhooks=args.webhooks,
    )
    problems = check(result)
    print(report(result, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
