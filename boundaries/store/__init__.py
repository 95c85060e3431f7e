"""Storage of submissions behind one interface (SPEC §2).

:func:`open_store` turns ``--db`` / ``QUHUA_DB`` into a :class:`Store`: a path means the embedded
GeoPackage (:class:`~boundaries.store.geopackage.GeoPackageStore`), a ``postgresql://`` URL the PostGIS
server database. Both keep the same layers:

``lines``, ``markers``
    boundary lines (界线) and markers (界桩) in EPSG:4490 with the canonical fields of SPEC §4 and
    ``province`` (who submitted), ``submission_id``, ``status`` (``current``/``superseded``),
    ``superseded_by``, ``valid_from``/``valid_to`` (legal time: the day from which, and to which, the version
    holds in law — the agreement's (协议书) or the confirmed round's date, :mod:`boundaries.legaltime`),
    ``recorded_at``/``retired_at`` (database time: when quhua stored the row and when a later write
    superseded it; schema version 4). History is never overwritten.
``issues``
    the findings of every accepted submission's report, as points.
``submissions``
    one record per accepted submission: province, user, time, files and checksums, counts, report.
``qa_config``
    the QA configuration in force (TOML, as ``quhua config show`` prints it), per province or for all
    (province ``000000``); each ``quhua config set`` adds a row, the newest is in force.
``audit``
    the audit log (:mod:`boundaries.audit`): one row per write, who, when, what, from where, outcome.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from boundaries._lazy import lazy_module
from boundaries.model import LINE_FIELDS, MARKER_FIELDS, STORAGE_CRS, Submission
from boundaries.store.migrations import Migration, layers_of

gpd = lazy_module("geopandas")
pd = lazy_module("pandas")

__all__ = ["ALL_PROVINCES", "DESCRIPTIONS", "LAYERS", "MIGRATIONS", "SCHEMA", "Page", "Store", "default_url",
           "empty_layer", "open_store"]

#: Layers that ``read_layer`` and ``quhua export`` know.
LAYERS = ("lines", "markers", "issues", "submissions")

Checker = Callable[["Store"], dict]
if TYPE_CHECKING:
    from boundaries.audit import AuditEntry, AuditPage
_HISTORY = {"province": "TEXT", "submission_id": "INTEGER", "status": "TEXT", "superseded_by": "INTEGER",
            "valid_from": "DATETIME", "valid_to": "DATETIME", "source_file": "TEXT",
            # database time (schema version 4); valid_from/valid_to are legal time (boundaries.legaltime)
            "recorded_at": "DATETIME", "retired_at": "DATETIME"}

#: Layer name → (geometry type or None for attributes, {column: SQLite type}).
SCHEMA: dict[str, tuple[str | None, dict[str, str]]] = {
    "lines": ("MULTILINESTRING", {f: "TEXT" for f in LINE_FIELDS} | _HISTORY),
    "markers": ("POINT", {f: "TEXT" for f in MARKER_FIELDS[:3]}
                | {f: "REAL" for f in MARKER_FIELDS[3:]} | _HISTORY),
    "issues": ("POINT", {"rule": "TEXT", "severity": "TEXT", "layer": "TEXT", "feature": "TEXT",
                         "message": "TEXT", "message_en": "TEXT", "file": "TEXT", "province": "TEXT",
                         "submission_id": "INTEGER", "created_at": "DATETIME"}),
    "submissions": (None, {"province": "TEXT", "user": "TEXT", "created_at": "DATETIME",
                           "accepted": "INTEGER", "encoding": "TEXT", "crs": "TEXT", "files": "TEXT",
                           "lines": "INTEGER", "markers": "INTEGER", "errors": "INTEGER",
                           "warnings": "INTEGER", "report": "TEXT"}),
    "qa_config": (None, {"province": "TEXT", "user": "TEXT", "created_at": "DATETIME", "toml": "TEXT"}),
    # the audit log (boundaries.audit); on PostGIS created by MIGRATIONS[3]
    "audit": (None, {"created_at": "DATETIME", "user": "TEXT", "action": "TEXT", "province": "TEXT",
                     "submission_id": "INTEGER", "address": "TEXT", "outcome": "TEXT", "detail": "TEXT"}),
}
DESCRIPTIONS = {"lines": "行政区域界线 boundary lines", "markers": "界桩 boundary markers",
                 "issues": "质检问题 QA issues", "submissions": "入库记录 submissions",
                "qa_config": "质检配置 QA configuration", "audit": "审计日志 audit log"}

def _current_indexes(*layers: str) -> tuple[str, ...]:
    return tuple(f'CREATE INDEX IF NOT EXISTS "{t}_current" ON "{t}" (status, province)' for t in layers)


#: The boundaries' schema (``quhua_meta.schema_version``) on both databases: version → the migration that
#: reaches it (:mod:`boundaries.store.migrations` says how to add one, e.g. for a new table of SCHEMA).
MIGRATIONS = {
    1: Migration("the layers", layers=layers_of("lines", "markers", "issues", "submissions"),
                 sql=_current_indexes("lines", "markers")),
    2: Migration("the QA configuration", layers=layers_of("qa_config")),
    3: Migration("the audit log (boundaries.audit)", layers=layers_of("audit")),
    4: Migration("legal time (valid_from/valid_to) beside database time (recorded_at/retired_at)",
                 run=lambda store: _legal_time(store)),
}


def _legal_time(store) -> None:
    """Schema version 4: ``valid_from``/``valid_to`` held the ingest times (database time); those move to the
    new columns ``recorded_at``/``retired_at`` (added when missing: migration 1 of this quhua already makes
    them), and the legal interval of the rows stored before becomes the UTC days of those times — the only
    dates they were given. So a file written by an older quhua keeps its history, and as of any day it
    answers what it held at the end of that day's loading."""
    for table in ("lines", "markers"):
        if not store.has_table(table):
            continue
        have = store.columns(table)
        for column in ("recorded_at", "retired_at"):
            if column not in have:
                kind = "timestamptz" if store.dialect.name == "postgresql" else "DATETIME"
                store.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')
        if store.dialect.name == "postgresql":
            day = "date_trunc('day', {0} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        else:
            day = "substr({0}, 1, 10) || 'T00:00:00.000Z'"
        store.execute(f'UPDATE "{table}" SET recorded_at = valid_from, retired_at = valid_to, '
                      f'valid_from = {day.format("valid_from")}, valid_to = {day.format("valid_to")} '
                      "WHERE recorded_at IS NULL")

