"""The API contract (request/response models, which the OpenAPI document is generated from) and
the internal job record and queue message."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from facesvg.core.options import RenderOptions

JobId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="Job id (32 hex characters).")]


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


class SubmitRequest(BaseModel):
    """Body of ``POST …/submit``. Images are base64 (a ``data:…;base64,`` prefix is accepted)."""

    model_config = ConfigDict(extra="forbid")

    # repr=False: megabytes of base64 must not end up in reprs (Powertools formats the route
    # arguments into a debug message on every request, even with debug logging off).
    image: str = Field(min_length=1, repr=False, description="The face photo (PNG or JPEG), base64.")
    segmentation_map: str = Field(
        min_length=1, repr=False, description="Single-channel label PNG (LaPa 11-class scheme), base64."
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


class SubmitAccepted(BaseModel):
    """A job was created (202) or an identical job is already queued or running (202)."""

    id: str
    status: JobStatus
    status_url: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. InvalidBase64, NoFace, NotFound.")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, when there is one.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class JobError(BaseModel):
    code: str
    message: str


class JobStatusResponse(BaseModel):
    """Body of ``GET …/status/{id}`` (and of a submit that hits a finished job)."""

    id: str
    status: JobStatus
    created_at: str
    updated_at: str
    status_url: str | None = None
    svg: str | None = Field(
        default=None, description="The SVG document, base64 (as the QOVES spec returns it)."
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
        default=None, description="Regions that could not be drawn for this face."
    )
    error: JobError | None = None


# ---------------------------------------------------------------------------------- internals


class JobResult(BaseModel):
    """What a finished render leaves in the job item (small; contours live in S3)."""

    model_config = ConfigDict(frozen=True)

    prefix: str  # results/<hash>/
    regions: list[str]
    transform: list[list[float]]
    size: list[int] | None = None
    rotation_deg: float | None = None
    missing: list[str] = Field(default_factory=list)


class Job(BaseModel):
    """The job record (DynamoDB item ``JOB#<id>``)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    content_hash: str
    status: JobStatus
    created_at: str
    updated_at: str
    source: str = "api"
    attempts: int = 0
    error: JobError | None = None
    result: JobResult | None = None
    publish_to: frozenset[str] = frozenset()


class JobMessage(BaseModel):
    """The SQS message body: a reference to the job, never the payload."""

    model_config = ConfigDict(extra="forbid")

    job_id: JobId
    # Lets the worker fetch the inputs while it claims the job; the claimed item has the last word.
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
