"""Reading S3 notifications, from the sample events in events/."""

from __future__ import annotations

import json
from pathlib import Path

from facesvg.service.s3_events import s3_created_objects

EVENTS = Path(__file__).resolve().parents[3] / "events"


def _load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((EVENTS / name).read_text())


def test_object_created_records_give_bucket_and_key() -> None:
    assert list(s3_created_objects(_load("s3_ingest_put.json"))) == [
        ("facesvg-local-data", "incoming/sample-1/landmarks.txt")
    ]


def test_the_s3_test_event_has_nothing_to_do() -> None:
    assert list(s3_created_objects(_load("s3_test_event.json"))) == []


def test_keys_are_url_decoded() -> None:
    event = _load("s3_ingest_put.json")
    event["Records"][0]["s3"]["object"]["key"] = "incoming/my+face/image%2Bx.png"
    assert list(s3_created_objects(event)) == [("facesvg-local-data", "incoming/my face/image+x.png")]


def test_notifications_wrapped_in_sqs_records_are_unwrapped() -> None:
    inner = _load("s3_ingest_put.json")
    wrapped = {
        "Records": [
            {"eventSource": "aws:sqs", "body": json.dumps(inner)},
            {"eventSource": "aws:sqs", "body": "{"},
        ]
    }
    assert list(s3_created_objects(wrapped)) == [("facesvg-local-data", "incoming/sample-1/landmarks.txt")]


def test_other_event_names_are_ignored() -> None:
    event = _load("s3_ingest_put.json")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert list(s3_created_objects(event)) == []
