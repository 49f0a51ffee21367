"""Status: a job, and once it is completed its SVG, contours and presigned result URLs.

Only to its own client: an API caller asking for another scope's job gets ``JobNotFound``, as for an
id that does not exist, after the same one read (``StatusReader.get_job``,
``facesvg.service.scopes.may_read``).

Lambda answers at most 6 MB (the whole proxy result), so a response never grows with the canvas:
the SVG is inlined only up to ``INLINE_SVG_MAX_BYTES`` (else only ``svg_url``), and a body that
would still be over ``RESPONSE_MAX_BYTES`` loses its largest optional fields, in ``DROPPABLE``
order, each named in ``omitted`` (their data stays behind ``svg_url`` and ``result_urls``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, Self

from facesvg.service import layout
from facesvg.service.errors import JobNotFound
from facesvg.service.models import Job, JobStatus, is_job_id
from facesvg.service.ports import BlobReader, BlobStore, JobRepository
from facesvg.service.scopes import readable_scopes

INLINE_SVG_MAX_BYTES = 2_000_000  # raw SVG; base64 makes it 2.67 MB in the body
RESPONSE_MAX_BYTES = 5_000_000  # the JSON body; the proxy result adds headers and escaping
# Optional fields a body sheds, largest first, when it would exceed RESPONSE_MAX_BYTES.
DROPPABLE = ("svg", "contours_source_px", "zone_contours", "mask_contours", "areas", "visibility")


@dataclass(frozen=True)
class StatusView:
    """Everything the status response needs, already read from storage."""

    job: Job
    svg: bytes | None = None
    svg_omitted: bool = False  # larger than INLINE_SVG_MAX_BYTES: only svg_url
    svg_url: str | None = None
    mask_contours: dict[str, list[list[float]]] | None = None
    regions_svg_urls: dict[str, str] | None = None
    result: dict[str, Any] | None = None  # result.json as the core wrote it
    result_urls: dict[str, str] | None = None  # result.json, result.geojson, result.coco.json


@dataclass
class StatusReader:
    jobs: JobRepository
    blobs: BlobStore  # presigns the URLs
    results: BlobReader  # reads results/<hash>/ (immutable: a caching reader)
    presign_seconds: int

    def get_job(self, job_id: str, scope: str | None = None) -> Job:
        """The job with this id. With ``scope`` (an API caller's, ``scopes.client_scope``) only a job
        that scope may read (``scopes.may_read``): another client's job is not found exactly as an
        unknown id is — the same error and message, never a 403 that would confirm the id exists,
        after the same work: one read the store filters by scope, so another client's job is never
        even returned (nor parsed) here. ``None``: a trusted caller inside the service (no check)."""
        if not is_job_id(job_id):
            job = None
        elif scope is None:
            job = self.jobs.get_job(job_id)
        else:
            job = self.jobs.get_job_in_scopes(job_id, readable_scopes(scope))
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    def view(self, job: Job) -> StatusView:
        if job.status is not JobStatus.COMPLETED or job.result is None:
            return StatusView(job=job)
        prefix, regions = job.result.prefix, job.result.regions
        svg_key, doc_key = layout.svg_key(prefix), layout.result_json_key(prefix)
        known_size = job.result.svg_bytes
        inline = known_size is None or known_size <= INLINE_SVG_MAX_BYTES
        got = self.results.get_many([svg_key, doc_key] if inline else [doc_key])
        svg = got.get(svg_key)
        if svg is not None and len(svg) > INLINE_SVG_MAX_BYTES:  # a job from before svg_bytes
            svg = None
        docs = list(layout.RESULT_DOCUMENTS)
        url_keys = [
            svg_key,
            *(layout.region_key(prefix, name) for name in regions),
            *(layout.result_document_key(prefix, name) for name in docs),
        ]
        urls = [self.blobs.presign_get(key, self.presign_seconds) for key in url_keys]
        doc = json.loads(got[doc_key])
        return StatusView(
            job=job,
            svg=svg,
            svg_omitted=svg is None,
            svg_url=urls[0],
            mask_contours=_contours(doc),
            regions_svg_urls=dict(zip(regions, urls[1 : 1 + len(regions)], strict=True)),
            result=doc,
            result_urls=dict(zip(docs, urls[1 + len(regions) :], strict=True)),
        )


class _Response(Protocol):
    omitted: list[str] | None

    def model_dump_json(self, *, exclude_none: bool) -> str: ...

    def model_copy(self, *, update: dict[str, Any]) -> Self: ...


def bounded_json(response: _Response, limit: int = RESPONSE_MAX_BYTES) -> str:
    """The response as JSON of at most ``limit`` bytes: ``DROPPABLE`` fields are left out, largest
    first, until it fits, and named in ``omitted``. One serialisation when it fits (always, today:
    the largest option set is ~0.2 MB without the SVG)."""
    body = response.model_dump_json(exclude_none=True)
    omitted = list(response.omitted or [])
    for name in DROPPABLE:
        if len(body.encode()) <= limit:
            break
        if getattr(response, name, None) is None:
            continue
        omitted.append(name)
        response = response.model_copy(update={name: None, "omitted": omitted})
        body = response.model_dump_json(exclude_none=True)
    return body


def _contours(doc: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Region → points from ``result.json`` (written by this service, so already well-typed)."""
    regions = doc.get("regions") or {}
    return {str(k): v for k, v in regions.items() if isinstance(v, list)}
