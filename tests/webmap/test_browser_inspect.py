"""A joint inspection round in headless Chromium (issue 15): 江西's surveyor plans a round of the real line 3643,
imports the team's GBK table, adds a photo, sees the markers on the round's map coloured by condition, and
submits — the confirmation dialog first dismissed (nothing happens), then accepted; 湖南's and then 江西's
officials confirm through the same dialog, and the moved marker's position in the API changes only after
the second. The round's map draws the configured basemap with its attribution (tiles served by the browser's
router from a test host), 3643's 68 markers not inspected as small dots, and the lost and moved ones large and on
top of them: the element under each one's centre is that marker. No script error, no CSP violation.
Screenshots go to ``test-artifacts/inspect_*.png``."""

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


TILES = "https://tiles.quhua.test/{z}/{x}/{y}.png"
ATTRIBUTION = "© 测试底图 test tiles"


def _tile() -> bytes:
    """A pale 256 px tile with a grid, so that the screenshot shows the basemap is drawn."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256), (238, 234, 222))
    draw = ImageDraw.Draw(image)
    for i in range(0, 256, 32):
        draw.line([(i, 0), (i, 255)], fill=(214, 208, 192))
        draw.line([(0, i), (255, i)], fill=(214, 208, 192))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _marker_on_top(page, selector: str) -> dict:
    """The first element matching ``selector`` on the round's map: its size on screen and whether it is the
    element a user's click at its centre reaches (nothing drawn over it)."""
    return page.locator(selector).first.evaluate("""element => {
        const box = element.getBoundingClientRect();
        const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
        return {width: box.width, top: top === element, pane: element.closest('.leaflet-pane').className,
                over: top && (top.getAttribute('class') || top.tagName)};
    }""")


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

    tile = _tile()
    with serve(db_copy, tmp_path / "server", env={"QUHUA_BASEMAP_URL": TILES,
                                                  "QUHUA_BASEMAP_ATTRIBUTION": ATTRIBUTION}) as base:
        with watched_page(browser, base) as page:
            page.context.route("https://tiles.quhua.test/**",
                               lambda route: route.fulfill(body=tile, content_type="image/png"))
            log_in(page, "jx")
            page.click("#inspect-link")
            page.click("#new-round")
            page.check("input[name=line][value='3643']")
            page.fill("input[name=team_a]", "江西勘界队")
            page.click("#create-round")
            page.wait_for_selector("#round-status")
            url = page.url
            assert page.inner_text("#round-status") == "计划中"
            assert page.inner_text("#planned-dates") == "未定"  # no dates given
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
            assert features == page.locator("#inspect-map path.leaflet-interactive").count()
            assert page.locator("#inspect-map path.inspect-shift").count() == 1  # stored → found, dashed
            # the map is settled when its markers are shown (an animated fitBounds would still be zooming, and
            # would undo a close-up asked for in that time)
            scale = page.inner_text("#inspect-map .leaflet-control-scale")
            page.wait_for_timeout(500)
            assert page.inner_text("#inspect-map .leaflet-control-scale") == scale
            # a row clicked as soon as the markers are shown brings its marker close up, above the others
            page.click("#findings-table tr[data-marker='3643003Q']")
            page.wait_for_selector("#inspect-map[data-focus='3643003Q']")
            assert _marker_on_top(page, "#inspect-map path.inspect-stored.condition-lost")["top"]
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
            page.context.route("https://tiles.quhua.test/**",
                               lambda route: route.fulfill(body=tile, content_type="image/png"))
            log_in(page, "jx")
            assert _position(page, "3643002Q") == pytest.approx(list(moved), abs=1e-7)
            page.goto(url)
            page.wait_for_selector("#inspect-map[data-features]")
            page.wait_for_function("""() => [...document.querySelectorAll('#inspect-map img.leaflet-tile')]
                                           .some(i => i.complete && i.naturalWidth === 256)""")
            shot(page, "inspect_confirmed")
            attribution = page.inner_text("#inspect-map .leaflet-control-attribution")
            assert "区划 quhua" in attribution and ATTRIBUTION in attribution and "Leaflet" not in attribution
            assert "m" in page.inner_text("#inspect-map .leaflet-control-scale")  # metric scale only
            legend = page.inner_text("#condition-legend")
            for label in ("完好", "丢失", "移位", "未检查", "本轮测得的新位置"):
                assert label in legend
            uninspected = page.locator("#inspect-map path.inspect-stored.condition-none")
            features = int(page.get_attribute("#inspect-map", "data-features"))
            assert uninspected.count() == features - 4 > 50  # 3643's markers but the 3 inspected and 1 found, drawn...
            assert _marker_on_top(page, "#inspect-map path.condition-none")["width"] < 8  # ...as small dots
            page.click("#findings-table tr[data-marker='3643003Q']")  # close up on the lost marker
            page.wait_for_selector("#inspect-map[data-focus='3643003Q']")
            lost = _marker_on_top(page, "#inspect-map path.inspect-stored.condition-lost")
            assert lost["top"] and lost["width"] >= 14 and "inspect-inspected" in lost["pane"], lost
            page.click("#findings-table tr[data-marker='3643002Q']")
            page.wait_for_selector("#inspect-map[data-focus='3643002Q']")
            shot(page, "inspect_confirmed_moved")
            # confirmed: the stored position is the new one, inside the hollow ring of the position found
            moved_now = _marker_on_top(page, "#inspect-map path.inspect-stored.condition-moved")
            assert moved_now["top"] and moved_now["width"] >= 14, moved_now
            assert _marker_on_top(page, "#inspect-map path.inspect-found.condition-moved")["width"] >= 16
            assert page.locator("#steps li.confirmed").count() == 2
            assert page.js_errors == []
