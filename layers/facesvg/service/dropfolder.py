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

import difflib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from pydantic import ValidationError

from facesvg.core import documents
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service import layout
from facesvg.service.errors import TransientError
from facesvg.service.hashing import PreparedInputs, prepare
from facesvg.service.models import DropState, Job, JobStatus
from facesvg.service.observability import logger
from facesvg.service.ports import BlobStore, JobRepository, ObjectInfo, RenderCore
from facesvg.service.settings import Settings
from facesvg.service.submit import DROP_SCOPE, SubmitOutcome, Submitter

# How long a publisher owns a folder: a publish (server-side copies) takes well under 2 s; a
# publisher that died holding it (a function timeout) blocks the folder this long at most, and its
# redelivery (or the event's retry) publishes again.
PUBLISH_LEASE_SECONDS = 20.0
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


class OptionsFileError(InputError):
    """The folder's ``options.json`` cannot be used: its error.json names the file and the option."""

    code = "InvalidOptions"

    def __init__(self, option: str, message: str, code: str | None = None) -> None:
        super().__init__("options", message, code=code)
        self.option = option  # "options", or the dotted path of the field at fault ("options.zones")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.option,
            "file": layout.INGEST_OPTIONS_FILE,
            "message": f"{layout.INGEST_OPTIONS_FILE}: {self.message}",
        }


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


@dataclass
class DropFolder:
    jobs: JobRepository
    blobs: BlobStore
    core: RenderCore
    settings: Settings
    submitter: Submitter
    publisher: Publisher
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
        options = _options(data)
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


def _options(data: _Upload) -> RenderOptions:
    """The set's render options: options.json validated as the API validates ``options``, or the
    defaults when the folder has none. ``OptionsFileError`` names the field at fault."""
    limit = layout.INGEST_OPTIONS_MAX_BYTES
    if data.options_size > limit:  # before it is parsed (and, by its listed size, before it is read)
        raise OptionsFileError(
            "options", f"is {data.options_size} bytes; at most {limit}", code="OptionsTooLarge"
        )
    if data.options is None:
        return RenderOptions.model_validate({})
    try:
        text = data.options.decode("utf-8-sig")  # (a byte-order mark, as some editors save, is fine)
    except UnicodeDecodeError:
        raise OptionsFileError("options", "is not UTF-8 text") from None
    try:
        doc = documents.loads_json(text, max_containers=1_000)
    except documents.TooDeep as exc:
        raise OptionsFileError(f"options.{exc.key}" if exc.key else "options", "nested too deeply") from None
    except documents.DocumentError as exc:
        raise OptionsFileError("options", f"is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise OptionsFileError(
            "options", 'must be a JSON object, the API\'s `options` (e.g. {"zones": "all"})'
        )
    try:
        return RenderOptions.model_validate(doc)
    except ValidationError as exc:
        field, message = _option_problem(exc.errors())
        raise OptionsFileError(field, message) from None


def _option_problem(errors: list[Any]) -> tuple[str, str]:
    """The first validation error as ("options.<dotted path>", "<path>: <reason>"); an unknown field
    first, with the name it probably meant."""
    unknown = next((e for e in errors if e.get("type") == "extra_forbidden"), None)
    error = unknown or (errors[0] if errors else {})
    # Unions report the member type tried in the path (zones.list[str]): not a field.
    loc = [str(p) for p in error.get("loc", ()) if "[" not in str(p) and p not in {"str", "list", "dict"}]
    path = ".".join(loc)
    if unknown is not None:
        model: Any = RenderOptions
        for part in loc[:-1]:
            info = getattr(model, "model_fields", {}).get(part)
            model = getattr(info, "annotation", None)
        known = list(getattr(model, "model_fields", {}))
        guess = difflib.get_close_matches(loc[-1] if loc else "", known, n=1, cutoff=0.5)
        reason = "unknown field" + (
            f"; did you mean {guess[0]!r}?" if guess else f"; known: {', '.join(known)}"
        )
    else:
        reason = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return ("options." + path if path else "options"), (f"{path}: {reason}" if path else reason)


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
