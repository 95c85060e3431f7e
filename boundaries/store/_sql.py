"""What the SQL backends share: reading layers with filters, and storing a submission with its history.

The GeoPackage and PostGIS stores differ only in the hooks at the bottom of :class:`SqlStore` (how a
geometry is written and read, how a list and a bounding box are matched, how writers are serialised);
everything a user can observe — layers, columns, history, supersession — is written once, here.
SQL is written with ``?`` placeholders; a backend using another style translates them in ``_sql``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from abc import abstractmethod
from datetime import UTC, datetime

from boundaries._lazy import lazy_module
from boundaries.errors import StoreError
from boundaries.model import LINE_FIELDS, MARKER_FIELDS, STORAGE_CRS, Submission
from boundaries.store import ALL_PROVINCES, LAYERS, MIGRATIONS, SCHEMA, Checker, Page, Store, empty_layer
from boundaries.store.dialect import Dialect

gpd = lazy_module("geopandas")
np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = ["KILL_POINTS", "SqlStore", "kill_point", "now_utc"]

SRID = 4490
#: counts of :meth:`SqlStore.cached_count`: (database, SQL, parameters) → (data token, count, when), oldest first
_COUNTS: dict[tuple, tuple[str | None, int, float]] = {}
_COUNTS_KEPT = 512
#: seconds a count is trusted while quhua has written nothing (an edit made with another tool shows then)
COUNT_TTL_S = 60.0
#: deep offsets start from the fid of every this many rows (:meth:`SqlStore.offset_start`)
OFFSET_MARK_EVERY = 10_000
_FEATURE_COLUMNS = ("province", "submission_id", "status", "valid_from", "source_file")


#: The points inside an ingest's transaction where the crash test (tests/boundaries/test_crash.py) kills it.
KILL_POINTS = ("checked", "submission", "superseded", "lines", "markers", "issues", "audit")


def kill_point(name: str) -> None:
    """Fault injection for the crash test: with ``QUHUA_TEST_KILL_AT=name`` the process kills itself here with
    SIGKILL, as ``kill -9`` or a power cut would, inside the open transaction. Unset, it does nothing."""
    if os.environ.get("QUHUA_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def now_utc() -> str:
    """The time as GeoPackage DATETIME wants it (and PostgreSQL reads): ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _province_clause(layer: str, province: str) -> tuple[str, list[str]]:
    """What concerns a province: its own rows, and lines (and their markers) with a side in it."""
    prefix = province[:2]
    if layer == "lines":
        return ("(province = ? OR substr(left_code, 1, 2) = ? OR substr(right_code, 1, 2) = ?)",
                [province, prefix, prefix])
    if layer == "markers":
        return ("(province = ? OR substr(line_id, 1, 2) = ? OR substr(line_id, 3, 2) = ?)",
                [province, prefix, prefix])
    return "(province = ?)", [province]


def _as_multi(geometries: np.ndarray) -> np.ndarray:
    out = np.asarray(geometries, dtype=object).copy()
    single = shapely.get_type_id(out) == shapely.GeometryType.LINESTRING
    out[single] = [shapely.MultiLineString([g]) for g in out[single]]
    return out


