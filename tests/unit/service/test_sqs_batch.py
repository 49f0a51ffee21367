"""SQS batches with partial failures: what the process and notify functions answer Lambda."""

from __future__ import annotations

from typing import Any

import pytest
from facesvg.service.sqs_batch import BatchFailed, SqsRecord, partial_batch_response


def _record(
    message_id: str, body: str, receive_count: str | None = "1", sent: str | None = None
) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": receive_count, "SentTimestamp": sent}
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {k: v for k, v in attributes.items() if v is not None},
        "eventSource": "aws:sqs",
    }


def _handle(record: SqsRecord) -> str:
    if record.body == "bad":
        raise ValueError("garbage")
    return record.body


def test_only_the_records_that_raise_are_reported() -> None:
    event = {"Records": [_record("a", "ok"), _record("b", "bad"), _record("c", "ok")]}
    assert partial_batch_response(event, _handle) == {"batchItemFailures": [{"itemIdentifier": "b"}]}


def test_a_batch_without_failures_reports_none() -> None:
    assert partial_batch_response({"Records": [_record("a", "ok")]}, _handle) == {"batchItemFailures": []}


def test_when_every_record_fails_the_invocation_fails() -> None:
    event = {"Records": [_record("a", "bad"), _record("b", "bad")]}
    with pytest.raises(BatchFailed, match="all 2 records failed"):
        partial_batch_response(event, _handle)


def test_the_record_fields_come_from_the_event() -> None:
    seen: list[SqsRecord] = []
    event = {
        "Records": [_record("m1", "x", receive_count="3", sent="1700000000123"), _record("m2", "y", None)]
    }
    partial_batch_response(event, seen.append)
    assert seen[0] == SqsRecord("m1", "x", "rh-m1", 3, 1700000000123.0)
    assert (seen[1].receive_count, seen[1].sent_timestamp_ms) == (1, None)  # absent: a first delivery


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, {"Records": [{"body": "no id"}]}])
def test_an_event_that_is_not_an_sqs_batch_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an SQS event"):
        partial_batch_response(event, _handle)


def test_concurrent_records_do_not_wait_on_each_other_and_the_budget_bounds_the_batch() -> None:
    import threading
    import time

    release = threading.Event()
    done: list[str] = []

    def handle(record: SqsRecord) -> None:
        if record.body == "slow":  # a receiver trickling its answer
            release.wait(30)
        if record.body == "bad":
            raise ValueError("garbage")
        done.append(record.message_id)

    event = {
        "Records": [_record("s1", "slow"), _record("s2", "slow"), _record("b", "bad"), _record("f", "fast")]
    }
    started = time.monotonic()
    try:
        answer = partial_batch_response(event, handle, concurrent=True, budget_seconds=0.5)
        took = time.monotonic() - started
    finally:
        release.set()
        for thread in threading.enumerate():  # the late records end once released
            if thread.name.startswith("sqs-record"):
                thread.join(timeout=10)

    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert failed == ["s1", "s2", "b"]  # the slow ones are retried later, not waited for
    assert done[:1] == ["f"] and took < 0.5 + 5  # generous: the machine is loaded


def test_concurrent_records_run_in_a_copy_of_the_callers_context() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("invocation")
    seen: list[str] = []
    event = {"Records": [_record("a", "x"), _record("b", "y")]}

    partial_batch_response(event, lambda r: seen.append(var.get()), concurrent=True, budget_seconds=5)

    assert seen == ["invocation", "invocation"]
