"""Process: the job state machine under SQS at-least-once delivery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service.errors import TransientError
from facesvg.service.models import JobStatus
from facesvg.service.worker import ProcessOutcome
from service_fakes import Harness, make_harness

OPTS = RenderOptions.model_validate({})


def _job(h: Harness) -> str:
    return h.service.submit(
        h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], OPTS), source="api"
    ).job.job_id


def test_a_pending_job_is_rendered_and_completed_with_results_in_storage() -> None:
    h = make_harness()
    job_id = _job(h)

    assert h.service.process(job_id) is ProcessOutcome.COMPLETED

    job = h.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and job.attempts == 1
    assert job.result is not None and job.result.regions == ["chin", "nose"]
    prefix = job.result.prefix
    assert h.blobs.objects[prefix + "face.svg"] == b"<svg>face</svg>"
    assert json.loads(h.blobs.objects[prefix + "result.json"])["regions"]["nose"] == [[1.0, 2.0], [3.0, 4.0]]
    view = h.service.status_view(job)
    assert view.svg == b"<svg>face</svg>" and view.mask_contours == {"nose": [[1.0, 2.0], [3.0, 4.0]]}
    assert set(view.regions_svg_urls or {}) == {"chin", "nose"}


def test_redelivery_of_a_completed_job_does_no_work() -> None:
    h = make_harness()
    job_id = _job(h)
    h.service.process(job_id)
    before = h.jobs.get_job(job_id)

    assert h.service.process(job_id, receive_count=2) is ProcessOutcome.ALREADY_DONE
    assert h.core.renders == 1 and h.jobs.get_job(job_id) == before


def test_permanent_input_errors_fail_the_job_without_a_retry() -> None:
    h = make_harness()
    job_id = _job(h)
    h.core.render_error = InputError("segmentation_map", "corrupt PNG", code="InvalidImage")

    assert h.service.process(job_id) is ProcessOutcome.FAILED  # no exception: SQS deletes the message

    job = h.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "InvalidImage" and "corrupt" in job.error.message
    assert h.service.process(job_id) is ProcessOutcome.ALREADY_DONE  # never backwards


def test_transient_errors_raise_keep_the_job_processing_and_let_the_retry_claim_it() -> None:
    h = make_harness()
    job_id = _job(h)
    h.core.render_error = ConnectionError("S3 hiccup")

    with pytest.raises(ConnectionError):
        h.service.process(job_id, receive_count=1)
    assert h.jobs.get_job(job_id).status is JobStatus.PROCESSING  # type: ignore[union-attr]

    h.core.render_error = None
    assert h.service.process(job_id, receive_count=2) is ProcessOutcome.COMPLETED
    assert h.jobs.get_job(job_id).attempts == 2  # type: ignore[union-attr]


def test_the_last_attempt_marks_the_job_failed_and_still_raises_for_the_dlq() -> None:
    h = make_harness(max_receive_count=3)
    job_id = _job(h)
    h.core.render_error = ConnectionError("down")

    with pytest.raises(ConnectionError):
        h.service.process(job_id, receive_count=3)

    job = h.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "ProcessingFailed"


def test_a_concurrent_duplicate_delivery_does_not_render_twice() -> None:
    h = make_harness()
    job_id = _job(h)
    token_holder = h.jobs.claim(job_id, "other-worker", "now", h.clock[0], h.clock[0] + 60)
    assert token_holder is not None

    with pytest.raises(TransientError):
        h.service.process(job_id)
    assert h.core.renders == 0

    h.clock[0] += 120  # the other worker's lease expired (it crashed): this delivery takes over
    assert h.service.process(job_id) is ProcessOutcome.COMPLETED


def test_unknown_jobs_are_dropped() -> None:
    h = make_harness()
    assert h.service.process("0" * 32) is ProcessOutcome.MISSING


@pytest.mark.parametrize(("load_test", "expected"), [(False, [1.5]), (True, [])])
def test_artificial_delay_is_honoured_unless_load_test_mode(load_test: bool, expected: list[float]) -> None:
    h = make_harness(artificial_delay_seconds=1.5, load_test_mode=load_test)
    h.service.process(_job(h))
    assert h.sleeps == expected


def test_the_message_carries_the_hash_so_the_inputs_download_while_the_job_is_claimed() -> None:
    h = make_harness()
    job_id = _job(h)
    message = h.queue.messages[-1]
    job = h.jobs.get_job(job_id)
    assert job is not None and message.content_hash == job.content_hash

    assert h.service.process(job_id, content_hash=message.content_hash) is ProcessOutcome.COMPLETED
    inputs = [k for k in h.blobs.gets if k.startswith("inputs/")]
    assert sorted(inputs) == sorted(set(inputs)) and len(inputs) == 4  # each input read once
    assert all(k.startswith(f"inputs/{job.content_hash}/") for k in inputs)


def test_a_message_hash_that_is_not_the_claimed_jobs_is_ignored() -> None:
    h = make_harness()
    job_id = _job(h)
    other = h.service.submit(h.service.prepare(b"img2", b"map", [[5, 6], [7, 8]], OPTS), source="api")
    job = h.jobs.get_job(job_id)
    assert job is not None

    outcome = h.service.process(job_id, content_hash=other.job.content_hash)

    assert outcome is ProcessOutcome.COMPLETED
    finished = h.jobs.get_job(job_id)
    assert finished is not None and finished.result is not None
    own = {k for k in h.blobs.gets if k.startswith(f"inputs/{job.content_hash}/")}
    assert len(own) == 4  # rendered from its own inputs, read after the claim
    assert h.core.renders == 1 and finished.result.prefix == f"results/{job.content_hash}/"


def test_a_prefetched_job_that_is_already_done_is_skipped_without_error() -> None:
    h = make_harness()
    job_id = _job(h)
    content_hash = h.queue.messages[-1].content_hash
    h.service.process(job_id, content_hash=content_hash)
    for key in list(h.blobs.objects):  # the lifecycle rule removed the inputs meanwhile
        if key.startswith("inputs/"):
            h.blobs.delete(key)

    assert h.service.process(job_id, 2, content_hash) is ProcessOutcome.ALREADY_DONE
    assert h.core.renders == 1


@pytest.mark.parametrize(
    "error",
    [
        np.linalg.LinAlgError("Singular matrix"),
        ValueError("zero-size array to reduction operation"),
        ZeroDivisionError("float division by zero"),
    ],
    ids=["LinAlgError", "ValueError", "ZeroDivisionError"],
)
def test_a_deterministic_render_failure_fails_the_job_on_the_first_attempt(error: Exception) -> None:
    # Given degenerate inputs (e.g. 478 copies of one point) that make the core raise
    h = make_harness(max_receive_count=3)
    job_id = _job(h)
    h.core.render_error = error

    # When the first delivery is processed: no exception, so SQS deletes the message (no retry, no DLQ)
    assert h.service.process(job_id, receive_count=1) is ProcessOutcome.FAILED

    job = h.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED and job.attempts == 1
    assert job.error is not None and job.error.code == "InvalidInput"
    assert type(error).__name__ in job.error.message and not job.error.message.startswith("landmarks:")


def test_a_typed_input_error_keeps_its_own_code() -> None:
    from facesvg.core.errors import NoFace

    h = make_harness()
    job_id = _job(h)
    h.core.render_error = NoFace("segmentation_map", "no skin near the landmarks")

    assert h.service.process(job_id) is ProcessOutcome.FAILED
    assert h.jobs.get_job(job_id).error.code == "NoFace"  # type: ignore[union-attr]


def test_an_unexpected_error_is_still_retried() -> None:
    h = make_harness(max_receive_count=3)
    job_id = _job(h)
    h.core.render_error = MemoryError()

    with pytest.raises(MemoryError):
        h.service.process(job_id, receive_count=1)
    assert h.jobs.get_job(job_id).status is JobStatus.PROCESSING  # type: ignore[union-attr]
