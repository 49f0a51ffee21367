"""Submit: return the job for a set of inputs, creating and enqueueing it at most once.

1. Look the content hash up in the caller's scope (its API key: one client never gets another's
   job record): a live job is returned as it is (re-enqueued if it has been pending suspiciously
   long); a job that failed for a reason that was not the caller's, or whose item has expired, is
   replaced.
2. For the drop folder only: a render of the same content finished for any scope
   (``RENDER#<hash>``; ``results/<hash>/`` is shared): its job is created completed with that
   result — no upload, no render. An API client's job never is (its answer and timing would tell
   it that another client sent these inputs): it goes through 3 like any new job, and the worker
   reuses the render (``facesvg.service.worker``). A job created completed is announced like any
   other (one job-end event): it is written with the outbox flag set and unclaimed, and its id is
   sent to the process queue, whose worker finds the job ended and publishes the event exactly once
   (``job_events.EventOutbox.resume``).
3. Otherwise upload the inputs while the core checks them (a rejected request leaves nothing
   behind), then write the job and its cache item in one conditional transaction. Only its winner
   enqueues, so concurrent identical submits make one job; a loser returns the winner's job.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from facesvg.core.image_format import sniff_format
from facesvg.service.clock import epoch_of, utc_now_iso
from facesvg.service.errors import ServiceUnavailable
from facesvg.service.hashing import PreparedInputs, decode_base64, prepare
from facesvg.service.layout import input_keys
from facesvg.service.models import (
    Callback,
    EventState,
    Job,
    JobMessage,
    JobResult,
    JobStatus,
    SubmitOutcome,
    SubmitRequest,
    new_job_id,
)
from facesvg.service.observability import logger
from facesvg.service.ports import Blob, BlobStore, JobQueue, JobRepository, RenderCore
from facesvg.service.scopes import DROP_SCOPE, LOCAL_SCOPE, client_scope
from facesvg.service.settings import Settings
from facesvg.service.subscriptions import Subscriptions, new_callback
from facesvg.service.url_policy import check_callback_url

# A failure with one of these codes was not the caller's fault: an identical submit may retry it.
RETRYABLE_FAILURES = frozenset({"ProcessingFailed"})


@dataclass(frozen=True)
class ExpiredJob:
    """The cache item names a job whose item has expired (TTL removes the two independently): the
    hash is free to take over, as from a job that failed for a reason that was not the caller's."""

    job_id: str


