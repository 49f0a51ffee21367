"""One suite, two implementations: ``FakeJobRepository`` and ``DynamoJobRepository`` on moto.

Every conditional write of ``facesvg.service.ports.JobRepository``, as the rules rely on it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from facesvg import names
from facesvg.service.aws.dynamo import DynamoJobRepository
from facesvg.service.errors import StoreError
from facesvg.service.models import Job, JobError, JobResult, JobStatus
from facesvg.service.ports import JobRepository
from service_fakes import FakeJobRepository

T0, T1, T2 = "2027-01-15T08:00:00.000Z", "2027-01-15T08:00:01.000Z", "2027-01-15T08:00:02.000Z"
NOW = 1_800_000_000.0
LEASE = 120.0
RESULT = JobResult(prefix="results/h/", regions=["nose"], transform=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.fixture(params=["fake", pytest.param("dynamodb", marks=pytest.mark.integration)])
def repo(request: pytest.FixtureRequest) -> Iterator[JobRepository]:
    if request.param == "fake":
        yield FakeJobRepository()
    else:
        stack = request.getfixturevalue("local_stack")
        yield DynamoJobRepository(stack.clients["dynamodb"], names.TABLE_NAME)


@pytest.fixture
def new_job() -> Callable[..., Job]:
    """A fresh pending job (its own id and hash: the moto table is shared by the session)."""

    def make(content_hash: str | None = None, **changes: Any) -> Job:
        job = Job(
            job_id=uuid.uuid4().hex,
            content_hash=content_hash or hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            status=JobStatus.PENDING,
            created_at=T0,
            updated_at=T0,
            source="contract",
        )
        return job.model_copy(update=changes)

    return make


def _created(repo: JobRepository, job: Job) -> Job:
    assert repo.create_job(job, expires_at=int(NOW) + 86400) is None
    return job


def _claimed(repo: JobRepository, job: Job, token: str = "t1", now_epoch: float = NOW) -> Job:
    claimed = repo.claim(job.job_id, token, T1, now_epoch, now_epoch + LEASE)
    assert claimed is not None
    return claimed


# -- create / read ---------------------------------------------------------------------------


def test_a_created_job_reads_back_with_its_cache_item(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job(publish_to=frozenset({"drop-a"})))

    assert repo.get_job(job.job_id) == job
    assert repo.get_cached_job_id(job.content_hash) == job.job_id


def test_unknown_ids_and_hashes_read_as_none(repo: JobRepository, new_job: Any) -> None:
    job = new_job()
    assert repo.get_job(job.job_id) is None
    assert repo.get_cached_job_id(job.content_hash) is None


def test_a_second_job_for_the_same_hash_loses_to_the_holder(repo: JobRepository, new_job: Any) -> None:
    first = _created(repo, new_job())
    second = new_job(content_hash=first.content_hash)

    assert repo.create_job(second, expires_at=int(NOW)) == first.job_id
    assert repo.get_job(second.job_id) is None
    assert repo.get_cached_job_id(first.content_hash) == first.job_id


def test_a_replacement_takes_the_hash_over_only_from_the_job_it_names(
    repo: JobRepository, new_job: Any
) -> None:
    first = _created(repo, new_job())
    stranger = new_job(content_hash=first.content_hash)
    assert repo.create_job(stranger, expires_at=int(NOW), replace_job_id="f" * 32) == first.job_id

    second = new_job(content_hash=first.content_hash)
    assert repo.create_job(second, expires_at=int(NOW), replace_job_id=first.job_id) is None
    assert repo.get_cached_job_id(first.content_hash) == second.job_id
    assert repo.get_job(second.job_id) == second


def test_a_replacement_may_also_take_a_free_hash(repo: JobRepository, new_job: Any) -> None:
    job = new_job()  # the cache item expired with the job it named
    assert repo.create_job(job, expires_at=int(NOW), replace_job_id="e" * 32) is None
    assert repo.get_cached_job_id(job.content_hash) == job.job_id


# -- roll back -------------------------------------------------------------------------------


def test_a_created_job_can_be_rolled_back_while_pending(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())

    repo.delete_created_job(job)

    assert repo.get_job(job.job_id) is None and repo.get_cached_job_id(job.content_hash) is None


def test_a_claimed_job_is_not_rolled_back(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())
    _claimed(repo, job)

    with pytest.raises(StoreError):
        repo.delete_created_job(job)

    assert repo.get_job(job.job_id) is not None
    assert repo.get_cached_job_id(job.content_hash) == job.job_id


# -- claim / release -------------------------------------------------------------------------


def test_a_claim_moves_pending_to_processing_and_counts_it(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())

    claimed = _claimed(repo, job)

    assert claimed.status is JobStatus.PROCESSING and claimed.attempts == 1 and claimed.updated_at == T1
    assert repo.get_job(job.job_id) == claimed


def test_a_live_lease_refuses_a_second_claim_an_expired_one_does_not(
    repo: JobRepository, new_job: Any
) -> None:
    job = _created(repo, new_job())
    _claimed(repo, job, "t1")

    assert repo.claim(job.job_id, "t2", T2, NOW + LEASE - 1, NOW + 2 * LEASE) is None
    taken = repo.claim(job.job_id, "t2", T2, NOW + LEASE + 1, NOW + 2 * LEASE)

    assert taken is not None and taken.attempts == 2
    assert repo.complete(job.job_id, "t1", RESULT, T2) is None  # the old holder lost it


def test_unknown_and_finished_jobs_are_not_claimed(repo: JobRepository, new_job: Any) -> None:
    assert repo.claim(new_job().job_id, "t", T1, NOW, NOW + LEASE) is None
    job = _created(repo, new_job())
    _claimed(repo, job)
    assert repo.complete(job.job_id, "t1", RESULT, T2) is not None

    assert repo.claim(job.job_id, "t2", T2, NOW + 10 * LEASE, NOW + 11 * LEASE) is None


def test_a_released_lease_can_be_taken_at_once_and_only_its_holder_releases(
    repo: JobRepository, new_job: Any
) -> None:
    job = _created(repo, new_job())
    _claimed(repo, job, "t1")

    repo.release(job.job_id, "not-mine", T2)
    assert repo.claim(job.job_id, "t2", T2, NOW + 1, NOW + LEASE) is None
    repo.release(job.job_id, "t1", T2)

    released = repo.get_job(job.job_id)
    assert released is not None and released.status is JobStatus.PROCESSING and released.updated_at == T2
    assert repo.claim(job.job_id, "t2", T2, NOW + 1, NOW + LEASE) is not None


# -- complete / fail -------------------------------------------------------------------------


def test_only_the_lease_holder_completes_and_only_once(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())
    _claimed(repo, job, "t1")

    assert repo.complete(job.job_id, "t2", RESULT, T2) is None
    done = repo.complete(job.job_id, "t1", RESULT, T2)

    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.result == RESULT and done.updated_at == T2 and done.attempts == 1
    assert repo.get_job(job.job_id) == done
    assert repo.complete(job.job_id, "t1", RESULT, T2) is None
    assert repo.fail(job.job_id, "t1", JobError(code="X", message="late"), T2) is None  # never backwards


def test_a_pending_job_cannot_be_finished(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())
    assert repo.complete(job.job_id, "t1", RESULT, T2) is None
    assert repo.fail(job.job_id, "t1", JobError(code="X", message="no"), T2) is None


def test_a_failure_keeps_its_code_and_a_bounded_message(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())
    _claimed(repo, job)

    failed = repo.fail(job.job_id, "t1", JobError(code="ProcessingFailed", message="x" * 5000), T2)

    assert failed is not None and failed.status is JobStatus.FAILED and failed.result is None
    assert failed.error == JobError(code="ProcessingFailed", message="x" * 1000)
    assert repo.get_job(job.job_id) == failed


# -- touch / publish names ---------------------------------------------------------------------


def test_touch_pending_succeeds_once_per_seen_timestamp(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())

    assert repo.touch_pending(job.job_id, T0, T1) is True
    assert repo.touch_pending(job.job_id, T0, T2) is False  # someone else touched it first
    touched = repo.get_job(job.job_id)
    assert touched is not None and touched.updated_at == T1 and touched.status is JobStatus.PENDING


def test_touch_pending_leaves_claimed_and_unknown_jobs_alone(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())
    claimed = _claimed(repo, job)

    assert repo.touch_pending(job.job_id, claimed.updated_at, T2) is False
    assert repo.touch_pending(new_job().job_id, T0, T1) is False


def test_publish_names_accumulate_as_a_set(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job())

    repo.add_publish_name(job.job_id, "a")
    updated = repo.add_publish_name(job.job_id, "b")
    again = repo.add_publish_name(job.job_id, "a")

    assert updated is not None and updated.publish_to == frozenset({"a", "b"})
    assert again == repo.get_job(job.job_id) and again is not None and again.publish_to == {"a", "b"}
    assert repo.add_publish_name(new_job().job_id, "a") is None


# --- notifications: callbacks and the job-end event's outbox flag (facesvg.service.notify) -------


def test_callbacks_are_stored_at_creation_and_appended_until_the_job_ends(
    repo: JobRepository, new_job: Any
) -> None:
    from facesvg.service.models import Callback

    first = Callback(id="c1", url="https://a.example/hook", client_reference="ref-a")
    job = _created(repo, new_job(callbacks=(first,)))
    second = Callback(id="c2", url="https://b.example/hook")

    added = repo.add_callback(job.job_id, second, max_callbacks=2)
    assert added is not None and added.callbacks == (first, second)
    assert repo.add_callback(job.job_id, Callback(id="c3", url="https://c.example/"), max_callbacks=2) is None
    assert repo.add_callback(uuid.uuid4().hex, second, max_callbacks=2) is None

    _claimed(repo, job)
    assert repo.complete(job.job_id, "t1", RESULT, T2) is not None
    assert repo.add_callback(job.job_id, Callback(id="c4", url="https://d.example/"), max_callbacks=9) is None
    stored = repo.get_job(job.job_id)
    assert stored is not None and stored.callbacks == (first, second)


def test_the_write_that_ends_a_job_sets_the_event_flag_which_is_published_once(
    repo: JobRepository, new_job: Any
) -> None:
    from facesvg.service.models import EventState

    job = _claimed(repo, _created(repo, new_job()))
    done = repo.complete(job.job_id, "t1", RESULT, T2, event_claim_until=NOW + 60)
    assert done is not None and done.event_state is EventState.PENDING and done.event_claim_until == NOW + 60

    assert repo.claim_event(job.job_id, NOW + 30, NOW + 90) is None  # the writer's claim is live
    taken = repo.claim_event(job.job_id, NOW + 61, NOW + 121)  # expired: taken over, by one caller
    assert taken is not None and taken.event_claim_until == NOW + 121
    assert repo.claim_event(job.job_id, NOW + 62, NOW + 122) is None

    assert repo.mark_event_published(job.job_id) is True
    assert repo.mark_event_published(job.job_id) is False
    assert repo.claim_event(job.job_id, NOW + 999, NOW + 1059) is None
    stored = repo.get_job(job.job_id)
    assert stored is not None and stored.event_state is EventState.PUBLISHED


def test_a_failure_sets_the_event_flag_too_and_without_a_claim_there_is_none(
    repo: JobRepository, new_job: Any
) -> None:
    from facesvg.service.models import EventState

    failing = _claimed(repo, _created(repo, new_job()))
    failed = repo.fail(failing.job_id, "t1", JobError(code="X", message="m"), T2, event_claim_until=NOW)
    assert failed is not None and failed.event_state is EventState.PENDING

    plain = _claimed(repo, _created(repo, new_job()))
    done = repo.complete(plain.job_id, "t1", RESULT, T2)
    assert done is not None and done.event_state is None
    assert repo.mark_event_published(plain.job_id) is False


# -- scopes and renders ----------------------------------------------------------------------------


def test_the_same_content_in_two_scopes_is_two_jobs(repo: JobRepository, new_job: Any) -> None:
    a = _created(repo, new_job(scope="key:A"))
    b = new_job(content_hash=a.content_hash, scope="key:B")

    assert repo.create_job(b, expires_at=int(NOW) + 86400) is None
    assert repo.get_cached_job_id(a.content_hash, "key:A") == a.job_id
    assert repo.get_cached_job_id(a.content_hash, "key:B") == b.job_id
    assert repo.get_cached_job_id(a.content_hash) is None
    again = new_job(content_hash=a.content_hash, scope="key:B")
    assert repo.create_job(again, expires_at=int(NOW) + 86400) == b.job_id  # one per scope
    got = repo.get_job(b.job_id)
    assert got is not None and got.scope == "key:B"
    repo.delete_created_job(b)
    assert repo.get_cached_job_id(a.content_hash, "key:B") is None
    assert repo.get_cached_job_id(a.content_hash, "key:A") == a.job_id


def test_a_job_reads_in_its_own_scopes_only(repo: JobRepository, new_job: Any) -> None:
    keyed = _created(repo, new_job(scope="key:A", status=JobStatus.COMPLETED, result=RESULT))
    legacy = _created(repo, new_job(scope=""))  # written before scopes

    assert repo.get_job_in_scopes(keyed.job_id, ("key:A",)) == keyed
    assert repo.get_job_in_scopes(keyed.job_id, ("key:B",)) is None
    assert repo.get_job_in_scopes(keyed.job_id, ("local", "")) is None
    assert repo.get_job_in_scopes(legacy.job_id, ("local", "")) == legacy
    assert repo.get_job_in_scopes(legacy.job_id, ("key:A",)) is None
    assert repo.get_job_in_scopes(uuid.uuid4().hex, ("key:A",)) is None


class RecordingClient:
    """A DynamoDB client that records each call: its operation, parameters and answer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**params: Any) -> Any:
            answer = getattr(self.inner, name)(**params)
            self.calls.append((name, params, {k: v for k, v in answer.items() if k != "ResponseMetadata"}))
            return answer

        return call


