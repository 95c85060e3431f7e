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
candidates. Each key row also carries the 0.1° grid cell of its name's point, and a (cell, name_id) index
— which holds the key too — finds a name's rows on update and the matches near a point, ring of cells after
ring, for ``near`` (PostGIS orders by distance with its GiST index instead: :mod:`placenames.postgis`).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import ClassVar

from boundaries._lazy import lazy_module
from boundaries.errors import StoreError
from boundaries.store import Page, Store, gpkg, open_store
from placenames.model import CLASSES, NameRecord, importance
from placenames.romanize import initials, initials_of, pinyin_key, split_name
from placenames.schema import (
    _V1_DIVISION_COLUMNS,
    CELL_INDEXES,
    DIVISION_COLUMNS,
    EXTENT_COLUMNS,
    MIGRATIONS,
    NAME_COLUMNS,
    SCHEMA_VERSION,
    SRID,
)

gpd = lazy_module("geopandas")
np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = ["GeoPackageNameStore", "NameStore", "SearchFilter", "open_name_store"]

_SRID = SRID
_NAME_COLUMNS, _DIVISION_COLUMNS, _EXTENT_COLUMNS = NAME_COLUMNS, DIVISION_COLUMNS, EXTENT_COLUMNS
#: What a key row carries besides its key, for the filters: class index, code, current, valid from/to, cell.
_FILTER_COLUMNS = ("klass", "code", "current", "valid_from", "valid_to", "cell")
#: The columns of the two key tables, in the order of :func:`key_rows`' rows.
KEY_COLUMNS = ("key", "kind", "name_id", *_FILTER_COLUMNS)
GRAM_COLUMNS = ("gram", "klass", "code", "name_id", "current", "valid_from", "valid_to", "cell")
_CELL_INDEXES = CELL_INDEXES


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

    def upsert_batches(self, batches: Iterable[list[NameRecord]]) -> tuple[int, int]:
        """:meth:`upsert` each batch in turn (inside the caller's :meth:`write`), so that an import holds one
        batch's records and key rows at a time instead of the whole file's; into empty key tables their
        secondary indexes are built once after the last batch (:meth:`_bulk`)."""
        inserted = updated = 0
        with self._bulk():
            for batch in batches:
                new, changed = self.upsert(batch)
                inserted, updated = inserted + new, updated + changed
        return inserted, updated

    @contextmanager
    def _bulk(self):
        """Around a batched import: by default nothing (a backend drops and rebuilds indexes here)."""
        yield

    @abstractmethod
    def get(self, ids: Iterable[int], extents: bool = False) -> list[NameRecord]:
        """The records of ``ids`` in that order (unknown ids left out), with their extents' bounds, and with
        the extents themselves if ``extents``."""

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
    def points(self, ids: list[int]) -> list[tuple[int, float, float, int, int | None]]:
        """``(id, lon, lat, importance, population)`` of names, for ranking without reading whole records."""

    def best_near(self, scores: dict[int, float], near: tuple[float, float], count: int) -> list[int]:
        """Of the names of ``scores`` (id → the score of the match), at least those ``count`` that rank best
        near ``near`` by :func:`~placenames.lookup.search`'s ranking (the score, plus prominence, less 1 point a
        10 km, at most 30), for :meth:`points` to read instead of all of them. By default all: the
        GeoPackage reads their points in one look-up of its own file."""
        return list(scores)

    @abstractmethod
    def divisions(self, level: str | None = None, *, at: str | None = None, history: bool = False,
                  codes: Iterable[str] | None = None) -> gpd.GeoDataFrame:
        """Division polygons: the current ones, those in force on ``at`` (``YYYY-MM-DD``), or every record
        (``history``); of one ``level`` and of ``codes`` if given."""

    @abstractmethod
    def extents(self) -> gpd.GeoDataFrame:
        """Every stored extent: ``fid`` (the name's) and the geometry."""

    @abstractmethod
    def put_divisions(self, frame: gpd.GeoDataFrame, valid_from: str | None = None) -> int:
        """Store divisions as current records, replacing the current record of the same code in place
        (a first load; a re-import that records the changes is :func:`placenames.history.record_divisions`)."""

    @abstractmethod
    def all_names(self, ids: Iterable[int] | None = None) -> pd.DataFrame:
        """Every name as a row of the ``names`` table (only those of ``ids`` if given)."""

    @abstractmethod
    def size(self) -> int:
        """Bytes the database takes."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection, unless it is shared with the boundaries' store it was opened from."""

    def __enter__(self) -> NameStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_name_store(db: str | Store) -> NameStore:
    """The gazetteer store of a database: a GeoPackage path, a ``postgresql://`` URL, or the boundaries'
    :class:`~boundaries.store.Store` of one (whose connection it then shares)."""
    url = db if isinstance(db, str) else db.url
    if url.startswith(("postgresql://", "postgres://")):
        from placenames.postgis import PostgisNameStore

        return PostgisNameStore(db)
    return GeoPackageNameStore(Path(url), None if isinstance(db, str) else db)


def init_database(db: str) -> str:
    """Create the gazetteer's tables in a database (``quhua init`` calls it through ``quhua.init``)."""
    with open_name_store(db) as store:
        store.init()
    return "gazetteer tables ready (names, name_extents, divisions)"


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
    return (klass, record.code or "", int(record.status == "current"), record.valid_from, record.valid_to,
            cell_of(record.lon, record.lat))


#: Key rows carry the grid cell of their name's point: cells of 0.1° (about 10 km), numbered row by row.
CELL_DEGREES, _CELLS_PER_ROW = 0.1, 3600


def cell_of(lon: float, lat: float) -> int:
    """The grid cell of a point.

    >>> cell_of(115.88, 28.68) - cell_of(115.88, 28.58), cell_of(115.98, 28.68) - cell_of(115.88, 28.68)
    (3600, 1)
    """
    return math.floor((lat + 90) / CELL_DEGREES) * _CELLS_PER_ROW + math.floor((lon + 180) / CELL_DEGREES)


def ring(near: tuple[float, float], radius: int) -> list[int]:
    """The cells at ``radius`` cells (Chebyshev distance) from the cell of ``near``.

    >>> len(ring((115.88, 28.68), 0)), len(ring((115.88, 28.68), 2))
    (1, 16)
    """
    centre = cell_of(*near)
    row, column = divmod(centre, _CELLS_PER_ROW)
    if radius == 0:
        return [centre]
    cells = []
    for dy in range(-radius, radius + 1):
        for dx in ((-radius, radius) if abs(dy) < radius else range(-radius, radius + 1)):
            cells.append((row + dy) * _CELLS_PER_ROW + column + dx)
    return cells


