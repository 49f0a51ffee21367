"""`facesvg redrive`: move the messages of the jobs DLQ back to the jobs queue.

SQS's own ``StartMessageMoveTask`` is not available everywhere (moto, LocalStack), so this is the
plain receive → send → delete loop, bounded by ``--max-messages``. Before a job's message goes
back, a job that was marked ``failed/ProcessingFailed`` on its last attempt (not the caller's fault)
is reopened to ``pending`` with a conditional write, so the redriven message renders it; a job that
completed or failed on its inputs is left alone (its message is then a no-op). Messages that are not
job messages stay in the DLQ and are listed: they would only come back.

    AWS_ENDPOINT_URL=… facesvg redrive                     # the queue from FACESVG_QUEUE_URL / names
    facesvg redrive --queue-url https://sqs…/facesvg-jobs --table facesvg-jobs --dry-run
    facesvg redrive --notify                               # webhook deliveries: the notify DLQ

``--notify`` replays the webhook deliveries that exhausted their retries (the notify DLQ → the
notify queue, FACESVG_NOTIFY_QUEUE_URL): each comes back with a fresh set of attempts and the same
delivery id. Nothing is reopened.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from facesvg import names

RETRYABLE_CODES = ("ProcessingFailed",)  # = facesvg.service.submit.RETRYABLE_FAILURES


@dataclass
class RedriveReport:
    moved: list[str] = field(default_factory=list)  # job ids sent back to the queue
    reopened: list[str] = field(default_factory=list)  # failed/ProcessingFailed → pending
    invalid: list[str] = field(default_factory=list)  # message ids left in the DLQ

    def summary(self) -> str:
        return (
            f"moved {len(self.moved)} message(s) back ({len(self.reopened)} failed job(s) reopened); "
            f"{len(self.invalid)} message(s) that are not job messages left in the DLQ"
        )


def dlq_url_of(sqs: Any, queue_url: str) -> str:
    """The DLQ of a queue, from its redrive policy."""
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    if "RedrivePolicy" not in attrs:
        raise SystemExit(f"{queue_url} has no redrive policy (no DLQ)")
    arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
    account, name = arn.split(":")[-2:]
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _job_id(body: str) -> str | None:
    from facesvg.service.models import JobMessage

    try:
        return JobMessage.model_validate_json(body).job_id
    except ValueError:
        return None


def _delivery_id(body: str) -> str | None:
    """A notify-queue message's id: the delivery id, or the job id of a job-end event."""
    from facesvg.service.notify import Delivery, parse_notify_message

    try:
        message = parse_notify_message(body)
    except ValueError:
        return None
    return message.delivery_id if isinstance(message, Delivery) else str(message.get("detail", {}).get("id"))


def reopen_failed_job(dynamodb: Any, table: str, job_id: str, now_epoch: float | None = None) -> bool:
    """``failed`` with a retryable code → ``pending`` (conditional). False if the job is anything else."""
    from facesvg.service.clock import utc_now_iso

    now = utc_now_iso(time.time() if now_epoch is None else now_epoch)
    try:
        dynamodb.update_item(
            TableName=table,
            Key={names.TABLE_PARTITION_KEY: {"S": names.JOB_KEY_PREFIX + job_id}},
            UpdateExpression="SET #st = :pending, updated_at = :now "
            "REMOVE error_code, error_message, lease_token, lease_until, event_state, event_claim_until",
            ConditionExpression="#st = :failed AND error_code IN ("
            + ", ".join(f":c{i}" for i in range(len(RETRYABLE_CODES)))
            + ")",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":pending": {"S": "pending"},
                ":failed": {"S": "failed"},
                ":now": {"S": now},
                **{f":c{i}": {"S": code} for i, code in enumerate(RETRYABLE_CODES)},
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def redrive(
    sqs: Any,
    dynamodb: Any,
    queue_url: str,
    table: str,
    *,
    dlq_url: str | None = None,
    max_messages: int = 1000,
    reopen: bool = True,
    dry_run: bool = False,
    notify: bool = False,
) -> RedriveReport:
    """Move up to ``max_messages`` job messages from the DLQ back to ``queue_url``.

    At least once: each message is sent before it is deleted from the DLQ (a duplicate is harmless,
    processing is idempotent). Received messages stay invisible for 60 s, so one run sees each once.
    """
    dlq_url = dlq_url or dlq_url_of(sqs, queue_url)
    report = RedriveReport()
    seen = 0
    looked_at: list[dict[str, Any]] = []
    while seen < max_messages:
        out = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, max_messages - seen),
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        )
        messages = out.get("Messages", [])
        if not messages:
            break
        seen += len(messages)
        for message in messages:
            job_id = _delivery_id(message["Body"]) if notify else _job_id(message["Body"])
            if job_id is None:
                report.invalid.append(message["MessageId"])
                continue
            if dry_run:
                report.moved.append(job_id)
                continue
            if reopen and not notify and reopen_failed_job(dynamodb, table, job_id):
                report.reopened.append(job_id)
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            report.moved.append(job_id)
        if dry_run:
            looked_at.extend(messages)
    for message in looked_at:  # a dry run makes what it looked at visible again, once it is done
        sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queue-url",
        default=os.environ.get(names.ENV_QUEUE_URL, ""),
        help=f"jobs queue (default ${names.ENV_QUEUE_URL}, else the queue named {names.QUEUE_NAME})",
    )
    parser.add_argument("--dlq-url", default="", help="its DLQ (default: from the queue's redrive policy)")
    parser.add_argument(
        "--table",
        default=os.environ.get(names.ENV_TABLE, names.TABLE_NAME),
        help=f"jobs table (default ${names.ENV_TABLE} or {names.TABLE_NAME})",
    )
    parser.add_argument("--max-messages", type=int, default=1000, help="stop after this many (default 1000)")
    parser.add_argument(
        "--no-reopen", action="store_true", help="do not reopen jobs that failed with ProcessingFailed"
    )
    parser.add_argument("--dry-run", action="store_true", help="only count what would be moved")
    parser.add_argument(
        "--notify",
        action="store_true",
        help=f"replay dead-lettered webhook deliveries (the notify queue: ${names.ENV_NOTIFY_QUEUE_URL} "
        f"or {names.NOTIFY_QUEUE_NAME})",
    )


def main(args: argparse.Namespace) -> int:
    from facesvg.service.composition import client

    sqs, dynamodb = client("sqs"), client("dynamodb")
    notify = bool(getattr(args, "notify", False))
    if notify:
        queue_url = (
            os.environ.get(names.ENV_NOTIFY_QUEUE_URL)
            or sqs.get_queue_url(QueueName=names.NOTIFY_QUEUE_NAME)["QueueUrl"]
        )
    else:
        queue_url = args.queue_url or sqs.get_queue_url(QueueName=names.QUEUE_NAME)["QueueUrl"]
    report = redrive(
        sqs,
        dynamodb,
        queue_url,
        args.table,
        dlq_url=args.dlq_url or None,
        max_messages=args.max_messages,
        reopen=not args.no_reopen,
        dry_run=args.dry_run,
        notify=notify,
    )
    print(("[dry run] " if args.dry_run else "") + report.summary())
    for message_id in report.invalid:
        print(f"  left in the DLQ (not a job message): {message_id}")
    return 0


if __name__ == "__main__":  # `python -m facesvg.commands.redrive` (what `make redrive` runs)
    import sys

    _parser = argparse.ArgumentParser(prog="facesvg redrive", description=__doc__.splitlines()[0])
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
