"""The gazetteer's storage: ``names`` and ``divisions`` layers in the same database as the boundaries.

``names`` (Point) and ``divisions`` (MultiPolygon) are ordinary GeoPackage feature layers in EPSG:4490
that QGIS opens (PostGIS tables on the server, :mod:`placenames.postgis`). Beside them two plain tables
serve search: ``name_keys`` (each name's full name, proper part, aliases, compact pinyin and initials,
indexed for exact and prefix look-ups) and ``name_grams`` (every one- and two-character piece of each name
and alias, because a one- or two-character query — which an FTS5 trigram index cannot answer — is the
commonest Chinese query).

Each key row also carries what search filters on — the name's class (as its index in
:data:`~placenames.model.CLASSES`), division code, whether it is current, and its validity dates — so
that ``within``, ``class`` and ``at`` are conditions of the key look-up itself (``name_grams`` is ordered
by gram, class, code: ``within`` is a key range) rather than filters applied to the first few thousand
candidates. ``near`` reads the names nearest the point first, through the names layer's spatial index.
"""

from __future__ import annotations

import json
import math
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.store import Store, gpkg, open_store
from placenames.errors import PlacenamesError
from placenames.model import CLASSES, NameRecord, importance
from placenames.romanize import initials, initials_of, pinyin_key, split_name

__all__ = ["GeoPackageNameStore", "NameStore", "SearchFilter", "open_name_store"]

_SRID = 4490
_NAME_COLUMNS = {"name": "TEXT", "pinyin": "TEXT", "class": "TEXT", "subclass": "TEXT", "code": "TEXT",
                 "aliases": "TEXT", "status": "TEXT", "valid_from": "TEXT", "valid_to": "TEXT", "source": "TEXT",
                 "source_id": "TEXT", "approved_by": "TEXT", "approved_on": "TEXT", "superseded_by": "INTEGER",
                 "lon": "REAL", "lat": "REAL", "importance": "INTEGER"}
_DIVISION_COLUMNS = {"code": "TEXT", "name": "TEXT", "level": "TEXT", "parent": "TEXT"}
#: What a key row carries besides its key, for the filters: class index, code, current, valid from/to.
_FILTER_COLUMNS = ("klass", "code", "current", "valid_from", "valid_to")


@dataclass(frozen=True)
class SearchFilter:
    """What a search is limited to, applied inside the key look-up.

    ``within`` is a division code (``360000`` → codes starting 36, ``360100`` → 3601); ``klass`` a census
    class; ``at`` a date ``YYYY-MM-DD`` (the names valid then instead of the current ones); ``near`` a
    point (lon, lat) whose nearest matches a look-up returns first when more match than it may return,
    at least ``near_count`` of them.
    """

    within: str | None = None
    klass: str | None = None
    at: str | None = None
    near: tuple[float, float] | None = None
    near_count: int = 30

    @property
    def code_prefix(self) -> str | None:
        """The code prefix ``within`` stands for: trailing zero pairs dropped (``360100`` → ``3601``).

        >>> SearchFilter(within="360000").code_prefix, SearchFilter(within="360110").code_prefix
        ('36', '360110')
        """
        if not self.within:
            return None
        prefix = self.within.rstrip("0")
        return prefix + "0" if len(prefix) % 2 else prefix

    def key_sql(self, alias: str = "") -> tuple[str, list]:
        """The condition on a key row (``name_keys``/``name_grams``) with ``?`` placeholders."""
        a = alias
        if self.at:
            parts = [f"({a}valid_from IS NULL OR {a}valid_from <= ?) AND ({a}valid_to IS NULL OR {a}valid_to > ?)"]
            params: list = [self.at, self.at]
        else:
            parts, params = [f"{a}current = 1"], []
        if self.klass is not None:
            parts.append(f"{a}klass = ?")
            params.append(CLASSES.index(self.klass) if self.klass in CLASSES else -1)
        elif self.within:  # every class, so that the code range is a range of the (gram, klass, code) key
            parts.append(f"{a}klass IN ({', '.join(str(i) for i in range(len(CLASSES)))})")
        if self.within:
            parts.append(f"{a}code >= ? AND {a}code < ?")
            params += [self.code_prefix, self.code_prefix + "~"]  # "~" sorts after every digit
        return " AND ".join(parts), params

    def names_sql(self, alias: str = "") -> tuple[str, list]:
        """The same condition on a row of the ``names`` layer."""
        a = alias
        if self.at:
            parts = [f"({a}valid_from IS NULL OR {a}valid_from <= ?) AND ({a}valid_to IS NULL OR {a}valid_to > ?)"]
            params: list = [self.at, self.at]
        else:
            parts, params = [f"{a}status = 'current'"], []
        if self.klass is not None:
            parts.append(f'{a}"class" = ?')
            params.append(self.klass)
        if self.within:
            parts.append(f"{a}code >= ? AND {a}code < ?")
            params += [self.code_prefix, self.code_prefix + "~"]
        return " AND ".join(parts), params


