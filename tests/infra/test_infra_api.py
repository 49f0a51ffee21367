"""API: both route families, API key on every method, usage plan, throttling, CORS, logs, outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.infra


def _paths(synth: Any) -> dict[str, str]:
    """logical id of each ApiGateway::Resource → its full path (parents resolved)."""
    resources = synth.of_type("AWS::ApiGateway::Resource")
    rest_api = synth.logical_id(synth.stack.api.rest_api)

    def path_of(logical: str) -> str:
        props = resources[logical]["Properties"]
        parent = props["ParentId"]
        if parent == {"Fn::GetAtt": [rest_api, "RootResourceId"]}:
            return "/" + str(props["PathPart"])
        return path_of(parent["Ref"]) + "/" + str(props["PathPart"])

    return {logical: path_of(logical) for logical in resources}


def _methods(synth: Any) -> list[tuple[str, str, dict[str, Any]]]:
    paths = _paths(synth)
    out = []
    for method in synth.of_type("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        ref = props["ResourceId"]
        path = paths[ref["Ref"]] if "Ref" in ref else "/"
        out.append((props["HttpMethod"], path, props))
    return out


def _target(synth: Any, props: dict[str, Any]) -> str:
    """Logical id of the function a Lambda proxy integration invokes."""
    uri = str(props["Integration"]["Uri"])
    for name, fn in (("submit", synth.stack.api.submit), ("status", synth.stack.api.status)):
        if synth.logical_id(fn) in uri:
            return name
    raise AssertionError(uri)


def test_both_route_families_reach_the_right_function(synth: Any) -> None:
    methods = {(m, p): props for m, p, props in _methods(synth)}
    for prefix in names.ROUTE_PREFIXES:
        submit = methods[("POST", prefix + names.SUBMIT_PATH)]
        status = methods[("GET", prefix + names.STATUS_PATH)]
        assert _target(synth, submit) == "submit"
        assert _target(synth, status) == "status"
        assert submit["Integration"]["Type"] == status["Integration"]["Type"] == "AWS_PROXY"
        assert status["RequestParameters"] == {"method.request.path.id": True}
    for docs_path in names.DOCS_PATHS:  # /docs, /redoc, /openapi.json and /swagger
        assert _target(synth, methods[("GET", docs_path)]) == "status"
    # nothing else is routed
    routed = {(m, p) for m, p, _ in _methods(synth) if m != "OPTIONS"}
    expected = {("POST", p + names.SUBMIT_PATH) for p in names.ROUTE_PREFIXES}
    expected |= {("GET", p + names.STATUS_PATH) for p in names.ROUTE_PREFIXES}
    expected |= {("GET", p) for p in names.DOCS_PATHS}
    assert routed == expected


def test_api_key_is_required_on_every_method(synth: Any) -> None:
    methods = _methods(synth)
    assert methods
    for http_method, path, props in methods:
        if http_method == "OPTIONS":
            # CORS preflights: browsers never send credentials on them; they invoke nothing.
            assert props["Integration"]["Type"] == "MOCK", path
            continue
        assert props["ApiKeyRequired"] is True, f"{http_method} {path}"


def test_public_swagger_is_an_explicit_opt_in(synth_with: Any) -> None:
    variant = synth_with(publicSwagger=True)
    keyless = [
        (m, p) for m, p, props in _methods(variant) if m != "OPTIONS" and not props.get("ApiKeyRequired")
    ]
    assert sorted(keyless) == sorted(("GET", p) for p in names.DOCS_PATHS)


def test_usage_plan_throttles_the_key_and_the_stage(synth: Any) -> None:
    config = synth.stack.config
    (plan,) = synth.of_type("AWS::ApiGateway::UsagePlan").values()
    props = plan["Properties"]
    assert props["Throttle"] == {
        "RateLimit": config.throttle_rate_limit,
        "BurstLimit": config.throttle_burst_limit,
    }
    assert props["ApiStages"][0]["Stage"] == {
        "Ref": synth.logical_id(synth.stack.api.rest_api.deployment_stage)
    }
    (plan_key,) = synth.of_type("AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"]["KeyId"] == {"Ref": synth.logical_id(synth.stack.api.api_key)}
    (stage,) = synth.of_type("AWS::ApiGateway::Stage").values()
    settings = stage["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == config.throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.throttle_burst_limit


def test_stage_has_access_logs_tracing_and_its_name(synth: Any) -> None:
    (stage,) = synth.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == synth.stack.config.stage_name
    assert props["TracingEnabled"] is True
    log_group = synth.logical_id(synth.stack.api.access_logs)
    assert {"Ref": log_group} in props["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1]
    assert '"status"' in props["AccessLogSetting"]["Format"]
    assert props["MethodSettings"][0]["LoggingLevel"] == "ERROR"
    assert props["MethodSettings"][0]["DataTraceEnabled"] is False


def test_cors_preflight_and_gateway_errors_carry_cors_headers(synth: Any) -> None:
    options = {p: props for m, p, props in _methods(synth) if m == "OPTIONS"}
    for prefix in names.ROUTE_PREFIXES:
        preflight = options[prefix + names.SUBMIT_PATH]["Integration"]["IntegrationResponses"][0]
        params = preflight["ResponseParameters"]
        assert params["method.response.header.Access-Control-Allow-Origin"] == "'*'"
        assert "X-Api-Key" in params["method.response.header.Access-Control-Allow-Headers"]
    gateway = synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    types = {g["Properties"]["ResponseType"] for g in gateway}
    assert types == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for g in gateway:
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in g["Properties"]["ResponseParameters"]
        # API Gateway's own errors carry `detail` too, as the functions' errors do
        template = g["Properties"]["ResponseTemplates"]["application/json"]
        assert '"detail": $context.error.messageString' in template
        rendered = template.replace("$context.error.messageString", '"Forbidden"').replace(
            "$context.error.responseType", "MISSING_AUTHENTICATION_TOKEN"
        )
        assert json.loads(rendered) == {
            "message": "Forbidden",
            "detail": "Forbidden",
            "error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Forbidden"},
        }


def test_request_validator_is_attached_to_every_routed_method(synth: Any) -> None:
    (validator_id,) = synth.of_type("AWS::ApiGateway::RequestValidator")
    for http_method, path, props in _methods(synth):
        if http_method != "OPTIONS":
            assert props["RequestValidatorId"] == {"Ref": validator_id}, path


def test_outputs_give_the_url_and_key_id(synth: Any) -> None:
    outputs = synth.json["Outputs"]
    for name in ("ApiUrl", "ApiKeyId", "BucketName", "TableName", "QueueUrl", "DeadLetterQueueUrl"):
        assert name in outputs
    assert outputs["ApiKeyId"]["Value"] == {"Ref": synth.logical_id(synth.stack.api.api_key)}
