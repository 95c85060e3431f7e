"""Map building as plain functions, without a request: layers, controls, assets served locally."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest

from boundaries.store import open_store
from webmap.maps import (
    Basemap,
    build_diff_map,
    build_issue_map,
    build_names_map,
    build_overview_map,
    build_province_map,
    map_parts,
)
from webmap.status import line_diff, province_summaries


@pytest.fixture(scope="module")
def store(web_db):
    with open_store(web_db) as s:
        yield s


def _html(m) -> str:
    parts = map_parts(m)
    return parts["header"] + parts["html"] + parts["script"]


def _no_cdn(html: str) -> None:
    for host in ("cdn.jsdelivr", "cdnjs", "code.jquery", "netdna", "unpkg"):
        assert host not in html, host


def test_overview_map_from_the_lines(store):
    html = _html(build_overview_map(province_summaries(store), store.read_layer("lines"), static_url="/s"))
    assert html.count("province-dot") >= 34 and "status-loaded_issues" in html and "status-not_loaded" in html
    assert "/s/vendor/leaflet/leaflet.js" in html and "quhua.legend" in html
    assert "tileLayer" not in html  # offline default: no basemap, the data still drawn
    _no_cdn(html)


def test_overview_map_with_division_polygons(store, jx_lines):
    from tests.conftest import province_polygon

    divisions = gpd.GeoDataFrame({"code": ["360000", "430000"]},
                                 geometry=[province_polygon("360000"), province_polygon("430000")], crs=4490)
    html = _html(build_overview_map(province_summaries(store), store.read_layer("lines"), divisions))
    assert '"status": "loaded_issues"' in html and '"status": "loaded"' in html


def test_province_map_loads_from_the_api_with_all_controls():
    html = _html(build_province_map("360000", [113.5, 24.5, 118.5, 30.1], "/ogc", static_url="/s",
                                    labels={"lines": "界线", "markers": "界桩", "issues": "质检问题"}))
    for expected in ("quhua.apiLayer", "/ogc/collections/lines/items?province=360000",
                     "/ogc/collections/markers/items?province=360000", "/ogc/collections/issues/items",
                     "history=true", "L.control.layers", "L.control.scale", "L.Control.Measure",
                     "L.control.fullscreen", "/s/vendor/markercluster/leaflet.markercluster.js",
                     json.dumps("界桩")):
        assert expected in html, expected
    assert "coordinates" not in html  # no geometry embedded
    _no_cdn(html)


def test_configured_basemap_is_the_base_layer():
    basemap = Basemap("https://t0.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}", "天地图")
    html = _html(build_province_map("360000", None, "/ogc", basemap=basemap))
    assert "L.tileLayer" in html and "tianditu" in html and json.dumps("天地图") in html


def test_issue_map_embeds_the_report(jx_lines):
    issues = [{"rule": "marker.off_line", "severity": "error", "layer": "markers", "feature": "3642003Q",
               "lon": 114.07, "lat": 29.22, "message": "…"}, {"rule": "dataset.schema", "lon": None, "lat": None}]
    html = _html(build_issue_map(issues, jx_lines))
    assert "quhua.issueLayer" in html and "3642003Q" in html and "dataset.schema" not in html


def test_diff_map_draws_both_versions(store):
    diff = line_diff(store, "360000", "3643", 1, 2)
    html = _html(build_diff_map(diff, labels={"submission": "提交"}))
    assert json.dumps("提交 1")[1:-1] in html and json.dumps("提交 2")[1:-1] in html
    assert "#d73027" in html and "#4575b4" in html


def test_names_map_draws_a_point():
    html = _html(build_names_map(points=[{"name": "南昌", "lon": 115.86, "lat": 28.68}]))
    assert ("南昌" in html or json.dumps("南昌")[1:-1] in html) and "window.quhuaMap" in html
