"""The browser viewer, driven in headless Chromium (Debian's /usr/bin/chromium through Playwright's
library; no browser download) against the local stack that serves it at ``/``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    pg.set_default_timeout(20_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def visible_region_paths(page: Any) -> int:
    return int(page.locator("#stage-svg path.region:visible").count())


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
    assert "PNG or JPEG" in error.inner_text()
    assert page.locator("#image-input").get_attribute("aria-invalid") == "true"
    assert page.locator("#segmentation_map-error").inner_text() == ""
    page.screenshot(path=str(tmp_path / "viewer-bad-file.png"))

    assert time.monotonic() - started < 30