@pytest.mark.integration
def test_on_dynamodb_another_scopes_job_is_the_same_request_and_answer_as_an_unknown_id(
    local_stack: Any, new_job: Any
) -> None:
    # Given a finished job of key A (with a result and a callback: a large item)
    table = local_stack.clients["dynamodb"]
    job = new_job(scope="key:A", status=JobStatus.COMPLETED, result=RESULT)
    _created(DynamoJobRepository(table, names.TABLE_NAME), job)
    client = RecordingClient(table)
    repo = DynamoJobRepository(client, names.TABLE_NAME)

    # When key B reads it, and an id no job has
    unknown_id = uuid.uuid4().hex
    assert repo.get_job_in_scopes(job.job_id, ("key:B",)) is None
    assert repo.get_job_in_scopes(unknown_id, ("key:B",)) is None

    # Then both were one identical request but for the id, and both answers hold no item: the
    # filter ran in DynamoDB (only its ScannedCount tells them apart, which nothing reads)
    (op_a, foreign, answer_a), (op_b, unknown, answer_b) = client.calls
    assert op_a == op_b == "query"
    assert json.dumps(foreign, sort_keys=True).replace(job.job_id, unknown_id) == json.dumps(
        unknown, sort_keys=True
    )
    assert answer_a["Items"] == answer_b["Items"] == [] and answer_a["Count"] == answer_b["Count"] == 0


