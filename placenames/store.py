"""The gazetteer's storage: ``names`` and ``divisions`` layers in the same database as the boundaries.

``names`` (Point) and ``divisions`` (MultiPolygon) are ordinary GeoPackage feature layers in EPSG:4490
that QGIS opens (PostGIS tables on the server, :mod:`placenames.postgis`). Search reads each name's
*terms* (schema version 8, :func:`terms`): its keys — full name, proper part, aliases, compact pinyin and
initials, each behind a letter for its kind — every one- and two-character piece of the name and its
aliases (a one- or two-character query, which an FTS5 trigram index cannot answer, is the commonest Chinese
query), and what the filters look up: the prefixes of its division code (``within``), its class, its 0.1°
grid cell (``near``, ring of cells after ring) and whether it is prominent (an over-full look-up takes those
first). In the GeoPackage they are the posting lists of a contentless FTS5 table ``name_terms`` (rowid =
the name's fid), on PostGIS a ``tsvector`` column ``names.terms`` with a GIN index: a look-up is one AND of
posting lists (``MATCH`` / ``@@``), then status and dates (``at``) read from the names by fid, and which of
a found name's keys matched is computed again from the name (:func:`_keys_of`). About a third of the
bytes of the key tables of version 7 (``name_keys``, ``name_grams``: a row per key with the filters' columns),
which a database of before version 8 read in a read snapshot (not upgraded there) is still searched
through (the ``_legacy_`` look-ups). docs/NAMES_LAYOUT.md has the measured design.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    TERMS_VERSION,
)

gpd = lazy_module("geopandas")
np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = ["GeoPackageNameStore", "NameStore", "SearchFilter", "open_name_store"]

_SRID = SRID
_NAME_COLUMNS, _DIVISION_COLUMNS, _EXTENT_COLUMNS = NAME_COLUMNS, DIVISION_COLUMNS, EXTENT_COLUMNS
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

    def names_sql(self, alias: str = "") -> tuple[str, list]:
        """The condition on the names themselves (schema version 8): current, or valid on ``at``."""
        a = alias
        if self.at:
            return (f"({a}valid_from IS NULL OR {a}valid_from <= ?) AND ({a}valid_to IS NULL OR {a}valid_to > ?)",
                    [self.at, self.at])
        return f"{a}status = 'current'", []

    def filter_terms(self) -> list[list[tuple[str, bool]]]:
        """The terms ``within`` and ``klass`` add to a look-up (:func:`terms`), as groups of :meth:`match`."""
        groups = []
        if self.klass is not None:
            groups.append([(_class_term(self.klass), False)])
        if self.within:
            groups.append([("c" + term_token(self.code_prefix), False)])
        return groups


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
    """``(key, kind)`` of a name: its full name, proper part, aliases, compact pinyin and initials."""
    return _keys_of(record.name, record.pinyin, record.aliases)


#: A key's kind as the first letter of its term (:func:`terms`).
KIND_LETTERS = {"name": "n", "alias": "a", "proper": "r", "pinyin": "p", "initials": "i"}
_ALL_KINDS = frozenset(KIND_LETTERS)


def _keys_of(name: str, pinyin: str, aliases, kinds=_ALL_KINDS) -> set[tuple[str, str]]:
    """:func:`_keys` of a name's ``name``, ``pinyin`` and ``aliases``, of the ``kinds`` asked only (a look-up
    computes again which of a found name's keys matched: the pinyin and initials only for a pinyin query)."""
    keys = set()
    if "name" in kinds:
        keys.add((name, "name"))
    proper, generic = split_name(name) if "proper" in kinds or "initials" in kinds or "pinyin" in kinds else ("", "")
    if "pinyin" in kinds:
        keys.add((pinyin_key(pinyin), "pinyin"))
        if generic:
            keys.add((pinyin_key(pinyin.split(" ")[0]), "pinyin"))
        keys |= {(key.replace("v", "u"), "pinyin") for key, kind in list(keys) if kind == "pinyin" and "v" in key}
        keys |= {(pinyin_key(alias), "pinyin") for alias in aliases if alias.isascii()}
    if "initials" in kinds:
        name_initials = initials_of(name, pinyin)
        keys.add((name_initials, "initials"))
        if generic:
            # one syllable per character (the usual case): the proper part's initials start the name's
            keys.add((name_initials[:len(proper)] if len(name_initials) == len(name) else initials(proper),
                      "initials"))
    if generic and "proper" in kinds:
        keys.add((proper, "proper"))
    if "alias" in kinds:
        keys |= {(alias, "alias") for alias in aliases}
    return {(key, kind) for key, kind in keys if key}