#: The attribute of a record holding its :func:`search_keys` when they were computed ahead (by the process
#: that reads an import's file, :func:`placenames.importers.import_names`): they depend only on the name,
#: pinyin and aliases, which storing the record leaves as they are
SEARCH_KEYS = "_search_keys"


def search_keys(record: NameRecord) -> tuple[set[tuple[str, str]], set[str]]:
    """A record's ``(key, kind)`` pairs for ``name_keys`` and its grams for ``name_grams``."""
    return _keys(record), _grams(record)


#: a gram row's columns after its gram, taken from a key row's after (key, kind): ``(name_id, *filters)``
_GRAM_COLUMNS_OF_KEY = itemgetter(*[KEY_COLUMNS[2:].index(column) for column in GRAM_COLUMNS[1:]])


def key_rows(records: Iterable[tuple[int, NameRecord]], ordered: bool = True) -> tuple[list[tuple], list[tuple]]:
    """Rows of ``name_keys`` (:data:`KEY_COLUMNS`) and of ``name_grams`` (:data:`GRAM_COLUMNS`), each sorted
    by its key if ``ordered`` (for B-trees that take them row by row; not for tables whose indexes are built
    after the rows are in)."""
    keys, grams = [], []
    for record_id, record in records:
        columns = (record_id, *_filter_values(record))
        gram_columns = _GRAM_COLUMNS_OF_KEY(columns)
        record_keys, record_grams = getattr(record, SEARCH_KEYS, None) or search_keys(record)
        keys += [(key, kind, *columns) for key, kind in record_keys]
        grams += [(gram, *gram_columns) for gram in record_grams]
    if ordered:  # by the key alone (cheap string comparisons; rows of one key stay in name order)
        keys.sort(key=itemgetter(0))
        grams.sort(key=itemgetter(0))
    return keys, grams


#: what the text format of COPY would have to escape: a control character or a backslash
_COPY_UNSAFE = re.compile(r"[\x00-\x1f\\]")
_NULL = "\\N"


@dataclass
class CopyText:
    """Rows as the data of ``COPY … FROM STDIN`` in its text format, and how many."""

    text: str
    count: int

    def __len__(self) -> int:
        return self.count


def key_copy_texts(records: list[tuple[int, NameRecord]]) -> tuple[CopyText, CopyText] | None:
    """:func:`key_rows` (ordered) as COPY text: the same rows in the same order, each one string of its key
    and its name's columns (formatted once per name), where ``key_rows`` makes a tuple of each row that a
    COPY writes value by value — about half the importing process's time on PostGIS (py-spy over 1 M
    names; 50,000 names, 530,000 rows: 1.1–1.4 → 0.7–0.8 s of CPU). None when a key, a gram or a value holds a
    character the text format would have to escape: ``key_rows`` then, whose values psycopg escapes.
    (Hand-written: psycopg formats only row by row.)"""
    key_text, key_of, gram_text, gram_of, values = [], [], [], [], []
    for record_id, record in records:
        columns = (record_id, *_filter_values(record))
        values += [value for value in columns if isinstance(value, str)]  # (numbers need no escaping)
        fields = [_NULL if value is None else str(value) for value in columns]
        key_tail = "\t" + "\t".join(fields) + "\n"
        gram_tail = "\t" + "\t".join(_GRAM_COLUMNS_OF_KEY(fields)) + "\n"
        record_keys, record_grams = getattr(record, SEARCH_KEYS, None) or search_keys(record)
        key_text += [f"{key}\t{kind}{key_tail}" for key, kind in record_keys]
        key_of += [key for key, _ in record_keys]
        gram_text += [gram + gram_tail for gram in record_grams]
        gram_of += record_grams
    if any(_COPY_UNSAFE.search("".join(part)) for part in (key_of, gram_of, values)):
        return None
    # sorted by the key alone, stably, as key_rows sorts its rows (the kinds are names of ours)
    return tuple(CopyText("".join(map(text.__getitem__, key_order(of))), len(of))
                 for text, of in ((key_text, key_of), (gram_text, gram_of)))


def key_order(keys: list[str]) -> list[int]:
    """The positions of ``keys`` in the order ``sorted`` puts them, ties in their order: by Arrow's stable
    sort of their UTF-8 bytes, whose order is that of the code points Python compares (a string that UTF-8
    cannot hold, a lone surrogate, is sorted by Python). A batch's 530,000 keys and grams: 0.11 s instead
    of 0.27 s.

    >>> key_order(["bj", "b", "bj", "a"])
    [3, 1, 0, 2]
    """
    import pyarrow as pa  # (here, not at the top: a search does not load Arrow)
    import pyarrow.compute as pc

    try:
        return pc.sort_indices(pa.array(keys, type=pa.string())).to_numpy().tolist()
    except UnicodeEncodeError:
        return sorted(range(len(keys)), key=keys.__getitem__)


def key_match(query: str, kinds: tuple[str, ...], mode: str, alias: str = "") -> tuple[str, list]:
    """The condition of an ``exact`` or ``prefix`` look-up in ``name_keys`` (``?`` placeholders)."""
    marks = ", ".join("?" * len(kinds))
    if mode == "exact":
        return f"{alias}key = ? AND {alias}kind IN ({marks})", [query, *kinds]
    return (f"{alias}key >= ? AND {alias}key < ? AND {alias}kind IN ({marks})",
            [query, query + "\U0010ffff", *kinds])


#: The nearest-first look-up reads rings of cells up to about 330 km (30 cells) from the point: beyond 300 km
#: distance no longer changes a score (lookup.py), so farther names are all equal. A query per ring; where
#: a query costs a round trip to a server, several rings per query, more as they widen.
_NEAR_RINGS = tuple(range(31))
_NEAR_RINGS_SERVER = (0, 1, 2, 3, 5, 7, 10, 14, 19, 25, 30)
_PRIMARY_KEYS = {"name_keys": ("key", "kind", "name_id"), "name_grams": ("gram", "klass", "code", "name_id")}


