"""submit: API Gateway REST proxy → validate, hash, create the job once, enqueue its id.

Routes: POST /api/v1/submit and POST /api/v1/frontal/crop/submit (see facesvg.service.api).
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
