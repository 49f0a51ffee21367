"""Each remaining hook into a Powertools internal (pinned by uv.lock) works on the locked version,
and fails naming the hook when the internal is gone: never a silent skip. Tracing's on/off rule
uses Powertools' documented environment variables only (no private call)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from facesvg.local.lambdas import FrameworkHookMissing, LocalContext, isolate_log_keys, pin_current_event
from facesvg.service import observability


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ],
)
def test_tracing_follows_powertools_documented_switches(
    env: dict[str, str], enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert observability.tracing_enabled() is enabled


def test_cold_start_hook_is_what_powertools_log_metrics_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """EmfProvider overrides ``_add_cold_start_metric`` (per function, not per process)."""
    hook = "AmazonCloudWatchEMFProvider._add_cold_start_metric"
    original = getattr(AmazonCloudWatchEMFProvider, "_add_cold_start_metric", None)
    assert original is not None, f"Powertools hook {hook} is gone"
    assert list(inspect.signature(original).parameters) == ["self", "context"], f"{hook} changed"
    records: list[dict[str, Any]] = []
    monkeypatch.setattr(observability, "_sink", records.append)
    monkeypatch.setattr(observability.EmfProvider, "_cold_started", set())
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics = observability.metrics

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> str:
        return "ok"

    for name in ("hooks-a", "hooks-a", "hooks-b"):
        assert handler({}, LocalContext(function_name=name)) == "ok"
    cold = [r for r in records if "ColdStart" in json.dumps(r["_aws"]["CloudWatchMetrics"])]
    assert sorted(r["function_name"] for r in cold) == ["hooks-a", "hooks-b"], f"{hook} was not called"


def test_the_resolver_hook_pins_the_event_or_fails_naming_it() -> None:
    app = APIGatewayRestResolver()
    assert getattr(app, "_to_proxy_event", None) is not None, "Powertools hook _to_proxy_event is gone"
    pinned = pin_current_event(app)
    event = {"httpMethod": "GET", "path": "/nothing", "resource": "/nothing", "headers": {}, "body": None}
    pinned.resolve(event, LocalContext(function_name="hooks"))
    assert "current_event" in vars(pinned), "the event is not kept on the resolver instance"

    class Changed(APIGatewayRestResolver):
        _to_proxy_event = None  # type: ignore[assignment]

    with pytest.raises(FrameworkHookMissing, match="_to_proxy_event"):
        pin_current_event(Changed())


def test_the_log_keys_hook_isolates_or_fails_naming_it() -> None:
    class Logger:
        def __init__(self, formatter: Any) -> None:
            self.registered_formatter = formatter

    formatter = LambdaPowertoolsFormatter()
    assert isinstance(vars(formatter).get("log_format"), dict), "Powertools hook log_format is gone"
    isolate_log_keys(Logger(formatter))
    assert getattr(type(formatter), "_facesvg_isolated", False)

    class Changed(LambdaPowertoolsFormatter):
        def __init__(self) -> None:
            super().__init__()
            self.__dict__["keys"] = self.__dict__.pop("log_format")

    with pytest.raises(FrameworkHookMissing, match="log_format"):
        isolate_log_keys(Logger(Changed()))