class SqlNameStore(NameStore):
    """Names and their search keys over a DB-API connection: what a user can observe is written once,
    here; the backends supply the hooks at the bottom (SQL is written with ``?`` placeholders)."""

    # -- names ------------------------------------------------------------------------------------
    def upsert(self, records: list[NameRecord]) -> tuple[int, int]:
        known = {}
        keyed = [r.source_id for r in records if r.source_id]
        if keyed:
            where, param = self._in("source_id", keyed)
            for fid, source, source_id, name, lon, lat in self._rows(
                    f"SELECT fid, source, source_id, name, lon, lat FROM names WHERE status = 'current' AND {where}",
                    [param]):
                known[(source, source_id)] = (fid, name, cell_of(lon, lat))
        updated = 0
        geoms = self._points(np.array([r.lon for r in records]), np.array([r.lat for r in records]))
        fresh = iter(self._new_fids(sum(
            (r.source, r.source_id) not in known or known[(r.source, r.source_id)][1] != r.name for r in records)))
        new_rows, stored, replaced = [], [], []
        for record, geom in zip(records, geoms, strict=True):
            aliases = json.dumps(record.aliases, ensure_ascii=False) if record.aliases else "[]"
            values = [record.name, record.pinyin, record.klass, record.subclass, record.code, aliases,
                      record.status, record.valid_from, record.valid_to, record.source, record.source_id,
                      record.approved_by, record.approved_on,
                      record.superseded_by, record.lon, record.lat,
                      importance(record.klass, record.code, record.subclass, record.name), record.population, geom]
            previous = known.get((record.source, record.source_id))
            if previous and previous[1] == record.name:
                record_id = previous[0]
                self._run(f"UPDATE names SET {', '.join(f'{c} = ?' for c in _quoted(_NAME_COLUMNS))}, "
                          f"geom = {self._geom_marker} WHERE fid = ?", [*values, record_id])
                for table in self._key_tables:  # found through the (cell, name_id) index
                    self._run(f"DELETE FROM {table} WHERE cell = ? AND name_id = ?", [previous[2], record_id])
                replaced.append(record_id)
                updated += 1
            else:
                record_id = next(fresh)
                new_rows.append([record_id, *values])
                if previous:  # renamed: the old name becomes history
                    self._run("UPDATE names SET status = 'historical', superseded_by = ?, "
                              f"valid_to = coalesce(?, {self._today}) WHERE fid = ?",
                              [record_id, record.valid_from, previous[0]])
                    for table in self._key_tables:
                        self._run(f"UPDATE {table} SET current = 0, valid_to = coalesce(?, {self._today}) "
                                  "WHERE cell = ? AND name_id = ?", [record.valid_from, previous[2], previous[0]])
            stored.append((record_id, record))
        if replaced:  # an updated name's extent is the file's now: none, or the one inserted below
            where, param = self._in("fid", replaced)
            self._run(f"DELETE FROM name_extents WHERE {where}", [param])
        self._insert_names(new_rows)
        self._store_keys(stored)
        with_extent = [(i, r) for i, r in stored if r.extent is not None]
        if with_extent:
            geoms = self._geoms(np.asarray([r.extent for _, r in with_extent], dtype=object))
            self._insert_extents([(i, r.name, *r.bbox, geom) for (i, r), geom in zip(with_extent, geoms, strict=True)])
        return len(new_rows), updated

    def get(self, ids, extents=False):
        ids = list(ids)
        if not ids:
            return []
        self._upgrade()
        where, param = self._in("fid", ids)
        rows = self._rows(f"SELECT fid, {', '.join(_quoted(_NAME_COLUMNS))} FROM names WHERE {where}", [param])
        by_id = {row[0]: _record(row) for row in rows}
        if by_id and self._extents_table():
            geom = f", {self._geom_select}" if extents else ""
            found = self._rows(f"SELECT fid, west, south, east, north{geom} FROM name_extents WHERE {where}", [param])
            shapes = self._decode([row[5] for row in found]) if extents else [None] * len(found)
            for row, shape in zip(found, shapes, strict=True):
                by_id[row[0]].bbox, by_id[row[0]].extent = tuple(row[1:5]), shape
        return [by_id[i] for i in ids if i in by_id]

    def history(self, record_id: int) -> list[NameRecord]:
        seen = set()
        frontier = [record_id]
        while frontier:
            current = frontier.pop()
            if current in seen:
                continue
            seen.add(current)
            frontier += [fid for (fid,) in self._rows("SELECT fid FROM names WHERE superseded_by = ? OR fid = ("
                                                      "SELECT superseded_by FROM names WHERE fid = ?)",
                                                      [current, current])]
        chain = self.get(sorted(seen))
        return sorted(chain, key=lambda r: (r.valid_from or "", r.id))

    def candidates(self, query, kinds, mode, limit, where=ANY):
        self._upgrade()
        sql, params = key_match(query, kinds, mode)
        condition, values = where.key_sql()
        rows = self._rows(f"SELECT name_id, key, kind FROM name_keys WHERE {sql} AND {condition} LIMIT ?",
                          [*params, *values, limit])
        if len(rows) < limit or where.near is None:
            return rows
        return self._nearest("name_id, key, kind", "name_keys", sql, params, where) or rows

    def gram_candidates(self, gram, limit, where=ANY):
        self._upgrade()
        condition, values = where.key_sql()
        rows = [row[0] for row in self._rows(f"SELECT name_id FROM name_grams WHERE gram = ? AND {condition} "
                                             "LIMIT ?", [gram, *values, limit])]
        if len(rows) < limit or where.near is None:
            return rows
        return [row[0] for row in self._nearest("name_id", "name_grams", "gram = ?", [gram], where)] or rows

    def containing(self, ids, text):
        if not ids:
            return []
        where, param = self._in("fid", ids)
        return [row[0] for row in self._rows(f"SELECT fid FROM names WHERE {where} AND "
                                             f"({self._contains('name')} OR {self._contains('aliases')})",
                                             [param, text, text])]

    def points(self, ids):
        if not ids:
            return []
        where, param = self._in("fid", list(ids))
        self._upgrade()
        return self._rows(f"SELECT fid, lon, lat, importance, population FROM names WHERE {where}", [param])

    def extents(self) -> gpd.GeoDataFrame:
        rows = self._rows(f"SELECT fid, {self._geom_select} FROM name_extents") if self._extents_table() else []
        return gpd.GeoDataFrame({"fid": [r[0] for r in rows]}, geometry=self._decode([r[1] for r in rows]),
                                crs="EPSG:4490")

    _with_extents = False

    def _extents_table(self) -> bool:
        """Whether ``name_extents`` exists (older databases lack it until their next import): asked of the
        database until it does, so that a search does not ask every time."""
        if not self._with_extents:
            self._with_extents = self._has_table("name_extents")
        return self._with_extents

    def all_names(self, ids=None):
        if not self._has_table("names"):
            return pd.DataFrame(columns=["fid", *_NAME_COLUMNS])
        self._upgrade()
        where, params = self._in("fid", [int(i) for i in ids]) if ids is not None else ("1 = 1", None)
        rows = self._rows(f"SELECT fid, {', '.join(_quoted(_NAME_COLUMNS))} FROM names WHERE {where}",
                          [] if params is None else [params])
        return pd.DataFrame.from_records(rows, columns=["fid", *_NAME_COLUMNS])

    # -- divisions (their dated history: placenames.history) -------------------------------------------
    def _division_history(self) -> bool:
        """Whether the divisions carry their history columns (schema version 7; an older file read in a
        read snapshot, which is not upgraded, does not)."""
        return self.schema_version() >= 7

    def put_divisions(self, frame, valid_from=None):
        geoms = self._geoms(np.asarray(frame.geometry.values, dtype=object))
        rows = [(r.code, r.name, r.level, r.parent, valid_from, geom)
                for r, geom in zip(frame.itertuples(), geoms, strict=True)]
        self._run_many("INSERT INTO divisions (code, name, level, parent, status, valid_from, geom) VALUES "
                       f"(?, ?, ?, ?, 'current', ?, {self._geom_marker}) ON CONFLICT (code) WHERE status = 'current' "
                       "DO UPDATE SET name = excluded.name, level = excluded.level, parent = excluded.parent, "
                       "geom = excluded.geom", rows)
        return len(rows)

    def insert_divisions(self, rows: list[tuple]) -> None:
        """Insert current division records: (code, name, level, parent, valid_from, geometry)."""
        if rows:
            geoms = self._geoms(np.asarray([r[-1] for r in rows], dtype=object))
            self._run_many("INSERT INTO divisions (code, name, level, parent, status, valid_from, geom) VALUES "
                           f"(?, ?, ?, ?, 'current', ?, {self._geom_marker})",
                           [(*r[:-1], g) for r, g in zip(rows, geoms, strict=True)])

    def close_divisions(self, rows: list[tuple]) -> None:
        """End division records: (fid, valid_to, superseded_by, change); they become historical."""
        if rows:
            self._run_many("UPDATE divisions SET status = 'historical', valid_to = ?, superseded_by = ?, "
                           "change = ? WHERE fid = ?", [(t, s, k, fid) for fid, t, s, k in rows])

    def correct_divisions(self, rows: list[tuple]) -> None:
        """Replace the outline, level and parent of current records in place: (fid, level, parent, geometry)."""
        if rows:
            geoms = self._geoms(np.asarray([r[-1] for r in rows], dtype=object))
            self._run_many(f"UPDATE divisions SET level = ?, parent = ?, geom = {self._geom_marker} WHERE fid = ?",
                           [(level, parent, g, fid) for (fid, level, parent, _), g in zip(rows, geoms, strict=True)])

    def division_links(self) -> list[tuple]:
        """(code, superseded_by, status, valid_to, change, name) of every division record: the graph of
        the codes' history, without outlines."""
        if not self._has_table("divisions"):
            return []
        if not self._division_history():
            return [(c, None, "current", None, None, n) for c, n in self._rows("SELECT code, name FROM divisions")]
        return self._rows("SELECT code, superseded_by, status, valid_to, change, name FROM divisions")

    def retire_division_names(self, rows: list[tuple]) -> None:
        """End the divisions' own names (source ``divisions``) of codes that are gone: (old code, date,
        successor code or None); each becomes historical on that date, superseded by its successor's name."""
        if not rows:
            return
        codes = [r[0] for r in rows] + [r[2] for r in rows if r[2]]
        where, param = self._in("source_id", codes)
        found = {source_id: (fid, lon, lat) for fid, source_id, lon, lat in self._rows(
            f"SELECT fid, source_id, lon, lat FROM names WHERE {where} AND source = 'divisions' "
            "AND status = 'current'", [param])}
        for old, when, new in rows:
            if old not in found:
                continue
            fid, lon, lat = found[old]
            successor = found[new][0] if new in found else None
            self._run("UPDATE names SET status = 'historical', valid_to = ?, superseded_by = ? WHERE fid = ?",
                      [when, successor, fid])
            for table in ("name_keys", "name_grams"):
                self._run(f"UPDATE {table} SET current = 0, valid_to = ? WHERE cell = ? AND name_id = ?",
                          [when, cell_of(lon, lat), fid])

    def divisions(self, level=None, *, at=None, history=False, codes=None):
        columns = list(_DIVISION_COLUMNS)
        empty = gpd.GeoDataFrame({c: [] for c in ["fid", *columns]}, geometry=[], crs="EPSG:4490")
        if not self._has_table("divisions"):
            return empty
        dated = self._division_history()
        selected = [f'"{c}"' if c in _V1_DIVISION_COLUMNS or dated else f"NULL AS {c}" for c in columns]
        where, params = [], []
        if at and dated:  # in force on the day, or on some day of the interval (start, end), None: open
            start, end = (at, at) if isinstance(at, str) else tuple(at)
            if end is not None:
                where.append("(valid_from IS NULL OR valid_from <= ?)")
                params.append(str(end)[:10])
            if start is not None:
                where.append("(valid_to IS NULL OR valid_to > ?)")
                params.append(str(start)[:10])
        elif not history and dated:
            where.append("status = 'current'")
        if level:
            where.append("level = ?")
            params.append(level)
        if codes is not None:
            clause, param = self._in("code", list(codes))
            where.append(clause)
            params.append(param)
        sql = (f"SELECT fid, {', '.join(selected)}, {self._geom_select} FROM divisions"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY code, fid")
        rows = self._rows(sql, params)
        if not rows:
            return empty
        frame = pd.DataFrame.from_records(rows, columns=["fid", *columns, "geom"])
        if not dated:
            frame["status"] = "current"
        return gpd.GeoDataFrame(frame.drop(columns="geom"), geometry=self._decode(list(frame["geom"])),
                                crs="EPSG:4490")

    def division_at_points(self, points: list[tuple[float, float]], at: str | None = None,
                           level: str = "county") -> list[tuple[str, str] | None]:
        """For each (lon, lat), the (code, name) of the division of ``level`` in force on ``at`` (current
        without it) whose polygon covers the point, or None."""
        out = []
        for lon, lat in points:
            found = self._divisions_near(lon, lat, at, level)
            point = shapely.Point(lon, lat)
            out.append(next(((code, name) for code, name, geom in found if shapely.covers(geom, point)), None))
        return out

    def _divisions_near(self, lon: float, lat: float, at: str | None, level: str) -> list[tuple]:
        """(code, name, geometry) of the divisions of ``level`` valid on ``at`` whose bounds hold the point."""
        if not self._has_table("divisions"):
            return []
        clause, params = self._divisions_bbox(lon, lat)
        dated = self._division_history()
        where = [clause, "level = ?"]
        params = [*params, level]
        if at and dated:
            where.append("(valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)")
            params += [at, at]
        elif dated:
            where.append("status = 'current'")
        rows = self._rows(f"SELECT code, name, {self._geom_select} FROM divisions WHERE {' AND '.join(where)}",
                          params)
        geoms = self._decode([r[2] for r in rows])
        return [(r[0], r[1], g) for r, g in zip(rows, geoms, strict=True)]

    @abstractmethod
    def _divisions_bbox(self, lon: float, lat: float) -> tuple[str, list]:
        """The spatial index's condition for the divisions whose bounds hold a point."""

    # -- the collections' query interface (as :meth:`boundaries.store.Store.query`) ------------------
    #: the properties of a ``names`` feature: ``id`` (the fid) and the columns but ``importance``
    FEATURE_COLUMNS = ("id", *(c for c in _NAME_COLUMNS if c != "importance"))

    def _name_where(self, *, bbox, province, properties, history, alias: str = "", at=None
                    ) -> tuple[list[str], list]:
        a = alias
        status = f"{a}status" if bbox is None else self._store.dialect.unindexed(f"{a}status")  # rtree leads
        where, params = ([] if history or at is not None else [f"{status} = 'current'"]), []
        if at is not None:  # in force on the day, or on some day of the interval (start, end), None: open
            start, end = (at, at) if isinstance(at, str) else tuple(at)
            if end is not None:
                where.append(f"({a}valid_from IS NULL OR {a}valid_from <= ?)")
                params.append(str(end)[:10])
            if start is not None:
                where.append(f"({a}valid_to IS NULL OR {a}valid_to > ?)")
                params.append(str(start)[:10])
        if province:
            where.append(f"{a}code >= ? AND {a}code < ?")  # a key range: the code starts with the two digits
            params += [str(province)[:2], str(province)[:2] + "~"]
        for name, value in (properties or {}).items():
            if name not in self.FEATURE_COLUMNS:
                raise StoreError(f"names have no property {name!r}; they have {', '.join(self.FEATURE_COLUMNS)}",
                                 message_zh=f"地名没有属性 {name!r}；其属性为 {'、'.join(self.FEATURE_COLUMNS)}")
            column = f"{a}fid" if name == "id" else f'{a}"{name}"'
            clause, clause_params = self._store.dialect.equals(column, value)
            where.append(clause)
            params += clause_params
        if bbox is not None:
            w, s, e, n = bbox
            clause, clause_params = self._names_bbox(bbox, a)
            # lon/lat are the point's own coordinates (doubles): the index's candidates tested exactly
            where += [clause, f"{a}lon >= ? AND {a}lon <= ? AND {a}lat >= ? AND {a}lat <= ?"]
            params += [*clause_params, w, e, s, n]
        return where, params

    def _fetched(self, rows: list) -> list:
        """``rows``, counted on the boundaries' store this one shares (``Store.rows_read``, which outlives
        this object)."""
        self._store.rows_read = getattr(self._store, "rows_read", 0) + len(rows)
        return rows

    def _name_frame(self, rows: list[tuple], geometry=None) -> gpd.GeoDataFrame:
        frame = pd.DataFrame.from_records(rows, columns=list(self.FEATURE_COLUMNS))
        if geometry is None:
            geometry = shapely.points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
        return gpd.GeoDataFrame(frame, geometry=np.asarray(geometry, dtype=object), crs="EPSG:4490")

    def query_names(self, *, offset: int = 0, limit: int | None = None, after: int | None = None, bbox=None,
                    province: str | None = None, properties=None, sortby=(), history: bool = False,
                    count: bool = True, hits_only: bool = False, at=None) -> Page:
        """A page of the ``names`` collection (points, properties :attr:`FEATURE_COLUMNS`), filtered, ordered
        and paged by the database as :meth:`boundaries.store.Store.query` does: ``bbox`` through the
        spatial index (rtree / GiST) then the exact lon/lat, ``province`` as a range of division codes,
        ``properties`` equality (a list: any of), current names unless ``history``, or with ``at`` (a day
        ``YYYY-MM-DD``, or an interval ``(start, end)``, None for an open end) the names whose own
        ``valid_from``/``valid_to`` contain that day or meet that interval, whatever their status today;
        ``fid`` order after ``sortby``; ``offset``/``limit`` or keyset ``after``."""
        if not self._has_table("names"):
            return Page(self._name_frame([]), 0, False)
        self._upgrade()
        where, params = self._name_where(bbox=bbox, province=province, properties=properties, history=history,
                                         at=at)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        if hits_only:
            return Page(self._name_frame([]), self._store.cached_count(f"SELECT count(*) FROM names{condition}",
                                                                       params), False)
        order = []
        for term in sortby or ():
            name = term.lstrip("+-")
            if name not in self.FEATURE_COLUMNS:
                raise StoreError(f"cannot sort names by {name!r}", message_zh=f"无法按 {name!r} 排序地名")
            order.append(("fid" if name == "id" else f'"{name}"') + (" DESC" if term.startswith("-") else ""))
        keyset, start = after is not None, offset
        if not keyset and not sortby and offset:
            after, offset = self._store.offset_start("names", where, params, offset)
        if after is not None:
            condition += (" AND " if condition else " WHERE ") + "fid > ?"
        columns = ", ".join(["fid", *_quoted(self.FEATURE_COLUMNS[1:])])
        sql = f"SELECT {columns} FROM names{condition} ORDER BY {', '.join([*order, 'fid'])}"
        tail = [] if after is None else [int(after)]
        if limit is not None:
            sql += " LIMIT ?"
            tail.append(int(limit) + 1)
        if keyset:
            offset = 0  # the keyset starts the page: the offset only numbered it (in the API's links)
        if offset:
            sql += ("" if limit is not None else f" LIMIT {self._no_limit}") + " OFFSET ?"
            tail.append(int(offset))
        rows = self._fetched(self._rows(sql, [*params, *tail]))
        more = limit is not None and len(rows) > limit
        frame = self._name_frame(rows[:limit] if more else rows)
        matched = None
        if count:
            matched = (start + len(frame) if not more and not keyset and (start == 0 or len(frame))
                       else self._store.cached_count(
                           f"SELECT count(*) FROM names WHERE {' AND '.join(where) or '1 = 1'}", params))
        return Page(frame, matched, more)

    def names_time(self, extents: bool = False) -> tuple[str | None, str | None, bool]:
        """(earliest valid_from, latest valid_to, whether some name has no valid_to) of the names (of those
        with an extent), the dates as RFC 3339 instants at midnight UTC."""
        joined = " JOIN name_extents e ON e.fid = n.fid" if extents and self._extents_table() else ""
        first, last, still = self._rows("SELECT min(n.valid_from), max(n.valid_to), "
                                        "sum(CASE WHEN n.valid_to IS NULL THEN 1 ELSE 0 END) "
                                        f"FROM names n{joined}")[0]

        def instant(day):
            return None if day is None else f"{str(day)[:10]}T00:00:00Z"

        return instant(first), instant(last), bool(still)

    def get_name_feature(self, identifier, *, history: bool = False) -> gpd.GeoDataFrame:
        """The ``names`` feature of id ``identifier`` (a frame of one row, or none)."""
        if not str(identifier).isdigit() or not self._has_table("names"):
            return self._name_frame([])
        return self.query_names(properties={"id": int(identifier)}, history=history, count=False).features

    def query_extents(self, *, offset: int = 0, limit: int | None = None, after: int | None = None, bbox=None,
                      province=None, properties=None, history: bool = False, count: bool = True,
                      hits_only: bool = False, at=None) -> Page:
        """A page of ``name_extents`` (the extents' geometries with their names' properties), as
        :meth:`query_names`; ``bbox`` keeps the extents that reach into it: the extents' stored bounds
        choose the candidates in SQL, their geometries are tested here (the GeoPackage has no spatial SQL;
        the extents are few)."""
        if not self._extents_table() or not self._has_table("names"):
            return Page(self._name_frame([]), 0, False)
        self._upgrade()
        where, params = self._name_where(bbox=None, province=province, properties=properties, history=history,
                                         alias="n.", at=at)
        if bbox is not None:
            w, s, e, n = bbox
            where.append("e.west <= ? AND e.east >= ? AND e.south <= ? AND e.north >= ?")
            params += [e, w, n, s]
        if after is not None:
            where.append("n.fid > ?")
            params.append(int(after))
            offset = 0
        columns = ", ".join(["n.fid", *(f'n."{c}"' for c in self.FEATURE_COLUMNS[1:])])
        rows = self._fetched(self._rows(
            f"SELECT {columns}, {self._geom_select.replace('geom', 'e.geom')} FROM name_extents e "
            f"JOIN names n ON n.fid = e.fid WHERE {' AND '.join(where) or '1 = 1'} ORDER BY n.fid", params))
        shapes = np.asarray(self._decode([row[-1] for row in rows]), dtype=object)
        if bbox is not None and len(rows):
            keep = shapely.intersects(shapes, shapely.box(*bbox))
            rows, shapes = [r for r, k in zip(rows, keep, strict=True) if k], shapes[keep]
        matched = len(rows)
        if hits_only:
            return Page(self._name_frame([]), matched, False)
        end = None if limit is None else offset + limit
        page = self._name_frame([r[:-1] for r in rows[offset:end]], shapes[offset:end])
        return Page(page, matched if count else None, end is not None and end < matched)

    @abstractmethod
    def _names_bbox(self, bbox, alias: str = "") -> tuple[str, list]:
        """The spatial index's condition for names whose point may lie in ``bbox`` (W, S, E, N)."""

    def _rank_again(self) -> None:
        """Recompute the names' importance, after an upgrade from the version before populations (which
        ranked without GeoNames' feature codes, and a district as a county)."""
        rows = self._rows("SELECT fid, class, code, subclass, name, importance FROM names")
        changed = [(rank, fid) for fid, klass, code, subclass, name, old in rows
                   if (rank := importance(klass, code, subclass, name)) != old]
        if changed:
            self._run_many("UPDATE names SET importance = ? WHERE fid = ?", changed)

    # -- hooks ------------------------------------------------------------------------------------
    #: whether the key tables are without their indexes now (a bulk load): their rows need no order
    _keys_unindexed = False
    #: the tables holding key rows now (a bulk load may stage them in others), which updates must reach
    _key_tables: tuple[str, ...] = ("name_keys", "name_grams")
    #: how the geometry parameter of an UPDATE is written
    _geom_marker = "?"
    #: how a geometry column is read (for :meth:`_decode`)
    _geom_select = "geom"

    @abstractmethod
    def _geoms(self, geometries: np.ndarray) -> list:
        """Shapely geometries as the backend's geometry parameters."""

    @abstractmethod
    def _decode(self, values: list) -> list:
        """Shapely geometries of what :attr:`_geom_select` read."""

    def _insert_extents(self, rows: list[tuple]) -> None:
        """Insert ``name_extents`` rows: fid, name, west, south, east, north, the geometry."""
        for row in rows:
            self._run(f"INSERT INTO name_extents (fid, {', '.join(_EXTENT_COLUMNS)}, geom) "
                      f"VALUES (?, ?, ?, ?, ?, ?, {self._geom_marker})", row)

    #: the part of ``quhua_meta`` that versions the gazetteer's tables (:data:`placenames.schema.MIGRATIONS`)
    META_KEY = "gazetteer_schema_version"
    SCHEMA_VERSION = SCHEMA_VERSION
    _current_layout = False

    def _migrate(self) -> None:
        """The gazetteer's migrations (:mod:`placenames.schema`), inside the caller's transaction."""
        self._store.migrate(
            self.META_KEY, MIGRATIONS, f"{self._store.url} has gazetteer schema version",
            what_zh=f"{self._store.url} 的地名库结构版本为", lock=(0x5148, 0x4E41), context=self)
        self._current_layout = True

    def schema_version(self) -> int:
        """The gazetteer's schema version recorded in the database (0: none, e.g. a file of before versions)."""
        return self._store.version(self.META_KEY)

    def _upgrade(self) -> None:
        """A database of an older gazetteer schema is migrated before it is read (once per store; not inside
        a read snapshot, which a GeoPackage cannot write in: that database is read as it is)."""
        if self._current_layout:
            return
        self._current_layout = True  # first: the migrations read through this store too
        if self.has_names() and self.schema_version() < self.SCHEMA_VERSION and not self._in_read_snapshot():
            self.init()

    def _in_read_snapshot(self) -> bool:
        return False

    # -- SQL, through the boundaries' store whose connection this one shares (its dialect says what differs)
    def _rows(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        return self._store.fetch(sql, params)

    def _run(self, sql: str, params: list | tuple = ()) -> None:
        self._store.execute(sql, params)

    def _run_many(self, sql: str, rows: list) -> None:
        self._store.executemany(sql, rows)

    def _has_table(self, name: str) -> bool:
        return self._store.has_table(name)

    def _in(self, column: str, values: list) -> tuple[str, object]:
        """``column`` is one of ``values``: the condition and its one parameter."""
        return self._store.dialect.in_list(column, values)

    def _contains(self, column: str) -> str:
        """The condition that ``column`` contains the text of a ``?`` parameter."""
        return self._store.dialect.contains(column)

    @property
    def _today(self) -> str:
        """SQL for today's date as ``YYYY-MM-DD``."""
        return self._store.dialect.today

    @property
    def _no_limit(self) -> str:
        return self._store.dialect.no_limit

    def _points(self, lons: np.ndarray, lats: np.ndarray) -> list:
        return self._geoms(shapely.points(lons, lats))

    @abstractmethod
    def _new_fids(self, count: int) -> list[int]: ...

    @abstractmethod
    def _insert_names(self, rows: list[list]) -> None:
        """Insert name rows: fid, the values of the columns, the geometry."""

    @abstractmethod
    def _insert_keys(self, keys: list[tuple], grams: list[tuple]) -> None: ...

    def _store_keys(self, stored: list[tuple[int, NameRecord]]) -> None:
        """The key rows of the names just stored (``(name id, record)``)."""
        self._insert_keys(*key_rows(stored, ordered=not self._keys_unindexed))

    #: a join in the order written (SQLite's CROSS JOIN)
    _join_in_order = "JOIN"

    def _in_cells(self, table: str, key: tuple[str, ...], cells: str, match: str, params: list) -> str:
        """The query of the primary keys of ``table``'s rows in ``cells`` (a list of integers) that ``match``
        (with ``params``, its values) admits, read from the (cell, …) index."""
        return f"SELECT {', '.join(key)} FROM {table} WHERE cell IN ({cells}) AND {match}"

    #: the radii (in cells) up to which each query of the nearest-first look-up reads
    _near_rings = _NEAR_RINGS_SERVER

    def _in_ring(self, columns: str, table: str, match: str, params: list, cells: str,
                 where: SearchFilter) -> tuple[str, list]:
        """The query of one step of :meth:`_nearest` and its parameters after ``match``'s: ``columns`` of the
        rows of ``table`` in ``cells`` that ``match`` and ``where`` admit, the keys read from the cell index
        and each row then read whole (by its primary key) for the filters."""
        condition, values = where.key_sql("m.")
        key = _PRIMARY_KEYS[table]
        joined = " AND ".join(f"m.{c} = c.{c}" for c in key)
        selected = ", ".join(f"m.{c.strip()}" for c in columns.split(","))
        return (f"SELECT {selected} FROM ({self._in_cells(table, key, cells, match, params)}) c "
                f"{self._join_in_order} {table} m ON {joined} WHERE {condition}", values)

    def _nearest(self, columns: str, table: str, match: str, params: list, where: SearchFilter) -> list[tuple]:
        """``columns`` of the rows of ``table`` that ``match`` (and ``where``) admit, those of the names
        nearest to ``where.near`` first: at least ``where.near_count`` names unless fewer lie within the
        distance beyond which nearness no longer counts.

        Ring after ring of grid cells around the point (on a server a few rings per query),
        through the key tables' cell index: a query reads only the key rows of the names in its cells, in
        the index alone; the rows matching the query are then read whole for the filters. One ring more
        once enough are found, for the nearer corners of the next ring.
        """
        steps = list(self._near_rings)
        rows, found, inner = [], set(), -1
        while steps:
            radius = steps.pop(0)
            cells = ", ".join(str(c) for r in range(inner + 1, radius + 1) for c in ring(where.near, r))
            inner = radius
            sql, values = self._in_ring(columns, table, match, params, cells, where)
            more = self._rows(sql, [*params, *values])
            rows += more
            found |= {row[0] for row in more}
            if len(found) >= where.near_count and steps:  # enough: one ring more, for the nearer corners
                steps = [radius + 1] if radius + 1 < steps[0] else steps[:1]
        return rows


def _quoted(columns) -> list[str]:
    return [f'"{c}"' for c in columns]


class GeoPackageNameStore(SqlNameStore):
    """Names and divisions as layers of the GeoPackage, search keys in plain tables beside them."""

    _join_in_order = "CROSS JOIN"

    def _in_cells(self, table, key, cells, match, params):  # SQLite's planner would prefer the key's own index
        return f"SELECT {', '.join(key)} FROM {table} INDEXED BY {table}_cell WHERE cell IN ({cells}) AND {match}"

    _near_rings = _NEAR_RINGS

    def __init__(self, path: Path, store: Store | None = None):
        self.path = path
        self._owned = store is None
        self._store = open_store(str(path)) if store is None else store

    def close(self) -> None:
        if self._owned:
            self._store.close()

    @property
    def con(self) -> sqlite3.Connection:
        return self._store.connection()

    def init(self) -> None:
        self._store.init()  # the GeoPackage itself, with its SRS table
        with gpkg.transaction(self.con):
            self._migrate()

    def has_names(self) -> bool:
        return self.path.is_file() and self._has_table("name_keys")

    def _in_read_snapshot(self) -> bool:
        return self.con.in_transaction

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    @contextmanager
    def write(self):
        """One transaction: everything inside is stored whole or not at all."""
        if not self._store.exists() or self.schema_version() < SCHEMA_VERSION:
            self.init()
        # a large import touches the key B-trees all over: a page cache of 256 MB (default 2 MB) keeps much
        # of them in memory (1 GiB measured no faster at 1M names); with the write-ahead log, syncing at
        # checkpoints only is still crash-safe
        self.con.execute("PRAGMA cache_size = -262144")
        self.con.execute("PRAGMA synchronous = NORMAL")
        with gpkg.transaction(self.con):
            yield
            self._store.touch()

    # -- hooks of SqlNameStore --------------------------------------------------------------------
    def _divisions_bbox(self, lon, lat):
        return ("fid IN (SELECT id FROM rtree_divisions_geom WHERE minx <= ? AND maxx >= ? AND miny <= ? "
                "AND maxy >= ?)", [lon, lon, lat, lat])

    def _names_bbox(self, bbox, alias=""):
        w, s, e, n = bbox
        return (f"{alias}fid IN (SELECT id FROM rtree_names_geom WHERE minx <= ? AND maxx >= ? AND miny <= ? "
                "AND maxy >= ?)", [e, w, n, s])

    def _geoms(self, geometries):
        return gpkg.encode(geometries, _SRID)

    def _decode(self, values):
        return list(gpkg.decode(values))

    def _new_fids(self, count):
        first = (self.con.execute("SELECT max(fid) FROM names").fetchone()[0] or 0) + 1
        return list(range(first, first + count))

    def _insert_names(self, rows):
        _insert_points(self.con, rows)

    _bulk_loading = False

    @contextmanager
    def _bulk(self):
        """Into empty key tables, a batched import stages the key rows in temporary tables in the order they
        come (appended), and fills the key tables from them once after the last batch, in their key order
        (one external sort; the B-trees then grow at their end), then builds the (cell, name_id) indexes.
        Batch after batch into the clustered key B-trees themselves, each batch touched pages all over
        tables larger than the page cache: at 5 M names the import slowed to a quarter of its pace at 1 M.
        Updates of names stored by earlier batches of the file reach the staged rows too
        (:attr:`_key_tables`). Inside the transaction: a failure rolls everything back."""
        con = self.con
        empty = con.execute("SELECT count(*) FROM (SELECT 1 FROM name_grams LIMIT 1)").fetchone()[0] == 0
        if not empty:
            yield
            return
        con.execute("DROP INDEX IF EXISTS name_keys_cell")
        con.execute("DROP INDEX IF EXISTS name_grams_cell")
        staged = {table: f"temp.{table}_load" for table in _PRIMARY_KEYS}
        for table, columns in (("name_keys", KEY_COLUMNS), ("name_grams", GRAM_COLUMNS)):
            con.execute(f"CREATE TEMP TABLE {table}_load ({', '.join(columns)})")
            con.execute(f"CREATE INDEX temp.{table}_load_id ON {table}_load (name_id)")  # for the updates
        self._bulk_loading = self._keys_unindexed = True
        self._staged = staged
        self._key_tables = (*_PRIMARY_KEYS, *staged.values())
        try:
            yield
            for table, columns in (("name_keys", KEY_COLUMNS), ("name_grams", GRAM_COLUMNS)):
                listed = ", ".join(columns)
                con.execute(f"INSERT OR IGNORE INTO {table} ({listed}) SELECT {listed} FROM {staged[table]} "
                            f"ORDER BY {', '.join(_PRIMARY_KEYS[table])}")
        finally:
            self._bulk_loading = self._keys_unindexed = False
            self._staged = {}
            del self._key_tables
            for name in staged.values():
                con.execute(f"DROP TABLE IF EXISTS {name}")
        for sql in _CELL_INDEXES:
            con.execute(sql)

    #: key table → the temporary table its rows are staged in, during a bulk load
    _staged: ClassVar[dict[str, str]] = {}

    def _insert_keys(self, keys, grams):
        """Insert key rows (each list in its table's key order). When they outnumber the rows already there
        (a first large import), the (cell, name_id) indexes are dropped and built again afterwards: one
        sort instead of a B-tree insert per row (inside the transaction: a failure puts them back)."""
        con = self.con
        rebuild = not self._bulk_loading and len(grams) >= _REBUILD_AT and len(grams) > con.execute(
            "SELECT count(*) FROM name_grams").fetchone()[0]
        if rebuild:
            con.execute("DROP INDEX IF EXISTS name_keys_cell")
            con.execute("DROP INDEX IF EXISTS name_grams_cell")
        for table, columns, rows in (("name_keys", KEY_COLUMNS, keys), ("name_grams", GRAM_COLUMNS, grams)):
            into = f"INTO {self._staged[table]}" if table in self._staged else f"OR IGNORE INTO {table}"
            con.executemany(f"INSERT {into} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        if rebuild:
            for sql in _CELL_INDEXES:
                con.execute(sql)


def _missing_name_columns(con: sqlite3.Connection) -> list[str]:
    """The columns of ``names`` that a GeoPackage of an older version lacks (``population`` before 0.x)."""
    if not gpkg.has_table(con, "names"):
        return []
    have = {row[1] for row in con.execute("PRAGMA table_info(names)")}
    return [c for c in _NAME_COLUMNS if c not in have]


def _add_name_columns(con: sqlite3.Connection) -> None:
    """Add the missing columns of ``names`` (empty: a name's population is known from its next import)."""
    for column in _missing_name_columns(con):
        con.execute(f'ALTER TABLE names ADD COLUMN "{column}" {_NAME_COLUMNS[column]}')


def _outdated_keys(con: sqlite3.Connection) -> bool:
    """Whether the GeoPackage's key tables are of the layout before the filter columns (rebuilt on use)."""
    return gpkg.has_table(con, "name_grams") and "cell" not in {
        row[1] for row in con.execute("PRAGMA table_info(name_grams)")}


_BULK = 1000
#: Rows from which an import into emptier tables builds the indexes afterwards (the GeoPackage's (cell, name_id)
#: indexes; on PostGIS every index of the table, :meth:`placenames.postgis.PostgisNameStore._copy`).
_REBUILD_AT = 50_000


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
     approved_by, approved_on, superseded_by, lon, lat, _importance, population) = row
    return NameRecord(name=name, pinyin=pinyin, klass=klass, subclass=subclass, code=code,
                      aliases=json.loads(aliases or "[]"), status=status, valid_from=valid_from, valid_to=valid_to,
                      source=source, source_id=source_id, approved_by=approved_by, approved_on=approved_on,
                      superseded_by=superseded_by, lon=lon, lat=lat, population=population, id=fid)
