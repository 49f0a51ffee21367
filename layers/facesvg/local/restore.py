"""Restoring the data directory's journal (``facesvg.local.persist``): S3 objects straight into
moto's backend in the S3 server process, then the runtime writes the items and messages back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from facesvg.local.journal_middleware import s3_backend
from facesvg.local.persist import Journal


def restore_s3(journal: Journal, region: str) -> list[tuple[str, str, str]]:
    """Put every journaled object whose bytes verify back into this process's moto S3 backend
    (before it serves). Those that do not are not restored, leave the journal, and are returned:
    (bucket, key, why)."""
    backend = s3_backend()
    damaged: list[tuple[str, str, str]] = []
    for bucket, key, body, metadata in journal.objects(damaged):
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, region)
        obj = backend.put_object(bucket, key, body, disable_notification=True)
        if metadata:
            obj.set_metadata(metadata)
    journal.forget_objects((bucket, key) for bucket, key, _ in damaged)
    return damaged


# --- the runtime side: write items and messages back ------------------------------------------------

# The job table's lease (facesvg.service.aws.dynamo): a job in ``processing`` belongs to a worker of
# the stack that died with it; ending the lease lets the restored message claim it again.
_PROCESSING = "processing"


def _end_dead_lease(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("status", {}).get("S") == _PROCESSING and "lease_until" in item:
        return {**item, "lease_until": {"N": "0"}}
    return item


_RESULTS_OR_INPUTS = re.compile(r"(results|inputs)/([0-9a-f]{64})/")


def settle_damaged(
    journal: Journal, damaged: Iterable[tuple[str, str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The jobs whose stored objects failed verification at start (``restore_s3``), settled in the
    journal before its items are written back: a completed job whose results are damaged is
    rendered again from its inputs (pending again: the caller enqueues the returned (job id,
    content hash) pairs), unless its inputs are damaged too; a job whose inputs are damaged, and
    that has no intact result, fails with the reason (``ProcessingFailed``: submitting the inputs
    again renders them). The shared render record of damaged results goes, so no other client's
    submit reuses them. Returns the jobs to enqueue and one line per job settled."""
    from facesvg import names

    results: set[str] = set()
    inputs: set[str] = set()
    for _, key, _ in damaged:
        found = _RESULTS_OR_INPUTS.match(key)
        if found:
            (results if found.group(1) == "results" else inputs).add(found.group(2))
    if not results and not inputs:
        return [], []
    pk = names.TABLE_PARTITION_KEY
    requeue: list[tuple[str, str]] = []
    lines: list[str] = []
    rows: list[tuple[str, str, dict[str, Any] | None]] = []
    for table, items in journal.items().items():
        for item in items:
            key = json.dumps({pk: item[pk]}, sort_keys=True)
            name = str(item.get(pk, {}).get("S", ""))
            if name.startswith(names.RENDER_KEY_PREFIX) and name[len(names.RENDER_KEY_PREFIX) :] in results:
                rows.append((table, key, None))
                continue
            if not name.startswith(names.JOB_KEY_PREFIX):
                continue
            digest = item.get("content_hash", {}).get("S", "")
            status = item.get("status", {}).get("S", "")
            job_id = item.get("job_id", {}).get("S", "")
            lost_results = digest in results and status == "completed"
            if not lost_results and not (digest in inputs and status in ("pending", "processing")):
                continue
            settled = {k: v for k, v in item.items() if k not in _RENDER_STATE}
            if digest in inputs:
                settled["status"] = {"S": "failed"}
                settled["error_code"] = {"S": "ProcessingFailed"}
                settled["error_message"] = {
                    "S": "the stored inputs of this job were damaged on disk and could not be restored; "
                    "submit them again"
                }
                lines.append(f"job {job_id}: its stored inputs were damaged: failed (submit them again)")
            else:
                settled["status"] = {"S": "pending"}
                settled["attempts"] = {"N": "0"}
                requeue.append((job_id, digest))
                lines.append(
                    f"job {job_id}: its stored results were damaged: rendering it again from its inputs"
                )
            rows.append((table, key, settled))
    journal.put_items(rows)
    return requeue, lines


# What a job item keeps of a render (result, error, lease): a job settled by ``settle_damaged``
# starts again without them.
_RENDER_STATE = frozenset({"result", "error_code", "error_message", "lease_token", "lease_until"})


def restore_items(dynamodb: Any, journal: Journal) -> int:
    n = 0
    for table, items in journal.items().items():
        for i in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": _end_dead_lease(item)}} for item in items[i : i + 25]]
            pending: dict[str, Any] = {table: batch}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            n += len(batch)
    return n


def restore_messages(sqs_by_queue: dict[str, Any], journal: Journal) -> int:
    """Send every journaled message again (a new message) and drop the old rows; ``sqs_by_queue``
    maps a queue name to (client, queue url). Queues that no longer exist are skipped."""
    n = 0
    by_queue: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for queue, mid, body, attrs in journal.messages():
        by_queue.setdefault(queue, []).append((mid, body, attrs))
    for queue, messages in by_queue.items():
        target = sqs_by_queue.get(queue)
        if target is None:
            continue
        client, url = target
        for i in range(0, len(messages), 10):
            chunk = messages[i : i + 10]
            client.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(j), "MessageBody": body, **attrs} for j, (_, body, attrs) in enumerate(chunk)
                ],
            )
            journal.deleted(queue, [mid for mid, _, _ in chunk])
            n += len(chunk)
    return n
