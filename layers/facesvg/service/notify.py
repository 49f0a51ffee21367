"""Telling callers that a job ended: the job-end event, signed webhooks, their retries, URL safety.

This module holds the notify function's rules (an event → deliveries, a delivery → one POST); the
event itself and its outbox are ``job_events`` (the worker's), subscribing at submit is
``subscriptions`` (the submit's), and the URL rules, signatures and the HTTP client are
``url_policy``, ``signing`` and ``webhook_http``.

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
  delivery into one signed POST (``signing``: ``facesvg-signature: v2=…,v1=…``, the delivery id
  signed in ``v2``) sent by ``webhook_http`` within a deadline the receiver cannot extend. 2xx:
  done. 5xx, 429, 408 and network errors: retried with exponential backoff (the message's
  visibility; a ``Retry-After`` counts, capped at 15 min), then the DLQ. Any other answer (3xx
  included: redirects are never followed): given up at once. The records of one batch are
  delivered concurrently (``sqs_batch``), so no receiver waits on another's.
* **Safety** (``url_policy``). A callback URL must be HTTPS (plain HTTP only when the operator
  allows it, as the local stack does), printable ASCII, carry no credentials, and every address its
  host resolves to must be public by the IANA special-purpose registries, including any IPv4
  address an IPv6 form embeds (mapped, 6to4, NAT64, Teredo). Checked at submit and again at each
  delivery, which connects to the very address it checked. Only the answer's head is read; nothing
  of it is stored or logged.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from facesvg.names import DETAIL_TYPES, EVENT_SOURCE
from facesvg.service import layout
from facesvg.service import metrics_catalog as mc
from facesvg.service.clock import expires_at
from facesvg.service.errors import InvalidCallbackUrl
from facesvg.service.job_events import (
    Delivery,
    deliveries_for,
)
from facesvg.service.models import JobStatus
from facesvg.service.observability import logger, record
from facesvg.service.ports import (
    BlobStore,
    DeliveryLog,
    JobRepository,
    NotifyQueue,
    SecretSource,
)
from facesvg.service.signing import signed_headers
from facesvg.service.url_policy import (
    Resolver,
    SafeUrl,
    UnresolvableHost,
    UrlPolicy,
    check_callback_url,
    resolve_host,
    resolving_within,
)

if TYPE_CHECKING:
    from facesvg.service.webhook_http import HttpAnswer

MAX_BACKOFF_SECONDS = 900
MIN_POST_SECONDS = 0.5  # what a POST gets at least when a slow DNS lookup took its share


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
    delay = base_seconds * 2 ** min(max(0, attempt - 1), 30)  # 2**30·base is far past the cap
    if retry_after is not None and math.isfinite(retry_after):  # a receiver's value: never trusted
        delay = max(delay, retry_after)
    return int(min(MAX_BACKOFF_SECONDS, max(0.0, round(delay))))


Sender = Callable[[SafeUrl, bytes, dict[str, str], float], "HttpAnswer"]


def post(target: SafeUrl, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """``webhook_http.post``, imported by the notify function only (submit never sends)."""
    from facesvg.service.webhook_http import post as send

    return send(target, body, headers, timeout)


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
        # One deadline for the whole attempt: the DNS lookup and then the POST share it.
        started = time.perf_counter()
        try:
            resolve = resolving_within(self.resolve, self.timeout_seconds)
            target = check_callback_url(delivery.url, self.policy, resolve)
        except UnresolvableHost as exc:  # DNS failed or was late: retried like a network error
            return self._failed(delivery, attempt, keys, None, None, exc.message)
        except InvalidCallbackUrl as exc:
            logger.warning("callback URL refused at delivery", extra={**keys, "reason": exc.message})
            return self._done(DeliveryOutcome.REFUSED)
        now = self.clock()
        body = webhook_body(delivery, result_urls(self.blobs, delivery.detail, self.presign_seconds))
        headers = signed_headers(self.secret.get(), body, delivery.delivery_id, now)
        left = max(self.timeout_seconds - (time.perf_counter() - started), MIN_POST_SECONDS)
        answer = self.send(target, body, headers, left)
        record(mc.WEBHOOK_LATENCY, (time.perf_counter() - started) * 1000)
        outcome = classify(answer.status)
        keys["http_status"] = answer.status
        if outcome is DeliveryOutcome.DELIVERED:
            self.log.mark_delivered(delivery.delivery_id, str(job_id), expires_at(now, self.ttl_seconds))
            logger.info("webhook delivered", extra=keys)
            return self._done(outcome, answer.status)
        if outcome is DeliveryOutcome.REJECTED:
            logger.warning("webhook rejected by the receiver; not retried", extra=keys)
            return self._done(outcome, answer.status)
        return self._failed(delivery, attempt, keys, answer.status, answer.retry_after, answer.error)

    def _failed(
        self,
        delivery: Delivery,
        attempt: int,
        keys: dict[str, Any],
        status: int | None,
        retry_after: float | None,
        error: str | None,
    ) -> DeliveryResult:
        """No answer, or one to retry: back off, or (the last attempt) on to the DLQ."""
        if attempt >= self.max_attempts:
            logger.error("webhook failed on its last attempt; the message goes to the DLQ", extra=keys)
            record(mc.WEBHOOK_ATTEMPTS, 1, outcome="exhausted")
            return DeliveryResult(DeliveryOutcome.RETRY, retry_in=0, status=status)
        delay = backoff_seconds(attempt, self.backoff_base_seconds, retry_after)
        logger.warning("webhook failed; retrying", extra={**keys, "retry_in_s": delay, "error": error})
        record(mc.WEBHOOK_ATTEMPTS, 1, outcome="retried")
        return DeliveryResult(DeliveryOutcome.RETRY, retry_in=delay, status=status)

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
