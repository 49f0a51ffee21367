"""Notifications: the bus, its rule → the notify queue (+ DLQ), the secret, the notify function,
least-privilege grants and the DLQ alarm (infra/notifications.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facesvg import names
from facesvg.names import DETAIL_TYPES, EVENT_SOURCE
from test_infra_iam import _can, _grants

pytestmark = pytest.mark.infra


def test_the_rule_sends_job_end_events_of_the_stack_bus_to_the_notify_queue(synth: Any) -> None:
    n = synth.stack.notifications
    (rule,) = synth.of_type("AWS::Events::Rule").values()
    props = rule["Properties"]
    assert props["EventBusName"] == {"Ref": synth.logical_id(n.bus)}
    assert props["EventPattern"] == {"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.logical_id(n.queue), "Arn"]}
    # The queue lets EventBridge send, only from this rule.
    policies = [
        p
        for p in synth.of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": synth.logical_id(n.queue)} in p["Properties"]["Queues"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert allow and all(s["Principal"] == {"Service": "events.amazonaws.com"} for s in allow)
    assert all("aws:SourceArn" in json.dumps(s["Condition"]) for s in allow)


def test_the_notify_queue_retries_six_times_then_dead_letters_encrypted(synth: Any) -> None:
    n = synth.stack.notifications
    queue = synth.resources[synth.logical_id(n.queue)]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [synth.logical_id(n.dlq), "Arn"]},
        "maxReceiveCount": names.NOTIFY_MAX_RECEIVE_COUNT,
    }
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] >= 6 * synth.stack.config.notify_function_timeout_seconds
    dlq = synth.resources[synth.logical_id(n.dlq)]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True and dlq["MessageRetentionPeriod"] == 14 * 86400


def test_the_notify_function_consumes_its_queue_with_partial_batch_failures(synth: Any) -> None:
    n = synth.stack.notifications
    fn_id = synth.logical_id(n.notify)
    fn = synth.resources[fn_id]["Properties"]
    assert fn["Handler"] == "handler.lambda_handler" and fn["Timeout"] == 40
    env = fn["Environment"]["Variables"]
    assert env[names.ENV_NOTIFY_QUEUE_URL] == {"Ref": synth.logical_id(n.queue)}
    assert env[names.ENV_EVENT_BUS] == {"Ref": synth.logical_id(n.bus)}
    assert env[names.ENV_WEBHOOK_SECRET_ID] == {"Ref": synth.logical_id(n.secret)}
    assert env[names.ENV_CALLBACK_ALLOW_HTTP] == "false" and env[names.ENV_CALLBACK_ALLOW_LOOPBACK] == "false"
    assert env[names.ENV_NOTIFY_MAX_ATTEMPTS] == str(names.NOTIFY_MAX_RECEIVE_COUNT)
    (mapping,) = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(n.queue), "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == synth.stack.config.notify_batch_size


def test_every_function_knows_the_bus_queue_and_secret(synth: Any) -> None:
    n = synth.stack.notifications
    for fn in synth.of_type("AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if names.ENV_BUCKET not in env:
            continue  # CDK's own helpers
        assert env[names.ENV_EVENT_BUS] == {"Ref": synth.logical_id(n.bus)}
        assert env[names.ENV_NOTIFY_QUEUE_URL] == {"Ref": synth.logical_id(n.queue)}


def test_grants_are_least_privilege(synth: Any) -> None:
    stack = synth.stack
    n = stack.notifications
    notify = _grants(synth, n.notify)
    process = _grants(synth, stack.processing.process)
    submit = _grants(synth, stack.api.submit)
    status = _grants(synth, stack.api.status)
    bus_arn = json.dumps({"Fn::GetAtt": [synth.logical_id(n.bus), "Arn"]})
    secret = json.dumps({"Ref": synth.logical_id(n.secret)})
    queue_arn = json.dumps({"Fn::GetAtt": [synth.logical_id(n.queue), "Arn"]})

    assert ("events:PutEvents", bus_arn) in process
    assert not any(a == "events:PutEvents" for a, _ in submit + status + notify)
    assert ("secretsmanager:GetSecretValue", secret) in notify
    assert not any(a.startswith("secretsmanager:") for a, _ in process + submit + status)
    assert ("sqs:SendMessage", queue_arn) in submit and ("sqs:SendMessage", queue_arn) in notify
    assert ("sqs:ChangeMessageVisibility", queue_arn) in notify  # the backoff
    assert not any(r == queue_arn for _, r in process + status)
    assert _can(notify, "s3:GetObject*", names.PREFIX_RESULTS)
    assert not any(a.startswith("s3:PutObject") or a.startswith("s3:DeleteObject") for a, _ in notify)


def test_the_notify_dlq_has_an_alarm_and_the_outputs_name_everything(synth: Any) -> None:
    n = synth.stack.notifications
    alarms = synth.of_type("AWS::CloudWatch::Alarm").values()
    dlq_alarms = [
        a
        for a in alarms
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [synth.logical_id(n.dlq), "QueueName"]}}]
    ]
    assert len(dlq_alarms) == 1 and dlq_alarms[0]["Properties"]["Threshold"] == 0
    outputs = synth.json["Outputs"]
    for key in (
        "EventBusName",
        "EventBusArn",
        "NotifyQueueUrl",
        "NotifyDeadLetterQueueUrl",
        "WebhookSecretArn",
    ):
        assert key in outputs, key
    secret = synth.resources[synth.logical_id(n.secret)]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
