"""moto's server on loopback, and the same resources the CDK stack defines (names from
``facesvg.names``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from facesvg import names
from facesvg.local import moto_patches

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


class MotoServer:
    """``ThreadedMotoServer`` bound to 127.0.0.1 (a free port unless one is given).

    By default it runs in a process of its own (``python -m facesvg.local.aws``): moto parses and
    hashes every S3 body in Python, and sharing a GIL with the API and the event sources made the
    emulator, not the service, the bottleneck (a job's ~17 result objects). ``in_process=True``
    keeps it in this process (one interpreter, e.g. under a debugger).
    """

    def __init__(self, port: int | None = None, in_process: bool = False) -> None:
        self.requested_port = port or 0  # 0: the server binds any free port and reports it
        self.port = self.requested_port
        self.in_process = in_process
        self._server: Any = None
        self._proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        if self.requested_port:
            _check_free(self.requested_port)  # a taken port is an error, not a hang in moto's start()
        if self.in_process:
            self.port = self.requested_port or free_port()
            self._server = _threaded_server(self.port)
            self._server.start()
            return
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "facesvg.local.aws", str(self.requested_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
        line = self._proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            exit_code = self._proc.poll()
            self.stop()
            raise RuntimeError(f"moto's server did not start (exit {exit_code})")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the server process exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _threaded_server(port: int) -> Any:
    from moto.server import ThreadedMotoServer

    moto_patches.apply()
    # werkzeug logs every request moto serves; keep that out of the console.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


def _check_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))  # OSError(EADDRINUSE) when taken


def serve(port: int) -> int:
    """The server process: serve until stdin closes (the parent stopped, or died). Port 0 binds
    any free port; the first line on stdout is ``ready <port>``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent stops us
    server = _threaded_server(port)
    server.start()
    print(f"ready {server.get_host_and_port()[1]}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


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
    # Notifications (on the DynamoDB/SQS endpoint: moto delivers the bus's events to the queue).
    event_bus: str = ""
    notify_queue_url: str = ""
    notify_queue_arn: str = ""
    notify_dlq_url: str = ""
    webhook_secret_id: str = ""

    def function_environment(self) -> dict[str, str]:
        """The environment the CDK stack gives the functions, pointed at moto."""
        return {
            names.ENV_EVENT_BUS: self.event_bus,
            names.ENV_NOTIFY_QUEUE_URL: self.notify_queue_url,
            names.ENV_WEBHOOK_SECRET_ID: self.webhook_secret_id,
            names.ENV_NOTIFY_MAX_ATTEMPTS: str(names.NOTIFY_MAX_RECEIVE_COUNT),
            # Local only: receivers on this machine (webhook-listen, tests) over plain HTTP.
            names.ENV_CALLBACK_ALLOW_HTTP: "true",
            names.ENV_CALLBACK_ALLOW_LOOPBACK: "true",
            names.ENV_ENDPOINT_URL: self.endpoint,
            names.ENV_ENDPOINT_URL_S3: self.s3_endpoint,
            names.ENV_BUCKET: self.bucket,
            names.ENV_TABLE: self.table,
            names.ENV_QUEUE_URL: self.queue_url,
            names.ENV_MAX_RECEIVE_COUNT: str(names.MAX_RECEIVE_COUNT),
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            **LOCAL_CREDENTIALS,
        }


def local_clients(endpoint: str, s3_endpoint: str | None = None) -> dict[str, Any]:
    """boto3 clients for the local stack: ``s3``, ``sqs``, ``dynamodb``, and ``s3_events`` (SQS on
    the S3 server, where the bucket's notifications are queued)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    )
    s3_endpoint = s3_endpoint or endpoint
    return {
        "s3": session.client("s3", endpoint_url=s3_endpoint),
        "sqs": session.client("sqs", endpoint_url=endpoint),
        "dynamodb": session.client("dynamodb", endpoint_url=endpoint),
        "s3_events": session.client("sqs", endpoint_url=s3_endpoint),
    }


def provision(endpoint: str, s3_endpoint: str | None = None) -> LocalResources:
    """Create the bucket, table (with TTL), queue + DLQ (redrive) and the drop-folder notification.

    Idempotent: safe to run against servers that already have them. S3 may live on a server of
    its own (``s3_endpoint``); its notification queue then lives there too, as moto delivers
    notifications inside one server.
    """
    s3_endpoint = s3_endpoint or endpoint
    c = local_clients(endpoint, s3_endpoint)
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
    events = c["s3_events"]
    ingest_url = events.create_queue(QueueName=names.LOCAL_INGEST_EVENTS_QUEUE_NAME)["QueueUrl"]
    ingest_arn = events.get_queue_attributes(QueueUrl=ingest_url, AttributeNames=["QueueArn"])["Attributes"][
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
    notify = provision_notifications(endpoint)
    return LocalResources(
        endpoint=endpoint,
        s3_endpoint=s3_endpoint,
        bucket=names.BUCKET_NAME,
        table=names.TABLE_NAME,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        ingest_queue_url=ingest_url,
        **notify,
    )


NOTIFY_VISIBILITY_SECONDS = 30


def provision_notifications(endpoint: str) -> dict[str, str]:
    """The bus, its job-end rule → the notify queue (+ DLQ by redrive), and the signing secret, as
    ``infra/notifications.py`` defines them. Idempotent."""
    import secrets

    import boto3

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    )
    sqs = session.client("sqs", endpoint_url=endpoint)
    events = session.client("events", endpoint_url=endpoint)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)

    def arn_of(url: str) -> str:
        return str(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    dlq_url = sqs.create_queue(
        QueueName=names.NOTIFY_DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=names.NOTIFY_QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(NOTIFY_VISIBILITY_SECONDS),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": arn_of(dlq_url),
                    "maxReceiveCount": str(names.NOTIFY_MAX_RECEIVE_COUNT),
                }
            ),
        },
    )["QueueUrl"]
    queue_arn = arn_of(queue_url)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=names.EVENT_BUS_NAME)
    from facesvg.service.notify import DETAIL_TYPES, EVENT_SOURCE

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
        secretsmanager.create_secret(Name=names.WEBHOOK_SECRET_NAME, SecretString=secrets.token_urlsafe(32))
    return {
        "event_bus": names.EVENT_BUS_NAME,
        "notify_queue_url": queue_url,
        "notify_queue_arn": queue_arn,
        "notify_dlq_url": dlq_url,
        "webhook_secret_id": names.WEBHOOK_SECRET_NAME,
    }


def local_secret(endpoint: str, secret_id: str = names.WEBHOOK_SECRET_NAME) -> str:
    import boto3

    client = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    ).client("secretsmanager", endpoint_url=endpoint)
    return str(client.get_secret_value(SecretId=secret_id)["SecretString"])


def apply_environment(env: dict[str, str]) -> None:
    """Set the functions' environment in this process (the handlers run in-process)."""
    os.environ.update(env)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
