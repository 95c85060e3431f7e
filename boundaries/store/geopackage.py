"""The embedded default database: one GeoPackage file that QGIS and GDAL open directly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from boundaries.errors import StoreError
from boundaries.store import MIGRATIONS, SCHEMA, gpkg
from boundaries.store._sql import SRID, SqlStore
from boundaries.store.dialect import SQLITE

__all__ = ["GeoPackageStore", "srs_rows"]


def srs_rows(*codes: int) -> list[tuple[int, str, str]]:
    """``(epsg, name, wkt)`` for the GeoPackage SRS table (EPSG:4326 is always included)."""
    from pyproj import CRS

    rows = []
    for code in sorted({4326, *codes}):
        crs = CRS.from_epsg(code)
        rows.append((code, crs.name, crs.to_wkt("WKT1_GDAL")))
    return rows


class GeoPackageStore(SqlStore):
    """Lines, markers, issues and submissions as GeoPackage layers of one SQLite file.

    The schema is versioned in the table ``quhua_meta`` as on PostGIS (:mod:`boundaries.store.migrations`):
    :meth:`init` applies the steps of :data:`boundaries.store.MIGRATIONS` the file has not had; a file
    written before versioning (no ``quhua_meta``) is upgraded from what it holds.
    """

    dialect = SQLITE

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.url = str(path)
        self._con: sqlite3.Connection | None = None
        self._exists = False

    # -- connection -------------------------------------------------------------------------------
    def exists(self) -> bool:
        # once seen, remembered while the connection stays open (quhua never drops its tables): the viewer
        # asks at the start of every request, on a connection it keeps (webmap.db)
        if self._con is not None and self._exists:
            return True
        if not self.path.is_file():
            return False
        self._exists = gpkg.has_table(self.connection(), "submissions")
        return self._exists

    def connection(self) -> sqlite3.Connection:
        """The open SQLite connection (GeoPackage functions registered)."""
        if self._con is None:
            try:
                self._con = gpkg.connect(self.path)
                self._con.execute("PRAGMA journal_mode = WAL")
            except sqlite3.Error as err:
                raise StoreError(f"cannot open the GeoPackage {self.path}: {err}; check the path "
                                 "and that the file is a GeoPackage",
                                 message_zh=f"无法打开 GeoPackage {self.path}：{err}；请检查路径，并确认该文件"
                                            "是 GeoPackage") from err
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self._exists = False

    def init(self) -> None:
        if not self.path.parent.exists():
            raise StoreError(f"cannot create {self.path}: folder {self.path.parent} does not exist",
                             message_zh=f"无法创建 {self.path}：文件夹 {self.path.parent} 不存在")
        with gpkg.transaction(self.connection()) as con:
            gpkg.ensure_geopackage(con, srs_rows(SRID))
            self.migrate("schema_version", MIGRATIONS, f"{self.path} has schema version",
                         what_zh=f"{self.path} 的结构版本为")
        self.checkpoint()

    def create_table(self, name, geometry_type, columns, description="", *, text_type="text"):
        if geometry_type is None:
            gpkg.create_attribute_table(self.connection(), name, columns, description)
        else:
            gpkg.create_feature_table(self.connection(), name, columns, geometry_type, SRID, description)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file, so that tools reading the file header see it whole."""
        self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- hooks of SqlStore ------------------------------------------------------------------------
    def _has_config_table(self):
        return self.has_table("qa_config")

    def _fetchall(self, sql, params):
        return self.connection().execute(sql, params).fetchall()

    def _execute(self, sql, params):
        return self.connection().execute(sql, params).rowcount

    def _executemany(self, sql, rows):
        self.connection().executemany(sql, rows)

    def _insert_rows(self, table, columns, rows):
        names = ", ".join(f'"{c}"' for c in columns)
        self.connection().executemany(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})',
                                      rows)

    def _insert_returning_fid(self, sql, params):
        return self.connection().execute(sql, params).lastrowid

    def _write_transaction(self, submission):
        return gpkg.transaction(self.connection())  # one writer at a time: the checks see what is stored now

    def _encode(self, geometries):
        return gpkg.encode(geometries, SRID)

    def _decode(self, column):
        return gpkg.decode(column)

    def _bbox_clause(self, layer, bbox):
        w, s, e, n = bbox
        clause = (f'fid IN (SELECT id FROM "rtree_{layer}_geom" WHERE minx <= ? AND maxx >= ? '
                  "AND miny <= ? AND maxy >= ?)")
        if SCHEMA[layer][0] != "POINT":
            return clause, [e, w, n, s]
        # the rtree holds 32-bit floats rounded outwards: a point's envelope in the blob header (doubles)
        # is the point itself, so this makes the test exact
        return (clause + " AND ST_MinX(geom) <= ? AND ST_MaxX(geom) >= ? AND ST_MinY(geom) <= ? "
                "AND ST_MaxY(geom) >= ?", [e, w, n, s, e, w, n, s])

    def _bbox_is_exact(self, geometry_type):
        return geometry_type == "POINT"  # lines: the envelope's candidates are tested in Python


    def _in_list(self, column, values):
        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(values)
