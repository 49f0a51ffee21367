"""ingest: S3 ObjectCreated on incoming/<name>/… → once image, segmentation map and landmarks are
all there, start the same job as the API; results are published to results/<name>/.

Accepts the S3 notification directly (S3 → Lambda) or wrapped in SQS records (S3 → SQS → Lambda).
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from facesvg.service import metrics_catalog as mc
from facesvg.service.composition import default_service
from facesvg.service.observability import logger, metrics, record, tracer
from facesvg.service.s3_events import s3_created_objects

default_service()  # init phase: reads the settings; each SDK client is built on first use
init_phase.end()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes: dict[str, str] = {}
    for bucket, key in s3_created_objects(event):
        outcome = default_service().ingest(bucket, key)
        record(mc.INGEST_OBJECTS, 1, outcome=outcome.value)
        outcomes[key] = outcome.value
    return {"objects": outcomes}
