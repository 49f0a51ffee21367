"""The journal (facesvg.local.persist) records the messages moto queues by itself, not only those
sent through the SQS API: an EventBridge rule's delivery to its SQS target (the job-end events the
notify queue gets), an S3 bucket notification (the drop folder's ingest queue) and the redrive of a
message to its dead-letter queue. Each is journaled once and leaves the journal when it is deleted.

One moto server process with a journal, as ``facesvg run`` starts it; the journal file is read here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from facesvg.local.aws import LOCAL_CREDENTIALS, LOCAL_REGION, MotoServer
from facesvg.local.persist import AWS_JOURNAL, Journal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, Journal]]:
    data_dir = tmp_path_factory.mktemp("journal")
    moto = MotoServer(data_dir=data_dir, journal=AWS_JOURNAL, role="DynamoDB and SQS")
    moto.start()
    journal = Journal(data_dir, AWS_JOURNAL)  # the same file, read from here
    try:
        yield moto, journal
    finally:
        journal.close()
        moto.stop()


def _client(server: tuple[MotoServer, Journal], service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=server[0].endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _queue(sqs: Any, **attributes: str) -> tuple[str, str, str]:
    name = f"q-{uuid.uuid4().hex[:10]}"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return name, url, arn


def _journaled(journal: Journal, queue: str) -> list[tuple[str, str]]:
    return [(mid, body) for q, mid, body, _ in journal.messages() if q == queue]


def _receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    return list(
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    )


def test_an_event_the_bus_delivers_to_a_queue_is_journaled_until_it_is_deleted(
    server: tuple[MotoServer, Journal],
) -> None:
    # Given a bus whose rule targets a queue
    sqs, events = _client(server, "sqs"), _client(server, "events")
    journal = server[1]
    name, url, arn = _queue(sqs)
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    events.put_rule(Name="r", EventBusName=bus, EventPattern=json.dumps({"source": ["facesvg"]}))
    events.put_targets(Rule="r", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    # When an event is published (no SQS request: moto delivers it)
    detail = {"id": "job-1", "status": "completed"}
    out = events.put_events(
        Entries=[
            {
                "Source": "facesvg",
                "DetailType": "JobCompleted",
                "Detail": json.dumps(detail),
                "EventBusName": bus,
            },
            {"Source": "other", "DetailType": "X", "Detail": "{}", "EventBusName": bus},  # no rule matches
        ]
    )
    assert out["FailedEntryCount"] == 0

    # Then the delivered message is journaled once, as a sent message of that queue
    rows = _journaled(journal, name)
    assert len(rows) == 1
    assert json.loads(rows[0][1])["detail"] == detail
    # and deleting it by its receipt handle takes it out of the journal
    (message,) = _receive_all(sqs, url)
    assert message["MessageId"] == rows[0][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _journaled(journal, name) == []


def test_a_bucket_notification_to_a_queue_is_journaled_until_it_is_deleted(
    server: tuple[MotoServer, Journal],
) -> None:
    # Given a bucket that notifies a queue of uploads under incoming/ (the drop folder's wiring)
    sqs, s3 = _client(server, "sqs"), _client(server, "s3")
    journal = server[1]
    name, url, arn = _queue(sqs)
    bucket = f"b-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )
    sqs.purge_queue(QueueUrl=url)  # moto's test event for the new configuration

    # When a file is uploaded there (and one elsewhere, which notifies nobody)
    s3.put_object(Bucket=bucket, Key="incoming/demo/landmarks.txt", Body=b"1 2")
    s3.put_object(Bucket=bucket, Key="results/demo/x", Body=b"x")

    # Then its notification is journaled, once, until it is deleted
    rows = _journaled(journal, name)
    assert len(rows) == 1
    assert (
        unquote(json.loads(rows[0][1])["Records"][0]["s3"]["object"]["key"]) == "incoming/demo/landmarks.txt"
    )
    (message,) = _receive_all(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _journaled(journal, name) == []


def test_a_message_redriven_to_its_dlq_is_journaled_there(server: tuple[MotoServer, Journal]) -> None:
    # Given a queue whose messages go to a DLQ after one receive, and a message received once
    sqs = _client(server, "sqs")
    journal = server[1]
    dlq_name, dlq_url, dlq_arn = _queue(sqs)
    name, url, _ = _queue(
        sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    )
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="job",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "render"}},
    )["MessageId"]
    (first,) = _receive_all(sqs, url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)

    # When the next receive finds it past maxReceiveCount (moto moves it to the DLQ)
    assert _receive_all(sqs, url) == []

    # Then its journal row moved with it, attributes kept (a restart puts it back in the DLQ)
    assert _journaled(journal, name) == []
    assert _journaled(journal, dlq_name) == [(sent, "job")]
    (row,) = [attrs for q, _, _, attrs in journal.messages() if q == dlq_name]
    assert row["MessageAttributes"]["kind"]["StringValue"] == "render"
    # and a redrive that deletes it from the DLQ leaves nothing behind
    (dead,) = _receive_all(sqs, dlq_url)
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"])
    assert _journaled(journal, dlq_name) == []
