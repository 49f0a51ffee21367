"""AWS access (S3, DynamoDB, SQS) behind the small interfaces of ``facesvg.service.jobs``.

The only module that imports boto3. Clients are created once per process and shared (boto3
clients are thread-safe); endpoints come from the standard ``AWS_ENDPOINT_URL`` (moto, LocalStack)
or default to AWS.

Table layout (single table, partition key ``pk``, no sort key):

=================  ==========================================================================
``JOB#<job id>``    kind=job, job_id, content_hash, status, created_at, updated_at, source,
                    attempts (N), lease_token, lease_until (N, epoch s), error_code,
                    error_message, result (JSON string, small: key prefix, region names,
                    transform), publish_to (SS, drop-folder names), expires_at (N, TTL)
``HASH#<sha256>``   kind=cache, job_id, created_at, expires_at (N, TTL)
=================  ==========================================================================
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from facesvg import names
from facesvg.service.jobs import JobService
from facesvg.service.models import Job, JobError, JobMessage, JobResult, JobStatus
from facesvg.service.settings import Settings, get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=64)
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))

_JOB = names.JOB_KEY_PREFIX
_CACHE = names.CACHE_KEY_PREFIX
_PK = names.TABLE_PARTITION_KEY
_TTL = names.TABLE_TTL_ATTRIBUTE
_TRANSACTION_ATTEMPTS = 5


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def job_from_item(item: dict[str, Any]) -> Job:
    error = None
    if "error_code" in item:
        error = JobError(code=item["error_code"]["S"], message=item.get("error_message", {}).get("S", ""))
    result = None
    if "result" in item:
        result = JobResult.model_validate_json(item["result"]["S"])
    return Job(
        job_id=item["job_id"]["S"],
        content_hash=item["content_hash"]["S"],
        status=JobStatus(item["status"]["S"]),
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        source=item.get("source", {}).get("S", "api"),
        attempts=int(item.get("attempts", {}).get("N", "0")),
        error=error,
        result=result,
        publish_to=frozenset(item.get("publish_to", {}).get("SS", [])),
    )


def job_to_item(job: Job, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        _PK: _s(_JOB + job.job_id),
        "kind": _s("job"),
        "job_id": _s(job.job_id),
        "content_hash": _s(job.content_hash),
        "status": _s(job.status.value),
        "created_at": _s(job.created_at),
        "updated_at": _s(job.updated_at),
        "source": _s(job.source),
        "attempts": _n(job.attempts),
        _TTL: _n(expires_at),
    }
    if job.publish_to:
        item["publish_to"] = {"SS": sorted(job.publish_to)}
    return item


@dataclass
class DynamoJobRepository:
    client: Any
    table: str

    def get_job(self, job_id: str) -> Job | None:
        item = self.client.get_item(TableName=self.table, Key={_PK: _s(_JOB + job_id)}, ConsistentRead=True)
        return job_from_item(item["Item"]) if "Item" in item else None

    def get_cached_job_id(self, content_hash: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={_PK: _s(_CACHE + content_hash)},
            ConsistentRead=True,
            ProjectionExpression="job_id",
        )
        return item["Item"]["job_id"]["S"] if "Item" in item else None

    def create_job(self, job: Job, expires_at: int, replace_job_id: str | None = None) -> str | None:
        cache_put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                _PK: _s(_CACHE + job.content_hash),
                "kind": _s("cache"),
                "job_id": _s(job.job_id),
                "created_at": _s(job.created_at),
                _TTL: _n(expires_at),
            },
        }
        if replace_job_id is None:
            cache_put["ConditionExpression"] = "attribute_not_exists(#pk)"
            cache_put["ExpressionAttributeNames"] = {"#pk": _PK}
        else:
            cache_put["ConditionExpression"] = "attribute_not_exists(#pk) OR job_id = :old"
            cache_put["ExpressionAttributeNames"] = {"#pk": _PK}
            cache_put["ExpressionAttributeValues"] = {":old": _s(replace_job_id)}
        job_put = {
            "TableName": self.table,
            "Item": job_to_item(job, expires_at),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": _PK},
        }
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=[{"Put": cache_put}, {"Put": job_put}])
                return None
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                if codes and codes[0] == "ConditionalCheckFailed":
                    holder = self.get_cached_job_id(job.content_hash)
                    if holder == job.job_id:
                        # The SDK retried a transaction whose first attempt committed (its answer
                        # was lost): the cache item is our own, so this submit did create the job.
                        return None
                    if holder is not None:
                        return holder
                elif "TransactionConflict" not in codes or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise
                # An identical submit's transaction is in flight on the same item: once it has
                # committed, the retry sees its cache item (ConditionalCheckFailed) and joins it.
                time.sleep(0.02 * (attempt + 1))
        raise RuntimeError("unreachable")

    def delete_created_job(self, job: Job) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {_PK: _s(_CACHE + job.content_hash)},
                        "ConditionExpression": "job_id = :id",
                        "ExpressionAttributeValues": {":id": _s(job.job_id)},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {_PK: _s(_JOB + job.job_id)},
                        "ConditionExpression": "#st = :pending",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {":pending": _s(JobStatus.PENDING.value)},
                    }
                },
            ]
        )

    def _update(self, job_id: str, **kwargs: Any) -> Job | None:
        try:
            out = self.client.update_item(
                TableName=self.table, Key={_PK: _s(_JOB + job_id)}, ReturnValues="ALL_NEW", **kwargs
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return job_from_item(out["Attributes"])

    def claim(self, job_id: str, token: str, now: str, now_epoch: float, lease_until: float) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="SET #st = :processing, lease_token = :t, lease_until = :lu, updated_at = :now "
            "ADD attempts :one",
            ConditionExpression="attribute_exists(#pk) AND (#st = :pending OR (#st = :processing AND "
            "(attribute_not_exists(lease_until) OR lease_until < :now_epoch)))",
            ExpressionAttributeNames={"#st": "status", "#pk": _PK},
            ExpressionAttributeValues={
                ":processing": _s(JobStatus.PROCESSING.value),
                ":pending": _s(JobStatus.PENDING.value),
                ":t": _s(token),
                ":lu": _n(float(lease_until)),
                ":now": _s(now),
                ":now_epoch": _n(float(now_epoch)),
                ":one": _n(1),
            },
        )

    def release(self, job_id: str, token: str, now: str) -> None:
        self._update(
            job_id,
            UpdateExpression="SET lease_until = :zero, updated_at = :now",
            ConditionExpression="#st = :processing AND lease_token = :t",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":processing": _s(JobStatus.PROCESSING.value),
                ":t": _s(token),
                ":zero": _n(0),
                ":now": _s(now),
            },
        )

    def _finish(
        self, job_id: str, token: str, now: str, status: JobStatus, sets: dict[str, Any]
    ) -> Job | None:
        assignments = ", ".join(f"#a_{name} = :{name}" for name in sets)  # names may be reserved words
        return self._update(
            job_id,
            UpdateExpression=(
                f"SET #st = :status, updated_at = :now, {assignments} REMOVE lease_token, lease_until"
            ),
            ConditionExpression="#st = :processing AND lease_token = :t",
            ExpressionAttributeNames={"#st": "status", **{f"#a_{name}": name for name in sets}},
            ExpressionAttributeValues={
                ":status": _s(status.value),
                ":processing": _s(JobStatus.PROCESSING.value),
                ":t": _s(token),
                ":now": _s(now),
                **{f":{name}": value for name, value in sets.items()},
            },
        )

    def complete(self, job_id: str, token: str, result: JobResult, now: str) -> Job | None:
        return self._finish(job_id, token, now, JobStatus.COMPLETED, {"result": _s(result.model_dump_json())})

    def fail(self, job_id: str, token: str, error: JobError, now: str) -> Job | None:
        return self._finish(
            job_id,
            token,
            now,
            JobStatus.FAILED,
            {"error_code": _s(error.code), "error_message": _s(error.message[:1000])},
        )

    def touch_pending(self, job_id: str, seen_updated_at: str, now: str) -> bool:
        return (
            self._update(
                job_id,
                UpdateExpression="SET updated_at = :now",
                ConditionExpression="#st = :pending AND updated_at = :seen",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":pending": _s(JobStatus.PENDING.value),
                    ":seen": _s(seen_updated_at),
                    ":now": _s(now),
                },
            )
            is not None
        )

    def add_publish_name(self, job_id: str, name: str) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="ADD publish_to :n",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": _PK},
            ExpressionAttributeValues={":n": {"SS": [name]}},
        )


@dataclass
class S3BlobStore:
    client: Any
    bucket: str
    # Presigning costs ~1 ms per URL in botocore and a status carries ~17 of them; a URL valid for
    # an hour is reused for its first half (per warm environment, bounded).
    _presigned: dict[tuple[str, int], tuple[float, str]] = field(default_factory=dict, repr=False)
    _presign_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def copy(self, source_key: str, dest_key: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket, Key=dest_key, CopySource={"Bucket": self.bucket, "Key": source_key}
        )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def presign_get(self, key: str, expires_in: int) -> str:
        now = time.monotonic()
        with self._presign_lock:
            hit = self._presigned.get((key, expires_in))
        if hit is not None and hit[0] > now:
            return hit[1]
        url = str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        )
        with self._presign_lock:
            if len(self._presigned) >= 4096:
                self._presigned.clear()
            self._presigned[(key, expires_in)] = (now + expires_in / 2, url)
        return url


@dataclass
class SqsJobQueue:
    client: Any
    queue_url: str

    def send(self, message: JobMessage) -> None:
        if not self.queue_url:
            raise RuntimeError(f"{names.ENV_QUEUE_URL} is not set")
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json())


_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """One boto3 client per service and process (region and endpoint from the environment).

    Clients are thread-safe once built; building them is not, hence the lock.
    """
    with _client_lock:
        if service not in _clients:
            session = boto3.session.Session()
            config = _S3_CONFIG if service == "s3" else _CONFIG
            if service == "s3" and _plain_http_endpoint(service):
                # Over plain HTTP (moto, LocalStack) SigV4 already hashes every body; the CRC32
                # that botocore adds on top costs each ~1 MB result object a second pass on both
                # ends. On AWS (HTTPS, unsigned payloads) the checksum stays on.
                config = config.merge(Config(request_checksum_calculation="when_required"))
            _clients[service] = session.client(service, config=config)  # type: ignore[call-overload]
        return _clients[service]


def _plain_http_endpoint(service: str) -> bool:
    env = names.ENV_ENDPOINT_URL
    url = os.environ.get(f"{env}_{service.upper()}") or os.environ.get(env)
    return bool(url) and str(url).startswith("http://")


def build_service(settings: Settings | None = None) -> JobService:
    """The job service wired to AWS (or whatever ``AWS_ENDPOINT_URL`` points at)."""
    settings = settings or get_settings()
    return JobService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.table),
        blobs=S3BlobStore(client("s3"), settings.bucket),
        queue=SqsJobQueue(client("sqs"), settings.queue_url),
        settings=settings,
    )


@lru_cache(maxsize=1)
def default_service() -> JobService:
    """The process-wide service used by the Lambda handlers (built on first use)."""
    return build_service()


def reset_caches() -> None:
    """Forget cached settings, clients and service (the local runtime calls this after it has set
    the environment; tests call it between runtimes)."""
    get_settings.cache_clear()
    with _client_lock:
        _clients.clear()
    default_service.cache_clear()
