"""Processing: the process function (container image, fed by SQS) and ingest (S3 drop folder).

Data flows one way: ``incoming/`` → ingest → ``inputs/`` + job item + queue → process →
``results/`` + job item. Permissions are CDK grants scoped to the key prefixes each function
touches (see the table in ``docs/deploy.md``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct
from facesvg import names

from infra.config import StackConfig
from infra.functions import acknowledge_xray, log_group, zip_function
from infra.layer import ARCHITECTURE, LAMBDA_PACKAGE_PARTS, REPO_ROOT
from infra.storage import Storage

PROCESS_DOCKERFILE = "functions/process/Dockerfile"
# The image's build context is the repo root, reduced to what the Dockerfile COPYs (an allow-list,
# Docker-ignore syntax), so edits elsewhere neither bloat the context nor change the image hash.
# tests/infra checks every COPY source of the Dockerfile is in the staged context, and that the
# context holds only the package parts Lambda runs (no local/, commands/, cli.py).
IMAGE_CONTEXT_EXCLUDE = [
    "*",
    "!pyproject.toml",
    *(f"!layers/facesvg/{part}" for part in LAMBDA_PACKAGE_PARTS),
    "!functions/process",
    "**/__pycache__",
    "**/*.pyc",
    "**/*.egg-info",
]


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        bucket, table, queue = storage.bucket, storage.table, storage.queue

        self.process = lambda_.DockerImageFunction(
            self,
            "ProcessFunction",
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=PROCESS_DOCKERFILE,
                exclude=IMAGE_CONTEXT_EXCLUDE,
                ignore_mode=cdk.IgnoreMode.DOCKER,
                platform=cdk.aws_ecr_assets.Platform.LINUX_AMD64,
            ),
            architecture=ARCHITECTURE,
            memory_size=config.process_memory_mb,
            timeout=cdk.Duration.seconds(config.process_timeout_seconds),
            reserved_concurrent_executions=config.process_reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            log_group=log_group(self, "ProcessFunctionLogs", config),
            description="facesvg process: render one job from SQS (container image with the render core)",
        )
        acknowledge_xray(self.process)
        self.process.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=config.process_batch_size,
                report_batch_item_failures=True,
                max_concurrency=config.process_max_concurrency,
            )
        )
        # process: reads inputs/, writes results/ (and publishes copies under results/<name>/).
        storage.grant_objects(
            self.process,
            read=[names.PREFIX_INPUTS, names.PREFIX_RESULTS],
            put=[names.PREFIX_RESULTS],
            delete=[names.PREFIX_RESULTS],
        )
        table.grant_read_write_data(self.process)

        self.ingest = zip_function(
            self,
            "IngestFunction",
            name="ingest",
            layer=layer,
            environment=environment,
            config=config,
            memory_mb=config.ingest_memory_mb,
            timeout_seconds=config.ingest_timeout_seconds,
            description="facesvg ingest: incoming/<name>/ drop folder -> job",
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(self.ingest),
            s3.NotificationKeyFilter(prefix=names.PREFIX_INCOMING),
        )
        # ingest: reads incoming/, writes inputs/, enqueues; publishes job.json / error.json and
        # copies of finished results under results/<name>/.
        storage.grant_objects(
            self.ingest,
            read=[names.PREFIX_INCOMING, names.PREFIX_RESULTS],
            put=[names.PREFIX_INPUTS, names.PREFIX_RESULTS],
            delete=[names.PREFIX_RESULTS],
        )
        table.grant_read_write_data(self.ingest)
        queue.grant_send_messages(self.ingest)
