"""A joint inspection round in headless Chromium (issue 15): 江西's surveyor plans a round of the real line 3643,
imports the team's GBK table, adds a photo, sees the markers on the round's map coloured by condition, and
submits — the confirmation dialog first dismissed (nothing happens), then accepted; 湖南's and then 江西's
officials confirm through the same dialog, and the moved marker's position in the API changes only after
the second. No script error, no CSP violation. Screenshots go to ``test-artifacts/inspect_*.png``."""

from __future__ import annotations

import io
import math

import pytest

from boundaries.store import open_store
from tests.webmap.browser import requires_chromium
from tests.webmap.conftest import PASSWORD, serve
from tests.webmap.test_browser import log_in, shot, watched_page
from webmap.users import UserStore

pytestmark = [requires_chromium, pytest.mark.browser]


def _jpeg(lon: float, lat: float) -> bytes:
    from PIL import Image

    def dms(value):
        d = int(value)
        m = int((value - d) * 60)
        return (float(d), float(m), round(((value - d) * 60 - m) * 60, 4))

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 70)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _position(page, marker_id: str) -> list[float]:
    answer = page.request.get(f"/ogc/collections/markers/items?marker_id={marker_id}").json()
    return answer["features"][0]["geometry"]["coordinates"]


def _confirm_as(browser, base: str, name: str, url: str) -> tuple[list[str], str]:
    """Confirm the round as ``name`` through the dialog; the sides then confirmed and the status shown."""
    with watched_page(browser, base) as page:
        log_in(page, name)
        page.goto(url)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#confirm-round")
        page.wait_for_load_state()
        assert page.js_errors == []
        sides = page.locator("#steps li.confirmed").evaluate_all("items => items.map(i => i.dataset.side)")
        return sides, page.inner_text("#round-status")


def test_a_round_page_in_the_browser(browser, db_copy, tmp_path):
    with open_store(db_copy) as store:
        users = UserStore(store)
        users.add("jxgov", PASSWORD, "official", "360000")
        users.add("hngov", PASSWORD, "official", "430000")
        before = store.query("markers", properties={"marker_id": "3643002Q"}).features.geometry.iloc[0]
        lost = store.query("markers", properties={"marker_id": "3643003Q"}).features.geometry.iloc[0]
    moved = (before.x + 30 / (111_320 * math.cos(math.radians(before.y))), before.y)
    table = tmp_path / "联检界桩状况.csv"
    table.write_bytes(("界桩编号,界桩状况,经度,纬度,备注\n"
                       f"3643002Q,移位,{moved[0]:.8f},{moved[1]:.8f},洪水冲移\n"
                       "3643001Q,完好,,,\n3643003Q,丢失,,,桩体不见\n").encode("gbk"))
    photo = tmp_path / "IMG_0002.jpg"
    photo.write_bytes(_jpeg(lost.x, lost.y + 0.0002))

    with serve(db_copy, tmp_path / "server") as base:
        with watched_page(browser, base) as page:
            log_in(page, "jx")
            page.click("#inspect-link")
            page.click("#new-round")
            page.check("input[name=line][value='3643']")
            page.fill("input[name=team_a]", "江西勘界队")
            page.click("#create-round")
            page.wait_for_selector("#round-status")
            url = page.url
            assert page.inner_text("#round-status") == "计划中"
            page.set_input_files("#import-form input[name=table]", str(table))
            page.click("#import-button")
            page.wait_for_selector("#findings-table tr[data-condition=moved]")
            assert page.locator("#findings-table tbody tr").count() == 3
            assert page.inner_text("#round-status") == "检查中"
            page.set_input_files("#photo-form input[name=photo]", str(photo))
            page.fill("#photo-form input[name=marker_id]", "3643003Q")
            page.click("#photo-button")
            page.wait_for_selector("#photo-list a")
            assert "EXIF 位置距界桩 22" in page.inner_text("#photo-list")  # 0.0002° north: 22 m
            page.wait_for_selector("#inspect-map[data-features]")
            # the stored markers of 3643 and the one new position found
            features = int(page.get_attribute("#inspect-map", "data-features"))
            assert features == page.locator("#inspect-map path.leaflet-interactive").count() - 1  # + the dashed line
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.click("#submit-round")
            page.wait_for_timeout(300)
            assert page.inner_text("#round-status") == "检查中"  # dismissed: nothing sent
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#submit-round")
            page.wait_for_selector("#round-status[data-status=submitted]")
            shot(page, "inspect_submitted")
            assert page.locator("#import-form").count() == 0  # findings are locked
            assert page.js_errors == []

        assert _confirm_as(browser, base, "hngov", url) == (["430000"], "一方已提交")
        with watched_page(browser, base) as page:
            log_in(page, "jx")
            assert _position(page, "3643002Q") == pytest.approx([before.x, before.y], abs=1e-7)
        assert _confirm_as(browser, base, "jxgov", url) == (["360000", "430000"], "双方已确认")
        with watched_page(browser, base) as page:
            log_in(page, "jx")
            assert _position(page, "3643002Q") == pytest.approx(list(moved), abs=1e-7)
            page.goto(url)
            page.wait_for_selector("#inspect-map[data-features]")
            shot(page, "inspect_confirmed")
            assert page.locator("#steps li.confirmed").count() == 2
            assert page.js_errors == []