ANY = SearchFilter()


class NameStore(ABC):
    """What the gazetteer needs of a database: :class:`GeoPackageNameStore` and
    :class:`~placenames.postgis.PostgisNameStore`."""

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
    def history(self, record_id: int) -> list[NameRecord]:
        """The names this one replaced and that replaced it, oldest first."""

    @abstractmethod
    def candidates(self, query: str, kinds: tuple[str, ...], mode: str, limit: int,
                   where: SearchFilter = ANY) -> list[tuple[int, str, str]]:
        """``(name_id, key, kind)`` whose key equals (``exact``) or starts with (``prefix``) the query, of
        the names ``where`` admits; the nearest first when ``where.near`` and more match than ``limit``."""

    @abstractmethod
    def gram_candidates(self, gram: str, limit: int, where: SearchFilter = ANY) -> list[int]:
        """Names containing a one- or two-character piece, as :meth:`candidates` chooses them."""

    @abstractmethod
    def containing(self, ids: list[int], text: str) -> list[int]:
        """Those of ``ids`` whose name or an alias contains ``text``."""

    @abstractmethod
    def points(self, ids: list[int]) -> list[tuple[int, float, float, int]]:
        """``(id, lon, lat, importance)`` of names, for ranking without reading whole records."""

    @abstractmethod
    def divisions(self, level: str | None = None) -> gpd.GeoDataFrame: ...

    @abstractmethod
    def put_divisions(self, frame: gpd.GeoDataFrame) -> int: ...

    @abstractmethod
    def all_names(self) -> pd.DataFrame: ...


def open_name_store(db: str | Store) -> NameStore:
    """The gazetteer store of a database: a GeoPackage path, a ``postgresql://`` URL, or the boundaries'
    :class:`~boundaries.store.Store` of one (whose connection it then shares)."""
    url = db if isinstance(db, str) else db.url
    if url.startswith(("postgresql://", "postgres://")):
        raise PlacenamesError("the gazetteer on PostGIS is not yet available; use the GeoPackage database")
    return GeoPackageNameStore(Path(url), None if isinstance(db, str) else db)


def _keys(record: NameRecord) -> set[tuple[str, str]]:
    """``(key, kind)`` of a name for ``name_keys``."""
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
    return {(key, kind) for key, kind in keys if key}


def _grams(record: NameRecord) -> set[str]:
    grams = set()
    for text in (record.name, *record.aliases):
        grams |= {c for c in text if not c.isascii()}
        grams |= {text[i:i + 2] for i in range(len(text) - 1) if not text[i:i + 2].isascii()}
    return grams


def _filter_values(record: NameRecord) -> tuple:
    """The values of :data:`_FILTER_COLUMNS` for a record's key rows."""
    klass = CLASSES.index(record.klass) if record.klass in CLASSES else -1
    return klass, record.code or "", int(record.status == "current"), record.valid_from, record.valid_to


def key_rows(records: Iterable[tuple[int, NameRecord]]) -> tuple[list[tuple], list[tuple]]:
    """Rows of ``name_keys`` ``(key, kind, name_id, *filters)`` and of ``name_grams``
    ``(gram, klass, code, name_id, current, valid_from, valid_to)``, each sorted in its key's order."""
    keys, grams = [], []
    for record_id, record in records:
        values = _filter_values(record)
        klass, code, rest = values[0], values[1], values[2:]
        keys += [(key, kind, record_id, *values) for key, kind in _keys(record)]
        grams += [(gram, klass, code, record_id, *rest) for gram in _grams(record)]
    keys.sort()
    grams.sort()
    return keys, grams


def key_match(query: str, kinds: tuple[str, ...], mode: str, alias: str = "") -> tuple[str, list]:
    """The condition of an ``exact`` or ``prefix`` look-up in ``name_keys`` (``?`` placeholders)."""
    marks = ", ".join("?" * len(kinds))
    if mode == "exact":
        return f"{alias}key = ? AND {alias}kind IN ({marks})", [query, *kinds]
    return (f"{alias}key >= ? AND {alias}key < ? AND {alias}kind IN ({marks})",
            [query, query + "\U0010ffff", *kinds])


