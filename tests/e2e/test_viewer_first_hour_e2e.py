"""What stopped or misled a new user of the viewer, in headless Chromium against the local stack:
a JPEG map, the list's heading and units with only zones drawn, the tooltip on a phone, long file
names, the spacing under the map's error line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from chromium import CHROMIUM

pytestmark = pytest.mark.e2e

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True
    )

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "qoves"


def _page(browser: Any, width: int) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    yield from _page(browser, 1440)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    yield from _page(browser, 390)


def _submit(page: Any, zones: str, image: Path = SAMPLE / "original_image.png") -> None:
    page.set_input_files("#image-input", str(image))
    page.set_input_files("#segmentation_map-input", str(SAMPLE / "segmentation_map.png"))
    page.set_input_files("#landmarks-input", str(SAMPLE / "landmarks.txt"))
    page.select_option("#zones-select", zones)
    page.get_by_role("button", name="Submit").click()
    page.locator("#steps li.is-done", has_text="Completed").wait_for()


def test_a_jpeg_map_is_refused_saying_why(local_stack: Any, desktop: Any, tmp_path: Path) -> None:
    jpeg = tmp_path / "map.jpg"
    jpeg.write_bytes(cv2.imencode(".jpg", cv2.imread(str(SAMPLE / "segmentation_map.png"), 0))[1].tobytes())
    desktop.goto(local_stack.api_url + "/")
    desktop.set_input_files("#segmentation_map-input", str(jpeg))

    error = desktop.locator("#segmentation_map-error")
    error.wait_for()
    assert "map.jpg is a JPEG: a label map must be a PNG" in error.inner_text()
    assert desktop.input_value("#scheme-select") == "lapa"  # not switched to a 19-class scheme
    assert desktop.evaluate("document.getElementById('segmentation_map-input').files.length") == 0

    # and the error line keeps its distance from the label scheme row under it
    gap = desktop.evaluate(
        "document.querySelector('.scheme-row').getBoundingClientRect().top"
        " - document.getElementById('segmentation_map-error').getBoundingClientRect().bottom"
    )
    assert gap >= 8, f"{gap} px between the map's error line and the next row"


def test_only_zones_are_headed_zones_with_areas_in_mm2(local_stack: Any, desktop: Any) -> None:
    desktop.goto(local_stack.api_url + "/")
    _submit(desktop, "all")
    assert desktop.text_content("#regions-title").startswith("Regions and zones")

    desktop.check("#layer-switch input[value='zones']")
    assert desktop.text_content("#regions-title").startswith("Zones")
    titles = desktop.locator("#region-list li[data-layer='zones'] label").evaluate_all(
        "(rows) => rows.map((r) => r.title)"
    )
    assert titles and all("mm²" in t and "px²" not in t for t in titles), titles  # the sample has a scale

    desktop.check("#layer-switch input[value='regions']")
    assert desktop.text_content("#regions-title").startswith("Regions")


def test_on_a_phone_no_tooltip_over_an_image_out_of_view(local_stack: Any, phone: Any) -> None:
    phone.goto(local_stack.api_url + "/")
    _submit(phone, "standard")
    row = phone.locator("#region-list li[data-layer='regions'] label").last
    row.scroll_into_view_if_needed()
    phone.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    stage_bottom = phone.evaluate("document.getElementById('stage').getBoundingClientRect().bottom")
    assert stage_bottom < 0, "the image should be scrolled out of view for this test"
    row.hover()
    assert phone.locator("#tooltip").is_hidden()

    # with the image in view, hovering a row labels its region
    phone.evaluate("document.getElementById('stage').scrollIntoView()")
    phone.locator("#region-list li[data-layer='regions'] label").first.dispatch_event("mouseenter")
    assert phone.locator("#tooltip").is_visible()


def test_long_file_names_are_shown_whole(local_stack: Any, desktop: Any, tmp_path: Path) -> None:
    long_name = tmp_path / ("a-photo-with-a-long-descriptive-name-from-the-camera-roll-" * 2 + "2026.png")
    long_name.write_bytes((SAMPLE / "original_image.png").read_bytes())
    desktop.goto(local_stack.api_url + "/")
    desktop.set_input_files("#image-input", str(long_name))
    shown = desktop.locator("#image-file")
    assert long_name.name in shown.inner_text()
    cut = shown.evaluate("(e) => e.scrollWidth > e.clientWidth + 1")
    assert not cut, "the file name is cut"
