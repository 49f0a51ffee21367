"""The process function under real SQS batches: poisoned records, redelivery, retries and the DLQ."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.core.options import RenderOptions
from facesvg.local.pollers import sqs_record
from facesvg.service.aws.sqs import SqsJobQueue
from facesvg.service.composition import build_service
from facesvg.service.hashing import decode_base64
from facesvg.service.models import JobMessage
from integration_helpers import eventually, job_item, submit_url, unique_body, wait_finished

pytestmark = pytest.mark.integration


class _NoQueue:
    def send(self, message: JobMessage) -> None:
        pass


def _create_job(body: dict[str, Any]) -> tuple[str, str]:
    """A pending job with its inputs in S3, created by the service but not enqueued."""
    service = dataclasses.replace(build_service(), queue=_NoQueue())
    prepared = service.prepare(
        decode_base64(body["image"], "image"),
        decode_base64(body["segmentation_map"], "segmentation_map"),
        body["landmarks"],
        RenderOptions.model_validate(body.get("options", {})),
    )
    outcome = service.submit(prepared, source="test")
    assert outcome.created
    return outcome.job.job_id, prepared.content_hash


def _batch(stack: Any, bodies: list[str]) -> dict[str, Any]:
    """A real SQS event: the messages go through a scratch queue and come back with attributes."""
    sqs = stack.clients["sqs"]
    url = sqs.create_queue(QueueName=f"scratch-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    messages: list[dict[str, Any]] = []
    while len(messages) < len(bodies):
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
        messages.extend(out.get("Messages", []))
    order = {body: i for i, body in enumerate(bodies)}
    messages.sort(key=lambda m: order[m["Body"]])
    return {"Records": [sqs_record(m, arn, "us-east-1") for m in messages]}


def test_a_poisoned_message_fails_its_job_while_the_rest_of_the_batch_succeeds(local_stack: Any) -> None:
    good_1, _ = _create_job(unique_body())
    poisoned, poisoned_hash = _create_job(unique_body())
    good_2, _ = _create_job(unique_body())
    local_stack.clients["s3"].put_object(
        Bucket=names.BUCKET_NAME,
        Key=f"inputs/{poisoned_hash}/segmentation_map",
        Body=b"corrupted after submit",
    )
    event = _batch(
        local_stack,
        [JobMessage(job_id=j).model_dump_json() for j in (good_1, poisoned, good_2)] + ["{garbage"],
    )

    response = local_stack.invoke("process", event)

    # Only the unreadable message is reported (SQS retries it, then the DLQ); the poisoned job is
    # a permanent failure: recorded on the job, message acknowledged.
    garbage_id = event["Records"][3]["messageId"]
    assert response == {"batchItemFailures": [{"itemIdentifier": garbage_id}]}
    assert job_item(local_stack, good_1)["status"]["S"] == "completed"
    assert job_item(local_stack, good_2)["status"]["S"] == "completed"
    failed = job_item(local_stack, poisoned)
    assert failed["status"]["S"] == "failed" and failed["error_code"]["S"]


def test_redelivery_of_a_completed_job_does_no_work(local_stack: Any) -> None:
    job_id, content_hash = _create_job(unique_body())
    message = JobMessage(job_id=job_id).model_dump_json()
    assert local_stack.invoke("process", _batch(local_stack, [message])) == {"batchItemFailures": []}
    before = job_item(local_stack, job_id)
    s3 = local_stack.clients["s3"]
    svg_key = f"results/{content_hash}/face.svg"
    written = s3.head_object(Bucket=names.BUCKET_NAME, Key=svg_key)["LastModified"]

    again = local_stack.invoke("process", _batch(local_stack, [message, message]))

    assert again == {"batchItemFailures": []}
    after = job_item(local_stack, job_id)
    assert after == before and after["attempts"]["N"] == "1"
    assert s3.head_object(Bucket=names.BUCKET_NAME, Key=svg_key)["LastModified"] == written


def test_transient_errors_are_retried_then_fail_the_job_and_end_in_the_dlq(
    local_stack: Any, api: httpx.Client
) -> None:
    body = unique_body()
    job_id, content_hash = _create_job(body)
    local_stack.clients["s3"].delete_object(Bucket=names.BUCKET_NAME, Key=f"inputs/{content_hash}/image")
    resources = local_stack.resources
    SqsJobQueue(local_stack.clients["sqs"], resources.queue_url).send(JobMessage(job_id=job_id))

    def dead_lettered() -> dict[str, Any] | None:
        out = local_stack.clients["sqs"].receive_message(QueueUrl=resources.dlq_url, WaitTimeSeconds=1)
        for m in out.get("Messages", []):
            if json.loads(m["Body"]).get("job_id") == job_id:
                return m
        return None

    eventually(dead_lettered, timeout=30)
    item = job_item(local_stack, job_id)
    assert item["status"]["S"] == "failed" and item["error_code"]["S"] == "ProcessingFailed"
    assert item["attempts"]["N"] == str(names.MAX_RECEIVE_COUNT)

    # Not the caller's fault: an identical submit starts over (and the inputs are uploaded again).
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202 and r.json()["id"] != job_id
    assert wait_finished(api, r.json()["id"])["status"] == "completed"


def test_landmarks_that_fail_in_the_worker_fail_the_job_on_the_first_attempt(local_stack: Any) -> None:
    # Given a job whose stored landmarks became 478 copies of one point (they used to pass submit and
    # raise LinAlgError in the render three times, ending in the DLQ)
    body = unique_body()
    cheek = body["landmarks"]["landmarks"][0][205]  # on the skin: the old check let it through
    job_id, content_hash = _create_job(body)
    one_point = {"landmarks": [[cheek] * 478], "dimensions": body["landmarks"]["dimensions"]}
    local_stack.clients["s3"].put_object(
        Bucket=names.BUCKET_NAME,
        Key=f"inputs/{content_hash}/landmarks.json",
        Body=json.dumps(one_point).encode(),
    )
    # When the worker takes it
    response = local_stack.invoke(
        "process", _batch(local_stack, [JobMessage(job_id=job_id).model_dump_json()])
    )
    # Then the message is done (no retry, no DLQ) and the job failed on its inputs, once
    assert response == {"batchItemFailures": []}
    item = job_item(local_stack, job_id)
    assert item["status"]["S"] == "failed"
    assert item["error_code"]["S"] == "InvalidLandmarks"
    assert item["attempts"]["N"] == "1"


def test_degenerate_landmarks_fail_the_job_on_the_first_attempt_without_the_dlq(local_stack: Any) -> None:
    # Given a job whose stored landmarks are 478 copies of one point (past submit, straight to the
    # worker: whatever submit checks, the worker must not retry inputs that cannot be rendered)
    job_id, content_hash = _create_job(unique_body())
    one_point = {"landmarks": [[{"x": 300.0, "y": 300.0}] * 478]}
    local_stack.clients["s3"].put_object(
        Bucket=names.BUCKET_NAME, Key=f"inputs/{content_hash}/landmarks.json", Body=json.dumps(one_point)
    )

    # When the real process function gets its message on the first receive
    response = local_stack.invoke(
        "process", _batch(local_stack, [JobMessage(job_id=job_id).model_dump_json()])
    )

    # Then the record succeeds (nothing to retry, nothing for the DLQ) and the job failed on its inputs
    assert response == {"batchItemFailures": []}
    item = job_item(local_stack, job_id)
    assert item["status"]["S"] == "failed" and item["attempts"]["N"] == "1"
    # (the core answers NoFace today; a LinAlgError would be InvalidInput, see the unit tests)
    assert item["error_code"]["S"] in {"InvalidInput", "InvalidLandmarks", "NoFace"}, item["error_code"]
