"""The resolver with a fake service: routing, the error mapping, CORS (events from events/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

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
    response = _call(_event("api_submit_v1.json", body=json.dumps({"image": "aGk=", "landmarks": []})))
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["field"] == "segmentation_map"


def test_an_oversized_body_is_413_before_parsing() -> None:
    response = _call(_event("api_submit_v1.json", body="x" * 1_000_001))
    assert response["statusCode"] == 413


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
