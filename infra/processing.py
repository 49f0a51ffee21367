"""Processing: the process function (container image, fed by SQS) and ingest (S3 drop folder).

Data flows one way: ``incoming/`` → ingest → ``inputs/`` + job item + queue → process →
``results/`` + job item. Permissions are CDK grants scoped to the key prefixes each function
touches (see the table in ``docs/deploy.md``).
"""

from __future__ import annotations

from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct
from facesvg import names

from infra.config import StackConfig
from infra.functions import IMAGE_DOCKERFILE, image_function
from infra.storage import Storage

PROCESS_DOCKERFILE = IMAGE_DOCKERFILE


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        bucket, table, queue = storage.bucket, storage.table, storage.queue

        self.process = image_function(
            self,
            "ProcessFunction",
            name="process",
            environment=environment,
            config=config,
            memory_mb=config.process_memory_mb,
            timeout_seconds=config.process_timeout_seconds,
            reserved_concurrency=config.process_reserved_concurrency,
            description="facesvg process: render one job from SQS (container image with the render core)",
        )
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

        self.ingest = image_function(
            self,
            "IngestFunction",
            name="ingest",
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
