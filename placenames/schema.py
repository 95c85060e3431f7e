"""The gazetteer's schema on both databases: numbered migrations (``quhua_meta.gazetteer_schema_version``),
run by :func:`boundaries.store.migrations.migrate`.

PostgreSQL's steps are the SQL each version added. The GeoPackage's were, before versioning, guessed from
the tables at every opening (missing columns, key tables of an older layout, a missing index); those checks
are now the GeoPackage's steps, each idempotent, so that a file of any earlier quhua — which has no
``quhua_meta`` and so counts as version 0 — is upgraded once and then carries its version.
"""

from __future__ import annotations

from boundaries.store.dialect import column_definitions
from boundaries.store.migrations import Migration

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

SRID = 4490
NAME_COLUMNS = {"name": "TEXT", "pinyin": "TEXT", "class": "TEXT", "subclass": "TEXT", "code": "TEXT",
                "aliases": "TEXT", "status": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT", "source": "TEXT",
                "source_id": "TEXT", "approved_by": "TEXT", "approved_on": "TEXT", "superseded_by": "INTEGER",
                "lon": "REAL", "lat": "REAL", "importance": "INTEGER", "population": "INTEGER"}
#: the divisions' columns of version 1 (kept as they were: migration 1 creates them)
_V1_DIVISION_COLUMNS = {"code": "TEXT", "name": "TEXT", "level": "TEXT", "parent": "TEXT"}
#: version 7 (dated history): a division record's legal validity, ``status`` current/historical, the code(s)
#: that replaced it (``superseded_by``, comma-separated: one for a rename, recode or merger, several for a
#: split, none for an abolition) and the change that ended it (``change``: renamed, recoded, merged,
#: split, abolished, boundary)
DIVISION_HISTORY_COLUMNS = {"status": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT", "superseded_by": "TEXT",
                            "change": "TEXT"}
DIVISION_COLUMNS = {**_V1_DIVISION_COLUMNS, **DIVISION_HISTORY_COLUMNS}
#: ``name_extents``: a name's optional extent (any geometry type), its fid the name's, with its bounds
EXTENT_COLUMNS = {"name": "TEXT", "west": "REAL", "south": "REAL", "east": "REAL", "north": "REAL"}
_TEXT = 'text COLLATE "C"'  # a prefix is a key range whatever the database's locale
#: The (cell, name_id) indexes of the GeoPackage's key tables.
CELL_INDEXES = ("CREATE INDEX IF NOT EXISTS name_keys_cell ON name_keys (cell, name_id)",
                "CREATE INDEX IF NOT EXISTS name_grams_cell ON name_grams (cell, name_id)")


def _pg_tables() -> tuple[str, ...]:
    names = column_definitions({c: t for c, t in NAME_COLUMNS.items() if c != "population"}, _TEXT)
    divisions = column_definitions(_V1_DIVISION_COLUMNS, _TEXT)
    c = _TEXT
    return (
        f"CREATE TABLE IF NOT EXISTS names (fid bigserial PRIMARY KEY, geom geometry(Point, {SRID}){names})",
        "CREATE INDEX IF NOT EXISTS names_geom_gist ON names USING gist (geom)",
        "CREATE INDEX IF NOT EXISTS names_source ON names (source, source_id)",
        "CREATE INDEX IF NOT EXISTS names_superseded_by ON names (superseded_by)",
        f"CREATE TABLE IF NOT EXISTS divisions (fid bigserial PRIMARY KEY, "
        f"geom geometry(MultiPolygon, {SRID}){divisions})",
        "CREATE INDEX IF NOT EXISTS divisions_geom_gist ON divisions USING gist (geom)",
        "CREATE UNIQUE INDEX IF NOT EXISTS divisions_code ON divisions (code)",
        f"CREATE TABLE IF NOT EXISTS name_keys (key {c}, kind {c}, name_id bigint, klass smallint, code {c}, "
        f"current smallint, valid_from {c}, valid_to {c}, cell integer, PRIMARY KEY (key, kind, name_id))",
        "CREATE INDEX IF NOT EXISTS name_keys_id ON name_keys (name_id)",
        f"CREATE TABLE IF NOT EXISTS name_grams (gram {c}, klass smallint, code {c}, name_id bigint, "
        f"current smallint, valid_from {c}, valid_to {c}, cell integer, PRIMARY KEY (gram, klass, code, name_id))",
        "CREATE INDEX IF NOT EXISTS name_grams_id ON name_grams (name_id, gram)",
    )


