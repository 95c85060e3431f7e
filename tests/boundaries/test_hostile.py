"""Hostile and broken input at load (issue 12): no file read that should not be, no record silently lost.

Every vector goes through the ``quhua`` command as an attacker or a careless surveyor would send it, on
both databases: exit 2, one ``dataset.unreadable`` issue naming the file and why, nothing of the target
in the output, nothing stored, and the attacker's HTTP server never asked.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zipfile

import geopandas as gpd
import pyogrio
import pytest

from boundaries.store import open_store
from tests.boundaries.hostile_files import LEAK_MARKERS, gdalg, recording_http_server, targets, vrt
from tests.conftest import run_cli, write_shapefiles


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    with recording_http_server(tmp_path_factory.mktemp("http")) as server:
        yield server


def _stored(db: str) -> int:
    with open_store(db) as store:
        return len(store.read_layer("submissions")) if store.exists() else 0


def _refused(capsys, db, path, *, command="ingest", lang="zh", file=None) -> dict:
    code, report = run_cli(capsys, "--lang", lang, "--db", db, command, "--province", "360000", "--json", path)
    text = json.dumps(report, ensure_ascii=False)
    assert code == 2, text
    assert not any(leak in text for leak in LEAK_MARKERS), text
    (issue,) = report["issues"]
    file = file or path.name
    assert issue["rule"] == "dataset.unreadable" and issue["file"] == file
    assert issue["message"].startswith(file)
    return issue


def _disguise(folder, name: str, content: bytes):
    """``content`` under ``name``; a .shp gets its .shx and .dbf (the same bytes) beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    if path.suffix == ".shp":
        for suffix in (".shx", ".dbf"):
            path.with_suffix(suffix).write_bytes(content)
    return path


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
@pytest.mark.parametrize("target", ["passwd", "database", "environ", "vsicurl"])
def test_a_vrt_disguised_as_an_accepted_type_is_refused_unread(capsys, tmp_path, db_url, http_server, target,
                                                                suffix):
    url, hits = http_server
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    path = _disguise(tmp_path / "up", f"x{suffix}", vrt(targets(db_url, url)[target], layer="submissions"
                                                        if target == "database" else None))
    before = len(hits())
    issue = _refused(capsys, db_url, path)
    assert f"文件名以 {suffix} 结尾，但内容不是" in issue["message"]
    en = _refused(capsys, db_url, path, command="check", lang="en")
    assert "the file is not a" in en["message"] and "GDAL VRT" in en["message"]
    assert len(hits()) == before  # GDAL never fetched the attacker's URL
    assert _stored(db_url) == 0


@pytest.mark.parametrize("target", ["passwd", "environ", "vsicurl"])
def test_a_gdalg_pipeline_named_geojson_is_not_run(capsys, tmp_path, http_server, target):
    url, hits = http_server
    path = _disguise(tmp_path, "x.geojson", gdalg(targets("", url)[target]))
    before = len(hits())
    issue = _refused(capsys, tmp_path / "q.gpkg", path, command="check", lang="en")
    assert "GDAL cannot read it" in issue["message"]
    assert len(hits()) == before


def test_a_geojson_crs_link_fetches_nothing(capsys, tmp_path, http_server):
    url, hits = http_server
    before = len(hits())
    doc = {"type": "FeatureCollection", "crs": {"properties": {"href": f"{url}/crs.prj"}, "type": "link"},
           "features": [{"type": "Feature", "properties": {"JZBH": "3643001Q"},
                         "geometry": {"type": "Point", "coordinates": [114.0, 28.0]}}]}
    path = tmp_path / "markers.geojson"
    path.write_text(json.dumps(doc))
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "check", "--province", "360000", "--json", path)
    assert len(hits()) == before
    assert code == 2 and report["issues"][0]["rule"] == "dataset.crs_unsupported"
    assert "坐标系" in report["issues"][0]["message"]


def test_a_real_geopackage_cannot_make_gdal_read_another_file(capsys, tmp_path, jx_lines):
    """A SQLite virtual table naming /etc/passwd (VirtualOGR), behind a view registered as a layer."""
    path = tmp_path / "evil.gpkg"
    jx_lines.to_file(path, layer="lines")
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA writable_schema=ON")
        con.execute("INSERT INTO sqlite_master(type, name, tbl_name, rootpage, sql) VALUES ('table', 'pw', 'pw', 0, "
                    "'CREATE VIRTUAL TABLE pw USING VirtualOGR(''/etc/passwd'')')")
        con.execute("CREATE VIEW pwv AS SELECT * FROM pw")
        con.execute("INSERT INTO gpkg_contents(table_name, data_type, identifier) VALUES ('pwv', 'features', 'pwv')")
        con.execute("INSERT INTO gpkg_geometry_columns VALUES ('pwv', 'geom', 'POINT', 4490, 0, 0)")
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "check", "--province", "360000", "--json", path)
    text = json.dumps(report, ensure_ascii=False)
    assert code == 2 and not any(leak in text for leak in LEAK_MARKERS)
    assert "evil.gpkg" in report["issues"][0]["message"]


def test_a_text_file_named_xlsx_is_refused(capsys, tmp_path):
    path = _disguise(tmp_path, "界桩成果表.xlsx", b"marker_id,lon,lat\n3643001Q,114,28\n")
    issue = _refused(capsys, tmp_path / "q.gpkg", path, command="check")
    assert "Excel" in issue["message"]


