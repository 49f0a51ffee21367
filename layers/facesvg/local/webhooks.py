"""A webhook receiver on 127.0.0.1: verifies each delivery's signature and records it.

Used by ``facesvg webhook-listen`` (prints verified deliveries), the integration tests (scripted
answers: ``receiver.script("/a", [500, 500, 200])``) and ``make load --webhooks`` (exactly-once
check by delivery id). Standard library only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from facesvg.service.signing import DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Received:
    path: str
    delivery_id: str
    verified: bool
    body: dict[str, Any]
    status: int  # what the receiver answered
    raw: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    at: float = 0.0  # time.time() when it arrived

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


class WebhookReceiver:
    def __init__(
        self,
        secret: str | bytes,
        port: int = 0,
        on_delivery: Callable[[Received], None] | None = None,
    ) -> None:
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.on_delivery = on_delivery
        self.received: list[Received] = []
        self._scripts: dict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY_BYTES)
                raw = self.rfile.read(length)
                verified = verify_signature(
                    receiver.secret,
                    raw,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    self.headers.get(SIGNATURE_HEADER, ""),
                    self.headers.get(DELIVERY_ID_HEADER, ""),
                )
                status = receiver._answer(self.path) if verified else 401
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                got = Received(
                    self.path,
                    self.headers.get(DELIVERY_ID_HEADER, ""),
                    verified,
                    body,
                    status,
                    raw,
                    tuple((k.lower(), v) for k, v in self.headers.items()),
                    time.time(),
                )
                with receiver._lock:
                    receiver.received.append(got)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
                if receiver.on_delivery is not None:
                    receiver.on_delivery(got)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="webhook-receiver", daemon=True
        )

    def _answer(self, path: str) -> int:
        with self._lock:
            script = self._scripts.get(path)
            return script.pop(0) if script else 200

    def script(self, path: str, statuses: list[int]) -> None:
        """Answer the next POSTs to ``path`` with these statuses (then 200)."""
        with self._lock:
            self._scripts[path] = list(statuses)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
