"""End to end in headless Chromium: what a person sees on the overview, a province, an upload with errors
and a name search. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import pytest

from tests.webmap.browser import ARGS, ARTIFACTS, CHROMIUM, requires_chromium
from tests.webmap.conftest import PASSWORD

pytestmark = [requires_chromium, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.js_errors = errors
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_url("**/")


def test_overview_shows_the_count_and_the_map(page):
    page.goto("/")
    assert page.inner_text("#loaded-count") == "2 / 31 个省级行政区已入库"
    page.wait_for_selector(".leaflet-interactive")
    assert page.locator("path.province-dot").count() == 34
    assert page.locator("#provinces tbody tr").count() == 34
    assert "江西" in page.inner_text("#provinces")
    shot(page, "overview")
    assert page.js_errors == []
