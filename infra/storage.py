"""Storage: the data bucket, the single jobs/cache table, the jobs queue and its dead-letter queue."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from facesvg import names

from infra.config import DLQ_RETENTION_DAYS, QUEUE_RETENTION_DAYS, StackConfig
from infra.nag import acknowledge


def queue_with_dlq(
    scope: Construct, prefix: str, visibility_seconds: int, max_receive_count: int
) -> tuple[sqs.Queue, sqs.Queue]:
    """``<prefix>Queue`` and its ``<prefix>Dlq``: SSE-SQS (EventBridge can deliver to it; an
    AWS-managed KMS key would refuse it), TLS only, the stack's retention periods."""
    dlq = sqs.Queue(
        scope,
        f"{prefix}Dlq",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(DLQ_RETENTION_DAYS),
    )
    queue = sqs.Queue(
        scope,
        f"{prefix}Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=cdk.Duration.seconds(visibility_seconds),
        retention_period=cdk.Duration.days(QUEUE_RETENTION_DAYS),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
    )
    return queue, dlq


def _data_lifecycle(config: StackConfig) -> list[s3.LifecycleRule]:
    """The data bucket's expiry rules: inputs/ and incoming/ always, results/ when configured."""
    lifecycle = [
        s3.LifecycleRule(
            id="expire-inputs",
            prefix=names.PREFIX_INPUTS,
            expiration=cdk.Duration.days(config.inputs_expiration_days),
        ),
        s3.LifecycleRule(
            id="expire-incoming",
            prefix=names.PREFIX_INCOMING,
            expiration=cdk.Duration.days(config.incoming_expiration_days),
        ),
        s3.LifecycleRule(
            id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
        ),
    ]
    if config.results_expiration_days is not None:
        lifecycle.append(
            s3.LifecycleRule(
                id="expire-results",
                prefix=names.PREFIX_RESULTS,
                expiration=cdk.Duration.days(config.results_expiration_days),
            )
        )
    if config.versioned:
        lifecycle.append(
            s3.LifecycleRule(id="expire-noncurrent", noncurrent_version_expiration=cdk.Duration.days(30))
        )
    return lifecycle


class Storage(Construct):
    """S3 (inputs/, results/, incoming/), DynamoDB (job and hash-keyed cache items), SQS + DLQ."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY

        self.access_logs = self._build_access_logs(config, removal)
        lifecycle = _data_lifecycle(config)
        self.bucket = s3.Bucket(
            self,
            "Data",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=config.versioned,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=lifecycle,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data/",
            removal_policy=removal,
            auto_delete_objects=not config.retain_data,
        )

        self.table = dynamodb.Table(
            self,
            "Jobs",
            partition_key=dynamodb.Attribute(
                name=names.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=names.TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal,
        )

        self.queue, self.dlq = queue_with_dlq(
            self, "Jobs", config.visibility_timeout_seconds, config.max_receive_count
        )

    def _build_access_logs(self, config: StackConfig, removal: cdk.RemovalPolicy) -> s3.Bucket:
        # Server access logs of the data bucket. The log bucket itself cannot log to itself.
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=cdk.Duration.days(90))],
            removal_policy=removal,
            auto_delete_objects=not config.retain_data,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This is the server-access-log bucket of the data bucket; logging it would recurse.",
        )
        return access_logs

    def grant_objects(
        self,
        grantee: iam.IGrantable,
        *,
        read: Sequence[str] = (),
        put: Sequence[str] = (),
        delete: Sequence[str] = (),
    ) -> None:
        """Grant object access under key prefixes only, and acknowledge the wildcards that implies.

        CDK's bucket grants use action groups (``s3:GetObject*``, ``s3:List*``, ``s3:Abort*``,
        ``s3:DeleteObject*``...) and the resources are ``<bucket>/<prefix>*``: the ``*`` is the key
        under a prefix the function owns, which is the whole point of scoping by prefix.
        """
        for prefix in read:
            self.bucket.grant_read(grantee, f"{prefix}*")
        for prefix in put:
            self.bucket.grant_put(grantee, f"{prefix}*")
        for prefix in delete:
            self.bucket.grant_delete(grantee, f"{prefix}*")
        if not isinstance(grantee, Construct):
            return
        stack = cdk.Stack.of(self)
        bucket_cfn = self.bucket.node.default_child
        assert isinstance(bucket_cfn, cdk.CfnElement)
        arn = f"<{stack.resolve(stack.get_logical_id(bucket_cfn))}.Arn>"
        reason = (
            "Object access is scoped to the key prefixes this function owns ({}); the wildcard is the "
            "object key below the prefix."
        )
        for prefix in dict.fromkeys([*read, *put, *delete]):
            acknowledge(grantee, f"AwsSolutions-IAM5[Resource::{arn}/{prefix}*]", reason.format(prefix))
        actions = []
        if read:
            actions += ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
        if put:
            actions += ["s3:Abort*"]
        if delete:
            actions += ["s3:DeleteObject*"]
        for action in actions:
            acknowledge(
                grantee,
                f"AwsSolutions-IAM5[Action::{action}]",
                f"{action} is the action group CDK's bucket grant uses; it is limited to this bucket and "
                "to the prefixes above (no s3:* and no other bucket).",
            )
