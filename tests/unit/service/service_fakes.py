"""In-memory stand-ins for the job service's ports (repository, blob store, queue, render core).

They implement the same conditional semantics as DynamoDB (one lock = one atomic write), so the
state-machine rules are tested without AWS; ``tests/contract`` holds ``FakeJobRepository`` and the
DynamoDB adapter to the same suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from facesvg.core.errors import InputError, NoFace
from facesvg.service.errors import StoreError
from facesvg.service.jobs import JobService
from facesvg.service.models import (
    Callback,
    DropState,
    EventState,
    Job,
    JobError,
    JobMessage,
    JobResult,
    JobStatus,
)
from facesvg.service.ports import Blob, ObjectInfo, RenderCore
from facesvg.service.settings import Settings

T = TypeVar("T")


class Deferred(Generic[T]):
    """A ``Pending`` that does its work when first asked (for stores with nothing to overlap)."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._done: tuple[T] | None = None

    def result(self) -> T:
        if self._done is None:
            self._done = (self._work(),)
        return self._done[0]


@dataclass
class _Row:
    job: Job
    lease_token: str | None = None
    lease_until: float = 0.0


class FakeJobRepository:
    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.cache: dict[tuple[str, str], str] = {}  # (content hash, scope) → job id
        self.renders: dict[str, JobResult] = {}
        self.drops: dict[str, DropState] = {}
        self.drop_leases: dict[str, tuple[str, float]] = {}  # name → (owner, until)
        self.lock = threading.Lock()
        self.creates = 0

    def get_job(self, job_id: str) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            return row.job if row else None

    def get_job_in_scopes(self, job_id: str, scopes: tuple[str, ...]) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            return row.job if row and row.job.scope in scopes else None

    def get_cached_job_id(self, content_hash: str, scope: str = "") -> str | None:
        with self.lock:
            return self.cache.get((content_hash, scope))

    def create_job(self, job: Job, expires_at: int, replace_job_id: str | None = None) -> str | None:
        with self.lock:
            holder = self.cache.get((job.content_hash, job.scope))
            if holder is not None and holder != replace_job_id:
                return holder
            self.cache[(job.content_hash, job.scope)] = job.job_id
            self.rows[job.job_id] = _Row(job)
            self.creates += 1
            return None

    def delete_created_job(self, job: Job) -> None:
        with self.lock:  # both conditions or nothing, as in the DynamoDB transaction
            row = self.rows.get(job.job_id)
            if self.cache.get((job.content_hash, job.scope)) != job.job_id or row is None:
                raise StoreError("the job is not the one created")
            if row.job.status is not JobStatus.PENDING:
                raise StoreError("the job is no longer pending")
            del self.cache[(job.content_hash, job.scope)]
            del self.rows[job.job_id]

    def get_render(self, content_hash: str) -> JobResult | None:
        with self.lock:
            return self.renders.get(content_hash)

    def record_render(self, content_hash: str, result: JobResult, expires_at: int) -> None:
        with self.lock:
            self.renders[content_hash] = result

    def claim(self, job_id: str, token: str, now: str, now_epoch: float, lease_until: float) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None:
                return None
            s = row.job.status
            if not (s is JobStatus.PENDING or (s is JobStatus.PROCESSING and row.lease_until < now_epoch)):
                return None
            row.job = row.job.model_copy(
                update={"status": JobStatus.PROCESSING, "updated_at": now, "attempts": row.job.attempts + 1}
            )
            row.lease_token, row.lease_until = token, lease_until
            return row.job

    def release(self, job_id: str, token: str, now: str) -> None:
        with self.lock:
            row = self.rows.get(job_id)
            if row and row.job.status is JobStatus.PROCESSING and row.lease_token == token:
                row.lease_until = 0.0
                row.job = row.job.model_copy(update={"updated_at": now})

    def _finish(self, job_id: str, token: str, **changes: Any) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None or row.job.status is not JobStatus.PROCESSING or row.lease_token != token:
                return None
            row.job = row.job.model_copy(update=changes)
            row.lease_token, row.lease_until = None, 0.0
            return row.job

    def complete(
        self, job_id: str, token: str, result: JobResult, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        return self._finish(
            job_id,
            token,
            status=JobStatus.COMPLETED,
            result=result,
            updated_at=now,
            **_event_flag(event_claim_until),
        )

    def fail(
        self, job_id: str, token: str, error: JobError, now: str, event_claim_until: float | None = None
    ) -> Job | None:
        error = error.model_copy(update={"message": error.message[:1000]})
        return self._finish(
            job_id,
            token,
            status=JobStatus.FAILED,
            error=error,
            updated_at=now,
            **_event_flag(event_claim_until),
        )

    def claim_event(self, job_id: str, now_epoch: float, claim_until: float) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None or row.job.event_state is not EventState.PENDING:
                return None
            if (row.job.event_claim_until or 0.0) >= now_epoch:
                return None
            row.job = row.job.model_copy(update={"event_claim_until": claim_until})
            return row.job

    def mark_event_published(self, job_id: str) -> bool:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None or row.job.event_state is not EventState.PENDING:
                return False
            row.job = row.job.model_copy(
                update={"event_state": EventState.PUBLISHED, "event_claim_until": None}
            )
            return True

    def add_callback(self, job_id: str, callback: Callback, max_callbacks: int) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None or row.job.status.terminal or len(row.job.callbacks) >= max_callbacks:
                return None
            row.job = row.job.model_copy(update={"callbacks": (*row.job.callbacks, callback)})
            return row.job

    def touch_pending(self, job_id: str, seen_updated_at: str, now: str) -> bool:
        with self.lock:
            row = self.rows.get(job_id)
            if (
                row is None
                or row.job.status is not JobStatus.PENDING
                or row.job.updated_at != seen_updated_at
            ):
                return False
            row.job = row.job.model_copy(update={"updated_at": now})
            return True

    def get_drop(self, name: str) -> DropState | None:
        with self.lock:
            return self.drops.get(name)

    def advance_drop(self, state: DropState, expected_seq: int, expires_at: int) -> bool:
        with self.lock:
            current = self.drops.get(state.name)
            if (current.seq if current else 0) != expected_seq:
                return False
            published = current.published_seq if current else 0
            self.drops[state.name] = state.model_copy(
                update={"seq": expected_seq + 1, "job_id": None, "published_seq": published}
            )
            return True

    def set_drop_job(self, name: str, seq: int, job_id: str) -> bool:
        with self.lock:
            current = self.drops.get(name)
            if current is None or current.seq != seq:
                return False
            self.drops[name] = current.model_copy(update={"job_id": job_id})
            return True

    def acquire_drop_publish(self, name: str, seq: int, owner: str, now_epoch: float, until: float) -> bool:
        with self.lock:
            current = self.drops.get(name)
            if current is None or current.seq != seq or current.published_seq >= seq:
                return False
            lease = self.drop_leases.get(name)
            if lease is not None and lease[1] >= now_epoch:
                return False
            self.drop_leases[name] = (owner, until)
            return True

    def release_drop_publish(self, name: str, seq: int, owner: str, published: bool = True) -> None:
        with self.lock:
            lease = self.drop_leases.get(name)
            current = self.drops.get(name)
            if lease is None or lease[0] != owner or current is None:
                return
            del self.drop_leases[name]
            if published:
                self.drops[name] = current.model_copy(update={"published_seq": seq})

    def add_publish_name(self, job_id: str, name: str) -> Job | None:
        with self.lock:
            row = self.rows.get(job_id)
            if row is None:
                return None
            row.job = row.job.model_copy(update={"publish_to": row.job.publish_to | {name}})
            return row.job


def _event_flag(claim_until: float | None) -> dict[str, Any]:
    if claim_until is None:
        return {}
    return {"event_state": EventState.PENDING, "event_claim_until": claim_until}


class FakeBlobStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}  # upload time, whole seconds as on S3
        self.clock = time.time
        self.lock = threading.Lock()
        self.fail_get: set[str] = set()
        self.gets: list[str] = []
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with self.lock:
            self.puts.append(key)
            self.objects[key] = bytes(data)
            self.modified[key] = float(int(self.clock()))

    def get(self, key: str) -> bytes:
        if key in self.fail_get:
            raise ConnectionError(f"simulated S3 outage reading {key}")
        with self.lock:
            self.gets.append(key)
            if key not in self.objects:
                raise StoreError(f"no object {key}")  # as S3BlobStore translates NoSuchKey
            return self.objects[key]

    def put_many(self, blobs: Sequence[Blob]) -> None:
        for blob in blobs:
            self.put(*blob)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        return {key: self.get(key) for key in keys}

    def begin_put_many(self, blobs: Sequence[Blob]) -> Deferred[None]:
        return Deferred(lambda: self.put_many(blobs))

    def begin_get_many(self, keys: Sequence[str]) -> Deferred[dict[str, bytes]]:
        return Deferred(lambda: self.get_many(keys))

    def list_keys(self, prefix: str) -> list[str]:
        with self.lock:
            return sorted(k for k in self.objects if k.startswith(prefix))

    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        with self.lock:
            found = [
                ObjectInfo(k, _etag(v), self.modified.get(k, 0.0), len(v))
                for k, v in sorted(self.objects.items())
                if k.startswith(prefix)
            ]
        return found[:limit] if limit is not None else found

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, _etag(data)

    def copy(self, source_key: str, dest_key: str) -> None:
        with self.lock:
            if source_key not in self.objects:
                raise StoreError(f"no object {source_key}")
            self.objects[dest_key] = self.objects[source_key]
            self.modified[dest_key] = float(int(self.clock()))

    def delete(self, key: str) -> None:
        with self.lock:
            self.objects.pop(key, None)
            self.modified.pop(key, None)

    def presign_get(self, key: str, expires_in: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_in}"


