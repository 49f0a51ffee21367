"""DynamoDB item mapping and the conditional-create rules, against a stub client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from facesvg.service.aws.dynamo import DynamoJobRepository
from facesvg.service.aws.dynamo_items import job_from_item, job_to_item
from facesvg.service.errors import StoreError
from facesvg.service.models import Job, JobResult, JobStatus

JOB = Job(
    job_id="a" * 32,
    content_hash="h" * 64,
    status=JobStatus.PENDING,
    created_at="t0",
    updated_at="t0",
    source="api",
)


def _cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": c} for c in codes],
        },
        "TransactWriteItems",
    )


class StubClient:
    def __init__(self, outcomes: list[Exception | None], holder: str | None = "b" * 32) -> None:
        self.outcomes = outcomes
        self.holder = holder
        self.transactions = 0

    def transact_write_items(self, **kwargs: Any) -> None:
        self.transactions += 1
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {"Item": {"job_id": {"S": self.holder}}} if self.holder else {}


def test_job_items_round_trip() -> None:
    job = JOB.model_copy(
        update={
            "publish_to": frozenset({"x"}),
            "result": JobResult(prefix="results/h/", regions=["nose"], transform=[[1.0, 0, 0], [0, 1.0, 0]]),
        }
    )
    item = job_to_item(job, expires_at=123)
    item["result"] = {"S": job.result.model_dump_json()}  # type: ignore[union-attr]
    assert item["pk"] == {"S": "JOB#" + "a" * 32} and item["expires_at"] == {"N": "123"}
    assert job_from_item(item) == job


def test_create_wins() -> None:
    repo = DynamoJobRepository(StubClient([None]), "t")
    assert repo.create_job(JOB, 1) is None


def test_create_loses_to_an_existing_hash_and_returns_its_job() -> None:
    repo = DynamoJobRepository(StubClient([_cancelled("ConditionalCheckFailed", "None")]), "t")
    assert repo.create_job(JOB, 1) == "b" * 32


def test_a_transaction_conflict_is_retried_until_the_other_submit_committed() -> None:
    client = StubClient(
        [_cancelled("TransactionConflict", "None"), _cancelled("ConditionalCheckFailed", "None")]
    )
    assert DynamoJobRepository(client, "t").create_job(JOB, 1) == "b" * 32
    assert client.transactions == 2


def test_other_cancellations_are_errors() -> None:
    repo = DynamoJobRepository(StubClient([_cancelled("ValidationError")]), "t")
    with pytest.raises(StoreError):  # translated: no botocore type above the adapter
        repo.create_job(JOB, 1)


def test_a_retried_transaction_that_had_committed_finds_its_own_job_and_still_owns_it() -> None:
    # The SDK's first attempt committed but its answer was lost; the retry fails the condition on
    # the cache item that attempt wrote. The submit must still enqueue the job it created.
    client = StubClient([_cancelled("ConditionalCheckFailed", "ConditionalCheckFailed")], holder=JOB.job_id)
    assert DynamoJobRepository(client, "t").create_job(JOB, 1) is None
