"""The SQS queues: the jobs queue (a message is a reference to the job, never its payload) and
the notify queue (webhook deliveries, their retries delayed by the message's visibility)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from facesvg import names
from facesvg.service.aws.errors import translated
from facesvg.service.errors import StoreError, StoreUnavailable
from facesvg.service.models import JobMessage


@dataclass
class SqsJobQueue:
    client: Any
    queue_url: str

    @translated("SQS: sending a message")
    def send(self, message: JobMessage) -> None:
        if not self.queue_url:
            raise StoreError(f"{names.ENV_QUEUE_URL} is not set")
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json())


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
