"""Webhooks and job-end events on the local stack: a real HTTP receiver on 127.0.0.1, moto's
EventBridge bus → rule → notify queue → the notify handler, the same path as on AWS.

The stack's webhook backoff base is 0 (tests/conftest.py): a retry comes back at once, so the
retry and DLQ paths run in well under a second each; the schedule itself is unit-tested.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.local.webhooks import Received, WebhookReceiver
from facesvg.service.aws.sqs import SqsJobQueue
from facesvg.service.models import JobMessage, SubmitRequest
from facesvg.service.store import build_service
from integration_helpers import eventually, job_item, submit_url, unique_body, wait_finished

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


class _NoQueue:
    def send(self, message: JobMessage) -> None:
        pass


@pytest.fixture(scope="module")
def receiver(local_stack: Any) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(local_stack.webhook_secret()) as rx:
        yield rx


@pytest.fixture(scope="module")
def spy(local_stack: Any) -> Iterator[Any]:
    """A second target of the job-end rule: every event the bus routes, to count them."""
    sqs, events = local_stack.clients["sqs"], _events_client(local_stack)
    url = sqs.create_queue(QueueName=f"spy-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(
        Rule=names.NOTIFY_RULE_NAME, EventBusName=names.EVENT_BUS_NAME, Targets=[{"Id": "spy", "Arn": arn}]
    )
    seen: list[dict[str, Any]] = []

    def events_for(job_id: str) -> list[dict[str, Any]]:
        while True:
            out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not out.get("Messages"):
                break
            for m in out["Messages"]:
                seen.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in seen if e["detail"]["id"] == job_id]

    yield events_for
    events.remove_targets(Rule=names.NOTIFY_RULE_NAME, EventBusName=names.EVENT_BUS_NAME, Ids=["spy"])


def _events_client(stack: Any) -> Any:
    import boto3

    return boto3.client("events", endpoint_url=stack.endpoint, region_name="us-east-1")


def _path() -> str:
    return f"/hook/{uuid.uuid4().hex[:10]}"


def _delivered(rx: WebhookReceiver, path: str, count: int = 1, timeout: float = 20) -> list[Received]:
    return eventually(lambda: [r for r in rx.at(path) if r.status == 200][:count] or None, timeout)


def _settle(rx: WebhookReceiver, path: str, n: int) -> list[Received]:
    """All the POSTs ``path`` got, once there are ``n`` and nothing more arrives for a moment."""
    got = eventually(lambda: rx.at(path) if len(rx.at(path)) >= n else None, timeout=20)
    time.sleep(0.5)  # a duplicate would arrive within this (the notify poller waits ≤ 1 s)
    assert len(rx.at(path)) == len(got)
    return got


def _submit(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(submit_url(), json=body)
    assert r.status_code in (200, 202), r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_a_completed_job_is_delivered_once_with_a_valid_signature(
    local_stack: Any, api: httpx.Client, receiver: WebhookReceiver, spy: Any
) -> None:
    path = _path()
    body = {**unique_body(), "callback_url": receiver.url(path), "client_reference": "order-1"}

    accepted = _submit(api, body)
    assert accepted["client_reference"] == "order-1"
    wait_finished(api, accepted["id"])

    (got,) = _settle(receiver, path, 1)
    assert got.verified and got.status == 200 and got.delivery_id == got.body["delivery_id"]
    doc = got.body
    assert doc["type"] == "JobCompleted" and doc["id"] == accepted["id"] and doc["status"] == "completed"
    assert doc["client_reference"] == "order-1" and doc["regions"]
    assert b"<svg" in httpx.get(doc["svg_url"]).content[:2000]  # presigned at delivery
    (event,) = spy(accepted["id"])
    assert event["source"] == "facesvg" and event["detail-type"] == "JobCompleted"
    assert event["detail"]["client_reference"] == "order-1" and "callback_url" not in json.dumps(event)


def test_a_failed_job_is_delivered_once_as_job_failed(
    local_stack: Any, receiver: WebhookReceiver, spy: Any
) -> None:
    path = _path()
    body = {**unique_body(), "callback_url": receiver.url(path), "client_reference": "bad-1"}
    service = dataclasses.replace(build_service(), queue=_NoQueue())  # created, not yet enqueued
    job = service.submit_request(SubmitRequest.model_validate(body)).job
    local_stack.clients["s3"].put_object(
        Bucket=names.BUCKET_NAME, Key=f"inputs/{job.content_hash}/segmentation_map", Body=b"corrupted"
    )
    SqsJobQueue(local_stack.clients["sqs"], local_stack.resources.queue_url).send(
        JobMessage(job_id=job.job_id)
    )

    (got,) = _settle(receiver, path, 1)
    assert got.verified and got.body["type"] == "JobFailed" and got.body["status"] == "failed"
    assert got.body["error"]["code"] and got.body["client_reference"] == "bad-1"
    assert "svg_url" not in got.body
    assert [e["detail-type"] for e in spy(job.job_id)] == ["JobFailed"]


def test_500_twice_then_200_is_delivered_on_the_third_attempt(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    path = _path()
    receiver.script(path, [500, 500, 200])

    accepted = _submit(api, {**unique_body(), "callback_url": receiver.url(path)})

    got = _settle(receiver, path, 3)
    assert [r.status for r in got] == [500, 500, 200]
    assert len({r.delivery_id for r in got}) == 1 and all(r.verified for r in got)
    assert got[-1].body["id"] == accepted["id"]


def test_an_always_failing_receiver_ends_in_the_dlq_and_make_redrive_delivers(
    local_stack: Any, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    path = _path()
    attempts = names.NOTIFY_MAX_RECEIVE_COUNT
    receiver.script(path, [503] * attempts)
    sqs, dlq = local_stack.clients["sqs"], local_stack.resources.notify_dlq_url

    def dlq_depth() -> int:
        attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    accepted = _submit(api, {**unique_body(), "callback_url": receiver.url(path)})
    eventually(lambda: dlq_depth() >= 1, timeout=30)
    assert [r.status for r in receiver.at(path)] == [503] * attempts

    # The receiver has recovered (its script is used up): replay the DLQ the way `make redrive` does.
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "facesvg.commands.redrive", "--notify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "moved 1 message(s) back" in out.stdout
    (done,) = _delivered(receiver, path)
    assert done.body["id"] == accepted["id"] and done.verified
    assert len({r.delivery_id for r in receiver.at(path)}) == 1 and dlq_depth() == 0


def test_duplicate_deliveries_of_the_process_message_publish_one_event(
    local_stack: Any, receiver: WebhookReceiver, spy: Any
) -> None:
    path = _path()
    body = {**unique_body(), "callback_url": receiver.url(path)}
    service = dataclasses.replace(build_service(), queue=_NoQueue())
    job = service.submit_request(SubmitRequest.model_validate(body)).job
    queue = SqsJobQueue(local_stack.clients["sqs"], local_stack.resources.queue_url)
    message = JobMessage(job_id=job.job_id, content_hash=job.content_hash)

    for _ in range(3):  # SQS at-least-once: the same message three times, processed concurrently
        queue.send(message)
    _settle(receiver, path, 1)
    queue.send(message)  # and once more after the job ended
    eventually(
        lambda: (
            local_stack.clients["sqs"].get_queue_attributes(
                QueueUrl=local_stack.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            == "0"
        )
    )

    assert len(_settle(receiver, path, 1)) == 1
    assert len(spy(job.job_id)) == 1
    item = job_item(local_stack, job.job_id)
    assert item["attempts"]["N"] == "1" and item["event_state"]["S"] == "published"


def test_two_submits_with_two_callbacks_render_once_and_deliver_twice(
    local_stack: Any, api: httpx.Client, receiver: WebhookReceiver, spy: Any
) -> None:
    path_a, path_b = _path(), _path()
    body = unique_body()

    first = _submit(api, {**body, "callback_url": receiver.url(path_a), "client_reference": "a"})
    second = _submit(api, {**body, "callback_url": receiver.url(path_b), "client_reference": "b"})
    assert first["id"] == second["id"]
    wait_finished(api, first["id"])

    (a,) = _settle(receiver, path_a, 1)
    (b,) = _settle(receiver, path_b, 1)
    assert (a.body["client_reference"], b.body["client_reference"]) == ("a", "b")
    assert a.delivery_id != b.delivery_id and a.verified and b.verified
    assert job_item(local_stack, first["id"])["attempts"]["N"] == "1"  # one render
    assert len(spy(first["id"])) == 1

    # A third caller after the job ended is told at once.
    path_c = _path()
    third = api.post(
        submit_url(), json={**body, "callback_url": receiver.url(path_c), "client_reference": "c"}
    )
    assert third.status_code == 200 and third.json()["client_reference"] == "c"
    (c,) = _settle(receiver, path_c, 1)
    assert c.body["id"] == first["id"] and c.body["client_reference"] == "c"
    assert len(spy(first["id"])) == 1


def _snippet(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match, f"no {language} snippet in {DOCS.name}"
    return match.group(1)


def test_the_documented_snippets_verify_a_real_delivery_and_refuse_a_forged_one(
    local_stack: Any, api: httpx.Client, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    path = _path()
    accepted = _submit(api, {**unique_body(), "callback_url": receiver.url(path)})
    (got,) = _delivered(receiver, path)
    assert got.body["id"] == accepted["id"]
    secret = local_stack.webhook_secret()
    headers = dict(got.headers)
    forged_headers = {**headers, "facesvg-signature": "v1=" + "0" * 64}
    tampered = got.raw.replace(b'"status":"completed"', b'"status":"failed"')

    scope: dict[str, Any] = {}
    exec(_snippet("python"), scope)
    verify = scope["verify"]
    assert verify(secret, headers, got.raw)
    assert not verify(secret, forged_headers, got.raw)
    assert not verify(secret, headers, tampered)
    assert not verify("not-the-secret", headers, got.raw)

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (tmp_path / "verify.js").write_text(_snippet("js"), encoding="utf-8")
    driver = (
        "const { verify } = require('./verify.js');"
        "const c = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(c.cases.map(([s, h, b]) => verify(s, h, Buffer.from(b, 'base64')))));"
    )
    cases = [
        [secret, headers, base64.b64encode(got.raw).decode()],
        [secret, forged_headers, base64.b64encode(got.raw).decode()],
        [secret, headers, base64.b64encode(tampered).decode()],
    ]
    out = subprocess.run(
        [node, "-e", driver],
        input=json.dumps({"cases": cases}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout) == [True, False, False]


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",  # private
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",  # link-local: instance metadata
        "https://[fe80::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",  # the same, IPv4-mapped
        "https://100.64.0.1/hook",  # CGNAT
        "https://user:password@127.0.0.1/hook",  # credentials
        "ftp://127.0.0.1/hook",  # not HTTP(S)
        "https://nonexistent.invalid/hook",  # does not resolve
    ],
)
def test_every_refused_url_class_is_a_400_naming_callback_url(api: httpx.Client, url: str) -> None:
    r = api.post(submit_url(), json={**unique_body(), "callback_url": url})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == "callback_url" and error["code"] == "InvalidCallbackUrl"


def test_a_load_run_with_webhooks_checks_every_callback_arrived_exactly_once(local_stack: Any) -> None:
    from facesvg.local.load import check, check_webhooks, execute, report

    run = execute(jobs=8, clients=4, duplicates=0.25, timeout_s=60, runtime=local_stack, webhooks=True)

    problems = check(run)
    assert problems == [], report(run, problems)
    assert run.webhooks is not None and len([g for g in run.webhooks if g.status == 200]) == 8
    assert "webhooks: 8 delivered for 8 callbacks" in report(run, problems)
    # and the check notices a delivery that arrived twice
    run.webhooks.append(next(g for g in run.webhooks if g.status == 200))
    assert any("more than once" in p for p in check_webhooks(run))


def test_the_sample_notify_event_runs_through_the_handler(local_stack: Any) -> None:
    sample = json.loads((DOCS.parents[1] / "events" / "notify_job_event.json").read_text())
    # its job does not exist here: nothing to fan out, and the record succeeds
    assert local_stack.invoke("notify", sample) == {"batchItemFailures": []}


def test_a_receiver_that_never_answers_is_cut_off_after_the_timeout() -> None:
    import socket

    from facesvg.service.notify import UrlPolicy, check_callback_url, post

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/slow"
        target = check_callback_url(url, UrlPolicy(allow_http=True, allow_loopback=True))
        started = time.monotonic()
        answer = post(target, b"{}", {"content-type": "application/json"}, timeout=0.3)
    assert answer.status is None and answer.error and time.monotonic() - started < 2


def _line(stream: Any, timeout: float = 60) -> str:
    import select

    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output within the timeout"
    return str(stream.readline())


def test_webhook_listen_prints_the_verified_delivery_of_submit_callback_url(local_stack: Any) -> None:
    from facesvg.local.aws import free_port

    port = free_port()
    env = {**os.environ, names.ENV_ENDPOINT_URL: local_stack.endpoint, "COLUMNS": "200"}
    listen = subprocess.Popen(
        [sys.executable, "-m", "facesvg.cli", "webhook-listen", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listen.stdout is not None
        assert "listening on" in _line(listen.stdout)
        submitted = subprocess.run(
            [
                sys.executable, "-m", "facesvg.cli", "submit", "--sample", "--api", local_stack.api_url,
                "--options", json.dumps(unique_body()["options"]),
                "--callback-url", f"http://127.0.0.1:{port}/hook", "--client-reference", "cli-demo",
            ],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        job_id = json.loads(submitted.stdout)["id"]
        line = _line(listen.stdout)
        assert "verified" in line and job_id in line and "ref=cli-demo" in line, line
    finally:
        listen.terminate()
        listen.wait(timeout=10)
