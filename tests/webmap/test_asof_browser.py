"""The province map's date slider in real Chromium (issue 15): moved to the first agreement's day, the map
draws the lines and markers in force then (the older version of line 3643, the two markers lost since);
back at "current", today's. On both databases, with the dated surveys of :mod:`tests.webmap.asof_data`."""

from __future__ import annotations

import pytest

from tests.webmap.asof_data import FIRST, SECOND, surveyed_database
from tests.webmap.browser import ARTIFACTS, requires_chromium
from tests.webmap.conftest import PASSWORD, serve

pytestmark = requires_chromium

#: what the map holds of line 3643 as 江西 submitted it: its version's legal start
_JX_3643 = """Object.values(window.quhuaMap._layers)
  .filter(function (l) { return l.feature && l.feature.properties.line_id === "3643" &&
                                l.feature.properties.province === "360000"; })
  .map(function (l) { return l.feature.properties.valid_from; })"""


@pytest.fixture(scope="module")
def asof_server(request, backend, tmp_path_factory, jx_lines, jx_markers):
    folder = tmp_path_factory.mktemp(f"asof-browser-{backend}")
    with surveyed_database(request, backend, folder, jx_lines, jx_markers) as db, serve(db, folder / "srv") as base:
        yield base


def _loaded(page, lines: str, markers: str, day: str) -> None:
    page.wait_for_function(
        "([lines, markers, day]) => { const c = document.querySelector('.folium-map');"
        " return c.getAttribute('data-as-of-lines') === day && c.getAttribute('data-as-of-markers') === day &&"
        " c.getAttribute('data-loaded-lines') === lines && c.getAttribute('data-loaded-markers') === markers; }",
        arg=[lines, markers, day], timeout=15_000)


def test_moving_the_date_slider_shows_the_boundary_as_of_that_day(browser, asof_server):
    context = browser.new_context(base_url=asof_server, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto("/login")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_url("**/")
        page.goto("/province/360000")
        _loaded(page, "3", "109", "")  # today: 江西's two lines and 湖南's 3643; 109 markers
        assert page.evaluate(_JX_3643) == [f"{SECOND}T00:00:00.000Z"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#province-map").screenshot(path=str(ARTIFACTS / "asof_now.png"))
        page.focus("#as-of-range")
        page.keyboard.press("Home")  # the first day: the first agreement in force
        _loaded(page, "2", "110", FIRST)
        assert page.input_value("#as-of-date") == FIRST and page.inner_text("#as-of-label") == FIRST
        assert page.evaluate(_JX_3643) == [f"{FIRST}T00:00:00.000Z"]  # the older line is drawn
        page.wait_for_function("document.getElementById('as-of-counts').textContent === '界线 2 · 界桩 110'")
        page.locator("#province-map").screenshot(path=str(ARTIFACTS / "asof_2017.png"))
        page.fill("#as-of-date", "2021-05-01")  # a date picked: 江西's second survey, before 湖南's
        _loaded(page, "2", "109", "2021-05-01")
        assert page.evaluate(_JX_3643) == [f"{SECOND}T00:00:00.000Z"]
        page.click("#as-of-now")
        _loaded(page, "3", "109", "")
        page.wait_for_function("document.getElementById('as-of-counts').textContent === ''")
        assert page.inner_text("#as-of-label") == "现行"
        assert not errors, errors
    finally:
        context.close()