def _grams(record: NameRecord) -> set[str]:
    grams = set()
    for text in (record.name, *record.aliases):
        grams |= {c for c in text if not c.isascii()}
        grams |= {text[i:i + 2] for i in range(len(text) - 1) if not text[i:i + 2].isascii()}
    return grams


#: Names of at least this importance (prefecture-level cities and above, a few hundred in the country) carry
#: the term ``m``: an over-full look-up takes them first (SPEC §8), from one short posting list (with
#: townships and above, 4, ANDing the list cost 10–50 ms on PostGIS at 1 M names).
PROMINENT = 8
#: The lengths of the pinyin keys' prefixes that are terms of their own (``q``): a syllable, or the first
#: letters a close spelling is looked for among
PINYIN_PREFIXES = range(2, 7)
_ESCAPED = re.compile("[^a-z0-9\x80-\U0010ffff]|\u00a7")


def term_token(text: str) -> str:
    """``text`` as one token of the ``ascii`` tokenizer (FTS5's; PostgreSQL takes the lexemes verbatim):
    every ASCII character but a–z and 0–9 (separators there, or folded: ``A``), and ``§`` itself, written
    ``§`` + two hex digits — a prefix-free code, so that a key starts with a query exactly when its token
    starts with the query's token.

    >>> term_token("huang"), term_token("G318 线"), term_token("§")
    ('huang', '§47318§20线', '§a7')
    """
    return _ESCAPED.sub(lambda m: f"\u00a7{ord(m.group()):02x}", text)


def _untoken(token: str) -> str:
    """The text of a :func:`term_token`.

    >>> _untoken(term_token("G318 线")) == "G318 线"
    True
    """
    return _UNESCAPED.sub(lambda m: chr(int(m.group(1), 16)), token) if "\u00a7" in token else token


_UNESCAPED = re.compile("\u00a7([0-9a-f]{2})")


def terms(record: NameRecord) -> list[str]:
    """The search terms of a name (schema version 8): its keys (:func:`_keys`, the kind's letter of
    :data:`KIND_LETTERS` + the key); ``q`` + each prefix of its pinyin keys of :data:`PINYIN_PREFIXES`
    letters (a syllable's look-up then reads one posting list, not one per name); ``g`` + each one- and
    two-character piece (:func:`_grams`); and what the filters look up: ``c`` + each even prefix of the
    division code (``within``), ``k`` + the class's index (``class``, ``kx`` unknown), ``x`` + the 0.1° grid
    cell (``near``), ``m`` if prominent (:data:`PROMINENT`), ``h`` if not current (the GeoPackage's
    look-ups without ``at`` then read no name; dates are read from the names themselves)."""
    keys = _keys(record)
    out = {KIND_LETTERS[kind] + term_token(key) for key, kind in keys}
    out |= {"q" + term_token(key[:n]) for key, kind in keys if kind == "pinyin" for n in PINYIN_PREFIXES
            if n <= len(key)}
    out |= {"g" + term_token(gram) for gram in _grams(record)}
    code = term_token(record.code or "")
    out |= {"c" + code[:n] for n in range(2, len(code) + 1, 2)}
    out.add(_class_term(record.klass))
    out.add(f"x{cell_of(record.lon, record.lat)}")
    if importance(record.klass, record.code, record.subclass, record.name) >= PROMINENT:
        out.add("m")
    if record.status != "current":
        out.add("h")
    return sorted(out)


