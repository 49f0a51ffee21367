"""process: SQS batch of job ids → render each job (partial batch failures).

A record fails (and SQS redelivers it, then moves it to the DLQ after maxReceiveCount) only for
transient errors; bad inputs mark the job failed and the record succeeds; a finished job's
redelivery does nothing. Requires ReportBatchItemFailures on the event source mapping.
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from facesvg.service import metrics_catalog as mc
from facesvg.service.composition import default_service
from facesvg.service.models import JobMessage
from facesvg.service.observability import correlation, logger, metrics, tracer
from facesvg.service.observability import record as record_metric
from facesvg.service.sqs_batch import SqsRecord, partial_batch_response
from facesvg.service.worker import ProcessOutcome

default_service()  # init phase: reads the settings; each SDK client is built on first use
init_phase.end()


@tracer.capture_method
def record_handler(record: SqsRecord) -> str:
    message = JobMessage.model_validate_json(record.body)  # garbage → record fails → DLQ
    sent_ms = record.sent_timestamp_ms
    if record.receive_count == 1 and sent_ms:  # enqueue → start (redeliveries would count the retry delay)
        record_metric(mc.QUEUE_WAIT, max(0.0, time.time() * 1000 - sent_ms))
    with correlation(job_id=message.job_id, message_id=record.message_id):
        outcome = default_service().process(message.job_id, record.receive_count, message.content_hash)
    if outcome not in (ProcessOutcome.COMPLETED, ProcessOutcome.FAILED):
        record_metric(mc.MESSAGES_SKIPPED, 1, reason=outcome.value)
    return outcome.value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return partial_batch_response(event, record_handler)
