"""Telling callers that a job ended: the job-end event, signed webhooks, their retries, URL safety.

::

    process ── terminal conditional write (sets the outbox flag) ──► EventBridge (one event per job end)
                                                                        │ rule: source facesvg
    submit (job already ended) ── one delivery ──┐                      ▼
                                                 └──────────────► notify queue ──► notify ──► POST
                                                                   (retries, DLQ)

* **Exactly one event per job end.** The write that ends the job (``complete`` / ``fail``, only by
  the lease holder) also sets ``event_state = pending`` with a short claim for its writer, which
  publishes and then marks the job ``published``. A redelivered process message for an ended job
  whose flag is still ``pending`` (the writer died in between) takes the expired claim over with a
  conditional write and publishes; one that finds ``published`` does nothing. Only a death between
  ``PutEvents`` and the mark can publish twice; the deterministic delivery id (and the delivery log)
  keeps the webhook once even then.
* **Webhooks.** The notify function turns an event into one delivery message per callback on the
  job (callers who subscribed before the end; later ones are delivered at submit), and each
  delivery into one signed POST: ``facesvg-signature: v1=<hex HMAC-SHA256 over "<timestamp>.<body>">``,
  ``facesvg-timestamp``, ``facesvg-delivery-id``. 2xx: done. 5xx, 429, 408 and network errors:
  retried with exponential backoff (the message's visibility), then the DLQ. Any other answer (3xx
  included: redirects are never followed): given up at once.
* **Safety.** A callback URL must be HTTPS (plain HTTP only when the operator allows it, as the
  local stack does), carry no credentials, and every address its host resolves to must be public
  (no loopback — unless allowed locally —, private, link-local incl. 169.254.169.254, CGNAT,
  multicast, reserved). Checked at submit and again at each delivery, which connects to the very
  address it checked. Response bodies are read (at most 1 KB) and dropped, never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict

from facesvg.core.lazy_model import LazyModel
from facesvg.names import DETAIL_TYPES, EVENT_SOURCE, JOB_COMPLETED, JOB_FAILED
from facesvg.service import layout
from facesvg.service import metrics_catalog as mc
from facesvg.service.errors import InvalidCallbackUrl, TooManyCallbacks, TransientError
from facesvg.service.models import Callback, EventState, Job, JobStatus
from facesvg.service.observability import logger, record
from facesvg.service.ports import (
    BlobStore,
    DeliveryLog,
    EventPublisher,
    JobRepository,
    NotifyQueue,
    SecretSource,
)

SIGNATURE_HEADER = "facesvg-signature"
TIMESTAMP_HEADER = "facesvg-timestamp"
DELIVERY_ID_HEADER = "facesvg-delivery-id"
SIGNATURE_VERSION = "v1"
SIGNATURE_TOLERANCE_SECONDS = 300

MAX_CALLBACKS_PER_JOB = 50  # keeps the job item and the event small
MAX_URL_LENGTH = 2048
MAX_BACKOFF_SECONDS = 900
EVENT_CLAIM_SECONDS = 60  # how long the writer of a job's end owns publishing its event
_RESPONSE_BYTES_READ = 1024


# ------------------------------------------------------------------------------- URL safety

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False  # plain HTTP (the local stack)
    allow_loopback: bool = False  # 127.0.0.0/8 and ::1 (the local stack); never private or link-local


@dataclass(frozen=True)
class SafeUrl:
    url: str
    scheme: str
    host: str
    port: int
    target: str  # path + query
    addresses: tuple[str, ...]  # checked addresses; delivery connects to these only


def _address_problem(address: str, policy: UrlPolicy) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if policy.allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (169.254.0.0/16, fe80::/10: instance metadata)"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "a non-public address"
    return None


def check_callback_url(url: str, policy: UrlPolicy, resolve: Resolver = resolve_host) -> SafeUrl:
    """The URL, parsed and with its checked addresses; ``InvalidCallbackUrl`` when it is refused."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrl(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCallbackUrl(f"callback_url is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise InvalidCallbackUrl("callback_url must be an https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidCallbackUrl("callback_url must not contain credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise InvalidCallbackUrl("callback_url has no host")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidCallbackUrl("callback_url contains whitespace or control characters")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise InvalidCallbackUrl(f"callback_url host {host!r} does not resolve") from exc
    if not addresses:
        raise InvalidCallbackUrl(f"callback_url host {host!r} does not resolve")
    for address in addresses:
        problem = _address_problem(address, policy)
        if problem:
            raise InvalidCallbackUrl(f"callback_url host {host!r} resolves to {problem}, which is refused")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return SafeUrl(url, scheme, host, port, target, tuple(addresses))


# ---------------------------------------------------------------------------------- signing


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature_header: str,
    now: float | None = None,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does (docs/notifications.md has the same in Python and Node)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    if age > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in signature_header.split(","))