def _class_term(klass: str | None) -> str:
    return f"k{CLASSES.index(klass)}" if klass in CLASSES else "kx"


#: A name's term ``x…`` is the grid cell of its point (as the key rows of before version 8 carried it): cells of
#: 0.1° (about 10 km), numbered row by row.
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


def _tsvector(found: list[str]) -> str:
    """Terms as PostgreSQL's ``tsvector`` text: each a quoted lexeme (their tokens hold no quote)."""
    return " ".join(f"'{term}'" for term in found)


def key_match(query: str, kinds: tuple[str, ...], mode: str, alias: str = "") -> tuple[str, list]:
    """The condition of an ``exact`` or ``prefix`` look-up in ``name_keys`` (``?`` placeholders)."""
    marks = ", ".join("?" * len(kinds))
    if mode == "exact":
        return f"{alias}key = ? AND {alias}kind IN ({marks})", [query, *kinds]
    return (f"{alias}key >= ? AND {alias}key < ? AND {alias}kind IN ({marks})",
            [query, query + "\U0010ffff", *kinds])


#: The nearest-first look-up reads rings of cells up to about 330 km (30 cells) from the point: beyond 300 km
#: distance no longer changes a score (lookup.py), so farther names are all equal. Several rings per query,
#: more as they widen (an AND of posting lists costs about the same for one ring as for a few); the key
#: tables of before version 8 on a GeoPackage, a ring a query.
_NEAR_RINGS = tuple(range(31))
_NEAR_RINGS_SERVER = (0, 1, 2, 3, 5, 7, 10, 14, 19, 25, 30)
_PRIMARY_KEYS = {"name_keys": ("key", "kind", "name_id"), "name_grams": ("gram", "klass", "code", "name_id")}


