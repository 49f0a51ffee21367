"""Storage: bucket, table, queues — encryption, public access, TLS-only, lifecycle, keys, DLQ."""

from __future__ import annotations

from typing import Any

import pytest
from facesvg import names

pytestmark = pytest.mark.infra


def _data_bucket(synth: Any) -> dict[str, Any]:
    logical = synth.logical_id(synth.stack.storage.bucket)
    bucket: dict[str, Any] = synth.resources[logical]
    return bucket


def test_resource_counts(synth: Any) -> None:
    # Given the default deployment / Then exactly these resources exist
    counts = {
        "AWS::S3::Bucket": 2,  # data + its server-access-log bucket
        "AWS::DynamoDB::Table": 1,
        "AWS::SQS::Queue": 4,  # jobs + DLQ, notify + DLQ
        "AWS::Lambda::LayerVersion": 1,
        "AWS::Lambda::EventSourceMapping": 2,  # process, notify
        "AWS::ApiGateway::RestApi": 1,
        "AWS::ApiGateway::Stage": 1,
        "AWS::ApiGateway::ApiKey": 1,
        "AWS::ApiGateway::UsagePlan": 1,
        "AWS::ApiGateway::UsagePlanKey": 1,
        "AWS::CloudWatch::Dashboard": 1,
        "Custom::S3BucketNotifications": 1,
        "AWS::SNS::Topic": 0,  # only with facesvg:alarmEmail / facesvg:alarmTopic
    }
    for resource_type, count in counts.items():
        synth.template.resource_count_is(resource_type, count)
    # submit, status, ingest, notify (zip) + process (image) + CDK's bucket-notification helper
    app_functions = {
        k: v
        for k, v in synth.of_type("AWS::Lambda::Function").items()
        if "BucketNotificationsHandler" not in k
    }
    assert len(app_functions) == 5


def test_every_bucket_is_private_encrypted_and_tls_only(synth: Any) -> None:
    buckets = synth.of_type("AWS::S3::Bucket")
    policies = synth.of_type("AWS::S3::BucketPolicy")
    assert len(buckets) == 2
    for logical, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert sse[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        # a Deny on aws:SecureTransport=false in this bucket's policy
        bucket_policies = [p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": logical}]
        assert bucket_policies, f"{logical} has no bucket policy"
        statements = bucket_policies[0]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        ), logical


def test_data_bucket_lifecycle_and_access_logs(synth: Any) -> None:
    props = _data_bucket(synth)["Properties"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    config = synth.stack.config
    assert rules["expire-inputs"]["Prefix"] == names.PREFIX_INPUTS
    assert rules["expire-inputs"]["ExpirationInDays"] == config.inputs_expiration_days
    assert rules["expire-incoming"]["Prefix"] == names.PREFIX_INCOMING
    assert "expire-results" not in rules  # results are the cache: kept unless configured
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"] == synth.logical_id(
        synth.stack.storage.access_logs
    )
    assert "VersioningConfiguration" not in props  # off by default (facesvg:versioned)


def test_incoming_objects_notify_the_ingest_function(synth: Any) -> None:
    (notification,) = synth.of_type("Custom::S3BucketNotifications").values()
    config = notification["Properties"]["NotificationConfiguration"]
    (target,) = config["LambdaFunctionConfigurations"]
    assert target["Events"] == ["s3:ObjectCreated:*"]
    assert target["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": names.PREFIX_INCOMING}]
    ingest = synth.logical_id(synth.stack.processing.ingest)
    assert target["LambdaFunctionArn"] == {"Fn::GetAtt": [ingest, "Arn"]}


def test_table_keys_ttl_billing_and_recovery(synth: Any) -> None:
    (table,) = synth.of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": names.TABLE_PARTITION_KEY, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": names.TABLE_PARTITION_KEY, "AttributeType": "S"}
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": names.TABLE_TTL_ATTRIBUTE, "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_queue_dlq_wiring_encryption_and_visibility(synth: Any) -> None:
    storage = synth.stack.storage
    queue = synth.resources[synth.logical_id(storage.queue)]["Properties"]
    dlq_id = synth.logical_id(storage.dlq)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    process = synth.resources[synth.logical_id(synth.stack.processing.process)]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * process["Timeout"]
    for logical, q in synth.of_type("AWS::SQS::Queue").items():
        assert q["Properties"]["SqsManagedSseEnabled"] is True, logical
    # both queues refuse plain HTTP
    for policy in synth.of_type("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition")) for s in statements
        )


def test_event_source_mapping_reports_batch_item_failures(synth: Any) -> None:
    process = {"Ref": synth.logical_id(synth.stack.processing.process)}
    (mapping,) = [
        m
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == process
    ]
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.queue), "Arn"]}
    assert props["FunctionName"] == {"Ref": synth.logical_id(synth.stack.processing.process)}


def test_max_receive_count_and_timeout_come_from_context(synth_with: Any) -> None:
    # Given an operator who wants 5 attempts and a 120 s process timeout (strings, as from -c)
    variant = synth_with(maxReceiveCount="5", processTimeoutSeconds="120", versioned=True, retainData=False)
    storage = variant.stack.storage
    queue = variant.resources[variant.logical_id(storage.queue)]["Properties"]
    # Then the redrive policy, the visibility timeout and the function's own setting follow
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["VisibilityTimeout"] == 720
    process = variant.resources[variant.logical_id(variant.stack.processing.process)]["Properties"]
    env = process["Environment"]["Variables"]
    assert env[names.ENV_MAX_RECEIVE_COUNT] == "5"
    assert int(env[names.ENV_LEASE_SECONDS]) <= queue["VisibilityTimeout"]
    bucket = variant.resources[variant.logical_id(storage.bucket)]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Delete"
