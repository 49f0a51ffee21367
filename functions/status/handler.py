"""status: API Gateway REST proxy → job status (with the SVG and contours once completed).

Routes: GET /api/v1/status/{id}, GET /api/v1/frontal/crop/status/{id}, and the documentation pages:
GET /docs and /swagger (Swagger UI), /redoc (ReDoc), /openapi.json (the OpenAPI document; also
``/swagger?format=json``). Read-only: its role needs no SQS or S3 writes.
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from facesvg.service.api_handler import build_api_handler

_handle = build_api_handler()  # the service and the resolver, built in the init phase
init_phase.end()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _handle(event, context)
