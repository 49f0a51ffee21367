"""SQS batches with partial failures (``ReportBatchItemFailures``), for the process and notify
functions.

What Powertools' ``BatchProcessor`` does for a standard queue, and nothing more: each record is
handled on its own; a record whose handler raises is reported in ``batchItemFailures`` (SQS makes
only it visible again, and moves it to the DLQ after ``maxReceiveCount``); when every record fails
the invocation fails (``BatchFailed``, as Powertools' ``BatchProcessingError``), so the error shows
in the function's metrics. The notify function has its records run concurrently, within a time
budget (``concurrent=True``). Written here because importing Powertools' batch utility (asyncio, every
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


MAX_CONCURRENT_RECORDS = 32  # threads per batch (the notify function's batches are 5 records)


class BatchFailed(Exception):
    """Every record of the batch failed: the invocation fails and SQS retries them all."""


def partial_batch_response(
    event: Mapping[str, Any],
    handle: Callable[[SqsRecord], object],
    *,
    concurrent: bool = False,
    budget_seconds: float | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle`` on each record; ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``.

    ``concurrent``: every record at once, each in its own thread, so no record waits on another
    (the notify function: one slow webhook receiver must not hold up another client's delivery).
    A record still running after ``budget_seconds`` is reported failed (SQS hands it out again);
    its thread is left to end on its own.
    """
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    parsed: list[SqsRecord] = []
    for raw in records:
        try:
            parsed.append(SqsRecord.from_event(raw))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not an SQS event record") from None
    if concurrent and len(parsed) > 1:
        ok = _run_concurrently(parsed, handle, budget_seconds)
    else:
        ok = [_run(record, handle) for record in parsed]
    failures = [{"itemIdentifier": r.message_id} for r, fine in zip(parsed, ok, strict=True) if not fine]
    if records and len(failures) == len(records):
        raise BatchFailed(f"all {len(records)} records failed (each logged above)")
    return {"batchItemFailures": failures}


def _run(record: SqsRecord, handle: Callable[[SqsRecord], object]) -> bool:
    try:
        handle(record)
        return True
    except TransientError as exc:  # expected (a retry later): one line, no traceback
        logger.warning("record to retry", extra={"message_id": record.message_id, "error": str(exc)[:300]})
    except Exception as exc:
        error = type(exc).__name__
        logger.exception("record failed", extra={"message_id": record.message_id, "error": error})
    return False


def _run_concurrently(
    records: list[SqsRecord], handle: Callable[[SqsRecord], object], budget_seconds: float | None
) -> list[bool]:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(
        max_workers=min(len(records), MAX_CONCURRENT_RECORDS), thread_name_prefix="sqs-record"
    )
    finished = False
    try:
        # Each record in a copy of the caller's context (per-invocation log keys, locally).
        futures = [pool.submit(contextvars.copy_context().run, _run, r, handle) for r in records]
        finished = not wait(futures, timeout=budget_seconds).not_done
    finally:
        # All done: the idle threads end now. Otherwise the late ones are not waited for.
        pool.shutdown(wait=finished, cancel_futures=True)
    ok: list[bool] = []
    for record, future in zip(records, futures, strict=True):
        if future.done() and not future.cancelled():
            ok.append(future.result())
            continue
        logger.warning(
            "record unfinished within the batch's time budget; it will be retried",
            extra={"message_id": record.message_id, "budget_s": budget_seconds},
        )
        ok.append(False)
    return ok
