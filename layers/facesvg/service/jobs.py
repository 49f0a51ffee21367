"""Jobs: content hash, idempotent submit, the job state machine, processing and the drop folder.

``JobService`` holds the rules and nothing else: it reaches storage, the queue and the render core
only through the small interfaces below, so unit tests pass in-memory fakes (no patching) and
``facesvg.service.store`` provides the AWS implementations.

Idempotency, in one place:

* **Submit** hashes the inputs first (decoded bytes + canonical landmarks + canonical options +
  pipeline version) and looks the hash up: a hit returns the existing job without decoding a
  pixel. On a miss the job item and the hash-keyed cache item are written in one conditional
  transaction; only its winner enqueues, so concurrent identical submits make one job.
* **Process** claims the job with a conditional ``pending → processing`` update (a lease, so a
  concurrent duplicate delivery cannot render at the same time), and finishes it with a conditional
  ``processing → completed | failed`` update owned by the same lease token. A message for a
  finished job does nothing. Statuses never move backwards.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from facesvg import names
from facesvg.core.errors import Field as InputField
from facesvg.core.errors import InputError
from facesvg.core.options import Limits, RenderOptions
from facesvg.service import metrics_catalog as mc
from facesvg.service.models import (
    Job,
    JobError,
    JobMessage,
    JobResult,
    JobStatus,
    SubmitRequest,
)
from facesvg.service.observability import logger, record, tracer
from facesvg.service.settings import Settings

HASH_DOMAIN = b"facesvg/content-hash/v1\n"
LANDMARK_DECIMALS = 3  # 1/1000 px: below any visible difference, above float noise

# A failure with one of these codes was not the caller's fault: an identical submit may retry it.
RETRYABLE_FAILURES = frozenset({"ProcessingFailed"})

_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,", re.IGNORECASE)
_REGION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_INGEST_NAME = re.compile(names.INGEST_NAME_PATTERN)
INGEST_IMAGE_FILES = ("image.png", "image.jpg", "image.jpeg")
INGEST_MAP_FILES = ("segmentation_map.png",)
INGEST_LANDMARK_FILES = ("landmarks.json", "landmarks.txt")
INGEST_FILES = frozenset(INGEST_IMAGE_FILES + INGEST_MAP_FILES + INGEST_LANDMARK_FILES)


# ------------------------------------------------------------------------------------- errors


class ServiceError(Exception):
    """An error the API turns into a JSON error response (``facesvg.service.api`` maps them)."""

    code = "ServiceError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobNotFound(ServiceError):
    code = "NotFound"


class ServiceUnavailable(ServiceError):
    code = "ServiceUnavailable"


class PayloadTooLarge(ServiceError):
    code = "PayloadTooLarge"


class TransientError(Exception):
    """Raised by ``process`` to make SQS deliver the message again later."""


# ------------------------------------------------------------------------------------ ports


class JobRepository(Protocol):
    """The job table: job items ``JOB#<id>`` and cache items ``HASH#<content hash>``."""

    def get_job(self, job_id: str) -> Job | None: ...

    def get_cached_job_id(self, content_hash: str) -> str | None: ...

    def create_job(self, job: Job, expires_at: int, replace_job_id: str | None = None) -> str | None:
        """Write the job and its cache item atomically. Returns None when this call created
        them, or the id of the job that already holds the hash (the caller lost the race)."""
        ...

    def delete_created_job(self, job: Job) -> None:
        """Undo ``create_job`` for a job that could not be enqueued (only while pending)."""
        ...

    def claim(self, job_id: str, token: str, now: str, now_epoch: float, lease_until: float) -> Job | None:
        """pending → processing (or take over an expired lease). None if not claimable."""
        ...

    def release(self, job_id: str, token: str, now: str) -> None:
        """Give the lease back after a transient failure (the status stays processing)."""
        ...

    def complete(self, job_id: str, token: str, result: JobResult, now: str) -> Job | None:
        """processing → completed, only by the lease holder. None if the condition failed."""
        ...

    def fail(self, job_id: str, token: str, error: JobError, now: str) -> Job | None:
        """processing → failed, only by the lease holder. None if the condition failed."""
        ...

    def add_publish_name(self, job_id: str, name: str) -> Job | None:
        """Add a drop-folder name whose ``results/<name>/`` receives the results."""
        ...

    def touch_pending(self, job_id: str, seen_updated_at: str, now: str) -> bool:
        """Move ``updated_at`` forward if the job is still pending and unchanged since it was read
        (so only one caller re-enqueues a job whose message may have been lost)."""
        ...


