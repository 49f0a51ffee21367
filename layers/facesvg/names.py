"""One source of names shared by the code, the local runtime and the CDK stack.

Nothing here reads the environment: these are the defaults and the *names* of the environment
variables. ``facesvg.service.settings`` reads the values once.
"""

from __future__ import annotations

SERVICE_NAME = "facesvg"
METRICS_NAMESPACE = "FaceSvg"

# Job-end events on the event bus (facesvg.service.notify publishes them, the stack's rule matches them).
EVENT_SOURCE = "facesvg"
JOB_COMPLETED = "JobCompleted"
JOB_FAILED = "JobFailed"
DETAIL_TYPES = (JOB_COMPLETED, JOB_FAILED)

# Set in every function's environment besides the settings (infra.functions; make bench-cold uses
# the same): pydantic scans every installed distribution's entry points for plugins when it builds
# its first model (~9 ms of a cold start); facesvg uses none.
RUNTIME_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

# Resource names used by the local runtime; the CDK stack lets CloudFormation name real ones and
# passes them to the functions through the environment variables below.
BUCKET_NAME = "facesvg-local-data"
TABLE_NAME = "facesvg-local-jobs"
QUEUE_NAME = "facesvg-local-jobs"
DLQ_NAME = "facesvg-local-jobs-dlq"

# DynamoDB key and attribute names (single table: job items and hash-keyed cache items).
TABLE_PARTITION_KEY = "pk"
TABLE_TTL_ATTRIBUTE = "expires_at"

# S3 key prefixes.
PREFIX_INPUTS = "inputs/"
PREFIX_RESULTS = "results/"
PREFIX_INCOMING = "incoming/"

# Environment variables read by the functions (facesvg.service.settings is the only reader).
ENV_BUCKET = "FACESVG_BUCKET"
ENV_TABLE = "FACESVG_TABLE"
ENV_QUEUE_URL = "FACESVG_QUEUE_URL"
ENV_ARTIFICIAL_DELAY = "ARTIFICIAL_DELAY_SECONDS"
ENV_LOAD_TEST_MODE = "LOAD_TEST_MODE"
ENV_PRESIGN_SECONDS = "FACESVG_PRESIGN_SECONDS"
ENV_JOB_TTL_DAYS = "FACESVG_JOB_TTL_DAYS"
ENV_MAX_PIXELS = "FACESVG_MAX_PIXELS"
ENV_MAX_BODY_BYTES = "FACESVG_MAX_BODY_BYTES"
ENV_ENDPOINT_URL = "AWS_ENDPOINT_URL"  # standard boto3 variable: moto, LocalStack or unset for AWS
ENV_ENDPOINT_URL_S3 = "AWS_ENDPOINT_URL_S3"  # boto3's per-service override (the local S3 server)

# API routes: the original service's family and the QOVES spec's family, same behaviour.
ROUTE_PREFIXES = ("/api/v1", "/api/v1/frontal/crop")
SUBMIT_PATH = "/submit"
STATUS_PATH = "/status/{id}"

# Local runtime ports (loopback only).
LOCAL_API_PORT = 3000
LOCAL_AWS_PORT = 3001  # moto: DynamoDB and SQS (AWS_ENDPOINT_URL); fixed, so exports survive a restart
LOCAL_S3_PORT = 3002  # moto: S3 (AWS_ENDPOINT_URL_S3); fixed, so presigned URLs survive a restart
LOCAL_METRICS_PORT = 9100
# `facesvg run`'s state (jobs, objects, messages) and its addresses (endpoints.json), relative to
# the working directory; gitignored.
LOCAL_DATA_DIR = ".facesvg"
LOCAL_ENDPOINTS_FILE = "endpoints.json"
# The ports a data directory's stack was last started with (a restart without flags reuses them).
LOCAL_PORTS_FILE = "ports.json"

# --- asynchronous path (service/ and local/) ---------------------------------------------------
# DynamoDB item kinds share the table; the partition key value is "<PREFIX><id>".
JOB_KEY_PREFIX = "JOB#"
CACHE_KEY_PREFIX = "HASH#"  # HASH#<content hash>#<client scope>: one job per client and content
DROP_KEY_PREFIX = "DROP#"  # DROP#<name>: a drop folder's current set and its publish lease
RENDER_KEY_PREFIX = "RENDER#"  # RENDER#<content hash>: a finished render, reused by every client

