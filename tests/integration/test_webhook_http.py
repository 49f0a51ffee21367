"""One webhook POST against real receivers on 127.0.0.1: the deadline holds whatever the receiver
does (trickles its answer, never answers, sends absurd headers)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from facesvg.service.url_policy import UrlPolicy, check_callback_url
from facesvg.service.webhook_http import HttpAnswer, post

pytestmark = pytest.mark.integration
LOCAL = UrlPolicy(allow_http=True, allow_loopback=True)
HEADERS = {"content-type": "application/json"}


class Served:
    """What the receiver saw: when the connection opened and when the sender closed it."""

    def __init__(self) -> None:
        self.opened: float | None = None
        self.closed: float | None = None
        self.request = b""


@contextmanager
def receiver(answer: Callable[[socket.socket, Served], None]) -> Iterator[tuple[str, Served]]:
    """A one-connection TCP receiver running ``answer`` once the request head has arrived."""
    served = Served()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def run() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            served.opened = time.monotonic()
            conn.settimeout(10)
            while b"\r\n\r\n" not in served.request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                served.request += chunk
            with suppress(OSError):
                answer(conn, served)
            if served.closed is None:
                served.closed = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook?x=1", served
    finally:
        server.close()
        thread.join(timeout=30)


def trickle(interval: float) -> Callable[[socket.socket, Served], None]:
    """Answer one byte per ``interval`` seconds, forever (an endless header), until the sender
    closes the connection."""

    def answer(conn: socket.socket, served: Served) -> None:
        data = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
        for byte in data:
            conn.settimeout(interval)
            try:
                if conn.recv(1) == b"":  # the sender closed: it gave up
                    served.closed = time.monotonic()
                    return
            except TimeoutError:
                pass
            conn.sendall(bytes([byte]))

    return answer


def _post_in_thread(url: str, timeout: float) -> tuple[HttpAnswer | None, float]:
    """post() in a thread, so a hanging implementation fails the test instead of hanging it."""
    target = check_callback_url(url, LOCAL)
    result: list[HttpAnswer] = []
    started = time.monotonic()
    thread = threading.Thread(
        target=lambda: result.append(post(target, b"{}", HEADERS, timeout)), daemon=True
    )
    thread.start()
    thread.join(timeout=timeout + 20)
    return (result[0] if result else None), time.monotonic() - started


@pytest.mark.parametrize("interval", [0.05, 0.3])
def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(interval: float) -> None:
    with receiver(trickle(interval)) as (url, served):
        answer, took = _post_in_thread(url, timeout=1.0)
        time.sleep(interval + 0.5)  # the receiver notices the close at its next byte
    assert answer is not None, f"post() still running {took:.1f} s after a 1 s deadline"
    assert answer.status is None and answer.error
    assert took < 1.0 + 2.0  # generous: the machine is loaded; without the deadline it never ends
    assert served.opened is not None and served.closed is not None
    assert served.closed - served.opened < 1.0 + 2.0


def test_a_receiver_that_never_answers_an_https_handshake_is_cut_off_at_the_deadline() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        port = server.getsockname()[1]
        target = check_callback_url(f"http://127.0.0.1:{port}/", LOCAL)
        https = dataclasses.replace(target, scheme="https")  # a TLS handshake nobody answers
        started = time.monotonic()
        answer = post(https, b"{}", HEADERS, timeout=0.5)
    assert answer.status is None and time.monotonic() - started < 0.5 + 2.0


def _answering(raw: bytes) -> Callable[[socket.socket, Served], None]:
    def answer(conn: socket.socket, served: Served) -> None:
        conn.sendall(raw)

    return answer


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("inf", None), ("1e400", None), ("-1", None), ("nan", None), ("60", 60.0), ("99999999999", 900.0)],
)
def test_retry_after_from_a_real_receiver_is_capped_or_ignored(
    retry_after: str, expected: float | None
) -> None:
    raw = f"HTTP/1.1 429 Too Many\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\n\r\n".encode()
    with receiver(_answering(raw)) as (url, _):
        answer, _took = _post_in_thread(url, timeout=5.0)
    assert answer == HttpAnswer(429, expected)


def test_interim_answers_are_skipped_and_the_request_is_well_formed() -> None:
    raw = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    with receiver(_answering(raw)) as (url, served):
        answer, _took = _post_in_thread(url, timeout=5.0)
    assert answer == HttpAnswer(204)
    head = served.request.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /hook?x=1 HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{url.split(':')[2].split('/')[0]}\r\n" in head
    assert "\r\nContent-Length: 2\r\n" in head and "\r\nConnection: close" in head


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",  # a head over 16 KB
        b"SSH-2.0-OpenSSH\r\n\r\n",  # not HTTP
        b"HTTP/1.1 2xx Fine\r\n\r\n",
        b"HTTP/1.1 200",  # closed before the head ended
    ],
)
def test_a_malformed_answer_is_a_network_error_never_an_exception(raw: bytes) -> None:
    with receiver(_answering(raw)) as (url, _):
        answer, _took = _post_in_thread(url, timeout=5.0)
    assert answer is not None and answer.status is None and answer.error
