"""Submit: one job per content hash, whatever the timing; nothing written for bad input."""

from __future__ import annotations

import threading

import pytest
from facesvg.core.errors import InputError, NoFace
from facesvg.core.options import RenderOptions
from facesvg.service.errors import ServiceUnavailable
from facesvg.service.models import JobStatus
from facesvg.service.submit import SubmitOutcome
from service_fakes import SpyRepository, make_harness

OPTS = RenderOptions.model_validate({})
LM = [[1.0, 2.0], [3.0, 4.0]]


def test_a_new_submit_creates_one_pending_job_and_enqueues_its_id() -> None:
    h = make_harness()
    p = h.service.prepare(b"img", b"map", LM, OPTS)

    out = h.service.submit(p, source="api")

    assert out.created and out.job.status is JobStatus.PENDING
    assert [m.job_id for m in h.queue.messages] == [out.job.job_id]
    assert h.jobs.get_cached_job_id(p.content_hash, "local") == out.job.job_id
    assert sorted(h.blobs.objects) == [
        f"inputs/{p.content_hash}/image",
        f"inputs/{p.content_hash}/landmarks.json",
        f"inputs/{p.content_hash}/options.json",
        f"inputs/{p.content_hash}/segmentation_map",
    ]


def test_an_identical_submit_returns_the_same_job_without_validating_or_enqueueing() -> None:
    h = make_harness()
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")

    again = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")

    assert not again.created and again.job.job_id == first.job.job_id
    assert h.core.validations == 1 and len(h.queue.messages) == 1


def test_different_options_make_a_different_job() -> None:
    h = make_harness()
    a = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    b = h.service.submit(
        h.service.prepare(b"img", b"map", LM, RenderOptions.model_validate({"canvas_size": 512})),
        source="api",
    )
    assert a.job.job_id != b.job.job_id and len(h.queue.messages) == 2


def test_twenty_concurrent_identical_submits_make_exactly_one_job() -> None:
    h = make_harness()
    barrier = threading.Barrier(20)
    ids: list[str] = []

    def worker() -> None:
        p = h.service.prepare(b"img", b"map", LM, OPTS)
        barrier.wait()
        ids.append(h.service.submit(p, source="api").job.job_id)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(ids)) == 1 and len(ids) == 20
    assert h.jobs.creates == 1 and len(h.queue.messages) == 1


@pytest.mark.parametrize(("image", "error"), [(b"bad", InputError), (b"noface", NoFace)])
def test_invalid_inputs_raise_and_write_nothing(image: bytes, error: type[Exception]) -> None:
    h = make_harness()
    with pytest.raises(error):
        h.service.submit(h.service.prepare(image, b"map", LM, OPTS), source="api")
    assert h.blobs.objects == {} and h.jobs.rows == {} and h.queue.messages == []


def test_bad_landmarks_are_rejected_before_anything_else() -> None:
    h = make_harness()
    with pytest.raises(InputError) as err:
        h.service.prepare(b"img", b"map", "nonsense", OPTS)
    assert err.value.field == "landmarks"


def test_an_enqueue_failure_rolls_the_job_back_so_a_retry_can_succeed() -> None:
    h = make_harness()
    h.queue.fail = True
    with pytest.raises(ServiceUnavailable):
        h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    assert h.jobs.rows == {} and h.jobs.cache == {}

    h.queue.fail = False
    out = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    assert out.created and len(h.queue.messages) == 1


def test_a_job_that_failed_transiently_is_replaced_by_an_identical_submit() -> None:
    h = make_harness(max_receive_count=1)
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    h.core.render_error = TimeoutError("flaky")
    with pytest.raises(TimeoutError):
        h.service.process(first.job.job_id, receive_count=1)
    assert h.jobs.get_job(first.job.job_id).status is JobStatus.FAILED  # type: ignore[union-attr]

    again = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")

    assert again.created and again.job.job_id != first.job.job_id


def test_a_job_that_failed_on_its_inputs_is_returned_not_retried() -> None:
    h = make_harness()
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    h.core.render_error = InputError("segmentation_map", "corrupt")
    h.service.process(first.job.job_id)

    again = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")

    assert not again.created and again.job.status is JobStatus.FAILED


def test_an_input_upload_failure_rolls_the_job_back() -> None:
    h = make_harness()

    def broken_put(key: str, data: bytes, content_type: str) -> None:
        raise ConnectionError("S3 down")

    h.blobs.put = broken_put  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    assert h.jobs.rows == {} and h.jobs.cache == {} and h.queue.messages == []