def test_a_job_created_completed_keeps_its_result(repo: JobRepository, new_job: Any) -> None:
    job = _created(repo, new_job(status=JobStatus.COMPLETED, result=RESULT, scope="key:C"))
    got = repo.get_job(job.job_id)
    assert got is not None and got.status is JobStatus.COMPLETED and got.result == RESULT
    assert repo.claim(job.job_id, "t", T1, NOW, NOW + LEASE) is None  # nothing to process


def test_a_recorded_render_reads_back(repo: JobRepository) -> None:
    content_hash = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    assert repo.get_render(content_hash) is None
    repo.record_render(content_hash, RESULT, expires_at=int(NOW) + 86400)
    assert repo.get_render(content_hash) == RESULT


# -- drop folders ---------------------------------------------------------------------------------


def _drop_name() -> str:
    return "drop-" + uuid.uuid4().hex[:12]


def test_a_drop_folder_advances_one_state_at_a_time(repo: JobRepository) -> None:
    from facesvg.service.models import DropState

    name = _drop_name()
    assert repo.get_drop(name) is None
    first = DropState(name=name, seq=0, set_id="s1", files={"image": "image.png:e@1.000"}, newest=1.0)

    assert repo.advance_drop(first, expected_seq=0, expires_at=int(NOW))
    assert not repo.advance_drop(first, expected_seq=0, expires_at=int(NOW))  # someone else was first
    got = repo.get_drop(name)
    assert got is not None and (got.seq, got.set_id, got.files, got.newest) == (1, "s1", first.files, 1.0)
    assert got.job_id is None and got.published_seq == 0

    assert repo.set_drop_job(name, 1, "j1") and repo.get_drop(name).job_id == "j1"  # type: ignore[union-attr]
    second = first.model_copy(update={"set_id": "s2", "newest": 2.0})
    assert not repo.advance_drop(second, expected_seq=0, expires_at=int(NOW))
    assert repo.advance_drop(second, expected_seq=1, expires_at=int(NOW))
    got = repo.get_drop(name)
    assert got is not None and (got.seq, got.set_id, got.job_id) == (2, "s2", None)
    assert not repo.set_drop_job(name, 1, "j1")  # the old state's job no longer lands


