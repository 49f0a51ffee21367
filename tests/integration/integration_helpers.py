"""Helpers for the integration tests (real HTTP → handlers → moto's server)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR, sample_payload

T = TypeVar("T")
_margins = itertools.count()
_SAMPLE = sample_payload()
PREFIXES = names.ROUTE_PREFIXES


def unique_body() -> dict[str, Any]:
    """The QOVES sample with a render option no other test uses: a fresh content hash."""
    n = next(_margins)
    return {**_SAMPLE, "options": {"margin": round(0.2 + 0.001 * n, 3), "canvas_size": 512}}


def submit_url(prefix: str = PREFIXES[0]) -> str:
    return prefix + names.SUBMIT_PATH


def status_url(job_id: str, prefix: str = PREFIXES[0]) -> str:
    return prefix + names.STATUS_PATH.replace("{id}", job_id)


def eventually(check: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_finished(
    api: httpx.Client,
    job_id: str,
    prefix: str = PREFIXES[0],
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``headers``: the submitting client's (its ``x-api-key``: a job answers only its own client)."""

    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(status_url(job_id, prefix), headers=headers).json()
        return body if body["status"] in ("completed", "failed") else None

    return eventually(check, timeout)


def job_items(stack: Any, content_hash: str) -> list[dict[str, Any]]:
    """Every job item for a content hash (a scan: fine on a test table)."""
    out = stack.clients["dynamodb"].scan(
        TableName=names.TABLE_NAME,
        FilterExpression="content_hash = :h",
        ExpressionAttributeValues={":h": {"S": content_hash}},
    )
    return list(out["Items"])


def job_item(stack: Any, job_id: str) -> dict[str, Any]:
    out = stack.clients["dynamodb"].get_item(
        TableName=names.TABLE_NAME, Key={names.TABLE_PARTITION_KEY: {"S": names.JOB_KEY_PREFIX + job_id}}
    )
    return dict(out["Item"])


def keys(stack: Any, prefix: str) -> list[str]:
    out = stack.clients["s3"].list_objects_v2(Bucket=names.BUCKET_NAME, Prefix=prefix)
    return sorted(o["Key"] for o in out.get("Contents", []))


def faceparsing19_map() -> bytes:
    """The QOVES sample's LaPa map with each value renumbered to the faceparsing19 class of the same
    name (``facesvg.core.label_schemes``): a 19-class map made here, nothing committed."""
    import cv2
    import numpy as np
    from facesvg.core.label_schemes import SCHEMES

    lapa, fp19 = SCHEMES["lapa"].classes, SCHEMES["faceparsing19"].classes
    lut = np.array([fp19.index(name) for name in lapa], np.uint8)  # [0, 1, 2, 3, 4, 5, 10, 12, 11, 13, 17]
    labels = cv2.imdecode(
        np.frombuffer((SAMPLE_DIR / "segmentation_map.png").read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED
    )
    ok, encoded = cv2.imencode(".png", lut[labels])
    assert ok
    return bytes(encoded)
