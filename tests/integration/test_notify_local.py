"""Webhooks and job-end events on the local stack: a real HTTP receiver on 127.0.0.1, moto's
EventBridge bus → rule → notify queue → the notify handler, the same path as on AWS.

The stack's webhook backoff base is 0 (tests/conftest.py): a retry comes back at once, so the
retry and DLQ paths run in well under a second each; the schedule itself is unit-tested.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
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
from facesvg.service.composition import build_service
from facesvg.service.models import JobMessage, SubmitRequest
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
    forged_headers = {**headers, "facesvg-signature": "v2=" + "0" * 64}
    replayed_headers = {**headers, "facesvg-delivery-id": uuid.uuid4().hex}  # a captured delivery, new id
    v1_only = {**headers, "facesvg-signature": headers["facesvg-signature"].split(",")[1]}
    tampered = got.raw.replace(b'"status":"completed"', b'"status":"failed"')
    assert headers["facesvg-signature"].startswith("v2=") and v1_only["facesvg-signature"].startswith("v1=")

    scope: dict[str, Any] = {}
    exec(_snippet("python"), scope)
    verify = scope["verify"]
    assert verify(secret, headers, got.raw)
    assert not verify(secret, forged_headers, got.raw)
    assert not verify(secret, headers, tampered)
    assert not verify(secret, replayed_headers, got.raw)
    assert not verify(secret, v1_only, got.raw)  # the snippets check v2
    assert not verify("not-the-secret", headers, got.raw)

    shell = tmp_path / "verify.sh"
    shell.write_text(_snippet("sh"), encoding="utf-8")
    (tmp_path / "body.json").write_bytes(got.raw)
    (tmp_path / "tampered.json").write_bytes(tampered)

    def verify_sh(h: dict[str, str], body_file: str, key: str = secret) -> bool:
        args = [h["facesvg-timestamp"], h["facesvg-delivery-id"], h["facesvg-signature"]]
        run = subprocess.run(
            ["sh", str(shell), key, *args, str(tmp_path / body_file)], capture_output=True, text=True
        )
        assert run.stdout.strip() in ("valid", "invalid"), run
        return run.returncode == 0 and run.stdout.strip() == "valid"

    if shutil.which("openssl"):
        assert verify_sh(headers, "body.json")
        assert not verify_sh(forged_headers, "body.json")
        assert not verify_sh(headers, "tampered.json")
        assert not verify_sh(replayed_headers, "body.json")
        assert not verify_sh(v1_only, "body.json")
        assert not verify_sh(headers, "body.json", key="not-the-secret")

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
        [secret, replayed_headers, base64.b64encode(got.raw).decode()],
        [secret, v1_only, base64.b64encode(got.raw).decode()],
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
    assert json.loads(out.stdout) == [True, False, False, False, False]


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
        "https://[2002:c0a8:101::]/hook",  # 6to4 of 192.168.1.1 (loopback is allowed locally)
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4 instance metadata
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 instance metadata
        "https://[fec0::1]/hook",  # site-local
        "https://192.0.0.9/hook",  # IETF protocol assignments
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
    ],
)
def test_every_refused_url_class_is_a_400_naming_callback_url(api: httpx.Client, url: str) -> None:
    r = api.post(submit_url(), json={**unique_body(), "callback_url": url})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == "callback_url" and error["code"] == "InvalidCallbackUrl"


@pytest.mark.parametrize("prefix", names.ROUTE_PREFIXES)
@pytest.mark.parametrize(
    "path",
    ["/caf\u00e9", "/hook?name=J\u00fcrgen", "/hook?x=\u0000", "/a\tb", "/\u2028", "/hook\u0085"],
)
def test_a_callback_that_could_never_be_sent_is_a_400_on_both_route_families(
    api: httpx.Client, receiver: WebhookReceiver, prefix: str, path: str
) -> None:
    r = api.post(submit_url(prefix), json={**unique_body(), "callback_url": receiver.url(path)})
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


# ------------------------------------------------------------ slow receivers: isolation


@dataclasses.dataclass
class _Connection:
    opened: float  # time.time()
    closed: float | None = None  # when the sender gave up (or the answer was sent)
    head: bytes = b""


class Trickler:
    """A receiver on 127.0.0.1 that answers 1 byte/s of a never-ending header (every connection),
    until ``finish()`` makes it answer 200 at once. Records when each connection opened and when
    the sender closed it."""

    def __init__(self, interval: float = 1.0) -> None:
        import socket

        self.interval = interval
        self.connections: list[_Connection] = []
        self.answered = 0  # attempts answered 200 (after finish())
        self._finish = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._accept = threading.Thread(target=self._accept_loop, name="trickler", daemon=True)
        self._accept.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}{path}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            record = _Connection(time.time())
            self.connections.append(record)
            t = threading.Thread(target=self._serve, args=(conn, record), name="trickler-conn", daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: Any, record: _Connection) -> None:
        with conn:
            try:
                conn.settimeout(5)
                while b"\r\n\r\n" not in record.head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    record.head += chunk
                status = b"HTTP/1.1 200 OK\r\nX-Slow: "
                endless = status + b"a" * 1_000_000
                for sent, byte in enumerate(endless):
                    if self._finish.is_set() or self._stop.is_set():
                        rest = status[sent:] if sent < len(status) else b""
                        conn.sendall(rest + b"1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        self.answered += 1
                        break
                    conn.settimeout(self.interval)
                    try:
                        if conn.recv(65536) == b"":  # the sender closed the connection
                            break
                    except TimeoutError:
                        pass
                    conn.sendall(bytes([byte]))
            except OSError:
                pass
            finally:
                record.closed = time.time()

    def open_now(self) -> int:
        return sum(1 for c in self.connections if c.closed is None)

    def finish(self) -> None:
        """From now on answer 200 (the deliveries end, none is left to the DLQ)."""
        self._finish.set()

    def close(self) -> None:
        self._stop.set()
        self._accept.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
        self._server.close()


def test_slow_receivers_of_one_client_do_not_delay_another_clients_webhook(
    local_stack: Any, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    """Client A's two receivers trickle their answers 1 byte/s; client B's answers at once: B's
    webhook arrives within seconds of its job's end, and each of A's attempts ends by the deadline."""
    from facesvg.service.clock import epoch_of
    from facesvg.service.settings import get_settings

    deadline = get_settings().notify_timeout_seconds
    slow_a1, slow_a2 = Trickler(), Trickler()
    try:
        a1 = _submit(api, {**unique_body(), "callback_url": slow_a1.url("/a1"), "client_reference": "a1"})
        a2 = _submit(api, {**unique_body(), "callback_url": slow_a2.url("/a2"), "client_reference": "a2"})
        eventually(lambda: slow_a1.open_now() and slow_a2.open_now(), timeout=60)

        path_b = _path()
        b = _submit(api, {**unique_body(), "callback_url": receiver.url(path_b), "client_reference": "b"})
        finished = wait_finished(api, b["id"], timeout=60)
        (got,) = _delivered(receiver, path_b, timeout=30)

        assert finished["status"] == "completed"
        late = got.at - epoch_of(got.body["finished_at"])
        assert got.verified and got.body["client_reference"] == "b"
        assert late < deadline, f"B's webhook arrived {late:.1f} s after its job ended"
        assert all(c.connections[0].opened < got.at for c in (slow_a1, slow_a2))  # A's came first
        print(f"B's webhook {late:.2f} s after its job ended")
        # A's receivers were being tried all along; each attempt ends by the deadline.
        eventually(lambda: slow_a1.connections[0].closed and slow_a2.connections[0].closed, deadline + 10)
        ended = [c for c in slow_a1.connections + slow_a2.connections if c.closed is not None]
        assert max(c.closed - c.opened for c in ended if c.closed) < deadline + 2.0  # generous: load
        assert {a1["id"], a2["id"]} and all(b"facesvg-signature" in c.head for c in slow_a1.connections)
    finally:
        slow_a1.finish()
        slow_a2.finish()
        try:  # A's deliveries end (200) rather than going on to the DLQ under later tests
            eventually(lambda: slow_a1.answered and slow_a2.answered, timeout=60)
        finally:
            slow_a1.close()
            slow_a2.close()


def test_within_one_notify_batch_a_trickling_receiver_does_not_hold_up_the_others(
    local_stack: Any, receiver: WebhookReceiver
) -> None:
    """One batch of three deliveries — two to receivers trickling 1 byte/s, one to a receiver that
    answers at once — given to the notify function as the SQS event source does: the quick one is
    delivered while the slow ones are still open, and the slow ones end by the deadline."""
    from facesvg.local.pollers import sqs_record
    from facesvg.service.notify import Delivery
    from facesvg.service.settings import get_settings

    deadline = get_settings().notify_timeout_seconds
    sqs, url = local_stack.clients["sqs"], local_stack.resources.notify_queue_url
    slow_a1, slow_a2 = Trickler(), Trickler()
    path_b = _path()
    ids = {}
    batch: threading.Thread | None = None
    local_stack.stop_pollers()  # this test is the event source for the three messages
    try:
        for name, target in [
            ("a1", slow_a1.url("/a1")),
            ("a2", slow_a2.url("/a2")),
            ("b", receiver.url(path_b)),
        ]:
            delivery = Delivery(
                delivery_id=uuid.uuid4().hex,
                type="JobFailed",
                url=target,
                client_reference=name,
                detail={
                    "id": uuid.uuid4().hex,
                    "status": "failed",
                    "error": {"code": "NoFace", "message": "x"},
                },
            )
            ids[sqs.send_message(QueueUrl=url, MessageBody=delivery.model_dump_json())["MessageId"]] = name
        mine: list[dict[str, Any]] = []

        def receive_all() -> bool:
            out = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            )
            for m in out.get("Messages", []):
                if m["MessageId"] in ids:
                    mine.append(m)
                else:  # not this test's: back to the queue
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
            return len(mine) == 3

        eventually(receive_all, timeout=30)
        mine.sort(key=lambda m: ids[m["MessageId"]])  # a1, a2, b: the quick one last in the batch
        event = {
            "Records": [sqs_record(m, local_stack.resources.notify_queue_arn, "us-east-1") for m in mine]
        }
        answers: list[dict[str, Any]] = []
        batch = threading.Thread(
            target=lambda: answers.append(local_stack.invoke("notify", event)), daemon=True
        )
        started = time.time()
        batch.start()
        batch.join(timeout=deadline + 20)  # a batch held by its slow receivers fails, never hangs
        took = time.time() - started
        assert answers, f"the batch was still running {took:.0f} s later, held by its slow receivers"
        answer = answers[0]

        (got,) = _delivered(receiver, path_b)
        failed = {
            ids[m["MessageId"]]
            for m in mine
            if {"itemIdentifier": m["MessageId"]} in answer["batchItemFailures"]
        }
        assert failed == {"a1", "a2"}  # retried later; B delivered
        slow = slow_a1.connections + slow_a2.connections
        assert len(slow) == 2 and all(c.closed for c in slow)
        assert all(got.at < c.closed for c in slow if c.closed), "B waited for A's receivers"
        assert max(c.closed - c.opened for c in slow if c.closed) < deadline + 2.0
        assert took < deadline + 3.0  # the batch took one deadline, not one per slow receiver
        print(f"batch [A, A, B]: {took:.2f} s; B {got.at - started:.2f} s after it started")
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)],
        )
    finally:
        slow_a1.finish()
        slow_a2.finish()
        if batch is not None:
            batch.join(timeout=30)
        local_stack.start_pollers()
        slow_a1.close()
        slow_a2.close()


def test_jobs_created_already_completed_publish_one_job_end_event_each(
    local_stack: Any, api: httpx.Client, spy: Any
) -> None:
    """Another client's identical inputs, and a drop folder over an earlier render: each job is
    created completed over the shared render, and each end is one event on the bus."""
    from facesvg.client.payload import SAMPLE_DIR

    body = unique_body()
    first = _submit(api, body)
    wait_finished(api, first["id"])
    other_client = {"x-api-key": f"client-{uuid.uuid4().hex[:8]}"}
    r = api.post(submit_url(), json=body, headers=other_client)
    assert r.status_code in (200, 202), r.text
    second = r.json()
    assert second["id"] != first["id"]
    wait_finished(api, second["id"], headers=other_client)

    name = f"over-render-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.clients["s3"]
    for file_name, data in [
        ("options.json", json.dumps(body["options"]).encode()),
        ("image.png", (SAMPLE_DIR / "original_image.png").read_bytes()),
        ("segmentation_map.png", (SAMPLE_DIR / "segmentation_map.png").read_bytes()),
        ("landmarks.txt", (SAMPLE_DIR / "landmarks.txt").read_bytes()),
    ]:
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"incoming/{name}/{file_name}", Body=data)

    def dropped_job() -> str | None:
        try:
            obj = s3.get_object(Bucket=names.BUCKET_NAME, Key=f"results/{name}/job.json")
        except s3.exceptions.NoSuchKey:
            return None
        return str(json.loads(obj["Body"].read())["id"])

    third = eventually(dropped_job, timeout=60)
    assert (
        job_item(local_stack, third)["content_hash"]["S"]
        == job_item(local_stack, first["id"])["content_hash"]["S"]
    )
    assert job_item(local_stack, third)["attempts"]["N"] == "0"  # created completed: never rendered

    for job_id in (first["id"], second["id"], third):
        events: list[dict[str, Any]] = eventually(functools.partial(spy, job_id), timeout=30)
        assert [e["detail-type"] for e in events] == ["JobCompleted"], job_id
    eventually(lambda: job_item(local_stack, third)["event_state"]["S"] == "published", timeout=30)
    time.sleep(1.5)  # a second event would be published within this (the process poller waits ≤ 1 s)
    assert [len(spy(j)) for j in (first["id"], second["id"], third)] == [1, 1, 1]
    assert job_item(local_stack, second["id"])["event_state"]["S"] == "published"
