"""The drop folder: ``incoming/<name>/`` starts the same job as the API once its three files exist;
the finished job's results (or its error) are copied to ``results/<name>/``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from facesvg.core.errors import Field as InputField
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service import layout
from facesvg.service.hashing import PreparedInputs, prepare
from facesvg.service.models import Job, JobStatus
from facesvg.service.observability import logger
from facesvg.service.ports import BlobStore, JobRepository, RenderCore
from facesvg.service.settings import Settings
from facesvg.service.submit import DROP_SCOPE, SubmitOutcome, Submitter


class IngestOutcome(StrEnum):
    IGNORED = "ignored"
    WAITING = "waiting"  # not all three files are there yet
    SUBMITTED = "submitted"
    INVALID = "invalid"


@dataclass
class Publisher:
    """Copies finished jobs to the drop folders named on them (the worker on completion, ingest
    when its job had already finished; copies are idempotent)."""

    blobs: BlobStore

    def publish(self, job: Job, publish_names: Iterable[str]) -> None:
        for name in publish_names:
            if not layout.is_drop_name(name):
                continue
            dest = layout.drop_results_prefix(name)
            self.write_pointer(name, job)  # first: a complete set includes the pointer
            if job.status is JobStatus.COMPLETED and job.result is not None:
                # face.svg last: in a drop folder's results/<name>/ its presence means the set is complete.
                sources = sorted(
                    self.blobs.list_keys(job.result.prefix), key=lambda k: k.endswith("/face.svg")
                )
                for src in sources:
                    self.blobs.copy(src, dest + src[len(job.result.prefix) :])
                self.blobs.delete(layout.drop_error_key(name))
            elif job.status is JobStatus.FAILED and job.error is not None:
                self.blobs.put(
                    layout.drop_error_key(name),
                    json.dumps({"id": job.job_id, "error": job.error.model_dump()}).encode(),
                    "application/json",
                )
            logger.info(
                "results published to the drop folder", extra={"job_id": job.job_id, "drop_name": name}
            )

    def write_pointer(self, name: str, job: Job) -> None:
        self.blobs.put(
            layout.drop_pointer_key(name),
            json.dumps({"id": job.job_id, "content_hash": job.content_hash}).encode(),
            "application/json",
        )


@dataclass
class DropFolder:
    jobs: JobRepository
    blobs: BlobStore
    core: RenderCore
    settings: Settings
    submitter: Submitter
    publisher: Publisher

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        """One ``incoming/<name>/<file>`` object was created; start the job once all three exist."""
        if bucket != self.settings.bucket:
            logger.warning("event for another bucket ignored", extra={"bucket": layout.printable(bucket, 80)})
            return IngestOutcome.IGNORED
        parsed = layout.parse_incoming_key(key)
        if parsed is None:
            logger.warning(
                "ignoring an object outside the drop-folder layout", extra={"key": layout.printable(key)}
            )
            return IngestOutcome.IGNORED
        name, _ = parsed
        folder = layout.incoming_folder(name)
        present = {k[len(folder) :] for k in self.blobs.list_keys(folder)}
        try:
            image_file = _one_of(present, layout.INGEST_IMAGE_FILES, "image")
            map_file = _one_of(present, layout.INGEST_MAP_FILES, "segmentation_map")
            landmarks_file = _one_of(present, layout.INGEST_LANDMARK_FILES, "landmarks")
            if not (image_file and map_file and landmarks_file):
                logger.info(
                    "drop folder incomplete; waiting", extra={"drop_name": name, "present": sorted(present)}
                )
                return IngestOutcome.WAITING
            landmarks_raw = self.blobs.get(folder + landmarks_file)
            try:
                landmarks_text = landmarks_raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError("landmarks", "is not UTF-8 text", code="InvalidLandmarks") from exc
            prepared = prepare(
                self.core,
                self.settings.limits,
                self.blobs.get(folder + image_file),
                self.blobs.get(folder + map_file),
                landmarks_text,
                RenderOptions.model_validate({}),
            )
            outcome = self.submit(prepared, name, source=f"ingest:{name}")
        except InputError as exc:
            logger.warning(
                "drop folder inputs rejected", extra={"drop_name": name, "code": exc.code, "field": exc.field}
            )
            self.blobs.put(
                layout.drop_error_key(name),
                json.dumps({"error": exc.to_dict()}).encode(),
                "application/json",
            )
            return IngestOutcome.INVALID
        self.publisher.write_pointer(name, outcome.job)
        return IngestOutcome.SUBMITTED

    def submit(self, prepared: PreparedInputs, name: str, source: str) -> SubmitOutcome:
        """Submit with ``name`` on the job: a new job carries it from the start; an existing one
        gets it added, and is published at once if it has already finished."""
        outcome = self.submitter.submit(prepared, source, publish_to=frozenset({name}), scope=DROP_SCOPE)
        if outcome.created and not outcome.job.status.terminal:
            return outcome  # the worker publishes it
        if outcome.created:  # created finished, from another scope's render
            self.publisher.publish(outcome.job, [name])
            return outcome
        job = outcome.job
        if name not in job.publish_to:
            job = self.jobs.add_publish_name(job.job_id, name) or job
        # The name is now on the item: a worker finishing later publishes it; one that finished
        # earlier did not see it, so publish here (copies are idempotent).
        if job.status.terminal:
            self.publisher.publish(job, [name])
        return SubmitOutcome(job, created=False)


def _one_of(present: set[str], candidates: tuple[str, ...], fld: InputField) -> str | None:
    found = [c for c in candidates if c in present]
    if len(found) > 1:
        raise InputError(fld, f"more than one file given: {', '.join(found)}", code="Ambiguous")
    return found[0] if found else None
