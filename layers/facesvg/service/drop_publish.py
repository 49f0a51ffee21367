"""Publishing a drop folder's state to ``results/<name>/``: a finished job's results (or its error),
or the error of a refused set, written by one publisher at a time under the folder's lease, and only
while that state is still the folder's current one (see ``facesvg.service.dropfolder``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from facesvg.service import layout
from facesvg.service.errors import TransientError
from facesvg.service.models import Job, JobStatus
from facesvg.service.observability import logger
from facesvg.service.ports import BlobStore, JobRepository

# How long a publisher owns a folder: a publish (server-side copies) takes well under 2 s; a
# publisher that died holding it (a function timeout) blocks the folder this long at most, and its
# redelivery (or the event's retry) publishes again.
PUBLISH_LEASE_SECONDS = 20.0


@dataclass
class Publisher:
    """Writes ``results/<name>/`` for the folder's current state, one publisher at a time."""

    blobs: BlobStore
    jobs: JobRepository
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    lease_seconds: float = PUBLISH_LEASE_SECONDS

    def publish(self, job: Job, publish_names: Iterable[str]) -> None:
        """Publish a finished job to each drop folder whose current set it is (the worker on
        completion or failure, ingest when the job had already finished). Idempotent."""
        if not job.status.terminal:
            return
        for name in publish_names:
            if not layout.is_drop_name(name):
                continue
            state = self.jobs.get_drop(name)
            if state is None or state.job_id != job.job_id:
                logger.info(
                    "drop folder has moved on to another set; not publishing",
                    extra={"job_id": job.job_id, "drop_name": name},
                )
                continue
            if job.status is JobStatus.COMPLETED and job.result is not None:
                self._locked(name, state.seq, partial(self._write_results, name, job))
            elif job.error is not None:
                error = {"id": job.job_id, "error": job.error.model_dump()}
                self._locked(name, state.seq, partial(self._write_error, name, error, job))

    def publish_error(self, name: str, seq: int, error: dict[str, Any]) -> None:
        """State ``seq`` of the folder is an error without a job (refused inputs or file names)."""
        self._locked(name, seq, partial(self._write_error, name, error, None))

    # -- the lease -------------------------------------------------------------------------------

    def _locked(self, name: str, seq: int, write: Callable[[], None]) -> None:
        owner = uuid.uuid4().hex
        deadline = self.clock() + self.lease_seconds + 5
        while True:
            now = self.clock()
            if self.jobs.acquire_drop_publish(name, seq, owner, now, now + self.lease_seconds):
                break
            state = self.jobs.get_drop(name)
            if state is None or state.seq != seq or state.published_seq >= seq:
                return  # superseded by a newer state, or already published
            if now > deadline:
                raise TransientError(f"drop folder {name} is held by another publisher")
            self.sleep(0.1)
        try:
            write()
        except Exception:
            self.jobs.release_drop_publish(name, seq, owner, published=False)  # a retry writes it all again
            raise
        self.jobs.release_drop_publish(name, seq, owner)
        logger.info("drop folder published", extra={"drop_name": name, "seq": seq})

    # -- what a state looks like in results/<name>/ ---------------------------------------------

    def _write_results(self, name: str, job: Job) -> None:
        assert job.result is not None
        dest = layout.drop_results_prefix(name)
        source = job.result.prefix
        svg_dest = layout.svg_key(dest)
        sources = self.blobs.list_keys(source)
        wanted = {dest + src[len(source) :] for src in sources} | {layout.drop_pointer_key(name)}
        existing = set(self.blobs.list_keys(dest))
        # face.svg goes first and comes back last: while it is absent the folder is being replaced.
        if svg_dest in existing:
            self.blobs.delete(svg_dest)
        for key in sorted(existing - wanted - {svg_dest}):
            self.blobs.delete(key)  # error.json, regions the new render does not have, …
        self.write_pointer(name, job)
        for src in sources:
            if not src.endswith("/face.svg"):
                self.blobs.copy(src, dest + src[len(source) :])
        self.blobs.copy(layout.svg_key(source), svg_dest)

    def _write_error(self, name: str, error: dict[str, Any], job: Job | None) -> None:
        dest = layout.drop_results_prefix(name)
        svg_dest = layout.svg_key(dest)
        keep = {layout.drop_error_key(name)} | ({layout.drop_pointer_key(name)} if job else set())
        existing = self.blobs.list_keys(dest)
        if svg_dest in existing:
            self.blobs.delete(svg_dest)
        for key in existing:
            if key not in keep and key != svg_dest:
                self.blobs.delete(key)
        if job is not None:
            self.write_pointer(name, job)
        self.blobs.put(layout.drop_error_key(name), json.dumps(error).encode(), "application/json")

    def write_pointer(self, name: str, job: Job) -> None:
        self.blobs.put(
            layout.drop_pointer_key(name),
            json.dumps({"id": job.job_id, "content_hash": job.content_hash}).encode(),
            "application/json",
        )