#: The ``qa_config`` province meaning "every province without its own".
ALL_PROVINCES = "000000"


def empty_layer(layer: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """A layer with no rows but the columns (and CRS) of :data:`SCHEMA` (a copy: the caller may change it)."""
    return _empty_layer(layer).copy()


@functools.cache
def _empty_layer(layer: str) -> gpd.GeoDataFrame | pd.DataFrame:
    # made once: a GeoDataFrame with a CRS takes about 10 ms to build, and every count (hits_only) returns one
    geometry_type, columns = SCHEMA[layer]
    frame = pd.DataFrame({"fid": pd.Series(dtype="int64")} | {c: pd.Series(dtype=object) for c in columns})
    if geometry_type is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=STORAGE_CRS))


@dataclass(frozen=True)
class Page:
    """What :meth:`Store.query` answers: one page of features and how many match in all.

    ``features`` is a frame as :meth:`Store.read_layer` gives (``fid`` first, geometry in EPSG:4490), in
    the query's order; ``number_matched`` counts every feature the filters admit (None when not asked:
    ``count=False``); ``more`` says whether features follow this page (known without counting).
    """

    features: gpd.GeoDataFrame | pd.DataFrame
    number_matched: int | None
    more: bool


Bbox = tuple[float, float, float, float]