def _gpkg_layout(names) -> None:
    """The GeoPackage's tables as the first versioned layout: names (with every column of
    :data:`NAME_COLUMNS`, added to a file of before), divisions, and the key tables (rebuilt from the names
    when they are of the layout before the filter columns)."""
    from boundaries.store import gpkg
    from placenames.store import _add_name_columns, _outdated_keys, key_rows

    con = names.con
    gpkg.create_feature_table(con, "names", NAME_COLUMNS, "POINT", SRID, "地名 place names")
    gpkg.create_feature_table(con, "divisions", _V1_DIVISION_COLUMNS, "MULTIPOLYGON", SRID, "行政区划 divisions")
    _add_name_columns(con)
    outdated = _outdated_keys(con)
    if outdated:  # keys without the filter columns: rebuilt from the names
        con.execute("DROP TABLE name_keys")
        con.execute("DROP TABLE name_grams")
    # clustered on the look-up key (WITHOUT ROWID): one B-tree per table instead of table + index
    for sql in ("CREATE TABLE IF NOT EXISTS name_keys (key TEXT, kind TEXT, name_id INTEGER, "
                "klass INTEGER, code TEXT, current INTEGER, valid_from TEXT, valid_to TEXT, cell INTEGER, "
                "PRIMARY KEY (key, kind, name_id)) WITHOUT ROWID",
                "CREATE TABLE IF NOT EXISTS name_grams (gram TEXT, klass INTEGER, code TEXT, "
                "name_id INTEGER, current INTEGER, valid_from TEXT, valid_to TEXT, cell INTEGER, "
                "PRIMARY KEY (gram, klass, code, name_id)) WITHOUT ROWID",
                "CREATE UNIQUE INDEX IF NOT EXISTS divisions_code ON divisions (code)"):
        con.execute(sql)
    if outdated:
        names._insert_keys(*key_rows([(r.id, r) for r in names.get(
            [fid for (fid,) in con.execute("SELECT fid FROM names ORDER BY fid")])]))


def _gpkg_extents(names) -> None:
    from boundaries.store import gpkg

    gpkg.create_feature_table(names.con, "name_extents", EXTENT_COLUMNS, "GEOMETRY", SRID,
                              "地名范围 place-name extents (fid = the name's)")


def _populations(names) -> None:
    from placenames.store import _add_name_columns

    if names._store.dialect.name == "sqlite":
        _add_name_columns(names.con)  # PostgreSQL: its ALTER TABLE below
    names._rank_again()


#: version 7: one current record per code (a partial unique index), the history of a code beside it
_HISTORY_INDEXES = ("UPDATE divisions SET status = 'current' WHERE status IS NULL",
                    "DROP INDEX IF EXISTS divisions_code",
                    "CREATE UNIQUE INDEX IF NOT EXISTS divisions_current_code ON divisions (code) "
                    "WHERE status = 'current'",
                    "CREATE INDEX IF NOT EXISTS divisions_code_dates ON divisions (code, valid_from)")


def _gpkg_division_history(names) -> None:
    """The GeoPackage's part of version 7: the history columns added when missing, then the indexes."""
    con = names.con
    have = {row[1] for row in con.execute("PRAGMA table_info(divisions)")}
    for column, kind in DIVISION_HISTORY_COLUMNS.items():
        if column not in have:
            con.execute(f'ALTER TABLE divisions ADD COLUMN "{column}" {kind}')
    for sql in _HISTORY_INDEXES:
        con.execute(sql)


def _on_sqlite(step):
    """``step`` for the GeoPackage only (PostgreSQL's part of the migration is its SQL)."""

    def run(names) -> None:
        if names._store.dialect.name == "sqlite":
            step(names)

    return run


