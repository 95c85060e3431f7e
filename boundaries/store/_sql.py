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
from abc import abstractmethod
from datetime import UTC, datetime

from boundaries._lazy import lazy_module
from boundaries.errors import StoreError
from boundaries.model import LINE_FIELDS, MARKER_FIELDS, STORAGE_CRS, Submission
from boundaries.store import ALL_PROVINCES, LAYERS, SCHEMA, Checker, Store, empty_layer

gpd = lazy_module("geopandas")
np = lazy_module("numpy")
pd = lazy_module("pandas")
shapely = lazy_module("shapely")

__all__ = ["KILL_POINTS", "SqlStore", "kill_point", "now_utc"]

SRID = 4490
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
    """Layer reading and submission storing over a DB-API connection; backends supply the hooks."""

    # -- reading ----------------------------------------------------------------------------------
    def read_layer(self, layer, *, province=None, bbox=None, history=False):
        if layer not in LAYERS:
            raise StoreError(f"unknown layer {layer!r}; the layers are {', '.join(LAYERS)}",
                             message_zh=f"未知图层 {layer!r}；现有图层为 {'、'.join(LAYERS)}")
        if not self.exists():
            return empty_layer(layer)
        geometry_type, columns = SCHEMA[layer]
        where, params = [], []
        if layer in ("lines", "markers") and not history:
            where.append("status = 'current'")
        if province:
            clause, clause_params = _province_clause(layer, str(province))
            where.append(clause)
            params += clause_params
        if bbox is not None and geometry_type is not None:
            clause, clause_params = self._bbox_clause(layer, bbox)
            where.append(clause)
            params += clause_params
        select = ['"fid"', *(self._select_column(c, t) for c, t in columns.items())]
        if geometry_type:
            select.append(self._select_geometry())
        sql = f'SELECT {", ".join(select)} FROM "{layer}"' + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self._fetchall(sql + " ORDER BY fid", params)
        frame = pd.DataFrame.from_records(rows, columns=["fid", *columns] + (["geom"] if geometry_type else []))
        if geometry_type is None:
            return frame
        geometry = self._decode(frame.pop("geom"))
        out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS))
        if bbox is not None and len(out):
            out = out[out.intersects(shapely.box(*bbox))]
        return out.reset_index(drop=True)

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

    # -- the audit log ----------------------------------------------------------------------------
    def write_audit(self, entry):
        if not self.exists() or not self._has_table("audit"):
            self.init()  # idempotent: a database made before the audit log gets its table
        with self._write_transaction(None):
            self._insert_audit(entry)

    def _insert_audit(self, entry) -> None:
        row = {"created_at": now_utc(), **entry.row()}
        names = ", ".join(f'"{c}"' for c in row)
        self._execute(f'INSERT INTO audit ({names}) VALUES ({", ".join("?" * len(row))})', list(row.values()))

    def read_audit(self, *, province=None, user=None, action=None, limit=50, offset=0):
        from boundaries.audit import AuditPage

        if not self.exists() or not self._has_table("audit"):
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
        if audit is not None and not self._has_table("audit"):
            self.init()  # idempotent: a database made before the audit log gets its table
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
    def _has_table(self, name: str) -> bool: ...

    @abstractmethod
    def _fetchall(self, sql: str, params: list) -> list[tuple]: ...

    @abstractmethod
    def _execute(self, sql: str, params: list) -> None: ...

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

    @abstractmethod
    def _in_list(self, column: str, values: list[str]) -> tuple[str, object]: ...

    def _select_column(self, name: str, sqltype: str) -> str:
        return f'"{name}"'

    def _select_geometry(self) -> str:
        return '"geom"'
