"""Status: a job, and once it is completed its SVG, contours and presigned result URLs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from facesvg.service import layout
from facesvg.service.errors import JobNotFound
from facesvg.service.models import Job, JobStatus, is_job_id
from facesvg.service.ports import BlobReader, BlobStore, JobRepository


@dataclass(frozen=True)
class StatusView:
    """Everything the status response needs, already read from storage."""

    job: Job
    svg: bytes | None = None
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

    def get_job(self, job_id: str) -> Job:
        job = self.jobs.get_job(job_id) if is_job_id(job_id) else None
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    def view(self, job: Job) -> StatusView:
        if job.status is not JobStatus.COMPLETED or job.result is None:
            return StatusView(job=job)
        prefix, regions = job.result.prefix, job.result.regions
        svg_key, doc_key = layout.svg_key(prefix), layout.result_json_key(prefix)
        got = self.results.get_many([svg_key, doc_key])
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
            svg=got[svg_key],
            svg_url=urls[0],
            mask_contours=_contours(doc),
            regions_svg_urls=dict(zip(regions, urls[1 : 1 + len(regions)], strict=True)),
            result=doc,
            result_urls=dict(zip(docs, urls[1 + len(regions) :], strict=True)),
        )


def _contours(doc: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Region → points from ``result.json`` (written by this service, so already well-typed)."""
    regions = doc.get("regions") or {}
    return {str(k): v for k, v in regions.items() if isinstance(v, list)}
