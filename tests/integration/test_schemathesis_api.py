"""schemathesis against the OpenAPI document the local API generates (``GET /swagger?format=json``):
for schema-valid and schema-invalid requests to every operation, no 5xx, every status code is
documented, and every response matches its declared content type and schema.

Bounded (a few examples per operation and mode, derandomized) so it stays a few seconds.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from facesvg import names
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _operations(spec: dict[str, Any]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(spec)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_api_conforms_to_its_openapi_document(local_stack: Any, mode: GenerationMode) -> None:
    spec = httpx.get(local_stack.api_url + names.SWAGGER_PATH, params={"format": "json"}, timeout=30).json()
    operations = _operations(spec)
    assert len(operations) >= 4  # both families' submit and status
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def conforms(case: Any) -> None:
            response = case.call(base_url=local_stack.api_url, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            conforms()
        except Unsatisfiable:
            # A GET whose only input is a free-form string id has no schema-invalid variant.
            assert mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET", operation.label


def test_the_document_declares_every_error_the_api_answers(api: httpx.Client) -> None:
    spec = api.get(names.SWAGGER_PATH, params={"format": "json"}).json()
    submit = spec["paths"]["/api/v1/submit"]["post"]["responses"]
    assert {"200", "202", "400", "413", "415", "422", "503"} <= set(submit)
    status = spec["paths"]["/api/v1/status/{id}"]["get"]["responses"]
    assert {"200", "404"} <= set(status)
