"""Status: the job, and once completed its SVG, contours and URLs, read once per warm environment."""

from __future__ import annotations

import pytest
from facesvg.core.options import RenderOptions
from facesvg.service.errors import JobNotFound
from facesvg.service.models import Job, JobStatus
from facesvg.service.results_cache import CachingReader, ImmutableCache
from service_fakes import FakeBlobStore, Harness, SpyRepository, make_harness


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


# -- response size: always under Lambda's 6 MB ---------------------------------------------------


def _completed(h: Harness, svg: bytes, svg_bytes: int | None) -> Job:
    """A completed job whose face.svg is ``svg`` and whose record says ``svg_bytes``."""
    prepared = h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], RenderOptions.model_validate({}))
    job_id = h.service.submit(prepared, source="api").job.job_id
    h.service.process(job_id)
    row = h.jobs.rows[job_id]
    assert row.job.status is JobStatus.COMPLETED and row.job.result is not None
    row.job = row.job.model_copy(
        update={"result": row.job.result.model_copy(update={"svg_bytes": svg_bytes})}
    )
    h.blobs.put(f"results/{prepared.content_hash}/face.svg", svg, "image/svg+xml")
    return row.job


def test_an_svg_over_the_inline_limit_is_only_a_url_and_is_not_even_read() -> None:
    from facesvg.service.status import INLINE_SVG_MAX_BYTES, RESPONSE_MAX_BYTES, bounded_json
    from facesvg.service.status_response import status_response

    h = make_harness()
    big = b"<svg>" + b"x" * INLINE_SVG_MAX_BYTES + b"</svg>"
    job = _completed(h, big, len(big))
    h.blobs.gets.clear()

    view = h.service.status_view(job)

    assert view.svg is None and view.svg_omitted and view.svg_url
    assert not [k for k in h.blobs.gets if k.endswith("face.svg")]
    body = bounded_json(status_response(view, None))
    assert '"svg":' not in body and '"omitted":["svg"]' in body and len(body) < RESPONSE_MAX_BYTES


def test_a_job_without_a_recorded_svg_size_is_checked_when_read() -> None:
    from facesvg.service.status import INLINE_SVG_MAX_BYTES

    h = make_harness()
    big = b"<svg>" + b"x" * INLINE_SVG_MAX_BYTES + b"</svg>"
    assert h.service.status_view(_completed(h, big, None)).svg is None
    small = b"<svg>small</svg>"
    h2 = make_harness()
    assert h2.service.status_view(_completed(h2, small, None)).svg == small


def test_the_svg_at_the_limit_is_still_inlined() -> None:
    from facesvg.service.status import INLINE_SVG_MAX_BYTES

    h = make_harness()
    svg = b"<svg>" + b"x" * (INLINE_SVG_MAX_BYTES - 11) + b"</svg>"
    assert len(svg) == INLINE_SVG_MAX_BYTES
    assert h.service.status_view(_completed(h, svg, len(svg))).svg == svg


def test_a_body_over_the_budget_sheds_the_largest_optional_fields_in_order() -> None:
    from facesvg.service.models import JobStatusResponse
    from facesvg.service.status import bounded_json

    contours = {f"r{i}": [[float(i), 1.0]] * 2000 for i in range(10)}  # ~0.2 MB each field
    response = JobStatusResponse.model_construct(
        id="0" * 32,
        status=JobStatus.COMPLETED,
        created_at="t",
        updated_at="t",
        svg="QUFB" * 100_000,
        mask_contours=contours,
        zone_contours=contours,
        contours_source_px=contours,
        omitted=None,
    )
    full = len(response.model_dump_json(exclude_none=True))

    body = bounded_json(response, limit=full - 1)  # the svg alone is enough
    assert '"svg":"' not in body and '"omitted":["svg"]' in body and '"mask_contours"' in body

    limit = len(bounded_json(response, limit=1)) + 250_000  # room for about one contour field
    shed = bounded_json(response, limit=limit)
    import json

    doc = json.loads(shed)
    assert len(shed) <= limit and doc["omitted"] == ["svg", "contours_source_px", "zone_contours"]
    assert "mask_contours" in doc and "svg_url" not in doc


# -- scopes: a job is read only by its own client ------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "job_scope", "readable"),
    [
        ("key:A1", "key:A1", True),
        ("key:A1", "key:B2", False),
        ("hdr:" + "a" * 32, "hdr:" + "a" * 32, True),
        ("hdr:" + "a" * 32, "hdr:" + "b" * 32, False),
        ("key:A1", "hdr:" + "a" * 32, False),
        ("local", "local", True),
        ("local", "key:A1", False),
        ("key:A1", "local", False),
        ("local", "drop", False),  # the drop folder's jobs are no API caller's
        ("key:A1", "drop", False),
        ("local", "", True),  # written before scopes: the keyless local stack keeps reading it
        ("key:A1", "", False),  # ... a keyed caller (every caller on AWS) does not
        ("hdr:" + "a" * 32, "", False),
    ],
)
def test_may_read_only_its_own_scope(caller: str, job_scope: str, readable: bool) -> None:
    from facesvg.service.scopes import may_read, readable_scopes

    assert may_read(caller, job_scope) is readable
    assert (job_scope in readable_scopes(caller)) is readable  # what the store filters by


def test_get_job_in_another_scope_is_not_found_with_the_unknown_ids_message() -> None:
    # Given a completed job of scope key:A1
    h = make_harness()
    prepared = h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], RenderOptions.model_validate({}))
    job_id = h.service.submit(prepared, source="api", scope="key:A1").job.job_id
    h.service.process(job_id)

    # Then its own scope and the service itself (no scope) read it; another scope does not
    assert h.service.get_job(job_id, scope="key:A1").job_id == job_id
    assert h.service.get_job(job_id).job_id == job_id
    with pytest.raises(JobNotFound) as foreign:
        h.service.get_job(job_id, scope="key:B2")
    del h.jobs.rows[job_id]
    with pytest.raises(JobNotFound) as unknown:
        h.service.get_job(job_id, scope="key:B2")
    assert str(foreign.value) == str(unknown.value)
    assert (foreign.value.code, foreign.value.message) == (unknown.value.code, unknown.value.message)


@pytest.mark.parametrize("foreign_scope", ["key:A1", "drop", ""])
def test_another_clients_job_costs_the_same_reads_as_an_unknown_id(foreign_scope: str) -> None:
    # Given a completed job of another scope, and an id no job has
    h = make_harness()
    prepared = h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], RenderOptions.model_validate({}))
    job_id = h.service.submit(prepared, source="api", scope=foreign_scope).job.job_id
    h.service.process(job_id)
    unknown_id = "f" * 32
    spy = SpyRepository(h.jobs)
    h.service.jobs = spy  # type: ignore[assignment]  # the status reader is built on first use

    def reads(job_id: str) -> list[tuple[str, object]]:
        spy.calls.clear()
        with pytest.raises(JobNotFound):
            h.service.get_job(job_id, scope="key:B2")
        return spy.calls

    # When key B2 asks for each
    foreign, unknown = reads(job_id), reads(unknown_id)

    # Then both made the same one read of the table, and both got nothing back from it (the store
    # filtered the foreign job out: it is never returned, parsed or compared here)
    assert foreign == unknown == [("get_job_in_scopes", None)]
    # and the blobs were not touched on either path
    assert not [k for k in h.blobs.gets if k.startswith("results/")]
