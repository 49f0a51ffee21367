"""The resolver with a fake service: routing, the error mapping, CORS (events from events/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from facesvg.local.lambdas import LocalContext, pin_current_event
from facesvg.service.api import create_app, resolve
from service_fakes import make_harness

EVENTS = Path(__file__).resolve().parents[3] / "events"


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((EVENTS / name).read_text()))
    event.update(changes)
    return event


def _call(event: dict[str, Any], cors: str = "") -> dict[str, Any]:
    h = make_harness()
    app = create_app(lambda: h.service, cors_allow_origin=cors)
    return resolve(app, event, LocalContext("test"), max_body_bytes=1_000_000)


def test_unknown_job_is_404_json() -> None:
    response = _call(_event("api_status.json"))
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NotFound"


def test_a_body_missing_a_field_is_400_naming_it() -> None:
    # segmentation_map is optional; the landmarks are not
    response = _call(
        _event("api_submit_v1.json", body=json.dumps({"image": "aGk=", "segmentation_map": "aGk="}))
    )
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["field"] == "landmarks"


def test_an_oversized_body_is_413_before_parsing() -> None:
    response = _call(_event("api_submit_v1.json", body="x" * 1_000_001))
    assert response["statusCode"] == 413


def _submit_with_type(content_type: str, body: str = "") -> dict[str, Any]:
    event = _event("api_submit_v1.json", body=body or json.dumps({"image": "aGk=", "landmarks": []}))
    for key in [k for k in event["headers"] if k.lower() == "content-type"]:
        del event["headers"][key]
    for key in [k for k in event["multiValueHeaders"] if k.lower() == "content-type"]:
        del event["multiValueHeaders"][key]
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    return _call(event)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "APPLICATION/JSON; CHARSET=UTF-8",
        "application/json; charset=UTF-8",
        "application/vnd.api+json",
        "application/problem+json",
        "Application/Problem+JSON ; charset=utf-8",
    ],
)
def test_every_json_media_type_is_read_as_json(content_type: str) -> None:
    # Media types are case-insensitive and */*+json is JSON: the body is validated (400 naming the
    # missing field), never a 500
    response = _submit_with_type(content_type)
    assert response["statusCode"] == 400, response["body"]
    assert json.loads(response["body"])["error"]["field"] == "landmarks"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x", "json"]
)
def test_a_non_json_media_type_is_415_naming_the_header(content_type: str) -> None:
    response = _submit_with_type(content_type)
    assert response["statusCode"] == 415, response["body"]
    error = json.loads(response["body"])["error"]
    assert error["code"] == "UnsupportedMediaType" and error["field"] == "Content-Type"
    assert "Content-Type" in error["message"]


def test_the_body_limit_counts_bytes_not_characters() -> None:
    # 400,000 characters of 3-byte text: 1.2 MB of UTF-8, over the 1,000,000-byte limit
    body = json.dumps({"image": "€" * 400_000}, ensure_ascii=False)
    assert len(body) < 1_000_000 < len(body.encode())
    response = _call(_event("api_submit_v1.json", body=body))
    assert response["statusCode"] == 413, response["body"][:300]
    assert json.loads(response["body"])["error"]["code"] == "PayloadTooLarge"


def test_cors_headers_only_when_an_origin_is_configured() -> None:
    event = _event("api_status.json")
    event["headers"]["Origin"] = "https://viewer.example.com"
    event["multiValueHeaders"]["Origin"] = ["https://viewer.example.com"]
    with_cors = _call(event, cors="https://viewer.example.com")
    without = _call(event)
    assert with_cors["multiValueHeaders"]["Access-Control-Allow-Origin"] == ["https://viewer.example.com"]
    assert "Access-Control-Allow-Origin" not in (without.get("multiValueHeaders") or {})


def test_a_submit_logs_at_debug_level_without_clashing_with_log_record_fields() -> None:
    # Given a logger that formats every line (as `facesvg run` does at INFO)
    from facesvg.service.observability import logger

    previous = logger.log_level
    logger.setLevel("DEBUG")
    body = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": [[1.0, 2.0]]})
    try:
        # When a new job is submitted and then submitted again
        first = _call(_event("api_submit_v1.json", body=body))
    finally:
        logger.setLevel(previous)
    # Then the submit succeeds: no `extra` key overwrote a LogRecord attribute (a 500 before)
    assert first["statusCode"] == 202, first["body"]


def test_each_resolver_answers_from_its_own_event_while_another_resolves() -> None:
    """Powertools keeps the current event on a class shared by every resolver in the process; the
    local runtime runs invocations concurrently in one process (and pins each environment's event,
    ``facesvg.local.lambdas.pin_current_event``). Simulate the overlap exactly: a second resolver
    runs a whole request in the middle of the first one's route."""
    h = make_harness()

    def submit_event(host: str, landmarks: list[list[float]]) -> dict[str, Any]:
        body = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": landmarks})
        event = _event("api_submit_v1.json", body=body)
        event["headers"]["Host"] = host
        event["multiValueHeaders"]["Host"] = [host]
        return event

    second_app = pin_current_event(create_app(lambda: h.service))
    second: dict[str, Any] = {}

    class Overlapping:
        def __getattr__(self, name: str) -> Any:
            return getattr(h.service, name)

        def submit_request(self, request: Any, scope: str = "local") -> Any:
            second.update(
                resolve(
                    second_app,
                    submit_event("two.example", [[5.0, 6.0]]),
                    LocalContext("test"),
                    max_body_bytes=1_000_000,
                )
            )
            return h.service.submit_request(request, scope)

    first_app = pin_current_event(create_app(lambda: Overlapping()))  # type: ignore[arg-type,return-value]
    first = resolve(
        first_app, submit_event("one.example", [[1.0, 2.0]]), LocalContext("test"), max_body_bytes=1_000_000
    )

    one, two = json.loads(first["body"]), json.loads(second["body"])
    assert one["id"] != two["id"]
    assert one["status_url"].startswith("https://one.example/")
    assert two["status_url"].startswith("https://two.example/")


