"""What the job rules depend on: the job table, the data bucket, the queue and the render core.

The rules (``submit``, ``worker``, ``status``, ``dropfolder``) see only these Protocols, so unit
tests pass in-memory fakes and ``facesvg.service.composition`` provides the AWS adapters. Adapters raise
only the service's own errors (``facesvg.service.errors``) and own any concurrency: a rule that
wants several objects asks for them at once (``get_many`` / ``put_many``), or starts the transfer
and collects it later (``begin_*``), without seeing a thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from facesvg.core.options import Limits, RenderOptions
from facesvg.service.models import (
    Callback,
    DropState,
    Job,
    JobError,
    JobMessage,
    JobResult,
)

if TYPE_CHECKING:
    import numpy as np

T_co = TypeVar("T_co", covariant=True)

# ------------------------------------------------------------------------------------ storage


class JobRepository(Protocol):
    """The job table: job items ``JOB#<id>``, cache items ``HASH#<content hash>#<scope>`` (one job
    per client scope and content) and render items ``RENDER#<content hash>`` (a finished render of
    that content, which any scope may reuse).

    Every write is conditional; a condition that fails is an answer (None / False / the holder),
    never an exception. ``tests/contract`` runs the same suite against the fake and DynamoDB.
    """

    def get_job(self, job_id: str) -> Job | None: ...

    def get_job_in_scopes(self, job_id: str, scopes: tuple[str, ...]) -> Job | None:
        """The job only if its scope is one of ``scopes`` (``""``: an item written without one).
        Another scope's job and an unknown id are the same answer after the same one read, the
        filter applied by the store, so neither the answer nor its cost tells them apart."""
        ...

    def get_cached_job_id(self, content_hash: str, scope: str = "") -> str | None: ...

    def create_job(self, job: Job, expires_at: int, replace_job_id: str | None = None) -> str | None:
        """Write the job and its cache item (``job.content_hash`` in ``job.scope``) atomically; a job
        created ``completed`` keeps its ``result``. Returns None when this call created them, or the
        id of the job that already holds the hash in that scope (the caller lost the race)."""
        ...

    def get_render(self, content_hash: str) -> JobResult | None:
        """The result of a finished render of this content, by whichever scope's job."""
        ...

    def record_render(self, content_hash: str, result: JobResult, expires_at: int) -> None:
        """Remember a finished render (``results/<hash>/`` is immutable, so the last write wins)."""
        ...

    def delete_created_job(self, job: Job) -> None:
        """Undo ``create_job`` for a job that could not be enqueued: both items, only while the job
        is pending and the cache item still names it (else nothing is deleted, ``StoreError``)."""
        ...

    def claim(self, job_id: str, token: str, now: str, now_epoch: float, lease_until: float) -> Job | None:
        """pending → processing (or take over an expired lease). None if not claimable."""
        ...

    def release(self, job_id: str, token: str, now: str) -> None:
        """Give the lease back after a transient failure (the status stays processing)."""
        ...

    def complete(
        self, job_id: str, token: str, result: JobResult, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        """processing → completed, only by the lease holder. None if the condition failed.

        With ``event_claim_until`` the same write sets the job-end event's outbox flag
        (``event_state = pending``, claimed by this caller until then)."""
        ...

    def fail(
        self, job_id: str, token: str, error: JobError, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        """processing → failed, only by the lease holder. None if the condition failed."""
        ...

    def claim_event(self, job_id: str, now_epoch: float, claim_until: float) -> Job | None:
        """Take over publishing a job-end event whose claim expired (the publisher died).
        None unless ``event_state = pending`` and ``event_claim_until < now_epoch``."""
        ...

    def mark_event_published(self, job_id: str) -> bool:
        """``event_state``: pending → published. False if it was not pending."""
        ...

    def add_callback(self, job_id: str, callback: Callback, max_callbacks: int) -> Job | None:
        """Append a caller to a job that has not ended (and has fewer than ``max_callbacks``).
        None if the job ended (notify that caller at once), was not found, or is full."""
        ...

    def add_publish_name(self, job_id: str, name: str) -> Job | None:
        """Add a drop-folder name whose ``results/<name>/`` receives the results."""
        ...

    def touch_pending(self, job_id: str, seen_updated_at: str, now: str) -> bool:
        """Move ``updated_at`` forward if the job is still pending and unchanged since it was read
        (so only one caller re-enqueues a job whose message may have been lost)."""
        ...

    # -- drop folders (``DROP#<name>``) --

    def get_drop(self, name: str) -> DropState | None: ...

    def advance_drop(self, state: DropState, expected_seq: int, expires_at: int) -> bool:
        """Make ``state`` (its ``seq`` = ``expected_seq`` + 1, no job yet) the folder's current state,
        only if the current one is still ``expected_seq`` (0: none yet). Publish leases are kept."""
        ...

    def set_drop_job(self, name: str, seq: int, job_id: str) -> bool:
        """Record the job of state ``seq``, only while it is the current state."""
        ...

    def acquire_drop_publish(self, name: str, seq: int, owner: str, now_epoch: float, until: float) -> bool:
        """Take the folder's publish lease for state ``seq``: only while ``seq`` is current and not yet
        published, and no other lease is live. Publishes of one folder never overlap."""
        ...

    def release_drop_publish(self, name: str, seq: int, owner: str, published: bool = True) -> None:
        """Give the lease back (only its owner), marking ``seq`` published unless the publish failed."""
        ...


class Blob(NamedTuple):
    key: str
    data: bytes
    content_type: str


class ObjectInfo(NamedTuple):
    key: str
    etag: str
    last_modified: float  # epoch seconds (S3 keeps whole seconds)
    size: int = -1  # bytes, as listed (-1: unknown)


class Pending(Protocol[T_co]):
    """A transfer under way (``concurrent.futures.Future`` is one): ``result`` waits for it and
    raises what it raised. Abandoning one is fine."""

    def result(self) -> T_co: ...


class BlobReader(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]: ...


class BlobStore(BlobReader, Protocol):
    """The data bucket."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def put_many(self, blobs: Sequence[Blob]) -> None:
        """Write all (concurrently where the store can); raise the first error."""
        ...

    def begin_put_many(self, blobs: Sequence[Blob]) -> Pending[None]: ...

    def begin_get_many(self, keys: Sequence[str]) -> Pending[dict[str, bytes]]: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        """Keys with their ETag and upload time, in key order; with ``limit``, only the first
        ``limit`` of them (one request: a bounded page)."""
        ...

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        """The object and the ETag of exactly those bytes."""
        ...

    def copy(self, source_key: str, dest_key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def presign_get(self, key: str, expires_in: int) -> str: ...


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...


# ------------------------------------------------------------------------- notifications


class EventPublisher(Protocol):
    """The event bus (EventBridge): one event per job end."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class NotifyQueue(Protocol):
    """The webhook delivery queue (SQS): one message per delivery; its retries and DLQ."""

    def send_many(self, bodies: Sequence[str]) -> None: ...

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after ``seconds`` (the backoff)."""
        ...


# ------------------------------------------------------------- one use case seen by another


class DropPublisher(Protocol):
    """Publishing a finished job to its drop folders (``facesvg.service.drop_publish.Publisher``)."""

    def publish(self, job: Job, publish_names: Iterable[str]) -> None: ...

    def publish_error(self, name: str, seq: int, error: dict[str, Any]) -> None: ...


class JobEndEvents(Protocol):
    """The job-end event, exactly once (``facesvg.service.job_events.EventOutbox``)."""

    def claim_until(self) -> float:
        """The claim a terminal write gives its writer on publishing the event."""
        ...

    def publish_claimed(self, job: Job) -> None: ...

    def resume(self, job: Job) -> None:
        """Publish the event of an ended job nobody published (its writer died)."""
        ...


class SecretSource(Protocol):
    """The webhook signing secret (Secrets Manager locally and on AWS)."""

    def get(self) -> bytes: ...


class DeliveryLog(Protocol):
    """Which deliveries reached their receiver (a duplicate event or message is not re-sent)."""

    def delivered(self, delivery_id: str) -> bool: ...

    def mark_delivered(self, delivery_id: str, job_id: str, expires_at: int) -> None: ...


# -------------------------------------------------------------------------------- render core

# What callers may pass as landmarks (``facesvg.core.landmark_formats.LandmarkSource`` minus parsed ones).
LandmarkDocument = str | bytes | list[Any] | dict[str, Any]


class LandmarksLike(Protocol):
    """``facesvg.core.landmark_formats.Landmarks``: (N, 2) float points in image pixels."""

    @property
    def points(self) -> np.ndarray: ...

    @property
    def dimensions(self) -> tuple[int, int] | None: ...

    @property
    def normalised(self) -> bool: ...  # 0..1 coordinates, scaled to the photo when it is decoded


class RenderResultLike(Protocol):
    """The parts of ``facesvg.core.pipeline.RenderResult`` the service reads. ``to_json()`` and
    ``documents()`` are stored as ``result.json`` and its siblings, whatever the core puts in them."""

    @property
    def svg(self) -> bytes: ...

    @property
    def region_svgs(self) -> dict[str, bytes]: ...

    @property
    def size(self) -> tuple[int, int]: ...

    @property
    def transform(self) -> list[list[float]]: ...

    @property
    def rotation_deg(self) -> float: ...

    @property
    def missing(self) -> list[str]: ...

    @property
    def timings_ms(self) -> dict[str, float]: ...

    def to_json(self) -> dict[str, Any]: ...

    def documents(self) -> dict[str, dict[str, Any]]: ...


class ParseLandmarks(Protocol):
    """The landmarks of face ``face_index`` of a document (raises ``InputError``)."""

    def __call__(self, raw: LandmarkDocument, /, *, face_index: int = 0) -> LandmarksLike: ...


class CheckInputs(Protocol):
    """Validate inputs for accepting a request (raises ``InputError`` / ``NoFace``); ``landmarks`` is
    the canonical document (one face), the map is in ``label_scheme``."""

    def __call__(
        self,
        image: bytes,
        segmentation: bytes | None,
        landmarks: str,
        /,
        *,
        limits: Limits,
        label_scheme: str = ...,
    ) -> None: ...


class Render(Protocol):
    def __call__(
        self,
        image: bytes,
        segmentation: bytes | None,
        landmarks: str,
        /,
        *,
        options: RenderOptions,
        limits: Limits,
    ) -> RenderResultLike: ...


@dataclass(frozen=True)
class RenderCore:
    """The four things the service needs from ``facesvg.core`` (fakes in unit tests)."""

    parse_landmarks: ParseLandmarks
    check_inputs: CheckInputs
    render: Render
    pipeline_version: str

    @classmethod
    def default(cls) -> RenderCore:
        """The real core, imported here, on first use (the status function never needs it); the
        renderer itself on the first render only: the submit and ingest functions validate and hash
        but never render."""
        from facesvg.core.inputs import check_inputs
        from facesvg.core.landmark_formats import parse_landmarks
        from facesvg.core.version import PIPELINE_VERSION
        from facesvg.service.observability import tracer

        @tracer.capture_method(capture_response=False)
        def render(
            image: bytes,
            segmentation: bytes | None,
            landmarks: str,
            /,
            *,
            options: RenderOptions,
            limits: Limits,
        ) -> RenderResultLike:
            from facesvg.core.pipeline import render as core_render

            # The stored landmarks are the chosen face already (``face_index`` picked it at submit).
            points = parse_landmarks(landmarks, limits)
            return core_render(image, segmentation, points, options=options, limits=limits)

        return cls(parse_landmarks, check_inputs, render, PIPELINE_VERSION)
