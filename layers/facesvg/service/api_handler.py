"""The Lambda handler of an API function (submit, status): the one resolver (``facesvg.service.api``)
over the process-wide service, with the shared logging, tracing and metrics decorators.

Both API functions serve the same routes (API Gateway sends each only its own); they differ in what
their roles may do, not in code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from facesvg.service.api import create_app, resolve
from facesvg.service.composition import default_service
from facesvg.service.observability import logger, metrics, tracer
from facesvg.service.settings import get_settings

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def build_api_handler() -> LambdaHandler:
    """Build the service and the resolver now (the function's init phase) and return the handler."""
    default_service()  # reads the settings; each SDK client is built on first use
    app = create_app(default_service, cors_allow_origin=get_settings().cors_allow_origin)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return resolve(app, event, context, get_settings().max_body_bytes)

    return lambda_handler