def test_a_dash_pattern_with_non_ascii_digits_is_400_naming_the_option() -> None:
    # Given a style whose dash pattern uses Arabic-Indic digits (Unicode \d, not ASCII)
    style = {"stroke_dasharray": "٤,٢"}
    body = {"image": "aGk=", "segmentation_map": "aGk=", "landmarks": [], "options": {"style": style}}

    response = _call(_event("api_submit_v1.json", body=json.dumps(body)))

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["field"] == "options.style.stroke_dasharray"


def test_an_ascii_dash_pattern_is_still_accepted() -> None:
    from facesvg.core.options import RenderOptions

    assert RenderOptions.model_validate({"style": {"stroke_dasharray": "4.5,2,10"}}).style.stroke_dasharray


def test_api_gateway_api_key_ids_scope_the_job_cache() -> None:
    # Given one service behind the resolver, and submit events as API Gateway sends them with keys
    h = make_harness()
    app = create_app(lambda: h.service)
    body = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": [[1.0, 2.0]]})

    def submit(api_key_id: str) -> str:
        event = _event("api_submit_v1.json", body=body)
        event["requestContext"].setdefault("identity", {})["apiKeyId"] = api_key_id
        response = resolve(app, event, LocalContext("test"), max_body_bytes=1_000_000)
        return str(json.loads(response["body"])["id"])

    # When two keys submit identical inputs, twice each
    a1, b1, a2, b2 = submit("keyA1"), submit("keyB2"), submit("keyA1"), submit("keyB2")

    # Then each key has its own job, and each gets its own back
    assert a1 == a2 and b1 == b2 and a1 != b1
    assert {row.job.scope for row in h.jobs.rows.values()} == {"key:keyA1", "key:keyB2"}


def test_a_submit_event_without_an_identity_is_the_local_scope() -> None:
    h = make_harness()
    body = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": [[1.0, 2.0]]})
    event = _event("api_submit_v1.json", body=body)
    event["requestContext"].pop("identity", None)

    response = resolve(create_app(lambda: h.service), event, LocalContext("test"), max_body_bytes=1_000_000)

    assert response["statusCode"] == 202, response["body"]
    assert {row.job.scope for row in h.jobs.rows.values()} == {"local"}


# -- the status of a job is answered only to the client that created it --------------------------

_SUBMIT_BODY = json.dumps({"image": "aW1n", "segmentation_map": "bWFw", "landmarks": [[1.0, 2.0]]})
_PREFIXES = ("/api/v1", "/api/v1/frontal/crop")


def _as_client(event: dict[str, Any], key_id: str | None = None, key: str | None = None) -> dict[str, Any]:
    """``event`` as the gateway sends it: API Gateway's key id in the identity, and/or the key it
    checked (``identity.apiKey``, also the ``x-api-key`` header)."""
    identity = event["requestContext"].setdefault("identity", {})
    identity.pop("apiKeyId", None)
    if key_id is not None:
        identity["apiKeyId"] = key_id
    if key is not None:
        identity["apiKey"] = key
        event["headers"]["x-api-key"] = key
        event["multiValueHeaders"]["x-api-key"] = [key]
    return event


