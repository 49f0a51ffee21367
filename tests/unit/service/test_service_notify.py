"""Notifications: URL safety, signatures, the retry policy, the exactly-once job-end event, and
callbacks at submit (fakes only; the local-stack tests are in tests/integration/test_notify_local.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from facesvg.core.errors import InputError
from facesvg.core.options import RenderOptions
from facesvg.service.errors import TransientError
from facesvg.service.models import EventState, JobStatus, SubmitRequest
from facesvg.service.notify import (
    Delivery,
    DeliveryOutcome,
    Dispatcher,
    InvalidCallbackUrl,
    SafeUrl,
    UrlPolicy,
    backoff_seconds,
    check_callback_url,
    classify,
    parse_notify_message,
)
from facesvg.service.settings import Settings
from facesvg.service.signing import signature, signature_v1, verify_signature
from facesvg.service.webhook_http import HttpAnswer, parse_retry_after
from facesvg.service.worker import ProcessOutcome
from service_fakes import FakeBlobStore, Harness, make_harness

AWS = UrlPolicy()
LOCAL = UrlPolicy(allow_http=True, allow_loopback=True)
SECRET = b"whsec-test"
NOW = 1_800_000_000.0


def resolver(*addresses: str) -> Any:
    return lambda host, port: list(addresses)


# ------------------------------------------------------------------------------- URL safety


@pytest.mark.parametrize(
    ("url", "addresses", "policy", "reason"),
    [
        ("http://hooks.example.com/x", ["93.184.216.34"], AWS, "https"),
        ("ftp://hooks.example.com/x", ["93.184.216.34"], LOCAL, "https"),
        ("https://user:pw@hooks.example.com/x", ["93.184.216.34"], AWS, "credentials"),
        ("https://token@hooks.example.com/x", ["93.184.216.34"], AWS, "credentials"),
        ("https://localhost/x", ["127.0.0.1"], AWS, "loopback"),
        ("https://[::1]/x", ["::1"], AWS, "loopback"),
        ("https://internal.example/x", ["10.0.0.7"], AWS, "private"),
        ("https://internal.example/x", ["172.16.3.4"], LOCAL, "private"),
        ("https://internal.example/x", ["192.168.1.10"], LOCAL, "private"),
        ("https://metadata.example/latest", ["169.254.169.254"], LOCAL, "link-local"),
        ("https://v6.example/x", ["fe80::1"], LOCAL, "link-local"),
        ("https://mapped.example/x", ["::ffff:169.254.169.254"], LOCAL, "link-local"),
        ("https://cgnat.example/x", ["100.64.0.1"], AWS, "non-public"),
        ("https://zero.example/x", ["0.0.0.0"], LOCAL, "address"),
        ("https://mixed.example/x", ["93.184.216.34", "10.1.1.1"], AWS, "private"),
        ("https:///nohost", ["93.184.216.34"], AWS, "no host"),
        ("https://hooks.example.com/" + "a" * 2100, ["93.184.216.34"], AWS, "longer"),
    ],
)
def test_every_refused_url_class_names_callback_url(
    url: str, addresses: list[str], policy: UrlPolicy, reason: str
) -> None:
    with pytest.raises(InvalidCallbackUrl) as caught:
        check_callback_url(url, policy, resolver(*addresses))
    assert caught.value.field == "callback_url" and reason in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/caf\u00e9",  # non-ASCII path
        "https://hooks.example.com/hook?name=J\u00fcrgen",  # non-ASCII query
        "https://hooks.example.com/hook#\u00e9",
        "https://b\u00fccher.example/hook",  # an IDN host not in its xn-- form
        "https://hooks.example.com/\u202ehook",  # a bidi control
        "https://hooks.example.com/hook?a=\x01",  # a C0 control
        "https://hooks.example.com/hook?a=\x7f",  # DEL
        "https://hooks.example.com/a b",
        "https://hooks.example.com/hook\r\nX-Injected: 1",
        "https://hooks.example.com/hook\u0085",  # NEL: whitespace to Python, not to HTTP
        "https://hooks.example.com:0/hook",
    ],
)
def test_a_url_that_cannot_be_sent_as_a_request_line_is_refused(url: str) -> None:
    with pytest.raises(InvalidCallbackUrl) as caught:
        check_callback_url(url, AWS, resolver("93.184.216.34"))
    assert caught.value.field == "callback_url"


def test_a_percent_encoded_url_is_accepted_and_sent_as_written() -> None:
    safe = check_callback_url(
        "https://hooks.example.com/caf%C3%A9?q=J%C3%BCrgen", AWS, resolver("93.184.216.34")
    )
    assert safe.target == "/caf%C3%A9?q=J%C3%BCrgen" and safe.host_header == "hooks.example.com"


def test_an_unresolvable_host_is_refused() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(InvalidCallbackUrl, match="does not resolve"):
        check_callback_url("https://nowhere.invalid/x", AWS, fails)


def test_a_public_https_url_is_accepted_with_the_addresses_delivery_will_use() -> None:
    safe = check_callback_url("https://hooks.example.com:8443/in?x=1", AWS, resolver("93.184.216.34"))
    assert (safe.host, safe.port, safe.target, safe.addresses) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        ("93.184.216.34",),
    )


def test_the_local_policy_allows_plain_http_to_loopback_only() -> None:
    safe = check_callback_url("http://127.0.0.1:9000/hook", LOCAL, resolver("127.0.0.1"))
    assert safe.scheme == "http" and safe.port == 9000
    with pytest.raises(InvalidCallbackUrl):
        check_callback_url("http://127.0.0.1:9000/hook", AWS, resolver("127.0.0.1"))


# ---------------------------------------------------------------------------------- signing


ID = "8e292856ddb0d0c88ce8d07407752c46"


def test_a_signature_verifies_and_a_forged_or_stale_one_does_not() -> None:
    body = b'{"id":"abc"}'
    sig = signature(SECRET, "1800000000", ID, body)
    assert sig.startswith("v2=")
    assert verify_signature(SECRET, body, "1800000000", sig, ID, now=NOW + 10)
    assert verify_signature(SECRET, body, "1800000000", f"v2=deadbeef, {sig}", ID, now=NOW)  # rotation
    assert not verify_signature(b"another secret", body, "1800000000", sig, ID, now=NOW)  # forged
    assert not verify_signature(SECRET, b'{"id":"abd"}', "1800000000", sig, ID, now=NOW)  # tampered
    assert not verify_signature(SECRET, body, "1800000000", sig, ID, now=NOW + 301)  # replayed later
    assert not verify_signature(SECRET, body, "soon", sig, ID, now=NOW)
    assert not verify_signature(SECRET, body, "1800000000", "v2=\u00e9" + sig[3:], ID, now=NOW)


def test_the_delivery_id_is_signed_so_a_replay_under_a_new_id_does_not_verify() -> None:
    from facesvg.service.signing import signed_headers

    body = b'{"delivery_id":"%s"}' % ID.encode()
    headers = signed_headers(SECRET, body, ID, NOW)
    sig, ts = headers["facesvg-signature"], headers["facesvg-timestamp"]
    assert verify_signature(SECRET, body, ts, sig, headers["facesvg-delivery-id"], now=NOW)
    assert not verify_signature(SECRET, body, ts, sig, "0" * 32, now=NOW)  # the replay's new id
    # v1 is still sent (receivers written for it keep working) and covers the body only.
    assert signature_v1(SECRET, ts, body) in sig.split(",")


# ----------------------------------------------------------------------------- retry policy


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, DeliveryOutcome.DELIVERED),
        (204, DeliveryOutcome.DELIVERED),
        (500, DeliveryOutcome.RETRY),
        (503, DeliveryOutcome.RETRY),
        (429, DeliveryOutcome.RETRY),
        (408, DeliveryOutcome.RETRY),
        (None, DeliveryOutcome.RETRY),
        (400, DeliveryOutcome.REJECTED),
        (404, DeliveryOutcome.REJECTED),
        (410, DeliveryOutcome.REJECTED),
        (301, DeliveryOutcome.REJECTED),
        (302, DeliveryOutcome.REJECTED),
    ],
)
def test_what_is_retried(status: int | None, outcome: DeliveryOutcome) -> None:
    assert classify(status) is outcome


def test_the_default_backoff_gives_at_least_five_attempts_over_ten_minutes() -> None:
    from facesvg import names
    from facesvg.service.settings import Settings

    settings = Settings()
    attempts = settings.notify_max_attempts
    delays = [backoff_seconds(a, settings.notify_backoff_seconds) for a in range(1, attempts)]
    assert attempts == names.NOTIFY_MAX_RECEIVE_COUNT >= 5
    assert delays == [30, 60, 120, 240, 480] and sum(delays) >= 600
    assert backoff_seconds(3, 30, retry_after=500) == 500  # a server's Retry-After is honoured
    assert backoff_seconds(20, 30) == 900  # capped


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("901", 900.0),  # capped at the longest backoff
        ("9" * 5000, 900.0),  # more digits than int() converts
        ("Mon, 01 Jan 2035 00:00:00 GMT", 900.0),  # a date far ahead: capped
        ("Fri, 15 Jan 2027 08:01:00 GMT", 60.0),  # an HTTP-date
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date in the past: now
        ("inf", None),
        ("Infinity", None),
        ("1e400", None),
        ("nan", None),
        ("-5", None),
        ("1.5", None),  # delta-seconds are digits only (RFC 9110)
        ("soon", None),
        ("", None),
        ("\u0661\u0662", None),  # Unicode digits are not HTTP digits
    ],
)
def test_retry_after_is_read_as_rfc_9110_says_and_capped(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("retry_after", [float("inf"), float("-inf"), float("nan"), 1e300, -50.0])
def test_the_backoff_never_overflows_whatever_retry_after_says(retry_after: float) -> None:
    delay = backoff_seconds(2, 30, retry_after=retry_after)
    assert 60 <= delay <= 900
    assert backoff_seconds(10_000, 30) == 900  # no overflow from the exponent either


# ------------------------------------------------------------------------- job-end events

OPTS = RenderOptions.model_validate({})


def _job(h: Harness) -> str:
    return h.service.submit(
        h.service.prepare(b"img", b"map", [[1, 2], [3, 4]], OPTS), source="api"
    ).job.job_id


def test_a_completed_job_publishes_one_event_and_a_redelivery_none() -> None:
    h = make_harness(notify=True)
    job_id = _job(h)

    assert h.service.process(job_id) is ProcessOutcome.COMPLETED
    assert h.service.process(job_id, receive_count=2) is ProcessOutcome.ALREADY_DONE

    assert [t for t, _ in h.events.published] == ["JobCompleted"]
    detail = h.events.published[0][1]
    assert (
        detail["id"] == job_id and detail["status"] == "completed" and detail["regions"] == ["chin", "nose"]
    )
    job = h.jobs.get_job(job_id)
    assert job is not None and job.event_state is EventState.PUBLISHED


def test_a_failed_job_publishes_job_failed_with_the_error() -> None:
    h = make_harness(notify=True)
    job_id = _job(h)
    h.core.render_error = InputError("segmentation_map", "corrupt PNG", code="InvalidImage")

    assert h.service.process(job_id) is ProcessOutcome.FAILED

    ((kind, detail),) = h.events.published
    assert kind == "JobFailed" and detail["error"]["code"] == "InvalidImage" and "regions" not in detail


def test_a_writer_that_died_before_publishing_is_covered_by_the_redelivery_exactly_once() -> None:
    h = make_harness(notify=True)
    job_id = _job(h)
    h.events.fail = True  # the worker ends the job, then cannot publish (as if it died here)
    with pytest.raises(TransientError):
        h.service.process(job_id)
    job = h.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and job.event_state is EventState.PENDING
    h.events.fail = False

    # While the writer's claim lasts, a redelivery leaves it to the writer (SQS comes back later).
    with pytest.raises(TransientError):
        h.service.process(job_id, receive_count=2)
    assert h.events.published == []

    h.clock[0] += 61  # the claim expired: the next redelivery publishes, and only once
    assert h.service.process(job_id, receive_count=3) is ProcessOutcome.ALREADY_DONE
    assert h.service.process(job_id, receive_count=4) is ProcessOutcome.ALREADY_DONE
    assert [t for t, _ in h.events.published] == ["JobCompleted"] and h.core.renders == 1


def test_without_a_bus_nothing_is_published_and_the_job_item_has_no_flag() -> None:
    h = make_harness()
    job_id = _job(h)
    h.service.process(job_id)
    job = h.jobs.get_job(job_id)
    assert job is not None and job.event_state is None


# ---------------------------------------------------------- jobs created already ended

LANDMARKS = [[1, 2], [3, 4]]


def _rendered_for_another_client(h: Harness) -> str:
    first = h.service.submit(h.service.prepare(b"img", b"map", LANDMARKS, OPTS), source="api", scope="key:A")
    assert h.service.process(first.job.job_id) is ProcessOutcome.COMPLETED
    return first.job.job_id


def _drain_process_queue(h: Harness) -> None:
    """What the process function's event source does with every message sent so far (each twice:
    SQS is at-least-once)."""
    for message in list(h.queue.messages) * 2:
        h.service.process(message.job_id, content_hash=message.content_hash)


@pytest.mark.parametrize("route", ["api", "drop folder"])
def test_a_job_created_already_completed_publishes_its_job_end_event_exactly_once(route: str) -> None:
    h = make_harness(notify=True)
    first = _rendered_for_another_client(h)
    prepared = h.service.prepare(b"img", b"map", LANDMARKS, OPTS)

    if route == "api":  # another client's identical inputs: a new job, ended by the worker's reuse
        outcome = h.service.submit(prepared, source="api", scope="key:B")
    else:  # a drop-folder job over an earlier render: created completed
        outcome = h.service.submit(prepared, source="ingest:shoot-1", publish_name="shoot-1")
        assert outcome.job.status is JobStatus.COMPLETED
    _drain_process_queue(h)

    job = h.jobs.get_job(outcome.job.job_id)
    assert outcome.created and job is not None and job.status is JobStatus.COMPLETED and job.job_id != first
    assert [(t, d["id"]) for t, d in h.events.published] == [
        ("JobCompleted", first),
        ("JobCompleted", job.job_id),
    ]
    assert job.event_state is EventState.PUBLISHED
    assert h.core.renders == 1  # announced, not rendered again


def _drop_submit(h: Harness, prepared: Any) -> Any:
    return h.service.submit(prepared, source="ingest:shoot-1", publish_name="shoot-1")


def test_a_lost_announcement_is_made_by_the_next_identical_submit() -> None:
    h = make_harness(notify=True)
    _rendered_for_another_client(h)
    prepared = h.service.prepare(b"img", b"map", LANDMARKS, OPTS)
    h.queue.fail = True
    from facesvg.service.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):  # the job stands, its event is owed
        _drop_submit(h, prepared)
    h.queue.fail = False
    _drop_submit(h, prepared)  # at once: nothing yet (not stuck)
    assert len(h.queue.messages) == 1

    h.clock[0] += Settings().requeue_pending_seconds + 1
    again = _drop_submit(h, prepared)
    _drain_process_queue(h)

    assert not again.created and again.job.status is JobStatus.COMPLETED
    assert [d["id"] for _, d in h.events.published][1:] == [again.job.job_id]


def test_without_a_bus_a_job_created_completed_has_no_flag_and_sends_nothing() -> None:
    h = make_harness()
    first = h.service.submit(h.service.prepare(b"img", b"map", LANDMARKS, OPTS), source="api", scope="key:A")
    h.service.process(first.job.job_id)
    second = _drop_submit(h, h.service.prepare(b"img", b"map", LANDMARKS, OPTS))
    assert second.job.status is JobStatus.COMPLETED
    assert second.job.event_state is None and len(h.queue.messages) == 1


# ------------------------------------------------------------------------ submit callbacks


def _request(callback_url: str | None, ref: str | None = None, image: bytes = b"img") -> SubmitRequest:
    return SubmitRequest.model_validate(
        {
            "image": base64.b64encode(image).decode(),
            "segmentation_map": base64.b64encode(b"map").decode(),
            "landmarks": [[1, 2], [3, 4]],
            "callback_url": callback_url,
            "client_reference": ref,
        }
    )


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    import facesvg.service.notify as notify

    monkeypatch.setattr(notify, "resolve_host", resolver("93.184.216.34"))
    monkeypatch.setattr(notify.check_callback_url, "__defaults__", (notify.resolve_host,))


def test_callbacks_are_not_hashed_and_every_caller_is_recorded(public_dns: None) -> None:
    h = make_harness(notify=True)
    first = h.service.submit_request(_request("https://a.example/hook", "ref-a"))
    second = h.service.submit_request(_request("https://b.example/hook", "ref-b"))
    third = h.service.submit_request(_request(None))

    assert first.created and not second.created and not third.created
    assert first.job.job_id == second.job.job_id == third.job.job_id and len(h.queue.messages) == 1
    job = h.jobs.get_job(first.job.job_id)
    assert job is not None
    assert [(c.url, c.client_reference) for c in job.callbacks] == [
        ("https://a.example/hook", "ref-a"),
        ("https://b.example/hook", "ref-b"),
    ]


def test_a_caller_of_a_job_that_already_ended_is_queued_at_once(public_dns: None) -> None:
    h = make_harness(notify=True)
    job_id = h.service.submit_request(_request(None)).job.job_id
    h.service.process(job_id)

    h.service.submit_request(_request("https://late.example/hook", "late"))

    (body,) = h.notify_queue.bodies
    delivery = parse_notify_message(body)
    assert isinstance(delivery, Delivery)
    assert delivery.url == "https://late.example/hook" and delivery.client_reference == "late"
    assert delivery.type == "JobCompleted" and delivery.detail["id"] == job_id


def test_a_refused_callback_is_a_400_before_any_work(public_dns: None) -> None:
    h = make_harness(notify=True)
    with pytest.raises(InvalidCallbackUrl):
        h.service.submit_request(_request("http://a.example/hook"))
    assert h.blobs.objects == {} and h.queue.messages == [] and h.core.validations == 0


# ------------------------------------------------------------------------------- delivery


class FakeLog:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def delivered(self, delivery_id: str) -> bool:
        return delivery_id in self.done

    def mark_delivered(self, delivery_id: str, job_id: str, expires_at: int) -> None:
        self.done[delivery_id] = job_id


class FakeSecret:
    def get(self) -> bytes:
        return SECRET


class Receiver:
    def __init__(self, *answers: HttpAnswer) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[SafeUrl, bytes, dict[str, str]]] = []

    def __call__(self, target: SafeUrl, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
        assert 0 < timeout <= 5.0  # what is left of the attempt's deadline after the DNS lookup
        self.calls.append((target, body, headers))
        return self.answers.pop(0) if self.answers else HttpAnswer(200)


def _dispatcher(
    h: Harness,
    receiver: Receiver,
    addresses: tuple[str, ...] = ("93.184.216.34",),
    resolve: Any = None,
    timeout_seconds: float = 5.0,
) -> Dispatcher:
    return Dispatcher(
        jobs=h.jobs,
        queue=h.notify_queue,
        blobs=FakeBlobStore(),
        secret=FakeSecret(),
        log=FakeLog(),
        policy=AWS,
        backoff_base_seconds=30,
        max_attempts=6,
        presign_seconds=3600,
        ttl_seconds=86400,
        resolve=resolve or resolver(*addresses),
        timeout_seconds=timeout_seconds,
        send=receiver,
        clock=lambda: NOW,
    )


def _ended_job_with_two_callbacks(h: Harness) -> str:
    job_id = h.service.submit_request(_request("https://a.example/hook", "ref-a")).job.job_id
    h.service.submit_request(_request("https://b.example/hook", "ref-b"))
    h.service.process(job_id)
    return job_id


def test_an_event_fans_out_to_one_delivery_per_caller_each_signed(public_dns: None) -> None:
    h = make_harness(notify=True)
    job_id = _ended_job_with_two_callbacks(h)
    receiver = Receiver()
    d = _dispatcher(h, receiver)
    ((kind, detail),) = h.events.published

    assert d.fan_out({"source": "facesvg", "detail-type": kind, "detail": detail}) == 2
    deliveries = [parse_notify_message(b) for b in h.notify_queue.bodies]
    results = [d.deliver(x, attempt=1) for x in deliveries if isinstance(x, Delivery)]

    assert [r.outcome for r in results] == [DeliveryOutcome.DELIVERED] * 2
    refs = []
    for target, body, headers in receiver.calls:
        assert verify_signature(
            SECRET,
            body,
            headers["facesvg-timestamp"],
            headers["facesvg-signature"],
            headers["facesvg-delivery-id"],
            now=NOW,
        )
        doc = json.loads(body)
        assert doc["id"] == job_id and doc["type"] == "JobCompleted" and doc["status"] == "completed"
        assert doc["delivery_id"] == headers["facesvg-delivery-id"]
        assert doc["svg_url"].startswith("https://bucket.example/results/")
        refs.append((target.host, doc["client_reference"]))
    assert refs == [("a.example", "ref-a"), ("b.example", "ref-b")]
    assert len({h["facesvg-delivery-id"] for _, _, h in receiver.calls}) == 2
    # A duplicate of a delivered message is not sent again.
    assert d.deliver(deliveries[0], attempt=1).outcome is DeliveryOutcome.DUPLICATE  # type: ignore[arg-type]
    assert len(receiver.calls) == 2


def _one_delivery(h: Harness) -> Delivery:
    job_id = h.service.submit_request(_request("https://a.example/hook")).job.job_id
    h.service.process(job_id)
    ((kind, detail),) = h.events.published
    d = _dispatcher(h, Receiver())
    d.fan_out({"source": "facesvg", "detail-type": kind, "detail": detail})
    delivery = parse_notify_message(h.notify_queue.bodies[-1])
    assert isinstance(delivery, Delivery)
    return delivery


def test_server_errors_back_off_exponentially_then_go_to_the_dlq(public_dns: None) -> None:
    h = make_harness(notify=True)
    delivery = _one_delivery(h)
    receiver = Receiver(*[HttpAnswer(500)] * 5, HttpAnswer(None, error="timed out"))
    d = _dispatcher(h, receiver)

    results = [d.deliver(delivery, attempt=a) for a in range(1, 7)]

    assert [r.outcome for r in results] == [DeliveryOutcome.RETRY] * 6
    assert [r.retry_in for r in results] == [30, 60, 120, 240, 480, 0]  # the last: straight to the DLQ


def test_a_429_honours_retry_after_and_other_4xx_and_redirects_are_not_retried(public_dns: None) -> None:
    h = make_harness(notify=True)
    delivery = _one_delivery(h)
    d = _dispatcher(h, Receiver(HttpAnswer(429, retry_after=120), HttpAnswer(404), HttpAnswer(302)))

    assert d.deliver(delivery, 1).retry_in == 120
    assert d.deliver(delivery, 2).outcome is DeliveryOutcome.REJECTED
    assert d.deliver(delivery, 3).outcome is DeliveryOutcome.REJECTED


@pytest.mark.parametrize("retry_after", [float("inf"), float("nan"), 1e308])
def test_a_429_with_an_absurd_retry_after_is_retried_within_the_cap(
    public_dns: None, retry_after: float
) -> None:
    h = make_harness(notify=True)
    delivery = _one_delivery(h)
    d = _dispatcher(h, Receiver(HttpAnswer(429, retry_after=retry_after)))

    result = d.deliver(delivery, 1)

    assert result.outcome is DeliveryOutcome.RETRY and result.retry_in is not None
    assert 30 <= result.retry_in <= 900


def test_a_url_that_now_resolves_to_a_private_address_is_refused_at_delivery(public_dns: None) -> None:
    h = make_harness(notify=True)
    delivery = _one_delivery(h)
    receiver = Receiver()
    d = _dispatcher(h, receiver, addresses=("10.0.0.5",))

    assert d.deliver(delivery, 1).outcome is DeliveryOutcome.REFUSED and receiver.calls == []


def test_a_dns_failure_at_delivery_is_retried_not_given_up(public_dns: None) -> None:
    h = make_harness(notify=True)
    delivery = _one_delivery(h)

    def no_answer(host: str, port: int) -> list[str]:
        raise OSError("Temporary failure in name resolution")

    receiver = Receiver()
    result = _dispatcher(h, receiver, resolve=no_answer).deliver(delivery, 2)

    assert result.outcome is DeliveryOutcome.RETRY and result.retry_in == 60 and receiver.calls == []


def test_a_dns_lookup_that_hangs_ends_with_the_attempts_deadline(public_dns: None) -> None:
    import threading
    import time

    h = make_harness(notify=True)
    delivery = _one_delivery(h)
    release = threading.Event()

    def hangs(host: str, port: int) -> list[str]:
        release.wait(30)
        return ["93.184.216.34"]

    started = time.monotonic()
    try:
        result = _dispatcher(h, Receiver(), resolve=hangs, timeout_seconds=0.3).deliver(delivery, 1)
    finally:
        release.set()
    assert result.outcome is DeliveryOutcome.RETRY and time.monotonic() - started < 0.3 + 5  # generous


def test_a_queued_delivery_whose_url_cannot_be_sent_is_refused_not_crashed(public_dns: None) -> None:
    """Accepted before URLs were checked for it: refused at delivery, never sent, no exception."""
    h = make_harness(notify=True)
    queued = _one_delivery(h).model_copy(update={"url": "https://a.example/caf\u00e9"})
    receiver = Receiver()

    assert _dispatcher(h, receiver).deliver(queued, 1).outcome is DeliveryOutcome.REFUSED
    assert receiver.calls == []


def test_garbage_on_the_notify_queue_is_an_error() -> None:
    for body in ("[]", "{}", '{"source": "other", "detail-type": "JobCompleted"}', "nope"):
        with pytest.raises(ValueError):
            parse_notify_message(body)


# ------------------------------------------------------------------------- the API's answer


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/hook",  # plain HTTP in AWS mode
        "https://127.0.0.1/hook",  # loopback in AWS mode
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://user:secret@hooks.example.com/hook",
    ],
)
def test_the_api_answers_a_refused_callback_with_a_400_naming_it(url: str) -> None:
    _assert_refused_by_every_submit_route(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/caf\u00e9",
        "https://hooks.example.com/hook?x=\u00fc",
        "https://hooks.example.com/hook?x=\x00",
        "https://hooks.example.com/\u2028",
    ],
)
def test_the_api_refuses_a_callback_that_could_never_be_sent(url: str, public_dns: None) -> None:
    _assert_refused_by_every_submit_route(url)


def _assert_refused_by_every_submit_route(url: str) -> None:
    from facesvg import names

    for prefix in names.ROUTE_PREFIXES:
        _assert_refused(url, prefix + names.SUBMIT_PATH)


def _assert_refused(url: str, path: str) -> None:
    from facesvg.local.lambdas import LocalContext
    from facesvg.service.api import create_app, resolve

    h = make_harness(notify=True)
    body = {
        "image": base64.b64encode(b"img").decode(),
        "segmentation_map": base64.b64encode(b"map").decode(),
        "landmarks": [[1, 2], [3, 4]],
        "callback_url": url,
    }
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "requestContext": {"stage": "prod", "path": f"/prod{path}", "httpMethod": "POST"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
    response = resolve(create_app(lambda: h.service), event, LocalContext("test"), max_body_bytes=1_000_000)

    error = json.loads(response["body"])["error"]
    assert response["statusCode"] == 400, response
    assert error["field"] == "callback_url" and error["code"] == "InvalidCallbackUrl"
    assert h.jobs.rows == {}


def test_a_client_reference_longer_than_128_characters_is_a_400() -> None:
    with pytest.raises(ValueError, match="client_reference"):
        _request(None, ref="x" * 129)
