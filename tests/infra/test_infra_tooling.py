"""Tooling around the stack: cdk.json, the pinned CLI, the LocalStack and SAM files, events/, config."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"


def test_cdk_json_documents_every_context_key() -> None:
    from infra.config import context_keys

    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["app"].endswith("-m infra.app")
    ours = {k for k in cdk_json["context"] if k.startswith("facesvg:")}
    assert ours == set(context_keys())


def test_context_values_are_coerced_and_checked() -> None:
    import aws_cdk as cdk

    from infra.config import StackConfig

    app = cdk.App(
        context={
            "facesvg:maxReceiveCount": "5",
            "facesvg:versioned": "true",
            "facesvg:corsAllowOrigins": "https://a.example, https://b.example",
            "facesvg:alarmEmail": "null",
            "facesvg:throttleRateLimit": "2.5",
        }
    )
    config = StackConfig.from_context(app.node)
    assert config.max_receive_count == 5
    assert config.versioned is True
    assert config.cors_allow_origins == ("https://a.example", "https://b.example")
    assert config.alarm_email is None
    assert config.throttle_rate_limit == 2.5
    assert config.visibility_timeout_seconds >= 6 * config.process_timeout_seconds
    for bad in (
        {"facesvg:maxReceiveCount": "0"},
        {"facesvg:versioned": "maybe"},
        {"facesvg:artificialDelaySeconds": 90},
    ):
        with pytest.raises(ValueError):
            StackConfig.from_context(cdk.App(context=bad).node)


def test_the_cdk_cli_is_pinned_exactly_and_locked() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    deps = package["devDependencies"]
    for name in ("aws-cdk", "aws-cdk-local"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", deps[name]), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == deps[name]


def test_localstack_compose_pins_its_images_and_mounts_docker() -> None:
    text = (REPO_ROOT / "docker-compose.localstack.yml").read_text()
    images = re.findall(r"image:\s*(\S+)", text)
    assert len(images) == 2
    for image in images:
        tag = image.split(":-")[-1].rstrip("}") if image.startswith("${") else image
        assert re.search(r":v?\d+\.\d+\.\d+$", tag), f"unpinned image {image}"
        assert not tag.endswith(":latest")
    assert "/var/run/docker.sock:/var/run/docker.sock" in text
    for service in ("cloudformation", "ecr", "lambda", "apigateway", "dynamodb", "sqs", "s3"):
        assert service in text
    assert "LOCALSTACK_AUTH_TOKEN" in text
    prometheus = (REPO_ROOT / "infra" / "localstack" / "prometheus.yml").read_text()
    assert f":{names.LOCAL_METRICS_PORT}" in prometheus


def test_samconfig_points_at_the_synthesized_template() -> None:
    from infra.stack import STACK_NAME

    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    template = f"cdk.out/{STACK_NAME}.template.json"
    assert config["default"]["local_invoke"]["parameters"]["template_file"] == template
    assert config["default"]["build"]["parameters"]["template_file"] == template


def test_sam_env_file_fills_the_resource_variables() -> None:
    from infra.sam_env import env_file

    out = env_file({"BucketName": "b", "TableName": "t", "QueueUrl": "q", "ApiUrl": "u"})
    assert out == {"Parameters": {names.ENV_BUCKET: "b", names.ENV_TABLE: "t", names.ENV_QUEUE_URL: "q"}}


# ----------------------------------------------------------------------------- events/ vs the stack


def _events(prefix: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(EVENTS.glob(f"{prefix}*.json"))
    return [(f.name, json.loads(f.read_text())) for f in files]


def test_sample_events_exist_for_every_function() -> None:
    for prefix in ("api_submit", "api_status", "sqs_", "s3_"):
        assert _events(prefix), f"no events/{prefix}*.json"


def test_api_events_match_a_deployed_route_and_stage(synth: Any) -> None:
    from test_infra_api import _methods

    routed = {(m, p) for m, p, _ in _methods(synth) if m != "OPTIONS"}
    for name, event in _events("api_"):
        assert (event["httpMethod"], event["resource"]) in routed, name
        assert event["requestContext"]["stage"] == synth.stack.config.stage_name, name
        if "{id}" in event["resource"]:
            assert "id" in event["pathParameters"], name


def test_s3_events_match_the_drop_folder_notification(synth: Any) -> None:
    (notification,) = synth.of_type("Custom::S3BucketNotifications").values()
    (target,) = notification["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    prefix = target["Filter"]["Key"]["FilterRules"][0]["Value"]
    for name, event in _events("s3_"):
        for record in event.get("Records", []):
            assert record["eventName"].startswith("ObjectCreated:"), name
            assert record["s3"]["object"]["key"].startswith(prefix), name


def test_sqs_events_are_batches_the_mapping_can_deliver(synth: Any) -> None:
    mappings = synth.of_type("AWS::Lambda::EventSourceMapping").values()  # process, notify
    for mapping in mappings:
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for name, event in _events("sqs_"):
        assert event["Records"], name
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs", name
            assert set(json.loads(record["body"])) == {"job_id"}, name  # ids only, never payloads
            assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1, name
