"""Subscribing a caller to a job at submit: its callback is added to the job, or, when the job has
already ended (no worker will announce it), its delivery is queued at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from facesvg.service.errors import TooManyCallbacks
from facesvg.service.job_events import deliveries_for, event_detail
from facesvg.service.models import Callback, Job
from facesvg.service.observability import logger
from facesvg.service.ports import JobRepository, NotifyQueue

MAX_CALLBACKS_PER_JOB = 50  # keeps the job item and the event small


def new_callback(url: str, client_reference: str | None) -> Callback:
    return Callback(id=uuid.uuid4().hex[:16], url=url, client_reference=client_reference)


@dataclass
class Subscriptions:
    """Adds a caller to a job; a job that already ended is delivered to that caller at once."""

    jobs: JobRepository
    queue: NotifyQueue | None

    def subscribe(self, job: Job, callback: Callback) -> None:
        if not job.status.terminal:
            if self.jobs.add_callback(job.job_id, callback, MAX_CALLBACKS_PER_JOB) is not None:
                return
            current = self.jobs.get_job(job.job_id)
            if current is None or not current.status.terminal:
                raise TooManyCallbacks(f"job {job.job_id} already has {MAX_CALLBACKS_PER_JOB} callbacks")
            job = current  # ended in between: deliver now
        self.deliver_now(job, callback)

    def deliver_now(self, job: Job, callback: Callback) -> None:
        if self.queue is None:
            logger.warning("no notify queue configured; callback dropped", extra={"job_id": job.job_id})
            return
        (delivery,) = deliveries_for(job, event_detail(job), [callback])
        self.queue.send_many([delivery.model_dump_json()])
        logger.info("job already ended; callback queued", extra={"job_id": job.job_id})
