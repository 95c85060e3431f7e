"""The gazetteer's GeoPackage store: layers QGIS opens, one transaction per write, history chains."""

from __future__ import annotations

import pytest

from placenames.model import NameRecord
from placenames.romanize import romanize
from placenames.store import open_name_store


def _record(name, source_id, **more):
    return NameRecord(name=name, pinyin=romanize(name), klass="群众自治组织", lon=115.88, lat=28.68,
                      code="360102", source="test", source_id=source_id, **more)


def test_a_failed_write_leaves_the_database_as_it_was(tmp_path):
    store = open_name_store(str(tmp_path / "q.gpkg"))
    with store.write():
        store.upsert([_record("老街村", "v1")])
    with pytest.raises(RuntimeError), store.write():
        store.upsert([_record("新华村", "v2")])
        raise RuntimeError("the import failed half-way")
    assert list(store.all_names().name) == ["老街村"]
    assert store.candidates("新华村", ("name",), "exact", 10) == []


def test_rename_then_abolish_keeps_every_record_in_the_history(tmp_path):
    store = open_name_store(str(tmp_path / "q.gpkg"))
    with store.write():
        store.upsert([_record("老街村", "v1", valid_from="2001-01-01")])
    with store.write():
        store.upsert([_record("新华村", "v1", valid_from="2016-05-01")])
    with store.write():  # abolished: the same record, now historical
        store.upsert([_record("新华村", "v1", valid_from="2016-05-01", valid_to="2021-03-01",
                              status="historical")])
    names = store.all_names().sort_values("fid")
    assert list(names.name) == ["老街村", "新华村"] and list(names.status) == ["historical", "historical"]
    chain = store.history(int(names.fid.iloc[0]))
    assert [(r.name, r.valid_from, r.valid_to) for r in chain] == [
        ("老街村", "2001-01-01", "2016-05-01"), ("新华村", "2016-05-01", "2021-03-01")]
    assert chain[0].superseded_by == chain[1].id


def test_postgis_is_refused_with_a_message():
    from placenames.errors import PlacenamesError

    with pytest.raises(PlacenamesError, match="PostGIS"):
        open_name_store("postgresql://localhost/quhua")


def test_a_large_batch_fills_the_spatial_index_and_keeps_its_trigger(tmp_path, jiangxi_places):
    import pyogrio

    store = open_name_store(str(tmp_path / "q.gpkg"))
    from dataclasses import replace

    copies = 1 + 1200 // len(jiangxi_places)  # over the bulk threshold
    places = [replace(r, source_id=f"bulk{i}") for i, r in enumerate(jiangxi_places * copies)]
    with store.write():
        store.upsert(places)
    con = store.con
    assert con.execute("SELECT count(*) FROM rtree_names_geom").fetchone()[0] == len(places)
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'rtree_names_geom_insert'").fetchone()[0] == 1
    # GDAL's bbox filter reads the index: 南昌's surroundings hold only the places whose points lie there
    near = pyogrio.read_dataframe(store.path, layer="names", bbox=(115.7, 28.5, 116.1, 28.8))
    expected = sum(115.7 <= r.lon <= 116.1 and 28.5 <= r.lat <= 28.8 for r in places)
    assert len(near) == expected > 0
