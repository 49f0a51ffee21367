"""What a client gets besides the SVG: zones, both frames, visibility, scale, areas, GeoJSON and COCO."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from facesvg.core.region_names import REGION_NAMES, ZONE_NAMES
from integration_helpers import submit_url, unique_body, wait_finished

pytestmark = pytest.mark.integration


def test_a_job_with_zones_returns_both_layers_frames_and_exports(api: httpx.Client) -> None:
    # Given the sample submitted with every zone
    body: dict[str, Any] = unique_body()
    body["options"] = {**body["options"], "zones": "all"}
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202, r.text
    done = wait_finished(api, r.json()["id"])
    assert done["status"] == "completed", done

    # Then the regions and the zones come back as separate contour sets, each with a per-file SVG
    assert set(done["mask_contours"]) == set(REGION_NAMES)
    assert set(done["zone_contours"]) == set(ZONE_NAMES)
    assert set(done["regions_svg_urls"]) == set(REGION_NAMES) | set(ZONE_NAMES)
    # every contour also in the photo's pixels, which the transform maps onto the canvas ones
    m = np.array(done["transform"])
    for name, pts in {**done["mask_contours"], **done["zone_contours"]}.items():
        back = np.array(done["contours_source_px"][name]) @ m[:, :2].T + m[:, 2]
        assert np.abs(back - np.array(pts)).max() <= 0.05, name
    # with visibility, the iris scale and areas for every one of them
    assert done["visibility"]["forehead"]["visible_fraction"] > 0.9
    assert done["scale"]["method"] == "iris" and done["scale"]["mm_per_px"] > 0
    assert done["areas"]["perioral"]["mm2"] > 0
    # and the exports download from their presigned URLs.
    urls = done["result_urls"]
    assert set(urls) == {"result.json", "result.geojson", "result.coco.json"}
    geo = httpx.get(urls["result.geojson"]).json()
    assert geo["type"] == "FeatureCollection"
    assert {f["properties"]["name"] for f in geo["features"]} == set(REGION_NAMES) | set(ZONE_NAMES)
    coco = httpx.get(urls["result.coco.json"]).json()
    assert len(coco["annotations"]) == len(geo["features"])


def test_an_unknown_zone_name_is_a_400_naming_it(api: httpx.Client) -> None:
    body: dict[str, Any] = unique_body()
    body["options"] = {**body["options"], "zones": ["nose", "dimple"]}
    r = api.post(submit_url(), json=body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["field"] == "options.zones" and err["message"].startswith(
        "options.zones: unknown names ['dimple']"
    )


LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # bytes of the whole proxy result a Lambda may return


def test_the_largest_option_set_answers_under_lambdas_response_limit(
    api: httpx.Client, local_stack: Any
) -> None:
    # Given the largest output the options allow: a 4096 px canvas, a PNG photo, every zone (~9 MB SVG)
    body: dict[str, Any] = unique_body()
    body["options"] = {**body["options"], "canvas_size": 4096, "image_format": "png", "zones": "all"}
    r = api.post(submit_url(), json=body)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    done = wait_finished(api, job_id, timeout=120)
    assert done["status"] == "completed", done

    # When its status is read through the API, and straight from the status function (the proxy result)
    response = api.get(f"/api/v1/status/{job_id}")
    event = {
        "resource": "/api/v1/status/{id}",
        "path": f"/api/v1/status/{job_id}",
        "httpMethod": "GET",
        "headers": {"Host": "example.com"},
        "pathParameters": {"id": job_id},
        "requestContext": {"stage": "prod", "path": f"/prod/api/v1/status/{job_id}", "identity": {}},
        "body": None,
        "isBase64Encoded": False,
    }
    proxy = local_stack.invoke("status", event)

    # Then both are under the limit: the SVG is a URL only, and everything else is there
    assert len(response.content) < 5_000_000 and len(json.dumps(proxy)) < LAMBDA_RESPONSE_LIMIT
    doc = response.json()
    assert "svg" not in doc and doc["omitted"] == ["svg"]
    svg = httpx.get(doc["svg_url"]).content
    assert len(svg) > 2_000_000 and b"<svg" in svg[:400]
    assert set(doc["zone_contours"]) == set(ZONE_NAMES) and doc["contours_source_px"] and doc["areas"]
    # an identical submit (a finished job: 200 with the status) is bounded the same way
    again = api.post(submit_url(), json=body)
    assert again.status_code == 200 and len(again.content) < 5_000_000 and "svg" not in again.json()
