"""The jobs queue on SQS: a message is a reference to the job, never its payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facesvg import names
from facesvg.service.aws.errors import translated
from facesvg.service.errors import StoreError
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
