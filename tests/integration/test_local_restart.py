"""Issue 15 items 1, 2 and 5: the local stack keeps its state in a data directory across a restart,
on fixed ports, whether it was stopped with Ctrl-C or killed, and stops within 2 s."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.client.payload import sample_payload
from facesvg.local.aws import local_clients
from facesvg.local.resources import local_secret, queue_depth
from facesvg.local.webhooks import WebhookReceiver
from local_process import StackProcess, free_ports, port_free, wait_status

pytestmark = pytest.mark.integration

SHUTDOWN_BUDGET_S = 2.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StackProcess]:
    proc = StackProcess(tmp_path / "data", free_ports(3), "--delay", "3")
    try:
        yield proc
    finally:
        proc.kill()


def test_a_killed_stack_comes_back_with_its_jobs_results_and_queued_work(stack: StackProcess) -> None:
    # Given a stack that finished one job and is rendering a second (3 s simulated work)
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        done_id = client.post("/api/v1/submit", json=sample_payload()).json()["id"]
        done = wait_status(client, done_id, {"completed", "failed"})
        assert done["status"] == "completed"
        busy_id = client.post("/api/v1/submit", json=sample_payload({"canvas_size": 512})).json()["id"]
        assert wait_status(client, busy_id, {"processing"})["status"] == "processing"

    # When it is killed (no chance to flush anything) and started again on the same ports and data
    stack.stop(signal.SIGKILL)
    stack.extra = ()  # no simulated delay this time
    stack.start()
    assert "restored" in stack.output and "0 items" not in stack.output

    with httpx.Client(base_url=stack.api, timeout=60) as client:
        # Then the finished job answers with the same SVG, and its old URLs still work
        again = client.get(f"/api/v1/status/{done_id}")
        assert again.status_code == 200
        assert again.json()["status"] == "completed" and again.json()["svg"] == done["svg"]
        assert (
            httpx.get(done["svg_url"], timeout=30).content.startswith(b"<?xml")
            or b"<svg" in (httpx.get(done["svg_url"], timeout=30).content[:400])
        )
        for url in [*done["regions_svg_urls"].values(), *done["result_urls"].values()][:5]:
            assert httpx.get(url, timeout=30).status_code == 200, url
        # an identical submit is a cache hit, not a second render
        hit = client.post("/api/v1/submit", json=sample_payload())
        assert hit.status_code == 200 and hit.json()["id"] == done_id
        # and the job that was being rendered when the stack died completes
        assert wait_status(client, busy_id, {"completed", "failed"}, timeout_s=60)["status"] == "completed"


def _until(condition: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def _restored_messages(stack: StackProcess) -> int:
    found = re.findall(r"restored \d+ items, \d+ objects, (\d+) messages", stack.output)
    assert found, stack.output
    return int(found[-1])


def test_a_webhook_the_bus_had_queued_is_sent_once_after_a_kill(stack: StackProcess) -> None:
    # Given a job with a callback to a receiver that is not listening yet, finished, its job-end
    # event published and delivered by the bus's rule to the notify queue (inside moto: no SQS
    # request), and no notify function consuming it yet (it would turn the event into delivery
    # messages sent through the SQS API within milliseconds; held here, the event stays queued)
    stack.extra = ("--notify-workers", "0")
    stack.start()
    (hook_port,) = free_ports(1)
    aws = f"http://127.0.0.1:{stack.ports[1]}"
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        body = {
            **sample_payload({"canvas_size": 256}),
            "callback_url": f"http://127.0.0.1:{hook_port}/hook",
            "client_reference": "restart",
        }
        job_id = client.post("/api/v1/submit", json=body).json()["id"]
        assert wait_status(client, job_id, {"completed", "failed"})["status"] == "completed"
    c = local_clients(aws)
    key = {names.TABLE_PARTITION_KEY: {"S": names.JOB_KEY_PREFIX + job_id}}

    def event_state() -> str:
        item = c["dynamodb"].get_item(TableName=names.TABLE_NAME, Key=key).get("Item", {})
        return str(item.get("event_state", {}).get("S", ""))

    _until(lambda: event_state() == "published", "the job-end event to be published")
    notify_url = c["sqs"].get_queue_url(QueueName=names.NOTIFY_QUEUE_NAME)["QueueUrl"]
    assert queue_depth(c["sqs"], notify_url) == 1  # the bus's delivery, not consumed
    secret = local_secret(aws)

    # When the stack is killed, started again with its notify function (retries 1 s apart), and only
    # then does the receiver listen (with the secret read before the kill: a stack keeps its secret)
    stack.stop(signal.SIGKILL)
    stack.extra = ()
    stack.env = {"FACESVG_NOTIFY_BACKOFF_SECONDS": "1"}
    stack.start()
    assert _restored_messages(stack) == 1  # the job-end event
    assert local_secret(aws) == secret
    with WebhookReceiver(secret, port=hook_port) as rx:
        # Then the webhook arrives, with a valid signature, and the notify queue empties
        _until(lambda: rx.at("/hook"), "the webhook")
        c = local_clients(aws)
        _until(lambda: queue_depth(c["sqs"], notify_url) == 0, "the delivered notification to be deleted")
        (delivery,) = rx.at("/hook")
    assert delivery.verified and delivery.status == 200
    assert delivery.body["id"] == job_id and delivery.body["type"] == "JobCompleted"
    assert delivery.body["client_reference"] == "restart"

    # and exactly once: its deletion left the journal too, so a further kill and start resends nothing
    stack.stop(signal.SIGKILL)
    stack.start()
    assert _restored_messages(stack) == 0


def test_ctrl_c_stops_everything_within_2_s_and_queued_work_survives(stack: StackProcess) -> None:
    # Given a stack rendering a job (3 s simulated work) with a second one queued behind it
    stack.extra = ("--delay", "3", "--workers", "1", "--log-level", "INFO")
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        first = client.post("/api/v1/submit", json=sample_payload({"canvas_size": 480})).json()["id"]
        second = client.post("/api/v1/submit", json=sample_payload({"canvas_size": 400})).json()["id"]
        assert wait_status(client, first, {"processing"})["status"] == "processing"

    # When Ctrl-C stops it
    took = stack.stop(signal.SIGINT)

    # Then it and every process it started are gone within 2 s (and it says how long it took)
    print(f"Ctrl-C with a job mid-render: the stack and its children gone after {took:.2f} s")
    assert took <= SHUTDOWN_BUDGET_S, f"shutdown took {took:.2f} s"
    assert "stopped in" in stack.output
    # a shutdown is not a crash: it says what happens to the job it interrupted
    assert "crashed" not in stack.output and "ERROR" not in stack.output, stack.output
    assert f"stopping: job {first} returns to the queue and completes after the next start" in stack.output
    # and after a start both jobs complete
    stack.extra = ()
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        for job_id in (first, second):
            assert wait_status(client, job_id, {"completed", "failed"})["status"] == "completed"
    assert stack.stop(signal.SIGINT) <= SHUTDOWN_BUDGET_S


def test_fresh_starts_empty(stack: StackProcess) -> None:
    stack.extra = ()
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        job_id = client.post("/api/v1/submit", json=sample_payload()).json()["id"]
        assert wait_status(client, job_id, {"completed", "failed"})["status"] == "completed"
    stack.stop()

    stack.extra = ("--fresh",)
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        assert client.get(f"/api/v1/status/{job_id}").status_code == 404


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    # Given something already listening on the port the S3 endpoint wants
    api, aws, s3 = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", s3))
        taken.listen()
        stack = StackProcess(tmp_path / "data", [api, aws, s3])
        stack.start(check=False)  # returns when the process ends, too
        assert stack.proc is not None
        assert stack.proc.wait(timeout=60) == 2
    assert f"port {s3} (S3) is in use" in stack.output
    # and it prints the exact command to run instead: the same flags, on three free ports
    command = next(
        line.strip() for line in stack.output.splitlines() if "facesvg run " in line and "--data-dir" in line
    )
    assert command.startswith(".venv/bin/facesvg run ") or "/facesvg run " in command, command
    assert f"--data-dir {tmp_path / 'data'}" in command and "--no-sample" in command, command
    ports = [int(p) for p in re.findall(r"--(?:port|aws-port|s3-port) (\d+)", command)]
    assert len(ports) == 3 and s3 not in ports and all(port_free(p) for p in ports), command


def test_a_restart_without_port_flags_comes_back_on_the_same_ports(stack: StackProcess) -> None:
    # Given a stack started on ports of its own (not the defaults), with a finished job
    stack.extra = ()
    stack.start()
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        job_id = client.post("/api/v1/submit", json=sample_payload()).json()["job_id"]
        svg_url = wait_status(client, job_id, {"completed", "failed"})["svg_url"]
    stack.stop()

    # When it is started again on the same data directory without any port flag
    stack.port_flags = False
    stack.start()

    # Then it serves on the ports it had: the saved URLs (API, presigned S3) still work
    api, aws, s3 = stack.ports
    for address in (f"http://127.0.0.1:{api}", f"http://127.0.0.1:{aws}", f"http://127.0.0.1:{s3}"):
        assert address in stack.output, stack.output
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        assert client.get(f"/api/v1/status/{job_id}").json()["status"] == "completed"
    assert httpx.get(svg_url, timeout=30).status_code == 200
    stack.stop()

    # and a flag still overrides what the directory remembers
    (other,) = free_ports(1)
    stack.port_flags, stack.extra = False, ("--port", str(other))
    stack.ports = [other, aws, s3]
    stack.start()
    assert f"http://127.0.0.1:{other}" in stack.output


def test_one_stack_per_data_directory(stack: StackProcess, tmp_path: Path) -> None:
    stack.extra = ()
    stack.start()
    second = StackProcess(stack.data_dir, free_ports(3))
    try:
        second.start(check=False)
        assert second.proc is not None and second.proc.wait(timeout=60) == 2
        assert "is in use by another running stack" in second.output
    finally:
        second.kill()


def test_a_taken_api_port_names_it(tmp_path: Path) -> None:
    api, aws, s3 = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", api))
        taken.listen()
        stack = StackProcess(tmp_path / "data", [api, aws, s3])
        stack.start(check=False)
        assert stack.proc is not None and stack.proc.wait(timeout=60) == 2
    assert f"port {api} (API) is in use" in stack.output, stack.output