class BlobStore(Protocol):
    """The data bucket."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def copy(self, source_key: str, dest_key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def presign_get(self, key: str, expires_in: int) -> str: ...


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...


class RenderResultLike(Protocol):
    """The parts of ``facesvg.core.pipeline.RenderResult`` the service uses."""

    @property
    def svg(self) -> bytes: ...

    @property
    def region_svgs(self) -> dict[str, bytes]: ...

    @property
    def transform(self) -> list[list[float]]: ...

    @property
    def missing(self) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RenderCore:
    """The four things the service needs from ``facesvg.core`` (fakes in unit tests)."""

    parse_landmarks: Callable[[Any], Any]
    check_inputs: Callable[..., Any]  # validate for accepting a request (raises InputError)
    render: Callable[..., RenderResultLike]
    pipeline_version: str

    @classmethod
    def default(cls) -> RenderCore:
        """The real core. ``render`` (and SciPy with it) is imported on first use only: the submit
        and ingest functions validate and hash but never render, and their zip layer has no SciPy."""
        from facesvg.core.inputs import check_inputs, parse_landmarks

        @tracer.capture_method(capture_response=False)
        def render(*args: Any, **kwargs: Any) -> RenderResultLike:
            from facesvg.core.pipeline import render as core_render

            return core_render(*args, **kwargs)

        return cls(parse_landmarks, check_inputs, render, _pipeline_version())


def _pipeline_version() -> str:
    """The render core's output version (part of the content hash), from its light module."""
    from facesvg.core.version import PIPELINE_VERSION

    return PIPELINE_VERSION


# ---------------------------------------------------------------------------- content hash


def decode_base64(value: str, field: InputField) -> bytes:
    """Strict base64 (a ``data:…;base64,`` prefix and line breaks are tolerated)."""
    text = _DATA_URL.sub("", value.strip(), count=1)
    if any(ws in text for ws in (" ", "\n", "\r", "\t")):  # each test is one C-speed scan
        text = "".join(text.split())
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(field, "is not valid base64", code="InvalidBase64") from exc
    if not data:
        raise InputError(field, "is empty", code="Empty")
    return data


def canonical_landmarks(landmarks: Any) -> bytes:
    """Landmarks as canonical JSON in the QOVES shape (points rounded, dimensions kept).

    The same document is stored as ``inputs/<hash>/landmarks.json`` and is what the worker
    renders, so the hash always describes exactly what gets rendered.
    """
    # 0..1 coordinates are scaled to the photo later: keep 1/1000 px up to a 10^6 px side.
    decimals = LANDMARK_DECIMALS + 6 if getattr(landmarks, "normalised", False) else LANDMARK_DECIMALS
    points = [
        {"x": round(float(x), decimals), "y": round(float(y), decimals)} for x, y in landmarks.points.tolist()
    ]
    dims = list(landmarks.dimensions) if landmarks.dimensions is not None else None
    doc: dict[str, Any] = {"landmarks": [points]}
    if dims is not None:
        doc["dimensions"] = [int(d) for d in dims]
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def canonical_options(options: RenderOptions) -> bytes:
    return json.dumps(options.model_dump(mode="json"), separators=(",", ":"), sort_keys=True).encode()