def _etag(data: bytes) -> str:
    import hashlib

    return '"' + hashlib.md5(data).hexdigest() + '"'  # as S3's ETag of a one-part upload


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[JobMessage] = []
        self.fail = False

    def send(self, message: JobMessage) -> None:
        if self.fail:
            raise ConnectionError("simulated SQS outage")
        self.messages.append(message)


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.fail = False

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("simulated EventBridge outage")
        self.published.append((detail_type, detail))


class FakeNotifyQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.delays: list[tuple[str, int]] = []

    def send_many(self, bodies: Sequence[str]) -> None:
        self.bodies.extend(bodies)

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))


@dataclass
class FakeLandmarks:
    points: np.ndarray
    dimensions: tuple[int, int] | None
    normalised: bool = False


@dataclass
class FakeResult:
    svg: bytes = b"<svg>face</svg>"
    region_svgs: dict[str, bytes] = field(
        default_factory=lambda: {"nose": b"<svg>nose</svg>", "chin": b"<svg/>"}
    )
    size: tuple[int, int] = (1024, 1024)
    transform: list[list[float]] = field(default_factory=lambda: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    rotation_deg: float = 12.5
    regions: dict[str, list[list[float]]] = field(default_factory=lambda: {"nose": [[1.0, 2.0], [3.0, 4.0]]})
    missing: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": list(self.size),
            "transform": self.transform,
            "rotation_deg": self.rotation_deg,
            "regions": self.regions,
            "missing": self.missing,
            "timings_ms": self.timings_ms,
        }

    def documents(self) -> dict[str, dict[str, Any]]:
        return {
            "result.json": self.to_json(),
            "result.geojson": {"type": "FeatureCollection", "features": []},
            "result.coco.json": {"images": [], "annotations": []},
        }