class Store(ABC):
    """What every backend offers; behaviour is identical across backends."""

    url: str

    @abstractmethod
    def exists(self) -> bool:
        """Whether the database has been created (``quhua init``)."""

    @abstractmethod
    def init(self) -> None:
        """Create the database and its layers; idempotent."""

    def read_layer(self, layer: str, *, province: str | None = None, bbox: Bbox | None = None,
                   history: bool = False, at=None) -> gpd.GeoDataFrame | pd.DataFrame:
        """Read a layer of :data:`LAYERS` whole (geometry in EPSG:4490): :meth:`query` without a limit.

        ``province`` keeps what concerns that province: lines with either side in it, markers it
        submitted or on such lines, its issues and submissions. ``bbox`` (W, S, E, N in degrees) keeps
        features that intersect it. Only current lines and markers unless ``history``; ``at``: those in force
        on that day in legal time (:meth:`query`).
        """
        return self.query(layer, province=province, bbox=bbox, history=history, count=False, at=at).features

    @abstractmethod
    def query(self, layer: str, *, offset: int = 0, limit: int | None = None, after: int | None = None,
              bbox: Bbox | None = None, province: str | None = None,
              properties: Mapping[str, object] | None = None, sortby: Sequence[str] = (),
              history: bool = False, count: bool = True, hits_only: bool = False, at=None) -> Page:
        """A page of a layer's features, the filters and the paging done by the database (modelled on
        pygeoapi's feature providers' ``query``).

        Filters, all of them together: ``bbox`` (W, S, E, N in degrees: the features that intersect it,
        through the spatial index — the GeoPackage's rtree, PostGIS's GiST), ``province`` (as
        :meth:`read_layer`), ``properties`` (column → value: equality; a list or tuple: any of its
        values), current lines and markers only unless ``history``. Order: ``sortby`` (column names,
        ``-name`` descending), then ``fid``. Paging: ``offset`` rows skipped, at most ``limit`` returned
        (None: all); or, by fid order only, keyset paging from ``after`` (the features with a larger fid:
        as fast on the last page as on the first). ``count`` asks for ``number_matched``;
        ``hits_only`` (pygeoapi's ``resulttype=hits``) returns no features, only the count.
        Unknown layers and columns raise :class:`~boundaries.errors.StoreError`.

        ``at``: lines and markers as of a day in legal time, whatever their status today (``history`` is
        then moot). A date (``date`` or ``YYYY-MM-DD``): each version in force that day,
        ``valid_from <= at < valid_to`` (``valid_to`` empty: still in force). A pair ``(start, end)`` of
        dates, either None for an open end: each version in force on some day of ``[start, end]``. A bad
        date raises :class:`~boundaries.errors.InputError`; other layers ignore ``at``.
        """

    @abstractmethod
    def get(self, layer: str, identifier: int | str, *, province: str | None = None,
            history: bool = False, at=None) -> gpd.GeoDataFrame | pd.DataFrame:
        """The feature of ``layer`` whose ``fid`` is ``identifier`` as a frame of one row, or of none
        (unknown id, not a number, or filtered out by ``province``/``history``/``at`` as :meth:`query`
        would)."""

    @abstractmethod
    def revise(self, layer: str, rows, *, valid_from, submission_id: int | None, user: str,
               audit: AuditEntry | None = None) -> list[int]:
        """Write a new legal version of some ``markers`` or ``lines``, in force from ``valid_from`` (a date),
        inside the caller's :meth:`transaction` (e.g. an inspection round's confirmation by both sides).

        ``rows``: a (Geo)DataFrame with ``marker_id`` (markers) or ``line_id`` (lines) and the columns to
        change; a column absent or empty keeps the current version's value, ``geometry`` (EPSG:4490), if
        present and not empty, replaces the position; ``province`` (optional) limits the row to that
        submitter's version (a shared line's markers may be stored by both sides; without it each current
        version of the id is revised). For each version revised the current row is closed —
        ``valid_to = valid_from``, ``retired_at`` now, ``status = 'superseded'``, ``superseded_by =
        submission_id`` — and the new one inserted with ``status = 'current'``, ``valid_from``,
        ``recorded_at`` now, ``submission_id`` and the old one's province and source file. An id without a
        current version is a new feature (a marker newly set, 新设) when the row gives its ``province`` and
        ``geometry``, else an :class:`~boundaries.errors.InputError`; so is a ``valid_from`` before the
        current version's (the caller's transaction then rolls back whole: nothing is half-written). One
        ``audit`` row (action ``revise`` unless ``audit`` is given: who, layer, date, ids, new fids) is
        written in the same transaction. Returns the new versions' fids, in the order of ``rows``."""

    @abstractmethod
    def ingest(self, submission: Submission, checker: Checker, *, user: str,
               audit: AuditEntry | None = None, valid_from=None) -> tuple[dict, int | None]:
        """Check and store a submission in one transaction.

        ``valid_from`` (a date, e.g. the agreement's, 协议书) is the legal day from which its lines and
        markers hold and on which those they supersede cease to; none given, the ingest's day (UTC). A day
        before that of a version it would supersede raises :class:`~boundaries.errors.InputError` (exit 2),
        nothing written.

        ``checker(store)`` runs the rules against the database as it is inside the transaction (so two
        ingests touching the same boundary are serialised) and returns the SPEC §6 report. If the report
        is accepted, the submission is stored whole and supersedes the same lines and markers of earlier
        submissions of that province; otherwise nothing is written. Returns the report and the new
        submission id (None when not stored). ``audit`` (its action and address) is recorded in the same
        transaction, with the province, the submission id, the outcome (``stored``/``rejected``), the files
        and counts.
        """

    @abstractmethod
    def write_audit(self, entry: AuditEntry) -> None:
        """Record one write in the audit log (its own transaction)."""

    @abstractmethod
    def read_audit(self, *, province: str | None = None, user: str | None = None, action: str | None = None,
                   limit: int = 50, offset: int = 0) -> AuditPage:
        """The audit log, newest first, filtered by province, user and action (exact values)."""

    @abstractmethod
    def read_config(self, province: str) -> dict | None:
        """The stored QA configuration in force for ``province``: its own, else the one for all provinces
        (:data:`ALL_PROVINCES`), as ``{"province", "user", "created_at", "toml"}``; None when none is stored."""

    @abstractmethod
    def write_config(self, province: str, toml: str, *, user: str, audit: AuditEntry | None = None) -> None:
        """Store ``toml`` as the configuration in force for ``province`` (or :data:`ALL_PROVINCES`), and
        ``audit`` in the same transaction."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_url() -> str:
    """``QUHUA_DB`` if set, else ``quhua.gpkg`` in the current directory (SPEC §2)."""
    return os.environ.get("QUHUA_DB") or "quhua.gpkg"


def open_store(url: str | None = None) -> Store:
    """The store for a database path or ``postgresql://`` URL."""
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        from boundaries.store.postgis import PostgisStore

        return PostgisStore(url)
    from boundaries.store.geopackage import GeoPackageStore

    return GeoPackageStore(url)
