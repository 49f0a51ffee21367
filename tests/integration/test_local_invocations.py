"""Issue 15 items 6 and 7 on the local stack: each local invocation logs with its own ids, and the
local API answers unknown fields and chunked bodies as API Gateway + the submit function would."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR
from facesvg.service.observability import logger
from integration_helpers import eventually, keys, submit_url, unique_body

pytestmark = pytest.mark.integration


class _Keys(logging.Handler):
    """Every record with the logger's keys as the emitting invocation sees them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        keys = dict(logger.registered_formatter.log_format)
        with self._lock:
            self.lines.append({**keys, "message": record.getMessage(), "thread": record.threadName})


@pytest.fixture
def log_keys() -> Iterator[_Keys]:
    handler = _Keys()
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_each_local_invocation_logs_with_its_own_ids(
    local_stack: Any, api: httpx.Client, log_keys: _Keys
) -> None:
    # Given two API requests, each an invocation with its own request id
    for _ in range(2):
        assert api.post(submit_url(), json=unique_body()).status_code == 202
    submits = [k for k in log_keys.lines if k.get("function_name") == "facesvg-submit"]
    api_ids = {k.get("correlation_id") for k in submits}
    assert len(api_ids) == 2 and None not in api_ids
    assert len({k.get("function_request_id") for k in submits}) == 2

    # When a drop-folder upload starts a job (the ingest function, invoked by the S3 event source)
    for file_name, source in {
        "image.png": SAMPLE_DIR / "original_image.png",
        "segmentation_map.png": SAMPLE_DIR / "segmentation_map.png",
        "landmarks.txt": SAMPLE_DIR / "landmarks.txt",
    }.items():
        local_stack.clients["s3"].put_object(
            Bucket=names.BUCKET_NAME, Key=f"incoming/logs-own-ids/{file_name}", Body=source.read_bytes()
        )
    eventually(lambda: keys(local_stack, "results/logs-own-ids/job.json"), timeout=30)

    # Then its lines carry its own invocation's ids, never an API request's correlation id
    ingest = [k for k in log_keys.lines if k.get("function_name") == "facesvg-ingest"]
    assert ingest
    assert all(k.get("correlation_id") not in api_ids for k in ingest)
    assert all(
        k.get("function_request_id") not in {s.get("function_request_id") for s in submits} for k in ingest
    )
    # and outside any invocation the logger has no invocation's keys
    assert logger.registered_formatter.log_format.get("correlation_id") is None


def test_an_unknown_field_next_to_a_missing_one_names_both(api: httpx.Client) -> None:
    body = unique_body()
    body["segmentation"] = body.pop("segmentation_map")

    answer = api.post(submit_url(), json=body)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "segmentation"
    assert "unknown field 'segmentation'" in error["message"]
    assert "did you mean 'segmentation_map'" in error["message"]


def test_an_unknown_option_suggests_the_known_one(api: httpx.Client) -> None:
    body = unique_body()
    body["options"] = {**body.get("options", {}), "canvas": 512}

    error = api.post(submit_url(), json=body).json()["error"]

    assert error["field"] == "options.canvas"
    assert "did you mean 'canvas_size'" in error["message"]


def test_a_chunked_body_is_read(local_stack: Any, api: httpx.Client) -> None:
    # Given a request body sent with Transfer-Encoding: chunked (as curl does from a pipe)
    data = json.dumps(unique_body()).encode()
    host, port = local_stack.api_url.removeprefix("http://").split(":")
    chunks = b"".join(
        f"{len(data[i : i + 65536]):x}\r\n".encode() + data[i : i + 65536] + b"\r\n"
        for i in range(0, len(data), 65536)
    )
    request = (
        (
            f"POST {submit_url()} HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + chunks
        + b"0\r\n\r\n"
    )

    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk

    # Then it is read like any other: a job is accepted
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"202", answer[:500]
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["status"] == "pending"
