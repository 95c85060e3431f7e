"""Every figure the viewer prints agrees with the map, the downloads and the database (issue 13): over HTTP
on the national demo, both backends, against counts computed by tests/webmap/national.py's own SQL."""

from __future__ import annotations

import json
import re

import pytest
from pyproj import Geod

from tests.webmap.conftest import login
from tests.webmap.national import expected_figures, features, loaded_provinces, national_db  # noqa: F401
from webmap import create_app

INNER_MONGOLIA = "150000"


@pytest.fixture(scope="module")
def client(national_db, tmp_path_factory):  # noqa: F811
    app = create_app({"QUHUA_DB": national_db, "TESTING": True, "SECRET_KEY": "test-secret",
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def _header(html: str) -> dict[str, int]:
    tag = re.search(r'<p class="facts" id="figures"([^>]*)>', html).group(1)
    return {k: int(v) for k, v in re.findall(r'data-(\w+)="(\d+)"', tag)}


def _own(html: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"（本省提交 ([\d,]+)）", html)]


@pytest.mark.parametrize("code", [INNER_MONGOLIA, "360000", "460000"], ids=["inner-mongolia", "jiangxi", "hainan"])
def test_province_header_counts_what_its_map_and_downloads_hold(client, national_db, code):  # noqa: F811
    """The header's 界线/界桩/错误/警告, the map's API layers (numberMatched), the GeoJSON downloads and the
    database agree; "本省提交" is the overview's figure."""
    html = client.get(f"/province/{code}").get_data(as_text=True)
    header, expected = _header(html), expected_figures(national_db, code)
    assert header == {k: expected[k] for k in ("lines", "markers", "errors", "warnings")}
    assert _own(html) == [expected["own_lines"], expected["own_markers"]]
    for layer in ("lines", "markers", "issues"):
        download = features(client.get(f"/download/{code}/{layer}.geojson").data)
        items = client.get(f"/ogc/collections/{layer}/items?province={code}&limit=10000").get_json()
        count = header[layer] if layer != "issues" else header["errors"] + header["warnings"]
        assert len(download) == items["numberMatched"] == count, layer
    overview = {r["code"]: r for r in client.get("/overview.json").get_json()["provinces"]}
    assert (overview[code]["lines"], overview[code]["markers"]) == (expected["own_lines"], expected["own_markers"])
    # the map's layer control names carry the same counts as the header
    assert json.dumps(f"界线 ({header['lines']:,})") in html and json.dumps(f"界桩 ({header['markers']:,})") in html


def test_inner_mongolia_header_counts_the_neighbours_lines_too(client, national_db):  # noqa: F811
    """The case of the issue: 内蒙古 submitted 2 of the 8 lines with a side in it; the header says 8 (and
    the km of those 8, geodesic, as measured here from the download), and says which 2 are its own."""
    html = client.get(f"/province/{INNER_MONGOLIA}").get_data(as_text=True)
    header, expected = _header(html), expected_figures(national_db, INNER_MONGOLIA)
    assert header["lines"] > expected["own_lines"] > 0 and header["markers"] > expected["own_markers"] > 0
    assert "任一侧在本省，含邻省提交的版本" in html
    geod = Geod(ellps="GRS80")
    km = sum(geod.geometry_length(__import__("shapely").geometry.shape(f["geometry"])) for f in
             features(client.get(f"/download/{INNER_MONGOLIA}/lines.geojson").data)) / 1000
    shown = float(re.search(r"· ([\d,]+\.\d) km", html).group(1).replace(",", ""))
    assert abs(shown - km) < 0.1


def test_overview_counts_the_31_everywhere(client, national_db):  # noqa: F811
    """Header "N / 31", the legend's entries and /overview.json all count the 31 mainland divisions; Taiwan,
    Hong Kong and Macao are named as not counted (the table's 34 rows say so)."""
    loaded = loaded_provinces(national_db) - {"71", "81", "82"}
    html = client.get("/").get_data(as_text=True)
    assert f"{len(loaded)} / 31 个省级行政区已入库" in html and "不含台湾、香港、澳门" in html
    data = client.get("/overview.json").get_json()
    assert (data["loaded"], data["total"]) == (len(loaded), 31)
    assert sum(data["by_status"].values()) == 31 and data["by_status"]["not_loaded"] == 31 - len(loaded)
    assert data["not_counted"] == ["710000", "810000", "820000"] and len(data["provinces"]) == 34
    legend = re.search(r"quhua\.legend\([^,]+, (\[\[.*?\]\])", html).group(1)
    entries = [label for _colour, label in json.loads(legend)]
    assert f"未入库 ({31 - len(loaded)})" in entries
    assert sum(int(re.search(r"\((\d+)\)$", e).group(1)) for e in entries if re.search(r"\(\d+\)$", e)) == 31
    assert "台湾、香港、澳门（不参与入库统计）" in entries
    assert html.count("不参与入库统计</td>") == 3


def test_overview_in_english_says_what_is_counted(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "of 31 provinces loaded" in html and "Taiwan, Hong Kong and Macao are drawn on the map" in html
    client.get("/?lang=zh")