@dataclass
class Submitter:
    jobs: JobRepository
    blobs: BlobStore
    queue: JobQueue
    core: RenderCore
    settings: Settings
    clock: Callable[[], float]
    subscriptions: Subscriptions  # callers' callbacks on their jobs
    announce_ends: bool = False  # a bus takes job-end events: a job created ended publishes one too

    def submit_request(self, request: SubmitRequest, scope: str = LOCAL_SCOPE) -> SubmitOutcome:
        """An API submit: the callback URL checked, the inputs decoded and hashed, the job found or
        made (``submit``), the caller subscribed. ``scope``: the caller's API key scope."""
        callback = None
        if request.callback_url is not None:  # refused before any work (400 naming callback_url)
            check_callback_url(request.callback_url, self.settings.url_policy)
            callback = new_callback(request.callback_url, request.client_reference)
        image = decode_base64(request.image, "image")
        segmentation_map = (
            decode_base64(request.segmentation_map, "segmentation_map")
            if request.segmentation_map is not None
            else None
        )
        prepared = prepare(
            self.core, self.settings.limits, image, segmentation_map, request.landmarks, request.options
        )
        outcome = self.submit(prepared, "api", scope=scope, callback=callback)
        # A caller who joined a job, or got one created over an earlier render (already completed,
        # so no worker will announce it), is subscribed: an ended job is delivered at once.
        if callback is not None and (not outcome.created or outcome.job.status.terminal):
            self.subscriptions.subscribe(outcome.job, callback)
        return outcome

    def submit(
        self,
        prepared: PreparedInputs,
        source: str,
        publish_to: frozenset[str] = frozenset(),
        scope: str = LOCAL_SCOPE,
        callback: Callback | None = None,  # the creator's; a caller who joins is added by notify
    ) -> SubmitOutcome:
        cached = self._lookup(prepared.content_hash, scope)
        if isinstance(cached, Job) and not _replaceable(cached):
            self._requeue_if_stuck(cached)
            self._announce_if_unannounced(cached)
            return SubmitOutcome(cached, created=False)
        replace = cached.job_id if cached else None

        # An API client's new job is made as every new job is, even over a finished render of
        # another client's: the same checks, upload, queue and answer (202 pending), and the worker
        # hands the render over no sooner than a render would end. Nothing it sees, nor the time it
        # takes, tells it that someone else sent these inputs. The drop folder (the operator's,
        # answered to no client) takes a finished render at once.
        if scope == DROP_SCOPE:
            rendered = self.jobs.get_render(prepared.content_hash)
            if rendered is not None:
                return self._reuse(prepared, source, publish_to, scope, rendered, replace)

        # The inputs upload while the core checks them; the job id is sent to the queue only after
        # both, so no worker can look for inputs that are not there yet.
        upload = self.blobs.begin_put_many(_input_blobs(prepared))
        try:
            self.core.check_inputs(
                prepared.image,
                prepared.segmentation_map,
                prepared.landmarks_json.decode(),
                limits=self.settings.limits,
                label_scheme=prepared.options.label_scheme,
            )
        except Exception:
            with suppress(Exception):  # refused anyway: only wait for it, to remove what it wrote
                upload.result()
            self._delete_inputs(prepared)
            raise

        now_epoch = self.clock()
        job = _new_job(prepared, source, publish_to, scope, utc_now_iso(now_epoch), callback)
        expires_at = self.settings.expires_at(now_epoch)
        holder = self.jobs.create_job(job, expires_at, replace_job_id=replace)
        try:
            upload.result()
        except Exception as exc:
            if holder is None:
                self.jobs.delete_created_job(job)
            raise ServiceUnavailable("could not store the inputs, retry shortly") from exc

        if holder is not None:
            # Lost the race to an identical submit: return the winner's job, enqueue nothing.
            winner = self.jobs.get_job(holder)
            if winner is None:
                raise ServiceUnavailable("the job for these inputs is being replaced, retry shortly")
            logger.info("duplicate submit joined the existing job", extra={"job_id": winner.job_id})
            return SubmitOutcome(winner, created=False)

        try:
            self.queue.send(JobMessage(job_id=job.job_id, content_hash=job.content_hash))
        except Exception as exc:
            logger.exception("could not enqueue job; rolling back", extra={"job_id": job.job_id})
            self.jobs.delete_created_job(job)
            raise ServiceUnavailable("could not enqueue the job, retry shortly") from exc
        logger.info(
            "job created", extra={"job_id": job.job_id, "content_hash": job.content_hash, "source": source}
        )
        return SubmitOutcome(job, created=True)

    def _reuse(
        self,
        prepared: PreparedInputs,
        source: str,
        publish_to: frozenset[str],
        scope: str,
        rendered: JobResult,
        replace: str | None,
    ) -> SubmitOutcome:
        """This content was rendered before: the drop folder gets its own job record, already
        completed, over the shared ``results/<hash>/``."""
        now_epoch = self.clock()
        now = utc_now_iso(now_epoch)
        job = _new_job(prepared, source, publish_to, scope, now).model_copy(
            update={"status": JobStatus.COMPLETED, "result": rendered}
        )
        job = self._owing_its_event(job)
        expires_at = self.settings.expires_at(now_epoch)
        holder = self.jobs.create_job(job, expires_at, replace_job_id=replace)
        if holder is not None:
            winner = self.jobs.get_job(holder)
            if winner is None:
                raise ServiceUnavailable("the job for these inputs is being replaced, retry shortly")
            return SubmitOutcome(winner, created=False)
        logger.info(
            "job created from an existing render",
            extra={"job_id": job.job_id, "content_hash": job.content_hash, "source": source},
        )
        self._announce(job)
        return SubmitOutcome(job, created=True)

    def _owing_its_event(self, job: Job) -> Job:
        """A job about to be written already ended carries the outbox flag, unclaimed (anyone may
        publish); any other job gets it from the write that ends it (``worker``)."""
        if not (self.announce_ends and job.status.terminal):
            return job
        return job.model_copy(update={"event_state": EventState.PENDING, "event_claim_until": 0.0})

    def _announce(self, job: Job) -> None:
        """Hand a job created ended to the process queue: its worker publishes the job-end event
        (the conditional claim on the flag makes that once, however many messages arrive)."""
        if not (job.status.terminal and job.event_state is EventState.PENDING):
            return
        try:
            self.queue.send(JobMessage(job_id=job.job_id))
        except Exception as exc:
            # The job stands (it is complete); the caller's retry finds its event unannounced.
            logger.exception("could not announce a job created ended", extra={"job_id": job.job_id})
            raise ServiceUnavailable("could not enqueue the job, retry shortly") from exc

    def _announce_if_unannounced(self, job: Job) -> None:
        """A job created ended whose announcement was lost (the submit died or could not enqueue):
        its own client's next identical submit announces it again."""
        if not (self.announce_ends and job.status.terminal and job.event_state is EventState.PENDING):
            return
        try:
            age = self.clock() - epoch_of(job.updated_at)
        except ValueError:
            return
        if age >= self.settings.requeue_pending_seconds and (job.event_claim_until or 0.0) < self.clock():
            logger.warning("announcing a job-end event nobody published", extra={"job_id": job.job_id})
            self._announce(job)

    def _lookup(self, digest: str, scope: str) -> Job | ExpiredJob | None:
        job_id = self.jobs.get_cached_job_id(digest, scope)
        if job_id is None:
            return None
        return self.jobs.get_job(job_id) or ExpiredJob(job_id)

    def _requeue_if_stuck(self, job: Job) -> None:
        """A job still pending long after it was written may have lost its message (the submit that
        created it died before the send). Enqueue it again: processing is idempotent, and the
        conditional touch lets only one of several concurrent submits do it."""
        if job.status is not JobStatus.PENDING:
            return
        now_epoch = self.clock()
        try:
            age = now_epoch - epoch_of(job.updated_at)
        except ValueError:
            return
        if age < self.settings.requeue_pending_seconds:
            return
        if self.jobs.touch_pending(job.job_id, job.updated_at, utc_now_iso(now_epoch)):
            logger.warning(
                "re-enqueueing a job pending for too long", extra={"job_id": job.job_id, "age_s": int(age)}
            )
            self.queue.send(JobMessage(job_id=job.job_id, content_hash=job.content_hash))

    def _delete_inputs(self, prepared: PreparedInputs) -> None:
        for key in input_keys(prepared.content_hash).values():
            try:
                self.blobs.delete(key)
            except Exception:  # best effort: the bucket's lifecycle rule expires inputs/ anyway
                logger.warning("could not remove rejected inputs", extra={"key": key})


