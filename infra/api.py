"""API: the REST API (both route families), API key + usage plan, and the submit/status functions."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from facesvg import names

from infra.config import DEFAULT_API_CLIENT, ApiClient, StackConfig
from infra.functions import IMAGE_FUNCTIONS, image_function, log_group, zip_function
from infra.nag import acknowledge
from infra.storage import Storage

API_KEY_HEADER = "X-Api-Key"
# API Gateway's own errors (403 missing key, 429 throttled, 413…): its ``message``, plus the
# functions' error shape: ``detail`` (FastAPI-style clients) and ``error.code``/``error.message``
# (messageString is already a quoted JSON string).
GATEWAY_ERROR_TEMPLATE = (
    '{"message": $context.error.messageString, "detail": $context.error.messageString, '
    '"error": {"code": "$context.error.responseType", "message": $context.error.messageString}}'
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.submit = self._build_function(
            "SubmitFunction",
            "submit",
            "facesvg submit: validate, store inputs, enqueue",
            config,
            layer,
            environment,
        )
        self.status = self._build_function(
            "StatusFunction",
            "status",
            "facesvg status: job state + presigned results",
            config,
            layer,
            environment,
        )
        self._grant_storage(storage)
        self.access_logs = log_group(self, "AccessLogs", config)
        self.rest_api = self._build_rest_api(config)
        self._build_gateway_responses(config)
        self.routes: list[tuple[str, str]] = []
        self._build_routes(config)
        self._build_clients(config)
        self._acknowledge_rules()

    def _build_function(
        self,
        construct_id: str,
        name: str,
        description: str,
        config: StackConfig,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
    ) -> lambda_.Function:
        options: dict[str, Any] = {
            "name": name,
            "environment": environment,
            "config": config,
            "memory_mb": config.api_memory_mb,
            "timeout_seconds": config.api_timeout_seconds,
            "reserved_concurrency": config.api_reserved_concurrency,
            "description": description,
        }
        if name in IMAGE_FUNCTIONS:
            return image_function(self, construct_id, **options)
        return zip_function(self, construct_id, layer=layer, **options)

    def _grant_storage(self, storage: Storage) -> None:
        table, queue = storage.table, storage.queue
        # submit: writes inputs/, creates job and cache items, enqueues. It also reads results/ because
        # an identical submission of a finished job answers with that job's result (jobs.submit ->
        # status_view), exactly like status does.
        storage.grant_objects(self.submit, put=[names.PREFIX_INPUTS], read=[names.PREFIX_RESULTS])
        table.grant_read_write_data(self.submit)
        queue.grant_send_messages(self.submit)
        # status: reads the table and results/ (the presigned URLs are signed with its role).
        table.grant_read_data(self.status)
        storage.grant_objects(self.status, read=[names.PREFIX_RESULTS])

    def _build_rest_api(self, config: StackConfig) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            description="facesvg: face + segmentation + landmarks -> SVG contours",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            default_method_options=apigw.MethodOptions(api_key_required=True),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(config.cors_allow_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=[*apigw.Cors.DEFAULT_HEADERS, API_KEY_HEADER],
                max_age=cdk.Duration.hours(1),
            ),
            deploy_options=apigw.StageOptions(
                stage_name=config.stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.throttle_rate_limit,
                throttling_burst_limit=config.throttle_burst_limit,
            ),
        )

    def _build_gateway_responses(self, config: StackConfig) -> None:
        # Errors produced by API Gateway itself (403 missing key, 429 throttled, 413 too large)
        # must carry CORS headers too, or the viewer sees an opaque network error.
        origin = config.cors_allow_origins[0] if len(config.cors_allow_origins) == 1 else "*"
        for response_id, response_type in (
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX),
        ):
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                response_headers={"Access-Control-Allow-Origin": f"'{origin}'"},
                templates={"application/json": GATEWAY_ERROR_TEMPLATE},
            )

    def _build_routes(self, config: StackConfig) -> None:
        api = self.rest_api
        validator = api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        submit_integration = apigw.LambdaIntegration(self.submit, allow_test_invoke=False)
        status_integration = apigw.LambdaIntegration(self.status, allow_test_invoke=False)
        for prefix in names.ROUTE_PREFIXES:
            submit_path = prefix + names.SUBMIT_PATH
            api.root.resource_for_path(submit_path).add_method(
                "POST", submit_integration, request_validator=validator
            )
            status_path = prefix + names.STATUS_PATH
            api.root.resource_for_path(status_path).add_method(
                "GET",
                status_integration,
                request_validator=validator,
                request_parameters={"method.request.path.id": True},
            )
            self.routes += [("POST", submit_path), ("GET", status_path)]
        # The documentation pages (Swagger UI at /docs and /swagger, ReDoc, the OpenAPI document),
        # served by the status function (read-only).
        for docs_path in names.DOCS_PATHS:
            api.root.resource_for_path(docs_path).add_method(
                "GET",
                status_integration,
                api_key_required=not config.public_swagger,
                request_validator=validator,
            )
            self.routes.append(("GET", docs_path))

    def _build_clients(self, config: StackConfig) -> None:
        # One API key per client (facesvg:apiClients), each in a usage plan of its own over the
        # stage: a plan's throttle and quota already apply per key, but a plan of its own lets a
        # client's limits change in place, and a key never moves between plans (API Gateway
        # refuses a key in two plans of one stage, so a move would fail mid-deploy).
        # The first client keeps the stack's original constructs ("ApiKey", "UsagePlan"): same
        # logical ids, so the key a deployment already hands out keeps its value. Construct ids of
        # the others come from their names (renaming one is removing it and adding another).
        self.api_keys: dict[str, apigw.IApiKey] = {}
        self.usage_plans: dict[str, apigw.UsagePlan] = {}
        for index, client in enumerate(config.api_clients):
            self._add_client(client, suffix="" if index == 0 else client.id_suffix, config=config)
        first = config.api_clients[0].name
        self.api_key = self.api_keys[first]  # the default client's (output ApiKeyId)
        self.usage_plan = self.usage_plans[first]

    def _acknowledge_rules(self) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF by default: access needs an API key and the usage plan throttles each key; "
            "attach a WAFv2 web ACL to the stage where the API faces untrusted traffic at scale.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                self.rest_api,
                rule,
                "The service contract is API-key access (key + usage plan + throttling on every "
                "method); there are no end users to authenticate with Cognito or IAM. OPTIONS "
                "preflights are unauthenticated by the CORS spec.",
            )

    def _add_client(self, client: ApiClient, *, suffix: str, config: StackConfig) -> None:
        """The client's key and its usage plan over the stage. The default client (named
        ``default``) keeps the descriptions the stack always had, so its resources are unchanged."""
        legacy = client.name == DEFAULT_API_CLIENT and not suffix
        # What RestApi.add_api_key builds (same scope and id, so the same logical id), plus enabled.
        key = apigw.ApiKey(
            self.rest_api,
            "ApiKey" + suffix,
            stages=[self.rest_api.deployment_stage],
            description=(
                "facesvg API key (value: see docs/deploy.md)"
                if legacy
                else f"facesvg API key of client {client.name} (value: see docs/deploy.md)"
            ),
            enabled=client.enabled,
        )
        rate = client.throttle_rate_limit or config.throttle_rate_limit
        burst = client.throttle_burst_limit or config.throttle_burst_limit
        quota = client.quota_per_day or config.quota_per_day
        plan = self.rest_api.add_usage_plan(
            "UsagePlan" + suffix,
            description="facesvg default plan" if legacy else f"facesvg plan of client {client.name}",
            throttle=apigw.ThrottleSettings(rate_limit=rate, burst_limit=burst),
            quota=apigw.QuotaSettings(limit=quota, period=apigw.Period.DAY) if quota else None,
        )
        plan.add_api_key(key)
        plan.add_api_stage(stage=self.rest_api.deployment_stage)
        self.api_keys[client.name] = key
        self.usage_plans[client.name] = plan
