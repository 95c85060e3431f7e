"""Importing names: CSV, GeoJSON, GeoNames dumps; re-import updates; renames keep history; bad rows block."""

from __future__ import annotations

import json

import pytest

from placenames.errors import ImportRowsError
from placenames.importers import import_names
from placenames.lookup import search
from placenames.store import open_name_store

HEADER = "id,name,class,lon,lat,code,aliases,pinyin,valid_from,valid_to,source\n"


def _write(path, text, encoding="utf-8"):
    path.write_text(HEADER + text, encoding=encoding)
    return path


def test_csv_import_assigns_the_county_from_the_polygons(gazetteer, tmp_path):
    # 滕王阁 stands in 东湖区 of 南昌 (360102); the file gives no code
    path = _write(tmp_path / "n.csv", "t1,滕王阁,纪念地旅游景点,115.8838,28.6811,,,,,,省地名办\n", encoding="gbk")
    assert import_names(gazetteer, path)[:2] == (1, 0)
    (hit,) = [r for r in search(gazetteer, "滕王阁") if r["name"] == "滕王阁"]
    assert hit["code"] == "360102" and hit["pinyin"] == "Tengwangge" and hit["source"] == "省地名办"


def test_reimport_updates_instead_of_duplicating(gazetteer, tmp_path):
    path = _write(tmp_path / "n.csv", "t1,滕王阁,纪念地旅游景点,115.8838,28.6811,,,,,,\n")
    import_names(gazetteer, path)
    _write(path, "t1,滕王阁,纪念地旅游景点,115.8838,28.6811,,滕阁;Tengwang Pavilion,,,,\n")
    assert import_names(gazetteer, path)[:2] == (0, 1)
    hits = [r for r in search(gazetteer, "滕阁") if r["name"] == "滕王阁"]
    assert len(hits) == 1 and hits[0]["aliases"] == ["滕阁", "Tengwang Pavilion"]


def test_rename_keeps_the_old_name_as_history(gazetteer, tmp_path):
    path = _write(tmp_path / "n.csv", "v1,老街村,群众自治组织,115.88,28.68,360102,,,2001-01-01,,\n")
    import_names(gazetteer, path)
    _write(path, "v1,新华村,群众自治组织,115.88,28.68,360102,,,2016-05-01,,\n")
    import_names(gazetteer, path)
    current = search(gazetteer, "新华村")[0]
    assert current["status"] == "current"
    assert search(gazetteer, "老街村") == []
    old = search(gazetteer, "老街村", at="2015-01-01")[0]
    assert old["status"] == "historical" and old["valid_to"] == "2016-05-01" and old["superseded_by"] == current["id"]
    assert [r.name for r in gazetteer.history(current["id"])] == ["老街村", "新华村"]


def test_bad_rows_are_reported_by_line_and_nothing_is_stored(gazetteer, tmp_path):
    path = _write(tmp_path / "n.csv", "a,好地方,居民点,115.9,28.7,,,,,,\n"
                                      "b,坏类别,城市,115.9,28.7,,,,,,\n"
                                      "c,坏坐标,居民点,28.7,115.9,,,,,,\n"
                                      "d,坏代码,居民点,115.9,28.7,12345,,,,,\n")
    with pytest.raises(ImportRowsError) as err:
        import_names(gazetteer, path)
    assert [line for line, _ in err.value.problems] == [3, 4, 5]
    assert "census classes" in err.value.problems[0][1] and err.value.exit_code == 1
    assert search(gazetteer, "好地方") == []


def test_geojson_import(gazetteer, tmp_path):
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.0, 29.5]},
               "properties": {"name": "庐山", "class": "陆地地形", "aliases": "匡庐", "id": "g1"}}
    path = tmp_path / "n.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False))
    import_names(gazetteer, path)
    hit = search(gazetteer, "匡庐")[0]
    assert (hit["name"], hit["pinyin"], hit["code"]) == ("庐山", "Lu Shan", "360483")  # 庐山市


def test_geonames_dump(gazetteer, tmp_path):
    # two real lines of GeoNames' CN.txt (19 tab-separated columns)
    rows = [["1806091", "Jingdezhen", "Jingdezhen", "Ching-te-chen,Jingdezhen,景德镇,景德镇市", "29.29470",
             "117.20789", "P", "PPLA2", "CN", "", "03", "", "", "", "1162979", "", "46", "Asia/Shanghai",
             "2023-01-01"],
            ["1234567", "Nowhere", "Nowhere", "Nowhere Town", "29.0", "116.0", "P", "PPL", "CN", "", "03",
             "", "", "", "0", "", "40", "Asia/Shanghai", "2023-01-01"]]
    path = tmp_path / "CN.txt"
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    assert import_names(gazetteer, path, "geonames")[:2] == (1, 0)  # the place with no Han form is left out
    hit = [r for r in search(gazetteer, "Ching-te-chen") if r["source"] == "geonames" and r["source_id"] == "1806091"]
    assert hit and hit[0]["name"] in ("景德镇", "景德镇市") and hit[0]["code"].startswith("3602")


@pytest.mark.parametrize("db_url", ["gpkg"], indirect=True)
def test_store_is_a_geopackage_layer(gazetteer):
    import pyogrio

    layers = dict(pyogrio.list_layers(gazetteer.path))
    assert layers["names"] == "Point" and layers["divisions"] == "MultiPolygon"
    assert pyogrio.read_info(gazetteer.path, layer="names")["crs"] == "EPSG:4490"
    assert open_name_store(str(gazetteer.path)).divisions("city").shape[0] == 11


def test_a_city_listed_at_two_levels_is_one_division():
    import geopandas as gpd
    import shapely

    from placenames.importers import division_frame

    square = shapely.box(113.5, 22.8, 114.2, 23.1)
    frame = gpd.GeoDataFrame({"adcode": ["441900", "441900"], "name": ["东莞市", "东莞市"]},
                             geometry=[square, square], crs=4490)
    divisions = division_frame(frame)
    assert divisions.code.tolist() == ["441900"] and divisions.level.tolist() == ["city"]
