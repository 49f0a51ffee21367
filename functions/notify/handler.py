"""notify: SQS batch from the notify queue → webhook deliveries (partial batch failures).

A record is either an EventBridge job-end event (the bus's rule targets the queue: it becomes one
delivery message per callback on the job) or one delivery (one signed POST). A delivery to retry
is made visible again after its backoff and reported failed; after the queue's maxReceiveCount it
moves to the DLQ (``make redrive REDRIVE_ARGS=--notify`` replays it). Requires
ReportBatchItemFailures on the event source mapping.

The records of a batch are delivered concurrently, each POST within its own deadline, so one
client's slow receiver never delays another's delivery; a record still running when the
invocation is about to time out is reported failed and comes back later (never the whole batch).
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from facesvg.service.composition import default_dispatcher
from facesvg.service.errors import TransientError
from facesvg.service.notify import Delivery, DeliveryOutcome, parse_notify_message
from facesvg.service.observability import correlation, logger, metrics, tracer
from facesvg.service.sqs_batch import SqsRecord, partial_batch_response

# Time kept back from the invocation's for reporting the batch (and its failed records) to Lambda.
BUDGET_MARGIN_SECONDS = 3.0

default_dispatcher()  # init phase: reads the settings; each SDK client is built on first use
init_phase.end()


@tracer.capture_method
def record_handler(record: SqsRecord) -> str:
    message = parse_notify_message(record.body)  # garbage → record fails → DLQ
    if not isinstance(message, Delivery):
        return f"fanned_out:{default_dispatcher().fan_out(message)}"
    attempt = record.receive_count
    with correlation(job_id=message.detail.get("id"), delivery_id=message.delivery_id):
        result = default_dispatcher().deliver(message, attempt)
    if result.outcome is DeliveryOutcome.RETRY:
        default_dispatcher().queue.retry_in(record.receipt_handle, result.retry_in or 0)
        raise TransientError(f"delivery {message.delivery_id}: HTTP {result.status}; retry")
    return result.outcome.value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    budget = context.get_remaining_time_in_millis() / 1000 - BUDGET_MARGIN_SECONDS
    return partial_batch_response(event, record_handler, concurrent=True, budget_seconds=max(1.0, budget))
