"""Each function's handler with the sample events in events/ (so they stay valid), on moto."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from integration_helpers import unique_body

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def test_submit_event_behind_a_stage_answers_with_an_absolute_status_url(local_stack: Any) -> None:
    event = _event("api_submit_v1.json")
    event["body"] = json.dumps(unique_body())

    response = local_stack.invoke("submit", event)

    assert response["statusCode"] == 202, response["body"]
    body = json.loads(response["body"])
    assert (
        body["status_url"]
        == f"https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/v1/status/{body['id']}"
    )


def test_submit_event_with_the_placeholder_body_is_rejected_naming_the_field(local_stack: Any) -> None:
    response = local_stack.invoke("submit", _event("api_submit_frontal_crop.json"))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["field"] == "image"


def test_status_event_for_an_unknown_job_is_404(local_stack: Any) -> None:
    response = local_stack.invoke("status", _event("api_status.json"))
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NotFound"


def test_sqs_event_for_unknown_jobs_is_acknowledged(local_stack: Any) -> None:
    assert local_stack.invoke("process", _event("sqs_process_batch.json")) == {"batchItemFailures": []}


def test_s3_events_for_an_incomplete_folder_wait_and_test_events_are_skipped(local_stack: Any) -> None:
    assert local_stack.invoke("ingest", _event("s3_ingest_put.json")) == {
        "objects": {"incoming/sample-1/landmarks.txt": "waiting"}
    }
    assert local_stack.invoke("ingest", _event("s3_test_event.json")) == {"objects": {}}