class SqlNameStore(NameStore):
    """Names and their search keys over a DB-API connection: what a user can observe is written once,
    here; the backends supply the hooks at the bottom (SQL is written with ``?`` placeholders)."""

    # -- names ------------------------------------------------------------------------------------
    def upsert(self, records: list[NameRecord]) -> tuple[int, int]:
        known: dict[tuple, NameRecord] = {}
        keyed = [r.source_id for r in records if r.source_id]
        if keyed:
            where, param = self._in("source_id", keyed)
            for row in self._rows(f"SELECT fid, {', '.join(_quoted(_NAME_COLUMNS))} FROM names "
                                  f"WHERE status = 'current' AND {where}", [param]):
                old = _record(row)
                known[(old.source, old.source_id)] = old
        updated = 0
        geoms = self._points(np.array([r.lon for r in records]), np.array([r.lat for r in records]))
        fresh = iter(self._new_fids(sum(
            (r.source, r.source_id) not in known or known[(r.source, r.source_id)].name != r.name for r in records)))
        new_rows, stored, replaced = [], [], []
        columns = ", ".join(f"{c} = ?" for c in _quoted(_NAME_COLUMNS))
        for record, geom in zip(records, geoms, strict=True):
            aliases = json.dumps(record.aliases, ensure_ascii=False) if record.aliases else "[]"
            values = [record.name, record.pinyin, record.klass, record.subclass, record.code, aliases,
                      record.status, record.valid_from, record.valid_to, record.source, record.source_id,
                      record.approved_by, record.approved_on,
                      record.superseded_by, record.lon, record.lat,
                      importance(record.klass, record.code, record.subclass, record.name), record.population, geom]
            if self._terms_in_names:
                values.append(_tsvector(terms(record)))
            previous = known.get((record.source, record.source_id))
            if previous and previous.name == record.name:
                record_id = previous.id
                self._run(f"UPDATE names SET {columns}, geom = {self._geom_marker}{self._terms_set} WHERE fid = ?",
                          [*values, record_id])
                self._delete_terms(record_id, previous)
                replaced.append(record_id)
                updated += 1
            else:
                record_id = next(fresh)
                new_rows.append([record_id, *values])
                if previous:  # renamed: the old name becomes history
                    self._run("UPDATE names SET status = 'historical', superseded_by = ?, "
                              f"valid_to = coalesce(?, {self._today}) WHERE fid = ?",
                              [record_id, record.valid_from, previous.id])
                    self._retermed(previous, "historical")
            stored.append((record_id, record))
        if replaced:  # an updated name's extent is the file's now: none, or the one inserted below
            where, param = self._in("fid", replaced)
            self._run(f"DELETE FROM name_extents WHERE {where}", [param])
        self._insert_names(new_rows)
        if not self._terms_in_names:
            self._insert_terms([(i, terms(r)) for i, r in stored])
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
        if self._legacy:
            return self._legacy_candidates(query, kinds, mode, limit, where)
        token = term_token(query)
        if mode == "exact":  # the key is the query: a look-up per kind, nothing to compute again
            found, complete = [], True
            for kind in kinds:
                rows, whole = self._look_up([[(KIND_LETTERS[kind] + token, False)]], where, limit)
                found += [(row[0], query, kind) for row in rows]
                complete = complete and whole
        else:
            found, complete = self._prefix_candidates(token, query, kinds, limit, where)
        if complete:  # every match: in the key order of the layout before (key, kind, name)
            found.sort(key=lambda row: (row[1], row[2], row[0]))
        return found if where.near is not None and not complete else found[:limit]

    def _prefix_candidates(self, token: str, query: str, kinds: tuple[str, ...], limit: int,
                           where: SearchFilter) -> tuple[list[tuple], bool]:
        """``(name_id, key, kind)`` of the keys starting with ``query`` (``token``: its term), and whether
        they are every match: a look-up per kind (which keys matched is computed again for that kind
        only, and only for the names found)."""
        found, complete = [], True
        for kind in kinds:
            term = ("q" + token, False) if kind == "pinyin" and len(query) in PINYIN_PREFIXES \
                else (KIND_LETTERS[kind] + token, True)
            rows, whole = self._look_up([[term]], where, limit, keys=KIND_LETTERS[kind] + token)
            found += self._matched_keys(rows, query, (kind,))
            complete = complete and whole
        return found, complete

    def _matched_keys(self, rows: list[tuple], query: str, kinds: tuple[str, ...]) -> list[tuple]:
        """``(name_id, key, kind)`` of the keys of ``kinds`` starting with ``query`` of the names found (fid,
        name, pinyin, aliases): computed again from the names."""
        found = []
        for fid, name, pinyin, aliases in rows:
            found += [(fid, key, kind) for key, kind in sorted(_keys_of(name, pinyin, json.loads(aliases or "[]"),
                                                                        kinds)) if key.startswith(query)]
        return found

    def gram_candidates(self, gram, limit, where=ANY):
        self._upgrade()
        if self._legacy:
            return self._legacy_gram_candidates(gram, limit, where)
        return [row[0] for row in self._look_up([[("g" + term_token(gram), False)]], where, limit, tiers=True)[0]]

    def _look_up(self, groups: list, where: SearchFilter, limit: int, keys: str = "", tiers: bool = False
                 ) -> tuple[list[tuple], bool]:
        """The names whose terms match every group of ``groups`` (a list of alternatives, each ``(term,
        prefix)``) and ``where``'s, as rows of :meth:`_terms_rows`, and whether they are every match (fewer
        than ``limit``). When ``limit`` or more match, those nearest ``where.near`` (rings of grid cells,
        nearest first), else ``limit`` of them: with ``tiers`` the prominent ones first (term ``m``: the
        pieces' look-ups, SPEC §8), then others in fid order."""
        groups = [*groups, *where.filter_terms()]
        rows = self._terms_rows(groups, where, limit, keys)
        if len(rows) < limit:
            return rows, True
        if where.near is not None:
            return self._nearest(groups, where, keys) or rows, False
        if not tiers:
            return rows, False
        top = self._terms_rows([*groups, [("m", False)]], where, limit, keys)
        seen = {row[0] for row in top}
        return (top + [row for row in rows if row[0] not in seen])[:limit], False

    @abstractmethod
    def _terms_rows(self, groups: list, where: SearchFilter, limit: int | None = None, keys: str = ""
                    ) -> list[tuple]:
        """The names whose terms match ``groups`` (an AND of alternatives ``(term, prefix)``) that ``where``
        admits, at most ``limit``: their fids, with ``keys`` (the start of the key terms looked up) also
        what :meth:`_matched_keys` reads."""

    def _legacy_candidates(self, query, kinds, mode, limit, where=ANY):
        """:meth:`candidates` from the key tables of a database before version 8 (read in a read snapshot,
        which does not upgrade it)."""
        sql, params = key_match(query, kinds, mode)
        condition, values = where.key_sql()
        rows = self._rows(f"SELECT name_id, key, kind FROM name_keys WHERE {sql} AND {condition} LIMIT ?",
                          [*params, *values, limit])
        if len(rows) < limit or where.near is None:
            return rows
        return self._legacy_nearest("name_id, key, kind", "name_keys", sql, params, where) or rows

    def _legacy_gram_candidates(self, gram, limit, where=ANY):
        condition, values = where.key_sql()
        rows = [row[0] for row in self._rows(f"SELECT name_id FROM name_grams WHERE gram = ? AND {condition} "
                                             "LIMIT ?", [gram, *values, limit])]
        if len(rows) < limit or where.near is None:
            return rows
        return [row[0] for row in self._legacy_nearest("name_id", "name_grams", "gram = ?", [gram], where)] or rows

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
        found = dict(self._rows(f"SELECT source_id, fid FROM names WHERE {where} AND source = 'divisions' "
                                "AND status = 'current'", [param]))
        for old, when, new in rows:
            if old not in found:
                continue
            fid, successor = found[old], found.get(new)
            self._run("UPDATE names SET status = 'historical', valid_to = ?, superseded_by = ? WHERE fid = ?",
                      [when, successor, fid])
            self._retermed(self.get([fid])[0], "historical")

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
    #: whether a name's terms are a column of ``names`` (PostGIS' ``terms`` tsvector), written with its row
    _terms_in_names = False
    #: what the UPDATE of a name adds to write its terms (with :attr:`_terms_in_names`)
    _terms_set = ""
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
        self._current_layout, self._legacy = True, False

    #: whether this database is read through the key tables of before version 8 (an older database in a
    #: read snapshot, which is not upgraded)
    _legacy = False

    def schema_version(self) -> int:
        """The gazetteer's schema version recorded in the database (0: none, e.g. a file of before versions)."""
        return self._store.version(self.META_KEY)

    def _upgrade(self) -> None:
        """A database of an older gazetteer schema is migrated before it is read (once per store; not inside
        a read snapshot, which a GeoPackage cannot write in: that database is read as it is)."""
        if self._current_layout:
            return
        self._current_layout = True  # first: the migrations read through this store too
        if self.has_names() and self.schema_version() < self.SCHEMA_VERSION:
            if not self._in_read_snapshot():
                self.init()
            else:
                self._legacy = self.schema_version() < TERMS_VERSION

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

    def _insert_terms(self, rows: list[tuple[int, list[str]]]) -> None:
        """Store the terms of names (fid, terms) where they are not a column of ``names``."""

    def _delete_terms(self, record_id: int, old: NameRecord) -> None:
        """Remove the terms of a name about to be stored again (``old``: what it was)."""

    def _retermed(self, old: NameRecord, status: str) -> None:
        """The terms of a stored name (``old``: as it was) once its status is ``status`` (term ``h``)."""
        new = terms(dataclasses.replace(old, status=status))
        if self._terms_in_names:
            self._run("UPDATE names SET terms = ?::tsvector WHERE fid = ?", [_tsvector(new), old.id])
        else:
            self._delete_terms(old.id, old)
            self._insert_terms([(old.id, new)])

    #: a join in the order written (SQLite's CROSS JOIN)
    _join_in_order = "JOIN"

    def _in_cells(self, table: str, key: tuple[str, ...], cells: str, match: str) -> str:
        """The query of the primary keys of ``table``'s rows in ``cells`` (a list of integers) that ``match``
        admits, read from the (cell, …) index."""
        return f"SELECT {', '.join(key)} FROM {table} WHERE cell IN ({cells}) AND {match}"

    #: the radii (in cells) up to which each query of the nearest-first look-up reads (:data:`_NEAR_RINGS`)
    _near_rings = _legacy_near_rings = _NEAR_RINGS_SERVER

    def _nearest(self, groups: list, where: SearchFilter, keys: str = "") -> list[tuple]:
        """The names matching ``groups`` that ``where`` admits, those nearest to ``where.near`` first: at least
        ``where.near_count`` unless fewer lie within the distance beyond which nearness no longer counts.
        Ring after ring of grid cells around the point (on a server a few rings per query), each an
        alternative of the cells' terms; one ring more once enough are found, for the nearer corners of
        the next ring."""
        steps = list(self._near_rings)
        rows, inner = [], -1
        while steps:
            radius = steps.pop(0)
            cells = [(f"x{c}", False) for r in range(inner + 1, radius + 1) for c in ring(where.near, r)]
            inner = radius
            rows += self._terms_rows([*groups, cells], where, None, keys)
            if len(rows) >= where.near_count and steps:  # a name lies in one cell: no name twice
                steps = [radius + 1] if radius + 1 < steps[0] else steps[:1]
        return rows

    def _legacy_nearest(self, columns: str, table: str, match: str, params: list, where: SearchFilter
                        ) -> list[tuple]:
        """``columns`` of the rows of ``table`` that ``match`` (and ``where``) admit, those of the names
        nearest to ``where.near`` first: at least ``where.near_count`` names unless fewer lie within the
        distance beyond which nearness no longer counts.

        Ring after ring of grid cells around the point (on a server a few rings per query),
        through the key tables' cell index: a query reads only the key rows of the names in its cells, in
        the index alone; the rows matching the query are then read whole for the filters. One ring more
        once enough are found, for the nearer corners of the next ring.
        """
        condition, values = where.key_sql("m.")
        key = _PRIMARY_KEYS[table]
        joined = " AND ".join(f"m.{c} = c.{c}" for c in key)
        selected = ", ".join(f"m.{c.strip()}" for c in columns.split(","))
        steps = list(self._legacy_near_rings)
        rows, found, inner = [], set(), -1
        while steps:
            radius = steps.pop(0)
            cells = ", ".join(str(c) for r in range(inner + 1, radius + 1) for c in ring(where.near, r))
            inner = radius
            more = self._rows(f"SELECT {selected} FROM ({self._in_cells(table, key, cells, match)}) c "
                              f"{self._join_in_order} {table} m ON {joined} WHERE {condition}", [*params, *values])
            rows += more
            found |= {row[0] for row in more}
            if len(found) >= where.near_count and steps:  # enough: one ring more, for the nearer corners
                steps = [radius + 1] if radius + 1 < steps[0] else steps[:1]
        return rows


