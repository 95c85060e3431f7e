"""The embedded default database: one GeoPackage file that QGIS and GDAL open directly."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.errors import StoreError
from boundaries.model import LINE_FIELDS, MARKER_FIELDS, STORAGE_CRS, Submission
from boundaries.store import DESCRIPTIONS, LAYERS, SCHEMA, Checker, Store, empty_layer, gpkg

__all__ = ["GeoPackageStore", "srs_rows"]

_SRID = 4490


def srs_rows(*codes: int) -> list[tuple[int, str, str]]:
    """``(epsg, name, wkt)`` for the GeoPackage SRS table (EPSG:4326 is always included)."""
    from pyproj import CRS

    rows = []
    for code in sorted({4326, *codes}):
        crs = CRS.from_epsg(code)
        rows.append((code, crs.name, crs.to_wkt("WKT1_GDAL")))
    return rows


def _now() -> str:
    """The time as GeoPackage DATETIME wants it: ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class GeoPackageStore(Store):
    """Lines, markers, issues and submissions as GeoPackage layers of one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.url = str(path)
        self._con: sqlite3.Connection | None = None

    # -- connection -------------------------------------------------------------------------------
    def exists(self) -> bool:
        if not self.path.is_file():
            return False
        return gpkg.has_table(self.connection(), "submissions")

    def connection(self) -> sqlite3.Connection:
        """The open SQLite connection (GeoPackage functions registered)."""
        if self._con is None:
            try:
                self._con = gpkg.connect(self.path)
                self._con.execute("PRAGMA journal_mode = WAL")
            except sqlite3.Error as err:
                raise StoreError(f"cannot open the GeoPackage {self.path}: {err}; check the path "
                                 "and that the file is a GeoPackage") from err
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def init(self) -> None:
        if not self.path.parent.exists():
            raise StoreError(f"cannot create {self.path}: folder {self.path.parent} does not exist")
        con = self.connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            gpkg.ensure_geopackage(con, srs_rows(_SRID))
            for layer, (geometry_type, columns) in SCHEMA.items():
                if geometry_type is None:
                    gpkg.create_attribute_table(con, layer, columns, DESCRIPTIONS[layer])
                else:
                    gpkg.create_feature_table(con, layer, columns, geometry_type, _SRID,
                                              DESCRIPTIONS[layer])
            for layer in ("lines", "markers"):
                con.execute(f'CREATE INDEX IF NOT EXISTS "{layer}_current" ON "{layer}" (status, province)')
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.checkpoint()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file, so that tools reading the file header see it whole."""
        self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _require(self) -> sqlite3.Connection:
        if not self.exists():
            raise StoreError(f"the database {self.path} has not been created: run `quhua init` "
                             f"(or `quhua --db {self.path} init`) first")
        return self.connection()

    # -- reading ----------------------------------------------------------------------------------
    def read_layer(self, layer, *, province=None, bbox=None, history=False):
        if layer not in LAYERS:
            raise StoreError(f"unknown layer {layer!r}; the layers are {', '.join(LAYERS)}")
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
            where.append(f'fid IN (SELECT id FROM "rtree_{layer}_geom" WHERE minx <= ? AND maxx >= ? '
                         "AND miny <= ? AND maxy >= ?)")
            w, s, e, n = bbox
            params += [e, w, n, s]
        names = list(columns)
        select = ", ".join(['"fid"', *(f'"{c}"' for c in names)]
                           + (['"geom"'] if geometry_type else []))
        sql = f'SELECT {select} FROM "{layer}"' + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.connection().execute(sql + " ORDER BY fid", params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=["fid", *names] + (["geom"] if geometry_type else []))
        if geometry_type is None:
            return frame
        geometry = gpkg.decode(frame.pop("geom"))
        out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS))
        if bbox is not None and len(out):
            out = out[out.intersects(shapely.box(*bbox))]
        return out.reset_index(drop=True)

    # -- writing ----------------------------------------------------------------------------------
    def ingest(self, submission: Submission, checker: Checker, *, user: str):
        con = self._require()
        con.execute("BEGIN IMMEDIATE")  # serialise writers: the checks see what is stored now
        try:
            report = checker(self)
            submission_id = None
            if report["accepted"]:
                submission_id = self._save(con, submission, report, user)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return report, submission_id

    def _save(self, con, submission: Submission, report: dict, user: str) -> int:
        now = _now()
        files = [vars(f) for f in submission.files]
        cursor = con.execute(
            'INSERT INTO submissions (province, "user", created_at, accepted, encoding, crs, files, lines, '
            "markers, errors, warnings, report) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (submission.province, user, now, report.get("encoding"), report.get("crs"),
             json.dumps(files, ensure_ascii=False), report["summary"]["lines"],
             report["summary"]["markers"], report["summary"]["errors"], report["summary"]["warnings"],
             json.dumps(report, ensure_ascii=False)))
        sid = cursor.lastrowid
        self._supersede(con, submission, sid, now)
        self._insert(con, "lines", submission.lines, LINE_FIELDS, submission.province, sid, now,
                     geometry=shapely.force_2d(_as_multi(submission.lines.geometry.values)))
        self._insert(con, "markers", submission.markers, MARKER_FIELDS, submission.province, sid, now,
                     geometry=shapely.force_2d(submission.markers.geometry.values))
        self._insert_issues(con, report["issues"], submission.province, sid, now)
        return sid

    @staticmethod
    def _supersede(con, submission: Submission, sid: int, now: str) -> None:
        update = ("UPDATE {t} SET status = 'superseded', superseded_by = ?, valid_to = ? "
                  "WHERE status = 'current' AND province = ? AND {c} IN (SELECT value FROM json_each(?))")
        line_ids = json.dumps(sorted(set(submission.lines["line_id"].astype(str))))
        marker_ids = json.dumps(sorted(set(submission.markers["marker_id"].astype(str))))
        con.execute(update.format(t="lines", c="line_id"), (sid, now, submission.province, line_ids))
        # a resurveyed line's old markers go with it; a marker resubmitted on its own replaces its id
        con.execute(update.format(t="markers", c="line_id"), (sid, now, submission.province, line_ids))
        con.execute(update.format(t="markers", c="marker_id"), (sid, now, submission.province, marker_ids))

    @staticmethod
    def _insert(con, layer, frame, fields, province, sid, now, geometry) -> None:
        if not len(frame):
            return
        blobs = gpkg.encode(geometry, _SRID)
        columns = [*fields, "province", "submission_id", "status", "valid_from", "source_file", "geom"]
        values = frame.reindex(columns=[*fields, "source_file"]).astype(object)
        values = values.where(pd.notna(values), None)
        rows = [(*row[:-1], province, sid, "current", now, row[-1], blob)
                for row, blob in zip(values.itertuples(index=False, name=None), blobs, strict=True)]
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        con.executemany(f'INSERT INTO "{layer}" ({names}) VALUES ({marks})', rows)

    @staticmethod
    def _insert_issues(con, issues: list[dict], province: str, sid: int, now: str) -> None:
        if not issues:
            return
        points = [shapely.Point(i["lon"], i["lat"]) if i.get("lon") is not None else None for i in issues]
        blobs = gpkg.encode(np.array(points, dtype=object), _SRID)
        rows = [(i["rule"], i["severity"], i["layer"], i.get("feature"), i["message"], i.get("message_en"),
                 i.get("file"), province, sid, now, blob) for i, blob in zip(issues, blobs, strict=True)]
        con.executemany(
            "INSERT INTO issues (rule, severity, layer, feature, message, message_en, file, province, "
            "submission_id, created_at, geom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


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
    single = shapely.get_type_id(geometries) == shapely.GeometryType.LINESTRING
    out = np.asarray(geometries, dtype=object).copy()
    out[single] = [shapely.MultiLineString([g]) for g in out[single]]
    return out
