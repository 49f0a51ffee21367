"""The local gateway on a raw socket: request framing it cannot trust is a 400 at once (never a
dropped or hung connection), and the API key it checks is the one the functions see. Then the
request's media type and size as the local stack answers them.

Each framing case is written byte for byte (an HTTP client library would refuse to send most).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from facesvg.local.apigw import ApiGateway
from facesvg.service.scopes import client_scope

pytestmark = pytest.mark.integration

STATUS_PATH = "/api/v1/status/" + "0" * 32
SUBMIT_PATH = "/api/v1/submit"
ANSWER_WITHIN_S = 10.0  # generous: the machine is shared; a hung connection never answers


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@pytest.fixture
def gateway() -> Iterator[tuple[ApiGateway, Recorder]]:
    recorder = Recorder()
    gw = ApiGateway(recorder, 0, api_key=("key-a", "key-b"))
    gw.start()
    try:
        yield gw, recorder
    finally:
        gw.stop()


def exchange(port: int, raw: bytes, expect_close: bool = False) -> tuple[int, dict[str, str], bytes, bool]:
    """Send ``raw``; (status, headers, body, and with ``expect_close`` whether the server closed the
    connection after the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN_S) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            assert got, f"connection closed without an answer: {data!r}"
            data += got
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            got = s.recv(65536)
            assert got, "connection closed in the middle of the answer"
            rest += got
        if not expect_close:
            return status, headers, rest[:length], False
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
        return status, headers, rest[:length], closed


def request(method: str, path: str, headers: list[str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


MALFORMED = {
    "length_not_a_number": request("POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: abc"]),
    "length_negative": request("POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: -1"]),
    "length_signed": request("POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: +2"], b"{}"),
    "length_float": request("POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: 1e3"]),
    "length_list": request("POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: 2, 2"], b"{}"),
    "two_lengths": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Content-Length: 2", "Content-Length: 3"], b"{}"
    ),
    "length_and_chunked": request(
        "POST",
        SUBMIT_PATH,
        ["x-api-key: key-a", "Content-Length: 7", "Transfer-Encoding: chunked"],
        b"2\r\n{}\r\n0\r\n\r\n",
    ),
    "unknown_coding": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"
    ),
    "chunk_size_not_hex": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk_size_negative": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"-1\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk_size_prefixed": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"0x2\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk_size_empty": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk_longer_than_declared": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"1\r\n{}\r\n0\r\n\r\n"
    ),
    "chunk_size_line_endless": request(
        "POST", SUBMIT_PATH, ["x-api-key: key-a", "Transfer-Encoding: chunked"], b"2" * 2000 + b"\r\n"
    ),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_framing_is_a_400_at_once_then_the_connection_closes(
    gateway: tuple[ApiGateway, Recorder], raw: bytes
) -> None:
    gw, recorder = gateway
    status, headers, body, closed = exchange(gw.port, raw, expect_close=True)
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["message"].startswith("Bad Request")
    assert closed  # where that body ended is unknown: nothing more is read from the connection
    assert recorder.events == []  # no function ran


def test_well_framed_bodies_still_reach_the_function(gateway: tuple[ApiGateway, Recorder]) -> None:
    gw, recorder = gateway
    chunked = request(
        "POST",
        SUBMIT_PATH,
        ["x-api-key: key-a", "Content-Type: application/json", "Transfer-Encoding: chunked"],
        b"1;ext=1\r\n{\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    sized = request(
        "POST",
        SUBMIT_PATH,
        ["x-api-key: key-a", "Content-Type: application/json", "Content-Length: 2"],
        b"{}",
    )
    assert exchange(gw.port, chunked)[0] == 200
    assert exchange(gw.port, sized)[0] == 200
    assert [e["body"] for e in recorder.events] == ["{}", "{}"]


@pytest.mark.parametrize(
    ("values", "status", "checked"),
    [
        (["key-a", ""], 403, None),  # the value the event carries (the last) is the one checked
        (["", "key-a"], 200, "key-a"),
        (["key-b", "key-a"], 200, "key-a"),
        (["key-a", "key-c"], 403, None),
        (["key-a"], 200, "key-a"),
    ],
)
def test_a_repeated_api_key_header_cannot_name_another_client_than_the_checked_one(
    gateway: tuple[ApiGateway, Recorder], values: list[str], status: int, checked: str | None
) -> None:
    gw, recorder = gateway
    raw = request("GET", STATUS_PATH, [f"x-api-key: {v}" for v in values])
    assert exchange(gw.port, raw)[0] == status
    if checked is None:
        assert recorder.events == []
        return
    (event,) = recorder.events
    # The event names the checked key where API Gateway does, and the scope is that key's
    assert event["requestContext"]["identity"]["apiKey"] == checked
    assert event["headers"]["x-api-key"] == checked
    assert _scope_of(event) == client_scope(None, checked)


def _scope_of(event: dict[str, Any]) -> str:
    """The scope the functions compute for ``event``."""
    from facesvg.service.api import _client_scope

    return _client_scope(APIGatewayProxyEvent(event))


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/JSON",
        "application/json; charset=UTF-8",
        "application/vnd.api+json",
        "application/problem+json",
    ],
)
def test_json_media_types_are_read_as_json_on_the_local_stack(api: Any, content_type: str) -> None:
    # Not a 500: the body is read and validated (an empty object: 400 naming a missing field)
    response = api.post(SUBMIT_PATH, content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "ValidationError"


def test_a_non_json_media_type_is_415_naming_the_header_on_the_local_stack(api: Any) -> None:
    response = api.post(SUBMIT_PATH, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["field"] == "Content-Type"


def test_a_body_of_multibyte_text_over_the_limit_in_bytes_is_413(api: Any) -> None:
    # 7.2 MB of UTF-8 (2.4 million 3-byte characters): over the 5.5 MB limit, though fewer characters
    body = json.dumps({"image": "€" * 2_400_000}, ensure_ascii=False).encode()
    assert len(body) > 7_000_000
    response = api.post(SUBMIT_PATH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "PayloadTooLarge"
