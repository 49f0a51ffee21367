"""End-to-end latency on the local stack (``make bench-e2e``).

Starts the embedded runtime with ``LOAD_TEST_MODE=true`` (no artificial delay), submits N distinct
jobs one after another over HTTP (each differs in one render option, so each is a real render) and
measures submit → completed as the client sees it (polling the status URL), then submits an
already-completed request N times and measures the cache-hit response time.

    python -m facesvg.local.bench_e2e [--jobs 30] [--hits 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import httpx

from facesvg import names
from facesvg.client.payload import sample_payload
from facesvg.local import moto_patches
from facesvg.local.load import percentile
from facesvg.local.runtime import LocalRuntime, RuntimeConfig

TARGET_COMPLETED_P50_S = 0.5
TARGET_HIT_P50_MS = 50.0


def wait_completed(
    client: httpx.Client, status_url: str, poll_s: float, timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(status_url).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(poll_s)
    raise TimeoutError(status_url)


def run(
    jobs: int,
    hits: int,
    poll_s: float,
    extra: dict[str, Any] | None = None,
    moto_speedups: bool | None = None,
) -> dict[str, float]:
    extra = extra or {}
    submit_path = names.ROUTE_PREFIXES[0] + names.SUBMIT_PATH
    config = RuntimeConfig(api_port=0, load_test_mode=True, log_level="WARNING", moto_speedups=moto_speedups)
    with LocalRuntime(config) as rt, httpx.Client(base_url=rt.api_url, timeout=60) as client:
        # Warm-up (cold imports, first connections): not measured.
        warm = sample_payload({"margin": 0.3})
        r = client.post(submit_path, json=warm)
        wait_completed(client, r.json()["status_url"], poll_s)

        bodies = [
            json.dumps(sample_payload({"margin": round(0.1 + 0.001 * i, 3), **extra})) for i in range(jobs)
        ]
        latencies: list[float] = []
        for body in bodies:
            t0 = time.perf_counter()
            r = client.post(submit_path, content=body, headers={"Content-Type": "application/json"})
            if r.status_code != 202:
                raise RuntimeError(f"submit answered {r.status_code}: {r.text[:300]}")
            done = wait_completed(client, r.json()["status_url"], poll_s)
            if done["status"] != "completed":
                raise RuntimeError(f"job failed: {done.get('error')}")
            latencies.append(time.perf_counter() - t0)

        hit_ms: list[float] = []
        for _ in range(hits):
            t0 = time.perf_counter()
            r = client.post(submit_path, content=bodies[0], headers={"Content-Type": "application/json"})
            hit_ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"cache hit answered {r.status_code}")
    return {
        "jobs": jobs,
        "completed_p50_s": percentile(latencies, 0.5),
        "completed_p95_s": percentile(latencies, 0.95),
        "hits": hits,
        "hit_p50_ms": percentile(hit_ms, 0.5),
        "hit_p95_ms": percentile(hit_ms, 0.95),
        "completed_mean_s": statistics.fmean(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--hits", type=int, default=30)
    parser.add_argument("--poll", type=float, default=0.01, help="status polling interval, seconds")
    parser.add_argument(
        "--options", default=None, help='extra render options as JSON, e.g. \'{"image_format": "jpeg"}\''
    )
    parser.add_argument(
        "--moto-speedups",
        action="store_true",
        default=None,
        help="apply moto_patches' speed-only patches (default: FACESVG_MOTO_SPEEDUPS)",
    )
    args = parser.parse_args(argv)
    options = json.loads(args.options) if args.options else None
    res = run(args.jobs, args.hits, args.poll, options, args.moto_speedups)
    ok_done = res["completed_p50_s"] <= TARGET_COMPLETED_P50_S
    ok_hit = res["hit_p50_ms"] <= TARGET_HIT_P50_MS
    print(
        f"submit → completed over {res['jobs']} jobs "
        f"(LOAD_TEST_MODE=true, local stack on moto, options: {args.options or 'defaults'}, "
        f"moto speedups: {'on' if args.moto_speedups or moto_patches.speedups_requested() else 'off'}):"
    )
    print(
        f"  p50 {res['completed_p50_s']:.3f} s   p95 {res['completed_p95_s']:.3f} s   "
        f"(target p50 ≤ {TARGET_COMPLETED_P50_S} s: {'ok' if ok_done else 'MISSED'})"
    )
    print(f"cache hit (identical submit of a completed job) over {res['hits']} requests:")
    print(
        f"  p50 {res['hit_p50_ms']:.1f} ms   p95 {res['hit_p95_ms']:.1f} ms   "
        f"(target p50 ≤ {TARGET_HIT_P50_MS:.0f} ms: {'ok' if ok_hit else 'MISSED'})"
    )
    return 0 if ok_done and ok_hit else 1


if __name__ == "__main__":
    sys.exit(main())
