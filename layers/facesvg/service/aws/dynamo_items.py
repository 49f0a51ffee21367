"""Job items to and from DynamoDB's attribute values (the table's layout: ``facesvg.service.aws.dynamo``)."""

from __future__ import annotations

from typing import Any

from facesvg import names
from facesvg.service.models import Callback, EventState, Job, JobError, JobResult, JobStatus

JOB_PREFIX = names.JOB_KEY_PREFIX
CACHE_PREFIX = names.CACHE_KEY_PREFIX
PK = names.TABLE_PARTITION_KEY
TTL = names.TABLE_TTL_ATTRIBUTE


def str_attr(value: str) -> dict[str, str]:
    return {"S": value}


def num_attr(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def cache_pk(content_hash: str, scope: str) -> str:
    """``HASH#<hash>#<scope>`` (``HASH#<hash>`` for the empty scope, as before scopes existed)."""
    return f"{CACHE_PREFIX}{content_hash}#{scope}" if scope else f"{CACHE_PREFIX}{content_hash}"


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
        scope=item.get("scope", {}).get("S", ""),
        attempts=int(item.get("attempts", {}).get("N", "0")),
        error=error,
        result=result,
        publish_to=frozenset(item.get("publish_to", {}).get("SS", [])),
        callbacks=tuple(_callback_from(c["M"]) for c in item.get("callbacks", {}).get("L", [])),
        event_state=EventState(item["event_state"]["S"]) if "event_state" in item else None,
        event_claim_until=float(item["event_claim_until"]["N"]) if "event_claim_until" in item else None,
    )


def _callback_from(m: dict[str, Any]) -> Callback:
    ref = m.get("client_reference", {}).get("S")
    return Callback(id=m["id"]["S"], url=m["url"]["S"], client_reference=ref)


def callback_item(callback: Callback) -> dict[str, Any]:
    m = {"id": str_attr(callback.id), "url": str_attr(callback.url)}
    if callback.client_reference is not None:
        m["client_reference"] = str_attr(callback.client_reference)
    return {"M": m}


def job_to_item(job: Job, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        PK: str_attr(JOB_PREFIX + job.job_id),
        "kind": str_attr("job"),
        "job_id": str_attr(job.job_id),
        "content_hash": str_attr(job.content_hash),
        "status": str_attr(job.status.value),
        "created_at": str_attr(job.created_at),
        "updated_at": str_attr(job.updated_at),
        "source": str_attr(job.source),
        "attempts": num_attr(job.attempts),
        TTL: num_attr(expires_at),
    }
    if job.scope:
        item["scope"] = str_attr(job.scope)
    if job.publish_to:
        item["publish_to"] = {"SS": sorted(job.publish_to)}
    if job.callbacks:
        item["callbacks"] = {"L": [callback_item(c) for c in job.callbacks]}
    if job.result is not None:
        item["result"] = str_attr(job.result.model_dump_json())
    if job.error is not None:
        item["error_code"] = str_attr(job.error.code)
        item["error_message"] = str_attr(job.error.message[:1000])
    if job.event_state is not None:  # a job written already ended: its job-end event is owed
        item["event_state"] = str_attr(job.event_state.value)
        item["event_claim_until"] = num_attr(float(job.event_claim_until or 0.0))
    return item
