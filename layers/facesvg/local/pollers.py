"""Event sources, done locally: long-poll SQS and hand real event shapes to the handlers.

* ``SqsEventSource`` plays the Lambda SQS event source mapping with ReportBatchItemFailures:
  receive up to ``batch_size`` messages, invoke the function with an SQS event, delete the
  records that succeeded, leave the failed ones to SQS (redelivery, then the DLQ by the queue's
  redrive policy). Locally a failed record becomes visible again after ``retry_delay_seconds``
  instead of the full visibility timeout, so retries are quick to watch. When the function's
  worker process dies mid-batch (``WorkerCrashed``: it has been replaced by then) nothing is
  deleted and nothing is reported failed: the batch stays in flight and comes back after
  ``crash_visibility_seconds`` (the runtime passes the job lease + the retry delay, so a job the
  dead worker had claimed is claimable again when it returns), or, when that is None, after the
  queue's own visibility timeout, which is what Lambda does.
* ``S3NotificationSource`` receives the bucket's S3 notifications (delivered to a queue by moto)
  and invokes the ingest function with the S3 event itself, as S3 → Lambda would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from facesvg.service.observability import logger

Invoke = Callable[[dict[str, Any]], Any]
# After a crash whose worker could not be replaced, before the next receive (the next invocation
# tries to start a worker again).
CRASH_BACKOFF_SECONDS = 5.0


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, from a ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            k: {
                "stringValue": v.get("StringValue"),
                "binaryValue": v.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v.get("DataType"),
            }
            for k, v in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _worker_crashed(exc: Exception) -> bool:
    from facesvg.local.lambdas import WorkerCrashed

    return isinstance(exc, WorkerCrashed)


def _all_records_failed(exc: Exception) -> bool:
    from facesvg.local.lambdas import RemoteFunctionError
    from facesvg.service.sqs_batch import BatchFailed

    return isinstance(exc, BatchFailed) or (
        isinstance(exc, RemoteFunctionError) and exc.kind == BatchFailed.__name__
    )


class _Poller(threading.Thread):
    def __init__(self, sqs: Any, queue_url: str, stop: threading.Event, name: str, wait_seconds: int) -> None:
        super().__init__(name=name, daemon=True)
        self.sqs = sqs
        self.queue_url = queue_url
        self.stop_event = stop
        self.wait_seconds = wait_seconds

    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        out = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(out.get("Messages", []))

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    break
                logger.exception("local event source error", extra={"poller": self.name})
                self.stop_event.wait(0.5)

    def poll_once(self) -> None:
        raise NotImplementedError


class SqsEventSource(_Poller):
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        stop: threading.Event,
        *,
        name: str = "local-sqs-process",
        batch_size: int = 10,
        wait_seconds: int = 1,
        retry_delay_seconds: int | None = 1,  # None: the function sets its records' visibility itself
        crash_visibility_seconds: int | None = None,
        region: str = "us-east-1",
    ) -> None:
        super().__init__(sqs, queue_url, stop, name, wait_seconds)
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.retry_delay_seconds = retry_delay_seconds
        self.crash_visibility_seconds = crash_visibility_seconds
        self.region = region
        self.crashes = 0

    def poll_once(self) -> None:
        messages = self.receive(self.batch_size)
        if not messages:
            return
        event = {"Records": [sqs_record(m, self.queue_arn, self.region) for m in messages]}
        try:
            response = self.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception as exc:
            if _worker_crashed(exc):
                self._crashed(messages, exc)
                return
            if _all_records_failed(exc):
                # Every record failed: the handler raises, Lambda reports an error, SQS retries them all.
                logger.warning(
                    "every record of the batch failed; SQS will retry", extra={"error": str(exc)[:200]}
                )
            else:
                logger.exception("process invocation crashed; the whole batch will be retried")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for m in messages:
            if m["MessageId"] in failed and self.retry_delay_seconds is not None:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )

    def _crashed(self, messages: list[dict[str, Any]], exc: Exception) -> None:
        """The invocation died with its worker: no answer, so no record succeeded and none failed.
        Leave the batch in flight (never delete it, never hand it back at once: a job the dead
        worker claimed is leased until its lease ends, and a redelivery inside the lease would only
        burn a receive); it returns after ``crash_visibility_seconds`` from now, which is after any
        lease the dead worker took, or after the queue's visibility timeout when that is None."""
        self.crashes += 1
        seconds = self.crash_visibility_seconds
        logger.error(
            "process worker crashed mid-batch; replaced; the batch returns to the queue",
            extra={
                "poller": self.name,
                "error": str(exc),
                "messages": [m["MessageId"] for m in messages],
                "visible_in_s": seconds if seconds is not None else "queue visibility timeout",
            },
        )
        if seconds is not None:
            for m in messages:
                try:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=seconds
                    )
                except Exception:  # the queue's own visibility timeout still brings it back
                    logger.exception("could not set the visibility of a crashed batch's message")
        if not getattr(exc, "replaced", True):  # no worker to give the next batch to: wait a little
            self.stop_event.wait(CRASH_BACKOFF_SECONDS)


class S3NotificationSource(_Poller):
    """S3 → Lambda is an asynchronous invocation per event, run concurrently: the events of one
    receive are handed to the ingest function in parallel (``concurrency`` at a time), so one
    drop folder's burst of uploads does not hold another folder's events behind it one by one."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        invoke: Invoke,
        stop: threading.Event,
        *,
        name: str = "local-s3-ingest",
        wait_seconds: int = 1,
        concurrency: int = 10,
    ) -> None:
        super().__init__(sqs, queue_url, stop, name, wait_seconds)
        self.invoke = invoke
        self.concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None

    def run(self) -> None:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name) as pool:
            self._pool = pool
            try:
                super().run()
            finally:
                self._pool = None

    def poll_once(self) -> None:
        messages = self.receive(10)
        if self._pool is None or len(messages) < 2:
            for message in messages:
                self._deliver(message)
            return
        for _ in self._pool.map(self._deliver, messages):
            pass

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            event = json.loads(message["Body"])
        except json.JSONDecodeError:
            event = {}
        if isinstance(event, dict) and event.get("Records"):
            try:
                self.invoke(event)
            except Exception:
                # S3 → Lambda is asynchronous: Lambda retries; locally the message returns.
                logger.exception("ingest invocation failed; will retry")
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=2
                )
                return
        # s3:TestEvent and anything without records: nothing to deliver.
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
