"""The server database: PostgreSQL + PostGIS, with the layers and behaviour of the GeoPackage store.

Geometry columns are typed ``geometry(<type>, 4490)`` with GiST indexes; a bounding-box read uses ``&&``
on them. The schema is created by :meth:`PostgisStore.init`, versioned in ``quhua_meta`` and upgraded by
the steps of :data:`MIGRATIONS`. Writers are serialised per province with transaction-level advisory
locks: an ingest locks every province its lines touch (both sides), in a fixed order, before it reads
what is stored; so ingests of different provinces run in parallel, and two ingests touching the same
boundary run one after the other, the second checked against the first.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import shapely

from boundaries.errors import StoreError
from boundaries.model import Submission
from boundaries.store import MIGRATIONS as _MIGRATIONS
from boundaries.store._sql import SRID, SqlStore
from boundaries.store.dialect import POSTGRESQL, column_definitions

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgisStore", "column_definitions", "stored_version"]

_LOCK_NAMESPACE = 0x5148  # "QH": advisory lock keys are (namespace, province prefix)
#: The boundaries' schema: :data:`boundaries.store.MIGRATIONS`, the same for both databases
MIGRATIONS = _MIGRATIONS
SCHEMA_VERSION = max(MIGRATIONS)


def stored_version(con, key: str) -> int:
    """The version recorded under ``quhua_meta.key`` of a PostgreSQL connection (0 when none is)."""
    if not con.execute("SELECT to_regclass('quhua_meta') IS NOT NULL").fetchone()[0]:
        return 0
    row = con.execute("SELECT value FROM quhua_meta WHERE key = %s", (key,)).fetchone()
    return int(row[0]) if row else 0


class PostgisStore(SqlStore):
    """Lines, markers, issues and submissions as PostGIS tables of one PostgreSQL database."""

    dialect = POSTGRESQL

    def __init__(self, url: str):
        self.url = url
        self._con = None

    def connection(self):
        if self._con is None:
            try:
                import psycopg
            except ImportError as err:
                raise StoreError("the PostGIS backend needs psycopg: pip install 'quhua[postgis]'",
                                 message_zh="PostGIS 后端需要 psycopg：请运行 pip install 'quhua[postgis]'"
                                 ) from err
            try:
                self._con = psycopg.connect(self.url, autocommit=True)
            except psycopg.Error as err:
                raise StoreError(f"cannot connect to {self.url}: {str(err).strip()}; check the URL, that the "
                                 "server runs and that PostGIS is installed",
                                 message_zh=f"无法连接 {self.url}：{str(err).strip()}；请检查数据库地址、服务器"
                                            "是否在运行以及是否已安装 PostGIS") from err
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def exists(self) -> bool:
        row = self.connection().execute("SELECT to_regclass('quhua_meta') IS NOT NULL").fetchone()
        return bool(row[0])

    def schema_version(self) -> int:
        return stored_version(self.connection(), "schema_version")

    def init(self) -> None:
        con = self.connection()
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_NAMESPACE,))  # one initialiser at a time
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            self.migrate("schema_version", MIGRATIONS, f"{self.url} has schema version",
                         what_zh=f"{self.url} 的结构版本为")

    def create_table(self, name, geometry_type, columns, description="", *, text_type="text"):
        geom = f", geom geometry({geometry_type}, {SRID})" if geometry_type else ""
        self._execute(f'CREATE TABLE IF NOT EXISTS "{name}" (fid bigserial PRIMARY KEY{geom}'
                      f"{column_definitions(columns, text_type)})", [])
        if geometry_type:
            self._execute(f'CREATE INDEX IF NOT EXISTS "{name}_geom_gist" ON "{name}" USING gist (geom)', [])

    # -- hooks of SqlStore ------------------------------------------------------------------------
    def _has_config_table(self):
        return self.has_table("qa_config")

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def _fetchall(self, sql, params):
        return self.connection().execute(self._sql(sql), params).fetchall()

    def _execute(self, sql, params):
        return self.connection().execute(self._sql(sql), params).rowcount

    def _executemany(self, sql, rows):
        with self.connection().cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)

    def _insert_rows(self, table, columns, rows):
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(["%s"] * (len(columns) - 1) + ["ST_GeomFromEWKB(%s)"])
        with self.connection().cursor() as cursor:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    def _insert_returning_fid(self, sql, params):
        return self.connection().execute(self._sql(sql) + " RETURNING fid", params).fetchone()[0]

    @contextmanager
    def _write_transaction(self, submission: Submission | None):
        con = self.connection()
        with con.transaction():
            for prefix in _provinces_touched(submission) if submission is not None else []:
                con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE, int(prefix)))
            yield

    def _encode(self, geometries):
        geoms = shapely.set_srid(np.asarray(geometries, dtype=object), SRID)
        return list(shapely.to_wkb(geoms, include_srid=True))

    def _decode(self, column: pd.Series):
        return shapely.from_wkb(np.asarray([None if b is None else bytes(b) for b in column], dtype=object))

    def _bbox_clause(self, layer, bbox):
        return "ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?, 4490))", list(bbox)  # && through GiST, then exact

    def _in_list(self, column, values):
        return f"{column} = ANY(?::text[])", list(values)

    def _select_column(self, name, sqltype):
        if sqltype == "DATETIME":  # the same text as the GeoPackage gives
            return f"""to_char("{name}" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
        return f'"{name}"'

    def _select_geometry(self):
        return "ST_AsBinary(geom)"

    def _time_param(self):
        return "CAST(? AS timestamptz)"

    def _geometry_param(self):
        return "ST_GeomFromEWKB(?)"


def _provinces_touched(submission: Submission) -> list[str]:
    """The two-digit prefixes of the submitting province and of both sides of every line, sorted."""
    codes = {submission.province[:2]}
    for column in ("left_code", "right_code"):
        codes |= {str(c)[:2] for c in submission.lines[column].dropna() if str(c)[:2].isdigit()}
    codes |= {str(c)[i:i + 2] for c in submission.markers["line_id"].dropna() for i in (0, 2)
              if str(c)[i:i + 2].isdigit()}
    return sorted(codes)
