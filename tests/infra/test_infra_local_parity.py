"""The local stack and the CDK stack are built from one config (``facesvg.stack_config``): what
``facesvg.local.resources.provision`` creates on moto matches the synthesized template, attribute by
attribute (queue, DLQ, redrive, table, TTL, drop-folder notification, the functions' settings)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facesvg import names

pytestmark = [pytest.mark.infra, pytest.mark.integration]


def _props(synth: Any, construct: Any) -> dict[str, Any]:
    props: dict[str, Any] = synth.resources[synth.logical_id(construct)]["Properties"]
    return props


def _queue(local_stack: Any, url: str) -> dict[str, str]:
    attrs: dict[str, str] = local_stack.clients["sqs"].get_queue_attributes(
        QueueUrl=url, AttributeNames=["All"]
    )["Attributes"]
    return attrs


def _assert_queue_pair(
    synth: Any, local_stack: Any, cdk_queues: tuple[Any, Any], urls: tuple[str, str]
) -> None:
    """A local queue and its DLQ have the template's visibility, retention and redrive."""
    queue, dlq = (_props(synth, q) for q in cdk_queues)
    local_queue, local_dlq = (_queue(local_stack, url) for url in urls)
    assert int(local_queue["VisibilityTimeout"]) == queue["VisibilityTimeout"]
    assert int(local_queue["MessageRetentionPeriod"]) == queue["MessageRetentionPeriod"]
    assert int(local_dlq["MessageRetentionPeriod"]) == dlq["MessageRetentionPeriod"]
    redrive = json.loads(local_queue["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"] == local_dlq["QueueArn"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [synth.logical_id(cdk_queues[1]), "Arn"]
    }


def test_queues_match_the_template(synth: Any, local_stack: Any) -> None:
    storage, res = synth.stack.storage, local_stack.resources
    _assert_queue_pair(synth, local_stack, (storage.queue, storage.dlq), (res.queue_url, res.dlq_url))


def test_table_matches_the_template(synth: Any, local_stack: Any) -> None:
    table = _props(synth, synth.stack.storage.table)
    ddb = local_stack.clients["dynamodb"]
    local = ddb.describe_table(TableName=local_stack.resources.table)["Table"]
    assert local["KeySchema"] == table["KeySchema"]
    assert local["AttributeDefinitions"] == table["AttributeDefinitions"]
    assert local["BillingModeSummary"]["BillingMode"] == table["BillingMode"]
    ttl = ddb.describe_time_to_live(TableName=local_stack.resources.table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == table["TimeToLiveSpecification"]["AttributeName"]
    assert (ttl["TimeToLiveStatus"] == "ENABLED") == table["TimeToLiveSpecification"]["Enabled"]


def test_drop_folder_notification_matches_the_template(synth: Any, local_stack: Any) -> None:
    (notifications,) = synth.of_type("Custom::S3BucketNotifications").values()
    (deployed,) = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    local = local_stack.clients["s3"].get_bucket_notification_configuration(
        Bucket=local_stack.resources.bucket
    )
    (queued,) = local["QueueConfigurations"]  # locally S3 -> queue -> the same ingest handler
    assert queued["Events"] == deployed["Events"]
    assert queued["Filter"] == deployed["Filter"]
    assert deployed["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": names.PREFIX_INCOMING}]


def test_function_settings_match_the_template(synth: Any, local_stack: Any) -> None:
    """Every setting the stack gives the functions has the same value locally (the runtime's own
    overrides aside: the test stack runs in LOAD_TEST_MODE), the lease included."""
    from infra.functions import RESOURCE_SETTINGS, settings_env_names

    deployed = _props(synth, synth.stack.processing.process)["Environment"]["Variables"]
    local = local_stack.resources.function_environment()
    overridden = {names.ENV_LOAD_TEST_MODE, names.ENV_ARTIFICIAL_DELAY, *RESOURCE_SETTINGS.values()}
    # local-only: loopback/plain-HTTP callbacks allowed; the test stack's webhook retries immediate
    overridden |= {
        names.ENV_CALLBACK_ALLOW_HTTP,
        names.ENV_CALLBACK_ALLOW_LOOPBACK,
        names.ENV_NOTIFY_BACKOFF_SECONDS,
    }
    compared = set(settings_env_names().values()) - overridden
    assert {names.ENV_LEASE_SECONDS, names.ENV_MAX_RECEIVE_COUNT} <= compared
    assert {k: local[k] for k in compared} == {k: deployed[k] for k in compared}
    visibility = int(_queue(local_stack, local_stack.resources.queue_url)["VisibilityTimeout"])
    assert int(local[names.ENV_LEASE_SECONDS]) <= visibility  # names.py: never a lease beyond it


def test_notify_queues_match_the_template(synth: Any, local_stack: Any) -> None:
    n, res = synth.stack.notifications, local_stack.resources
    _assert_queue_pair(synth, local_stack, (n.queue, n.dlq), (res.notify_queue_url, res.notify_dlq_url))
