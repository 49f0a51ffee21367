"""HTTP → API handler → S3/DynamoDB/SQS on moto → process → status, for both route families."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import httpx
import pytest
from integration_helpers import (
    PREFIXES,
    job_item,
    job_items,
    keys,
    status_url,
    submit_url,
    unique_body,
    wait_finished,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("prefix", PREFIXES)
def test_submit_then_status_returns_the_svg_and_contours(api: httpx.Client, prefix: str) -> None:
    r = api.post(submit_url(prefix), json=unique_body())

    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "pending"
    assert accepted["status_url"].endswith(status_url(accepted["id"], prefix))

    done = wait_finished(api, accepted["id"], prefix)

    assert done["status"] == "completed", done
    assert {"created_at", "updated_at"} <= done.keys()
    svg = base64.b64decode(done["svg"])
    assert b"<svg" in svg[:400]
    assert httpx.get(done["svg_url"]).content == svg  # presigned URL works
    assert done["mask_contours"] and all(len(p) == 2 for pts in done["mask_contours"].values() for p in pts)
    assert set(done["regions_svg_urls"]) >= {"nose", "forehead"}
    assert b"<svg" in httpx.get(done["regions_svg_urls"]["nose"]).content[:400]
    assert len(done["transform"]) == 2 and all(len(row) == 3 for row in done["transform"])


def test_sequential_duplicates_make_one_job_and_one_render(api: httpx.Client, local_stack: Any) -> None:
    body = unique_body()
    first = api.post(submit_url(), json=body).json()
    second = api.post(submit_url(PREFIXES[1]), json=body)  # the other family: same job
    assert second.status_code in (200, 202) and second.json()["id"] == first["id"]

    wait_finished(api, first["id"])
    third = api.post(submit_url(), json=body)

    assert third.status_code == 200  # already completed: the result comes back at once
    assert third.json()["id"] == first["id"] and third.json()["status"] == "completed" and third.json()["svg"]
    item = job_item(local_stack, first["id"])
    assert len(job_items(local_stack, item["content_hash"]["S"])) == 1
    assert item["attempts"]["N"] == "1"


def test_twenty_concurrent_duplicates_make_one_job_and_one_render(
    api: httpx.Client, local_stack: Any
) -> None:
    payload = json.dumps(unique_body())
    barrier = threading.Barrier(20)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def submit() -> None:
        with httpx.Client(base_url=local_stack.api_url, timeout=60) as client:
            barrier.wait()
            response = client.post(
                submit_url(), content=payload, headers={"Content-Type": "application/json"}
            )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 20 and all(r.status_code in (200, 202) for r in results), [r.text for r in results]
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 1
    job_id = ids.pop()
    assert wait_finished(api, job_id)["status"] == "completed"
    item = job_item(local_stack, job_id)
    assert len(job_items(local_stack, item["content_hash"]["S"])) == 1
    assert item["attempts"]["N"] == "1"  # rendered once


def _bad(body: dict[str, Any]) -> dict[str, Any]:
    return {**unique_body(), **body}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"image": None}, 400, "image"),
        ({"image": "@@not-base64@@"}, 400, "image"),
        ({"segmentation_map": "aGVsbG8="}, 400, "segmentation_map"),  # base64 of b"hello": not a PNG
        ({"landmarks": "certainly not landmarks"}, 400, "landmarks"),
        ({"landmarks": [[{"x": 1, "y": 2}]]}, 400, "landmarks"),
        ({"options": {"canvas_size": 5}}, 400, "options.canvas_size"),
        ({"options": {"style": {"fill": "red; background:url(x)"}}}, 400, "options.style.fill"),
        ({"surprise": 1}, 400, "surprise"),
    ],
)
def test_bad_bodies_get_4xx_naming_the_field_and_write_nothing(
    api: httpx.Client, local_stack: Any, body: dict[str, Any], status: int, field: str
) -> None:
    payload = _bad(body)
    if body.get("image", "") is None:
        payload.pop("image")
    before = keys(local_stack, "inputs/")

    r = api.post(submit_url(), json=payload)

    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["field"] == field and error["code"] and error["message"]
    assert keys(local_stack, "inputs/") == before


def test_a_map_without_a_face_is_422(api: httpx.Client) -> None:
    import cv2
    import numpy as np

    empty = cv2.imencode(".png", np.zeros((1023, 1024), np.uint8))[1].tobytes()
    r = api.post(submit_url(), json=_bad({"segmentation_map": base64.b64encode(empty).decode()}))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "NoFace"


def test_a_body_that_is_not_json_is_400(api: httpx.Client) -> None:
    r = api.post(submit_url(), content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationError"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("job_id", ["0123456789abcdef0123456789abcdef", "nope", "..%2F..%2Fetc"])
def test_unknown_ids_are_404_json(api: httpx.Client, prefix: str, job_id: str) -> None:
    r = api.get(status_url(job_id, prefix))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def test_unknown_routes_are_404_json(api: httpx.Client) -> None:
    r = api.get("/api/v2/status/x")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def test_swagger_ui_is_served_offline_with_both_route_families(api: httpx.Client) -> None:
    page = api.get("/swagger")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "cdn.jsdelivr" not in page.text and "unpkg.com" not in page.text  # assets are inlined

    spec = api.get("/swagger", params={"format": "json"}).json()
    assert {
        "/api/v1/submit",
        "/api/v1/frontal/crop/submit",
        "/api/v1/status/{id}",
        "/api/v1/frontal/crop/status/{id}",
    } <= set(spec["paths"])
    assert "SubmitRequest" in spec["components"]["schemas"]
    # issue 16: the label schemes, face_index and the error's likely_schemes are documented
    schemas = spec["components"]["schemas"]
    options = schemas["RenderOptions"]["properties"]
    assert set(options["label_scheme"]["enum"]) == {"lapa", "celebamask-hq", "faceparsing19", "facer-celebm"}
    assert options["face_index"]["default"] == 0
    assert "likely_schemes" in schemas["ErrorDetail"]["properties"]


def test_a_body_over_the_lambda_payload_limit_is_413(api: httpx.Client) -> None:
    r = api.post(submit_url(), json={**unique_body(), "image": "A" * 6_000_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"
