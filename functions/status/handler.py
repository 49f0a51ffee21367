"""status: API Gateway REST proxy → job status (with the SVG and contours once completed).

Routes: GET /api/v1/status/{id}, GET /api/v1/frontal/crop/status/{id}, and the documentation pages:
GET /docs and /swagger (Swagger UI), /redoc (ReDoc), /openapi.json (the OpenAPI document; also
``/swagger?format=json``). Read-only: its role needs no SQS or S3 writes.
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from facesvg.service.api import create_app, resolve
from facesvg.service.observability import logger, metrics, tracer
from facesvg.service.settings import get_settings
from facesvg.service.store import default_service

default_service()  # init phase: reads the settings; each SDK client is built on first use
app = create_app(default_service, cors_allow_origin=get_settings().cors_allow_origin)
init_phase.end()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, get_settings().max_body_bytes)
