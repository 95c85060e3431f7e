"""The national demo in headless Chromium (issue 13): a lawful, printable national map, a province page whose
header is what its map draws (each layer fetched once, under 2 MB), Chinese map tools, readable tables and
the province outline on an upload's report map. Screenshots go to ``test-artifacts/`` and were looked at."""

from __future__ import annotations

import contextlib
import io
import unicodedata
from pathlib import Path

import pytest

from tests.webmap.browser import ARTIFACTS, requires_chromium
from tests.webmap.conftest import PASSWORD, serve
from tests.webmap.national import expected_figures, loaded_provinces, national_db  # noqa: F401

pytestmark = [requires_chromium, pytest.mark.browser]
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture(scope="module")
def national_server(national_db, tmp_path_factory):  # noqa: F811
    with serve(national_db, tmp_path_factory.mktemp("national-server")) as base:
        yield base


@contextlib.contextmanager
def _page(browser, base: str, user: str | None = None):
    """A fresh context's page (script errors collected in ``page.js_errors``), logged in as ``user``."""
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda err: page.js_errors.append(str(err)))
    if user:
        page.goto("/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_url("**/")
    yield page
    context.close()


def _shot(page, name: str, **kwargs) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), **kwargs)


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or
                a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_the_national_map_is_lawful(browser, national_server, national_db):  # noqa: F811
    """南海诸岛 inset with the dashed line, Taiwan drawn, 香港 and 澳门 labelled where neither hides the
    other or 广东; title, date, north arrow, legend counted as the header."""
    with _page(browser, national_server) as page:
        page.goto("/")
        page.wait_for_selector(".quhua-inset path")
        loaded = len(loaded_provinces(national_db) - {"71", "81", "82"})
        assert page.inner_text("#loaded-count") == f"{loaded} / 31 个省级行政区已入库"
        inset = page.locator(".quhua-inset")
        assert "南海诸岛" in inset.inner_text()
        assert inset.locator("path").count() >= 2  # the land and the dashes, each one path in Leaflet's SVG
        bounds = page.evaluate("window.quhuaMap.quhuaInset.getBounds().toBBoxString()").split(",")
        w, s, e, n = map(float, bounds)
        assert w < 108 and e > 121 and s < 4.5 and n > 22  # from the Beibu Gulf to Taiwan, down to 曾母暗沙
        assert "全国省级行政区界线界桩入库情况" in page.inner_text(".quhua-caption")
        assert "截至" in page.inner_text(".quhua-caption") and page.locator(".quhua-north svg").count() == 1
        legend = page.inner_text(".quhua-legend")
        assert f"未入库 ({31 - loaded})" in legend and "台湾、香港、澳门（不参与入库统计）" in legend
        labels = {code: page.locator(f".leaflet-tooltip.label-{code}").bounding_box() for code in ("44", "81", "82")}
        assert all(labels.values())
        assert not _overlap(labels["81"], labels["82"]) and not _overlap(labels["81"], labels["44"])
        assert not _overlap(labels["82"], labels["44"])
        for code in ("71", "81", "82"):  # drawn as part of China, in the not-counted colour
            assert page.locator(f"path.province-{code}.status-not_counted").count() == 1
        map_box = page.locator(".folium-map").bounding_box()
        _shot(page, "national_map", clip=map_box)
        assert page.js_errors == []


