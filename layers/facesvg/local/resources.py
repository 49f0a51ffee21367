"""The same resources the CDK stack defines, on moto's server: names from ``facesvg.names``, every
number (visibility timeout, retention, redrive, TTL, notification) from the same
``facesvg.stack_config.StackConfig`` the CDK app builds from (``cdk.json``);
``tests/infra/test_infra_local_parity.py`` compares what this provisions with the synthesized template."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from facesvg import names
from facesvg.local.aws import LOCAL_CREDENTIALS, LOCAL_REGION, local_clients, local_session
from facesvg.stack_config import (
    DLQ_RETENTION_DAYS,
    INGEST_S3_EVENT,
    QUEUE_RETENTION_DAYS,
    RESOURCE_SETTINGS,
    StackConfig,
    settings_environment,
)

DAY_SECONDS = 86400


@dataclass(frozen=True)
class LocalResources:
    endpoint: str  # DynamoDB and SQS
    s3_endpoint: str  # S3, and the queue its notifications go to
    bucket: str
    table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    ingest_queue_url: str  # on the S3 endpoint
    config: StackConfig = field(default_factory=StackConfig)
    # Notifications (on the DynamoDB/SQS endpoint: moto delivers the bus's events to the queue).
    event_bus: str = ""
    notify_queue_url: str = ""
    notify_queue_arn: str = ""
    notify_dlq_url: str = ""
    webhook_secret_id: str = ""

    def function_environment(self) -> dict[str, str]:
        """The environment the CDK stack gives the functions (the same derivation from the same
        config), pointed at moto. A setting already in this process's environment (e.g.
        ``ARTIFICIAL_DELAY_SECONDS=4 facesvg run``) keeps its value; resource names do not."""
        resources = {
            "bucket": self.bucket,
            "table": self.table,
            "queue_url": self.queue_url,
            "event_bus": self.event_bus,
            "notify_queue_url": self.notify_queue_url,
            "webhook_secret_id": self.webhook_secret_id,
        }
        resource_vars = set(RESOURCE_SETTINGS.values())
        settings = {
            k: v if k in resource_vars else os.environ.get(k, v)
            for k, v in settings_environment(self.config, resources).items()
        }
        return {
            **settings,
            # Local only: receivers on this machine (webhook-listen, tests) over plain HTTP.
            names.ENV_CALLBACK_ALLOW_HTTP: "true",
            names.ENV_CALLBACK_ALLOW_LOOPBACK: "true",
            names.ENV_ENDPOINT_URL: self.endpoint,
            names.ENV_ENDPOINT_URL_S3: self.s3_endpoint,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            **LOCAL_CREDENTIALS,
        }


def queue_attributes(config: StackConfig, dlq_arn: str) -> dict[str, str]:
    """The jobs queue as ``infra/storage.py`` defines it: visibility timeout (>= the lease, which
    is the process timeout), retention, and the redrive policy to the DLQ."""
    return {
        "VisibilityTimeout": str(config.visibility_timeout_seconds),
        "MessageRetentionPeriod": str(QUEUE_RETENTION_DAYS * DAY_SECONDS),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(config.max_receive_count)}
        ),
    }


def provision(
    endpoint: str,
    s3_endpoint: str | None = None,
    config: StackConfig | None = None,
    webhook_secret: str | None = None,
) -> LocalResources:
    """Create the bucket, table (with TTL), queue + DLQ (redrive) and the drop-folder notification,
    from ``config`` (default: ``cdk.json``'s, as ``cdk synth`` reads it).

    Idempotent: safe to run against servers that already have them. S3 may live on a server of
    its own (``s3_endpoint``); its notification queue then lives there too, as moto delivers
    notifications inside one server. ``webhook_secret``: the signing secret's value when it is
    created (a stack with a data directory keeps one across restarts); None = a random one.
    """
    config = config or StackConfig.from_cdk_json()
    s3_endpoint = s3_endpoint or endpoint
    c = local_clients(endpoint, s3_endpoint)
    c["s3"].create_bucket(Bucket=names.BUCKET_NAME)
    _create_table(c["dynamodb"])
    dlq_url, queue_url, queue_arn = _create_job_queues(c["sqs"], config)
    ingest_url = _create_drop_folder_notification(c["s3"], c["s3_events"])
    notify = provision_notifications(endpoint, config, webhook_secret)
    return LocalResources(
        endpoint=endpoint,
        s3_endpoint=s3_endpoint,
        bucket=names.BUCKET_NAME,
        table=names.TABLE_NAME,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        ingest_queue_url=ingest_url,
        config=config,
        **notify,
    )


def _queue_arn(sqs: Any, queue_url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    )


def _create_table(ddb: Any) -> None:
    with contextlib.suppress(ddb.exceptions.ResourceInUseException):
        ddb.create_table(
            TableName=names.TABLE_NAME,
            KeySchema=[{"AttributeName": names.TABLE_PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": names.TABLE_PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    ddb.update_time_to_live(
        TableName=names.TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": names.TABLE_TTL_ATTRIBUTE},
    )


def _create_job_queues(sqs: Any, config: StackConfig) -> tuple[str, str, str]:
    """The jobs queue and its DLQ: (DLQ URL, queue URL, queue ARN)."""
    dlq_url = sqs.create_queue(
        QueueName=names.DLQ_NAME, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_DAYS * DAY_SECONDS)}
    )["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=names.QUEUE_NAME, Attributes=queue_attributes(config, _queue_arn(sqs, dlq_url))
    )["QueueUrl"]
    return dlq_url, queue_url, _queue_arn(sqs, queue_url)


def _create_drop_folder_notification(s3: Any, events: Any) -> str:
    """On AWS the bucket notifies the ingest Lambda; moto cannot invoke Lambdas, so locally the
    notification goes to a queue (on the S3 server) and the runtime hands each S3 event to the
    ingest handler. The queue's URL."""
    ingest_url = events.create_queue(QueueName=names.LOCAL_INGEST_EVENTS_QUEUE_NAME)["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=names.BUCKET_NAME,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": _queue_arn(events, ingest_url),
                    "Events": [INGEST_S3_EVENT],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": names.PREFIX_INCOMING}]}},
                }
            ]
        },
    )
    return str(ingest_url)


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Messages in a queue, waiting or in flight. Two requests, in-flight first: within one request
    moto counts the visible messages before the in-flight ones, so a message whose visibility
    timeout ran out in between was counted in neither (an empty queue that was not). A message
    only turns visible by itself, so counted in flight first, then visible, it is counted once."""
    return sum(
        int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])["Attributes"][name])
        for name in ("ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages")
    )


def provision_notifications(
    endpoint: str, config: StackConfig | None = None, webhook_secret: str | None = None
) -> dict[str, str]:
    """The bus, its job-end rule → the notify queue (+ DLQ by redrive), and the signing secret
    (``webhook_secret``, or a random one, when it is created), as ``infra/notifications.py``
    defines them from the same config. Idempotent."""
    config = config or StackConfig.from_cdk_json()
    import secrets

    session = local_session()
    sqs = session.client("sqs", endpoint_url=endpoint)
    events = session.client("events", endpoint_url=endpoint)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)

    dlq_url = sqs.create_queue(
        QueueName=names.NOTIFY_DLQ_NAME,
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_DAYS * DAY_SECONDS)},
    )["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=names.NOTIFY_QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(6 * config.notify_function_timeout_seconds),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_DAYS * DAY_SECONDS),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
                    "maxReceiveCount": str(names.NOTIFY_MAX_RECEIVE_COUNT),
                }
            ),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=names.EVENT_BUS_NAME)
    from facesvg.names import DETAIL_TYPES, EVENT_SOURCE

    events.put_rule(
        Name=names.NOTIFY_RULE_NAME,
        EventBusName=names.EVENT_BUS_NAME,
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}),
    )
    events.put_targets(
        Rule=names.NOTIFY_RULE_NAME,
        EventBusName=names.EVENT_BUS_NAME,
        Targets=[{"Id": "notify-queue", "Arn": queue_arn}],
    )
    try:
        secretsmanager.describe_secret(SecretId=names.WEBHOOK_SECRET_NAME)
    except secretsmanager.exceptions.ResourceNotFoundException:
        secretsmanager.create_secret(
            Name=names.WEBHOOK_SECRET_NAME, SecretString=webhook_secret or secrets.token_urlsafe(32)
        )
    return {
        "event_bus": names.EVENT_BUS_NAME,
        "notify_queue_url": queue_url,
        "notify_queue_arn": queue_arn,
        "notify_dlq_url": dlq_url,
        "webhook_secret_id": names.WEBHOOK_SECRET_NAME,
    }


def local_secret(endpoint: str, secret_id: str = names.WEBHOOK_SECRET_NAME) -> str:
    client = local_session().client("secretsmanager", endpoint_url=endpoint)
    return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
