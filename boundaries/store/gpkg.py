"""OGC GeoPackage 1.3 at the SQLite level: create feature tables, write and read geometry blobs.

quhua writes its GeoPackage through Python's :mod:`sqlite3` rather than through GDAL so that one ingest
(lines, markers, issues and the submission record) is one SQLite transaction. The tables it creates are
ordinary GeoPackage feature layers with the ``gpkg_rtree_index`` extension, the same triggers GDAL writes,
so QGIS, GDAL (``ogrinfo``) and pyogrio open them directly. The triggers call ``ST_MinX`` … ``ST_IsEmpty``,
which GDAL and SpatiaLite provide; :func:`connect` registers equivalents that read the envelope in the
blob header.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from boundaries._lazy import lazy_module

np = lazy_module("numpy")
shapely = lazy_module("shapely")

__all__ = [
    "GEOMETRY_COLUMN",
    "connect",
    "create_attribute_table",
    "create_feature_table",
    "decode",
    "encode",
    "ensure_geopackage",
    "has_table",
    "transaction",
]

GEOMETRY_COLUMN = "geom"
_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10300  # GeoPackage 1.3.0
_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, envelope minx maxx miny maxy
_FLAGS_ENVELOPE_XY_LE = 0b0000_0011  # envelope [minx, maxx, miny, maxy], little-endian
_FLAGS_EMPTY_LE = 0b0001_0001  # empty geometry, no envelope, little-endian

_SRS_ROWS = (
    ("Undefined Cartesian SRS", -1, "NONE", -1, "undefined", "undefined Cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
)
_CORE_TABLES = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
  definition TEXT NOT NULL, scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""
# The rtree triggers of GeoPackage 1.3 (gpkg_rtree_index), as GDAL writes them.
_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{g}_insert" AFTER INSERT ON "{t}" WHEN (new."{g}" NOT NULL AND NOT ST_IsEmpty(NEW."{g}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{g}" VALUES (NEW."fid", ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"),
  ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}")); END;
CREATE TRIGGER "rtree_{t}_{g}_update6" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND
  (NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}")) AND (OLD."{g}" NOTNULL AND NOT ST_IsEmpty(OLD."{g}"))
BEGIN UPDATE "rtree_{t}_{g}" SET minx = ST_MinX(NEW."{g}"), maxx = ST_MaxX(NEW."{g}"),
  miny = ST_MinY(NEW."{g}"), maxy = ST_MaxY(NEW."{g}") WHERE id = NEW."fid"; END;
CREATE TRIGGER "rtree_{t}_{g}_update7" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND
  (NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}")) AND (OLD."{g}" ISNULL OR ST_IsEmpty(OLD."{g}"))
BEGIN INSERT INTO "rtree_{t}_{g}" VALUES (NEW."fid", ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"),
  ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}")); END;
CREATE TRIGGER "rtree_{t}_{g}_update2" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND
  (NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}"))
BEGIN DELETE FROM "rtree_{t}_{g}" WHERE id = OLD."fid"; END;
CREATE TRIGGER "rtree_{t}_{g}_delete" AFTER DELETE ON "{t}" WHEN old."{g}" NOT NULL
BEGIN DELETE FROM "rtree_{t}_{g}" WHERE id = OLD."fid"; END;
"""