def window(near: tuple[float, float], half_km: float) -> tuple[float, float, float, float]:
    """The (W, S, E, N) box holding every point within ``half_km`` of ``near``."""
    lon, lat = near
    dlat = half_km / 110.574
    dlon = half_km / (111.320 * max(0.05, math.cos(math.radians(min(89.0, abs(lat) + dlat)))))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


#: The nearest-first look-up widens its window from this half-size (km) …
_NEAR_START_KM = 5.0
#: … up to this: beyond 300 km distance no longer changes a score (lookup.py), so farther names are equal.
_NEAR_MAX_KM = 320.0


class GeoPackageNameStore(NameStore):
    """Names and divisions as layers of the GeoPackage, search keys in plain tables beside them."""

    def __init__(self, path: Path, store: Store | None = None):
        self.path = path
        self._store = store if store is not None else open_store(str(path))

    @property
    def con(self) -> sqlite3.Connection:
        return self._store.connection()

    def init(self) -> None:
        self._store.init()  # the GeoPackage itself, with its SRS table
        with gpkg.transaction(self.con) as con:
            gpkg.create_feature_table(con, "names", _NAME_COLUMNS, "POINT", _SRID, "地名 place names")
            gpkg.create_feature_table(con, "divisions", _DIVISION_COLUMNS, "MULTIPOLYGON", _SRID,
                                      "行政区划 divisions")
            outdated = gpkg.has_table(con, "name_grams") and "klass" not in {
                row[1] for row in con.execute("PRAGMA table_info(name_grams)")}
            if outdated:  # keys without the filter columns (before 0.x): rebuilt from the names
                con.execute("DROP TABLE name_keys")
                con.execute("DROP TABLE name_grams")
            # clustered on the look-up key (WITHOUT ROWID): one B-tree per table instead of table + index;
            # the by-name indexes serve updates and the nearest-first look-up (is this name a match?)
            for sql in ("CREATE TABLE IF NOT EXISTS name_keys (key TEXT, kind TEXT, name_id INTEGER, "
                        "klass INTEGER, code TEXT, current INTEGER, valid_from TEXT, valid_to TEXT, "
                        "PRIMARY KEY (key, kind, name_id)) WITHOUT ROWID",
                        "CREATE INDEX IF NOT EXISTS name_keys_id ON name_keys (name_id)",
                        "CREATE TABLE IF NOT EXISTS name_grams (gram TEXT, klass INTEGER, code TEXT, "
                        "name_id INTEGER, current INTEGER, valid_from TEXT, valid_to TEXT, "
                        "PRIMARY KEY (gram, klass, code, name_id)) WITHOUT ROWID",
                        "CREATE INDEX IF NOT EXISTS name_grams_id ON name_grams (name_id, gram)",
                        "CREATE INDEX IF NOT EXISTS names_source ON names (source, source_id)",
                        "CREATE UNIQUE INDEX IF NOT EXISTS divisions_code ON divisions (code)"):
                con.execute(sql)
            if outdated:
                self._insert_keys([(r.id, r) for r in self.get(
                    [fid for (fid,) in con.execute("SELECT fid FROM names ORDER BY fid")])])

    def has_names(self) -> bool:
        return self.path.is_file() and gpkg.has_table(self.con, "name_keys")

    @contextmanager
    def write(self):
        """One transaction: everything inside is stored whole or not at all."""
        if not gpkg.has_table(self.con, "names") or not gpkg.has_table(self.con, "name_keys"):
            self.init()
        with gpkg.transaction(self.con):
            yield

    # -- names ------------------------------------------------------------------------------------
    def upsert(self, records: list[NameRecord]) -> tuple[int, int]:
        con = self.con
        known = {}
        keyed = [(r.source, r.source_id) for r in records if r.source_id]
        if keyed:
            for fid, source, source_id, name in con.execute(
                    "SELECT fid, source, source_id, name FROM names WHERE status = 'current' AND source_id IS NOT NULL "
                    "AND source_id IN (SELECT value FROM json_each(?))", (json.dumps([k[1] for k in keyed]),)):
                known[(source, source_id)] = (fid, name)
        updated = 0
        blobs = gpkg.encode(np.array([shapely.Point(r.lon, r.lat) for r in records], dtype=object), _SRID)
        next_fid = (con.execute("SELECT max(fid) FROM names").fetchone()[0] or 0) + 1
        new_rows, stored = [], []
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
                    ended = (record.valid_from, previous[0])
                    con.execute("UPDATE names SET status = 'historical', superseded_by = ?, "
                                "valid_to = coalesce(?, date('now')) WHERE fid = ?", (record_id, *ended))
                    for table in ("name_keys", "name_grams"):
                        con.execute(f"UPDATE {table} SET current = 0, valid_to = coalesce(?, date('now')) "
                                    "WHERE name_id = ?", ended)
            stored.append((record_id, record))
        _insert_points(con, new_rows)
        self._insert_keys(stored)
        return len(new_rows), updated

    def _insert_keys(self, stored: list[tuple[int, NameRecord]]) -> None:
        # sorted, so that the B-trees are filled in order rather than at random pages
        keys, grams = key_rows(stored)
        self.con.executemany("INSERT OR IGNORE INTO name_keys (key, kind, name_id, klass, code, current, "
                             "valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", keys)
        self.con.executemany("INSERT OR IGNORE INTO name_grams (gram, klass, code, name_id, current, "
                             "valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?)", grams)

    def get(self, ids):
        ids = list(ids)
        if not ids:
            return []
        rows = self.con.execute(f"SELECT fid, {', '.join(_NAME_COLUMNS)} FROM names WHERE fid IN "
                                "(SELECT value FROM json_each(?))", (json.dumps(ids),)).fetchall()
        by_id = {row[0]: _record(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def history(self, record_id: int) -> list[NameRecord]:
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

    def candidates(self, query, kinds, mode, limit, where=ANY):
        sql, params = key_match(query, kinds, mode)
        condition, values = where.key_sql()
        rows = self.con.execute(f"SELECT name_id, key, kind FROM name_keys WHERE {sql} AND {condition} LIMIT ?",
                                [*params, *values, limit]).fetchall()
        if where.near is None or len(rows) < limit:
            return rows
        join = f"JOIN name_keys k ON k.name_id = n.fid AND {key_match(query, kinds, mode, 'k.')[0]}"
        return self._nearest("k.name_id, k.key, k.kind", join, params, where) or rows

    def gram_candidates(self, gram, limit, where=ANY):
        condition, values = where.key_sql()
        rows = [row[0] for row in self.con.execute(f"SELECT name_id FROM name_grams WHERE gram = ? AND {condition} "
                                                   "LIMIT ?", (gram, *values, limit))]
        if where.near is None or len(rows) < limit:
            return rows
        near = self._nearest("n.fid", "JOIN name_grams g ON g.name_id = n.fid AND g.gram = ?", [gram], where)
        return [row[0] for row in near] or rows

    def _nearest(self, columns: str, join: str, params: list, where: SearchFilter) -> list[tuple]:
        """Rows of a look-up among the names in a window around ``where.near`` that widens until it holds
        ``where.near_count`` names (or reaches the distance beyond which nearness no longer counts).
        The spatial index finds the names in the window; the by-name key index says whether each matches
        (CROSS JOIN keeps SQLite's planner from reading every key row of a common gram instead)."""
        condition, values = where.names_sql("n.")
        half = _NEAR_START_KM
        while True:
            w, s, e, n = window(where.near, half)
            rows = self.con.execute(
                f"SELECT {columns} FROM rtree_names_geom r CROSS JOIN names n ON n.fid = r.id CROSS {join} "
                f"WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ? AND {condition}",
                [*params, e, w, n, s, *values]).fetchall()
            found = len({row[0] for row in rows})
            if found >= where.near_count or half >= _NEAR_MAX_KM:
                return rows
            # widen to the size the density of the matches found so far asks for, at least by half
            grow = 1.25 * math.sqrt(where.near_count / found) if found else 4.0
            half = min(_NEAR_MAX_KM, half * max(1.5, grow))

    def containing(self, ids, text):
        if not ids:
            return []
        return [row[0] for row in self.con.execute(
            "SELECT fid FROM names WHERE fid IN (SELECT value FROM json_each(?)) AND "
            "(instr(name, ?) > 0 OR instr(aliases, ?) > 0)", (json.dumps(ids), text, text))]

    def points(self, ids):
        if not ids:
            return []
        return self.con.execute("SELECT fid, lon, lat, importance FROM names WHERE fid IN "
                                "(SELECT value FROM json_each(?))", (json.dumps(list(ids)),)).fetchall()

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
