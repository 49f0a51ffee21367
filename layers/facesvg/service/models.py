"""The API contract (request/response models, which the OpenAPI document is generated from) and
the internal job record and queue message."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_serializer

from facesvg.core.lazy_model import LazyModel
from facesvg.core.options import RenderOptions

# The one job-id pattern: the queue message, the API responses and the status lookup all use it.
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN, description="Job id (32 hex characters).")]
_JOB_ID = re.compile(JOB_ID_PATTERN)


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


class JobStatus(StrEnum):
    """``pending → processing → completed | failed``; every transition is a conditional write."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


# ---------------------------------------------------------------------------------------- API


def _default_options() -> RenderOptions:
    return RenderOptions.model_validate({})


class SubmitRequest(LazyModel):
    """Body of ``POST …/submit``. Images are base64 (a ``data:…;base64,`` prefix is accepted)."""

    model_config = ConfigDict(extra="forbid")

    # repr=False: megabytes of base64 must not end up in reprs (Powertools formats the route
    # arguments into a debug message on every request, even with debug logging off).
    image: str = Field(
        min_length=1, repr=False, description="The face photo (PNG, JPEG, WebP, HEIC/HEIF or AVIF), base64."
    )
    segmentation_map: str | None = Field(
        default=None,
        min_length=1,
        repr=False,
        description="Single-channel label PNG (LaPa 11-class scheme, or `options.label_scheme`), base64. "
        "Optional: without it the label map is derived from the landmarks and the photo's colours "
        "(`segmentation.source` is then `landmarks`), and `visible_fraction` is null for the regions "
        "drawn from the landmarks alone. A job without a map is a different job from one with it.",
    )
    landmarks: list[Any] | dict[str, Any] | str = Field(
        repr=False,
        description=(
            "MediaPipe FaceMesh landmarks: a list of {x, y} points (or [[…]] per face), an object "
            "{'landmarks': …, 'dimensions': [w, h]}, or the text of a QOVES landmarks.txt file."
        ),
    )
    options: RenderOptions = Field(
        default_factory=_default_options, description="Output options (all optional)."
    )
    # Not part of the content hash: an identical submit with another callback reuses the render,
    # and every caller with a callback is notified (facesvg.service.notify).
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="HTTPS URL that receives a signed POST when the job ends (see docs/notifications.md). "
        "Not part of the content hash.",
    )
    client_reference: str | None = Field(
        default=None,
        max_length=128,
        description="Your own reference, echoed in the webhook and the EventBridge event (never in the SVG).",
    )


class SubmitAccepted(LazyModel):
    """A job was created (202) or an identical job is already queued or running (202)."""

    id: JobId
    job_id: JobId = Field(description="The same as `id` (the name clients of the original service read).")
    status: JobStatus
    status_url: str
    client_reference: str | None = Field(default=None, description="Echoes the request's client_reference.")


class ErrorDetail(LazyModel):
    code: str = Field(description="Stable machine-readable code, e.g. InvalidBase64, NoFace, NotFound.")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, when there is one.")
    likely_schemes: list[str] | None = Field(
        default=None,
        description="With `UnknownLabels` and `LabelSchemeMismatch`: the label schemes the map's values "
        "fit, likeliest first (set `options.label_scheme`).",
    )


class ErrorResponse(LazyModel):
    detail: str = Field(
        description="The error's message (`error.message`), where FastAPI-style clients read it."
    )
    error: ErrorDetail


class JobError(LazyModel):
    code: str
    message: str


class RegionVisibility(LazyModel):
    visible_fraction: float | None = Field(
        description="Share of the area the landmarks give the region that is visible (its own skin or "
        "label); null when it cannot be known: without a segmentation map, for the eyes, brows, nose "
        "and lips (their labels are drawn from the landmarks themselves)."
    )
    occluded_by: list[str] = Field(
        description="What hides at least 5 % of it: hair, background, outside_frame, turned_away."
    )

    @model_serializer(mode="plain")
    def _always_both(self) -> dict[str, Any]:
        """A null ``visible_fraction`` is said, not left out (the responses drop other nulls)."""
        return {"visible_fraction": self.visible_fraction, "occluded_by": self.occluded_by}


class SegmentationInfo(LazyModel):
    source: Literal["client", "landmarks"] = Field(
        description="`client`: the segmentation map that was sent; `landmarks`: none was sent, the labels "
        "were derived from the landmarks and the photo's colours."
    )


class PhysicalScale(LazyModel):
    method: str = Field(description="`iris`: the visible iris diameter is taken as 11.7 mm.")
    iris_mm: float
    iris_px: list[float] = Field(description="Each eye's iris diameter in input-photo pixels.")
    mm_per_source_px: float
    mm_per_px: float = Field(description="Millimetres per output-canvas pixel.")


class RegionArea(LazyModel):
    px2: float = Field(description="Output-canvas pixels².")
    source_px2: float = Field(description="Input-photo pixels².")
    mm2: float | None = Field(description="Square millimetres; null without a scale.")


