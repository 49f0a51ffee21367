"""The browser viewer, driven in headless Chromium (Debian's /usr/bin/chromium through Playwright's
library; no browser download) against the local stack that serves it at ``/``."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("FACESVG_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "qoves"
# As root in a closed network: no sandbox, and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
WIDTHS = (1440, 800, 390)  # desktop, a small laptop / tablet, a phone
# Fields of the status response added with the zones: a response from before them lacks them all.
NEW_STATUS_FIELDS = (
    "zone_contours",
    "contours_source_px",
    "inverse_transform",
    "visibility",
    "scale",
    "areas",
    "result_urls",
)
UPDATE_SCREENSHOTS = os.environ.get("FACESVG_UPDATE_SCREENSHOT") == "1"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # A Content-Security-Policy violation is only a console message: count it as an error too.
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None
        ),
    )
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript or CSP errors on the page: {errors}"


def visible_region_paths(page: Any) -> int:
    return int(page.locator("#stage-svg path.region:visible").count())


def visible_paths(page: Any, layer: str) -> int:
    return int(page.locator(f'#stage-svg path.region[data-layer="{layer}"]:visible').count())


def visible_rows(page: Any, layer: str) -> int:
    return int(page.locator(f'#region-list li[data-layer="{layer}"]:visible').count())


def submit_sample(page: Any, zones: str = "standard") -> None:
    """The three sample files through the file inputs, the zones option, Submit; until completed."""
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#segmentation_map-input", str(SAMPLE / "segmentation_map.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    page.select_option("#zones-select", zones)
    page.get_by_role("button", name="Submit").click()
    page.locator("#steps li.is-done", has_text="Completed").wait_for()


def assert_no_horizontal_overflow(page: Any, when: str) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{when}: the page is {width} px wide in a {inner} px window"
    # And no card sticks out of the window (a card can overflow without widening the page when
    # something clips it).
    worst = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('.panel, .topbar'),"
        " (e) => e.getBoundingClientRect().right))"
    )
    assert worst <= inner + 0.5, f"{when}: a card reaches x = {worst} in a {inner} px window"


def same_object(url_a: str, url_b: str) -> bool:
    """Two presigned URLs of the same object (the signature's date may differ between calls)."""
    a, b = urlsplit(url_a), urlsplit(url_b)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path) and "Signature" in a.query


