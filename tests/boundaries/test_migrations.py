"""One migration mechanism for both databases (issue 14): the GeoPackage's schema is versioned in
``quhua_meta`` as PostGIS's is; a GeoPackage made by quhua before versioning is upgraded in place with its
data intact; a database newer than this quhua is refused; a new table is one new numbered migration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyogrio
import pytest

from boundaries.errors import StoreError
from boundaries.store import MIGRATIONS, open_store
from boundaries.store.migrations import Migration
from placenames import search
from placenames.schema import SCHEMA_VERSION as GAZETTEER_VERSION
from tests.conftest import run_cli
from webmap.users import UserStore

OLD = Path(__file__).parent.parent / "fixtures" / "quhua-e4da53e.gpkg"


@pytest.fixture
def old_gpkg(tmp_path) -> str:
    path = tmp_path / "old.gpkg"
    shutil.copy(OLD, path)
    return str(path)


def _indexes(store, table: str) -> set[str]:
    return {r[0] for r in store.fetch("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                      [table])}


def test_a_geopackage_of_before_versions_is_upgraded_with_its_data(old_gpkg, capsys):
    layers_before = dict(pyogrio.list_layers(old_gpkg))
    with open_store(old_gpkg) as store:
        assert not store.has_table("quhua_meta") and store.version() == 0
        lines, markers = len(store.read_layer("lines")), len(store.read_layer("markers"))
        assert (lines, markers) == (1, 14)
    assert run_cli(capsys, "--db", old_gpkg, "init")[0] == 0
    with open_store(old_gpkg) as store:
        assert store.version() == max(MIGRATIONS) == 4  # 3: the audit log, 4: legal time
        # 8: the keys' statistics (PostgreSQL)
        assert store.version("gazetteer_schema_version") == GAZETTEER_VERSION == 8
        assert "names_status" in _indexes(store, "names")  # migration 6 ran on the old file
        assert (len(store.read_layer("lines")), len(store.read_layer("markers"))) == (lines, markers)
        assert store.read_config("360000")["toml"] == "[markers]\n"
        users = UserStore(store)
        assert users.authenticate("ana", "correct horse 1").role == "analyst"
        users.add("boss", "correct horse 2", "official")  # the accounts' table gets its version too
        assert store.version("users_schema_version") == 1
        assert [u.name for u in users.list()] == ["ana", "boss"]
        assert [r["name"] for r in search(store, "洪都")] == ["南昌市"]
    # quhua_meta is no layer for GDAL or QGIS; the audit log (migration 3) is an attributes table they list
    assert dict(pyogrio.list_layers(old_gpkg)) == layers_before | {"audit": None}
    assert run_cli(capsys, "--db", old_gpkg, "init")[0] == 0  # idempotent
    with open_store(old_gpkg) as store:
        assert store.fetch("SELECT count(*) FROM quhua_meta WHERE key = 'schema_version'")[0][0] == 1


def test_an_ingest_upgrades_an_old_geopackage_first(old_gpkg, jx_submission):
    from boundaries.pipeline import ingest_paths

    result = ingest_paths(jx_submission, "360000", db=old_gpkg, progress=False)
    assert result.submission_id == 2
    with open_store(old_gpkg) as store:
        assert store.version() == max(MIGRATIONS) and len(store.read_layer("lines", history=True)) == 3


def test_reading_an_old_gazetteer_in_a_read_snapshot_does_not_write(old_gpkg):
    """The viewer's requests read in a snapshot, where a GeoPackage cannot be written: an old file is read as
    it is there, and upgraded by the next write."""
    with open_store(old_gpkg) as store:
        store.begin_snapshot()
        assert [r["name"] for r in search(store, "星城")] == ["长沙市"]
        assert store.version("gazetteer_schema_version") == 0
        store.connection().execute("ROLLBACK")


def test_a_database_newer_than_this_quhua_is_refused(db_url):
    with open_store(db_url) as store:
        store.init()
        store.execute("UPDATE quhua_meta SET value = '99' WHERE key = 'schema_version'")
        if db_url.startswith("postgresql"):
            store.connection().commit()
        newer = rf"has schema version 99, newer than this quhua \({max(MIGRATIONS)}\); upgrade quhua"
        with pytest.raises(StoreError, match=newer):
            store.init()


def test_a_new_table_is_one_numbered_migration_on_both_databases(db_url):
    """What a part adding a table writes (inspection rounds, say): its definition and a migration per version."""
    rounds = {1: Migration("inspection rounds", layers={"rounds": (None, {"user": "TEXT", "action": "TEXT",
                                                                   "created_at": "DATETIME"}, "联检 rounds")}),
             2: Migration("rounds by time", sql=("CREATE INDEX IF NOT EXISTS rounds_time ON rounds (created_at)",))}
    with open_store(db_url) as store:
        store.init()
        with store.transaction():
            assert store.migrate("rounds_schema_version", rounds, "rounds have version") == (0, 2)
        with store.transaction():
            assert store.migrate("rounds_schema_version", rounds, "rounds have version") == (2, 2)
        store.execute('INSERT INTO rounds ("user", action, created_at) VALUES (?, ?, ?)',
                      ["ana", "export lines", "2026-01-01T00:00:00.000Z"])
        assert store.fetch('SELECT "user", action FROM rounds') == [("ana", "export lines")]
        assert store.version("rounds_schema_version") == 2 and {"user", "action"} <= store.columns("rounds")
    if not db_url.startswith("postgresql"):
        assert "rounds" in dict(pyogrio.list_layers(db_url))  # a GeoPackage attributes table QGIS lists
