"""Notifications: the job-end event bus, its rule → the notify queue (+ DLQ), the webhook signing
secret and the notify function (docs/notifications.md).

Two phases, because every function's environment names these resources: ``Notifications(...)``
creates the bus, queues and secret (``resources`` feeds ``function_environment``), then
``add_function(...)`` creates the notify function and grants each function exactly its part:

==========  ==================================================================================
process     events:PutEvents on this bus (the job-end event)
submit      sqs:SendMessage on the notify queue (a caller of a job that already ended)
notify      consume + send on the notify queue (fan-out, backoff), read the secret, read/write
            the table (callbacks, delivery log), read ``results/`` (presigned result URLs)
==========  ==================================================================================
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from facesvg import names
from facesvg.names import DETAIL_TYPES, EVENT_SOURCE

from infra.config import StackConfig
from infra.functions import zip_function
from infra.nag import acknowledge
from infra.storage import Storage, queue_with_dlq


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.bus = events.EventBus(
            self, "EventBus", description="facesvg job-end events (JobCompleted, JobFailed)"
        )
        self.queue, self.dlq = queue_with_dlq(
            self, "Notify", 6 * config.notify_function_timeout_seconds, names.NOTIFY_MAX_RECEIVE_COUNT
        )
        self.rule = events.Rule(
            self,
            "JobEndedRule",
            event_bus=self.bus,
            description="facesvg job ends → the webhook delivery queue",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=list(DETAIL_TYPES)),
            targets=[targets.SqsQueue(self.queue)],
        )
        self.secret = secretsmanager.Secret(
            self,
            "WebhookSecret",
            description="facesvg webhook signing secret (HMAC-SHA256; one per stack)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "The webhook signing secret is shared with the receivers, who must accept a new value before "
            "the old one stops: it is rotated by hand (put a new value; the notify function picks it up "
            "within 5 minutes), as docs/notifications.md describes, not by a rotation Lambda.",
        )
        self.notify: lambda_.Function | None = None

    @property
    def resources(self) -> dict[str, str]:
        """Settings field → value, for ``function_environment``."""
        return {
            "event_bus": self.bus.event_bus_name,
            "notify_queue_url": self.queue.queue_url,
            "webhook_secret_id": self.secret.secret_arn,
        }

    def add_function(
        self,
        *,
        storage: Storage,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        process: lambda_.IFunction,
        submit: lambda_.IFunction,
    ) -> lambda_.Function:
        config = self.config
        self.notify = zip_function(
            self,
            "NotifyFunction",
            name="notify",
            layer=layer,
            environment=environment,
            config=config,
            memory_mb=config.notify_function_memory_mb,
            timeout_seconds=config.notify_function_timeout_seconds,
            description="facesvg notify: job-end events -> signed webhook deliveries (retries, DLQ)",
        )
        self.notify.add_event_source(
            event_sources.SqsEventSource(
                self.queue, batch_size=config.notify_batch_size, report_batch_item_failures=True
            )
        )
        self.queue.grant_send_messages(self.notify)  # an event → one delivery message per caller
        self.secret.grant_read(self.notify)
        storage.table.grant_read_write_data(self.notify)  # callbacks; DELIVERY# items
        storage.grant_objects(self.notify, read=[names.PREFIX_RESULTS])  # presigned result URLs

        self.bus.grant_put_events_to(process)
        self.queue.grant_send_messages(submit)
        return self.notify
