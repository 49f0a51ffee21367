"""Reading AWS event shapes that carry S3 object references."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus


def s3_created_objects(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(bucket, key) of every ObjectCreated record in an S3 notification event.

    Also accepts the same notification wrapped in SQS records (S3 → SQS → Lambda), and skips the
    ``s3:TestEvent`` S3 sends when a notification is configured. Keys arrive URL-encoded
    (``a+b.png``, ``x%2Fy``) on AWS and on moto alike: decoded here with ``unquote_plus``.
    """
    for record in event.get("Records") or []:
        if record.get("eventSource") == "aws:sqs":
            try:
                inner = json.loads(record.get("body") or "{}")
            except json.JSONDecodeError:
                continue
            if isinstance(inner, dict):
                yield from s3_created_objects(inner)
            continue
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
            "ObjectCreated:"
        ):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = (s3.get("object") or {}).get("key")
        if isinstance(bucket, str) and isinstance(key, str):
            yield bucket, unquote_plus(key)
