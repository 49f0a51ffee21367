"""The composition root: the job service wired to AWS (or whatever ``AWS_ENDPOINT_URL`` points
at), the adapters of ``facesvg.service.aws`` behind one process-wide ``JobService`` for the Lambda
handlers, and the notify function's ``Dispatcher``.

Building it reads the settings and nothing else: each boto3 client is built by its adapter on first
use, so importing a handler builds none.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from facesvg.service.aws.clients import LazyClient, client, forget_clients
from facesvg.service.aws.dynamo import DynamoJobRepository
from facesvg.service.aws.eventbridge import EventBridgePublisher
from facesvg.service.aws.s3 import S3BlobStore
from facesvg.service.aws.sqs import SqsJobQueue, SqsNotifyQueue
from facesvg.service.jobs import JobService
from facesvg.service.settings import Settings, get_settings

if TYPE_CHECKING:
    from facesvg.service.notify import Dispatcher

__all__ = [
    "build_dispatcher",
    "build_service",
    "client",
    "default_dispatcher",
    "default_service",
    "reset_caches",
]


def build_service(settings: Settings | None = None) -> JobService:
    settings = settings or get_settings()
    return JobService(
        jobs=DynamoJobRepository(LazyClient("dynamodb"), settings.table),
        blobs=S3BlobStore(LazyClient("s3"), settings.bucket),
        queue=SqsJobQueue(LazyClient("sqs"), settings.queue_url),
        settings=settings,
        events=EventBridgePublisher(LazyClient("events"), settings.event_bus) if settings.event_bus else None,
        notify_queue=(
            SqsNotifyQueue(LazyClient("sqs"), settings.notify_queue_url)
            if settings.notify_queue_url
            else None
        ),
    )


def build_dispatcher(settings: Settings | None = None) -> Dispatcher:
    """The notify function's rules wired to AWS (facesvg.service.notify; only the notify function
    imports the webhook code)."""
    from facesvg.service.aws.deliveries import DynamoDeliveryLog
    from facesvg.service.aws.secrets_manager import SecretsManagerSecret
    from facesvg.service.notify import Dispatcher

    settings = settings or get_settings()
    return Dispatcher(
        jobs=DynamoJobRepository(LazyClient("dynamodb"), settings.table),
        queue=SqsNotifyQueue(LazyClient("sqs"), settings.notify_queue_url),
        blobs=S3BlobStore(LazyClient("s3"), settings.bucket),
        secret=SecretsManagerSecret(LazyClient("secretsmanager"), settings.webhook_secret_id),
        log=DynamoDeliveryLog(LazyClient("dynamodb"), settings.table),
        policy=settings.url_policy,
        backoff_base_seconds=settings.notify_backoff_seconds,
        max_attempts=settings.notify_max_attempts,
        presign_seconds=settings.presign_seconds,
        ttl_seconds=settings.ttl_seconds,
        timeout_seconds=settings.notify_timeout_seconds,
    )


@lru_cache(maxsize=1)
def default_dispatcher() -> Dispatcher:
    return build_dispatcher()


@lru_cache(maxsize=1)
def default_service() -> JobService:
    """The process-wide service used by the Lambda handlers (built on first use)."""
    return build_service()


def reset_caches() -> None:
    """Forget cached settings, clients and service (the local runtime calls this after it has set
    the environment; tests call it between runtimes)."""
    get_settings.cache_clear()
    forget_clients()
    default_service.cache_clear()
    default_dispatcher.cache_clear()
