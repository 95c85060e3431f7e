"""In headless Chromium: an upload's live progress (issue 13, item 7), and hostile line names, marker ids and
file names on every page and popup where they appear (issue 12, item 4) — shown as text, no script run, no
dialog opened. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from boundaries.audit import AuditEntry
from boundaries.config import load_config
from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import write_shapefiles
from tests.webmap.browser import requires_chromium
from tests.webmap.conftest import serve
from tests.webmap.test_browser import log_in, shot, watched_page
from tests.webmap.test_upload_worker import heavy_submission  # noqa: F401 (the fixture)

pytestmark = [requires_chromium, pytest.mark.browser]

LINE_NAME = "<img src=x onerror=alert(1)>赣鄂线"
MARKER_ID = "3642001Q\"'</script><script>alert(2)</script>"
FILE_STEM = "<img src=x onerror=alert(3)><b>江西'\""  # no "/": a file name cannot hold one


def _files(paths: list[Path]) -> list[str]:
    return [str(p) for shp in paths for p in sorted(shp.parent.glob(shp.stem + ".*"))]


def test_the_upload_page_shows_the_checks_progress_then_the_report(browser, db_copy, tmp_path,
                                                                   heavy_submission):  # noqa: F811
    from playwright.sync_api import Error as PlaywrightError

    with serve(db_copy, tmp_path / "server") as base, watched_page(browser, base) as page:
        errors = page.js_errors
        log_in(page, "jx")
        page.goto("/upload")
        page.set_input_files("input[name=files]", _files(heavy_submission))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#job")
        seen: list[tuple[str, int]] = []
        deadline, shot_taken = time.monotonic() + 240, False
        while time.monotonic() < deadline:
            try:
                if page.locator("#verdict").count():
                    break
                step = page.inner_text("#job-step", timeout=1000)
                value = int(float(page.get_attribute("#job-progress", "value", timeout=1000) or 0))
            except PlaywrightError:  # the page is being replaced by the report
                continue
            if not seen or seen[-1] != (step, value):
                seen.append((step, value))
            if "检查规则" in step and not shot_taken:
                shot(page, "upload_progress")
                shot_taken = True
            time.sleep(0.1)
        page.wait_for_selector("#verdict")
        steps = [s for s, _ in seen]
        assert any(s.startswith("正在检查规则") and "line.neighbor_mismatch" in s for s in steps), steps
        assert len(set(steps)) >= 2 and seen[-1][1] > seen[0][1], seen  # the bar moved on
        assert "无错误，可以入库" in page.inner_text("#verdict") and page.locator("#confirm-form").count() == 1
        shot(page, "upload_progress_report")
        assert errors == []


@pytest.fixture
def hostile_db(db_copy, tmp_path, jx_lines, jx_markers) -> tuple[str, list[Path], int]:
    """江西 resubmits 3642 named ``LINE_NAME`` from files named ``FILE_STEM…``, one marker numbered
    ``MARKER_ID`` (its marker.id_format made a warning, so it is stored and reported); stored through the core
    with a CLI audit row."""
    lines = jx_lines[jx_lines["line_id"] == "3642"].assign(name=LINE_NAME)
    markers = jx_markers[jx_markers["line_id"] == "3642"].copy()
    markers.loc[markers["marker_id"] == "3642001Q", "marker_id"] = MARKER_ID
    paths = write_shapefiles(tmp_path / "hostile", lines, markers, stem=FILE_STEM)
    override = tmp_path / "qa.toml"
    override.write_text('[rules."marker.id_format"]\nseverity = "warning"\n', encoding="utf-8")
    with open_store(db_copy) as store:
        store.write_config("360000", load_config(override).to_toml(), user="boss")
    result = ingest_paths(paths, "360000", db=db_copy, user="jx", progress=False,
                          audit=AuditEntry("ingest", "jx", "cli"))
    assert result.submission_id is not None, result.report
    return db_copy, paths, result.submission_id


def _open_popup(page, key: str, value: str) -> str:
    """Open the popup of the map's feature whose property ``key`` is ``value``; its text."""
    page.evaluate("window.quhuaMap.closePopup()")
    page.wait_for_selector(".leaflet-popup-content", state="detached")
    page.evaluate("""([key, value]) => new Promise(done => {
        const map = window.quhuaMap;
        map.eachLayer(group => {
            if (!group.getLayers) { return; }
            const layer = group.getLayers().find(l => l.feature && l.feature.properties[key] === value);
            if (!layer) { return; }
            if (group.zoomToShowLayer) { group.zoomToShowLayer(layer, () => { layer.openPopup(); done(); }); }
            else { layer.openPopup(layer.getCenter ? layer.getCenter() : undefined); done(); }
        }); })""", [key, value])
    popup = page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(300)
    return popup.inner_text()


def test_hostile_line_names_marker_ids_and_file_names_are_text_everywhere(browser, hostile_db,
                                                                          tmp_path):
    db, paths, sid = hostile_db
    with serve(db, tmp_path / "server") as base, watched_page(browser, base) as page:
        errors, dialogs = page.js_errors, []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in(page, "boss")
        page.goto("/province/360000")
        page.wait_for_selector(".folium-map[data-loaded-lines][data-loaded-markers][data-loaded-issues]")
        assert LINE_NAME in _open_popup(page, "name", LINE_NAME)
        assert MARKER_ID in _open_popup(page, "marker_id", MARKER_ID)
        shot(page, "hostile_province_popup")
        issue = _open_popup(page, "feature", MARKER_ID)
        assert MARKER_ID in issue and "警告" in issue and "warning" not in issue  # Chinese throughout
        shot(page, "hostile_issue_popup")
        history = page.inner_text("#history")
        assert f"{FILE_STEM}界线.shp" in history and f"{FILE_STEM}界桩.shp" in history
        page.goto(f"/province/360000/diff?line=3642&a=1&b={sid}")
        assert "3642" in page.inner_text("h1")
        page.wait_for_selector(".folium-map.leaflet-container")
        page.wait_for_timeout(500)  # the diff's map and its script have run
        page.goto("/audit?action=ingest")
        assert f"{FILE_STEM}界线.shp" in page.inner_text("#audit-log")
        shot(page, "hostile_audit")
        assert dialogs == [] and errors == []

    with serve(db, tmp_path / "server2") as base, watched_page(browser, base) as page:
        errors, dialogs = page.js_errors, []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in(page, "jx")
        page.goto("/upload")
        page.set_input_files("input[name=files]", _files(paths))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#verdict", timeout=120_000)
        row = page.locator("#issues tbody tr", has_text="marker.id_format").first.inner_text()
        assert MARKER_ID in row
        page.wait_for_selector("#issue-map .leaflet-interactive")
        page.locator("#issue-map path.leaflet-interactive").last.click(force=True)
        assert MARKER_ID in page.wait_for_selector("#issue-map .leaflet-popup-content").inner_text()
        shot(page, "hostile_report")
        junk = tmp_path / f"{FILE_STEM}.geojson"
        junk.write_text("<script>alert(4)</script>", encoding="utf-8")
        page.goto("/upload")
        page.set_input_files("input[name=files]", [str(junk)])
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#verdict", timeout=120_000)
        assert f"{FILE_STEM}.geojson" in page.inner_text("#issues")
        shot(page, "hostile_file_name")
        assert dialogs == [] and errors == []
        assert page.evaluate("typeof window.__xss") == "undefined"
