"""``JobService``: one front over the use cases, for the handlers, the API and the local runtime.

It only wires: the rules live in ``submit``, ``worker``, ``status``, ``dropfolder`` (ingest) and
``drop_publish``, each reading top to bottom against the ports (``facesvg.service.ports``), which
``facesvg.service.composition`` implements on AWS and the unit tests with in-memory fakes. One use case
reaches another only through a port built here (the worker's drop publisher and job-end events,
the drop folder's submitter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from facesvg.service.results_cache import DEFAULT_MAX_BYTES, ImmutableCache
from facesvg.service.scopes import LOCAL_SCOPE

# Each use case is imported where it is first needed, not here: a function imports only the rules
# it runs (the status function never loads hashing, the submit rules or the webhook code; the API
# functions never the worker), which keeps every handler's import short.
if TYPE_CHECKING:
    from facesvg.core.options import Limits, RenderOptions
    from facesvg.service.drop_publish import Publisher
    from facesvg.service.dropfolder import DropFolder, IngestOutcome
    from facesvg.service.hashing import PreparedInputs
    from facesvg.service.models import Job, SubmitOutcome, SubmitRequest
    from facesvg.service.ports import (
        BlobStore,
        EventPublisher,
        JobQueue,
        JobRepository,
        LandmarkDocument,
        NotifyQueue,
        RenderCore,
    )
    from facesvg.service.settings import Settings
    from facesvg.service.status import StatusReader, StatusView
    from facesvg.service.submit import Submitter
    from facesvg.service.worker import ProcessOutcome, Worker


@dataclass
class JobService:
    jobs: JobRepository
    blobs: BlobStore
    queue: JobQueue
    settings: Settings
    core: RenderCore | None = None  # None: the real core, imported on first use
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # results/<hash>/ never changes once written, so a warm environment may keep recent ones.
    _result_cache: ImmutableCache = field(
        default_factory=lambda: ImmutableCache(DEFAULT_MAX_BYTES), repr=False
    )
    # Notifications (facesvg.service.notify): the bus job-end events go to, and the webhook
    # delivery queue (a caller who subscribes to a job that already ended is queued at once).
    events: EventPublisher | None = None
    notify_queue: NotifyQueue | None = None

    @property
    def render_core(self) -> RenderCore:
        if self.core is None:
            from facesvg.service.ports import RenderCore

            self.core = RenderCore.default()
        return self.core

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    # -- submit -------------------------------------------------------------------------------

    def prepare(
        self,
        image: bytes,
        segmentation_map: bytes | None,
        landmarks: LandmarkDocument,
        options: RenderOptions,
    ) -> PreparedInputs:
        from facesvg.service.hashing import prepare

        return prepare(self.render_core, self.limits, image, segmentation_map, landmarks, options)

    def submit_request(self, request: SubmitRequest, scope: str = LOCAL_SCOPE) -> SubmitOutcome:
        """``scope``: the caller's API key scope (``scopes.client_scope``)."""
        return self._submitter.submit_request(request, scope)

    def submit(
        self,
        prepared: PreparedInputs,
        source: str,
        publish_name: str | None = None,
        scope: str = LOCAL_SCOPE,
    ) -> SubmitOutcome:
        if publish_name:
            return self._drop_folder.submit(prepared, publish_name, source)
        return self._submitter.submit(prepared, source, scope=scope)

    # -- status, process, drop folder ---------------------------------------------------------

    def get_job(self, job_id: str, scope: str | None = None) -> Job:
        """``scope``: the API caller's (``scopes.client_scope``); another scope's job is not found.
        ``None`` only for callers inside the service (the local runtime, tests)."""
        return self._status.get_job(job_id, scope)

    def status_view(self, job: Job) -> StatusView:
        return self._status.view(job)

    def process(self, job_id: str, receive_count: int = 1, content_hash: str | None = None) -> ProcessOutcome:
        return self._worker.process(job_id, receive_count, content_hash)

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        return self._drop_folder.ingest(bucket, key)

    # -- wiring (built on first use: the status function never loads the render core) ----------

    @cached_property
    def _submitter(self) -> Submitter:
        from facesvg.service.submit import Submitter
        from facesvg.service.subscriptions import Subscriptions

        return Submitter(
            self.jobs,
            self.blobs,
            self.queue,
            self.render_core,
            self.settings,
            self.clock,
            subscriptions=Subscriptions(self.jobs, self.notify_queue),
            announce_ends=self.events is not None,
        )

    @cached_property
    def _publisher(self) -> Publisher:
        from facesvg.service.drop_publish import Publisher

        return Publisher(self.blobs, self.jobs, self.clock, self.sleep)

    @cached_property
    def _drop_folder(self) -> DropFolder:
        from facesvg.service.dropfolder import DropFolder

        return DropFolder(
            self.jobs,
            self.blobs,
            self.render_core,
            self.settings,
            self._submitter,
            self._publisher,
            self.clock,
        )

    @cached_property
    def _worker(self) -> Worker:
        from facesvg.service.job_events import EventOutbox
        from facesvg.service.worker import Worker

        outbox = EventOutbox(self.jobs, self.events, self.clock) if self.events is not None else None
        return Worker(
            self.jobs,
            self.blobs,
            self.render_core,
            self.settings,
            self._publisher,
            self.clock,
            self.sleep,
            outbox,
        )

    @cached_property
    def _status(self) -> StatusReader:
        from facesvg.service.results_cache import CachingReader
        from facesvg.service.status import StatusReader

        results = CachingReader(self.blobs, self._result_cache)
        return StatusReader(self.jobs, self.blobs, results, self.settings.presign_seconds)
