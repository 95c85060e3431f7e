"""End to end in headless Chromium: what a person sees on the overview, a province, an upload with errors
and a name search. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import contextlib
import re

import pytest

from tests.webmap.browser import ARTIFACTS, requires_chromium
from tests.webmap.conftest import PASSWORD

pytestmark = [requires_chromium, pytest.mark.browser]


@contextlib.contextmanager
def watched_page(browser, base: str):
    """A page of a fresh context on ``base`` whose ``js_errors`` collect script errors and CSP violations."""
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda err: page.js_errors.append(str(err)))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.js_errors.append(msg.text))
    yield page
    context.close()


@pytest.fixture
def page(browser, server):
    with watched_page(browser, server) as page:
        yield page


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


def test_overview_switches_to_english(page):
    page.goto("/")
    page.click("#lang-switch")
    page.wait_for_selector("text=2 of 31 provinces loaded")
    assert "Jiangxi" in page.inner_text("#provinces")


def test_province_map_draws_layers_from_the_api(page):
    log_in(page, "boss")
    page.goto("/province/360000")
    page.wait_for_selector(".folium-map[data-loaded-lines][data-loaded-markers][data-loaded-issues]")
    container = page.locator(".folium-map")
    assert container.get_attribute("data-loaded-lines") == "3"  # 江西's two lines and 湖南's side of 3643
    assert container.get_attribute("data-loaded-markers") == "110"
    assert container.get_attribute("data-loaded-issues") == "1"
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    # the counts are the header's (tests/webmap/test_figures.py)
    assert [o.strip() for o in overlays] == ["界线 (3)", "已被替代", "界桩 (110)", "质检问题 (1)"]
    for control in (".leaflet-control-scale", ".leaflet-control-measure", ".leaflet-control-zoom-fullscreen"):
        assert page.locator(control).count() == 1, control
    scale = page.inner_text(".leaflet-control-scale")
    assert ("km" in scale or " m" in scale) and "mi" not in scale and "ft" not in scale  # metric only
    assert page.inner_text(".leaflet-control-attribution").startswith("区划 quhua")
    assert page.locator(".leaflet-control-attribution svg, .leaflet-attribution-flag").count() == 0
    assert page.locator(".marker-cluster").count() > 0  # markers are clustered at this scale
    page.evaluate("""() => window.quhuaMap.eachLayer(group => {
        if (!group.zoomToShowLayer) { return; }  // the marker cluster group
        const marker = group.getLayers().find(l => l.feature.properties.marker_id === '3642001Q');
        group.zoomToShowLayer(marker, () => marker.openPopup()); })""")
    popup = page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)  # the popup fades in
    text = popup.inner_text()
    assert "3642001Q" in text and "申报坐标" in text and "入库坐标" in text
    # the marker's legal interval, like the line's: in force since its submission's day, open-ended
    assert re.search(r"法定有效期\s+\d{4}-\d\d-\d\d –\s*$", text, re.M), text
    shot(page, "province")
    page.locator(".leaflet-control-layers-overlays label", has_text="已被替代").locator("input").check()
    page.wait_for_selector(".folium-map[data-loaded-superseded]")
    assert container.get_attribute("data-loaded-superseded") == "1"  # 江西's first survey of 3643
    assert page.js_errors == []


def test_upload_with_errors_shows_the_report_and_no_confirm(page, bad_submission):
    log_in(page, "jx")
    page.goto("/upload")
    options = page.locator("#crs-choice option").all_inner_texts()  # the web way to give a CRS
    assert options[0] == "按文件（.prj）" and "EPSG:4547 CGCS2000 GK 3° 带 38 (114°E)" in options
    assert len(options) == 1 + 2 + 64
    files = [p for shp in bad_submission for p in sorted(shp.parent.glob(shp.stem + ".*"))]
    page.set_input_files("input[name=files]", [str(p) for p in files])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#verdict")
    assert "有错误" in page.inner_text("#verdict")
    assert "marker.off_line" in page.inner_text("#issues") and "3642003Q" in page.inner_text("#issues")
    assert page.locator("#confirm-form").count() == 0
    header = page.inner_text("#issues thead")
    row = page.locator("#issues tbody tr", has_text="3642003Q").inner_text()
    assert "经度, 纬度" in header and "lon" not in header  # Chinese throughout
    assert "错误" in row and "界桩" in row and "error" not in row and "markers" not in row
    page.wait_for_selector("#issue-map .leaflet-interactive")
    shot(page, "upload_errors")
    assert page.js_errors == []


def test_name_search_as_you_type(page):
    """Typing asks the gazetteer at once; the list and the map show what it answers (or that it is missing)."""
    import placenames

    log_in(page, "ana")
    page.goto("/names")
    page.wait_for_selector(".folium-map.leaflet-container")
    with page.expect_response(lambda r: "/names/search.json?q=" in r.url) as response:
        page.type("#name-search", "北京", delay=50)
    first = page.wait_for_selector("#name-results li")
    if not hasattr(placenames, "search"):
        assert response.value.status == 503 and "地名库" in first.inner_text()
    else:
        assert response.value.ok and page.locator("#name-results li a").count() > 0
        assert "北京" in page.inner_text("#name-results")
    shot(page, "names")
    assert page.js_errors == []


def test_a_name_page_draws_its_extent(browser, db_copy, tmp_path):
    """青藏高原 with the outline of the demo: the page shows its bounds and the map draws the polygon,
    fitted to it."""
    from placenames.demo import plateau
    from placenames.store import open_name_store
    from tests.webmap.conftest import serve

    with open_name_store(db_copy) as store, store.write():
        store.upsert([plateau()])
    with serve(db_copy, tmp_path / "server") as base, watched_page(browser, base) as page:
        errors = page.js_errors
        log_in(page, "ana")
        page.goto("/names")
        page.type("#name-search", "青藏", delay=50)
        page.click("#name-results li a")
        page.wait_for_selector("#name-extent")
        assert page.inner_text("#name-extent").startswith("面 73.49")
        assert "名称沿革" in page.inner_text("body") and "现行" in page.inner_text("#name-history")
        page.wait_for_selector("path.name-extent")
        # the polygon is drawn across the map (fitted to the plateau): wider than half the map's width
        box = page.locator("path.name-extent").bounding_box()
        map_box = page.locator(".folium-map").bounding_box()
        assert box["width"] > map_box["width"] / 2
        shot(page, "name_extent")
        assert errors == []


def _submissions(db: str) -> int:
    from boundaries.store import open_store

    with open_store(db) as store:
        return len(store.read_layer("submissions"))


def test_confirm_asks_first_cancel_stores_nothing_accept_stores_once(browser, db_copy, tmp_path, good_submission):
    """确认入库 asks in a dialog: dismissed, nothing is stored; accepted, the submission is stored once."""
    from tests.webmap.conftest import serve

    files = [str(p) for shp in good_submission for p in sorted(shp.parent.glob(shp.stem + ".*"))]
    before = _submissions(db_copy)
    with serve(db_copy, tmp_path / "server") as base, watched_page(browser, base) as page:
        errors = page.js_errors
        log_in(page, "jx")
        page.goto("/upload")
        page.set_input_files("input[name=files]", files)
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#confirm-form")
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.click("#confirm-form button")
        page.wait_for_timeout(800)
        assert asked and "确认入库" in asked[0]
        assert _submissions(db_copy) == before and page.locator("#confirm-form").count() == 1
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#confirm-form button")
        page.wait_for_url("**/province/360000", timeout=120_000)  # by the storing job's page
        assert len(asked) == 2 and "已入库" in page.inner_text(".flash")
        assert _submissions(db_copy) == before + 1
        shot(page, "confirm_stored")
        assert errors == []


HOSTILE_NAME = "测<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">`${window.__xss=3}`'\"\\"


def test_hostile_gazetteer_names_are_shown_as_text_and_never_run(browser, db_copy, tmp_path):
    """A name holding script, an onerror image, quotes, a backtick and ${…}: its page, its map tooltip, the
    search list and the search map's tooltip and popup show it as text; no script of it runs."""
    from placenames.model import NameRecord
    from placenames.romanize import romanize
    from placenames.store import open_name_store
    from tests.webmap.conftest import serve

    with open_name_store(db_copy) as store, store.write():
        store.upsert([NameRecord(name=HOSTILE_NAME, pinyin=romanize("测"), klass="居民点", lon=115.9, lat=28.7,
                                 source="test", source_id="xss")])
    with serve(db_copy, tmp_path / "server") as base, watched_page(browser, base) as page:
        errors = page.js_errors
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in(page, "ana")
        page.goto("/names")
        page.type("#name-search", "测<", delay=30)
        link = page.wait_for_selector("#name-results li a")
        assert HOSTILE_NAME in link.inner_text()
        page.wait_for_selector(".leaflet-interactive")
        page.locator("path.leaflet-interactive").last.click(force=True)
        popup = page.wait_for_selector(".leaflet-popup-content")
        assert HOSTILE_NAME in popup.inner_text()
        link.click()
        page.wait_for_selector("#name-title")
        assert page.inner_text("#name-title").startswith(HOSTILE_NAME)
        page.wait_for_selector(".leaflet-interactive", state="attached")  # the first is a line out of view
        page.locator("path.leaflet-interactive").last.hover(force=True)
        tooltip = page.wait_for_selector(".leaflet-tooltip")
        assert HOSTILE_NAME in tooltip.inner_text()
        shot(page, "xss_name")
        assert page.evaluate("window.__xss") is None and dialogs == []
        assert errors == []


