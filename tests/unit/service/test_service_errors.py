"""AWS errors stop at the adapters: a throttled or unreachable store is a 503 with Retry-After,
whichever store it is; anything else is an internal error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from facesvg.local.lambdas import LocalContext
from facesvg.service.api import create_app, resolve
from facesvg.service.aws.dynamo import DynamoJobRepository
from facesvg.service.aws.errors import translate
from facesvg.service.errors import StoreError, StoreUnavailable
from service_fakes import make_harness

EVENTS = Path(__file__).resolve().parents[3] / "events"
BODY = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": [[1.0, 2.0]]})


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "Operation",
    )


class ThrottledDynamo:
    """A DynamoDB client whose table is out of write capacity (after the SDK's own retries)."""

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {}

    def transact_write_items(self, **kwargs: Any) -> None:
        raise _client_error("ProvisionedThroughputExceededException")


def test_a_throttled_dynamodb_create_job_answers_503_with_retry_after() -> None:
    # Given the job table throttles writes
    h = make_harness()
    h.service.jobs = DynamoJobRepository(ThrottledDynamo(), "jobs")
    app = create_app(lambda: h.service)
    event = json.loads((EVENTS / "api_submit_v1.json").read_text())
    event["body"] = BODY

    # When a new job is submitted
    response = resolve(app, event, LocalContext("test"), max_body_bytes=1_000_000)

    # Then the client is told to come back, like for an S3 or SQS outage, and nothing is queued
    assert response["statusCode"] == 503, response["body"]
    headers = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    assert headers["retry-after"] == ["1"]
    error = json.loads(response["body"])["error"]
    assert error["code"] == "ServiceUnavailable" and "Provisioned" not in error["message"]
    assert h.queue.messages == []


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("ThrottlingException"),
        _client_error("ProvisionedThroughputExceededException"),
        _client_error("SlowDown", 503),
        _client_error("InternalError", 500),
        _client_error("AnythingElse", 502),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_busy_or_unreachable_stores_are_unavailable(exc: Exception) -> None:
    error = translate(exc, "doing it")
    assert isinstance(error, StoreUnavailable)
    assert error.message == "temporarily unavailable, retry shortly"  # all the client sees
    assert str(error).startswith("doing it: ")  # the logs and a failed job's reason say more


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("AccessDenied", 403),
        _client_error("NoSuchKey", 404),
        _client_error("ValidationException"),
    ],
)
def test_refusals_are_store_errors_not_unavailability(exc: Exception) -> None:
    error = translate(exc, "doing it")
    assert isinstance(error, StoreError) and not isinstance(error, StoreUnavailable)
