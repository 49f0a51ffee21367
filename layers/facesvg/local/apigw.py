"""A local stand-in for API Gateway (REST): HTTP on loopback → REST proxy events (v1 shape) → the
same handler modules Lambda runs → HTTP responses.

Routes mirror the stack: ``POST <prefix>/submit`` → submit, ``GET <prefix>/status/{id}`` and
``GET /swagger`` → status, for both route families in ``facesvg.names.ROUTE_PREFIXES``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from facesvg import names
from facesvg.local.static import static_asset

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
STAGE = "local"
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # API Gateway resource template, e.g. /api/v1/status/{id}
    function: str
    pattern: re.Pattern[str]


def _route(method: str, resource: str, function: str) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource))
    return Route(method, resource, function, re.compile(f"^{regex}/?$"))


def default_routes() -> list[Route]:
    routes = []
    for prefix in names.ROUTE_PREFIXES:
        routes.append(_route("POST", prefix + names.SUBMIT_PATH, "submit"))
        routes.append(_route("GET", prefix + names.STATUS_PATH, "status"))
    routes.append(_route("GET", names.SWAGGER_PATH, "status"))
    return routes


def build_event(
    *,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route: Route,
    path_parameters: dict[str, str],
    source_ip: str,
    api_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy integration event (payload format 1.0). ``api_key``: the key the
    gateway checked, in ``requestContext.identity.apiKey`` as API Gateway puts it (the functions
    take the client's scope from there, never from the headers)."""
    split = urlsplit(raw_path)
    multi_headers: dict[str, list[str]] = {}
    for key, value in headers:
        multi_headers.setdefault(key, []).append(value)
    multi_query = {k: v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    text_body: str | None
    if not body:
        text_body, is_b64 = None, False
    elif is_text:
        try:
            text_body, is_b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text_body, is_b64 = base64.b64encode(body).decode(), True
    else:
        text_body, is_b64 = base64.b64encode(body).decode(), True
    now = time.time()
    host = next((v for k, v in headers if k.lower() == "host"), "127.0.0.1")
    return {
        "resource": route.resource,
        "path": split.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": split.path,
            "stage": STAGE,
            "protocol": "HTTP/1.1",
            "domainName": host,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": next((v for k, v in headers if k.lower() == "user-agent"), ""),
                "apiKey": api_key,
            },
        },
        "body": text_body,
        "isBase64Encoded": is_b64,
    }