def _replaceable(job: Job) -> bool:
    return job.status is JobStatus.FAILED and job.error is not None and job.error.code in RETRYABLE_FAILURES


def _new_job(
    prepared: PreparedInputs,
    source: str,
    publish_to: frozenset[str],
    scope: str,
    now: str,
    callback: Callback | None = None,
) -> Job:
    return Job(
        callbacks=(callback,) if callback else (),
        job_id=new_job_id(),
        content_hash=prepared.content_hash,
        status=JobStatus.PENDING,
        created_at=now,
        updated_at=now,
        source=source,
        scope=scope,
        publish_to=publish_to,
    )


def _input_blobs(p: PreparedInputs) -> list[Blob]:
    keys = input_keys(p.content_hash)
    return [
        Blob(keys["image"], p.image, f"image/{_image_extension(p.image)}"),
        # An empty object stands for "no map" (a map sent is never empty: refused as Empty).
        Blob(keys["segmentation_map"], p.segmentation_map or b"", "image/png"),
        Blob(keys["landmarks"], p.landmarks_json, "application/json"),
        Blob(keys["options"], p.options_json, "application/json"),
    ]


# The stored photo's content type: the core's sniffing, in the names S3 objects have always carried.
_EXTENSIONS = {"jpeg": "jpg", "heif": "heic"}


def _image_extension(data: bytes) -> str:
    kind = sniff_format(data)
    return "bin" if kind is None else _EXTENSIONS.get(kind, kind)


# DROP_SCOPE, LOCAL_SCOPE and client_scope live in facesvg.service.scopes; re-exported here.
__all__ = [
    "DROP_SCOPE",
    "LOCAL_SCOPE",
    "RETRYABLE_FAILURES",
    "ExpiredJob",
    "SubmitOutcome",
    "Submitter",
    "client_scope",
]