@pytest.mark.parametrize("name", ["/vsicurl/http://127.0.0.1:9/x.gpkg", "/vsizip//etc/x.zip/x.shp"])
def test_gdal_virtual_paths_are_refused(capsys, tmp_path, name):
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "check", "--province", "360000", "--json", name)
    assert code == 2 and report["issues"][0]["rule"] == "dataset.unreadable"


# -- lying and broken .dbf / .shx ------------------------------------------------------------------------------
@pytest.fixture
def markers_shp(tmp_path, jx_markers):
    (path,) = write_shapefiles(tmp_path / "jx", None, jx_markers)
    return path


def _set_dbf_count(shp, count: int) -> None:
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = count.to_bytes(4, "little")
    dbf.write_bytes(bytes(data))


@pytest.mark.parametrize("delta", [-100, +50], ids=["claims-fewer", "claims-more"])
def test_a_dbf_header_that_lies_about_its_records_is_refused(capsys, db_url, markers_shp, jx_markers, delta):
    n = len(jx_markers)
    _set_dbf_count(markers_shp, n + delta)
    issue = _refused(capsys, db_url, markers_shp, lang="en", file="江西省界桩.dbf")
    assert f"declares {n + delta} records but the file holds {n}" in issue["message"]
    zh = _refused(capsys, db_url, markers_shp, file="江西省界桩.dbf")
    assert f"文件头记载 {n + delta} 条记录，文件实际有 {n} 条" in zh["message"]
    assert _stored(db_url) == 0


def test_a_dbf_cut_in_half_is_refused(capsys, tmp_path, markers_shp, jx_markers):
    dbf = markers_shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes()[: dbf.stat().st_size // 2])
    issue = _refused(capsys, tmp_path / "q.gpkg", markers_shp, lang="en", file="江西省界桩.dbf")
    assert f"declares {len(jx_markers)} records" in issue["message"] and "cut off" in issue["message"]


def test_shx_and_dbf_that_disagree_are_refused_naming_both_counts(capsys, tmp_path, markers_shp, jx_markers):
    n = len(jx_markers)
    other = write_shapefiles(tmp_path / "other", None, jx_markers.iloc[:-7])[0]
    markers_shp.with_suffix(".dbf").write_bytes(other.with_suffix(".dbf").read_bytes())
    issue = _refused(capsys, tmp_path / "q.gpkg", markers_shp, lang="en", file="江西省界桩.dbf")
    assert f"hold {n} features but 江西省界桩.dbf holds {n - 7} attribute records" in issue["message"]


def test_a_dbf_claiming_billions_of_records_is_refused_at_once(capsys, tmp_path, markers_shp):
    """Deleting one header byte made a 40 KB .dbf claim 3,774,873,600 records: 300 CPU-seconds before."""
    dbf = markers_shp.with_suffix(".dbf")
    data = dbf.read_bytes()
    dbf.write_bytes(data[:4] + data[5:])  # one byte of the header deleted
    start = time.process_time()
    _refused(capsys, tmp_path / "q.gpkg", markers_shp, lang="en", file="江西省界桩.dbf")
    assert time.process_time() - start < 2


# -- nothing to store ------------------------------------------------------------------------------------------
def test_a_geopackage_of_only_an_attribute_table_is_refused_naming_it(capsys, tmp_path, db_url, jx_markers):
    path = tmp_path / "江西省.gpkg"

    pyogrio.write_dataframe(gpd.pd.DataFrame(jx_markers.drop(columns="geometry")), path, layer="界桩属性",
                            driver="GPKG")
    issue = _refused(capsys, db_url, path, lang="en")
    assert "holds no boundary line and no marker (layers found: 江西省.gpkg:界桩属性 (table))" in issue["message"]
    zh = _refused(capsys, db_url, path)
    assert "该报送既没有界线也没有界桩（找到的图层：江西省.gpkg:界桩属性 (table)）" in zh["message"]
    assert _stored(db_url) == 0



def test_an_xlsx_that_unpacks_to_a_zip_bomb_is_refused_before_reading(capsys, tmp_path, jx_markers):
    path = tmp_path / "界桩成果表.xlsx"
    table = gpd.pd.DataFrame({"界桩编号": jx_markers["marker_id"], "经度": jx_markers.geometry.x,
                              "纬度": jx_markers.geometry.y})
    table.to_excel(path, index=False)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/media/padding.bin", b"\0" * (64 << 20))
    issue = _refused(capsys, tmp_path / "q.gpkg", path, command="check", lang="en")
    assert "zip bomb" in issue["message"]


def test_a_vrt_disguised_inside_a_zip_is_refused(capsys, tmp_path):
    archive = tmp_path / "江西.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("江西省界桩.gpkg", vrt("CSV:/etc/passwd"))
    issue = _refused(capsys, tmp_path / "q.gpkg", archive, command="check", lang="en", file="江西省界桩.gpkg")
    assert "is not a GeoPackage" in issue["message"]


@pytest.mark.parametrize("command", ["names", "divisions"])
def test_the_gazetteer_import_refuses_a_disguised_vrt(capsys, tmp_path, http_server, command):
    url, hits = http_server
    before = len(hits())
    path = _disguise(tmp_path, "names.geojson", vrt(f"/vsicurl/{url}/markers.csv"))
    code, _ = run_cli(capsys, "--db", tmp_path / "q.gpkg", command, "import", path)
    assert code == 2 and len(hits()) == before
