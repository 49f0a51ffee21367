"""The event bus (EventBridge) and the webhook side's AWS pieces: the notify queue (SQS) and the
signing secret (Secrets Manager). AWS errors leave as the service's errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from facesvg import names
from facesvg.service.aws.errors import UNAVAILABLE_CODES, translated
from facesvg.service.errors import StoreError, StoreUnavailable

SECRET_CACHE_SECONDS = 300


@dataclass
class EventBridgePublisher:
    client: Any
    bus_name: str

    @translated("EventBridge: publishing an event")
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        out = self.client.put_events(
            Entries=[
                {
                    "Source": names.EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        if out.get("FailedEntryCount"):
            entry: dict[str, Any] = next((e for e in out.get("Entries", []) if e.get("ErrorCode")), {})
            code = str(entry.get("ErrorCode", ""))
            detail_text = f"EventBridge: publishing an event: {code} {entry.get('ErrorMessage', '')}"
            if code in UNAVAILABLE_CODES or "Internal" in code or "Throttl" in code:
                raise StoreUnavailable(detail_text)
            raise StoreError(detail_text)


@dataclass
class SqsNotifyQueue:
    client: Any
    queue_url: str

    @translated("SQS: queueing webhook deliveries")
    def send_many(self, bodies: Sequence[str]) -> None:
        if not self.queue_url:
            raise StoreError(f"{names.ENV_NOTIFY_QUEUE_URL} is not set")
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            out = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )
            if out.get("Failed"):
                raise StoreUnavailable(f"SQS: {len(out['Failed'])} webhook deliveries not queued")

    @translated("SQS: delaying a webhook retry")
    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
        )


@dataclass
class SecretsManagerSecret:
    """The webhook signing secret, cached for a few minutes (a rotated secret is picked up)."""

    client: Any
    secret_id: str
    _cached: tuple[float, bytes] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @translated("Secrets Manager: reading the webhook secret")
    def get(self) -> bytes:
        if not self.secret_id:
            raise StoreError(f"{names.ENV_WEBHOOK_SECRET_ID} is not set")
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < SECRET_CACHE_SECONDS:
                return self._cached[1]
            value = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"].encode()
            self._cached = (time.monotonic(), value)
            return value
