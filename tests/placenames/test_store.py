"""The gazetteer's stores (GeoPackage and PostGIS): one transaction per write, history chains; the layers QGIS
opens in a GeoPackage, the typed and indexed tables and the schema version on PostGIS."""

from __future__ import annotations

import pytest

from placenames.lookup import search
from placenames.model import NameRecord
from placenames.romanize import romanize
from placenames.store import SearchFilter, open_name_store


def _record(name, source_id, **more):
    return NameRecord(name=name, pinyin=romanize(name), klass="群众自治组织", lon=115.88, lat=28.68,
                      code="360102", source="test", source_id=source_id, **more)


@pytest.fixture
def store(db_url):
    with open_name_store(db_url) as store:
        yield store


def test_a_failed_write_leaves_the_database_as_it_was(store):
    with store.write():
        store.upsert([_record("老街村", "v1")])
    with pytest.raises(RuntimeError), store.write():
        store.upsert([_record("新华村", "v2")])
        raise RuntimeError("the import failed half-way")
    assert list(store.all_names().name) == ["老街村"]
    assert store.candidates("新华村", ("name",), "exact", 10) == []


def test_rename_then_abolish_keeps_every_record_in_the_history(store):
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


def test_key_rows_follow_a_rename_into_history(store):
    from placenames.store import SearchFilter

    with store.write():
        store.upsert([_record("老街村", "v1", valid_from="2001-01-01")])
    with store.write():
        store.upsert([_record("新华村", "v1", valid_from="2016-05-01")])
    assert store.candidates("老街村", ("name",), "exact", 10) == []
    (old,) = store.candidates("老街村", ("name",), "exact", 10, SearchFilter(at="2010-01-01"))
    assert store.gram_candidates("老街", 10, SearchFilter(at="2010-01-01", within="360100")) == [old[0]]
    assert store.gram_candidates("老街", 10, SearchFilter(at="2020-01-01")) == []


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_postgis_tables_are_typed_indexed_and_versioned(db_url):
    from placenames.postgis import SCHEMA_VERSION

    with open_name_store(db_url) as store:
        with store.write():
            store.upsert([_record("老街村", "v1")])
        con = store.con
        types = dict(con.execute("SELECT f_table_name, type || ',' || srid FROM geometry_columns "
                                 "WHERE f_table_name IN ('names', 'divisions')").fetchall())
        assert types == {"names": "POINT,4490", "divisions": "MULTIPOLYGON,4490"}
        gist = {row[0] for row in con.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")}
        assert {"names", "divisions"} <= gist
        version = con.execute("SELECT value FROM quhua_meta WHERE key = 'gazetteer_schema_version'").fetchone()
        assert int(version[0]) == SCHEMA_VERSION == store.schema_version()
        store.init()  # idempotent
        assert [r.name for r in store.get([1])] == ["老街村"]
        plan = "\n".join(row[0] for row in con.execute(
            "EXPLAIN SELECT fid FROM names WHERE geom && ST_MakeEnvelope(115, 28, 116, 29, 4490)"))
        assert "names_geom_gist" in plan or "Seq Scan" in plan  # a tiny table may be scanned


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


def test_key_tables_of_an_older_layout_are_rebuilt(tmp_path):
    from placenames.lookup import search

    path = str(tmp_path / "old.gpkg")
    with open_name_store(path) as store:
        with store.write():
            store.upsert([_record("老街村", "v1")])
        con = store.con
        for table, key in (("name_keys", "key TEXT, kind TEXT"), ("name_grams", "gram TEXT")):  # before filters
            con.execute(f"DROP TABLE {table}")
            con.execute(f"CREATE TABLE {table} ({key}, name_id INTEGER)")
        con.execute("DROP TABLE quhua_meta")  # files of then had no schema version
    with open_name_store(path) as store:
        assert [r["name"] for r in search(store, "老街", within="360100")] == ["老街村"]


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_postgis_gazetteer_schema_is_upgraded_step_by_step(db_url):
    from placenames.postgis import MIGRATIONS, SCHEMA_VERSION

    with open_name_store(db_url) as store:
        store._store.init()  # the boundaries' schema, then the gazetteer's first version only
        for statement in MIGRATIONS[1].postgresql:
            store.con.execute(statement)
        store.con.execute("INSERT INTO quhua_meta VALUES ('gazetteer_schema_version', '1')")
        with store.write():  # an import upgrades what it finds
            store.upsert([_record("老街村", "v1")])
        assert store.schema_version() == SCHEMA_VERSION > 1
        indexes = {row[0] for row in store.con.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'names'")}
        assert "names_source_id" in indexes and "names_source" not in indexes


def test_a_large_first_import_rebuilds_the_cell_indexes_and_a_failed_one_keeps_them(tmp_path, monkeypatch):
    """A GeoPackage import of more key rows than the tables hold drops the (cell, name_id) indexes and builds
    them again after the rows are in; if the import fails, the transaction puts them back."""
    import placenames.store as store_module

    monkeypatch.setattr(store_module, "_REBUILD_AT", 10)  # a few hundred rows instead of fifty thousand
    path = tmp_path / "q.gpkg"

    def cell_indexes(store) -> set:
        return {row[0] for row in store.con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'name_%_cell'")}

    with open_name_store(str(path)) as store:
        with store.write():
            store.upsert([_record(f"{a}{b}村", f"v{a}{b}") for a in "东西南北中" for b in "山水田林湖"])
        assert cell_indexes(store) == {"name_keys_cell", "name_grams_cell"}
        found = search(store, "村", near=(115.88, 28.68), limit=50)
        assert len(found) == 25
        with pytest.raises(RuntimeError), store.write():
            store.upsert([_record(f"新{a}{b}庄", f"n{a}{b}") for a in "东西南北中" for b in "山水田林湖"])
            raise RuntimeError("the import failed half-way")
        assert cell_indexes(store) == {"name_keys_cell", "name_grams_cell"}
        assert len(store.all_names()) == 25


def _postgis_indexes(store) -> dict[str, tuple[int, str]]:
    """The indexes of the gazetteer's rebuilt tables on PostGIS: name → (oid, definition)."""
    return {name: (oid, definition) for name, oid, definition in store.con.execute(
        "SELECT i.indexrelid::regclass::text, i.indexrelid::bigint, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid IN ('names'::regclass, 'name_keys'::regclass, 'name_grams'::regclass)")}


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_a_large_first_import_on_postgis_rebuilds_the_indexes_and_a_failed_one_keeps_them(db_url, monkeypatch):
    """On PostGIS an import of more rows than a table holds drops its indexes (primary key included) and builds
    them again after the COPY, the same indexes; a failed one leaves them and the old rows as they were."""
    import placenames.postgis as postgis

    monkeypatch.setattr(postgis, "_REBUILD_AT", 10)  # a few hundred rows instead of fifty thousand
    places = [_record(f"{a}{b}村", f"v{a}{b}") for a in "东西南北中" for b in "山水田林湖"]
    for i, record in enumerate(places):
        record.lon, record.lat = 115.5 + i / 50, 28.5 + i / 100
    with open_name_store(db_url) as store:
        store.init()
        schema = _postgis_indexes(store)
        with store.write():
            store.upsert(places)
        rebuilt = _postgis_indexes(store)
        assert {n: d for n, (_, d) in rebuilt.items()} == {n: d for n, (_, d) in schema.items()}
        assert all(rebuilt[n][0] != oid for n, (oid, _) in schema.items())  # built again, not kept
        primary = {row[0] for row in store.con.execute("SELECT conname FROM pg_constraint WHERE contype = 'p'")}
        assert {"names_pkey", "name_keys_pkey", "name_grams_pkey"} <= primary
        # fids of one range of the sequence; the points as the records have them (lon/lat, SRID 4490)
        stored = store.con.execute("SELECT fid, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM names ORDER BY fid"
                                   ).fetchall()
        assert stored == [(i + 1, r.lon, r.lat, 4490) for i, r in enumerate(places)]
        found = search(store, "村", near=(115.88, 28.68), limit=50)
        assert len(found) == 25
        with pytest.raises(RuntimeError), store.write():
            store.upsert([_record(f"新{a}{b}庄", f"n{a}{b}") for a in "东西南北中" for b in "山水田林湖甲乙"])
            raise RuntimeError("the import failed half-way")
        assert _postgis_indexes(store) == rebuilt
        assert len(store.all_names()) == 25 and len(search(store, "村", limit=50)) == 25
        with store.write():  # a later, smaller import goes in through the indexes
            store.upsert([_record(f"新{a}{b}庄", f"n{a}{b}") for a in "东西" for b in "山水"])
        assert _postgis_indexes(store) == rebuilt
        fids = sorted(store.all_names().fid)[25:]  # after the 35 the failed import took from the sequence
        assert fids == list(range(61, 65))


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_a_large_postgis_import_does_not_wait_for_a_reader_holding_the_tables(db_url, monkeypatch):
    """A reader's snapshot holding a key table (the viewer reads name_keys, then names): the import cannot
    take the tables for a rebuild, so after a short try it inserts through the indexes — neither waits on
    the other, no deadlock — and the reader reads on."""
    import psycopg

    import placenames.postgis as postgis

    monkeypatch.setattr(postgis, "_REBUILD_AT", 10)
    monkeypatch.setattr(postgis, "_LOCK_WAIT", 0.3)
    with open_name_store(db_url) as store:
        store.init()
        schema = _postgis_indexes(store)
        with psycopg.connect(db_url) as reader:
            reader.execute("SET lock_timeout = '20s'")
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            assert reader.execute("SELECT count(*) FROM name_keys").fetchone()[0] == 0
            with store.write():
                store.upsert([_record(f"{a}{b}村", f"v{a}{b}") for a in "东西南北中" for b in "山水田林湖"])
            assert reader.execute("SELECT count(*) FROM names").fetchone()[0] == 0  # its snapshot
            reader.rollback()
        assert _postgis_indexes(store) == schema  # kept, not rebuilt
        assert len(search(store, "村", limit=50)) == 25


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
@pytest.mark.parametrize(("prefix", "kinds", "entered"), [
    ("huang", ("pinyin",), "ROW(cell, key) >= ROW(g.one_cell"),  # read from the cell's first key
    ("黄", ("name",), "key >= '黄'::text"),  # entered at (cell, 黄), read to the cell's last key
])
def test_a_postgis_prefix_near_look_up_reads_each_cell_through_the_cell_index(db_url, monkeypatch, prefix, kinds,
                                                                              entered):
    """A prefix (a pinyin syllable, a Chinese character) ranked from a point reads, cell by cell, the (cell,
    key) range of the cell index, one of its bounds a row comparison only that index serves — never the
    prefix's whole key range through the primary key, which the planner chose at 1M names once the
    visibility map lagged behind (1–12 s a search), nor the whole cell (both bounds row comparisons: 23 index
    pages a cell at 15 M names); the nearest matches come first. The keys' statistics are fine enough to size a
    prefix (migration 8)."""
    import placenames.postgis as postgis

    places = [_record(f"{a}{b}村", f"v{a}{b}") for a in "黄王张李" for b in "山水田林湖"]
    for i, record in enumerate(places):
        record.lon, record.lat = 110 + i % 5, 25 + i // 5
    statements = []
    rows = postgis.PostgisNameStore._rows

    def recorded(self, sql, params=()):
        statements.append((sql, params))
        return rows(self, sql, params)

    with open_name_store(db_url) as store:
        with store.write():
            store.upsert(places)
        monkeypatch.setattr(postgis.PostgisNameStore, "_rows", recorded)
        found = store.candidates(prefix, kinds, "prefix", 2, SearchFilter(near=(110.0, 25.0), near_count=2))
        monkeypatch.undo()
        assert {store.get([row[0]])[0].name for row in found} >= {"黄山村", "黄水村"}  # the two nearest 黄
        sql, params = next((s, p) for s, p in statements if "one_cell" in s)
        store.con.execute("SET enable_seqscan = off")  # as at scale: the tiny tables would be read whole
        plan = "\n".join(row[0] for row in store.con.execute("EXPLAIN " + sql.replace("?", "%s"), params))
        store.con.execute("RESET enable_seqscan")
        lines = plan.splitlines()
        condition = lines[next(i for i, line in enumerate(lines) if "name_keys_cell" in line) + 1]
        assert "(cell = g.one_cell)" in condition and entered in condition and condition.count("ROW(cell, key)") == 1
        targets = dict(store.con.execute("SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = "
                                         "'name_keys'::regclass AND attname IN ('key', 'code')").fetchall())
        assert targets == {"key": 500, "code": 500}


def test_a_gazetteer_without_populations_is_upgraded_before_it_is_read(db_url):
    """A database of the version before populations (no ``names.population``, schema version 4) is searched,
    shown and re-imported: the column is added first (migration 5, on reading), and the names are ranked
    again (that version ranked a district as a county: 6)."""
    district = NameRecord(name="西安区", pinyin="Xi'an Qu", klass="行政区域", lon=125.15, lat=42.89, code="220403",
                          source="test", source_id="d1")
    with open_name_store(db_url) as store:
        with store.write():
            store.upsert([_record("老街村", "v1"), district])
        store.con.execute("ALTER TABLE names DROP COLUMN population")
        store.con.execute("UPDATE names SET importance = 6 WHERE name = '西安区'")
        store.con.execute("UPDATE quhua_meta SET value = '4' WHERE key = 'gazetteer_schema_version'")
        if not db_url.endswith(".gpkg"):
            store.con.commit()
    with open_name_store(db_url) as store:
        (hit,) = search(store, "老街")
        assert hit["name"] == "老街村" and hit["population"] is None
        assert search(store, "西安区")[0]["score"] == 100 + 5
        with store.write():
            store.upsert([_record("老街村", "v1", population=1200)])
        assert search(store, "老街")[0]["population"] == 1200