def signed_headers(secret: bytes, body: bytes, delivery_id: str, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "content-type": "application/json",
        "user-agent": "facesvg-webhooks/1",
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_ID_HEADER: delivery_id,
    }


# ------------------------------------------------------------------------- event and bodies


def detail_type(job: Job) -> str:
    return JOB_COMPLETED if job.status is JobStatus.COMPLETED else JOB_FAILED


def event_detail(job: Job) -> dict[str, Any]:
    """The event's ``detail`` (docs/notifications.md). Result URLs are presigned per delivery."""
    refs = [c.client_reference for c in job.callbacks if c.client_reference]
    detail: dict[str, Any] = {
        "id": job.job_id,
        "status": job.status.value,
        "content_hash": job.content_hash,
        "created_at": job.created_at,
        "finished_at": job.updated_at,
        "client_reference": refs[0] if refs else None,
        "client_references": refs,
    }
    if job.status is JobStatus.COMPLETED and job.result is not None:
        detail["regions"] = list(job.result.regions)
        detail["missing"] = list(job.result.missing)
    if job.error is not None:
        detail["error"] = job.error.model_dump()
    return detail


def result_urls(blobs: BlobStore, detail: dict[str, Any], expires_in: int) -> dict[str, Any]:
    """``svg_url`` and ``result_urls`` for a completed job's detail (fresh presigned URLs)."""
    if detail.get("status") != JobStatus.COMPLETED.value:
        return {}
    prefix = layout.results_prefix(str(detail["content_hash"]))
    docs = {name: layout.result_document_key(prefix, name) for name in layout.RESULT_DOCUMENTS}
    return {
        "svg_url": blobs.presign_get(layout.svg_key(prefix), expires_in),
        "result_urls": {name: blobs.presign_get(key, expires_in) for name, key in docs.items()},
    }


def delivery_id_of(detail: dict[str, Any], callback_id: str) -> str:
    """Stable per job end and caller: the receiver's idempotency key."""
    seed = f"{detail['id']}:{detail['status']}:{detail.get('finished_at', '')}:{callback_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


