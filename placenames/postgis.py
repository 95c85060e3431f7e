"""The gazetteer on the server database: PostgreSQL + PostGIS, with the behaviour of the GeoPackage store.

``names`` is a ``geometry(Point, 4490)`` table and ``divisions`` a ``geometry(MultiPolygon, 4490)`` one,
both with GiST indexes; the search keys ``name_keys`` and ``name_grams`` are the GeoPackage's tables with
B-tree primary keys in the same order, their text columns in the "C" collation so that a prefix is a key
range whatever the database's locale. The nearest-first look-up reads rings of grid cells through the key
tables' (cell, key) indexes, as on the GeoPackage; the matches found there are ranked in the database
(:meth:`PostgisNameStore.best_near`), so that a search reads the points of the best few alone.

The tables are created by :meth:`PostgisNameStore.init` (and by the first import), versioned in
``quhua_meta`` under ``gazetteer_schema_version`` with the upgrade steps of
:data:`placenames.schema.MIGRATIONS` (the GeoPackage's too), beside the boundaries' own schema version.
Gazetteer writers take one transaction-level advisory lock, so two imports run one after the other, as on
the GeoPackage.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import psycopg
import shapely

from boundaries.store import Store, open_store
from placenames.model import EARTH_KM, KM_PER_POINT, NEAR_POINTS, POPULATION_DIVISOR, POPULATION_POINTS
from placenames.schema import MIGRATIONS, SCHEMA_VERSION
from placenames.store import (
    _NAME_COLUMNS,
    _REBUILD_AT,
    _SRID,
    GRAM_COLUMNS,
    KEY_COLUMNS,
    CopyText,
    SqlNameStore,
    _quoted,
    key_copy_texts,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgisNameStore"]  # the migrations: placenames.schema

_LOCK = (0x5148, 0x4E41)  # "QH", "NA": the gazetteer's writers
#: The tables whose indexes a large import rebuilds, locked together
_REBUILT = ("names", "name_keys", "name_grams")
#: Seconds an import tries to take those tables before it inserts through their indexes instead
_LOCK_WAIT = 5.0
#: The indexes of ``names`` a batched import keeps: each batch looks its source ids up, and updates by fid
_NAMES_READ = ("names_pkey", "names_source_id")
#: ``maintenance_work_mem`` while a bulk import builds its indexes
_INDEX_MEMORY = "256MB"


def _cell_by_cell(cells: str, query: str) -> str:
    """``query`` run once per cell of ``cells`` (a list of integers), the cell being ``g.one_cell`` in it:
    each a scan of the (cell, …) index for its one cell (OFFSET 0 keeps the planner from pulling the
    subquery up into one scan of the whole list); the rows of all, in the order of the cells."""
    return f"SELECT x.* FROM unnest(ARRAY[{cells}]) AS g(one_cell) CROSS JOIN LATERAL ({query} OFFSET 0) x"


class PostgisNameStore(SqlNameStore):
    """Names, divisions and search keys as tables of the PostGIS database the boundaries use."""

    _geom_marker = "?::geometry"
    _geom_select = "ST_AsBinary(geom)"

    def __init__(self, db: str | Store):
        self._owned = isinstance(db, str)
        self._store = open_store(db) if self._owned else db
        self.url = self._store.url

    def close(self) -> None:
        if self._owned:
            self._store.close()

    @property
    def con(self):
        return self._store.connection()

    def init(self) -> None:
        self._store.init()  # PostGIS, quhua_meta and the boundaries' tables
        with self.con.transaction():
            self._migrate()

    def has_names(self) -> bool:
        return self._has_table("name_keys")

    def _in_read_snapshot(self) -> bool:
        return self.con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def size(self) -> int:
        return self.con.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    @contextmanager
    def write(self):
        """One transaction, one gazetteer writer at a time: stored whole or not at all."""
        if self.schema_version() < SCHEMA_VERSION:
            self.init()
        con = self.con
        self._inserted = 0
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK)
            yield
            self._store.touch()
        # the planner's statistics, after an import that added much to what they describe
        known = con.execute("SELECT reltuples FROM pg_class WHERE oid = 'names'::regclass").fetchone()[0]
        if self._inserted > max(10_000, known / 2):  # and the visibility map the index-only scans need
            con.execute("VACUUM (ANALYZE) names, name_keys, name_grams")

    _inserted = 0

    def _insert_names(self, rows):
        self._inserted += len(rows)
        self._copy("names", ["fid", *_quoted(_NAME_COLUMNS), "geom"], rows)

    # -- hooks of SqlNameStore --------------------------------------------------------------------
    def _divisions_bbox(self, lon, lat):
        return f"geom && ST_SetSRID(ST_MakePoint(?, ?), {_SRID})", [lon, lat]

    def _in_cells(self, table, key, cells, match, params):
        # cell by cell (a long IN list lets the planner read the whole key range instead). A prefix's range is
        # bounded on one side by a row comparison of (cell, key), which only the (cell, key, …) index reads:
        # the primary key would have to read an open range, so the planner never takes it. (With both bounds
        # plain it takes a rare prefix for a row or two and reads its range through the primary key in every
        # cell: 221 of 400 sampled pinyin prefixes of 2–7 letters at 15 M names (nearly all of 5–7), and 1 to
        # 12 s a syllable --near at 1 M once the visibility map lagged behind.)
        # The other bound is plain, where the index is entered or left: a Chinese prefix from (cell, prefix)
        # to the cell's last key (Chinese keys sort after the pinyin ones), a pinyin one from the cell's first
        # key to the prefix's end. (With both bounds row comparisons the whole cell was read: 23 index pages
        # a cell at 15 M names, against 4–9 for a Chinese prefix and 11–22 for a pinyin one.)
        prefix = "key >= ? AND key < ? AND "
        if match.startswith(prefix):
            bounds = ("(cell, key) >= (g.one_cell, ?) AND key < ?" if params[0][:1].isascii()
                      else "key >= ? AND (cell, key) < (g.one_cell, ?)")
            match = f"{bounds} AND {match.removeprefix(prefix)}"
        return _cell_by_cell(cells, f"SELECT {', '.join(key)} FROM {table} WHERE cell = g.one_cell AND {match}")

    def best_near(self, scores, near, count):
        # lookup.search's ranking computed in the database, its constants placenames.model's — prominence()
        # (the importance, and below one point for the population), then 1 point a 10 km of _km()'s
        # great-circle distance, at most 30 — so that the points of `count` names are read and ranked in
        # Python instead of those of every match in the rings (a ninth of the names near the point for a
        # generic 村). Any within 1e-6 of the last of them come too, lest a rounding difference between the
        # two computations change which are kept: the search then ranks these alone, exactly as it would
        # have ranked them among all
        lon, lat = near
        score = (f"s.score + importance + CASE WHEN population > 0 THEN least({POPULATION_POINTS}, "
                 f"log((1 + population)::float8) / {POPULATION_DIVISOR}) ELSE 0 END - least({NEAR_POINTS}, "
                 f"{EARTH_KM} * 2 * asin(sqrt(power(sin(radians(lat - %s) / 2), 2) + cos(radians(%s)) "
                 f"* cos(radians(lat)) * power(sin(radians(lon - %s) / 2), 2))) / {KM_PER_POINT})")
        rows = self.con.execute(
            f"WITH r AS MATERIALIZED (SELECT fid, {score} AS rank FROM unnest(%s::bigint[], %s::float8[]) "
            "AS s(fid, score) JOIN names USING (fid)) "
            "SELECT fid FROM r WHERE rank >= coalesce((SELECT rank FROM r ORDER BY rank DESC OFFSET %s LIMIT 1) "
            "- 1e-6, '-infinity')",  # all, if fewer than `count` are names (a name deleted since its keys were read)
            (lat, lat, lon, list(scores), list(scores.values()), count - 1)).fetchall()
        return [row[0] for row in rows]

    def _in_ring(self, columns, table, match, params, cells, where):
        if table != "name_grams":
            return super()._in_ring(columns, table, match, params, cells, where)
        # a gram's rows, each read once: the filters applied to the row its (cell, gram, name_id) index finds
        # (the row holds them all), where the shared query joins each to the primary key for them — 4 more
        # pages a row, 5 ms of a generic's 5.5 at 1 M names. The same rows, ring after ring: a name has one
        # row per gram, so their order within a ring changes nothing
        condition, values = where.key_sql()
        return _cell_by_cell(cells, f"SELECT {columns} FROM name_grams WHERE cell = g.one_cell AND {match} AND "
                                    f"{condition}"), values

    def _names_bbox(self, bbox, alias=""):
        return f"{alias}geom && ST_MakeEnvelope(?, ?, ?, ?, {_SRID})", list(bbox)

    def _geoms(self, geometries):
        return list(shapely.to_wkb(shapely.set_srid(geometries, _SRID), hex=True, include_srid=True))

    def _decode(self, values):
        return list(shapely.from_wkb(np.asarray([bytes(v) for v in values], dtype=object)))

    def _points(self, lons, lats):
        # hex EWKB written at once (shapely's points, SRID and WKB took 2.3 s a million)
        wkb = np.empty(len(lons), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"),
                                         ("y", "<f8")])
        wkb["order"], wkb["type"], wkb["srid"] = 1, 0x20000001, _SRID  # little-endian Point with an SRID
        wkb["x"], wkb["y"] = lons, lats
        text = wkb.tobytes().hex()
        return [text[i:i + 50] for i in range(0, len(text), 50)]

    def _new_fids(self, count):
        """``count`` new fids: one range of the sequence, taken by one ``setval`` (a ``nextval`` per row took
        2.7 s a million). Another inserter's ``nextval`` between the two calls would get a fid of the range:
        the primary key then fails one of the two inserts; it never stores a fid twice."""
        if not count:
            return []
        (last,) = self.con.execute("SELECT setval(s::regclass, nextval(s::regclass) + %s - 1) "
                                   "FROM pg_get_serial_sequence('names', 'fid') AS s", (count,)).fetchone()
        return list(range(last - count + 1, last + 1))

    def _insert_keys(self, keys, grams):
        self._copy("name_keys", KEY_COLUMNS, keys)
        self._copy("name_grams", GRAM_COLUMNS, grams)

    def _store_keys(self, stored):
        texts = key_copy_texts(stored)
        if texts is None:  # a value to escape: row by row
            super()._store_keys(stored)
        else:
            self._insert_keys(*texts)

    _bulk_loading = False
    #: the tables emptied in this transaction, which COPY loads frozen
    _frozen: set[str] = frozenset()

    @contextmanager
    def _bulk(self):
        """Into empty key tables (a first import), a batched import drops their indexes — primary keys
        included — before the first batch and builds them once after the last, as :meth:`_copy` does for
        one large COPY (the names' own indexes stay: each batch looks its source ids up in them). Inside
        the transaction, the tables locked until the commit: a failure puts the indexes back."""
        con = self.con
        empty = con.execute("SELECT count(*) FROM (SELECT 1 FROM name_grams LIMIT 1) AS t").fetchone()[0] == 0
        if not empty or not self._lock_for_rebuild():
            yield
            return
        dropped = [(table, index) for table in ("name_keys", "name_grams") for index in self._drop_indexes(table)]
        frozen = ["name_keys", "name_grams"]
        # into an empty names table too: its indexes but the two each batch reads (its fid, its source ids)
        if con.execute("SELECT count(*) FROM (SELECT 1 FROM names LIMIT 1) AS t").fetchone()[0] == 0:
            dropped += [("names", index) for index in self._drop_indexes("names", keep=_NAMES_READ)]
            frozen.append("names")
        # emptied in this transaction (they are empty: nothing is lost), the tables take COPY … FREEZE: rows
        # stored frozen and their pages marked all-visible, so that neither the VACUUM after the import nor
        # the first searches rewrite every page (hint bits) of a national gazetteer
        con.execute(f"TRUNCATE {', '.join(frozen)}")
        # (the key rows still go in sorted by key, batch after batch: a small table is read in that order,
        # and which of a name's keys is met first sets its score)
        self._bulk_loading = True
        self._frozen = set(frozen)
        try:
            yield
        finally:
            self._bulk_loading = False
            self._frozen = set()
        # sorts in memory up to this size (the default 64 MB spills a national import's to disk); the server's
        # memory, bounded, until the commit
        con.execute(f"SET LOCAL maintenance_work_mem = '{_INDEX_MEMORY}'")
        for table, (_, definition, constraint, constraint_definition) in dropped:
            con.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_definition}" if constraint
                        else definition)

    def _drop_indexes(self, table: str, keep: tuple[str, ...] = ()) -> list[tuple]:
        """Drop every index of ``table`` (primary key included) but those of ``keep``; returns what rebuilds
        them."""
        con = self.con
        indexes = con.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), quote_ident(c.conname), "
            "pg_get_constraintdef(c.oid) FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = "
            "i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x') "
            "WHERE i.indrelid = %s::regclass ORDER BY i.indexrelid", (table,)).fetchall()
        indexes = [row for row in indexes if row[0] not in keep]
        for index, _, constraint, _ in indexes:
            con.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}" if constraint else f"DROP INDEX {index}")
        return indexes

    def _copy(self, table: str, columns, rows) -> None:
        """COPY rows (tuples, or a :class:`CopyText`) into a table. When they are many and outnumber the rows
        already there (a first large import), the table's indexes — primary key included — are dropped and
        built again after the rows are in: a sort per index instead of a B-tree insert per row and index
        (1M names: 96 s → 24 s for the key tables). Inside the transaction: a failure puts them back. The
        tables stay locked until the commit, so that searches wait for the import instead of reading a
        table without its indexes."""
        if not rows:
            return
        con = self.con
        indexes = []
        if self._bulk_loading and table != "names":
            pass  # the batched import rebuilds this table's indexes after its last batch (_bulk)
        elif len(rows) >= _REBUILD_AT and con.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %s) AS t", (len(rows),)).fetchone()[0] < len(rows) \
                and self._lock_for_rebuild():
            indexes = self._drop_indexes(table)
        freeze = " WITH (FREEZE)" if table in self._frozen else ""
        with con.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{freeze}") as copy:
            if isinstance(rows, CopyText):
                copy.write(rows.text)
            else:
                for row in rows:
                    copy.write_row(row)
        for _, definition, constraint, constraint_definition in indexes:
            con.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_definition}" if constraint
                        else definition)

    def _lock_for_rebuild(self) -> bool:
        """Take the tables of :data:`_REBUILT` until the commit, if no reader holds one now: NOWAIT, tried
        again for :data:`_LOCK_WAIT` seconds (waiting for one while holding another could deadlock with a
        reader's snapshot that reads them in the other order, as the viewer's requests do; a refused lock
        is undone with its savepoint). False if they could not be taken: the rows then go in through the
        indexes."""
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            try:
                with self.con.transaction():
                    self.con.execute(f"LOCK TABLE {', '.join(_REBUILT)} IN ACCESS EXCLUSIVE MODE NOWAIT")
                return True
            except psycopg.errors.LockNotAvailable:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