def _quoted(columns) -> list[str]:
    return [f'"{c}"' for c in columns]


class GeoPackageNameStore(SqlNameStore):
    """Names and divisions as layers of the GeoPackage, search keys in plain tables beside them."""

    _join_in_order = "CROSS JOIN"  # (the key tables of before version 8, read by the _legacy_ look-ups)

    def _in_cells(self, table, key, cells, match):  # SQLite's planner would prefer the key's own index
        return f"SELECT {', '.join(key)} FROM {table} INDEXED BY {table}_cell WHERE cell IN ({cells}) AND {match}"

    _legacy_near_rings = _NEAR_RINGS

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
        return self.path.is_file() and self._has_table("names")

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

    def _terms_rows(self, groups, where, limit=None, keys=False):
        expression = " AND ".join("(" + " OR ".join(f'"{term}"' + (" *" if prefix else "") for term, prefix in group)
                                  + ")" for group in groups)
        tail, more = (" LIMIT ?", [limit]) if limit else ("", [])
        if not keys and not where.at:  # the current names: their terms alone (no historical ``h``)
            return self._rows(f"SELECT rowid FROM name_terms WHERE name_terms MATCH ?{tail}",
                              [f'({expression}) NOT "h"', *more])
        condition, values = where.names_sql("n.")
        columns = "n.fid, n.name, n.pinyin, n.aliases" if keys else "n.fid"
        return self._rows(f"SELECT {columns} FROM name_terms CROSS JOIN names n ON n.fid = name_terms.rowid "
                          f"WHERE name_terms MATCH ? AND {condition}{tail}", [expression, *values, *more])

    def _prefix_candidates(self, token, query, kinds, limit, where):
        """Without ``within`` or ``class``: the keys of each kind in key order, read from the terms' index
        (FTS5's vocabulary of (term, rowid): a key range, as the key tables' were), the first ``limit`` that
        are current (or valid on ``at``: the names read by fid for that only), nothing computed again. With
        them, or ``near`` and more than ``limit``: the names the posting lists find (:meth:`_look_up`)."""
        self._run("CREATE VIRTUAL TABLE IF NOT EXISTS temp.name_terms_instance USING fts5vocab(main, name_terms, "
                  "instance)")
        starts = [(KIND_LETTERS[kind] + token, kind) for kind in kinds]
        if not where.filter_terms():
            condition, values = where.names_sql("n.")
            found, complete = [], True
            for start, kind in starts:
                rows = self._rows("SELECT v.doc, v.term FROM temp.name_terms_instance v CROSS JOIN names n "
                                  f"ON n.fid = v.doc WHERE v.term >= ? AND v.term < ? AND {condition} LIMIT ?",
                                  [start, start + "\U0010ffff", *values, limit])
                found += [(fid, _untoken(term[1:]), kind) for fid, term in rows]
                complete = complete and len(rows) < limit
            if complete or where.near is None:
                return found, complete
        return super()._prefix_candidates(token, query, kinds, limit, where)

    def _insert_terms(self, rows):
        self.con.executemany("INSERT INTO name_terms (rowid, terms) VALUES (?, ?)",
                             [(fid, " ".join(found)) for fid, found in rows])

    def _delete_terms(self, record_id, old):
        # a contentless FTS5 table forgets a row by its terms (contentless_delete needs SQLite 3.43; here 3.40)
        self.con.execute("INSERT INTO name_terms (name_terms, rowid, terms) VALUES ('delete', ?, ?)",
                         [record_id, " ".join(terms(old))])

    @contextmanager
    def _bulk(self):
        """Into an empty gazetteer, a batched import merges the terms' index into one segment after the last
        batch (FTS5's ``optimize``): a look-up then reads one posting list per term instead of one per
        segment the batches left. Inside the transaction: a failure rolls everything back."""
        empty = self.con.execute("SELECT count(*) FROM (SELECT 1 FROM names LIMIT 1)").fetchone()[0] == 0
        yield
        if empty:
            _optimize(self.con)


def _optimize(con: sqlite3.Connection) -> None:
    con.execute("INSERT INTO name_terms (name_terms) VALUES ('optimize')")


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