class Delivery(LazyModel):
    """A notify-queue message: one POST to one caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["delivery"] = "delivery"
    delivery_id: str
    type: str  # JobCompleted | JobFailed
    url: str
    client_reference: str | None = None
    detail: dict[str, Any]


def deliveries_for(job: Job, detail: dict[str, Any], callbacks: Sequence[Callback]) -> list[Delivery]:
    return [
        Delivery(
            delivery_id=delivery_id_of(detail, cb.id),
            type=detail_type(job),
            url=cb.url,
            client_reference=cb.client_reference,
            detail=detail,
        )
        for cb in callbacks
    ]


def webhook_body(delivery: Delivery, urls: dict[str, Any]) -> bytes:
    detail = {k: v for k, v in delivery.detail.items() if k not in ("client_reference", "client_references")}
    body = {
        "type": delivery.type,
        "delivery_id": delivery.delivery_id,
        **detail,
        "client_reference": delivery.client_reference,
        **urls,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


# ---------------------------------------------------------------------- retry policy (pure)


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # 5xx, 429, 408, network error: back off, then the DLQ
    REJECTED = "rejected"  # any other status (3xx: redirects are not followed): no retry
    REFUSED = "refused"  # the URL is no longer safe: no retry
    DUPLICATE = "duplicate"  # already delivered (a duplicate event or message)


def classify(status: int | None) -> DeliveryOutcome:
    """An HTTP answer (None: no answer, a network error or timeout) → what to do."""
    if status is None or status in (408, 429) or 500 <= status <= 599:
        return DeliveryOutcome.RETRY
    if 200 <= status <= 299:
        return DeliveryOutcome.DELIVERED
    return DeliveryOutcome.REJECTED


def backoff_seconds(attempt: int, base_seconds: float, retry_after: float | None = None) -> int:
    """Delay after failed attempt ``attempt`` (1-based): base·2^(attempt-1), at least a server's
    ``Retry-After``, at most 15 min. With base 30: 30, 60, 120, 240, 480 s → 6 attempts span 15.5 min."""
    delay = base_seconds * 2 ** max(0, attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return int(min(MAX_BACKOFF_SECONDS, round(delay)))


# ------------------------------------------------------------------------------ HTTP sending


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no answer (network error, timeout)
    retry_after: float | None = None
    error: str | None = None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def post(target: SafeUrl, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST to the checked address (never re-resolved: no DNS rebinding), no redirects followed,
    at most 1 KB of the answer read and dropped."""
    address = target.addresses[0]
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(
            target.host, target.port, address, timeout, ssl.create_default_context()
        )
    else:
        conn = _PinnedHTTPConnection(target.host, target.port, address, timeout)
    # The socket timeout bounds each connect/read; the timer bounds the whole exchange (a receiver
    # that trickles its answer byte by byte is cut off too, and counts as a network error).
    deadline = threading.Timer(timeout, conn.close)
    deadline.daemon = True
    deadline.start()
    try:
        conn.request("POST", target.target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(_RESPONSE_BYTES_READ)
        retry_after = response.getheader("retry-after")
        try:
            after = float(retry_after) if retry_after else None
        except ValueError:
            after = None
        return HttpAnswer(response.status, after)
    except (OSError, http.client.HTTPException, AttributeError) as exc:  # AttributeError: closed by the timer
        return HttpAnswer(None, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        deadline.cancel()
        deadline.join()  # returns at once once cancelled: no timer thread outlives a POST
        conn.close()


Sender = Callable[[SafeUrl, bytes, dict[str, str], float], HttpAnswer]


# --------------------------------------------------------------------- process side: publish


@dataclass
class EventOutbox:
    """Publishes the job-end event exactly once (see the module docstring)."""

    jobs: JobRepository
    publisher: EventPublisher
    clock: Callable[[], float] = time.time

    def claim_until(self) -> float:
        return self.clock() + EVENT_CLAIM_SECONDS

    def publish_claimed(self, job: Job) -> None:
        """The caller's terminal write set the flag (the claim is its own): publish, then mark."""
        self.publisher.publish(detail_type(job), event_detail(job))
        self.jobs.mark_event_published(job.job_id)
        record(mc.EVENTS_PUBLISHED, 1, status=job.status.value)
        logger.info("job-end event published", extra={"job_id": job.job_id, "type": detail_type(job)})

    def resume(self, job: Job) -> None:
        """A message for an ended job: publish its event if nobody did (its writer died)."""
        if job.event_state is not EventState.PENDING:
            return
        now = self.clock()
        claimed = self.jobs.claim_event(job.job_id, now, now + EVENT_CLAIM_SECONDS)
        if claimed is None:
            fresh = self.jobs.get_job(job.job_id)
            if fresh is not None and fresh.event_state is EventState.PENDING:
                # Its writer is publishing right now (claim not expired): come back later.
                raise TransientError(f"the event of job {job.job_id} is being published")
            return
        logger.warning("publishing a job-end event its writer did not", extra={"job_id": job.job_id})
        self.publish_claimed(claimed)


class NullPublisher:
    """No bus configured: events go nowhere (the flag still moves, so nothing waits for them)."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        return None


# ---------------------------------------------------------------- submit side: subscribe


def new_callback(url: str, client_reference: str | None) -> Callback:
    return Callback(id=uuid.uuid4().hex[:16], url=url, client_reference=client_reference)


@dataclass
class Subscriptions:
    """Adds a caller to a job; a job that already ended is delivered to that caller at once."""

    jobs: JobRepository
    queue: NotifyQueue | None

    def subscribe(self, job: Job, callback: Callback) -> None:
        if not job.status.terminal:
            if self.jobs.add_callback(job.job_id, callback, MAX_CALLBACKS_PER_JOB) is not None:
                return
            current = self.jobs.get_job(job.job_id)
            if current is None or not current.status.terminal:
                raise TooManyCallbacks(f"job {job.job_id} already has {MAX_CALLBACKS_PER_JOB} callbacks")
            job = current  # ended in between: deliver now
        self.deliver_now(job, callback)

    def deliver_now(self, job: Job, callback: Callback) -> None:
        if self.queue is None:
            logger.warning("no notify queue configured; callback dropped", extra={"job_id": job.job_id})
            return
        (delivery,) = deliveries_for(job, event_detail(job), [callback])
        self.queue.send_many([delivery.model_dump_json()])
        logger.info("job already ended; callback queued", extra={"job_id": job.job_id})


# ---------------------------------------------------------------- notify side: deliver


@dataclass
class DeliveryResult:
    outcome: DeliveryOutcome
    retry_in: int | None = None  # seconds, when the message should come back
    status: int | None = None


@dataclass
class Dispatcher:
    """The notify function's rules: an event → delivery messages; a delivery → one POST."""

    jobs: JobRepository
    queue: NotifyQueue
    blobs: BlobStore
    secret: SecretSource
    log: DeliveryLog
    policy: UrlPolicy
    backoff_base_seconds: float
    max_attempts: int
    presign_seconds: int
    ttl_seconds: int
    timeout_seconds: float = 5.0
    resolve: Resolver = resolve_host
    send: Sender = post
    clock: Callable[[], float] = time.time

    def fan_out(self, envelope: dict[str, Any]) -> int:
        """An EventBridge event (as the bus's SQS target delivers it) → one message per callback."""
        detail = envelope.get("detail") or {}
        job_id = str(detail.get("id", ""))
        job = self.jobs.get_job(job_id) if job_id else None
        if job is None or not job.callbacks:
            return 0
        deliveries = deliveries_for(job, detail, job.callbacks)
        self.queue.send_many([d.model_dump_json() for d in deliveries])
        logger.info("webhook deliveries queued", extra={"job_id": job_id, "count": len(deliveries)})
        return len(deliveries)

    def deliver(self, delivery: Delivery, attempt: int) -> DeliveryResult:
        job_id = delivery.detail.get("id")
        keys = {"job_id": job_id, "delivery_id": delivery.delivery_id, "attempt": attempt}
        if self.log.delivered(delivery.delivery_id):
            logger.info("webhook already delivered; skipping the duplicate", extra=keys)
            return self._done(DeliveryOutcome.DUPLICATE)
        try:
            target = check_callback_url(delivery.url, self.policy, self.resolve)
        except InvalidCallbackUrl as exc:
            logger.warning("callback URL refused at delivery", extra={**keys, "reason": exc.message})
            return self._done(DeliveryOutcome.REFUSED)
        now = self.clock()
        body = webhook_body(delivery, result_urls(self.blobs, delivery.detail, self.presign_seconds))
        headers = signed_headers(self.secret.get(), body, delivery.delivery_id, now)
        started = time.perf_counter()
        answer = self.send(target, body, headers, self.timeout_seconds)
        record(mc.WEBHOOK_LATENCY, (time.perf_counter() - started) * 1000)
        outcome = classify(answer.status)
        keys["http_status"] = answer.status
        if outcome is DeliveryOutcome.DELIVERED:
            self.log.mark_delivered(delivery.delivery_id, str(job_id), int(now) + self.ttl_seconds)
            logger.info("webhook delivered", extra=keys)
            return self._done(outcome, answer.status)
        if outcome is DeliveryOutcome.REJECTED:
            logger.warning("webhook rejected by the receiver; not retried", extra=keys)
            return self._done(outcome, answer.status)
        if attempt >= self.max_attempts:
            logger.error("webhook failed on its last attempt; the message goes to the DLQ", extra=keys)
            record(mc.WEBHOOK_ATTEMPTS, 1, outcome="exhausted")
            return DeliveryResult(DeliveryOutcome.RETRY, retry_in=0, status=answer.status)
        delay = backoff_seconds(attempt, self.backoff_base_seconds, answer.retry_after)
        logger.warning("webhook failed; retrying", extra={**keys, "retry_in_s": delay, "error": answer.error})
        record(mc.WEBHOOK_ATTEMPTS, 1, outcome="retried")
        return DeliveryResult(DeliveryOutcome.RETRY, retry_in=delay, status=answer.status)

    @staticmethod
    def _done(outcome: DeliveryOutcome, status: int | None = None) -> DeliveryResult:
        record(mc.WEBHOOK_ATTEMPTS, 1, outcome=outcome.value)
        return DeliveryResult(outcome, status=status)


def parse_notify_message(body: str) -> Delivery | dict[str, Any]:
    """A notify-queue message: a ``Delivery``, or an EventBridge event envelope (a dict)."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a notify message is a JSON object")
    if data.get("kind") == "delivery":
        return Delivery.model_validate(data)
    if data.get("source") == EVENT_SOURCE and data.get("detail-type") in DETAIL_TYPES:
        return data
    raise ValueError("neither a delivery nor a facesvg job event")


def is_notify_message(body: str) -> bool:
    try:
        parse_notify_message(body)
    except ValueError:
        return False
    return True
