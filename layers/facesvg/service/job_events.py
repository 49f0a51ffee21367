"""The job-end event and the delivery messages made from it: what the worker publishes once per
job end (``EventOutbox``), what a subscriber who joins an ended job is sent at once, and what the
notify function turns into signed POSTs (``facesvg.service.notify``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict

from facesvg.core.lazy_model import LazyModel
from facesvg.names import JOB_COMPLETED, JOB_FAILED
from facesvg.service import metrics_catalog as mc
from facesvg.service.errors import TransientError
from facesvg.service.models import Callback, EventState, Job, JobStatus
from facesvg.service.observability import logger, record
from facesvg.service.ports import EventPublisher, JobRepository

EVENT_CLAIM_SECONDS = 60  # how long the writer of a job's end owns publishing its event


def detail_type(job: Job) -> str:
    return JOB_COMPLETED if job.status is JobStatus.COMPLETED else JOB_FAILED


def event_detail(job: Job) -> dict[str, Any]:
    """The event's ``detail`` (docs/notifications.md). Result URLs are presigned per delivery."""
    refs = [c.client_reference for c in job.callbacks if c.client_reference]
    detail: dict[str, Any] = {
        "id": job.job_id,
        "status": job.status.value,
        "content_hash": job.content_hash,
        "created_at": job.created_at,
        "finished_at": job.updated_at,
        "client_reference": refs[0] if refs else None,
        "client_references": refs,
    }
    if job.status is JobStatus.COMPLETED and job.result is not None:
        detail["regions"] = list(job.result.regions)
        detail["missing"] = list(job.result.missing)
    if job.error is not None:
        detail["error"] = job.error.model_dump()
    return detail


def delivery_id_of(detail: dict[str, Any], callback_id: str) -> str:
    """Stable per job end and caller: the receiver's idempotency key."""
    seed = f"{detail['id']}:{detail['status']}:{detail.get('finished_at', '')}:{callback_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


class Delivery(LazyModel):
    """A notify-queue message: one POST to one caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["delivery"] = "delivery"
    delivery_id: str
    type: str  # JobCompleted | JobFailed
    url: str
    client_reference: str | None = None
    detail: dict[str, Any]


def deliveries_for(job: Job, detail: dict[str, Any], callbacks: Sequence[Callback]) -> list[Delivery]:
    return [
        Delivery(
            delivery_id=delivery_id_of(detail, cb.id),
            type=detail_type(job),
            url=cb.url,
            client_reference=cb.client_reference,
            detail=detail,
        )
        for cb in callbacks
    ]


@dataclass
class EventOutbox:
    """Publishes the job-end event exactly once (see the module docstring)."""

    jobs: JobRepository
    publisher: EventPublisher
    clock: Callable[[], float] = time.time

    def claim_until(self) -> float:
        return self.clock() + EVENT_CLAIM_SECONDS

    def publish_claimed(self, job: Job) -> None:
        """The caller's terminal write set the flag (the claim is its own): publish, then mark."""
        self.publisher.publish(detail_type(job), event_detail(job))
        self.jobs.mark_event_published(job.job_id)
        record(mc.EVENTS_PUBLISHED, 1, status=job.status.value)
        logger.info("job-end event published", extra={"job_id": job.job_id, "type": detail_type(job)})

    def resume(self, job: Job) -> None:
        """A message for an ended job: publish its event if nobody did (its writer died)."""
        if job.event_state is not EventState.PENDING:
            return
        now = self.clock()
        claimed = self.jobs.claim_event(job.job_id, now, now + EVENT_CLAIM_SECONDS)
        if claimed is None:
            fresh = self.jobs.get_job(job.job_id)
            if fresh is not None and fresh.event_state is EventState.PENDING:
                # Its writer is publishing right now (claim not expired): come back later.
                raise TransientError(f"the event of job {job.job_id} is being published")
            return
        if job.event_claim_until:
            logger.warning("publishing a job-end event its writer did not", extra={"job_id": job.job_id})
        else:  # never claimed: a job created already ended, announced through the queue
            logger.info("publishing the job-end event of a job created ended", extra={"job_id": job.job_id})
        self.publish_claimed(claimed)
