"""SQS batches with partial failures (``ReportBatchItemFailures``), for the process and notify
functions.

What Powertools' ``BatchProcessor`` does for a standard queue, and nothing more: each record is
handled on its own; a record whose handler raises is reported in ``batchItemFailures`` (SQS makes
only it visible again, and moves it to the DLQ after ``maxReceiveCount``); when every record fails
the invocation fails (``BatchFailed``, as Powertools' ``BatchProcessingError``), so the error shows
in the function's metrics. Written here because importing Powertools' batch utility (asyncio, every
event source's data classes) was ~30 ms of each of these functions' cold start (``make bench-cold``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from facesvg.service.errors import TransientError
from facesvg.service.observability import logger


@dataclass(frozen=True)
class SqsRecord:
    """The fields of an SQS event record the handlers read."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int  # ApproximateReceiveCount: 1 on the first delivery
    sent_timestamp_ms: float | None  # SentTimestamp: when the message was sent (epoch ms)

    @classmethod
    def from_event(cls, raw: Mapping[str, Any]) -> SqsRecord:
        attributes = raw.get("attributes") or {}
        sent = attributes.get("SentTimestamp")
        return cls(
            message_id=str(raw["messageId"]),
            body=str(raw.get("body") or ""),
            receipt_handle=str(raw.get("receiptHandle") or ""),
            receive_count=int(attributes.get("ApproximateReceiveCount") or 1),
            sent_timestamp_ms=float(sent) if sent else None,
        )


class BatchFailed(Exception):
    """Every record of the batch failed: the invocation fails and SQS retries them all."""


def partial_batch_response(
    event: Mapping[str, Any], handle: Callable[[SqsRecord], object]
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle`` on each record; ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    failures: list[dict[str, str]] = []
    for raw in records:
        try:
            record = SqsRecord.from_event(raw)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not an SQS event record") from None
        try:
            handle(record)
        except TransientError as exc:  # expected (a retry later): one line, no traceback
            logger.warning(
                "record to retry", extra={"message_id": record.message_id, "error": str(exc)[:300]}
            )
            failures.append({"itemIdentifier": record.message_id})
        except Exception as exc:
            logger.exception(
                "record failed", extra={"message_id": record.message_id, "error": type(exc).__name__}
            )
            failures.append({"itemIdentifier": record.message_id})
    if records and len(failures) == len(records):
        raise BatchFailed(f"all {len(records)} records failed (each logged above)")
    return {"batchItemFailures": failures}