def test_the_overview_prints_as_a_clean_page(browser, national_server):
    """Print media: no navigation, buttons or zoom; the map keeps its title, legend, scale, north and inset."""
    with _page(browser, national_server) as page:
        page.goto("/")
        page.wait_for_selector(".quhua-inset path")
        page.emulate_media(media="print")
        for hidden in ("header.top", ".leaflet-control-zoom", "button[data-print]"):
            assert not page.locator(hidden).first.is_visible(), hidden
        for shown in (".quhua-caption", ".quhua-legend", ".leaflet-control-scale", ".quhua-north", ".quhua-inset",
                      ".leaflet-control-attribution"):
            assert page.locator(shown).is_visible(), shown
        _shot(page, "overview_print", full_page=True)
        pdf = page.pdf(format="A4", landscape=True, print_background=True)
        (ARTIFACTS / "overview_print.pdf").write_bytes(pdf)
        pypdf = pytest.importorskip("pypdf")
        # NFKC: Chromium's PDF maps some characters to Kangxi radicals (⾏ for 行) in its text layer
        first = unicodedata.normalize("NFKC", pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
        # the title, the map with its legend, inset and source all on the first page (it was pushed to the
        # second, cut at the right, before the map was refitted to the printed size)
        for expected in ("个省级行政区已入库", "南海诸岛", "未入库", "数据来源", "北"):
            assert expected in first, expected


def test_inner_mongolia_map_draws_what_its_header_says_fetching_each_layer_once(browser, national_server,
                                                                               national_db):  # noqa: F811
    expected = expected_figures(national_db, "150000")
    with _page(browser, national_server, "boss") as page:
        requests: list[str] = []
        sizes: list[int] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"]))
        page.goto("/province/150000")
        page.wait_for_selector(".folium-map[data-loaded-lines][data-loaded-markers][data-loaded-issues]")
        page.wait_for_timeout(1500)  # any second fetch would have been sent by now
        figures = page.locator("#figures")
        container = page.locator(".folium-map")
        assert figures.get_attribute("data-lines") == container.get_attribute("data-loaded-lines") \
            == str(expected["lines"])
        assert figures.get_attribute("data-markers") == container.get_attribute("data-loaded-markers") \
            == str(expected["markers"])
        for kind in ("lines", "markers", "issues"):
            fetched = [u for u in requests if f"/ogc/collections/{kind}/items" in u and "history=true" not in u]
            assert len(fetched) == 1, (kind, fetched)
        assert sum(sizes) < 2_000_000, sum(sizes)
        overlays = [o.strip() for o in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
        assert f"界线 ({expected['lines']})" in overlays and f"界桩 ({expected['markers']:,})" in overlays
        # the history table's headers stay on one line (they wrapped one character per line)
        heights = [page.locator("#history th").nth(i).bounding_box()["height"]
                   for i in range(page.locator("#history th").count())]
        assert max(heights) < 1.9 * min(heights), heights
        page.locator("#history").scroll_into_view_if_needed()
        _shot(page, "inner_mongolia", full_page=True)
        assert page.js_errors == []


def test_the_measure_tool_speaks_chinese(browser, national_server):
    with _page(browser, national_server, "boss") as page:
        page.goto("/province/360000")
        page.wait_for_selector(".leaflet-control-measure")
        page.hover(".leaflet-control-measure")
        page.wait_for_selector(".leaflet-control-measure-interaction", state="visible")
        text = page.inner_text(".leaflet-control-measure")
        assert "同时测量距离和面积" in text and "开始一次新的测量" in text and "Measure" not in text
        page.click(".leaflet-control-measure .js-start")
        assert "点击地图加点以开始创建测量" in page.inner_text(".leaflet-control-measure")
        _shot(page, "measure_zh", clip=page.locator(".folium-map").bounding_box())
        page.goto("/province/360000?lang=en")
        page.hover(".leaflet-control-measure")
        assert "Measure distances and areas" in page.inner_text(".leaflet-control-measure")


def test_an_upload_report_map_shows_the_province_outline(browser, national_server):
    """内蒙古's surveyor checks its demo submission again: the report's map has the province's dashed outline."""
    files = sorted(str(p) for p in (DEMO / "150000_内蒙古").iterdir())
    with _page(browser, national_server, "nm") as page:
        page.goto("/upload")
        page.set_input_files("input[name=files]", files)
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#verdict", timeout=60_000)
        outline = page.wait_for_selector(".folium-map path[stroke-dasharray='4 4']")
        box = outline.bounding_box()
        assert box["width"] > 300  # the province across the map, not a speck
        _shot(page, "upload_outline", full_page=True)
        assert page.js_errors == []


def test_a_name_page_is_fitted_to_the_name(browser, server):
    """The name's map opens on the name (it stayed at the national view, where the boundary lines near the
    point looked like a stray "}" by its marker): one fit, not two racing zoom animations."""
    import json

    with _page(browser, server, "ana") as page:
        found = json.loads(page.request.get("/names/search.json?q=南昌市").body())["results"][0]
        page.goto(f"/names/{found['id']}")
        page.wait_for_selector("path.leaflet-interactive", state="attached")
        page.wait_for_timeout(800)  # past any zoom animation
        zoom, centre = page.evaluate("[window.quhuaMap.getZoom(), window.quhuaMap.getCenter()]")
        assert zoom >= 8 and abs(centre["lat"] - found["lat"]) < 0.1 and abs(centre["lng"] - found["lon"]) < 0.1
        _shot(page, "name_fitted")
        assert page.js_errors == []
