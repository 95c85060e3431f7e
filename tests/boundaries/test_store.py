"""The GeoPackage store: a file GDAL/QGIS opens, submissions kept with history, every ingest one transaction."""

from __future__ import annotations

import json
import sqlite3

import pyogrio
import pytest

from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from boundaries.store._sql import SqlStore
from tests.conftest import write_shapefiles


@pytest.fixture
def db(tmp_path):
    """A GeoPackage for the tests that open it with GDAL."""
    path = tmp_path / "quhua.gpkg"
    open_store(str(path)).init()
    return path


@pytest.fixture
def store(db_url):
    """An initialised store of each backend."""
    with open_store(db_url) as store:
        store.init()
        store.init()  # idempotent
        yield store


def test_init_makes_a_geopackage_gdal_opens(db):
    open_store(str(db)).init()  # idempotent
    layers = {name: kind for name, kind in pyogrio.list_layers(db)}
    assert layers == {"lines": "MultiLineString", "markers": "Point", "issues": "Point", "submissions": None,
                      "qa_config": None, "audit": None}
    for layer in ("lines", "markers", "issues"):
        info = pyogrio.read_info(db, layer=layer)
        assert info["crs"] == "EPSG:4490"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'"
                       ).fetchone()[0] == 3


def test_bbox_reads_use_the_spatial_index(store, jx_submission, jx_markers):
    ingest_paths(jx_submission, "360000", db=store.url, progress=False)
    box = (113.5, 25.0, 114.5, 26.5)
    inside = jx_markers.cx[box[0]:box[2], box[1]:box[3]]
    assert 0 < len(inside) < len(jx_markers)
    got = store.read_layer("markers", bbox=box)
    assert sorted(got.marker_id) == sorted(inside.marker_id)
    lines = store.read_layer("lines", bbox=(116.0, 29.5, 116.2, 29.9))  # near the 江西–湖北 line only
    assert list(lines.line_id) == ["3642"] and lines.geometry.iloc[0].geom_type == "MultiLineString"


def test_ingest_is_readable_by_gdal_with_spatial_index(db, jx_submission, jx_lines, jx_markers):
    result = ingest_paths(jx_submission, "360000", db=str(db), user="张三", progress=False)
    assert result.exit_code == 0 and result.submission_id == 1
    markers = pyogrio.read_dataframe(db, layer="markers")
    assert len(markers) == len(jx_markers) and markers.crs.to_epsg() == 4490
    assert list(markers["marker_id"][:2]) == ["3643001Q", "3643002Q"]
    # GDAL's bbox filter goes through the rtree our triggers filled: only the markers in the box
    box = (113.5, 25.0, 114.5, 26.5)
    inside = jx_markers.cx[box[0]:box[2], box[1]:box[3]]
    assert 0 < len(inside) < len(jx_markers)
    assert len(pyogrio.read_dataframe(db, layer="markers", bbox=box)) == len(inside)
    assert len(open_store(str(db)).read_layer("markers", bbox=box)) == len(inside)


def test_submission_record_keeps_who_when_files_counts_and_report(store, jx_submission, jx_markers):
    ingest_paths(jx_submission, "360000", db=store.url, user="张三", progress=False)
    (record,) = store.read_layer("submissions").to_dict("records")
    assert record["province"] == "360000" and record["user"] == "张三" and record["accepted"] == 1
    assert (record["lines"], record["markers"]) == (2, len(jx_markers))
    files = {f["name"]: f for f in json.loads(record["files"])}
    assert {"江西省界线.shp", "江西省界线.dbf", "江西省界线.shx", "江西省界线.prj"} <= set(files)
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in files.values())
    report = json.loads(record["report"])
    assert report["accepted"] is True and report["encoding"] == "gb18030" and report["crs"] == "EPSG:4547"
    assert record["created_at"].endswith("Z")


def test_newer_submission_supersedes_and_history_stays(store, tmp_path, jx_lines, jx_markers):
    first = write_shapefiles(tmp_path / "v1", jx_lines, jx_markers)
    ingest_paths(first, "360000", db=store.url, progress=False)
    # the 2026 joint inspection resurveys only 江西–湖南 (3643) and its markers
    second = write_shapefiles(tmp_path / "v2", jx_lines.iloc[:1], jx_markers[jx_markers.line_id == "3643"])
    ingest_paths(second, "360000", db=store.url, progress=False)
    current = store.read_layer("lines")
    assert sorted(zip(current.line_id, current.submission_id, strict=True)) == [("3642", 1), ("3643", 2)]
    history = store.read_layer("lines", history=True)
    old = history[(history.line_id == "3643") & (history.submission_id == 1)].iloc[0]
    assert old.status == "superseded" and old.superseded_by == 2 and old.valid_to is not None
    markers = store.read_layer("markers")
    assert len(markers) == len(jx_markers)  # the 3642 markers of submission 1 remain current
    assert set(markers[markers.line_id == "3643"].submission_id) == {2}
    assert len(store.read_layer("submissions")) == 2


def test_province_filter_keeps_lines_with_a_side_in_it(store, jx_submission):
    ingest_paths(jx_submission, "360000", db=store.url, progress=False)
    assert list(store.read_layer("lines", province="430000").line_id) == ["3643"]  # 湖南 sees its side
    assert len(store.read_layer("lines", province="440000")) == 0


def test_data_with_errors_stores_nothing(store, tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="left_code"), None)
    result = ingest_paths(paths, "360000", db=store.url, progress=False)
    assert result.exit_code == 1 and result.submission_id is None
    assert len(store.read_layer("lines")) == 0 and len(store.read_layer("submissions")) == 0


def test_a_crash_mid_ingest_leaves_the_database_as_it_was(store, jx_submission, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(SqlStore, "_insert_issues", crash)  # fails after lines and markers were written
    with pytest.raises(OSError):
        ingest_paths(jx_submission, "360000", db=store.url, progress=False)
    assert len(store.read_layer("lines", history=True)) == 0 and len(store.read_layer("markers")) == 0
    assert len(store.read_layer("submissions")) == 0
    assert len(store.read_layer("lines", bbox=(113, 25, 117, 30))) == 0


def test_reading_a_missing_database_gives_empty_layers(tmp_path):
    store = open_store(str(tmp_path / "none.gpkg"))
    assert not store.exists() and len(store.read_layer("lines")) == 0
    assert not (tmp_path / "none.gpkg").exists()
