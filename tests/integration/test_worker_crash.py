"""A render worker of the local runtime SIGKILLed mid-job (issue 14.1): the worker is replaced, the
batch it held goes back to the queue (never deleted, never failed), the killed job completes once
its lease has ended, and every later job completes; nothing reaches the DLQ.

The runtime runs in a subprocess of its own (its own environment: the functions' settings live in
``os.environ``, which the session's stack in this process also uses), with a short lease through
the stack config (process timeout 4 s → lease 4 s, queue visibility 6 x 4 = 24 s), batches of one
and a 2 s artificial delay so that the kill lands mid-render.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from facesvg import names
from integration_helpers import status_url, submit_url, unique_body

PROCESS_TIMEOUT = 4  # → lease 4 s, visibility 24 s (StackConfig: lease = timeout, visibility = 6 x timeout)
DELAY = 2.0
RETRY_DELAY = 1

RUNTIME_SCRIPT = f"""
import json, sys
from facesvg.local.resources import queue_depth
from facesvg.local.runtime import LocalRuntime, RuntimeConfig
from facesvg.stack_config import StackConfig

rt = LocalRuntime(RuntimeConfig(
    api_port=0, metrics_port=None, log_level="WARNING", batch_size=1, process_workers=2,
    retry_delay_seconds={RETRY_DELAY}, artificial_delay_seconds={DELAY}, load_test_mode=False,
    stack=StackConfig(process_timeout_seconds={PROCESS_TIMEOUT}),
)).start()
def state():
    sqs = rt.clients["sqs"]
    return {{
        "api": rt.api_url, "pids": rt.process_worker_pids,
        "queue": queue_depth(sqs, rt.resources.queue_url), "dlq": queue_depth(sqs, rt.resources.dlq_url),
        "lease": rt.resources.config.lease_seconds,
        "visibility": rt.resources.config.visibility_timeout_seconds,
    }}
print(json.dumps(state()), flush=True)
for line in sys.stdin:  # one line in, the state out; EOF stops the stack
    print(json.dumps(state()), flush=True)
rt.stop()
"""


class Runtime:
    def __init__(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FACESVG_", "AWS_", "POWERTOOLS_"))
            and k not in (names.ENV_ARTIFICIAL_DELAY, names.ENV_LOAD_TEST_MODE)
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RUNTIME_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.first = self.state()

    def state(self) -> dict[str, Any]:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        if hasattr(self, "first"):
            self.proc.stdin.write("state\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the runtime subprocess ended (exit {self.proc.poll()})"
        return dict(json.loads(line))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    try:
        yield rt
    finally:
        rt.stop()


def _statuses(api: httpx.Client, ids: list[str]) -> dict[str, str]:
    return {i: api.get(status_url(i)).json()["status"] for i in ids}


def test_a_sigkilled_render_worker_is_replaced_and_every_job_ends(runtime: Runtime) -> None:
    first = runtime.first
    lease, visibility = first["lease"], first["visibility"]
    assert (lease, visibility) == (PROCESS_TIMEOUT, 6 * PROCESS_TIMEOUT)
    with httpx.Client(base_url=first["api"], timeout=30) as api:
        ids = []
        for _ in range(4):  # two workers: two jobs rendering, two waiting in the queue
            r = api.post(submit_url(), json=unique_body())
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])

        deadline = time.monotonic() + 30
        while sorted(_statuses(api, ids).values()).count("processing") < 2:
            assert time.monotonic() < deadline, "the two workers never both started a job"
            time.sleep(0.05)
        victim = first["pids"][0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        in_flight = [i for i, s in _statuses(api, ids).items() if s == "processing"]

        ended: dict[str, float] = {}
        final: dict[str, dict[str, Any]] = {}
        bound = lease + visibility + 15  # the promise (lease + visibility), plus render and start-up
        while len(ended) < len(ids):
            assert time.monotonic() - killed_at < bound, f"jobs still open: {_statuses(api, ids)}"
            for i in ids:
                if i in ended:
                    continue
                body = api.get(status_url(i)).json()
                if body["status"] in ("completed", "failed"):
                    ended[i], final[i] = time.monotonic() - killed_at, body
            time.sleep(0.1)

    assert {i: b["status"] for i, b in final.items()} == dict.fromkeys(ids, "completed")
    # The killed job is the in-flight one that ended last: it waited for its lease to end.
    killed_job = max(in_flight, key=lambda i: ended[i])
    waited = ended[killed_job]
    print(f"\nSIGKILL → killed job completed: {waited:.1f} s (lease {lease} s, visibility {visibility} s)")
    assert lease <= waited <= lease + visibility, ended
    after = runtime.state()
    # A message the killed worker held may still be in flight when the last job ends (a busy machine
    # re-ran its job from another delivery): it comes back after its visibility timeout, the worker
    # finds the job ended and deletes it. Nothing may stay in the queue longer than that.
    drained_by = time.monotonic() + visibility + 15
    while after["queue"] and time.monotonic() < drained_by:
        time.sleep(0.5)
        after = runtime.state()
    assert victim not in after["pids"] and len(after["pids"]) == 2  # replaced
    for pid in after["pids"]:
        os.kill(pid, 0)  # alive
    assert after["dlq"] == 0 and after["queue"] == 0
