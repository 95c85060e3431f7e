"""The gazetteer's storage: ``names`` and ``divisions`` layers in the same GeoPackage as the boundaries.

``names`` (Point) and ``divisions`` (MultiPolygon) are ordinary GeoPackage feature layers in EPSG:4490
that QGIS opens. Beside them two plain tables serve search: ``name_keys`` (each name's full name, proper
part, aliases, compact pinyin and initials, indexed for exact and prefix look-ups) and ``name_grams``
(every one- and two-character piece of each name and alias, because a one- or two-character query —
which an FTS5 trigram index cannot answer — is the commonest Chinese query).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.store import gpkg, open_store
from placenames.errors import PlacenamesError
from placenames.model import NameRecord
from placenames.romanize import initials, initials_of, pinyin_key, split_name

__all__ = ["GeoPackageNameStore", "NameStore", "open_name_store"]

_SRID = 4490
_NAME_COLUMNS = {"name": "TEXT", "pinyin": "TEXT", "class": "TEXT", "subclass": "TEXT", "code": "TEXT",
                 "aliases": "TEXT", "status": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT", "source": "TEXT",
                 "source_id": "TEXT", "approved_by": "TEXT", "approved_on": "TEXT", "superseded_by": "INTEGER",
                 "lon": "REAL", "lat": "REAL", "importance": "INTEGER"}
_DIVISION_COLUMNS = {"code": "TEXT", "name": "TEXT", "level": "TEXT", "parent": "TEXT"}


class NameStore(ABC):
    """What the gazetteer needs of a database; a PostGIS implementation follows the GeoPackage one."""

    @abstractmethod
    def init(self) -> None: ...

    @abstractmethod
    def has_names(self) -> bool:
        """Whether the gazetteer's layers exist in this database."""

    @abstractmethod
    def write(self): ...

    @abstractmethod
    def upsert(self, records: list[NameRecord]) -> tuple[int, int]:
        """Insert new names and update known ones (same source and source id); renames keep history."""

    @abstractmethod
    def get(self, ids: Iterable[int]) -> list[NameRecord]: ...

    @abstractmethod
    def candidates(self, query: str, kinds: tuple[str, ...], mode: str, limit: int) -> list[tuple[int, str, str]]:
        """``(name_id, key, kind)`` whose key equals (``exact``) or starts with (``prefix``) the query."""

    @abstractmethod
    def gram_candidates(self, gram: str, limit: int) -> list[int]: ...

    @abstractmethod
    def divisions(self, level: str | None = None) -> gpd.GeoDataFrame: ...

    @abstractmethod
    def put_divisions(self, frame: gpd.GeoDataFrame) -> int: ...

    @abstractmethod
    def all_names(self) -> pd.DataFrame: ...


def open_name_store(url: str) -> NameStore:
    """The gazetteer store of a database URL (the path of the GeoPackage the boundaries use)."""
    if url.startswith(("postgresql://", "postgres://")):
        raise PlacenamesError("the gazetteer on PostGIS is not yet available; use the GeoPackage database")
    return GeoPackageNameStore(Path(url))


def _keys(record_id: int, record: NameRecord) -> list[tuple[str, str, int]]:
    """``(key, kind, name_id)`` rows of ``name_keys``, in its primary key's order (so they sort as they are)."""
    name_initials = initials_of(record.name, record.pinyin)
    keys = {(record.name, "name"), (pinyin_key(record.pinyin), "pinyin"), (name_initials, "initials")}
    proper, generic = split_name(record.name)
    if generic:
        # one syllable per character (the usual case): the proper part's initials start the name's
        proper_initials = (name_initials[:len(proper)] if len(name_initials) == len(record.name)
                           else initials(proper))
        keys |= {(proper, "proper"), (pinyin_key(record.pinyin.split(" ")[0]), "pinyin"),
                 (proper_initials, "initials")}
    keys |= {(key.replace("v", "u"), "pinyin") for key, kind in list(keys) if kind == "pinyin" and "v" in key}
    keys |= {(alias, "alias") for alias in record.aliases}
    keys |= {(pinyin_key(alias), "pinyin") for alias in record.aliases if alias.isascii()}
    return [(key, kind, record_id) for key, kind in keys if key]


def _grams(record_id: int, record: NameRecord) -> set[tuple[str, int]]:
    grams = set()
    for text in (record.name, *record.aliases):
        grams |= {(c, record_id) for c in text if not c.isascii()}
        grams |= {(text[i:i + 2], record_id) for i in range(len(text) - 1) if not text[i:i + 2].isascii()}
    return grams


