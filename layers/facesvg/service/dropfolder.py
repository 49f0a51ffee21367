"""The drop folder: ``incoming/<name>/`` starts the same job as the API once a complete set of its
files (image and landmarks, and a segmentation map when the client has one) is there; the finished
job's results (or its error) are published to ``results/<name>/``.

What ``results/<name>/`` shows is always exactly one uploaded set — the most recent complete one by
the uploads' times — or a clear ``error.json`` and nothing else; never a mix:

* **A set** is the folder's input objects (two or three), each identified by file name, ETag and upload time
  (``<file>:<etag>@<mtime>``). The folder's state lives in DynamoDB (``DROP#<name>``): the last set
  taken (started a job, or was refused), the newest upload time in it, its job, a sequence number.
* **Complete** means: the image and the landmarks (the map is optional: without one the labels are
  derived), none of them from the last taken set, none uploaded before its newest file. Replacing
  one file of a finished set therefore starts nothing (no job from a new photo + the old map + the
  old landmarks); a new set needs all its files uploaded again. One exception: a map uploaded after
  a map-less set was taken completes that set again, with the map (a new job, whose results replace
  the map-less ones): so a client that uploads its map last still gets the render with its map.
  Uploading the map first avoids the map-less render in between.
* **Taking** a set is a conditional write on the state's sequence number, so of several events for
  the same folder exactly one starts each set, and sets are taken in upload order.
* **Publishing** holds the folder's publish lease (another conditional write) and is allowed only
  while the job's set is still the folder's current state: a job of a set that has been replaced
  publishes nothing, and two publishes of one folder never overlap. A completed job replaces the
  folder's contents (``face.svg`` removed first and copied last: its presence means a complete set;
  stale files removed; ``job.json`` names the job); a failed job or a refused set clears the folder
  and leaves ``error.json`` (+ ``job.json`` naming the failed job, when there is one).
* **Options**: an optional ``options.json`` in the folder is the API's ``options`` object (the same
  ``RenderOptions`` model: unknown fields refused), read when a set is taken — whatever
  ``options.json`` the folder holds at that moment applies, so it must be uploaded before the last
  of the set's files; it stays in force for later sets until it is replaced or deleted. It is not
  part of a set's identity: its own upload (alone, or after the set) starts nothing, and its event
  is never refused. It is bounded (``layout.INGEST_OPTIONS_MAX_BYTES``, checked on the listed size
  before it is read and again on the bytes before parsing) and parsed with the bounded JSON parser
  (``facesvg.core.documents``). A bad one makes the set's state an error (``InvalidOptions`` /
  ``OptionsTooLarge``, naming ``options.json`` and the field): no inputs stored, no job. Its
  content reaches the content hash through the same ``prepare`` as the API's options.
* **Refused names**: a folder name outside ``facesvg.names.INGEST_NAME_PATTERN`` gets
  ``results/<name>/error.json`` saying why (when the name is harmless as a key:
  ``layout.has_error_folder``; anything else is only logged); a file in the folder that is not one
  of the fixed names (``image.PNG``, ``notes.txt``) makes the folder's state an error naming it
  (the first five). The state is that error: another stray file that changes nothing in it
  neither advances the state nor rewrites ``error.json``.
* **Bounded work per event**: an event reads one page of its folder's listing
  (``_LISTING_LIMIT``: every accepted name, the folder marker and one more), whatever the folder
  holds; a full page means files the folder does not accept, named from that page. 300 stray
  files cost each event the same small page, not a listing of all of them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from facesvg.core.errors import InputError
from facesvg.service import layout
from facesvg.service.drop_options import read_options
from facesvg.service.hashing import PreparedInputs, prepare
from facesvg.service.models import Callback, DropState, SubmitOutcome
from facesvg.service.observability import logger
from facesvg.service.ports import BlobStore, DropPublisher, JobRepository, ObjectInfo, RenderCore
from facesvg.service.scopes import DROP_SCOPE
from facesvg.service.settings import Settings

_SLOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("image", layout.INGEST_IMAGE_FILES),
    ("segmentation_map", layout.INGEST_MAP_FILES),
    ("landmarks", layout.INGEST_LANDMARK_FILES),
)
OPTIONAL_SLOTS = frozenset({"segmentation_map"})  # a set is complete without it
_ACCEPTED = ", ".join(sorted(layout.INGEST_FILES))
# The most objects an event reads of its folder's listing: every accepted name, the folder marker
# and one more (so a full page always holds a name the folder does not accept). One folder's junk
# costs each of its events one small page, never a listing of all of it.
_LISTING_LIMIT = len(layout.INGEST_ACCEPTED_FILES) + 2


class IngestOutcome(StrEnum):
    IGNORED = "ignored"
    WAITING = "waiting"  # no complete set yet (or not a new one; or options.json's own event)
    SUBMITTED = "submitted"
    INVALID = "invalid"


class JobSubmitter(Protocol):
    """The submit use case (``facesvg.service.submit.Submitter``), as a drop folder starts a job."""

    def submit(
        self,
        prepared: PreparedInputs,
        source: str,
        publish_to: frozenset[str] = ...,
        scope: str = ...,
        callback: Callback | None = None,
    ) -> SubmitOutcome: ...


@dataclass(frozen=True)
class _Upload:
    """A set's files as read. ``options``: options.json's bytes (None when the folder has none, or
    when its listed size is over the bound: then it is never downloaded, ``options_size`` says)."""

    image: bytes
    segmentation_map: bytes | None  # None: a two-file set (the labels are derived)
    landmarks: bytes
    options: bytes | None = None
    options_size: int = 0


@dataclass
class DropFolder:
    jobs: JobRepository
    blobs: BlobStore
    core: RenderCore
    settings: Settings
    submitter: JobSubmitter
    publisher: DropPublisher
    clock: Callable[[], float] = time.time

    def ingest(self, bucket: str, key: str) -> IngestOutcome:
        """An object under ``incoming/`` was created: re-evaluate its folder."""
        if bucket != self.settings.bucket:
            logger.warning("event for another bucket ignored", extra={"bucket": layout.printable(bucket, 80)})
            return IngestOutcome.IGNORED
        split = layout.split_incoming_key(key)
        if split is None:
            logger.warning(
                "ignoring an object outside the drop-folder layout", extra={"key": layout.printable(key)}
            )
            return IngestOutcome.IGNORED
        name, file_name = split
        if not layout.is_drop_name(name):
            return self._refuse_name(name, key)
        if file_name == layout.INGEST_OPTIONS_FILE:
            logger.info(
                "drop folder: options.json is read when a set is taken; its own upload starts nothing",
                extra={"drop_name": name},
            )
            return IngestOutcome.WAITING

        folder = layout.incoming_folder(name)
        # One bounded page, whatever the folder holds: a folder of accepted files (and the empty
        # folder marker the S3 console's "Create folder" leaves) fits in it, so a full page means
        # files it does not accept, and those are among the page's names.
        page = self.blobs.list_objects(folder, limit=_LISTING_LIMIT)
        crowded = len(page) >= _LISTING_LIMIT
        listing = {o.key[len(folder) :]: o for o in page if o.key != folder}
        if file_name not in layout.INGEST_FILES and file_name not in listing and not crowded:
            logger.warning(
                "event for an object that is not there; ignored", extra={"key": layout.printable(key)}
            )
            return IngestOutcome.IGNORED
        state = self.jobs.get_drop(name)
        unknown = sorted(f for f in listing if f not in layout.INGEST_ACCEPTED_FILES)
        ambiguous = [found for _, files in _SLOTS if len(found := [f for f in files if f in listing]) > 1]
        if unknown or ambiguous:
            return self._refuse_files(name, state, unknown, ambiguous)

        chosen = {slot: next((f for f in files if f in listing), None) for slot, files in _SLOTS}
        if any(f is None for slot, f in chosen.items() if slot not in OPTIONAL_SLOTS):
            logger.info(
                "drop folder incomplete; waiting",
                extra={"drop_name": name, "present": sorted(listing)},
            )
            return IngestOutcome.WAITING
        objects = {slot: listing[f] for slot, f in chosen.items() if f is not None}
        files = {slot: _identity(chosen[slot] or "", info) for slot, info in objects.items()}
        set_id = _digest(files)
        options = listing.get(layout.INGEST_OPTIONS_FILE)  # not part of the set's identity
        if state is not None and state.set_id == set_id:
            return self._resume(name, state, objects, options)
        if state is not None and not _fresh(files, objects, state):
            logger.info(
                "drop folder: not a new complete set (upload all its files again); waiting",
                extra={"drop_name": name},
            )
            return IngestOutcome.WAITING

        data = self._read(objects, options)
        if data is None:
            return IngestOutcome.WAITING  # replaced while being read: its own event follows
        newest = max(info.last_modified for info in objects.values())
        taken = DropState(name=name, seq=0, set_id=set_id, files=files, newest=newest)
        if not self.jobs.advance_drop(taken, state.seq if state else 0, self._expires_at()):
            logger.info(
                "drop folder moved on concurrently; leaving it to that event", extra={"drop_name": name}
            )
            return IngestOutcome.IGNORED
        seq = (state.seq if state else 0) + 1
        logger.info("drop folder: new set taken", extra={"drop_name": name, "seq": seq})
        return self._start(name, seq, data)

    def submit(self, prepared: PreparedInputs, name: str, source: str) -> SubmitOutcome:
        """Submit with ``name`` on the job (the worker publishes to the names on a job)."""
        outcome = self.submitter.submit(prepared, source, publish_to=frozenset({name}), scope=DROP_SCOPE)
        job = outcome.job
        if name not in job.publish_to:
            job = self.jobs.add_publish_name(job.job_id, name) or job
        return SubmitOutcome(job, outcome.created)

    # -- a set ------------------------------------------------------------------------------------

    def _start(self, name: str, seq: int, data: _Upload) -> IngestOutcome:
        """State ``seq`` is this set: submit it, record the job, publish at once if it is finished
        (else the worker publishes it)."""
        try:
            prepared = self._prepare(data)
            outcome = self.submit(prepared, name, source=f"ingest:{name}")
        except InputError as exc:
            logger.warning(
                "drop folder inputs rejected", extra={"drop_name": name, "code": exc.code, "field": exc.field}
            )
            error = exc.to_dict()
            if exc.details.get("likely_schemes"):  # UnknownLabels, LabelSchemeMismatch
                scheme = exc.details["likely_schemes"][0]
                error["message"] += (
                    f" (to read the map as {scheme}, upload {layout.INGEST_OPTIONS_FILE} holding"
                    f' {{"label_scheme": "{scheme}"}}, then all its files again)'
                )
            self.publisher.publish_error(name, seq, {"error": error})
            return IngestOutcome.INVALID
        if not self.jobs.set_drop_job(name, seq, outcome.job.job_id):
            return IngestOutcome.IGNORED  # a newer set came in meanwhile
        # Read after recording it: a worker finishing before that saw no job on the folder.
        job = self.jobs.get_job(outcome.job.job_id) or outcome.job
        if job.status.terminal:
            self.publisher.publish(job, [name])
        return IngestOutcome.SUBMITTED

    def _resume(
        self, name: str, state: DropState, objects: dict[str, ObjectInfo], options: ObjectInfo | None
    ) -> IngestOutcome:
        """Another event for the folder's current set (one event per upload; or a retry)."""
        if state.job_id is not None:
            job = self.jobs.get_job(state.job_id)
            if job is not None and job.status.terminal and state.published_seq < state.seq:
                self.publisher.publish(job, [name])
            return IngestOutcome.SUBMITTED
        if state.published_seq >= state.seq:
            return IngestOutcome.INVALID  # a refused set, already published
        data = self._read(objects, options)  # taken but not submitted yet (in flight, or its ingest died)
        if data is None:
            return IngestOutcome.WAITING
        return self._start(name, state.seq, data)

    def _read(self, objects: dict[str, ObjectInfo], options: ObjectInfo | None) -> _Upload | None:
        """The set's objects, exactly as listed (None if one was replaced meanwhile), and the
        folder's options.json as it is now (its replacement starts nothing, so a newer one than
        listed is simply the one read; one listed over the bound is not read at all)."""
        data: dict[str, bytes] = {}
        for slot, info in objects.items():
            body, etag = self.blobs.get_tagged(info.key)
            if etag != info.etag:
                return None
            data[slot] = body
        options_body: bytes | None = None
        options_size = 0
        if options is not None:
            options_size = options.size
            if options_size <= layout.INGEST_OPTIONS_MAX_BYTES:
                options_body, _ = self.blobs.get_tagged(options.key)
                options_size = len(options_body)
        return _Upload(
            data["image"], data.get("segmentation_map"), data["landmarks"], options_body, options_size
        )

    def _prepare(self, data: _Upload) -> PreparedInputs:
        options = read_options(data.options, data.options_size)
        try:
            landmarks_text = data.landmarks.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("landmarks", "is not UTF-8 text", code="InvalidLandmarks") from exc
        return prepare(
            self.core,
            self.settings.limits,
            data.image,
            data.segmentation_map,
            landmarks_text,
            options,
        )

    # -- refusals ---------------------------------------------------------------------------------

    def _refuse_name(self, name: str, key: str) -> IngestOutcome:
        if not layout.has_error_folder(name):
            logger.warning(
                "ignoring an object outside the drop-folder layout", extra={"key": layout.printable(key)}
            )
            return IngestOutcome.IGNORED
        problem = layout.drop_name_problem(name)
        logger.warning(
            "drop folder name refused", extra={"drop_name": layout.printable(name), "reason": problem}
        )
        error = {"code": "InvalidName", "field": "name", "message": f"{problem}; nothing was processed"}
        self.blobs.put(layout.drop_error_key(name), json.dumps({"error": error}).encode(), "application/json")
        return IngestOutcome.INVALID

    def _refuse_files(
        self,
        name: str,
        state: DropState | None,
        unknown: list[str],
        ambiguous: list[list[str]],
    ) -> IngestOutcome:
        """The folder holds files it does not accept: its state becomes an error naming them (the
        last taken set stays the boundary a new set must pass)."""
        if unknown:
            names = ", ".join(repr(layout.printable(f, 80)) for f in unknown[:5])
            error = {
                "code": "InvalidFileName",
                "field": "name",
                "message": f"not an accepted file name: {names}; "
                f"accepted (exactly, case-sensitive): {_ACCEPTED}",
            }
        else:
            error = {
                "code": "Ambiguous",
                "field": "name",
                "message": f"more than one file given for one input: {', '.join(ambiguous[0])}",
            }
        # The state is the error it publishes: another stray file that changes nothing in it
        # (the names after the first few) neither advances the state nor rewrites error.json.
        error_id = "error:" + _digest({"code": error["code"], "message": error["message"]})
        if state is not None and state.set_id == error_id:
            if state.published_seq < state.seq:
                self.publisher.publish_error(name, state.seq, {"error": error})
            return IngestOutcome.INVALID
        refused = DropState(
            name=name,
            seq=0,
            set_id=error_id,
            files=state.files if state else {},
            newest=state.newest if state else 0.0,
        )
        if not self.jobs.advance_drop(refused, state.seq if state else 0, self._expires_at()):
            return IngestOutcome.IGNORED
        logger.warning("drop folder files refused", extra={"drop_name": name, "code": error["code"]})
        self.publisher.publish_error(name, (state.seq if state else 0) + 1, {"error": error})
        return IngestOutcome.INVALID

    def _expires_at(self) -> int:
        return self.settings.expires_at(self.clock())


def _identity(file_name: str, info: ObjectInfo) -> str:
    return f"{file_name}:{info.etag}@{info.last_modified:.3f}"


def _digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _fresh(files: dict[str, str], objects: dict[str, ObjectInfo], state: DropState) -> bool:
    """Every file of the set was uploaded after the last taken set: none of them belongs to it,
    and none is older than its newest file. Or the set is the last taken one, which had no map,
    with a map uploaded since (``_adds_map``)."""
    if _adds_map(files, objects, state):
        return True
    return all(
        files[slot] != state.files.get(slot) and info.last_modified >= state.newest
        for slot, info in objects.items()
    )


def _adds_map(files: dict[str, str], objects: dict[str, ObjectInfo], state: DropState) -> bool:
    """The last taken set had no map, and this set is that set plus a map uploaded after it."""
    map_info = objects.get("segmentation_map")
    return (
        map_info is not None
        and "segmentation_map" not in state.files
        and map_info.last_modified >= state.newest
        and all(files[slot] == state.files.get(slot) for slot in files if slot != "segmentation_map")
    )
