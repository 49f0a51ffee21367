"""submit: API Gateway REST proxy → validate, hash, create the job once, enqueue its id.

Routes: POST /api/v1/submit and POST /api/v1/frontal/crop/submit (see facesvg.service.api).
"""

from __future__ import annotations

from facesvg.service import init_phase

init_phase.begin()  # no garbage collection while the handler's modules load (facesvg.service.init_phase)

from facesvg.service.api_handler import build_api_handler

lambda_handler = build_api_handler()
init_phase.end()
