"""The overview draws its lines from vector tiles in headless Chromium (Leaflet.VectorGrid), and a click on a
tiled line opens its popup; anonymous readers keep the embedded, generalised lines and fetch no tile.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import pytest
import shapely

from boundaries.store import open_store
from tests.webmap.browser import ARGS, ARTIFACTS, CHROMIUM, requires_chromium
from tests.webmap.conftest import serve
from tests.webmap.test_browser import log_in

pytestmark = [requires_chromium, pytest.mark.browser]


@pytest.fixture(scope="module")
def tiled_server(web_db, tmp_path_factory):
    """``quhua serve`` whose overview switches to tiles at any size (the test database's lines are small)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUHUA_TILES_ABOVE_VERTICES", "0")
        with serve(web_db, tmp_path_factory.mktemp("tiled")) as base:
            yield base


@pytest.fixture
def page(tiled_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=tiled_server, viewport={"width": 1400, "height": 1000},
                                      locale="zh-CN")
        page = context.new_page()
        page.js_errors, page.tile_requests = [], []
        page.on("pageerror", lambda err: page.js_errors.append(str(err)))
        page.on("console", lambda msg: "Content Security Policy" in msg.text and page.js_errors.append(msg.text))
        page.on("request", lambda r: "/tiles/" in r.url and page.tile_requests.append(r.url))
        yield page
        browser.close()


def test_the_overview_draws_tiled_lines_and_a_click_opens_the_popup(page, web_db):
    log_in(page, "boss")
    page.goto("/")
    page.wait_for_selector(".folium-map[data-tiles-lines]")
    assert page.tile_requests and all(".mvt" in url for url in page.tile_requests)
    assert "江西—湖北线" not in page.content()  # the lines are not embedded in the page
    with open_store(web_db) as store:
        lines = store.read_layer("lines")
    line = lines[lines["line_id"] == "3642"].geometry.iloc[0]
    middle = line.interpolate(0.5, normalized=True)
    page.evaluate(f"() => window.quhuaMap.setView([{middle.y}, {middle.x}], 9, {{animate: false}})")
    page.wait_for_function("() => Number(document.querySelector('.folium-map').dataset.tileFeaturesLines) > 0")
    page.wait_for_timeout(500)
    drawn = page.locator(".leaflet-pane[class*='quhua-tiles-lines'] path")
    assert drawn.count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview_tiles.png"))
    # click on the drawn line where it crosses the middle of the view: the nearest vertex to the centre
    point = shapely.ops.nearest_points(line, middle)[0]
    xy = page.evaluate(f"() => window.quhuaMap.latLngToContainerPoint([{point.y}, {point.x}])")
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    popup = page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)  # the popup fades in
    text = popup.inner_text()
    assert "3642" in text and "江西—湖北线" in text and "360000 / 420000" in text
    page.screenshot(path=str(ARTIFACTS / "overview_tiles_popup.png"))
    # the tiles do not block what lies around their lines: a click on 江西's dot opens its province link
    from webmap.maps import PROVINCE_CENTRES

    lon, lat = PROVINCE_CENTRES["36"]
    page.evaluate(f"() => {{ window.quhuaMap.closePopup(); window.quhuaMap.setView([{lat}, {lon}], 6, "
                  "{animate: false}); }")
    page.wait_for_timeout(500)
    xy = page.evaluate(f"() => window.quhuaMap.latLngToContainerPoint([{lat}, {lon}])")
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    link = page.wait_for_selector(".leaflet-popup-content a")
    assert link.get_attribute("href") == "/province/360000"
    assert page.js_errors == []


def test_anonymous_readers_get_the_embedded_lines_and_no_tiles(page):
    page.goto("/")
    page.wait_for_selector(".leaflet-interactive")
    page.wait_for_timeout(500)
    assert page.tile_requests == []
    assert page.get_attribute(".folium-map", "data-tiles-lines") is None
    assert page.js_errors == []
