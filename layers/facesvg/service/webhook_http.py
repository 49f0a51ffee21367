"""One webhook POST, bounded by a wall-clock deadline the receiver cannot extend.

Plain sockets, not ``http.client``: its ``makefile()`` reader keeps the socket open past a
``close()`` from a timer, and its per-read timeout restarts with every byte, so a receiver that
trickles its answer 1 byte/s held a delivery (and everything queued behind it) for as long as it
liked. Here every step — connect, TLS handshake, each send, each receive — is given the time left
until one deadline fixed before the first byte, so the whole exchange ends by it whatever the
peer does. Only the answer's head (status line and headers, at most 16 KB) is read; the body never
is (nothing of it is stored or logged).
"""

from __future__ import annotations

import math
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from facesvg.service.url_policy import SafeUrl

MAX_HEAD_BYTES = 16 * 1024
MAX_INTERIM_ANSWERS = 5  # 1xx heads (103 Early Hints) skipped before the final answer
MAX_RETRY_AFTER_SECONDS = 900  # the longest backoff there is (notify.MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no answer (network error, deadline)
    retry_after: float | None = None  # seconds, within [0, MAX_RETRY_AFTER_SECONDS]
    error: str | None = None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; ``TimeoutError`` once there are none."""
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the delivery deadline passed")
        return remaining


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3: delta-seconds or an HTTP-date) as seconds from now,
    capped to [0, 15 min]; None when absent or unreadable (``inf``, ``1e400``, ``-5``, garbage)."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(MAX_RETRY_AFTER_SECONDS) if len(text) > 6 else min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    delta = when - (time.time() if now is None else now)
    return min(max(delta, 0.0), float(MAX_RETRY_AFTER_SECONDS)) if math.isfinite(delta) else None


def _request(target: SafeUrl, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {target.target} HTTP/1.1",
        f"Host: {target.host_header or target.host}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    head = "\r\n".join(lines) + "\r\n\r\n"
    if any(c in "\r\n" for line in lines for c in line):
        raise ValueError("a header holds a line break")
    return head.encode("ascii") + body  # the URL policy allows printable ASCII only


def _connect(target: SafeUrl, deadline: _Deadline) -> socket.socket:
    sock = socket.create_connection((target.addresses[0], target.port), timeout=deadline.left())
    if target.scheme != "https":
        return sock
    try:
        tls = ssl.create_default_context().wrap_socket(
            sock, server_hostname=target.host, do_handshake_on_connect=False
        )
        tls.settimeout(deadline.left())  # one handshake call: its timeout bounds it as a whole
        tls.do_handshake()
        return tls
    except BaseException:
        sock.close()
        raise


def _read_head(sock: socket.socket, deadline: _Deadline, buffered: bytes) -> tuple[bytes, bytes]:
    """One answer head (up to the blank line) and what was read after it."""
    data = buffered
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise ValueError(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes")
        sock.settimeout(deadline.left())
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the receiver closed the connection before answering")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise ValueError(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes")
    return head, rest


def _parse_head(head: bytes) -> tuple[int, str | None]:
    """(status, Retry-After value) of an answer head."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit()):
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
    retry_after = None
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "retry-after":
            retry_after = value.strip()
    return int(code), retry_after


def post(target: SafeUrl, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST to the checked address (never re-resolved: no DNS rebinding), no redirects followed;
    the exchange ends ``timeout`` seconds after it started at the latest (a network error then)."""
    deadline = _Deadline(timeout)
    try:
        request = _request(target, body, headers)
        with _connect(target, deadline) as sock:
            sock.settimeout(deadline.left())  # sendall: the timeout bounds the whole call
            sock.sendall(request)
            rest = b""
            for _ in range(MAX_INTERIM_ANSWERS + 1):
                head, rest = _read_head(sock, deadline, rest)
                status, retry_after = _parse_head(head)
                if not 100 <= status <= 199:
                    return HttpAnswer(status, parse_retry_after(retry_after))
            raise ValueError("too many interim (1xx) answers")
    except (OSError, ValueError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
        return HttpAnswer(None, error=f"{type(exc).__name__}: {exc}"[:200])
