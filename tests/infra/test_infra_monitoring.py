"""Monitoring and compliance: the alarms, the dashboard, the optional SNS topic, and cdk-nag."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _alarms(synth: Any) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()]


def _find(alarms: list[dict[str, Any]], metric: str, **dimension_refs: str) -> list[dict[str, Any]]:
    out = []
    for alarm in alarms:
        if alarm.get("MetricName") != metric:
            continue
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        if all(dims.get(k) == {"Ref": v} or str(v) in str(dims.get(k)) for k, v in dimension_refs.items()):
            out.append(alarm)
    return out


def test_the_failure_signals_have_alarms(synth: Any) -> None:
    alarms = _alarms(synth)
    storage, processing = synth.stack.storage, synth.stack.processing
    dlq = synth.logical_id(storage.dlq)
    queue = synth.logical_id(storage.queue)
    process = synth.logical_id(processing.process)
    # DLQ depth > 0
    (dlq_alarm,) = _find(alarms, "ApproximateNumberOfMessagesVisible", QueueName=dlq)
    assert dlq_alarm["Threshold"] == 0 and dlq_alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # process errors, throttles on every function, age of the oldest message
    assert _find(alarms, "Errors", FunctionName=process)
    assert len(_find(alarms, "Throttles")) == 5  # submit, status, ingest, process, notify
    assert _find(alarms, "ApproximateAgeOfOldestMessage", QueueName=queue)
    # API 5xx and p95 latency
    assert _find(alarms, "5XXError")
    (latency,) = _find(alarms, "Latency")
    assert latency["ExtendedStatistic"] == "p95"
    # nobody is notified unless asked (no topic by default)
    assert all(not a.get("AlarmActions") for a in alarms)
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_alarm_topic_is_optional_encrypted_and_wired(synth_with: Any) -> None:
    variant = synth_with(alarmEmail="ops@example.com")
    (topic_id,) = variant.of_type("AWS::SNS::Topic")
    topic = variant.resources[topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    (subscription,) = variant.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    for alarm in _alarms(variant):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    (key,) = variant.of_type("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert "cloudwatch.amazonaws.com" in str(key["Properties"]["KeyPolicy"])


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"alarmEmail": "ops@example.com", "retainData": False, "versioned": True, "publicSwagger": True},
            id="every-option",
        ),
        pytest.param(
            {
                "apiClients": [
                    "qoves",
                    {"name": "acme-eu", "quotaPerDay": 1000},
                    {"name": "gone", "enabled": False},
                ]
            },
            id="several-clients",
        ),
    ],
)
def test_cdk_nag_aws_solutions_reports_no_unacknowledged_finding(
    synth_with: Any, overrides: dict[str, Any]
) -> None:
    # Given the AwsSolutions pack as a validation plugin / When the stack is synthesized
    # Then it synthesizes: any unacknowledged finding raises "ValidationFailed" with the report.
    try:
        synth_with(nag=True, **overrides)
    except RuntimeError as exc:  # jsii wraps the ValidationFailed error
        pytest.fail(f"cdk-nag found unacknowledged findings:\n{exc}")