# SQS: receives before a message moves to the DLQ (the redrive policy's maxReceiveCount). The
# process function reads the same number to mark a job failed on its last attempt.
MAX_RECEIVE_COUNT = 3
ENV_MAX_RECEIVE_COUNT = "FACESVG_MAX_RECEIVE_COUNT"
# How long a worker owns a job it is rendering (keep it <= the queue's visibility timeout).
ENV_LEASE_SECONDS = "FACESVG_LEASE_SECONDS"

# Swagger UI and the OpenAPI document (served by the status function: GET, read-only).
SWAGGER_PATH = "/swagger"  # Swagger UI; ?format=json: the OpenAPI document
DOCS_PATH = "/docs"  # Swagger UI, where FastAPI services serve it
REDOC_PATH = "/redoc"  # ReDoc
OPENAPI_PATH = "/openapi.json"  # the OpenAPI document
DOCS_PATHS = (SWAGGER_PATH, DOCS_PATH, REDOC_PATH, OPENAPI_PATH)

# Drop folder: incoming/<name>/<file>; <name> must match this pattern (no path tricks).
INGEST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

# Local runtime only: S3 drop-folder notifications go to this queue and the runtime hands the S3
# event to the ingest handler (on AWS the bucket notifies the ingest Lambda directly).
LOCAL_INGEST_EVENTS_QUEUE_NAME = "facesvg-local-ingest-events"
# A pending job whose message may have been lost (the submit died between the DynamoDB write and
# the SQS send) is enqueued again by an identical submit after this many seconds.
ENV_REQUEUE_PENDING_SECONDS = "FACESVG_REQUEUE_PENDING_SECONDS"
# Browser origin allowed to call the API from another origin (the viewer on its own host); empty
# means no CORS headers (same-origin use only).
ENV_CORS_ALLOW_ORIGIN = "FACESVG_CORS_ALLOW_ORIGIN"
# Where the functions send their EMF metric records instead of stdout (``udp://127.0.0.1:<port>``):
# set by the local runtime to its Prometheus exporter; unset in Lambda (stdout → CloudWatch Logs).
ENV_EMF_ENDPOINT = "FACESVG_EMF_ENDPOINT"

# --- notifications (service/notify.py, infra/notifications.py, the local runtime) -----------------
# The event bus job-end events go to, the webhook delivery queue + DLQ, and the signing secret.
# Like the other resources, the CDK stack lets CloudFormation name the real ones.
EVENT_BUS_NAME = "facesvg-local-events"
NOTIFY_RULE_NAME = "facesvg-local-job-ended"
NOTIFY_QUEUE_NAME = "facesvg-local-notify"
NOTIFY_DLQ_NAME = "facesvg-local-notify-dlq"
WEBHOOK_SECRET_NAME = "facesvg-local-webhook-secret"  # noqa: S105 (a name, not a secret)
# Delivery attempts before a webhook message moves to the notify DLQ (the redrive policy's
# maxReceiveCount); the notify function reads the same number to stop backing off.
NOTIFY_MAX_RECEIVE_COUNT = 6
ENV_EVENT_BUS = "FACESVG_EVENT_BUS"
ENV_NOTIFY_QUEUE_URL = "FACESVG_NOTIFY_QUEUE_URL"
ENV_WEBHOOK_SECRET_ID = "FACESVG_WEBHOOK_SECRET_ID"  # noqa: S105 (a variable name)
ENV_NOTIFY_MAX_ATTEMPTS = "FACESVG_NOTIFY_MAX_ATTEMPTS"
ENV_NOTIFY_BACKOFF_SECONDS = "FACESVG_NOTIFY_BACKOFF_SECONDS"  # base of the exponential backoff
ENV_NOTIFY_TIMEOUT_SECONDS = "FACESVG_NOTIFY_TIMEOUT_SECONDS"
# Operator settings, off on AWS, on in the local stack: plain-HTTP and loopback callback URLs.
ENV_CALLBACK_ALLOW_HTTP = "FACESVG_CALLBACK_ALLOW_HTTP"
ENV_CALLBACK_ALLOW_LOOPBACK = "FACESVG_CALLBACK_ALLOW_LOOPBACK"