def _status_event(job_id: str, prefix: str = "/api/v1", **client: str) -> dict[str, Any]:
    event = _event("api_status.json")
    event["resource"] = event["requestContext"]["resourcePath"] = f"{prefix}/status/{{id}}"
    event["path"] = f"{prefix}/status/{job_id}"
    event["requestContext"]["path"] = f"/prod{prefix}/status/{job_id}"
    event["pathParameters"] = {"id": job_id}
    return _as_client(event, **client)


def _submit_event(**client: str) -> dict[str, Any]:
    return _as_client(_event("api_submit_v1.json", body=_SUBMIT_BODY), **client)


class _Api:
    def __init__(self) -> None:
        self.h = make_harness()
        self.app = create_app(lambda: self.h.service)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        return resolve(self.app, event, LocalContext("test"), max_body_bytes=1_000_000)

    def submit(self, **client: str) -> dict[str, Any]:
        response = self(_submit_event(**client))
        assert response["statusCode"] in (200, 202), response["body"]
        return dict(json.loads(response["body"]))

    def status(self, job_id: str, prefix: str = "/api/v1", **client: str) -> dict[str, Any]:
        return self(_status_event(job_id, prefix, **client))

    def job_written_with_scope(self, scope: str) -> str:
        """A completed job whose item carries ``scope`` (``""``: written before scopes existed)."""
        from facesvg.core.options import RenderOptions

        prepared = self.h.service.prepare(b"img", b"map", [[1, 2]], RenderOptions.model_validate({}))
        job_id = self.h.service.submit(prepared, source="api", scope=scope).job.job_id
        self.h.service.process(job_id)
        return job_id


def _not_found_like_an_unknown_id(api: _Api, response: dict[str, Any], job_id: str) -> None:
    """``response`` is exactly what the same request gets once the job does not exist at all."""
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NotFound"
    unknown = "f" * 32
    assert job_id != unknown
    body = str(response["body"]).replace(job_id, unknown)
    reference = api.status(unknown)
    assert (response["statusCode"], body, response.get("headers"), response.get("multiValueHeaders")) == (
        reference["statusCode"],
        reference["body"],
        reference.get("headers"),
        reference.get("multiValueHeaders"),
    )


@pytest.mark.parametrize("prefix", _PREFIXES)
def test_a_jobs_status_is_answered_only_to_the_api_key_that_submitted_it(prefix: str) -> None:
    # Given a job submitted with API Gateway key id A, and processed
    api = _Api()
    job_id = api.submit(key_id="keyA1", key="secret-a")["id"]
    api.h.service.process(job_id)

    # When A and then another key B (and a caller with no key) ask for its status
    mine = api.status(job_id, prefix, key_id="keyA1", key="secret-a")
    theirs = api.status(job_id, prefix, key_id="keyB2", key="secret-b")
    keyless = api.status(job_id, prefix)

    # Then A gets it, and the others get the 404 of an id that does not exist
    assert mine["statusCode"] == 200 and json.loads(mine["body"])["status"] == "completed"
    _not_found_like_an_unknown_id(api, theirs, job_id)
    _not_found_like_an_unknown_id(api, keyless, job_id)


def test_the_key_id_not_the_header_decides_on_api_gateway() -> None:
    # Given a job of key id A: another key id presenting A's header value is still another client
    api = _Api()
    job_id = api.submit(key_id="keyA1", key="secret-a")["id"]
    assert api.status(job_id, key_id="keyA1")["statusCode"] == 200
    _not_found_like_an_unknown_id(api, api.status(job_id, key_id="keyB2", key="secret-a"), job_id)


def test_without_key_ids_the_x_api_key_header_scopes_the_status() -> None:
    # Given the local gateway (no key ids): two clients told apart by their x-api-key
    api = _Api()
    job_a = api.submit(key="secret-a")["id"]
    job_b = api.submit(key="secret-b")["id"]
    assert job_a != job_b

    # Then each reads its own job, and only its own
    assert api.status(job_a, key="secret-a")["statusCode"] == 200
    assert api.status(job_b, key="secret-b")["statusCode"] == 200
    _not_found_like_an_unknown_id(api, api.status(job_a, key="secret-b"), job_a)
    _not_found_like_an_unknown_id(api, api.status(job_b, key="secret-a"), job_b)
    _not_found_like_an_unknown_id(api, api.status(job_a), job_a)