def test_a_job_pending_for_too_long_is_enqueued_again_once() -> None:
    h = make_harness(requeue_pending_seconds=60)
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    assert len(h.queue.messages) == 1  # young: left alone

    h.clock[0] += 120  # the first message was lost
    again = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")
    h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api")

    assert again.job.job_id == first.job.job_id
    assert [m.job_id for m in h.queue.messages] == [first.job.job_id] * 2  # once, not per submit


# -- the job cache is per client (API key); the render is shared ------------------------------


def test_another_clients_identical_inputs_are_a_new_job_made_as_any_new_inputs_are() -> None:
    # Given inputs client A submitted and that were rendered (the render took 2.5 s)
    h = make_harness()
    spy = SpyRepository(h.jobs)
    h.service.jobs = spy  # type: ignore[assignment]  # before the submitter is built
    h.core.on_render = lambda: h.clock.__setitem__(0, h.clock[0] + 2.5)
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:A")
    h.service.process(first.job.job_id)
    h.clock[0] += 60

    def submitted(image: bytes, scope: str) -> tuple[SubmitOutcome, list[str], list[str]]:
        spy.calls.clear()
        puts = len(h.blobs.puts)
        outcome = h.service.submit(h.service.prepare(image, b"map", LM, OPTS), source="api", scope=scope)
        return outcome, [name for name, _ in spy.calls], [k.rsplit("/", 1)[-1] for k in h.blobs.puts[puts:]]

    # When client B submits the same inputs, and client C inputs nobody sent
    known, known_calls, known_puts = submitted(b"img", "key:B")
    fresh, fresh_calls, fresh_puts = submitted(b"img2", "key:C")

    # Then B's job is new and pending like C's, made by the same work: the same table calls, the
    # same uploads, checked and enqueued (nothing B could time or see differs)
    assert known.created and fresh.created and known.job.job_id != first.job.job_id
    assert known.job.status is fresh.job.status is JobStatus.PENDING
    assert known_calls == fresh_calls and known_puts == fresh_puts
    assert h.core.validations == 3 and [m.job_id for m in h.queue.messages][1:] == [
        known.job.job_id,
        fresh.job.job_id,
    ]
    # and the same client again gets its own job back
    again = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:B")
    assert not again.created and again.job.job_id == known.job.job_id


def test_a_job_over_an_earlier_render_completes_with_it_no_sooner_than_that_render_took() -> None:
    # Given client A's job rendered in 2.5 s, and client B's job for the same inputs
    h = make_harness()
    h.core.on_render = lambda: h.clock.__setitem__(0, h.clock[0] + 2.5)
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:A")
    h.service.process(first.job.job_id)
    second = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:B")
    h.sleeps.clear()

    # When B's job is processed
    assert h.service.process(second.job.job_id) == "completed"

    # Then it is A's render (not rendered again), handed over after waiting as long as it took
    done_a, done_b = h.jobs.get_job(first.job.job_id), h.jobs.get_job(second.job.job_id)
    assert done_a is not None and done_b is not None and done_b.status is JobStatus.COMPLETED
    assert done_b.result == done_a.result and done_a.result is not None
    assert done_a.result.render_seconds == 2.5
    assert h.core.renders == 1 and h.sleeps == [2.5]


def test_a_render_item_without_its_duration_is_rendered_again() -> None:
    # A render recorded before durations were: how long to wait is unknown, so B's job renders
    h = make_harness()
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:A")
    h.service.process(first.job.job_id)
    digest = first.job.content_hash
    h.jobs.renders[digest] = h.jobs.renders[digest].model_copy(update={"render_seconds": None})
    second = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:B")

    assert h.service.process(second.job.job_id) == "completed"
    assert h.core.renders == 2


def test_a_second_client_while_the_first_job_is_still_pending_gets_its_own_pending_job() -> None:
    h = make_harness()
    first = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:A")
    second = h.service.submit(h.service.prepare(b"img", b"map", LM, OPTS), source="api", scope="key:B")
    assert second.created and second.job.job_id != first.job.job_id
    assert second.job.status is JobStatus.PENDING and len(h.queue.messages) == 2


@pytest.mark.parametrize(
    ("api_key_id", "api_key", "expected"),
    [
        ("abc123XYZ", "secret", "key:abc123XYZ"),  # API Gateway's key id wins over the header
        (None, "secret", "hdr:" + __import__("hashlib").sha256(b"secret").hexdigest()[:32]),
        ("not/an id", None, "local"),
        (None, None, "local"),
        ("", "", "local"),
    ],
)
def test_the_client_scope_comes_from_the_api_key(
    api_key_id: str | None, api_key: str | None, expected: str
) -> None:
    from facesvg.service.submit import client_scope

    scope = client_scope(api_key_id, api_key)
    assert scope == expected and "secret" not in scope
