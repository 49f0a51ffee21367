"""moto's server on loopback, and the same resources the CDK stack defines (names from
``facesvg.names``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from facesvg import names

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; these make sure nothing local ever signs with real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
QUEUE_VISIBILITY_SECONDS = 60


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _speed_up_moto() -> None:
    """moto's server lists its own package directory on every request to route it (~2 ms of
    filesystem calls, a good share of a small request). The listing never changes while the
    process runs, so remember it. Local runtime only; harmless if moto changes its internals."""
    try:
        from moto import backends
    except ImportError:  # pragma: no cover
        return
    original = getattr(backends, "list_of_moto_modules", None)
    if original is None or getattr(original, "_facesvg_cached", False):
        return
    modules = tuple(original())

    def cached() -> tuple[str, ...]:
        return modules

    cached._facesvg_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = cached


_ddb_write_lock = threading.RLock()


def _isolate_moto_dynamodb_writes() -> None:
    """DynamoDB isolates a transaction from other writes; moto's server does not: a transaction
    copies the whole table and, if a condition fails, puts the copy back — undoing every write other
    threads made meanwhile (a worker's claim lost to a concurrent duplicate submit's failed
    transaction). Serialise moto's DynamoDB writes so the emulator keeps DynamoDB's guarantee.
    Local runtime only; harmless if moto changes its internals."""
    try:
        from moto.dynamodb.models import DynamoDBBackend
    except ImportError:  # pragma: no cover
        return
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_facesvg_locked", False):
            continue

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _ddb_write_lock:
                return __original(self, *args, **kwargs)

        locked._facesvg_locked = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)


class MotoServer:
    """``ThreadedMotoServer`` bound to 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        _speed_up_moto()
        _isolate_moto_dynamodb_writes()
        # werkzeug logs every request moto serves; keep that out of the console.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@dataclass(frozen=True)
class LocalResources:
    endpoint: str
    bucket: str
    table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    ingest_queue_url: str

    def function_environment(self) -> dict[str, str]:
        """The environment the CDK stack gives the functions, pointed at moto."""
        return {
            names.ENV_ENDPOINT_URL: self.endpoint,
            names.ENV_BUCKET: self.bucket,
            names.ENV_TABLE: self.table,
            names.ENV_QUEUE_URL: self.queue_url,
            names.ENV_MAX_RECEIVE_COUNT: str(names.MAX_RECEIVE_COUNT),
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            **LOCAL_CREDENTIALS,
        }


def local_clients(endpoint: str) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    )
    return {svc: session.client(svc, endpoint_url=endpoint) for svc in ("s3", "sqs", "dynamodb")}


def provision(endpoint: str) -> LocalResources:
    """Create the bucket, table (with TTL), queue + DLQ (redrive) and the drop-folder notification.

    Idempotent: safe to run against a server that already has them.
    """
    c = local_clients(endpoint)
    s3, sqs, ddb = c["s3"], c["sqs"], c["dynamodb"]

    s3.create_bucket(Bucket=names.BUCKET_NAME)

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

    dlq_url = sqs.create_queue(QueueName=names.DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=names.QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(names.MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    # On AWS the bucket notifies the ingest Lambda; moto cannot invoke Lambdas, so locally the
    # notification goes to a queue and the runtime hands each S3 event to the ingest handler.
    ingest_url = sqs.create_queue(QueueName=names.LOCAL_INGEST_EVENTS_QUEUE_NAME)["QueueUrl"]
    ingest_arn = sqs.get_queue_attributes(QueueUrl=ingest_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=names.BUCKET_NAME,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": ingest_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": names.PREFIX_INCOMING}]}},
                }
            ]
        },
    )
    return LocalResources(
        endpoint=endpoint,
        bucket=names.BUCKET_NAME,
        table=names.TABLE_NAME,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        ingest_queue_url=ingest_url,
    )


def apply_environment(env: dict[str, str]) -> None:
    """Set the functions' environment in this process (the handlers run in-process)."""
    os.environ.update(env)
