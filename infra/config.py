"""Operator settings of the stack: ``facesvg.stack_config`` (shared with the local runtime, which
must not import aws_cdk), re-exported here for the CDK app."""

from __future__ import annotations

from facesvg.stack_config import (
    CONTEXT_PREFIX,
    DEFAULT_API_CLIENT,
    DLQ_RETENTION_DAYS,
    INGEST_S3_EVENT,
    LAMBDA_UNZIPPED_LIMIT_MB,
    QUEUE_RETENTION_DAYS,
    ApiClient,
    StackConfig,
    context_keys,
)

__all__ = [
    "CONTEXT_PREFIX",
    "DEFAULT_API_CLIENT",
    "DLQ_RETENTION_DAYS",
    "INGEST_S3_EVENT",
    "LAMBDA_UNZIPPED_LIMIT_MB",
    "QUEUE_RETENTION_DAYS",
    "ApiClient",
    "StackConfig",
    "context_keys",
]
