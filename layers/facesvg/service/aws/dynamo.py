"""The job table on DynamoDB (single table, partition key ``pk``, no sort key, TTL ``expires_at``).

=================  ==========================================================================
``JOB#<job id>``    kind=job, job_id, content_hash, status, created_at, updated_at, source,
                    attempts (N), lease_token, lease_until (N, epoch s), error_code,
                    error_message, result (JSON string, small: key prefix, region names,
                    transform), publish_to (SS, drop-folder names), expires_at (N, TTL),
                    callbacks (L of M: id, url, client_reference), event_state (pending |
                    published: the job-end event's outbox flag), event_claim_until (N),
                    scope, result / error_code, error_message (+ event_state) when created
                    finished
``HASH#<sha256>#<scope>``  kind=cache, job_id, created_at, expires_at (N, TTL)
``RENDER#<sha256>`` kind=render, result (JSON string), expires_at (N, TTL)
``DROP#<name>``     kind=drop, seq (N), set_id, files (JSON string), newest (N), job_id,
                    published_seq (N), pub_owner, pub_until (N): a drop folder's current state
                    and its publish lease
=================  ==========================================================================
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from facesvg import names
from facesvg.service.aws.dynamo_items import (
    JOB_PREFIX,
    PK,
    TTL,
    cache_pk,
    callback_item,
    job_from_item,
    job_to_item,
    num_attr,
    str_attr,
)
from facesvg.service.aws.errors import cancellation_reasons, error_code, translated
from facesvg.service.models import Callback, DropState, EventState, Job, JobError, JobResult, JobStatus

_RENDER = names.RENDER_KEY_PREFIX
_DROP = names.DROP_KEY_PREFIX
_TRANSACTION_ATTEMPTS = 5


@dataclass
class DynamoJobRepository:
    client: Any
    table: str

    @translated("DynamoDB: reading a job")
    def get_job(self, job_id: str) -> Job | None:
        item = self.client.get_item(
            TableName=self.table, Key={PK: str_attr(JOB_PREFIX + job_id)}, ConsistentRead=True
        )
        return job_from_item(item["Item"]) if "Item" in item else None

    @translated("DynamoDB: reading a job")
    def get_job_in_scopes(self, job_id: str, scopes: tuple[str, ...]) -> Job | None:
        # A Query whose filter runs in DynamoDB: a job of another scope comes back as no item at
        # all, exactly as an unknown id does (same request, same empty answer, same parsing).
        named = [s for s in scopes if s]
        tests = [f"#scope = :s{i}" for i in range(len(named))]
        if "" in scopes:
            tests.append("attribute_not_exists(#scope)")
        out = self.client.query(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk",
            FilterExpression=" OR ".join(tests) if tests else "attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": PK, "#scope": "scope"},
            ExpressionAttributeValues={
                ":pk": str_attr(JOB_PREFIX + job_id),
                **{f":s{i}": str_attr(s) for i, s in enumerate(named)},
            },
            ConsistentRead=True,
        )
        items = out.get("Items") or []
        return job_from_item(items[0]) if items else None

    @translated("DynamoDB: reading a cache item")
    def get_cached_job_id(self, content_hash: str, scope: str = "") -> str | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={PK: str_attr(cache_pk(content_hash, scope))},
            ConsistentRead=True,
            ProjectionExpression="job_id",
        )
        return item["Item"]["job_id"]["S"] if "Item" in item else None

    @translated("DynamoDB: creating a job")
    def create_job(self, job: Job, expires_at: int, replace_job_id: str | None = None) -> str | None:
        cache_put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                PK: str_attr(cache_pk(job.content_hash, job.scope)),
                "kind": str_attr("cache"),
                "job_id": str_attr(job.job_id),
                "created_at": str_attr(job.created_at),
                TTL: num_attr(expires_at),
            },
        }
        if replace_job_id is None:
            cache_put["ConditionExpression"] = "attribute_not_exists(#pk)"
            cache_put["ExpressionAttributeNames"] = {"#pk": PK}
        else:
            cache_put["ConditionExpression"] = "attribute_not_exists(#pk) OR job_id = :old"
            cache_put["ExpressionAttributeNames"] = {"#pk": PK}
            cache_put["ExpressionAttributeValues"] = {":old": str_attr(replace_job_id)}
        job_put = {
            "TableName": self.table,
            "Item": job_to_item(job, expires_at),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=[{"Put": cache_put}, {"Put": job_put}])
                return None
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                codes = cancellation_reasons(exc)
                if codes and codes[0] == "ConditionalCheckFailed":
                    holder = self.get_cached_job_id(job.content_hash, job.scope)
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

    @translated("DynamoDB: reading a render item")
    def get_render(self, content_hash: str) -> JobResult | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={PK: str_attr(_RENDER + content_hash)},
            ProjectionExpression="#r",
            ExpressionAttributeNames={"#r": "result"},
        )
        return JobResult.model_validate_json(item["Item"]["result"]["S"]) if "Item" in item else None

    @translated("DynamoDB: writing a render item")
    def record_render(self, content_hash: str, result: JobResult, expires_at: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                PK: str_attr(_RENDER + content_hash),
                "kind": str_attr("render"),
                "result": str_attr(result.model_dump_json()),
                TTL: num_attr(expires_at),
            },
        )

    @translated("DynamoDB: rolling a job back")
    def delete_created_job(self, job: Job) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {PK: str_attr(cache_pk(job.content_hash, job.scope))},
                        "ConditionExpression": "job_id = :id",
                        "ExpressionAttributeValues": {":id": str_attr(job.job_id)},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {PK: str_attr(JOB_PREFIX + job.job_id)},
                        "ConditionExpression": "#st = :pending",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {":pending": str_attr(JobStatus.PENDING.value)},
                    }
                },
            ]
        )

    def _update(self, job_id: str, **kwargs: Any) -> Job | None:
        try:
            out = self.client.update_item(
                TableName=self.table,
                Key={PK: str_attr(JOB_PREFIX + job_id)},
                ReturnValues="ALL_NEW",
                **kwargs,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return job_from_item(out["Attributes"])

    @translated("DynamoDB: claiming a job")
    def claim(self, job_id: str, token: str, now: str, now_epoch: float, lease_until: float) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="SET #st = :processing, lease_token = :t, lease_until = :lu, updated_at = :now "
            "ADD attempts :one",
            ConditionExpression="attribute_exists(#pk) AND (#st = :pending OR (#st = :processing AND "
            "(attribute_not_exists(lease_until) OR lease_until < :now_epoch)))",
            ExpressionAttributeNames={"#st": "status", "#pk": PK},
            ExpressionAttributeValues={
                ":processing": str_attr(JobStatus.PROCESSING.value),
                ":pending": str_attr(JobStatus.PENDING.value),
                ":t": str_attr(token),
                ":lu": num_attr(float(lease_until)),
                ":now": str_attr(now),
                ":now_epoch": num_attr(float(now_epoch)),
                ":one": num_attr(1),
            },
        )

    @translated("DynamoDB: releasing a job")
    def release(self, job_id: str, token: str, now: str) -> None:
        self._update(
            job_id,
            UpdateExpression="SET lease_until = :zero, updated_at = :now",
            ConditionExpression="#st = :processing AND lease_token = :t",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={
                ":processing": str_attr(JobStatus.PROCESSING.value),
                ":t": str_attr(token),
                ":zero": num_attr(0),
                ":now": str_attr(now),
            },
        )

    def _finish(
        self,
        job_id: str,
        token: str,
        now: str,
        status: JobStatus,
        sets: dict[str, Any],
        event_claim_until: float | None = None,
    ) -> Job | None:
        if event_claim_until is not None:  # the outbox flag, set by the write that ends the job
            sets = {
                **sets,
                "event_state": str_attr(EventState.PENDING.value),
                "event_claim_until": num_attr(float(event_claim_until)),
            }
        assignments = ", ".join(f"#a_{name} = :{name}" for name in sets)  # names may be reserved words
        return self._update(
            job_id,
            UpdateExpression=(
                f"SET #st = :status, updated_at = :now, {assignments} REMOVE lease_token, lease_until"
            ),
            ConditionExpression="#st = :processing AND lease_token = :t",
            ExpressionAttributeNames={"#st": "status", **{f"#a_{name}": name for name in sets}},
            ExpressionAttributeValues={
                ":status": str_attr(status.value),
                ":processing": str_attr(JobStatus.PROCESSING.value),
                ":t": str_attr(token),
                ":now": str_attr(now),
                **{f":{name}": value for name, value in sets.items()},
            },
        )

    @translated("DynamoDB: completing a job")
    def complete(
        self, job_id: str, token: str, result: JobResult, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        return self._finish(
            job_id,
            token,
            now,
            JobStatus.COMPLETED,
            {"result": str_attr(result.model_dump_json())},
            event_claim_until,
        )

    @translated("DynamoDB: failing a job")
    def fail(
        self, job_id: str, token: str, error: JobError, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        return self._finish(
            job_id,
            token,
            now,
            JobStatus.FAILED,
            {"error_code": str_attr(error.code), "error_message": str_attr(error.message[:1000])},
            event_claim_until,
        )

    @translated("DynamoDB: claiming a job-end event")
    def claim_event(self, job_id: str, now_epoch: float, claim_until: float) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="SET event_claim_until = :until",
            ConditionExpression="event_state = :pending AND event_claim_until < :now",
            ExpressionAttributeValues={
                ":pending": str_attr(EventState.PENDING.value),
                ":now": num_attr(float(now_epoch)),
                ":until": num_attr(float(claim_until)),
            },
        )

    @translated("DynamoDB: marking a job-end event published")
    def mark_event_published(self, job_id: str) -> bool:
        return (
            self._update(
                job_id,
                UpdateExpression="SET event_state = :published REMOVE event_claim_until",
                ConditionExpression="event_state = :pending",
                ExpressionAttributeValues={
                    ":pending": str_attr(EventState.PENDING.value),
                    ":published": str_attr(EventState.PUBLISHED.value),
                },
            )
            is not None
        )

    @translated("DynamoDB: adding a callback")
    def add_callback(self, job_id: str, callback: Callback, max_callbacks: int) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="SET callbacks = list_append(if_not_exists(callbacks, :empty), :cb)",
            ConditionExpression="attribute_exists(#pk) AND #st IN (:pending, :processing) "
            "AND (attribute_not_exists(callbacks) OR size(callbacks) < :max)",
            ExpressionAttributeNames={"#pk": PK, "#st": "status"},
            ExpressionAttributeValues={
                ":empty": {"L": []},
                ":cb": {"L": [callback_item(callback)]},
                ":pending": str_attr(JobStatus.PENDING.value),
                ":processing": str_attr(JobStatus.PROCESSING.value),
                ":max": num_attr(max_callbacks),
            },
        )

    @translated("DynamoDB: touching a pending job")
    def touch_pending(self, job_id: str, seen_updated_at: str, now: str) -> bool:
        return (
            self._update(
                job_id,
                UpdateExpression="SET updated_at = :now",
                ConditionExpression="#st = :pending AND updated_at = :seen",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":pending": str_attr(JobStatus.PENDING.value),
                    ":seen": str_attr(seen_updated_at),
                    ":now": str_attr(now),
                },
            )
            is not None
        )

    @translated("DynamoDB: adding a drop-folder name")
    def add_publish_name(self, job_id: str, name: str) -> Job | None:
        return self._update(
            job_id,
            UpdateExpression="ADD publish_to :n",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":n": {"SS": [name]}},
        )

    # -- drop folders ------------------------------------------------------------------------------

    def _drop_update(self, name: str, **kwargs: Any) -> bool:
        try:
            self.client.update_item(TableName=self.table, Key={PK: str_attr(_DROP + name)}, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @translated("DynamoDB: reading a drop folder")
    def get_drop(self, name: str) -> DropState | None:
        out = self.client.get_item(
            TableName=self.table, Key={PK: str_attr(_DROP + name)}, ConsistentRead=True
        )
        item = out.get("Item")
        if item is None:
            return None
        return DropState(
            name=name,
            seq=int(item["seq"]["N"]),
            set_id=item["set_id"]["S"],
            files=json.loads(item.get("files", {}).get("S", "{}")),
            newest=float(item.get("newest", {}).get("N", "0")),
            job_id=item.get("job_id", {}).get("S"),
            published_seq=int(item.get("published_seq", {}).get("N", "0")),
        )

    @translated("DynamoDB: advancing a drop folder")
    def advance_drop(self, state: DropState, expected_seq: int, expires_at: int) -> bool:
        condition = "attribute_not_exists(#pk)" if expected_seq == 0 else "seq = :expected"
        values: dict[str, Any] = {
            ":seq": num_attr(expected_seq + 1),
            ":set": str_attr(state.set_id),
            ":files": str_attr(json.dumps(state.files, sort_keys=True)),
            ":newest": num_attr(float(state.newest)),
            ":kind": str_attr("drop"),
            ":ttl": num_attr(expires_at),
        }
        if expected_seq:
            values[":expected"] = num_attr(expected_seq)
        return self._drop_update(
            state.name,
            UpdateExpression="SET seq = :seq, set_id = :set, files = :files, newest = :newest, kind = :kind, "
            "#ttl = :ttl REMOVE job_id",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#ttl": TTL, **({"#pk": PK} if expected_seq == 0 else {})},
            ExpressionAttributeValues=values,
        )

    @translated("DynamoDB: recording a drop folder's job")
    def set_drop_job(self, name: str, seq: int, job_id: str) -> bool:
        return self._drop_update(
            name,
            UpdateExpression="SET job_id = :job",
            ConditionExpression="seq = :seq",
            ExpressionAttributeValues={":job": str_attr(job_id), ":seq": num_attr(seq)},
        )

    @translated("DynamoDB: taking a drop folder's publish lease")
    def acquire_drop_publish(self, name: str, seq: int, owner: str, now_epoch: float, until: float) -> bool:
        return self._drop_update(
            name,
            UpdateExpression="SET pub_owner = :owner, pub_until = :until",
            ConditionExpression="seq = :seq "
            "AND (attribute_not_exists(published_seq) OR published_seq < :seq) "
            "AND (attribute_not_exists(pub_owner) OR pub_until < :now)",
            ExpressionAttributeValues={
                ":owner": str_attr(owner),
                ":until": num_attr(float(until)),
                ":seq": num_attr(seq),
                ":now": num_attr(float(now_epoch)),
            },
        )

    @translated("DynamoDB: releasing a drop folder's publish lease")
    def release_drop_publish(self, name: str, seq: int, owner: str, published: bool = True) -> None:
        if not published:
            self._drop_update(
                name,
                UpdateExpression="REMOVE pub_owner, pub_until",
                ConditionExpression="pub_owner = :owner",
                ExpressionAttributeValues={":owner": str_attr(owner)},
            )
            return
        self._drop_update(
            name,
            UpdateExpression="SET published_seq = :seq REMOVE pub_owner, pub_until",
            ConditionExpression="pub_owner = :owner",
            ExpressionAttributeValues={":seq": num_attr(seq), ":owner": str_attr(owner)},
        )