def test_viewer_renders_the_sample_toggles_regions_and_reports_bad_files(
    local_stack: Any, page: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    page.goto(local_stack.api_url + "/")
    assert page.title() == "facesvg viewer"

    # Upload the three sample files through the file inputs and submit.
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#segmentation_map-input", str(SAMPLE / "segmentation_map.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    page.get_by_role("button", name="Submit").click()

    page.locator("#steps li.is-done", has_text="Completed").wait_for()
    assert page.locator("#job-status").inner_text() == "Completed"
    job_id = page.locator("#job-id").inner_text()
    api = httpx.get(f"{local_stack.api_url}/api/v1/status/{job_id}", timeout=30).json()
    assert api["status"] == "completed"

    # One list entry per region the API returned contours for.
    rows = page.locator("#region-list input[type=checkbox]")
    assert rows.count() == len(api["mask_contours"]) == int(page.locator("#region-count").inner_text())
    names = {rows.nth(i).get_attribute("data-region") for i in range(rows.count())}
    assert names == set(api["mask_contours"])

    # Toggling a region hides its path in the combined SVG, and back.
    before = visible_region_paths(page)
    assert before >= len(api["regions_svg_urls"]) - 1 > 0
    page.get_by_role("checkbox", name="nose").uncheck()
    assert visible_region_paths(page) == before - 1
    assert not page.locator('#stage-svg path[data-region="nose"]').is_visible()
    page.get_by_role("checkbox", name="nose").check()
    assert visible_region_paths(page) == before

    # Hover: the region is highlighted and the tooltip names it with its area.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator(".region-row", has_text="left cheek").hover()
    cheek = page.locator('#stage-svg path[data-region="left_cheek"]')
    assert "is-hot" in (cheek.get_attribute("class") or "")
    tooltip = page.locator("#tooltip")
    assert "left cheek" in tooltip.inner_text() and "px²" in tooltip.inner_text()
    page.screenshot(path=str(tmp_path / "viewer-completed.png"))
    if os.environ.get("FACESVG_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(REPO / "docs" / "viewer.png"))

    # A per-region SVG (a presigned URL on the moto endpoint) loads in the browser.
    page.select_option("#view-select", "nose")
    region_img = page.locator("#region-img")
    region_img.wait_for()
    page.wait_for_function("() => document.getElementById('region-img').naturalWidth > 0")
    page.select_option("#view-select", "")
    assert visible_region_paths(page) == before

    # The same files again: the result comes from the cache.
    page.get_by_role("button", name="Submit").click()
    page.locator("#job-cache").wait_for()
    assert "cache" in page.locator("#job-cache").inner_text().lower()
    assert page.locator("#job-id").inner_text() == job_id

    # A text file as the photo: the API's error is shown next to the image field.
    bad = tmp_path / "not-a-photo.png"
    bad.write_text("this is not an image\n")
    page.set_input_files("#image-input", str(bad))
    page.get_by_role("button", name="Submit").click()
    error = page.locator("#image-error")
    error.wait_for()
    # The API's message once, with its code: "Not a PNG, JPEG, WebP, HEIF or AVIF file (UnsupportedFormat)".
    assert error.inner_text().lower().count("png, jpeg, webp") == 1, error.inner_text()
    assert error.inner_text().count("UnsupportedFormat") == 1, error.inner_text()
    assert page.locator("#image-input").get_attribute("aria-invalid") == "true"
    assert page.locator("#segmentation_map-error").inner_text() == ""
    page.screenshot(path=str(tmp_path / "viewer-bad-file.png"))

    assert time.monotonic() - started < 30


def test_viewer_zones_layers_visibility_and_exports(local_stack: Any, page: Any) -> None:
    page.goto(local_stack.api_url + "/")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/submit")) as submitted:
        submit_sample(page, zones="all")
    assert submitted.value.post_data_json["options"] == {"zones": "all"}
    assert page.input_value("#scheme-select") == "lapa"  # suggested from the sample map's values
    job_id = page.locator("#job-id").inner_text()
    api = httpx.get(f"{local_stack.api_url}/api/v1/status/{job_id}", timeout=30).json()
    regions, zones = set(api["mask_contours"]), set(api["zone_contours"])
    assert zones and not regions & zones

    # Both layers in the list and the SVG, each path marked with its layer.
    boxes = page.locator("#region-list input[type=checkbox]")
    assert {boxes.nth(i).get_attribute("data-region") for i in range(boxes.count())} == regions | zones
    assert int(page.locator("#region-count").inner_text()) == len(regions | zones)
    assert visible_paths(page, "zones") == len(zones)
    drawn_regions = visible_paths(page, "regions")
    assert drawn_regions >= len(regions) - 1 > 0  # face is the clip, its outline is off
    assert page.locator("#stage-svg g#zones path.layer-zones").count() == len(zones)

    # The layer switch shows one layer or both, in the SVG and in the list.
    switch = page.locator("#layer-switch")
    switch.get_by_text("Regions", exact=True).click()
    assert visible_paths(page, "zones") == 0 and visible_rows(page, "zones") == 0
    assert visible_paths(page, "regions") == drawn_regions and visible_rows(page, "regions") == len(regions)
    assert int(page.locator("#region-count").inner_text()) == len(regions)
    switch.get_by_text("Zones", exact=True).click()
    assert visible_paths(page, "regions") == 0 and visible_rows(page, "regions") == 0
    assert visible_paths(page, "zones") == len(zones) and visible_rows(page, "zones") == len(zones)
    # "None" acts on the layer shown: the zones go, the regions stay on.
    page.get_by_role("button", name="None").click()
    assert visible_paths(page, "zones") == 0
    switch.get_by_text("Both", exact=True).click()
    assert visible_paths(page, "regions") == drawn_regions and visible_paths(page, "zones") == 0
    page.get_by_role("button", name="All").click()
    assert visible_paths(page, "zones") == len(zones)
    assert visible_paths(page, "regions") == len(regions)  # All includes the face outline

    # Visibility in the list: a partly hidden region says how much shows and what hides it.
    drawn = regions | zones
    hidden = {n: v for n, v in api["visibility"].items() if n in drawn and v["visible_fraction"] < 0.995}
    assert hidden, "the sample has partly hidden regions (the ears under the hair)"
    for name, vis in hidden.items():
        row = page.locator(f'#region-list li:has(input[data-region="{name}"])')
        expected = f"{round(vis['visible_fraction'] * 100)} % visible"
        if vis["occluded_by"]:
            expected += ", " + ", ".join(c.replace("_", " ") for c in vis["occluded_by"])
        assert expected in row.inner_text(), (name, row.inner_text())

    # Exports: the presigned GeoJSON and COCO links of the status response.
    for link, doc in (("#download-geojson", "result.geojson"), ("#download-coco", "result.coco.json")):
        href = page.locator(link).get_attribute("href") or ""
        assert same_object(href, api["result_urls"][doc]), (href, api["result_urls"][doc])
        assert page.locator(link).get_attribute("aria-disabled") is None
    geojson = httpx.get(page.locator("#download-geojson").get_attribute("href") or "", timeout=30).json()
    assert geojson["type"] == "FeatureCollection"
    assert {f["properties"]["name"] for f in geojson["features"]} >= zones

    # A zone's own SVG, from the view menu.
    page.select_option("#view-select", sorted(zones)[0])
    page.wait_for_function("() => document.getElementById('region-img').naturalWidth > 0")
    assert page.locator("#download-svg").inner_text() == "Open zone SVG"


def test_viewer_lists_a_response_from_before_the_zones(local_stack: Any, page: Any) -> None:
    """A status response without the new fields (an older API): the list, SVG and downloads work,
    the new controls stay off."""

    def strip(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for field in NEW_STATUS_FIELDS:
            body.pop(field, None)
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/api/v1/submit", strip)
    page.route("**/api/v1/status/*", strip)
    page.goto(local_stack.api_url + "/")
    submit_sample(page)
    job_id = page.locator("#job-id").inner_text()
    api = httpx.get(f"{local_stack.api_url}/api/v1/status/{job_id}", timeout=30).json()
    assert page.locator("#region-list input[type=checkbox]").count() == len(api["mask_contours"])
    assert visible_region_paths(page) >= len(api["mask_contours"]) - 1
    assert page.locator("#region-list .vis").count() == 0
    assert page.locator("#visibility-note").is_hidden()
    assert page.locator("#layer-switch input").count() == 3
    assert all(page.locator("#layer-switch input").nth(i).is_disabled() for i in range(3))
    for link in ("#download-geojson", "#download-coco"):
        assert page.locator(link).get_attribute("aria-disabled") == "true"
        assert page.locator(link).get_attribute("href") is None
    assert page.locator("#download-svg").get_attribute("aria-disabled") is None
    page.locator(".region-row", has_text="nose").hover()
    assert "nose" in page.locator("#tooltip").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_viewer_fits_the_window(local_stack: Any, page: Any, tmp_path: Path, width: int) -> None:
    """Nothing overflows horizontally at a desktop, a laptop and a phone width, empty or with a
    result; a screenshot per width (``docs/viewer-<width>.png`` with FACESVG_UPDATE_SCREENSHOT=1)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(local_stack.api_url + "/")
    assert_no_horizontal_overflow(page, f"empty page at {width} px")
    # "Drop or choose a file" on one line in every drop zone.
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.drop-text')).fontSize)")
    heights = page.evaluate(
        "Array.from(document.querySelectorAll('.drop-text'), (e) => e.getBoundingClientRect().height)"
    )
    assert len(heights) == 3 and max(heights) < 2 * line, heights  # one line is ~1.2 em

    submit_sample(page, zones="all")
    assert_no_horizontal_overflow(page, f"result at {width} px")
    stage = page.locator("#stage").bounding_box()
    assert stage and stage["width"] > 0.5 * min(width, 700)  # the result is not squeezed either
    # The tooltip of a hovered region stays usable too.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator(".region-row", has_text="forehead").hover()
    assert_no_horizontal_overflow(page, f"hover at {width} px")
    page.mouse.move(0, 0)
    shot = tmp_path / f"viewer-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(shot, REPO / "docs" / f"viewer-{width}.png")


def test_viewer_suggests_the_label_scheme_and_sends_it(local_stack: Any, page: Any, tmp_path: Path) -> None:
    # The sample's map re-indexed by class name into face-parsing.PyTorch's 19-class order (issue 16).
    import cv2
    import numpy as np

    lapa = cv2.imread(str(SAMPLE / "segmentation_map.png"), cv2.IMREAD_UNCHANGED)
    fp19 = np.array([0, 1, 2, 3, 4, 5, 10, 12, 11, 13, 17], np.uint8)[lapa]
    path = tmp_path / "segmentation_map_fp19.png"
    cv2.imwrite(str(path), fp19)
    page.goto(local_stack.api_url + "/")
    page.set_input_files("#segmentation_map-input", str(path))
    page.wait_for_function("() => document.getElementById('scheme-select').value === 'faceparsing19'")
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    with page.expect_request(lambda r: r.method == "POST") as submitted:
        page.get_by_role("button", name="Submit").click()
    assert submitted.value.post_data_json["options"] == {"label_scheme": "faceparsing19"}
    page.wait_for_function(
        "() => document.getElementById('job-status').innerText === 'Completed'", timeout=30_000
    )


def test_a_link_s_api_parameter_does_not_receive_the_saved_key(local_stack: Any, page: Any) -> None:
    # Given a key saved for this stack's API
    page.goto(local_stack.api_url + "/")
    page.evaluate(
        "(base) => localStorage.setItem('facesvg.viewer.settings',"
        " JSON.stringify({apiBase: base, apiKey: 'k-123'}))",
        local_stack.api_url,
    )
    # When a link opens the viewer for another API, and the user declines the prompt
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    elsewhere = "http://127.0.0.1:9"  # nothing listens: requests there fail, which is fine
    page.goto(f"{local_stack.api_url}/?api={elsewhere}")
    page.wait_for_function("document.readyState === 'complete'")
    # Then the user was asked, and the key field and every request to that API carry no key.
    assert asked and "API key" in asked[0]
    assert page.input_value("#api-key") == ""
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#segmentation_map-input", str(SAMPLE / "segmentation_map.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    with page.expect_request(lambda r: r.url.startswith(elsewhere)) as submitted:
        page.get_by_role("button", name="Submit").click()
    assert "x-api-key" not in submitted.value.headers


def test_a_result_too_large_to_inline_is_fetched_from_its_url(local_stack: Any, page: Any) -> None:
    """Over 2 MB the API answers ``omitted: ["svg"]`` and only ``svg_url``: the viewer fetches it."""

    def without_svg(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        if body.pop("svg", None) is not None:
            body["omitted"] = ["svg"]
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/api/v1/submit", without_svg)
    page.route("**/api/v1/status/*", without_svg)
    page.goto(local_stack.api_url + "/")
    submit_sample(page)
    page.locator("#stage-svg svg").wait_for()
    assert visible_region_paths(page) > 5
    assert page.locator("#form-error").inner_text() == ""


def test_polling_stops_and_says_why_when_the_job_is_not_found(local_stack: Any, page: Any) -> None:
    """A 404 (an unknown id, or another API key's job) will not change by asking again: the viewer
    stops polling and says so, instead of "retrying…" forever."""
    job_id = "0" * 32
    polls: list[str] = []

    def accepted(route: Any) -> None:
        body = {"id": job_id, "status": "pending", "status_url": f"/api/v1/status/{job_id}"}
        route.fulfill(status=202, content_type="application/json", body=json.dumps(body))

    def not_found(route: Any) -> None:
        polls.append(route.request.url)
        body = {"error": {"code": "NotFound", "message": f"job {job_id} not found"}}
        route.fulfill(status=404, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/submit", accepted)
    page.route("**/api/v1/status/*", not_found)
    page.goto(local_stack.api_url + "/")
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#segmentation_map-input", str(SAMPLE / "segmentation_map.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    page.get_by_role("button", name="Submit").click()
    page.locator("#job-error").wait_for()
    assert "no such job for this API key" in page.locator("#job-error").inner_text()
    assert page.locator("#job-status").inner_text() == "Status unavailable (HTTP 404)"
    seen = len(polls)
    page.wait_for_timeout(2500)  # the old behaviour asked again every 1.5 s
    assert len(polls) == seen == 1


def test_the_viewer_submits_without_a_map(local_stack: Any, page: Any) -> None:
    # Given only the photo and the landmarks (the map is optional)
    page.goto(local_stack.api_url + "/")
    page.set_input_files("#image-input", str(SAMPLE / "original_image.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    page.select_option("#zones-select", "all")  # a content hash the other tests do not use
    with page.expect_request(lambda r: r.url.endswith("/api/v1/submit")) as sent:
        page.get_by_role("button", name="Submit").click()

    # Then the request carries no map, and the job completes from the derived labels
    assert "segmentation_map" not in json.loads(sent.value.post_data or "{}")
    page.locator("#steps li.is-done", has_text="Completed").wait_for()
    assert page.locator("#segmentation_map-error").inner_text() == ""
    job_id = page.locator("#job-id").inner_text()
    api = httpx.get(f"{local_stack.api_url}/api/v1/status/{job_id}", timeout=30).json()
    assert api["segmentation"] == {"source": "landmarks"}
    rows = page.locator("#region-list input[type=checkbox]")
    assert rows.count() == len(api["mask_contours"]) + len(api["zone_contours"]) > 10


HOSTILE_URLS = (
    "javascript:alert(document.domain)",
    " JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:http://127.0.0.1/x",
    "//evil.example/x",
    "not a url",
)


def test_links_are_made_only_from_http_urls_of_the_api_s_answer(local_stack: Any, page: Any) -> None:
    """An API named by ``?api=`` may answer anything in ``result_urls``/``regions_svg_urls``: no
    ``javascript:`` (or any other non-http(s)) value becomes a link, whatever the CSP."""
    hostile = iter(HOSTILE_URLS * 100)

    def hostile_urls(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for field in ("result_urls", "regions_svg_urls"):
            if isinstance(body.get(field), dict):
                body[field] = {name: next(hostile) for name in body[field]}
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/api/v1/submit", hostile_urls)
    page.route("**/api/v1/status/*", hostile_urls)
    page.goto(local_stack.api_url + "/")
    submit_sample(page, zones="all")
    page.locator("#stage-svg svg").wait_for()

    def hrefs() -> list[str]:
        return list(page.eval_on_selector_all("a[href]", "(links) => links.map((a) => a.href)"))

    def unsafe(urls: list[str]) -> list[str]:
        return [u for u in urls if urlsplit(u).scheme not in ("http", "https", "blob")]

    for link in ("#download-geojson", "#download-coco"):
        assert page.locator(link).get_attribute("href") is None, link
        assert page.locator(link).get_attribute("aria-disabled") == "true"
    assert not unsafe(hrefs()), hrefs()
    views = page.locator("#view-select option[value]:not([value=''])")
    for i in range(min(views.count(), len(HOSTILE_URLS))):
        page.select_option("#view-select", views.nth(i).get_attribute("value"))
        assert not unsafe(hrefs()), hrefs()
        assert page.locator("#download-svg").get_attribute("href") is None
        assert page.locator("#download-svg").get_attribute("aria-disabled") == "true"
        src = page.locator("#region-img").get_attribute("src") or ""
        assert urlsplit(src).scheme in ("", "http", "https"), src
    # Back to the combined view: its own download (a blob: of the drawn SVG) is a link again.
    page.select_option("#view-select", "")
    assert (page.locator("#download-svg").get_attribute("href") or "").startswith("blob:")
    assert page.locator("#download-svg").get_attribute("aria-disabled") is None
