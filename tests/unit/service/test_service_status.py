"""Status: the job, and once completed its SVG, contours and URLs, read once per warm environment."""

from __future__ import annotations

import pytest
from facesvg.core.options import RenderOptions
from facesvg.service.errors import JobNotFound
from facesvg.service.results_cache import CachingReader, ImmutableCache
from service_fakes import FakeBlobStore, make_harness


def test_a_completed_jobs_results_are_read_once_then_served_from_the_cache() -> None:
    # Given a completed job
    h = make_harness()
    prepared = h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], RenderOptions.model_validate({}))
    job_id = h.service.submit(prepared, source="api").job.job_id
    h.service.process(job_id)
    job = h.service.get_job(job_id)

    # When its status is read twice
    first, second = h.service.status_view(job), h.service.status_view(job)

    # Then both carry the results, and S3 was read only for the first
    assert first == second and first.svg == b"<svg>face</svg>"
    assert [k for k in h.blobs.gets if k.startswith("results/")] == [
        f"results/{prepared.content_hash}/face.svg",
        f"results/{prepared.content_hash}/result.json",
    ]


@pytest.mark.parametrize("job_id", ["0" * 32, "not-a-job-id", "A" * 32, "../" + "0" * 29])
def test_unknown_or_malformed_ids_are_not_found(job_id: str) -> None:
    with pytest.raises(JobNotFound):
        make_harness().service.get_job(job_id)


def test_the_cache_keeps_the_most_recently_used_bytes_within_its_bound() -> None:
    blobs = FakeBlobStore()
    for key in "abc":
        blobs.put(key, key.encode() * 40, "text/plain")
    reader = CachingReader(blobs, ImmutableCache(max_bytes=100))

    reader.get_many(["a", "b"])  # 80 bytes
    reader.get_many(["a"])  # a is now the most recent
    reader.get_many(["c"])  # 120 > 100: b, the least recent, goes
    blobs.gets.clear()
    assert reader.get_many(["a", "b", "c"]) == {k: k.encode() * 40 for k in "abc"}

    assert blobs.gets == ["b"]