def test_the_content_security_policy_refuses_scripts_that_are_not_ours(page):
    """Every page's scripts carry the response's nonce, so the map still draws; a script injected into the
    page (as a slip in escaping would) is refused by the browser."""
    log_in(page, "boss")
    response = page.goto("/province/360000")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy
    page.wait_for_selector(".folium-map[data-loaded-lines]")
    assert page.js_errors == []
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__xss = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    assert len(page.js_errors) == 1 and "Content Security Policy" in page.js_errors[0]


def test_a_marker_on_a_line_opens_its_own_popup(page):
    """Markers are drawn above lines: a click on a marker standing on its line opens the marker's popup."""
    log_in(page, "boss")
    page.goto("/province/360000")
    page.wait_for_selector(".folium-map[data-loaded-lines][data-loaded-markers]")
    point = page.evaluate("""() => new Promise(done => {
        const map = window.quhuaMap;
        map.eachLayer(group => {
            if (!group.zoomToShowLayer) { return; }
            const marker = group.getLayers().find(l => l.feature.properties.marker_id === '3642002Q');
            map.once('moveend', () => setTimeout(() => {
                const p = map.latLngToContainerPoint(marker.getLatLng());
                const box = map.getContainer().getBoundingClientRect();
                done({x: box.left + p.x, y: box.top + p.y}); }, 1500));
            map.setView(marker.getLatLng(), 15, {animate: false}); }); })""")
    page.wait_for_timeout(500)
    page.mouse.click(point["x"], point["y"])
    popup = page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)
    shot(page, "marker_on_line")
    assert "3642002Q" in popup.inner_text() and "申报坐标" in popup.inner_text()
    assert page.js_errors == []
