"""Security checks on the local stack: nothing public, short-lived presigned URLs, no S3 key a user
chooses, SVG output that holds only generated markup, and the API key enforced.

The CDK template's bucket/API settings are tested in ``tests/infra`` (private, TLS-only buckets;
the API key on every method); this file checks what the running code does.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR
from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES
from facesvg.local.apigw import ApiGateway
from facesvg.service.clock import epoch_of
from facesvg.service.settings import get_settings
from integration_helpers import (
    eventually,
    job_item,
    keys,
    status_url,
    submit_url,
    unique_body,
    wait_finished,
)

pytestmark = pytest.mark.integration

PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
# What a hostile caller would like to see in the output.
INJECTIONS = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    "]]><script>alert(2)</script><![CDATA[",
    "javascript:alert(3)",
    "&lt;&#x3C;&amp;",
]
SVG_NS = "{http://www.w3.org/2000/svg}"
GENERATED_TITLES = {n.replace("_", " ") for n in (*REGION_NAMES, *ZONE_NAMES)}
ALLOWED_TAGS = {"svg", "defs", "clipPath", "g", "image", "path", "title", "desc", "style", "rect"}


def assert_only_generated_markup(svg: bytes) -> None:
    """Parse the SVG: known elements only, no scripts, no event handlers, no foreign text, images
    only as embedded raster data."""
    for marker in ("script", "onload", "onmouseover", "alert(", "javascript:", "CDATA", "]]>"):
        assert marker.encode() not in svg, marker
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.removeprefix(SVG_NS)
        assert tag in ALLOWED_TAGS, tag
        for attr, value in el.attrib.items():
            name = attr.rsplit("}", 1)[-1]
            assert not name.lower().startswith("on"), attr
            if name == "href":
                assert re.match(r"^(data:image/(png|jpeg|webp);base64,|#)", value), value[:80]
        text = (el.text or "").strip() + (el.tail or "").strip()
        if tag == "title":  # a path's accessible name: only ever one of the fixed region/zone names
            assert text in GENERATED_TITLES, text[:80]
        elif tag != "style":
            assert text == "", (tag, text[:80])


def _wait_completed(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(submit_url(), json=body)
    assert r.status_code in (200, 202), r.text[:300]
    done = wait_finished(api, r.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    return done


# ------------------------------------------------------------------------------ not public


def test_the_local_bucket_and_result_objects_are_not_public(api: httpx.Client, local_stack: Any) -> None:
    s3 = local_stack.clients["s3"]
    done = _wait_completed(api, unique_body())

    grants = s3.get_bucket_acl(Bucket=names.BUCKET_NAME)["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI") in PUBLIC_GRANTEES]
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=names.BUCKET_NAME)
    prefix = urlsplit(done["svg_url"]).path.split(f"/{names.BUCKET_NAME}/", 1)[-1].rsplit("face.svg", 1)[0]
    for key in keys(local_stack, prefix) + keys(local_stack, "inputs/")[:4]:
        object_grants = s3.get_object_acl(Bucket=names.BUCKET_NAME, Key=key)["Grants"]
        assert not [g for g in object_grants if g["Grantee"].get("URI") in PUBLIC_GRANTEES], key


def test_presigned_urls_are_sigv4_short_lived_and_name_only_result_keys(api: httpx.Client) -> None:
    done = _wait_completed(api, unique_body())
    ttl = get_settings().presign_seconds
    assert ttl <= 3600
    urls = [done["svg_url"], *done["regions_svg_urls"].values()]
    for url in urls:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == [str(ttl)]
        assert re.fullmatch(
            rf"/{names.BUCKET_NAME}/results/[0-9a-f]{{64}}/(face|regions/[A-Za-z0-9_-]+)\.svg", parts.path
        ), parts.path
    assert httpx.get(done["svg_url"]).status_code == 200


# ------------------------------------------------------------------ no user-controlled keys


HOSTILE_NAMES = [
    "..",
    "../results",
    "a/../../results",
    "a%2F..%2Fb",
    "%2e%2e",
    "name with space",
    "näme",
    "名前",
    "x" * 65,
    "0" * 64,  # shaped like a content hash: results/<hash>/ is a render status URLs serve
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ".hidden",
    "-dash",
    "a\\b",
    "a\x00b",
    "face\n",  # "$" of a Python pattern matches before a final newline: names are fullmatched
    "<script>",
    'q"uote',
    "",
]


def _s3_event(key: str) -> dict[str, Any]:
    # S3 URL-encodes keys in notifications (spaces as '+').
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": names.BUCKET_NAME}, "object": {"key": quote(key, safe="/")}},
            }
        ]
    }


# Refused, but harmless as one key segment: these get results/<name>/error.json saying why (and only that).
NAMES_WITH_AN_ERROR_FOLDER = {"name with space", "näme", "名前", "x" * 65, "-dash"}


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n)[:20] for n in HOSTILE_NAMES])
def test_hostile_drop_folder_names_never_decide_a_key(local_stack: Any, name: str) -> None:
    before = set(keys(local_stack, "results/")) | set(keys(local_stack, "inputs/"))
    out = local_stack.invoke("ingest", _s3_event(f"incoming/{name}/image.png"))
    created = (set(keys(local_stack, "results/")) | set(keys(local_stack, "inputs/"))) - before
    if name in NAMES_WITH_AN_ERROR_FOLDER:
        assert set(out["objects"].values()) == {"invalid"}, out
        assert created <= {f"results/{name}/error.json"}  # (already there from an earlier run)
        assert keys(local_stack, f"results/{name}/") == [f"results/{name}/error.json"]
    else:
        assert set(out["objects"].values()) == {"ignored"}, out
        assert created == set()


def test_submitted_inputs_are_stored_under_their_hash_only(api: httpx.Client, local_stack: Any) -> None:
    body = unique_body()
    body["landmarks"] = {**body["landmarks"], "image_url": "../../etc/passwd"}
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202
    for key in keys(local_stack, "inputs/"):
        assert re.fullmatch(
            r"inputs/[0-9a-f]{64}/(image|segmentation_map|landmarks\.json|options\.json)", key
        )


# ------------------------------------------------------------------------ generated markup


@pytest.mark.parametrize(
    "path",
    [
        ("image_format",),
        ("style", "fill"),
        ("style", "stroke"),
        ("style", "stroke_dasharray"),
        ("style", "fill_opacity"),
        ("style", "stroke_width"),
        ("canvas_size",),
    ],
    ids=lambda p: ".".join(p),
)
def test_every_string_option_rejects_markup(api: httpx.Client, path: tuple[str, ...]) -> None:
    for injection in INJECTIONS[:4]:
        options: dict[str, Any] = {}
        node = options
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = injection
        r = api.post(submit_url(), json={**unique_body(), "options": options})
        assert r.status_code == 400, (path, injection, r.text[:200])
        assert r.json()["error"]["field"] == "options." + ".".join(path)
        assert r.headers["content-type"].startswith("application/json")  # an echo is JSON, not markup


def test_markup_in_landmark_documents_never_reaches_the_svg(api: httpx.Client) -> None:
    """Extra keys (the QOVES ``image_url``, anything else) and every string a caller can add to the
    landmarks document, as JSON and as the QOVES Python-literal text."""
    body = unique_body()
    doc = copy.deepcopy(body["landmarks"])
    doc.update({f"extra_{i}": s for i, s in enumerate(INJECTIONS)})
    doc["image_url"] = INJECTIONS[0]
    doc["landmarks"][0][0] = {**doc["landmarks"][0][0], "name": INJECTIONS[3], "z": 0.0}
    as_json = {**body, "landmarks": doc}
    as_text = {**unique_body(), "landmarks": repr(doc)}  # the QOVES landmarks.txt shape

    for variant in (as_json, as_text):
        done = _wait_completed(api, variant)
        assert_only_generated_markup(base64.b64decode(done["svg"]))
        for url in list(done["regions_svg_urls"].values())[:3]:
            assert_only_generated_markup(httpx.get(url).content)


def test_markup_in_a_drop_folder_never_reaches_the_svg(local_stack: Any) -> None:
    s3 = local_stack.clients["s3"]
    text = (SAMPLE_DIR / "landmarks.txt").read_text()
    # A hostile image_url inside the QOVES literal, and a name that is valid but looks like markup.
    text = re.sub(r"'image_url':\s*'[^']*'", "'image_url': '" + INJECTIONS[0].replace("'", "") + "'", text)
    assert INJECTIONS[0] in text
    name = "script-onload.alert"
    for file_name, data in (
        ("image.png", (SAMPLE_DIR / "original_image.png").read_bytes()),
        ("segmentation_map.png", (SAMPLE_DIR / "segmentation_map.png").read_bytes()),
        ("landmarks.txt", text.replace("0.0", "0.00", 1).encode()),  # a fresh hash
    ):
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"incoming/{name}/{file_name}", Body=data)

    eventually(lambda: keys(local_stack, f"results/{name}/face.svg"), timeout=60)

    svg = s3.get_object(Bucket=names.BUCKET_NAME, Key=f"results/{name}/face.svg")["Body"].read()
    assert b"<svg" in svg[:400]
    assert_only_generated_markup(svg)
    job = json.loads(s3.get_object(Bucket=names.BUCKET_NAME, Key=f"results/{name}/job.json")["Body"].read())
    assert set(job) == {"id", "content_hash"}


# ------------------------------------------------------------------------------- API key


def test_the_local_gateway_enforces_an_api_key_when_given_one() -> None:
    calls: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append(function)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    gateway = ApiGateway(invoke, 0, api_key="s3cret-key")
    gateway.start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            status = "/api/v1/status/" + "0" * 32
            assert client.get(status).status_code == 403
            assert client.get(status, headers={"x-api-key": "wrong"}).status_code == 403
            assert client.post(submit_url(), json={}).status_code == 403
            assert calls == []  # refused before any function ran
            assert client.get(status, headers={"x-api-key": "s3cret-key"}).status_code == 200
            assert calls == ["status"]
    finally:
        gateway.stop()


def test_the_local_gateway_takes_several_keys_as_a_usage_plan_does() -> None:
    calls: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event["headers"]["x-api-key"])
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    gateway = ApiGateway(invoke, 0, api_key=("key-a", "key-b"))
    gateway.start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            status = "/api/v1/status/" + "0" * 32
            assert client.get(status).status_code == 403
            assert client.get(status, headers={"x-api-key": "key-c"}).status_code == 403
            assert client.get(status, headers={"x-api-key": "key-a"}).status_code == 200
            assert client.get(status, headers={"x-api-key": "key-b"}).status_code == 200
            assert calls == ["key-a", "key-b"]
    finally:
        gateway.stop()


def test_the_job_cache_is_per_api_key_and_the_render_is_shared(api: httpx.Client, local_stack: Any) -> None:
    # Given client A's job for some inputs, finished
    body = unique_body()
    a = api.post(submit_url(), json=body, headers={"x-api-key": "client-a"})
    assert a.status_code == 202
    done_a = wait_finished(api, a.json()["id"], timeout=60, headers={"x-api-key": "client-a"})
    assert done_a["status"] == "completed"

    # When client B (another key) submits the identical inputs, and client C inputs nobody sent
    b = api.post(submit_url(), json=body, headers={"x-api-key": "client-b"})
    c = api.post(submit_url(), json=unique_body(), headers={"x-api-key": "client-c"})

    # Then B is answered exactly as C is: a new job, pending (the same body and headers but for the
    # id): nothing tells B that someone processed these inputs
    assert b.status_code == c.status_code == 202, b.text[:300]
    assert b.text.replace(b.json()["id"], c.json()["id"]) == c.text
    assert _comparable_headers(b) == _comparable_headers(c)
    # and its job completes as B's own (not A's id or times), with A's render (same results/<hash>/)
    done_b = wait_finished(api, b.json()["id"], timeout=60, headers={"x-api-key": "client-b"})
    assert done_b["id"] != done_a["id"] and done_b["created_at"] != done_a["created_at"]
    assert done_b["status"] == "completed" and done_b["svg"] == done_a["svg"]
    assert urlsplit(done_b["svg_url"]).path == urlsplit(done_a["svg_url"]).path  # results/<hash>/ shared
    # and each client keeps getting its own job back; a keyless caller has a scope of its own too
    assert api.post(submit_url(), json=body, headers={"x-api-key": "client-a"}).json()["id"] == done_a["id"]
    assert api.post(submit_url(), json=body, headers={"x-api-key": "client-b"}).json()["id"] == done_b["id"]
    assert api.post(submit_url(), json=body).json()["id"] not in {done_a["id"], done_b["id"]}


def _comparable_headers(response: httpx.Response) -> dict[str, str]:
    """The headers but those that differ on every answer (its date, request and trace ids)."""
    varying = {"date", "content-length", "x-amzn-requestid", "x-amzn-trace-id", "x-amz-apigw-id"}
    return {k: v for k, v in response.headers.items() if k.lower() not in varying}


@contextmanager
def keyed_gateway(local_stack: Any, *api_keys: str) -> Iterator[httpx.Client]:
    """A client of a gateway with a usage plan's keys in front of the stack's functions."""
    gateway = ApiGateway(local_stack.invoke, 0, api_key=api_keys)
    gateway.start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as api:
            yield api
    finally:
        gateway.stop()


def test_another_clients_inputs_complete_no_sooner_than_a_render(local_stack: Any) -> None:
    # Given client A's job, whose render's duration the stack recorded
    a, b = {"x-api-key": "timing-a"}, {"x-api-key": "timing-b"}
    with keyed_gateway(local_stack, "timing-a", "timing-b") as api:
        body = unique_body()
        accepted = api.post(submit_url(), json=body, headers=a)
        assert accepted.status_code == 202, accepted.text[:300]
        assert wait_finished(api, accepted.json()["id"], timeout=60, headers=a)["status"] == "completed"
        digest = job_item(local_stack, accepted.json()["id"])["content_hash"]["S"]
        render = local_stack.clients["dynamodb"].get_item(
            TableName=names.TABLE_NAME,
            Key={names.TABLE_PARTITION_KEY: {"S": names.RENDER_KEY_PREFIX + digest}},
        )["Item"]
        took = json.loads(render["result"]["S"])["render_seconds"]
        assert took > 0

        # When client B submits the same inputs
        mine = api.post(submit_url(), json=body, headers=b)
        assert mine.status_code == 202, mine.text[:300]
        done = wait_finished(api, mine.json()["id"], timeout=60, headers=b)

        # Then B's job ended no sooner after it began processing than A's render took (the
        # job item's times: processing began at its claim; completed at updated_at)
        assert done["status"] == "completed"
        item = job_item(local_stack, done["id"])
        assert "render_seconds" in item["result"]["S"]
        assert epoch_of(done["updated_at"]) - epoch_of(done["created_at"]) >= took - 0.01


@pytest.mark.parametrize("prefix", names.ROUTE_PREFIXES)
def test_a_jobs_status_answers_only_the_key_that_submitted_it(local_stack: Any, prefix: str) -> None:
    # Given a gateway with a usage plan's two keys in front of the stack's functions, and key A's job
    a, b = {"x-api-key": "client-a-key"}, {"x-api-key": "client-b-key"}
    with keyed_gateway(local_stack, "client-a-key", "client-b-key") as api:
        body = unique_body()
        accepted = api.post(submit_url(prefix), json=body, headers=a)
        assert accepted.status_code == 202, accepted.text[:300]
        job_a = accepted.json()["id"]
        assert wait_finished(api, job_a, prefix, timeout=60, headers=a)["status"] == "completed"

        # When key B asks for A's job by its id
        theirs = api.get(status_url(job_a, prefix), headers=b)

        # Then B gets exactly what an id that does not exist gets: 404 NotFound, never 403
        unknown_id = "f" * 32
        unknown = api.get(status_url(unknown_id, prefix), headers=b)
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.json()["error"]["code"] == "NotFound"
        assert theirs.text.replace(job_a, unknown_id) == unknown.text
        assert theirs.headers.get("content-type") == unknown.headers.get("content-type")
        # and A still reads it; without a key the gateway refuses before any function runs
        assert api.get(status_url(job_a, prefix), headers=a).json()["id"] == job_a
        assert api.get(status_url(job_a, prefix)).status_code == 403

        # When B submits the same inputs: a new job of its own (202), which B reads, A does not
        mine = api.post(submit_url(prefix), json=body, headers=b)
        assert mine.status_code == 202, mine.text[:300]
        job_b = mine.json()["id"]
        assert job_b != job_a
        polled = wait_finished(api, job_b, prefix, timeout=60, headers=b)
        assert polled["id"] == job_b and polled["status"] == "completed"
        assert api.get(status_url(job_b, prefix), headers=a).status_code == 404


def test_a_drop_folder_job_is_not_answered_by_the_status_api(local_stack: Any, api: httpx.Client) -> None:
    # Given a job the drop folder started (results in results/<name>/, its id in job.json)
    s3 = local_stack.clients["s3"]
    name = "scope-check"
    for file_name, data in (
        ("image.png", (SAMPLE_DIR / "original_image.png").read_bytes()),
        ("segmentation_map.png", (SAMPLE_DIR / "segmentation_map.png").read_bytes()),
        ("landmarks.txt", (SAMPLE_DIR / "landmarks.txt").read_bytes()),
    ):
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"incoming/{name}/{file_name}", Body=data)
    eventually(lambda: keys(local_stack, f"results/{name}/face.svg"), timeout=60)
    pointer = s3.get_object(Bucket=names.BUCKET_NAME, Key=f"results/{name}/job.json")["Body"].read()
    job_id = json.loads(pointer)["id"]

    # Then no API caller reads it, with or without a key: 404 as for an unknown id
    for headers in ({}, {"x-api-key": "client-a-key"}):
        response = api.get(status_url(job_id), headers=headers)
        assert response.status_code == 404, response.text[:300]
        assert response.json()["error"]["code"] == "NotFound"
