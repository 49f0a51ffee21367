"""Webhook signatures (docs/notifications.md has the receiver's side in Python, Node and shell).

``facesvg-signature: v2=<hex>,v1=<hex>``:

* ``v2`` = HMAC-SHA256(secret, ``"<facesvg-timestamp>.<facesvg-delivery-id>.<raw body>"``): the
  delivery id receivers deduplicate on is signed, so a captured delivery replayed under a new
  ``facesvg-delivery-id`` does not verify.
* ``v1`` = HMAC-SHA256(secret, ``"<timestamp>.<raw body>"``), still sent so receivers written for it
  keep working while they move to ``v2``; it does not cover the header (such a receiver must
  deduplicate on the body's ``delivery_id``, which it does cover).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "facesvg-signature"
TIMESTAMP_HEADER = "facesvg-timestamp"
DELIVERY_ID_HEADER = "facesvg-delivery-id"
SIGNATURE_TOLERANCE_SECONDS = 300


def _mac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_v1(secret: bytes, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` (the delivery id is not covered)."""
    return "v1=" + _mac(secret, timestamp.encode() + b"." + body)


def signature(secret: bytes, timestamp: str, delivery_id: str, body: bytes) -> str:
    """``v2=<hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<body>")>``."""
    return "v2=" + _mac(secret, timestamp.encode() + b"." + delivery_id.encode() + b"." + body)


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature_header: str,
    delivery_id: str,
    now: float | None = None,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does (``v2`` only; docs/notifications.md has the same in other languages)."""
    if not timestamp.isdigit() or not delivery_id or not delivery_id.isascii():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, delivery_id, body).encode()
    given = (part.strip().encode("utf-8", "surrogateescape") for part in signature_header.split(","))
    return any(hmac.compare_digest(expected, part) for part in given)


def signed_headers(secret: bytes, body: bytes, delivery_id: str, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    both = f"{signature(secret, timestamp, delivery_id, body)},{signature_v1(secret, timestamp, body)}"
    return {
        "content-type": "application/json",
        "user-agent": "facesvg-webhooks/2",
        SIGNATURE_HEADER: both,
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_ID_HEADER: delivery_id,
    }