def test_the_publish_lease_orders_publishes_of_one_folder(repo: JobRepository) -> None:
    from facesvg.service.models import DropState

    name = _drop_name()
    repo.advance_drop(DropState(name=name, seq=0, set_id="s1"), expected_seq=0, expires_at=int(NOW))

    assert repo.acquire_drop_publish(name, 1, "p1", NOW, NOW + 60)
    assert not repo.acquire_drop_publish(name, 1, "p2", NOW + 1, NOW + 61)  # held
    assert not repo.acquire_drop_publish(name, 2, "p2", NOW + 1, NOW + 61)  # not the current state
    # a new state does not free the lease: the holder may still be writing
    repo.advance_drop(DropState(name=name, seq=0, set_id="s2"), expected_seq=1, expires_at=int(NOW))
    assert not repo.acquire_drop_publish(name, 2, "p2", NOW + 1, NOW + 61)
    repo.release_drop_publish(name, 1, "p1")
    got = repo.get_drop(name)
    assert got is not None and got.published_seq == 1 and got.seq == 2
    assert repo.acquire_drop_publish(name, 2, "p2", NOW + 2, NOW + 62)
    repo.release_drop_publish(name, 2, "not-the-owner")  # ignored
    assert repo.get_drop(name).published_seq == 1  # type: ignore[union-attr]
    # an expired lease can be taken over
    assert repo.acquire_drop_publish(name, 2, "p3", NOW + 100, NOW + 160)
    repo.release_drop_publish(name, 2, "p3")
    assert repo.get_drop(name).published_seq == 2  # type: ignore[union-attr]
    assert not repo.acquire_drop_publish(name, 2, "p4", NOW + 200, NOW + 260)  # published already


def test_a_failed_publish_gives_the_lease_back_without_marking_it_published(repo: JobRepository) -> None:
    from facesvg.service.models import DropState

    name = _drop_name()
    repo.advance_drop(DropState(name=name, seq=0, set_id="s1"), expected_seq=0, expires_at=int(NOW))
    assert repo.acquire_drop_publish(name, 1, "p1", NOW, NOW + 60)

    repo.release_drop_publish(name, 1, "p1", published=False)

    assert repo.get_drop(name).published_seq == 0  # type: ignore[union-attr]
    assert repo.acquire_drop_publish(name, 1, "p2", NOW + 1, NOW + 61)  # free at once