class JobStatusResponse(LazyModel):
    """Body of ``GET …/status/{id}`` (and of a submit that hits a finished job)."""

    id: JobId
    job_id: JobId = Field(description="The same as `id` (the name clients of the original service read).")
    status: JobStatus
    created_at: str
    updated_at: str
    status_url: str | None = None
    svg: str | None = Field(
        default=None,
        description="The SVG document, base64 (as the QOVES spec returns it) — only when the SVG is at "
        "most 2,000,000 bytes (the default 1024 px canvas is about 1 MB). A larger SVG (e.g. "
        "`canvas_size` 4096 with a PNG photo, ~9 MB) is left out, like any field that would take the "
        "response over 5,000,000 bytes (Lambda answers at most 6 MB): read it from `svg_url`.",
    )
    svg_url: str | None = Field(default=None, description="Presigned URL of the SVG (expires).")
    mask_contours: dict[str, list[list[float]]] | None = Field(
        default=None, description="Region name → closed contour points [x, y] in output-canvas pixels."
    )
    regions_svg_urls: dict[str, str] | None = Field(
        default=None, description="Region name → presigned URL of its SVG."
    )
    transform: list[list[float]] | None = Field(
        default=None,
        description="2x3 affine matrix mapping pixels of the photo as displayed (EXIF orientation applied) "
        "to output-canvas pixels.",
    )
    missing: list[str] | None = Field(
        default=None, description="Regions and zones that could not be drawn for this face."
    )
    zone_contours: dict[str, list[list[float]]] | None = Field(
        default=None,
        description="Aesthetic zone name → closed contour in output-canvas pixels (option `zones`).",
    )
    contours_source_px: dict[str, list[list[float]]] | None = Field(
        default=None,
        description="Every region and zone contour in the input photo's pixels (after EXIF orientation).",
    )
    inverse_transform: list[list[float]] | None = Field(
        default=None, description="2x3 affine matrix mapping output-canvas pixels back to the input photo."
    )
    visibility: dict[str, RegionVisibility] | None = Field(
        default=None, description="Region or zone name → how much of it is visible and what hides the rest."
    )
    scale: PhysicalScale | None = Field(
        default=None, description="Millimetres per pixel from the iris; absent when it cannot be estimated."
    )
    segmentation: SegmentationInfo | None = Field(
        default=None, description="Where the label map came from (a completed job)."
    )
    areas: dict[str, RegionArea] | None = Field(
        default=None, description="Region or zone name → its area in canvas px², input-photo px² and mm²."
    )
    result_urls: dict[str, str] | None = Field(
        default=None,
        description="Presigned URLs of `result.json`, `result.geojson` (input-photo pixels) and "
        "`result.coco.json` (COCO annotations).",
    )
    omitted: list[str] | None = Field(
        default=None,
        description="Fields left out of this response to keep it under 5,000,000 bytes (`svg` above "
        "2,000,000 bytes, then contours if ever needed): `svg_url` and `result_urls` (`result.json`) "
        "carry them.",
    )
    error: JobError | None = None
    client_reference: str | None = Field(
        default=None, description="A submit's own client_reference, echoed (not stored on the status)."
    )


# ---------------------------------------------------------------------------------- internals


class JobResult(LazyModel):
    """What a finished render leaves in the job item (small; contours live in S3)."""

    model_config = ConfigDict(frozen=True)

    prefix: str  # results/<hash>/
    regions: list[str]
    transform: list[list[float]]
    size: list[int] | None = None
    rotation_deg: float | None = None
    missing: list[str] = Field(default_factory=list)
    svg_bytes: int | None = None  # size of face.svg (status inlines it only when small enough)
    # Seconds from the claim to the stored result: a job that reuses this render completes no
    # sooner after its own claim (facesvg.service.worker), so its timing reveals no other client.
    render_seconds: float | None = None


class Callback(LazyModel):
    """A caller waiting for a job's end: where to POST and what to echo back."""

    model_config = ConfigDict(frozen=True)

    id: str  # unique per subscription (part of the delivery id)
    url: str
    client_reference: str | None = None


class EventState(StrEnum):
    """The job-end event's outbox flag, set by the conditional write that ends the job."""

    PENDING = "pending"  # claimed until ``event_claim_until`` by whoever publishes it
    PUBLISHED = "published"


class Job(LazyModel):
    """The job record (DynamoDB item ``JOB#<id>``)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    content_hash: str
    status: JobStatus
    created_at: str
    updated_at: str
    source: str = "api"
    # Whose job this is: the API key (``submit.client_scope``) or ``drop`` for the drop folder. The
    # cache item is per scope, so one client never receives another's job (ids, times).
    scope: str = ""
    attempts: int = 0
    error: JobError | None = None
    result: JobResult | None = None
    publish_to: frozenset[str] = frozenset()
    callbacks: tuple[Callback, ...] = ()
    event_state: EventState | None = None
    event_claim_until: float | None = None


@dataclass(frozen=True)
class SubmitOutcome:
    """A submit's answer: the job for the inputs, and whether this submit created it."""

    job: Job
    created: bool


class DropState(LazyModel):
    """A drop folder's state (DynamoDB item ``DROP#<name>``): which uploaded set (or error) owns
    ``results/<name>/``. ``seq`` grows by one per state; only the current state may publish."""

    model_config = ConfigDict(frozen=True)

    name: str
    seq: int
    set_id: str  # the state: a hash of its set's three objects, or "error:…" for refused files
    # The last set that was taken (started a job or was refused): file slot → "<file>:<etag>@<mtime>",
    # and its newest upload time. A new set must replace all three files after it.
    files: dict[str, str] = Field(default_factory=dict)
    newest: float = 0.0
    job_id: str | None = None  # the job of this state's set, once submitted
    published_seq: int = 0  # the last state whose results (or error) were published


class JobMessage(LazyModel):
    """The SQS message body: a reference to the job, never the payload."""

    model_config = ConfigDict(extra="forbid")

    job_id: JobId
    # Lets the worker fetch the inputs while it claims the job; the claimed item has the last word.
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
