"""Fault injection on the local stack: every job ends completed exactly once, or failed with a reason;
poison messages reach the DLQ; ``facesvg redrive`` brings them back.

The faults are injected at the service's ports (the ``JobService`` takes its repository, blob store,
queue and render core as arguments): each test wraps the real moto-backed adapters, or the boto3
client under them, and never touches production code. The process handler is the real
``functions/process/handler.py`` (its own module copy, its ``default_service`` pointed at the faulty
service) fed by the real local SQS event source from a private queue + DLQ (maxReceiveCount 3), so
the stack's own pollers never see these messages.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from facesvg import names
from facesvg.commands.redrive import redrive
from facesvg.core.options import RenderOptions
from facesvg.local.lambdas import LocalContext, LocalFunction
from facesvg.local.pollers import SqsEventSource
from facesvg.local.resources import queue_depth
from facesvg.service.aws.dynamo import DynamoJobRepository
from facesvg.service.aws.sqs import SqsJobQueue
from facesvg.service.composition import build_service
from facesvg.service.errors import ServiceUnavailable
from facesvg.service.hashing import decode_base64
from facesvg.service.jobs import JobService
from facesvg.service.models import JobMessage
from facesvg.service.ports import Blob
from facesvg.service.worker import ProcessOutcome
from integration_helpers import eventually, job_item, job_items, keys, unique_body

# The unit tests' fakes (Deferred: a transfer done when first asked) live with them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "service"))
from service_fakes import Deferred

pytestmark = pytest.mark.integration

MAX_RECEIVES = 3
LEASE_SECONDS = 1


class Crash(BaseException):
    """The execution environment dies (timeout, OOM): no ``except Exception`` runs, no release."""


def client_error(code: str, op: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}, **extra}, op)  # type: ignore[arg-type]


class FaultyBlobs:
    """The S3 blob store, with ``put`` failing on the first ``n`` keys matching a prefix (also when
    the service writes several objects at once)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fail_puts: dict[str, int] = {}  # key prefix → failures left
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        for prefix, left in self.fail_puts.items():
            if key.startswith(prefix) and left > 0:
                self.fail_puts[prefix] = left - 1
                raise client_error("InternalError", "PutObject")
        self.puts.append(key)
        self.inner.put(key, data, content_type)

    def put_many(self, blobs: Sequence[Blob]) -> None:
        for blob in blobs:
            self.put(*blob)

    def begin_put_many(self, blobs: Sequence[Blob]) -> Deferred[None]:
        return Deferred(lambda: self.put_many(blobs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FaultyJobs:
    """The DynamoDB repository, recording finishes and with hooks before ``complete``."""

    def __init__(self, inner: DynamoJobRepository) -> None:
        self.inner = inner
        self.completed: Counter[str] = Counter()  # job id → successful complete() calls
        self.before_complete: Callable[[str], None] | None = None

    def complete(self, job_id: str, token: str, result: Any, now: str, event_claim_until: Any = None) -> Any:
        if self.before_complete is not None:
            hook, self.before_complete = self.before_complete, None
            hook(job_id)
        done = self.inner.complete(job_id, token, result, now, event_claim_until)
        if done is not None:
            self.completed[job_id] += 1
        return done

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakyDynamo:
    """The boto3 DynamoDB client, with ``transact_write_items`` cancelled by a conflict once."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.conflicts = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.conflicts > 0:
            self.conflicts -= 1
            raise client_error(
                "TransactionCanceledException",
                "TransactWriteItems",
                CancellationReasons=[{"Code": "TransactionConflict"}, {"Code": "None"}],
            )
        return self.inner.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclasses.dataclass
class Harness:
    stack: Any
    queue_url: str
    dlq_url: str
    service: JobService
    blobs: FaultyBlobs
    jobs: FaultyJobs
    renders: Counter[str]
    render_fault: list[Callable[[], None]]  # called before each render; may raise or block
    new_environment: Callable[[], Callable[[dict[str, Any]], Any]]
    source: SqsEventSource

    @property
    def sqs(self) -> Any:
        return self.stack.clients["sqs"]

    def create_job(self, body: dict[str, Any] | None = None) -> tuple[str, str]:
        body = body or unique_body()
        prepared = self.service.prepare(
            decode_base64(body["image"], "image"),
            decode_base64(body["segmentation_map"], "segmentation_map"),
            body["landmarks"],
            RenderOptions.model_validate(body.get("options", {})),
        )
        outcome = self.service.submit(prepared, source="test")  # enqueues on the private queue
        assert outcome.created
        return outcome.job.job_id, prepared.content_hash

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def pump_until(self, done: Callable[[], Any], timeout: float = 30.0) -> None:
        """Run the event source (receive → handler → delete / retry) until ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "condition not met in time"
            self.source.poll_once()

    def depth(self, url: str) -> int:
        """Messages in the queue, waiting or in flight (``queue_depth``: counted so that a message
        turning visible during the read is not missed, which made this file flaky)."""
        return queue_depth(self.sqs, url)

    def status(self, job_id: str) -> str:
        return str(job_item(self.stack, job_id)["status"]["S"])


@pytest.fixture
def harness(local_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    sqs = local_stack.clients["sqs"]
    tag = uuid.uuid4().hex[:10]
    dlq_url = sqs.create_queue(QueueName=f"faults-{tag}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"faults-{tag}",
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    base = build_service()
    blobs = FaultyBlobs(base.blobs)
    jobs = FaultyJobs(base.jobs)  # type: ignore[arg-type]
    renders: Counter[str] = Counter()
    render_fault: list[Callable[[], None]] = []
    core = base.render_core

    def render(*args: Any, **kwargs: Any) -> Any:
        renders["calls"] += 1
        if render_fault:
            render_fault[0]()
        return core.render(*args, **kwargs)

    service = dataclasses.replace(
        base,
        jobs=jobs,
        blobs=blobs,
        queue=SqsJobQueue(sqs, queue_url),
        settings=base.settings.model_copy(
            update={"lease_seconds": LEASE_SECONDS, "max_receive_count": MAX_RECEIVES}
        ),
        core=dataclasses.replace(core, render=render),
    )

    def new_environment() -> Callable[[dict[str, Any]], Any]:
        """One execution environment: its own copy of the handler module (its own module state)."""
        handler = LocalFunction("process")._load()
        monkeypatch.setattr(handler, "default_service", lambda: service)

        def invoke(event: dict[str, Any]) -> Any:
            try:
                return handler.lambda_handler(event, LocalContext(function_name="facesvg-process"))
            except Crash as exc:  # the environment died: Lambda reports an error, SQS retries the batch
                raise RuntimeError("execution environment crashed") from exc

        return invoke

    invoke = new_environment()

    source = SqsEventSource(
        sqs, queue_url, queue_arn, invoke, threading.Event(), wait_seconds=0, retry_delay_seconds=1
    )
    yield Harness(
        local_stack, queue_url, dlq_url, service, blobs, jobs, renders, render_fault, new_environment, source
    )
    sqs.delete_queue(QueueUrl=queue_url)
    sqs.delete_queue(QueueUrl=dlq_url)


def _assert_completed_once(h: Harness, job_id: str, content_hash: str, attempts: int) -> None:
    item = job_item(h.stack, job_id)
    assert item["status"]["S"] == "completed", item
    assert item["attempts"]["N"] == str(attempts)
    assert "lease_token" not in item and "error_code" not in item
    assert h.jobs.completed[job_id] == 1  # exactly one completion
    assert len(job_items(h.stack, content_hash)) == 1
    results = keys(h.stack, f"results/{content_hash}/")
    assert f"results/{content_hash}/face.svg" in results and f"results/{content_hash}/result.json" in results
    assert h.depth(h.queue_url) == 0 and h.depth(h.dlq_url) == 0


def test_render_raising_once_is_retried_and_completes_once(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()
    failures = [RuntimeError("injected: render blew up mid-way")]

    def fail_once() -> None:
        if failures:
            raise failures.pop()

    harness.render_fault.append(fail_once)

    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )

    assert harness.renders["calls"] == 2
    _assert_completed_once(harness, job_id, content_hash, attempts=2)


def test_a_linalg_error_on_the_inputs_fails_the_job_at_once_without_retry_or_dlq(harness: Harness) -> None:
    # Given inputs on which the render raises LinAlgError every time (degenerate landmarks)
    import numpy as np

    job_id, _ = harness.create_job()

    def degenerate() -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    harness.render_fault.append(degenerate)

    # When the real process function gets the message from SQS
    harness.pump_until(lambda: harness.status(job_id) == "failed" and harness.depth(harness.queue_url) == 0)

    # Then one attempt, failed InvalidInput naming the exception; nothing retried, nothing dead-lettered
    item = job_item(harness.stack, job_id)
    assert item["attempts"]["N"] == "1" and item["error_code"]["S"] == "InvalidInput"
    assert "LinAlgError" in item["error_message"]["S"]
    assert harness.renders["calls"] == 1
    assert harness.depth(harness.queue_url) == 0 and harness.depth(harness.dlq_url) == 0


def test_s3_put_failing_once_on_a_result_is_retried_and_completes_once(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()
    harness.blobs.fail_puts[f"results/{content_hash}/"] = 1

    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )

    _assert_completed_once(harness, job_id, content_hash, attempts=2)


def test_s3_put_failing_during_submit_leaves_no_job_and_a_retry_succeeds(harness: Harness) -> None:
    body = unique_body()
    harness.blobs.fail_puts["inputs/"] = 1

    with pytest.raises(ServiceUnavailable):
        harness.create_job(body)

    assert harness.depth(harness.queue_url) == 0  # nothing enqueued
    stuck = harness.stack.clients["dynamodb"].scan(
        TableName=names.TABLE_NAME,
        FilterExpression="#s = :t",
        ExpressionAttributeNames={"#s": "source"},
        ExpressionAttributeValues={":t": {"S": "test"}},
    )["Items"]
    job_id, content_hash = harness.create_job(body)  # the retry: a fresh job, nothing in its way
    assert [i for i in stuck if i["content_hash"]["S"] == content_hash] == []
    harness.pump_until(lambda: harness.status(job_id) == "completed")
    _assert_completed_once(harness, job_id, content_hash, attempts=1)


def test_a_transaction_conflict_on_create_is_retried(harness: Harness) -> None:
    flaky = FlakyDynamo(harness.jobs.inner.client)
    flaky.conflicts = 2
    harness.jobs.inner = dataclasses.replace(harness.jobs.inner, client=flaky)

    job_id, content_hash = harness.create_job()

    assert flaky.conflicts == 0
    harness.pump_until(lambda: harness.status(job_id) == "completed")
    _assert_completed_once(harness, job_id, content_hash, attempts=1)


def test_a_timed_out_worker_loses_its_lease_and_its_late_completion_is_refused(harness: Harness) -> None:
    """Worker A stalls in the render past its lease (a Lambda timeout); B takes the job over and
    completes it; when A wakes up its conditional completion fails: one completion, no regression."""
    job_id, content_hash = harness.create_job()
    entered, release = threading.Event(), threading.Event()

    def stall_first() -> None:
        if not entered.is_set():
            entered.set()
            assert release.wait(30)

    harness.render_fault.append(stall_first)
    outcomes: dict[str, Any] = {}
    a = threading.Thread(target=lambda: outcomes.setdefault("a", harness.service.process(job_id, 1)))
    a.start()
    assert entered.wait(30)
    # While A's lease is live, a second delivery must not render: SQS is told to retry.
    with pytest.raises(Exception, match="another worker"):
        harness.service.process(job_id, 2)
    time.sleep(LEASE_SECONDS + 0.3)

    outcomes["b"] = harness.service.process(job_id, 2)
    release.set()
    a.join(30)

    assert outcomes == {"a": ProcessOutcome.LOST_RACE, "b": ProcessOutcome.COMPLETED}
    assert harness.renders["calls"] == 2
    harness.sqs.purge_queue(QueueUrl=harness.queue_url)  # the job's original message, never delivered
    _assert_completed_once(harness, job_id, content_hash, attempts=2)


def test_a_crash_after_the_svg_upload_before_the_status_update_completes_once(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()
    crashed: list[str] = []

    def crash(job: str) -> None:
        assert f"results/{content_hash}/face.svg" in harness.blobs.puts  # the SVG is already up
        crashed.append(job)
        raise Crash

    harness.jobs.before_complete = crash

    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )

    assert crashed == [job_id]
    _assert_completed_once(harness, job_id, content_hash, attempts=2)


def test_the_same_message_twice_in_one_batch_and_across_batches_renders_once(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()  # message 1
    message = JobMessage(job_id=job_id).model_dump_json()
    harness.send(message)  # the duplicate, in the same batch
    harness.pump_until(lambda: harness.depth(harness.queue_url) == 0)
    harness.send(message)  # a late redelivery, in a later batch
    harness.pump_until(lambda: harness.depth(harness.queue_url) == 0)

    assert harness.renders["calls"] == 1
    _assert_completed_once(harness, job_id, content_hash, attempts=1)


def test_duplicates_delivered_to_two_workers_at_once_render_once(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()
    harness.send(JobMessage(job_id=job_id).model_dump_json())
    both_received = threading.Barrier(2)

    def worker() -> None:
        source = SqsEventSource(
            harness.sqs,
            harness.queue_url,
            harness.source.queue_arn,
            harness.new_environment(),
            threading.Event(),
            batch_size=1,
            wait_seconds=1,
            retry_delay_seconds=1,
        )
        messages = source.receive(1)
        both_received.wait(10)
        if messages:  # hand the received message to the handler, as poll_once does
            source.receive = lambda _n, m=messages: m  # type: ignore[method-assign]
            source.poll_once()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )

    assert harness.renders["calls"] == 1
    _assert_completed_once(harness, job_id, content_hash, attempts=1)


def test_poison_reaches_the_dlq_and_redrive_brings_the_job_back_to_completion(harness: Harness) -> None:
    job_id, content_hash = harness.create_job()
    harness.send("{this is not a job message")

    def always_fail() -> None:
        raise RuntimeError("injected: the renderer is broken")

    harness.render_fault.append(always_fail)

    harness.pump_until(lambda: harness.depth(harness.queue_url) == 0, timeout=40)

    # The job failed with a reason on its last receive; both messages are in the DLQ.
    item = job_item(harness.stack, job_id)
    assert item["status"]["S"] == "failed" and item["error_code"]["S"] == "ProcessingFailed"
    assert "injected: the renderer is broken" in item["error_message"]["S"]
    assert item["attempts"]["N"] == str(MAX_RECEIVES)
    assert harness.depth(harness.dlq_url) == 2

    harness.render_fault.clear()  # the renderer is fixed; redrive
    report = redrive(
        harness.sqs,
        harness.stack.clients["dynamodb"],
        harness.queue_url,
        names.TABLE_NAME,
        dlq_url=harness.dlq_url,
        max_messages=50,
    )

    assert report.moved == [job_id] and report.reopened == [job_id] and len(report.invalid) == 1
    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )
    item = job_item(harness.stack, job_id)
    assert item["attempts"]["N"] == str(MAX_RECEIVES + 1)
    assert harness.jobs.completed[job_id] == 1
    assert keys(harness.stack, f"results/{content_hash}/face.svg")
    # The unreadable message is still there (it becomes visible again), nothing else.
    eventually(lambda: harness.depth(harness.dlq_url) == 1, timeout=5)


def test_redrive_leaves_finished_jobs_alone(harness: Harness) -> None:
    """A DLQ message of a job that completed meanwhile moves back and does nothing."""
    job_id, content_hash = harness.create_job()
    harness.pump_until(
        lambda: harness.status(job_id) == "completed" and harness.depth(harness.queue_url) == 0
    )
    harness.sqs.send_message(
        QueueUrl=harness.dlq_url, MessageBody=JobMessage(job_id=job_id).model_dump_json()
    )

    report = redrive(
        harness.sqs, harness.stack.clients["dynamodb"], harness.queue_url, names.TABLE_NAME, max_messages=5
    )  # the DLQ found through the queue's redrive policy

    assert report.moved == [job_id] and report.reopened == []
    harness.pump_until(lambda: harness.depth(harness.queue_url) == 0)
    assert harness.renders["calls"] == 1
    _assert_completed_once(harness, job_id, content_hash, attempts=1)


def test_the_redrive_command_dry_run_counts_and_moves_nothing(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    from facesvg.cli import main

    for body in (JobMessage(job_id=uuid.uuid4().hex).model_dump_json(), "not a job"):
        harness.sqs.send_message(QueueUrl=harness.dlq_url, MessageBody=body)

    assert main(["redrive", "--queue-url", harness.queue_url, "--dry-run", "--max-messages", "10"]) == 0

    out = capsys.readouterr().out
    assert "[dry run] moved 1 message(s) back" in out and "1 message(s) that are not job messages" in out
    assert harness.depth(harness.dlq_url) == 2 and harness.depth(harness.queue_url) == 0
