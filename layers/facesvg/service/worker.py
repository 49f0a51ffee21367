"""Process: render one job, moving it ``pending → processing → completed | failed``.

Every arrow is a conditional write: the claim takes a lease (a concurrent duplicate delivery cannot
render at the same time), and only the lease holder may finish the job, so a redelivery or a
worker that outlived its lease can never render twice or move a job backwards. A message for a
finished job does nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service import layout
from facesvg.service import metrics_catalog as mc
from facesvg.service.clock import epoch_of, utc_now_iso
from facesvg.service.errors import TransientError
from facesvg.service.models import Job, JobError, JobResult
from facesvg.service.observability import logger, record, tracer
from facesvg.service.ports import (
    Blob,
    BlobStore,
    DropPublisher,
    JobEndEvents,
    JobRepository,
    Pending,
    RenderCore,
)
from facesvg.service.settings import Settings

SVG = "image/svg+xml"


class ProcessOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # permanent: the inputs cannot be rendered
    ALREADY_DONE = "already_done"  # redelivery of a finished job: no work
    LOST_RACE = "lost_race"  # another worker finished it first
    MISSING = "missing"  # no such job (expired or never created)


@dataclass
class Worker:
    jobs: JobRepository
    blobs: BlobStore
    core: RenderCore
    settings: Settings
    publisher: DropPublisher  # publishes to the job's drop folders (facesvg.service.drop_publish)
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    outbox: JobEndEvents | None = None  # the job-end event (facesvg.service.job_events); None: no bus

    @tracer.capture_method(capture_response=False)
    def process(self, job_id: str, receive_count: int = 1, content_hash: str | None = None) -> ProcessOutcome:
        """Render one job. Raises (→ SQS retries) only for transient problems.

        ``content_hash`` (from the message) lets the inputs download while the job is claimed; the
        claimed item decides, and a hash that does not match it is ignored.
        """
        prefetch = self._download(content_hash) if content_hash else None
        token = uuid.uuid4().hex
        now_epoch = self.clock()
        # The conditional claim is the check: it only succeeds for a pending job (or an expired lease).
        claimed = self.jobs.claim(
            job_id, token, utc_now_iso(now_epoch), now_epoch, now_epoch + self.settings.lease_seconds
        )
        if claimed is None:
            return self._not_claimed(job_id)

        log_keys = {
            "job_id": job_id,
            "content_hash": claimed.content_hash,
            "attempt": claimed.attempts,
            "receive_count": receive_count,
        }
        tracer.put_annotation("job_id", job_id)
        logger.info("processing job", extra=log_keys)
        try:
            if self.settings.effective_delay_seconds > 0:
                self.sleep(self.settings.effective_delay_seconds)
            if prefetch is None or content_hash != claimed.content_hash:
                prefetch = self._download(claimed.content_hash)
            try:
                result = self._reused(claimed, now_epoch) or self._render(claimed, prefetch, now_epoch)
            except InputError as exc:
                # Permanent: the same inputs fail the same way. Mark failed; the message is done.
                logger.warning("job failed: inputs cannot be rendered", extra={**log_keys, "code": exc.code})
                self._fail(job_id, token, JobError(code=exc.code, message=str(exc)))
                return ProcessOutcome.FAILED
            done = self.jobs.complete(job_id, token, result, self._now(), self._event_claim())
        except Exception as exc:
            self._after_error(job_id, token, exc, receive_count, log_keys)
            raise

        if done is None:
            logger.warning("lease lost before completion; another worker owns the job", extra=log_keys)
            return ProcessOutcome.LOST_RACE
        self._after_completion(claimed, done, result, log_keys)
        return ProcessOutcome.COMPLETED

    def _not_claimed(self, job_id: str) -> ProcessOutcome:
        """The claim failed: the job is unknown, finished (finish what its writer may not have), or
        another worker's (raise: SQS retries after the visibility timeout)."""
        current = self.jobs.get_job(job_id)
        if current is None:
            logger.warning("message for an unknown job; dropping it", extra={"job_id": job_id})
            return ProcessOutcome.MISSING
        if current.status.terminal:
            logger.info(
                "job already finished; nothing to do", extra={"job_id": job_id, "status": current.status}
            )
            if self.outbox is not None:  # its writer may have died before publishing its event
                self.outbox.resume(current)
            if current.publish_to:  # a publish that did not finish (a redelivery retries it)
                self.publisher.publish(current, sorted(current.publish_to))
            return ProcessOutcome.ALREADY_DONE
        raise TransientError(f"job {job_id} is being processed by another worker")

    def _after_error(
        self, job_id: str, token: str, exc: Exception, receive_count: int, log_keys: dict[str, Any]
    ) -> None:
        """An unexpected error (the caller re-raises it): on the message's last delivery the job
        fails; otherwise the lease is released for SQS's retry."""
        if receive_count >= self.settings.max_receive_count:
            logger.exception("job failed on its last attempt; the message goes to the DLQ", extra=log_keys)
            message = f"{type(exc).__name__}: {exc}"[:500]
            self._fail(job_id, token, JobError(code="ProcessingFailed", message=message))
        else:
            record(mc.JOBS_RETRIED, 1)
            logger.warning("transient failure; SQS will retry", extra={**log_keys, "error": repr(exc)[:300]})
            self.jobs.release(job_id, token, self._now())

    def _after_completion(self, claimed: Job, done: Job, result: JobResult, log_keys: dict[str, Any]) -> None:
        """The job is completed (its client already sees it): the render is offered to other scopes,
        the metrics recorded, the drop folders and the job-end event published."""
        # Other scopes' identical submits reuse it.
        expires_at = self.settings.expires_at(self.clock())
        with suppress(Exception):  # only an optimisation: without it, another scope renders again
            self.jobs.record_render(done.content_hash, result, expires_at)
        logger.info("job completed", extra=log_keys)
        record(mc.JOBS_COMPLETED, 1)
        if claimed.created_at:
            record(mc.END_TO_END_LATENCY, max(0.0, (self.clock() - epoch_of(claimed.created_at)) * 1000))
        if done.publish_to:
            self.publisher.publish(done, sorted(done.publish_to))
        self._publish_event(done)

    def _now(self) -> str:
        return utc_now_iso(self.clock())

    def _download(self, content_hash: str) -> Pending[dict[str, bytes]]:
        return self.blobs.begin_get_many(list(layout.input_keys(content_hash).values()))

    def _fail(self, job_id: str, token: str, error: JobError) -> None:
        failed = self.jobs.fail(job_id, token, error, self._now(), self._event_claim())
        if failed is not None:
            record(mc.JOBS_FAILED, 1, error_code=error.code)
            self.publisher.publish(failed, sorted(failed.publish_to))
            self._publish_event(failed)

    def _event_claim(self) -> float | None:
        return self.outbox.claim_until() if self.outbox is not None else None

    def _publish_event(self, job: Job) -> None:
        """This worker's write ended the job (and set the outbox flag): it publishes the event. If
        that fails, the message is retried and the redelivery publishes once the claim expired."""
        if self.outbox is None:
            return
        try:
            self.outbox.publish_claimed(job)
        except Exception as exc:
            logger.exception("could not publish the job-end event; retrying", extra={"job_id": job.job_id})
            raise TransientError(f"job {job.job_id}: event not published") from exc

    def _reused(self, job: Job, claimed_at: float) -> JobResult | None:
        """The result of an earlier render of this content (another client's, or a concurrent
        identical job's), handed over once as much time has passed since this job's claim as that
        render took: the job's client sees what a render of its own would show (pending, then
        processing, then completed as late), so nothing tells it that someone else sent the same
        inputs. None (render it) when there is none, or it does not say how long it took."""
        try:
            rendered = self.jobs.get_render(job.content_hash)
        except Exception:  # only an optimisation: render instead
            logger.warning("could not read the render item; rendering", extra={"job_id": job.job_id})
            return None
        if rendered is None or rendered.render_seconds is None:
            return None
        remaining = rendered.render_seconds - (self.clock() - claimed_at)
        if remaining > 0:  # bounded: the job's lease must outlive the wait, as it outlives a render
            self.sleep(min(remaining, self.settings.lease_seconds / 2))
        logger.info("job completed from an earlier render", extra={"job_id": job.job_id})
        return rendered

    @tracer.capture_method(capture_response=False)
    def _render(self, job: Job, download: Pending[dict[str, bytes]], claimed_at: float) -> JobResult:
        t0 = time.perf_counter()
        keys = layout.input_keys(job.content_hash)
        got = download.result()
        try:
            options = RenderOptions.model_validate_json(got[keys["options"]])
        except ValueError as exc:
            raise InputError("options", f"stored options are invalid: {exc}", code="InvalidOptions") from exc
        t1 = time.perf_counter()
        try:
            result = self.core.render(
                got[keys["image"]],
                got[keys["segmentation_map"]] or None,  # empty: no map was sent (``submit``)
                got[keys["landmarks"]].decode(),
                options=options,
                limits=self.settings.limits,
            )
        except InputError:
            raise
        except Exception as exc:
            if not is_deterministic(exc):
                raise
            # The render is a pure function of the stored inputs: the same inputs fail the same way
            # on every attempt (degenerate landmarks → LinAlgError). Not worth a retry or the DLQ.
            logger.exception("render failed on its inputs", extra={"job_id": job.job_id})
            reason = f"the inputs cannot be rendered ({type(exc).__name__}: {exc})"
            raise UnrenderableInputs(reason[:500]) from exc
        t2 = time.perf_counter()

        prefix = layout.results_prefix(job.content_hash)
        regions = [name for name in sorted(result.region_svgs) if layout.is_safe_region_name(name)]
        if len(regions) != len(result.region_svgs):
            logger.warning("skipped regions with unsafe names", extra={"job_id": job.job_id})
        # Nobody reads results/<hash>/ before the job item says completed (the drop folder's copies,
        # which users watch, are published after that, face.svg last), so the order is free.
        self.blobs.put_many(
            [
                *(Blob(layout.region_key(prefix, r), result.region_svgs[r], SVG) for r in regions),
                *(
                    Blob(layout.result_document_key(prefix, n), _compact(d), layout.RESULT_DOCUMENTS[n])
                    for n, d in result.documents().items()
                ),
                Blob(layout.svg_key(prefix), result.svg, SVG),
            ]
        )
        stages = {
            "download": (t1 - t0) * 1000,
            "render": (t2 - t1) * 1000,
            "upload": (time.perf_counter() - t2) * 1000,
        }
        logger.info(
            "rendered", extra={"job_id": job.job_id, **{f"{k}_ms": round(v) for k, v in stages.items()}}
        )
        record(mc.RENDERS, 1)
        record(mc.RESULT_BYTES, len(result.svg))
        for stage, ms in {**result.timings_ms, **stages}.items():
            if stage != "total":
                record(mc.STAGE_DURATION, ms, stage=stage)
        tracer.put_metadata("timings_ms", stages)
        return JobResult(
            prefix=prefix,
            regions=regions,
            transform=[[float(v) for v in row] for row in result.transform],
            size=[int(v) for v in result.size],
            rotation_deg=float(result.rotation_deg),
            missing=[str(m) for m in result.missing],
            svg_bytes=len(result.svg),
            render_seconds=round(max(0.0, self.clock() - claimed_at), 3),
        )


class UnrenderableInputs(InputError):
    """A deterministic failure of the render core on a job's inputs (not a typed ``InputError``)."""

    def __init__(self, message: str) -> None:
        super().__init__("landmarks", message, code="InvalidInput")

    def __str__(self) -> str:  # which input is at fault is not known: no field prefix
        return self.message


def is_deterministic(exc: BaseException) -> bool:
    """Would the render core raise this again for the same inputs? Arithmetic and value errors
    (``numpy.linalg.LinAlgError`` is a ``ValueError``) and OpenCV's ``cv2.error`` come from the
    numbers themselves; I/O, memory and everything else may pass on a retry."""
    if isinstance(exc, ValueError | ArithmeticError):
        return True
    return type(exc).__module__.split(".")[0] == "cv2"


def _compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