class FakeCore:
    """Landmarks are a list of [x, y]; image b"bad" is an InputError, b"noface" is NoFace."""

    def __init__(self) -> None:
        self.validations = 0
        self.renders = 0
        self.render_error: Exception | None = None
        self.on_render: Callable[[], None] | None = None  # e.g. move the harness clock on
        self.rendered_segmentations: list[bytes | None] = []  # what each render got as the map
        self.lock = threading.Lock()

    def parse_landmarks(self, raw: Any, face_index: int = 0) -> FakeLandmarks:
        if isinstance(raw, str) and raw.startswith("{"):
            import json

            raw = json.loads(raw)["landmarks"][0]
            raw = [[p["x"], p["y"]] for p in raw]
        if not isinstance(raw, list) or not raw:
            raise InputError("landmarks", "must be a non-empty list", code="InvalidLandmarks")
        return FakeLandmarks(np.asarray(raw, dtype=float), (100, 100))

    def check_inputs(
        self,
        image: bytes,
        segmentation: bytes | None,
        landmarks: Any,
        limits: Any = None,
        label_scheme: str = "lapa",
    ) -> None:
        with self.lock:
            self.validations += 1
        if image == b"bad":
            raise InputError("image", "not an image", code="InvalidImage")
        if image == b"noface":
            raise NoFace("segmentation_map", "no face")

    def render(
        self,
        image: bytes,
        segmentation: bytes | None,
        landmarks: Any,
        options: Any = None,
        limits: Any = None,
    ) -> FakeResult:
        with self.lock:
            self.renders += 1
            self.rendered_segmentations.append(segmentation)
        if self.on_render is not None:
            self.on_render()
        if self.render_error is not None:
            raise self.render_error
        if image == b"bad":
            raise InputError("image", "not an image", code="InvalidImage")
        return FakeResult()

    def as_render_core(self) -> RenderCore:
        return RenderCore(self.parse_landmarks, self.check_inputs, self.render, "test-1")


@dataclass
class Harness:
    service: JobService
    jobs: FakeJobRepository
    blobs: FakeBlobStore
    queue: FakeQueue
    core: FakeCore
    sleeps: list[float]
    clock: list[float]
    events: FakeEvents = field(default_factory=FakeEvents)
    notify_queue: FakeNotifyQueue = field(default_factory=FakeNotifyQueue)


def make_harness(*, notify: bool = False, **settings: Any) -> Harness:
    """``notify=True`` wires a fake event bus and notify queue (facesvg.service.notify)."""
    jobs, blobs, queue, core = FakeJobRepository(), FakeBlobStore(), FakeQueue(), FakeCore()
    events, notify_queue = FakeEvents(), FakeNotifyQueue()
    sleeps: list[float] = []
    clock = [1_800_000_000.0]
    blobs.clock = lambda: clock[0]  # upload times follow the harness clock
    service = JobService(
        jobs=jobs,
        blobs=blobs,
        queue=queue,
        settings=Settings.model_validate(settings),
        core=core.as_render_core(),
        clock=lambda: clock[0],
        sleep=sleeps.append,
        events=events if notify else None,
        notify_queue=notify_queue if notify else None,
    )
    return Harness(service, jobs, blobs, queue, core, sleeps, clock, events, notify_queue)


def now() -> float:
    return time.time()


class SpyRepository:
    """A job repository that records every call (its name and what it returned), to compare the
    work two paths do. Install it as ``service.jobs`` before the use case is first built."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: list[tuple[str, object]] = []

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)

        def call(*args: object, **kwargs: object) -> object:
            result = method(*args, **kwargs)
            self.calls.append((name, result))
            return result

        return call
