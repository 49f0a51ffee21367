"""status: API Gateway REST proxy → job status (with the SVG and contours once completed).

Routes: GET /api/v1/status/{id}, GET /api/v1/frontal/crop/status/{id}, and the documentation pages:
GET /docs and /swagger (Swagger UI), /redoc (ReDoc), /openapi.json (the OpenAPI document; also
``/swagger?format=json``). Read-only: its role needs no SQS or S3 writes.
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from facesvg.service.api_handler import build_api_handler

lambda_handler = build_api_handler()
init_phase.end()