def _execute_script(con: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction (``executescript`` would commit it)."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                con.execute(statement)
            statement = ""


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    if blob is None or len(blob) < _HEADER.size or blob[3] & 0b0001_0000:
        return None
    return _HEADER.unpack_from(blob)[4:]


def _envelope_part(index: int):
    def part(blob):
        env = _envelope(blob)
        return None if env is None else env[index]

    return part


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a GeoPackage with the ST_* functions its rtree triggers need.

    Transactions are explicit (``isolation_level=None``): callers say ``BEGIN`` and ``COMMIT``.
    """
    uri = f"file:{Path(path).as_posix()}{'?mode=ro' if readonly else ''}"
    con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=60)
    con.execute("PRAGMA foreign_keys = ON")
    con.create_function("ST_IsEmpty", 1, lambda b: 1 if _envelope(b) is None else 0, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, _envelope_part(i), deterministic=True)
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception: one writer at a time, and what
    happens inside is stored whole or not at all."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def ensure_geopackage(con: sqlite3.Connection, srs: Iterable[tuple[int, str, str]]) -> None:
    """Create the GeoPackage core tables and register spatial reference systems (idempotent).

    ``srs`` holds ``(epsg, name, wkt)`` triples; EPSG:4326 is mandatory in every GeoPackage.
    Call it outside a transaction or right after ``BEGIN``: the header pragmas are written first.
    """
    con.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {_USER_VERSION}")
    _execute_script(con, _CORE_TABLES)
    rows = list(_SRS_ROWS) + [(name, code, "EPSG", code, wkt, None) for code, name, wkt in srs]
    con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)


def has_table(con: sqlite3.Connection, name: str) -> bool:
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def _columns_sql(columns: dict[str, str]) -> str:
    return "".join(f', "{name}" {sqltype}' for name, sqltype in columns.items())


def create_feature_table(con: sqlite3.Connection, table: str, columns: dict[str, str], geometry_type: str,
                         srs_id: int, description: str = "") -> None:
    """Create a GeoPackage feature table with an rtree spatial index, unless it exists.

    ``columns`` maps attribute names to SQLite types (TEXT, INTEGER, REAL, DATETIME…); the primary key
    ``fid`` and the geometry column ``geom`` of ``geometry_type`` (e.g. ``MULTILINESTRING``) are added.
    """
    if has_table(con, table):
        return
    g = GEOMETRY_COLUMN
    con.execute(f'CREATE TABLE "{table}" ("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                f'"{g}" {geometry_type}{_columns_sql(columns)})')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                "VALUES (?, 'features', ?, ?, ?)", (table, table, description, srs_id))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
                (table, g, geometry_type, srs_id))
    con.execute(f'CREATE VIRTUAL TABLE "rtree_{table}_{g}" USING rtree(id, minx, maxx, miny, maxy)')
    con.execute("INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (table, g))
    _execute_script(con, _RTREE_TRIGGERS.format(t=table, g=g))


def create_attribute_table(con: sqlite3.Connection, table: str, columns: dict[str, str],
                           description: str = "") -> None:
    """Create a GeoPackage attributes table (no geometry) with primary key ``fid``, unless it exists."""
    if has_table(con, table):
        return
    con.execute(f'CREATE TABLE "{table}" ("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL'
                f'{_columns_sql(columns)})')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, ?)", (table, table, description))


def encode(geometries: Sequence | np.ndarray, srs_id: int) -> list[bytes | None]:
    """GeoPackage geometry blobs (header with XY envelope + little-endian ISO WKB) of shapely geometries."""
    geoms = np.asarray(geometries, dtype=object)
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    bounds = shapely.bounds(geoms)  # minx, miny, maxx, maxy; NaN for empty
    empty = shapely.is_empty(geoms)
    out: list[bytes | None] = []
    for g, w, (x0, y0, x1, y1), is_empty in zip(geoms, wkb, bounds, empty, strict=True):
        if g is None:
            out.append(None)
        elif is_empty:
            out.append(struct.pack("<2sBBi", b"GP", 0, _FLAGS_EMPTY_LE, srs_id) + w)
        else:
            out.append(_HEADER.pack(b"GP", 0, _FLAGS_ENVELOPE_XY_LE, srs_id, x0, x1, y0, y1) + w)
    return out


_ENVELOPE_BYTES = (0, 32, 48, 48, 64)


def decode(blobs: Iterable[bytes | None]) -> np.ndarray:
    """Shapely geometries from GeoPackage geometry blobs (None stays None)."""
    wkb = []
    for blob in blobs:
        if blob is None:
            wkb.append(None)
            continue
        envelope = _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]
        wkb.append(bytes(blob[8 + envelope:]))
    return shapely.from_wkb(np.asarray(wkb, dtype=object))
