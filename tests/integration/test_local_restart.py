"""Issue 15 items 1, 2 and 5: the local stack keeps its state in a data directory across a restart,
on fixed ports, whether it was stopped with Ctrl-C or killed, and stops within 2 s."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from facesvg.commands.payload import sample_payload
from local_process import StackProcess, free_ports, wait_status

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


def test_ctrl_c_stops_everything_within_2_s_and_queued_work_survives(stack: StackProcess) -> None:
    # Given a stack rendering a job (3 s simulated work) with a second one queued behind it
    stack.extra = ("--delay", "3", "--workers", "1")
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
    assert "--s3-port" in stack.output


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