#: Gazetteer schema version → the migration that reaches it, on both databases.
MIGRATIONS: dict[int, Migration] = {
    1: Migration("names, divisions and their search keys", postgresql=_pg_tables(), run=_on_sqlite(_gpkg_layout)),
    # an import finds the names it updates by source id: an index leading with it (with a large list of ids,
    # the (source, source_id) index left PostgreSQL scanning the table once per id)
    2: Migration("look-ups by source id and by grid cell",
                 sql=("CREATE INDEX IF NOT EXISTS names_source_id ON names (source_id, source)",
                      "DROP INDEX IF EXISTS names_source"),
                 # a name's key rows, and the rows near a point, found by grid cell (the nearest-first scan of
                 # the GiST index went through every name until enough matched)
                 sqlite=CELL_INDEXES,
                 postgresql=(
                     "CREATE INDEX IF NOT EXISTS name_keys_cell ON name_keys (cell, key, kind, name_id)",
                     "CREATE INDEX IF NOT EXISTS name_grams_cell ON name_grams (cell, gram, name_id)",
                     # within a division, a prefix look-up reads that division's keys: the planner chooses
                     # whichever range is the smaller
                     "CREATE INDEX IF NOT EXISTS name_keys_code ON name_keys (code, key, kind, name_id)",
                     "DROP INDEX IF EXISTS name_keys_id",
                     "DROP INDEX IF EXISTS name_grams_id")),
    # PostgreSQL: the filters and the ranking read from indexes alone (index-only scans); the GeoPackage's
    # key tables are clustered on their keys already
    3: Migration("index-only look-ups", postgresql=(
        "ALTER TABLE name_keys DROP CONSTRAINT name_keys_pkey, ADD PRIMARY KEY (key, kind, name_id) "
        "INCLUDE (current, klass, code, valid_from, valid_to)",
        "ALTER TABLE name_grams DROP CONSTRAINT name_grams_pkey, ADD PRIMARY KEY (gram, klass, code, name_id) "
        "INCLUDE (current, valid_from, valid_to)",
        "CREATE INDEX IF NOT EXISTS names_points ON names (fid) INCLUDE (lon, lat, importance)")),
    # a name's optional extent (a lake's polygon, a river's line), its fid the name's
    4: Migration("place-name extents", run=_on_sqlite(_gpkg_extents), postgresql=(
        f"CREATE TABLE IF NOT EXISTS name_extents (fid bigint PRIMARY KEY, geom geometry(Geometry, {SRID})"
        + column_definitions(EXTENT_COLUMNS, _TEXT) + ")",
        "CREATE INDEX IF NOT EXISTS name_extents_geom_gist ON name_extents USING gist (geom)")),
    # a name's population (GeoNames gives it) ranks it, read with its point from the index; the names are
    # ranked again (the versions before ranked without GeoNames' feature codes, and a district as a county)
    5: Migration("populations", postgresql=(
        "ALTER TABLE names ADD COLUMN IF NOT EXISTS population bigint",
        "DROP INDEX IF EXISTS names_points",
        "CREATE INDEX names_points ON names (fid) INCLUDE (lon, lat, importance, population)"),
        run=_populations),
    # the collections' pages (issue 14): the current names in fid order from an index, so that a page at an
    # offset skips index entries, not rows, and counting reads the index alone (SQLite's index on status
    # holds the rowid: it is ordered by (status, fid))
    6: Migration("collection pages of the current names",
                 sqlite=("CREATE INDEX IF NOT EXISTS names_status ON names (status)",),
                 postgresql=("CREATE INDEX IF NOT EXISTS names_current ON names (fid) WHERE status = 'current'",)),
    # divisions with dated history (issue 15): a re-import records a reorganisation (merger, rename, recode,
    # split, abolition) instead of overwriting; the records in force at a date answer ``--at``
    7: Migration("divisions with dated history", run=_on_sqlite(_gpkg_division_history), postgresql=(
        *(f'ALTER TABLE divisions ADD COLUMN IF NOT EXISTS "{c}" {_TEXT}' for c in DIVISION_HISTORY_COLUMNS),
        *_HISTORY_INDEXES)),
    # PostgreSQL: a prefix is a key range, which the planner sizes from the column's histogram. At the default
    # 100 buckets a national gazetteer's 80 million keys put a syllable's 200,000 in a sliver of one bucket,
    # estimated at 156 rows: a --within county look-up then read the syllable's whole range through the primary
    # key (237,389 rows, 40–57 ms at 15 M names) instead of the county's keys (1.4–2.9 ms at 500 buckets); a
    # county's codes were estimated 10× too few. ANALYZE of those 80 million rows: 10.7 s at 2,000 buckets
    8: Migration("planner statistics for prefixes", postgresql=(
        "ALTER TABLE name_keys ALTER COLUMN key SET STATISTICS 500, ALTER COLUMN code SET STATISTICS 500",
        "ANALYZE name_keys")),
}
SCHEMA_VERSION = max(MIGRATIONS)
