"""The API's documentation pages in headless Chromium, offline: Swagger UI at ``/docs`` (and
``/swagger``) and ReDoc at ``/redoc`` render every route from what the local stack itself serves,
with every request to anywhere else blocked (and none attempted)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from chromium import CHROMIUM
from facesvg.service import api_docs

pytestmark = pytest.mark.e2e

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True
    )

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ROUTES = (
    "/api/v1/submit",
    "/api/v1/status/{id}",
    "/api/v1/frontal/crop/submit",
    "/api/v1/frontal/crop/status/{id}",
)


class OfflinePage:
    """A page whose requests to any host but this machine are aborted and recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.console.append(msg.text) if msg.type == "error" else None)
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname
        if scheme in ("data", "blob") or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


@pytest.fixture
def offline(browser: Any) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=False)
    page = context.new_page()
    page.set_default_timeout(30_000)
    wrapped = OfflinePage(page)
    yield wrapped
    context.close()
    assert not wrapped.errors, f"JavaScript errors on the page: {wrapped.errors} {wrapped.console}"
    assert not wrapped.blocked, f"the page tried to reach other hosts: {wrapped.blocked}"


@pytest.mark.parametrize("path", ["/docs", "/swagger"])
def test_swagger_ui_renders_offline(local_stack: Any, offline: OfflinePage, path: str) -> None:
    page = offline.page
    page.goto(local_stack.api_url + path)
    page.locator(".swagger-ui .opblock").first.wait_for()
    shown = page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert {text.replace("\u200b", "") for text in shown} >= set(ROUTES)
    assert page.locator(".swagger-ui .info .title", has_text="facesvg").count() == 1


def test_redoc_renders_offline(local_stack: Any, offline: OfflinePage) -> None:
    assert api_docs.redoc_bundle() is not None, "ReDoc's bundle is missing: npm ci"
    page = offline.page
    page.goto(local_stack.api_url + "/redoc")
    page.get_by_role("heading", name="facesvg").first.wait_for()
    page.locator("h2", has_text="Submit a face for rendering").first.wait_for()
    page.get_by_text('"job_id"').first.wait_for()  # the response samples: job_id beside id
    content = page.content()
    for route in ROUTES:
        assert route in content, route
    assert page.locator("a[href*='redocly.com']:visible").count() == 0  # its CDN logo is not shown


def test_openapi_json_is_the_swagger_document(local_stack: Any) -> None:
    spec = httpx.get(local_stack.api_url + "/openapi.json", timeout=30)
    assert spec.status_code == 200 and spec.headers["content-type"].startswith("application/json")
    same = httpx.get(local_stack.api_url + "/swagger", params={"format": "json"}, timeout=30).json()
    assert spec.json() == same
    assert set(ROUTES) <= set(spec.json()["paths"])