Invoker = Callable[[str, dict[str, Any]], Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops bursts of concurrent clients


class ApiGateway:
    """ThreadingHTTPServer on 127.0.0.1 that routes requests to local functions."""

    def __init__(
        self,
        invoke: Invoker,
        port: int,
        routes: list[Route] | None = None,
        api_key: str | Sequence[str] | None = None,
        on_request: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        """``api_key``: the key, or the keys (a usage plan's: each key is a client of its own, which
        reads only its own jobs), a request must carry in ``x-api-key``; ``None``: no key needed."""
        self.invoke = invoke
        self.routes = routes or default_routes()
        self.api_keys = (
            None if api_key is None else frozenset([api_key] if isinstance(api_key, str) else api_key)
        )
        self.on_request = on_request
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "facesvg-local-apigw"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                gateway._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _any

        self._server = _Server(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-apigw", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---------------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        started = time.perf_counter()
        method = req.command
        path = urlsplit(req.path).path
        try:
            chunked, length = _framing(req)
            body: bytes | None = _read_chunked(req.rfile, MAX_BODY_BYTES) if chunked else None
        except BadFraming as exc:  # where the body ends is unknown: answer, then close
            refusal = json.dumps({"message": f"Bad Request: {exc}"}).encode()
            self._send(req, 400, {"Content-Type": "application/json"}, refusal, close=True)
            return
        if length > MAX_BODY_BYTES or (chunked and body is None):
            self._send(
                req, 413, {"Content-Type": "application/json"}, b'{"message":"Request Too Long"}', close=True
            )
            return
        if body is None:
            body = req.rfile.read(length) if length else b""

        if method in ("GET", "HEAD"):  # the viewer and the sample files, served directly
            asset = static_asset(path or "/")
            if asset is not None:
                self._send(req, 200, asset.headers, asset.body)
                return
        if method == "GET" and path in ("", "/"):
            self._send(req, 302, {"Location": names.SWAGGER_PATH}, b"")
            return
        api_key = _api_key(req)
        if self.api_keys is not None and path != names.SWAGGER_PATH and api_key not in self.api_keys:
            self._send(req, 403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}')
            return

        route, params = self._match(method, path)
        if route is None:
            status = 405 if params else 404
            code = "MethodNotAllowed" if params else "NotFound"
            payload = {"error": {"code": code, "message": f"no route for {method} {path}"}}
            self._send(req, status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
            return
        event = build_event(
            method=method,
            raw_path=req.path,
            headers=[(k, v) for k, v in req.headers.items()] + [("X-Forwarded-Proto", "http")],
            body=body,
            route=route,
            path_parameters=params,
            source_ip=req.client_address[0],
            api_key=api_key,
        )
        try:
            result = self.invoke(route.function, event)
            status, headers, out = _from_proxy_result(result)
        except Exception:  # a crashed function is a 502 at API Gateway
            from facesvg.service.observability import logger

            logger.exception("local function crashed", extra={"function": route.function})
            status, headers, out = (
                502,
                {"Content-Type": "application/json"},
                b'{"message":"Internal server error"}',
            )
        self._send(req, status, headers, out)
        if self.on_request:
            self.on_request(method, path, status, (time.perf_counter() - started) * 1000)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                path_matched = True
                if route.method == method:
                    return route, dict(m.groupdict())
        return None, ({"_": "method"} if path_matched else {})

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes, close: bool = False
    ) -> None:
        req.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                req.send_header(key, value)
        req.send_header("Content-Length", str(len(body)))
        if close:
            req.send_header("Connection", "close")
            req.close_connection = True
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)


def _api_key(req: BaseHTTPRequestHandler) -> str | None:
    """The ``x-api-key`` the gateway checks: the value the event's single-valued ``headers`` carry
    (the last, as API Gateway's), so a repeated header cannot pass the check with one value and
    name a client with another. Without keys configured it is still passed on: the local stack
    then tells clients apart by it, unchecked."""
    values = req.headers.get_all("x-api-key") or []
    return values[-1] if values else None


class BadFraming(ValueError):
    """The request does not say where its body ends (or says it twice): a 400, then close."""


_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(;[^\r\n]*)?\r?\n")
_MAX_TRAILERS = 32


def _framing(req: BaseHTTPRequestHandler) -> tuple[bool, int]:
    """(chunked, Content-Length) of the request, as RFC 9112 §6 has a server decide: a length that
    is not all digits (``abc``, ``-1``, ``+5``), several different lengths, a transfer coding other
    than ``chunked``, or both a length and ``chunked`` (a request-smuggling shape) is refused."""
    codings = [
        c.strip().lower() for v in req.headers.get_all("Transfer-Encoding") or [] for c in v.split(",")
    ]
    lengths = {v.strip() for v in req.headers.get_all("Content-Length") or []}
    if codings:
        if codings != ["chunked"]:
            raise BadFraming("Transfer-Encoding: only chunked is accepted")
        if lengths:
            raise BadFraming("both Content-Length and Transfer-Encoding")
        return True, 0
    if not lengths:
        return False, 0
    if len(lengths) > 1:
        raise BadFraming("Content-Length: several values")
    (length,) = lengths
    if not _CONTENT_LENGTH.fullmatch(length):
        raise BadFraming("Content-Length: not a number of bytes")
    return False, int(length)


def _read_chunked(rfile: Any, limit: int) -> bytes | None:
    """A ``Transfer-Encoding: chunked`` body (API Gateway accepts one, as curl sends it with
    ``-H 'Transfer-Encoding: chunked'`` or from a pipe); None when it is larger than ``limit``.
    A chunk size that is not hex digits (``zz``, ``-1``, ``0x10``), a chunk not followed by its
    CRLF, or a body that ends early is ``BadFraming``."""
    parts: list[bytes] = []
    size = 0
    while True:
        line = rfile.readline(1024)
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise BadFraming("Transfer-Encoding: chunked: invalid chunk size")
        chunk = int(match.group(1), 16)
        if chunk == 0:
            for _ in range(_MAX_TRAILERS):
                trailer = rfile.readline(1024)
                if trailer in (b"\r\n", b"\n"):
                    return b"".join(parts)
                if not trailer.endswith(b"\n"):
                    break
            raise BadFraming("Transfer-Encoding: chunked: invalid trailer section")
        size += chunk
        if size > limit:
            return None
        data = rfile.read(chunk)
        if len(data) != chunk or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise BadFraming("Transfer-Encoding: chunked: a chunk is not the size it declares")
        parts.append(data)


def _from_proxy_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        return 502, {"Content-Type": "application/json"}, b'{"message":"Internal server error"}'
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if values:
            headers[str(key)] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body