def content_hash(
    image: bytes, segmentation_map: bytes, landmarks_json: bytes, options_json: bytes, pipeline_version: str
) -> str:
    """sha256 over length-prefixed parts, so no two different inputs share a byte stream."""
    digest = hashlib.sha256(HASH_DOMAIN)
    for part in (pipeline_version.encode(), image, segmentation_map, landmarks_json, options_json):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def sniff_image_extension(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "bin"


@dataclass(frozen=True)
class PreparedInputs:
    """Decoded, canonicalised inputs and their content hash (no pixels decoded yet)."""

    image: bytes
    segmentation_map: bytes
    landmarks_json: bytes
    options: RenderOptions
    options_json: bytes
    content_hash: str

    @property
    def input_prefix(self) -> str:
        return f"{names.PREFIX_INPUTS}{self.content_hash}/"


def input_keys(prefix: str) -> dict[str, str]:
    return {
        "image": f"{prefix}image",
        "segmentation_map": f"{prefix}segmentation_map",
        "landmarks": f"{prefix}landmarks.json",
        "options": f"{prefix}options.json",
    }


@dataclass(frozen=True)
class InputDownload:
    """A job's inputs being downloaded: name → future of its bytes."""

    content_hash: str
    futures: dict[str, Future[bytes]]

    def result(self) -> dict[str, bytes]:
        return {name: future.result() for name, future in self.futures.items()}


_INPUT_COUNT = len(input_keys(""))


def results_prefix(content_hash: str) -> str:
    return f"{names.PREFIX_RESULTS}{content_hash}/"


# -------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class SubmitOutcome:
    job: Job
    created: bool


class ProcessOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # permanent: the inputs cannot be rendered
    ALREADY_DONE = "already_done"  # redelivery of a finished job: no work
    LOST_RACE = "lost_race"  # another worker finished it first
    MISSING = "missing"  # no such job (expired or never created)


class IngestOutcome(StrEnum):
    IGNORED = "ignored"
    WAITING = "waiting"  # not all three files are there yet
    SUBMITTED = "submitted"
    INVALID = "invalid"


@dataclass(frozen=True)
class StatusView:
    """Everything the status response needs, already read from storage."""

    job: Job
    svg: bytes | None = None
    svg_url: str | None = None
    mask_contours: dict[str, list[list[float]]] | None = None
    regions_svg_urls: dict[str, str] | None = None


class ImmutableCache:
    """A small thread-safe LRU for immutable values, bounded by total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._size -= evicted


def utc_now_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------- service


@dataclass
class JobService:
    jobs: JobRepository
    blobs: BlobStore
    queue: JobQueue
    settings: Settings
    core: RenderCore | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # results/<hash>/ never changes once written, so a warm environment may keep recent ones.
    _results: ImmutableCache = field(default_factory=lambda: ImmutableCache(64 * 1024 * 1024), repr=False)

    # -- helpers -------------------------------------------------------------------------

    @property
    def render_core(self) -> RenderCore:
        if self.core is None:
            self.core = RenderCore.default()
        return self.core

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    def _now(self) -> tuple[float, str]:
        t = self.clock()
        return t, utc_now_iso(t)

    # -- submit ----------------------------------------------------------------------------

    def prepare(
        self, image: bytes, segmentation_map: bytes, landmarks: Any, options: RenderOptions
    ) -> PreparedInputs:
        """Canonicalise and hash. Cheap: parses the landmarks, never decodes the images."""
        for fld, data in (("image", image), ("segmentation_map", segmentation_map)):
            if len(data) > self.limits.max_image_bytes:
                raise InputError(fld, f"is larger than {self.limits.max_image_bytes} bytes", code="TooLarge")  # type: ignore[arg-type]
        parsed = self.render_core.parse_landmarks(landmarks)
        landmarks_json = canonical_landmarks(parsed)
        options_json = canonical_options(options)
        digest = content_hash(
            image, segmentation_map, landmarks_json, options_json, self.render_core.pipeline_version
        )
        return PreparedInputs(image, segmentation_map, landmarks_json, options, options_json, digest)

    def submit_request(self, request: SubmitRequest) -> SubmitOutcome:
        image = decode_base64(request.image, "image")
        segmentation_map = decode_base64(request.segmentation_map, "segmentation_map")
        prepared = self.prepare(image, segmentation_map, request.landmarks, request.options)
        return self.submit(prepared, source="api")

    def submit(self, prepared: PreparedInputs, source: str, publish_name: str | None = None) -> SubmitOutcome:
        """Return the job for these inputs, creating and enqueueing it at most once."""
        existing = self._find(prepared.content_hash)
        if existing is not None and not _replaceable(existing):
            self._requeue_if_stuck(existing)
            return SubmitOutcome(self._with_publish(existing, publish_name), created=False)

        # A miss. The inputs upload while the core checks them (``check_inputs``); if
        # they are invalid the upload is removed again before answering, so a rejected request
        # leaves nothing behind. Then the conditional transaction; the job id is sent to the queue
        # only after both, so no worker can look for inputs that are not there yet.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inputs") as pool:
            uploading = pool.submit(self._put_inputs, prepared)
            try:
                self.render_core.check_inputs(
                    prepared.image,
                    prepared.segmentation_map,
                    prepared.landmarks_json.decode(),
                    limits=self.limits,
                )
            except Exception:
                wait([uploading])
                self._delete_inputs(prepared)
                raise
            now_epoch, now = self._now()
            job = Job(
                job_id=uuid.uuid4().hex,
                content_hash=prepared.content_hash,
                status=JobStatus.PENDING,
                created_at=now,
                updated_at=now,
                source=source,
                publish_to=frozenset({publish_name}) if publish_name else frozenset(),
            )
            expires_at = int(now_epoch) + self.settings.job_ttl_days * 86400
            replace = existing.job_id if existing is not None else None
            holder = self.jobs.create_job(job, expires_at, replace_job_id=replace)
            try:
                uploading.result()
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
            return SubmitOutcome(self._with_publish(winner, publish_name), created=False)

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

    def _requeue_if_stuck(self, job: Job) -> None:
        """A job still pending long after it was written may have lost its message (the submit that
        created it died before the send). Enqueue it again: processing is idempotent, and the
        conditional touch lets only one of several concurrent submits do it."""
        if job.status is not JobStatus.PENDING:
            return
        now_epoch, now = self._now()
        try:
            age = now_epoch - datetime.fromisoformat(job.updated_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return
        if age < self.settings.requeue_pending_seconds:
            return
        if self.jobs.touch_pending(job.job_id, job.updated_at, now):
            logger.warning(
                "re-enqueueing a job pending for too long", extra={"job_id": job.job_id, "age_s": int(age)}
            )
            self.queue.send(JobMessage(job_id=job.job_id, content_hash=job.content_hash))

    def _find(self, digest: str) -> Job | None:
        job_id = self.jobs.get_cached_job_id(digest)
        if job_id is None:
            return None
        job = self.jobs.get_job(job_id)
        if job is None:  # the job item expired before its cache item: treat as replaceable
            return Job(
                job_id=job_id,
                content_hash=digest,
                status=JobStatus.FAILED,
                created_at="",
                updated_at="",
                error=JobError(code="ProcessingFailed", message="expired"),
            )
        return job

    def _put_inputs(self, p: PreparedInputs) -> None:
        keys = input_keys(p.input_prefix)
        _put_all(
            self.blobs,
            [
                (keys["image"], p.image, f"image/{sniff_image_extension(p.image)}"),
                (keys["segmentation_map"], p.segmentation_map, "image/png"),
                (keys["landmarks"], p.landmarks_json, "application/json"),
                (keys["options"], p.options_json, "application/json"),
            ],
        )

    def _delete_inputs(self, p: PreparedInputs) -> None:
        for key in input_keys(p.input_prefix).values():
            try:
                self.blobs.delete(key)
            except Exception:  # best effort: the bucket's lifecycle rule expires inputs/ anyway
                logger.warning("could not remove rejected inputs", extra={"key": key})

    def _with_publish(self, job: Job, name: str | None) -> Job:
        """Attach a drop-folder name to an existing job; publish now if it already finished."""
        if not name:
            return job
        if name not in job.publish_to:
            job = self.jobs.add_publish_name(job.job_id, name) or job
        # The name is now on the item: a worker finishing later publishes it; one that finished
        # earlier did not see it, so publish here (copies are idempotent).
        if job.status.terminal:
            self._publish(job, [name])
        return job

    # -- status -------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        job = self.jobs.get_job(job_id) if re.fullmatch(r"[0-9a-f]{32}", job_id) else None
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    def status_view(self, job: Job) -> StatusView:
        if job.status is not JobStatus.COMPLETED or job.result is None:
            return StatusView(job=job)
        prefix = job.result.prefix
        ttl = self.settings.presign_seconds
        regions = job.result.regions
        cached = self._results.get(prefix)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="result") as pool:
            # Not cached yet: both objects are read while this thread presigns (CPU) the URLs.
            keys = (f"{prefix}face.svg", f"{prefix}result.json")
            reads = None if cached is not None else pool.map(self.blobs.get, keys)
            urls = [self.blobs.presign_get(key, ttl) for key in _result_keys(prefix, regions)]
            if reads is not None:
                svg, doc = reads
                cached = (svg, _contours(json.loads(doc)))
                self._results.put(prefix, cached, len(svg))
        svg, contours = cached
        return StatusView(
            job=job,
            svg=svg,
            svg_url=urls[0],
            mask_contours=contours,
            regions_svg_urls=dict(zip(regions, urls[1:], strict=True)),
        )

    # -- process ------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)
    def process(self, job_id: str, receive_count: int = 1, content_hash: str | None = None) -> ProcessOutcome:
        """Render one job. Raises (→ SQS retries) only for transient problems.

        ``content_hash`` (from the message) lets the inputs download while the job is claimed; the
        claimed item decides, and a hash that does not match it is ignored.
        """
        pool = ThreadPoolExecutor(max_workers=_INPUT_COUNT, thread_name_prefix="download")
        try:
            prefetched = self._fetch_inputs(pool, content_hash) if content_hash else None
            return self._process(job_id, receive_count, pool, prefetched)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _process(
        self, job_id: str, receive_count: int, pool: Executor, prefetched: InputDownload | None
    ) -> ProcessOutcome:
        token = uuid.uuid4().hex
        now_epoch, now = self._now()
        # The conditional claim is the check: it only succeeds for a pending job (or an expired lease).
        claimed = self.jobs.claim(job_id, token, now, now_epoch, now_epoch + self.settings.lease_seconds)
        if claimed is None:
            current = self.jobs.get_job(job_id)
            if current is None:
                logger.warning("message for an unknown job; dropping it", extra={"job_id": job_id})
                return ProcessOutcome.MISSING
            if current.status.terminal:
                logger.info(
                    "job already finished; nothing to do", extra={"job_id": job_id, "status": current.status}
                )
                return ProcessOutcome.ALREADY_DONE
            raise TransientError(f"job {job_id} is being processed by another worker")

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
            try:
                if prefetched is None or prefetched.content_hash != claimed.content_hash:
                    prefetched = self._fetch_inputs(pool, claimed.content_hash)
                result = self._render(claimed, prefetched)
            except InputError as exc:
                # Permanent: the same inputs fail the same way. Mark failed; the message is done.
                logger.warning("job failed: inputs cannot be rendered", extra={**log_keys, "code": exc.code})
                error = JobError(code=exc.code, message=str(exc))
                failed = self.jobs.fail(job_id, token, error, self._now()[1])
                if failed is not None:
                    record(mc.JOBS_FAILED, 1, error_code=exc.code)
                    self._publish(failed, sorted(failed.publish_to))
                return ProcessOutcome.FAILED
            done = self.jobs.complete(job_id, token, result, self._now()[1])
        except Exception as exc:
            if receive_count >= self.settings.max_receive_count:
                logger.exception(
                    "job failed on its last attempt; the message goes to the DLQ", extra=log_keys
                )
                error = JobError(code="ProcessingFailed", message=f"{type(exc).__name__}: {exc}"[:500])
                failed = self.jobs.fail(job_id, token, error, self._now()[1])
                if failed is not None:
                    record(mc.JOBS_FAILED, 1, error_code=error.code)
                    self._publish(failed, sorted(failed.publish_to))
            else:
                record(mc.JOBS_RETRIED, 1)
                logger.warning(
                    "transient failure; SQS will retry", extra={**log_keys, "error": repr(exc)[:300]}
                )
                self.jobs.release(job_id, token, self._now()[1])
            raise

        if done is None:
            logger.warning("lease lost before completion; another worker owns the job", extra=log_keys)
            return ProcessOutcome.LOST_RACE
        logger.info("job completed", extra=log_keys)
        record(mc.JOBS_COMPLETED, 1)
        if claimed.created_at:
            created = datetime.fromisoformat(claimed.created_at.replace("Z", "+00:00")).timestamp()
            record(mc.END_TO_END_LATENCY, max(0.0, (self.clock() - created) * 1000))
        if done.publish_to:
            self._publish(done, sorted(done.publish_to))
        return ProcessOutcome.COMPLETED

    def _fetch_inputs(self, pool: Executor, content_hash: str) -> InputDownload:
        keys = input_keys(f"{names.PREFIX_INPUTS}{content_hash}/")
        return InputDownload(
            content_hash, {name: pool.submit(self.blobs.get, key) for name, key in keys.items()}
        )

    @tracer.capture_method(capture_response=False)
    def _render(self, job: Job, download: InputDownload) -> JobResult:
        t0 = time.perf_counter()
        got = download.result()
        image, segmentation_map = got["image"], got["segmentation_map"]
        landmarks = got["landmarks"].decode()
        try:
            options = RenderOptions.model_validate_json(got["options"])
        except ValueError as exc:
            raise InputError("options", f"stored options are invalid: {exc}", code="InvalidOptions") from exc
        t1 = time.perf_counter()
        result = self.render_core.render(
            image, segmentation_map, landmarks, options=options, limits=self.limits
        )
        t2 = time.perf_counter()

        prefix = results_prefix(job.content_hash)
        regions = [name for name in sorted(result.region_svgs) if _REGION_NAME.match(name)]
        if len(regions) != len(result.region_svgs):
            logger.warning("skipped regions with unsafe names", extra={"job_id": job.job_id})
        doc = result.to_json()
        uploads = [
            (f"{prefix}regions/{name}.svg", result.region_svgs[name], "image/svg+xml") for name in regions
        ]
        uploads.append(
            (f"{prefix}result.json", json.dumps(doc, separators=(",", ":")).encode(), "application/json")
        )
        uploads.append((f"{prefix}face.svg", result.svg, "image/svg+xml"))
        # ~17 objects of ~1 MB (every region SVG embeds the photo): upload them concurrently. Nobody
        # reads results/<hash>/ before the job item says completed (the drop folder's copies, which
        # users watch, are published after that, face.svg last).
        _put_all(self.blobs, uploads)
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
        raw_timings = doc.get("timings_ms")
        core_stages: dict[str, Any] = raw_timings if isinstance(raw_timings, dict) else {}
        for stage, ms in {**core_stages, **stages}.items():
            if stage != "total" and isinstance(ms, int | float):
                record(mc.STAGE_DURATION, ms, stage=stage)
        tracer.put_metadata("timings_ms", stages)
        transform = [[float(v) for v in row] for row in _as_list(result.transform)]
        return JobResult(
            prefix=prefix,
            regions=regions,
            transform=transform,
            size=[int(v) for v in _as_list(doc.get("size"))] or None,
            rotation_deg=_float_or_none(doc.get("rotation_deg")),
            missing=[str(m) for m in result.missing],
        )

    # -- drop folder --------------------------------------------------------------------------

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        """One ``incoming/<name>/<file>`` object was created; start the job once all three exist."""
        if bucket != self.settings.bucket:
            logger.warning("event for another bucket ignored", extra={"bucket": bucket[:80]})
            return IngestOutcome.IGNORED
        parsed = parse_incoming_key(key)
        if parsed is None:
            logger.warning("ignoring an object outside the drop-folder layout", extra={"key": key[:200]})
            return IngestOutcome.IGNORED
        name, _ = parsed
        folder = f"{names.PREFIX_INCOMING}{name}/"
        present = {k[len(folder) :] for k in self.blobs.list_keys(folder)}
        try:
            image_file = _one_of(present, INGEST_IMAGE_FILES, "image")
            map_file = _one_of(present, INGEST_MAP_FILES, "segmentation_map")
            landmarks_file = _one_of(present, INGEST_LANDMARK_FILES, "landmarks")
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
            prepared = self.prepare(
                self.blobs.get(folder + image_file),
                self.blobs.get(folder + map_file),
                landmarks_text,
                RenderOptions.model_validate({}),
            )
            outcome = self.submit(prepared, source=f"ingest:{name}", publish_name=name)
        except InputError as exc:
            logger.warning(
                "drop folder inputs rejected", extra={"drop_name": name, "code": exc.code, "field": exc.field}
            )
            self.blobs.put(
                f"{names.PREFIX_RESULTS}{name}/error.json",
                json.dumps({"error": exc.to_dict()}).encode(),
                "application/json",
            )
            return IngestOutcome.INVALID
        self._write_pointer(name, outcome.job)
        return IngestOutcome.SUBMITTED

    def _write_pointer(self, name: str, job: Job) -> None:
        """``results/<name>/job.json``: which job serves this drop folder."""
        self.blobs.put(
            f"{names.PREFIX_RESULTS}{name}/job.json",
            json.dumps({"id": job.job_id, "content_hash": job.content_hash}).encode(),
            "application/json",
        )

    def _publish(self, job: Job, publish_names: Iterable[str]) -> None:
        """Copy a finished job's results (or its error) to ``results/<name>/`` for each name."""
        for name in publish_names:
            if not _INGEST_NAME.match(name):
                continue
            dest = f"{names.PREFIX_RESULTS}{name}/"
            self._write_pointer(name, job)  # first: a complete set includes the pointer
            if job.status is JobStatus.COMPLETED and job.result is not None:
                # face.svg last: in a drop folder's results/<name>/ its presence means the set is complete.
                sources = sorted(
                    self.blobs.list_keys(job.result.prefix), key=lambda k: k.endswith("/face.svg")
                )
                for src in sources:
                    self.blobs.copy(src, dest + src[len(job.result.prefix) :])
                self.blobs.delete(dest + "error.json")
            elif job.status is JobStatus.FAILED and job.error is not None:
                self.blobs.put(
                    dest + "error.json",
                    json.dumps({"id": job.job_id, "error": job.error.model_dump()}).encode(),
                    "application/json",
                )
            logger.info(
                "results published to the drop folder", extra={"job_id": job.job_id, "drop_name": name}
            )


# ------------------------------------------------------------------------------------ helpers


def parse_incoming_key(key: str) -> tuple[str, str] | None:
    """``incoming/<name>/<file>`` → (name, file), or None for anything else (no path tricks:
    exactly two segments, a strict name pattern and a fixed set of file names)."""
    if not key.startswith(names.PREFIX_INCOMING):
        return None
    parts = key[len(names.PREFIX_INCOMING) :].split("/")
    if len(parts) != 2:
        return None
    name, file_name = parts
    if not _INGEST_NAME.match(name) or file_name not in INGEST_FILES:
        return None
    return name, file_name


def _result_keys(prefix: str, regions: list[str]) -> list[str]:
    """face.svg, then each region's SVG, under a job's results prefix."""
    return [f"{prefix}face.svg", *(f"{prefix}regions/{name}.svg" for name in regions)]


def _put_all(blobs: BlobStore, uploads: list[tuple[str, bytes, str]]) -> None:
    """Upload objects concurrently (boto3 clients are thread-safe); raise the first error."""
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload") as pool:
        for future in [pool.submit(blobs.put, *upload) for upload in uploads]:
            future.result()


def _one_of(present: set[str], candidates: tuple[str, ...], fld: InputField) -> str | None:
    found = [c for c in candidates if c in present]
    if len(found) > 1:
        raise InputError(fld, f"more than one file given: {', '.join(found)}", code="Ambiguous")
    return found[0] if found else None


def _replaceable(job: Job) -> bool:
    return job.status is JobStatus.FAILED and job.error is not None and job.error.code in RETRYABLE_FAILURES


def _contours(doc: Mapping[str, Any]) -> dict[str, list[list[float]]]:
    """Region → points from ``result.json`` (written by this service, so already well-typed)."""
    regions = doc.get("regions") or {}
    return {str(k): v for k, v in regions.items() if isinstance(v, list)}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