class GeoPackageNameStore(NameStore):
    """Names and divisions as layers of the GeoPackage, search keys in plain tables beside them."""

    def __init__(self, path: Path):
        self.path = path
        self._store = open_store(str(path))

    @property
    def con(self) -> sqlite3.Connection:
        return self._store.connection()

    def init(self) -> None:
        self._store.init()  # the GeoPackage itself, with its SRS table
        with gpkg.transaction(self.con) as con:
            gpkg.create_feature_table(con, "names", _NAME_COLUMNS, "POINT", _SRID, "地名 place names")
            gpkg.create_feature_table(con, "divisions", _DIVISION_COLUMNS, "MULTIPOLYGON", _SRID,
                                      "行政区划 divisions")
            # clustered on the look-up key (WITHOUT ROWID): one B-tree per table instead of table + index
            for sql in ("CREATE TABLE IF NOT EXISTS name_keys (key TEXT, kind TEXT, name_id INTEGER, "
                        "PRIMARY KEY (key, kind, name_id)) WITHOUT ROWID",
                        "CREATE INDEX IF NOT EXISTS name_keys_id ON name_keys (name_id)",
                        "CREATE TABLE IF NOT EXISTS name_grams (gram TEXT, name_id INTEGER, "
                        "PRIMARY KEY (gram, name_id)) WITHOUT ROWID",
                        "CREATE INDEX IF NOT EXISTS name_grams_id ON name_grams (name_id)",
                        "CREATE INDEX IF NOT EXISTS names_source ON names (source, source_id)",
                        "CREATE UNIQUE INDEX IF NOT EXISTS divisions_code ON divisions (code)"):
                con.execute(sql)

    def has_names(self) -> bool:
        return self.path.is_file() and gpkg.has_table(self.con, "name_keys")

    @contextmanager
    def write(self):
        """One transaction: everything inside is stored whole or not at all."""
        if not gpkg.has_table(self.con, "names"):
            self.init()
        with gpkg.transaction(self.con):
            yield

    # -- names ------------------------------------------------------------------------------------
    def upsert(self, records: list[NameRecord]) -> tuple[int, int]:
        from placenames.model import importance

        con = self.con
        known = {}
        keyed = [(r.source, r.source_id) for r in records if r.source_id]
        if keyed:
            for fid, source, source_id, name in con.execute(
                    "SELECT fid, source, source_id, name FROM names WHERE status = 'current' AND source_id IS NOT NULL "
                    "AND source_id IN (SELECT value FROM json_each(?))", (json.dumps([k[1] for k in keyed]),)):
                known[(source, source_id)] = (fid, name)
        inserted = updated = 0
        blobs = gpkg.encode(np.array([shapely.Point(r.lon, r.lat) for r in records], dtype=object), _SRID)
        next_fid = (con.execute("SELECT max(fid) FROM names").fetchone()[0] or 0) + 1
        new_rows, keys, grams = [], [], set()
        for record, blob in zip(records, blobs, strict=True):
            values = [record.name, record.pinyin, record.klass, record.subclass, record.code,
                      json.dumps(record.aliases, ensure_ascii=False), record.status, record.valid_from,
                      record.valid_to, record.source, record.source_id, record.approved_by, record.approved_on,
                      record.superseded_by, record.lon, record.lat, importance(record.klass, record.code), blob]
            previous = known.get((record.source, record.source_id))
            if previous and previous[1] == record.name:
                con.execute(f"UPDATE names SET {', '.join(f'{c} = ?' for c in _NAME_COLUMNS)}, geom = ? "
                            "WHERE fid = ?", [*values, previous[0]])
                con.execute("DELETE FROM name_keys WHERE name_id = ?", (previous[0],))
                con.execute("DELETE FROM name_grams WHERE name_id = ?", (previous[0],))
                record_id = previous[0]
                updated += 1
            else:
                record_id, next_fid = next_fid, next_fid + 1
                new_rows.append([record_id, *values])
                if previous:  # renamed: the old name becomes history
                    con.execute("UPDATE names SET status = 'historical', superseded_by = ?, "
                                "valid_to = coalesce(?, date('now')) WHERE fid = ?",
                                (record_id, record.valid_from, previous[0]))
            keys += _keys(record_id, record)
            grams |= _grams(record_id, record)
        _insert_points(con, new_rows)
        # sorted, so that the B-trees are filled in order rather than at random pages
        keys.sort()
        con.executemany("INSERT OR IGNORE INTO name_keys (key, kind, name_id) VALUES (?, ?, ?)", keys)
        con.executemany("INSERT OR IGNORE INTO name_grams (gram, name_id) VALUES (?, ?)", sorted(grams))
        inserted = len(new_rows)
        return inserted, updated

    def get(self, ids):
        ids = list(ids)
        if not ids:
            return []
        rows = self.con.execute(f"SELECT fid, {', '.join(_NAME_COLUMNS)} FROM names WHERE fid IN "
                                "(SELECT value FROM json_each(?))", (json.dumps(ids),)).fetchall()
        by_id = {row[0]: _record(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def history(self, record_id: int) -> list[NameRecord]:
        """The names this one replaced and that replaced it, oldest first."""
        seen = set()
        frontier = [record_id]
        while frontier:
            current = frontier.pop()
            if current in seen:
                continue
            seen.add(current)
            for (fid,) in self.con.execute("SELECT fid FROM names WHERE superseded_by = ? OR fid = ("
                                           "SELECT superseded_by FROM names WHERE fid = ?)", (current, current)):
                frontier.append(fid)
        chain = self.get(sorted(seen))
        return sorted(chain, key=lambda r: (r.valid_from or "", r.id))

    def candidates(self, query, kinds, mode, limit):
        marks = ", ".join("?" * len(kinds))
        if mode == "exact":
            sql, params = f"key = ? AND kind IN ({marks})", [query, *kinds]
        else:
            sql, params = f"key >= ? AND key < ? AND kind IN ({marks})", [query, query + "\U0010ffff", *kinds]
        return self.con.execute(f"SELECT name_id, key, kind FROM name_keys WHERE {sql} LIMIT ?",
                                [*params, limit]).fetchall()

    def gram_candidates(self, gram, limit):
        return [row[0] for row in self.con.execute("SELECT name_id FROM name_grams WHERE gram = ? LIMIT ?",
                                                   (gram, limit))]

    def all_names(self) -> pd.DataFrame:
        if not gpkg.has_table(self.con, "names"):
            return pd.DataFrame(columns=["fid", *_NAME_COLUMNS])
        rows = self.con.execute(f"SELECT fid, {', '.join(_NAME_COLUMNS)} FROM names").fetchall()
        return pd.DataFrame.from_records(rows, columns=["fid", *_NAME_COLUMNS])

    # -- divisions --------------------------------------------------------------------------------
    def put_divisions(self, frame: gpd.GeoDataFrame) -> int:
        blobs = gpkg.encode(np.asarray(frame.geometry.values, dtype=object), _SRID)
        rows = [(r.code, r.name, r.level, r.parent, blob)
                for r, blob in zip(frame.itertuples(), blobs, strict=True)]
        self.con.executemany("INSERT INTO divisions (code, name, level, parent, geom) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                             "parent = excluded.parent, geom = excluded.geom", rows)
        return len(rows)

    def divisions(self, level=None):
        empty = gpd.GeoDataFrame({c: [] for c in _DIVISION_COLUMNS}, geometry=[], crs="EPSG:4490")
        if not gpkg.has_table(self.con, "divisions"):
            return empty
        sql = "SELECT code, name, level, parent, geom FROM divisions" + (" WHERE level = ?" if level else "")
        rows = self.con.execute(sql, [level] if level else []).fetchall()
        if not rows:
            return empty
        frame = pd.DataFrame.from_records(rows, columns=[*_DIVISION_COLUMNS, "geom"])
        return gpd.GeoDataFrame(frame.drop(columns="geom"), geometry=gpkg.decode(frame["geom"]), crs="EPSG:4490")


_BULK = 1000


def _insert_points(con: sqlite3.Connection, rows: list[list]) -> None:
    """Insert name rows (fid first, then the columns, then the geometry blob).

    The GeoPackage's spatial-index trigger calls Python's ST_* functions for every row (a third of a large
    import's time); for a large batch it is set aside inside the transaction and the index filled from the
    points' lon/lat in one statement (a point's box is the point), then the trigger is put back. A failure
    rolls all of it back, trigger included.
    """
    insert = (f"INSERT INTO names (fid, {', '.join(_NAME_COLUMNS)}, geom) VALUES "
              f"({', '.join('?' * (len(_NAME_COLUMNS) + 2))})")
    found = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'rtree_names_geom_insert'"
                        ).fetchone()
    if len(rows) < _BULK or found is None:
        con.executemany(insert, rows)
        return
    con.execute('DROP TRIGGER "rtree_names_geom_insert"')
    con.executemany(insert, rows)
    con.execute('INSERT OR REPLACE INTO "rtree_names_geom" SELECT fid, lon, lon, lat, lat FROM names '
                "WHERE fid BETWEEN ? AND ?", (rows[0][0], rows[-1][0]))
    con.execute(found[0])


def _record(row) -> NameRecord:
    (fid, name, pinyin, klass, subclass, code, aliases, status, valid_from, valid_to, source, source_id,
     approved_by, approved_on, superseded_by, lon, lat, _importance) = row
    return NameRecord(name=name, pinyin=pinyin, klass=klass, subclass=subclass, code=code,
                      aliases=json.loads(aliases or "[]"), status=status, valid_from=valid_from, valid_to=valid_to,
                      source=source, source_id=source_id, approved_by=approved_by, approved_on=approved_on,
                      superseded_by=superseded_by, lon=lon, lat=lat, id=fid)