def test_the_scope_is_the_key_the_gateway_checked_never_a_repeated_header() -> None:
    # Given a job of the key the gateway checked ("secret-a", in requestContext.identity.apiKey)
    api = _Api()
    job_id = api.submit(key="secret-a")["id"]

    def repeated(event: dict[str, Any], values: list[str]) -> dict[str, Any]:
        event["headers"]["x-api-key"] = values[-1]
        event["multiValueHeaders"]["x-api-key"] = values
        return event

    # When the same caller repeats x-api-key with an empty or another value beside the checked one
    for values in (["secret-a", ""], ["", "secret-a"], ["secret-a", "secret-b"], [""]):
        mine = api(repeated(_status_event(job_id, key="secret-a"), values))
        # Then it is still the checked key's client: its job, nobody else's scope
        assert mine["statusCode"] == 200, (values, mine["body"])
    # and a header naming A's key does not make another checked key A (nor does an empty one local)
    _not_found_like_an_unknown_id(
        api, api(repeated(_status_event(job_id, key="secret-b"), ["secret-a"])), job_id
    )
    keyless_job = api.submit()["id"]
    _not_found_like_an_unknown_id(
        api, api(repeated(_status_event(keyless_job, key="secret-a"), [""])), keyless_job
    )


def test_without_any_key_everyone_is_the_local_scope_and_reads_every_local_job() -> None:
    # The local stack without --api-key: one client, everything keeps working
    api = _Api()
    job_id = api.submit()["id"]
    assert api.status(job_id)["statusCode"] == 200
    _not_found_like_an_unknown_id(api, api.status(job_id, key="secret-a"), job_id)


def test_a_drop_folder_job_is_no_api_callers() -> None:
    # Given a job of the drop folder (its results are read from results/<name>/, not the API)
    api = _Api()
    job_id = api.job_written_with_scope("drop")

    # Then no API caller reads it: keyed, header-keyed or keyless
    for client in ({"key_id": "keyA1"}, {"key": "secret-a"}, {}):
        _not_found_like_an_unknown_id(api, api.status(job_id, **client), job_id)


def test_a_job_written_before_scopes_is_read_only_without_a_key() -> None:
    # Given a job item with no scope (written before scopes existed: whose it is cannot be told)
    api = _Api()
    job_id = api.job_written_with_scope("")

    # Then the keyless local stack keeps answering it; a keyed caller (every caller on AWS) gets 404
    assert api.status(job_id)["statusCode"] == 200
    _not_found_like_an_unknown_id(api, api.status(job_id, key_id="keyA1"), job_id)
    _not_found_like_an_unknown_id(api, api.status(job_id, key="secret-a"), job_id)


def test_another_clients_inputs_are_answered_as_new_inputs_are() -> None:
    # Given content rendered for key A
    api = _Api()
    job_a = api.submit(key_id="keyA1")["id"]
    api.h.service.process(job_a)

    # When key B submits the same content, and key C content nobody sent
    known = api(_submit_event(key_id="keyB2"))
    fresh_event = _submit_event(key_id="keyC3")
    fresh_event["body"] = _SUBMIT_BODY.replace("aW1n", "aW1nMg==")
    fresh = api(fresh_event)

    # Then both answers are the same 202 pending, byte for byte but for the job id: nothing says
    # that A sent B's inputs
    job_b, job_c = json.loads(known["body"])["id"], json.loads(fresh["body"])["id"]
    assert known["statusCode"] == fresh["statusCode"] == 202
    assert json.loads(known["body"])["status"] == "pending" and job_b != job_a
    assert known["body"].replace(job_b, job_c) == fresh["body"]
    assert (known.get("headers"), known.get("multiValueHeaders")) == (
        fresh.get("headers"),
        fresh.get("multiValueHeaders"),
    )

    # When B's job is processed: it completes as B's own, with A's render, which A cannot read
    api.h.service.process(job_b)
    polled = api.status(job_b, key_id="keyB2")
    assert polled["statusCode"] == 200 and json.loads(polled["body"])["status"] == "completed"
    assert api.h.core.renders == 1
    _not_found_like_an_unknown_id(api, api.status(job_b, key_id="keyA1"), job_b)
    # and A's identical submit still returns A's own job
    again = json.loads(api(_submit_event(key_id="keyA1"))["body"])
    assert again["id"] == job_a
