"""A job's status as the API answers it (``JobStatusResponse``), from what ``status`` read."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from pydantic import BaseModel

from facesvg.service.models import (
    JobError,
    JobStatusResponse,
    PhysicalScale,
    RegionArea,
    RegionVisibility,
    SegmentationInfo,
)
from facesvg.service.status import StatusView

M = TypeVar("M", bound=BaseModel)


def status_response(view: StatusView, status_url: str | None) -> JobStatusResponse:
    job = view.job
    doc = view.result or {}
    # model_construct: every value is already typed (from our own records), and the contours can be
    # thousands of points; validating them again would cost more than the rest of the request.
    return JobStatusResponse.model_construct(
        id=job.job_id,
        job_id=job.job_id,
        status=job.status,
        created_at=job.created_at,
        updated_at=job.updated_at,
        status_url=status_url,
        svg=base64.b64encode(view.svg).decode() if view.svg is not None else None,
        svg_url=view.svg_url,
        mask_contours=view.mask_contours,
        regions_svg_urls=view.regions_svg_urls,
        transform=job.result.transform if job.result else None,
        missing=job.result.missing if job.result else None,
        zone_contours=doc.get("zones") or None,
        contours_source_px={**doc.get("regions_source_px", {}), **doc.get("zones_source_px", {})} or None,
        inverse_transform=doc.get("inverse_transform"),
        visibility=_each(RegionVisibility, doc.get("visibility")),
        scale=PhysicalScale.model_construct(**doc["scale"]) if doc.get("scale") else None,
        segmentation=_segmentation(doc) if view.result is not None else None,
        areas=_each(RegionArea, doc.get("areas")),
        result_urls=view.result_urls,
        omitted=["svg"] if view.svg_omitted else None,
        error=JobError(code=job.error.code, message=job.error.message) if job.error else None,
    )


def _segmentation(doc: dict[str, Any]) -> SegmentationInfo:
    """Where the labels came from; a result.json from before map-less jobs had the client's map."""
    return SegmentationInfo.model_construct(**(doc.get("segmentation") or {"source": "client"}))


def _each(model: type[M], values: dict[str, dict[str, Any]] | None) -> dict[str, M] | None:
    """Nested models built without re-validation (our own result.json), like the response itself."""
    return {k: model.model_construct(**v) for k, v in values.items()} if values else None