class SqlStore(Store):
    """Layer reading and submission storing over a DB-API connection; backends supply the hooks.

    The other packages that keep tables in the same database (the gazetteer, the viewer's accounts) run
    their SQL through the public methods below — :meth:`fetch`, :meth:`execute`, :meth:`executemany`,
    :meth:`transaction`, :meth:`has_table` — written with ``?`` placeholders, and ask :attr:`dialect` for
    what the two databases write differently; their schemas are versioned through :meth:`migrate`.
    """

    dialect: Dialect
    _con = None  # the open connection (the backends')

    # -- SQL for the packages that share the database ---------------------------------------------
    def fetch(self, sql: str, params=()) -> list[tuple]:
        """The rows of a query (``?`` placeholders)."""
        return self._fetchall(sql, list(params))

    def execute(self, sql: str, params=()) -> int:
        """Run one statement (``?`` placeholders); the number of rows it changed."""
        return self._execute(sql, list(params))

    def executemany(self, sql: str, rows) -> None:
        """Run one statement for each of ``rows``."""
        self._executemany(sql, rows)

    def has_table(self, name: str) -> bool:
        return self.dialect.has_table(self.connection(), name)

    def columns(self, table: str) -> set[str]:
        return self.dialect.columns(self.connection(), table)

    def transaction(self):
        """A context manager: one write transaction, stored whole or not at all (on the GeoPackage the one
        writer; on PostGIS a transaction, or a savepoint inside one)."""
        return self._write_transaction(None)

    def begin_snapshot(self) -> None:
        """Read the database as it is now until the connection's transaction ends (the viewer's requests)."""
        self.dialect.begin_snapshot(self.connection())

    def end_snapshot(self) -> bool:
        """End the open connection's transaction (a read snapshot is rolled back) so that the connection can
        serve the next reader; False when there is no sound connection to keep."""
        return self._con is not None and self.dialect.end_snapshot(self._con)

    def version(self, key: str = "schema_version") -> int:
        """The schema version recorded under ``key`` (:mod:`boundaries.store.migrations`)."""
        from boundaries.store.migrations import stored_version

        return stored_version(self, key)

    def migrate(self, key: str, migrations, what: str, **options) -> tuple[int, int]:
        """:func:`boundaries.store.migrations.migrate` on this store (inside the caller's transaction)."""
        from boundaries.store.migrations import migrate

        return migrate(self, key, migrations, what, **options)

    @abstractmethod
    def create_table(self, name: str, geometry_type: str | None, columns: dict[str, str], description: str = "",
                     *, text_type: str = "text") -> None:
        """Create a table unless it exists: a feature table (``geometry_type``, EPSG:4490, spatial index) or
        an attributes table (None), primary key ``fid``."""

    # -- reading ----------------------------------------------------------------------------------
    #: rows of features fetched by :meth:`query` and :meth:`get` since the store was opened (what the tests
    #: check to know that a page did not read the whole layer)
    rows_read = 0

    def _layer_schema(self, layer: str) -> tuple[str | None, dict[str, str]]:
        if layer not in LAYERS:
            raise StoreError(f"unknown layer {layer!r}; the layers are {', '.join(LAYERS)}",
                             message_zh=f"未知图层 {layer!r}；现有图层为 {'、'.join(LAYERS)}")
        return SCHEMA[layer]

    def _where(self, layer: str, *, bbox, province, properties, history) -> tuple[list[str], list]:
        """The conditions (``?`` placeholders) and parameters of :meth:`query`'s filters."""
        geometry_type, columns = SCHEMA[layer]
        where, params = [], []
        if layer in ("lines", "markers") and not history:
            # not through the (status, province) index: pages are in fid order, which it would have to sort
            where.append(f"{self.dialect.unindexed('status')} = 'current'")
        if province:
            clause, clause_params = _province_clause(layer, str(province))
            where.append(clause)
            params += clause_params
        for name, value in (properties or {}).items():
            if name != "fid" and name not in columns:
                raise StoreError(f"{layer} has no column {name!r}; its columns are fid, {', '.join(columns)}",
                                 message_zh=f"图层 {layer} 没有字段 {name!r}；其字段为 fid、{'、'.join(columns)}")
            column = '"fid"' if name == "fid" else self._select_column(name, columns[name])
            clause, clause_params = self.dialect.equals(column, value)
            where.append(clause)
            params += clause_params
        if bbox is not None and geometry_type is not None:
            clause, clause_params = self._bbox_clause(layer, bbox)
            where.append(clause)
            params += clause_params
        return where, params

    def _order(self, layer: str, sortby) -> str:
        columns = SCHEMA[layer][1]
        terms = []
        for term in sortby or ():
            name = term.lstrip("+-")
            if name != "fid" and name not in columns:
                raise StoreError(f"cannot sort {layer} by {name!r}: no such column",
                                 message_zh=f"无法按 {name!r} 排序图层 {layer}：没有该字段")
            terms.append(f'"{name}"' + (" DESC" if term.startswith("-") else ""))
        return ", ".join([*terms, '"fid"'])

    def _select_rows(self, layer: str, where: list[str], params: list, tail: str = "",
                     tail_params: list | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
        """The layer's rows that ``where`` admits, as a frame (``tail``: ORDER BY, LIMIT …)."""
        geometry_type, columns = SCHEMA[layer]
        select = ['"fid"', *(self._select_column(c, t) for c, t in columns.items())]
        if geometry_type:
            select.append(self._select_geometry())
        sql = f'SELECT {", ".join(select)} FROM "{layer}"' + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self._fetchall(sql + tail, [*params, *(tail_params or [])])
        self.rows_read += len(rows)
        frame = pd.DataFrame.from_records(rows, columns=["fid", *columns] + (["geom"] if geometry_type else []))
        if geometry_type is None:
            return frame
        geometry = self._decode(frame.pop("geom"))
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS))

    def _count(self, layer: str, where: list[str], params: list) -> int:
        sql = f'SELECT count(*) FROM "{layer}"' + (f" WHERE {' AND '.join(where)}" if where else "")
        return self.cached_count(sql, params)

    # -- counts, cached per state of the database ---------------------------------------------------
    def data_token(self) -> str | None:
        """What changes whenever quhua stores something: ``quhua_meta.data_version``, which every write
        transaction of the boundaries and the gazetteer raises (:meth:`touch`), read in the reader's
        snapshot, so that a count is of the state the page shows."""
        rows = self.fetch("SELECT value FROM quhua_meta WHERE key = 'data_version'") if self.exists() else []
        return rows[0][0] if rows else None

    def touch(self) -> None:
        """Record, inside the caller's write transaction, that the data changed (see :meth:`data_token`)."""
        if self.has_table("quhua_meta"):
            self.execute("INSERT INTO quhua_meta (key, value) VALUES ('data_version', '1') ON CONFLICT (key) "
                         "DO UPDATE SET value = CAST(CAST(quhua_meta.value AS INTEGER) + 1 AS TEXT)")

    def cached_count(self, sql: str, params) -> int:
        """The ``count(*)`` of ``sql``, counted again when :meth:`data_token` changed since it was last counted
        in this process, or :data:`COUNT_TTL_S` later (for edits made with other tools, which do not raise
        the data version): a page of a million names needs its ``numberMatched`` on every request, and
        counting them takes tens of milliseconds."""
        return self._remembered(sql, params, lambda: int(self._fetchall(sql, list(params))[0][0]))

    def _remembered(self, sql: str, params, compute):
        """``compute()``, remembered for ``sql`` and ``params`` as :meth:`cached_count` says."""
        key = (self.url, sql, json.dumps(list(params), default=str))
        token, now = self.data_token(), time.monotonic()
        known = _COUNTS.get(key)
        if known is not None and known[0] == token and now - known[2] < COUNT_TTL_S:
            return known[1]
        value = compute()
        if len(_COUNTS) >= _COUNTS_KEPT:
            _COUNTS.pop(next(iter(_COUNTS)))
        _COUNTS[key] = (token, value, now)
        return value

    def offset_start(self, table: str, where: list[str], params: list, offset: int) -> tuple[int | None, int]:
        """Where a page at ``offset`` (in fid order, of the rows ``where`` admits) starts: ``(after, rest)``,
        the fid after which to read and the rows still to skip. Deep offsets start from the fid of every
        :data:`OFFSET_MARK_EVERY`-th row (one window query, remembered as counts are), so that a page at
        offset 900,000 skips fewer than 10,000 index entries instead of 900,000."""
        if offset < OFFSET_MARK_EVERY:
            return None, offset
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        sql = (f'SELECT fid FROM (SELECT "fid", row_number() OVER (ORDER BY "fid") AS n FROM "{table}"{condition}) '
               f"AS numbered WHERE n = (n / {OFFSET_MARK_EVERY}) * {OFFSET_MARK_EVERY} ORDER BY fid")  # n / K: integer
        marks = self._remembered(sql, params, lambda: [int(r[0]) for r in self._fetchall(sql, list(params))])
        passed = min(offset // OFFSET_MARK_EVERY, len(marks))
        if passed == 0:
            return None, offset
        return marks[passed - 1], offset - passed * OFFSET_MARK_EVERY

    def query(self, layer, *, offset=0, limit=None, after=None, bbox=None, province=None, properties=None,
              sortby=(), history=False, count=True, hits_only=False):
        geometry_type, _columns = self._layer_schema(layer)
        if not self.exists():
            return Page(empty_layer(layer), 0 if count or hits_only else None, False)
        if after is not None and sortby:
            raise StoreError("keyset paging (after) is by fid order only", message_zh="按 after 分页只能按 fid 排序")
        where, params = self._where(layer, bbox=bbox, province=province, properties=properties, history=history)
        order = self._order(layer, sortby)
        if bbox is not None and geometry_type is not None and not self._bbox_is_exact(geometry_type):
            return self._query_refined(layer, where, params, order, bbox, offset=offset, limit=limit, after=after,
                                       count=count, hits_only=hits_only)
        if hits_only:
            return Page(empty_layer(layer), self._count(layer, where, params), False)
        keyset, start = after is not None, offset
        if not keyset and not sortby and offset:
            after, offset = self.offset_start(layer, where, params, offset)
        page_where = [*where, '"fid" > ?'] if after is not None else where
        page_params = [*params, int(after)] if after is not None else params
        tail, tail_params = f" ORDER BY {order}", []
        if limit is not None:
            tail += " LIMIT ?"
            tail_params.append(int(limit) + 1)  # one more: whether another page follows, without counting
        if keyset:
            offset = 0  # the keyset starts the page: the offset only numbered it (in the API's links)
        if offset:
            tail += "" if limit is not None else f" LIMIT {self._no_limit}"
            tail += " OFFSET ?"
            tail_params.append(int(offset))
        frame = self._select_rows(layer, page_where, page_params, tail, tail_params)
        more = limit is not None and len(frame) > limit
        if more:
            frame = frame.iloc[:limit]
        matched = None
        if count:
            matched = (start + len(frame) if not more and not keyset and (start == 0 or len(frame))
                       else self._count(layer, where, params))
        return Page(frame.reset_index(drop=True), matched, more)

    def _query_refined(self, layer, where, params, order, bbox, *, offset, limit, after, count, hits_only) -> Page:
        """A bbox query where the index finds candidates by their envelope only (lines on the GeoPackage,
        which has no spatial SQL functions): the candidates' geometries are tested here, and the page is
        cut from the fids that really intersect. Reads the candidates' geometries, not their rows."""
        rows = self._fetchall(f'SELECT "fid", {self._select_geometry()} FROM "{layer}" WHERE '
                              f"{' AND '.join(where)} ORDER BY {order}", params)
        geometry = self._decode(pd.Series([r[1] for r in rows], dtype=object))
        keep = shapely.intersects(geometry, shapely.box(*bbox)) if len(rows) else np.zeros(0, bool)
        fids = [int(r[0]) for r, k in zip(rows, keep, strict=True) if k]
        matched = len(fids)
        if hits_only:
            return Page(empty_layer(layer), matched, False)
        chosen = [f for f in fids if f > after] if after is not None else fids[offset:]
        more = limit is not None and len(chosen) > limit
        chosen = chosen[:limit] if limit is not None else chosen
        clause, list_param = self._in_values('"fid"', chosen)
        frame = self._select_rows(layer, [clause], [list_param]) if chosen else empty_layer(layer)
        frame = frame.set_index("fid", drop=False).loc[chosen] if chosen else frame
        return Page(frame.reset_index(drop=True), matched if count else None, more)

    def get(self, layer, identifier, *, province=None, history=False):
        self._layer_schema(layer)
        if not self.exists() or not str(identifier).isdigit():
            return empty_layer(layer)
        where, params = self._where(layer, bbox=None, province=province, properties={"fid": int(identifier)},
                                    history=history)
        return self._select_rows(layer, where, params)

    # -- QA configuration -------------------------------------------------------------------------
    def read_config(self, province):
        if not self.exists() or not self._has_config_table():
            return None
        rows = self._fetchall(
            f'SELECT province, "user", {self._select_column("created_at", "DATETIME")}, toml FROM qa_config '
            "WHERE province IN (?, ?) ORDER BY province = ? DESC, fid DESC LIMIT 1",
            [province, ALL_PROVINCES, province])
        return dict(zip(("province", "user", "created_at", "toml"), rows[0], strict=True)) if rows else None

    def write_config(self, province, toml, *, user, audit=None):
        self.init()  # idempotent: adds qa_config (and audit) to a database made before they existed
        with self._write_transaction(None):
            self._execute('INSERT INTO qa_config (province, "user", created_at, toml) VALUES (?, ?, ?, ?)',
                          [province, user, now_utc(), toml])
            if audit is not None:
                audit.province = audit.province or province
                self._insert_audit(audit)
            self.touch()

    # -- the audit log ----------------------------------------------------------------------------
    def write_audit(self, entry):
        if not self.exists() or not self.has_table("audit"):
            self.init()  # idempotent: a database made before the audit log gets its table
        with self._write_transaction(None):
            self._insert_audit(entry)

    def _insert_audit(self, entry) -> None:
        row = {"created_at": now_utc(), **entry.row()}
        names = ", ".join(f'"{c}"' for c in row)
        self._execute(f'INSERT INTO audit ({names}) VALUES ({", ".join("?" * len(row))})', list(row.values()))

    def read_audit(self, *, province=None, user=None, action=None, limit=50, offset=0):
        from boundaries.audit import AuditPage

        if not self.exists() or not self.has_table("audit"):
            return AuditPage([], 0, limit, offset)
        where, params = [], []
        for column, value in (("province", province), ("user", user), ("action", action)):
            if value:
                where.append(f'"{column}" = ?')
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self._fetchall(f"SELECT count(*) FROM audit{clause}", params)[0][0]
        columns = list(SCHEMA["audit"][1])
        select = ", ".join(['"fid"', *(self._select_column(c, t) for c, t in SCHEMA["audit"][1].items())])
        rows = self._fetchall(f"SELECT {select} FROM audit{clause} ORDER BY fid DESC LIMIT ? OFFSET ?",
                              [*params, int(limit), int(offset)])
        out = []
        for row in rows:
            record = dict(zip(["fid", *columns], row, strict=True))
            record["detail"] = json.loads(record["detail"]) if record["detail"] else {}
            out.append(record)
        return AuditPage(out, int(total), limit, offset)

    # -- writing ----------------------------------------------------------------------------------
    def ingest(self, submission: Submission, checker: Checker, *, user: str, audit=None):
        if not self.exists():
            raise StoreError(f"the database {self.url} has not been created: run `quhua --db {self.url} init`",
                             message_zh=f"数据库 {self.url} 尚未创建：请运行 `quhua --db {self.url} init`")
        if self.version() < max(MIGRATIONS):
            self.init()  # a database of an older schema is upgraded before anything is stored in it
        with self._write_transaction(submission):
            report = checker(self)
            kill_point("checked")
            submission_id = self._save(submission, report, user) if report["accepted"] else None
            if audit is not None:  # in the same transaction: the row exists exactly when the write does
                summary = report["summary"]
                audit.user, audit.province, audit.submission_id = user, submission.province, submission_id
                audit.outcome = "stored" if submission_id is not None else "rejected"
                audit.detail = {**audit.detail, "files": [f.name for f in submission.files], "lines": summary["lines"],
                                "markers": summary["markers"], "errors": summary["errors"],
                                "warnings": summary["warnings"]}
                self._insert_audit(audit)
                kill_point("audit")
            if submission_id is not None:
                self.touch()
        return report, submission_id

    def _save(self, submission: Submission, report: dict, user: str) -> int:
        now = now_utc()
        summary = report["summary"]
        sid = self._insert_returning_fid(
            'INSERT INTO submissions (province, "user", created_at, accepted, encoding, crs, files, lines, '
            "markers, errors, warnings, report) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
            [submission.province, user, now, report.get("encoding"), report.get("crs"),
             json.dumps([vars(f) for f in submission.files], ensure_ascii=False), summary["lines"],
             summary["markers"], summary["errors"], summary["warnings"], json.dumps(report, ensure_ascii=False)])
        kill_point("submission")
        self._supersede(submission, sid, now)
        kill_point("superseded")
        self._insert_features("lines", submission.lines, LINE_FIELDS, submission.province, sid, now,
                              shapely.force_2d(_as_multi(submission.lines.geometry.values)))
        kill_point("lines")
        self._insert_features("markers", submission.markers, MARKER_FIELDS, submission.province, sid, now,
                              shapely.force_2d(np.asarray(submission.markers.geometry.values, dtype=object)))
        kill_point("markers")
        self._insert_issues(report["issues"], submission.province, sid, now)
        kill_point("issues")
        return sid

    def _supersede(self, submission: Submission, sid: int, now: str) -> None:
        line_ids = sorted(set(submission.lines["line_id"].dropna().astype(str)))
        marker_ids = sorted(set(submission.markers["marker_id"].dropna().astype(str)))
        for table, column, ids in (("lines", "line_id", line_ids), ("markers", "line_id", line_ids),
                                   ("markers", "marker_id", marker_ids)):
            # a resurveyed line's old markers go with it; a marker resubmitted on its own replaces its id
            clause, list_param = self._in_list(column, ids)
            self._execute(f"UPDATE {table} SET status = 'superseded', superseded_by = ?, valid_to = ? "
                          f"WHERE status = 'current' AND province = ? AND {clause}",
                          [sid, now, submission.province, list_param])

    def _insert_features(self, layer, frame, fields, province, sid, now, geometry) -> None:
        if not len(frame):
            return
        values = frame.reindex(columns=[*fields, "source_file"]).astype(object)
        values = values.where(pd.notna(values), None)
        rows = [[*row[:-1], province, sid, "current", now, row[-1], blob]
                for row, blob in zip(values.itertuples(index=False, name=None), self._encode(geometry),
                                     strict=True)]
        self._insert_rows(layer, [*fields, *_FEATURE_COLUMNS, "geom"], rows)

    def _insert_issues(self, issues: list[dict], province: str, sid: int, now: str) -> None:
        if not issues:
            return
        points = np.array([shapely.Point(i["lon"], i["lat"]) if i.get("lon") is not None else None
                           for i in issues], dtype=object)
        rows = [[i["rule"], i["severity"], i["layer"], i.get("feature"), i["message"], i.get("message_en"),
                 i.get("file"), province, sid, now, blob] for i, blob in zip(issues, self._encode(points),
                                                                              strict=True)]
        columns = ["rule", "severity", "layer", "feature", "message", "message_en", "file", "province",
                   "submission_id", "created_at", "geom"]
        self._insert_rows("issues", columns, rows)

    # -- backend hooks ----------------------------------------------------------------------------
    @abstractmethod
    def _has_config_table(self) -> bool: ...

    @abstractmethod
    def _fetchall(self, sql: str, params: list) -> list[tuple]: ...

    @abstractmethod
    def _execute(self, sql: str, params: list) -> int: ...

    @abstractmethod
    def _executemany(self, sql: str, rows) -> None: ...

    @abstractmethod
    def _insert_rows(self, table: str, columns: list[str], rows: list[list]) -> None:
        """Insert many rows; the last column is ``geom``, given as :meth:`_encode` made it."""

    @abstractmethod
    def _insert_returning_fid(self, sql: str, params: list) -> int: ...

    @abstractmethod
    def _write_transaction(self, submission: Submission):
        """A context manager: one transaction in which no other writer touches the same boundaries."""

    @abstractmethod
    def _encode(self, geometries: np.ndarray) -> list: ...

    @abstractmethod
    def _decode(self, column: pd.Series) -> np.ndarray: ...

    @abstractmethod
    def _bbox_clause(self, layer: str, bbox) -> tuple[str, list]: ...

    def _in_list(self, column: str, values: list[str]) -> tuple[str, object]:
        return self.dialect.in_list(column, values)

    def _in_values(self, column: str, values: list) -> tuple[str, object]:
        """``column`` (an SQL expression) is one of ``values`` (texts or numbers): the condition, one parameter."""
        return self.dialect.in_list(column, values)

    def _bbox_is_exact(self, geometry_type: str) -> bool:
        """Whether :meth:`_bbox_clause` admits only the features that intersect the box (else its
        candidates are tested in Python)."""
        return True

    @property
    def _no_limit(self) -> str:
        return self.dialect.no_limit

    def _select_column(self, name: str, sqltype: str) -> str:
        return f'"{name}"'

    def _select_geometry(self) -> str:
        return '"geom"'
