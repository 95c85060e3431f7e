"""Filtered search at scale: ``within``, ``near``, ``class`` and ``at`` find the few names they admit even when
thousands of names elsewhere match the query (before, the filters saw only the first few thousand candidates).

The crowd: 12,000 villages 李?村 (every one contains 村 and 李 and reads li…) in five counties of 甘肃, 陕西,
宁夏, 山西 and 河北, valid since 2016; then, imported last, one or two names for each filter.
"""

from __future__ import annotations

import random

import pytest

from placenames.lookup import search
from placenames.model import NameRecord
from placenames.romanize import romanize
from placenames.store import open_name_store

_CROWD = 12_000
_CHARS = "东南西北中上下前后大小新老高低长安平和兴隆福寿康宁永丰太华明光"
_COUNTIES = ["620102", "610102", "640104", "140105", "130102"]
NANCHANG = (115.8838, 28.6811)  # 东湖区, 南昌: more than 600 km from every name of the crowd

FEW = {
    "within": [("李天村", "群众自治组织", 87.61, 43.79, "650102", {})],  # 天山区, 乌鲁木齐
    "near": [("李湖村", "群众自治组织", 115.89, 28.69, "360102", {}),
             ("李滨村", "居民点", 115.92, 28.70, "360102", {})],
    "class": [("李村水库", "水利电力通信设施", 105.0, 36.0, "620102", {}),
              ("李家村水库", "水利电力通信设施", 106.0, 37.0, "640104", {})],
    "at": [("李旧村", "群众自治组织", 108.9, 34.3, "610102",
            {"status": "historical", "valid_from": "2001-01-01", "valid_to": "2010-01-01"})],
}
FILTERS = {"within": {"within": "650000"}, "near": {"near": NANCHANG, "limit": 2},
           "class": {"klass": "水利电力通信设施"}, "at": {"at": "2005-06-01"}}


def _crowd() -> list[NameRecord]:
    rng = random.Random(4)
    records = []
    for i in range(_CROWD):
        name = f"李{rng.choice(_CHARS)}村"
        records.append(NameRecord(name=name, pinyin=romanize(name), klass="群众自治组织", lon=rng.uniform(100, 114),
                                  lat=rng.uniform(35, 41), code=_COUNTIES[i % 5], valid_from="2016-01-01",
                                  source="crowd", source_id=str(i)))
    return records


@pytest.fixture(scope="module")
def crowded(module_db_url):
    store = open_name_store(module_db_url)
    few = [NameRecord(name=name, pinyin=romanize(name), klass=klass, lon=lon, lat=lat, code=code, source="few",
                      source_id=f"{kind}{i}", **({"valid_from": "2016-01-01"} | more))
           for kind, rows in FEW.items() for i, (name, klass, lon, lat, code, more) in enumerate(rows)]
    with store.write():
        store.upsert(_crowd())
        store.upsert(few)
    yield store
    store.close()


@pytest.mark.parametrize("query", ["村", "李", "li"])
@pytest.mark.parametrize("kind", list(FILTERS))
def test_a_filter_finds_its_few_among_thousands(crowded, kind, query):
    options = {"limit": 10, **FILTERS[kind]}
    found = {r["name"] for r in search(crowded, query, **options)}
    assert found == {row[0] for row in FEW[kind]}


def test_filters_combine_and_an_unfiltered_search_still_finds_the_crowd(crowded):
    assert search(crowded, "村", within="360100", klass="居民点")[0]["name"] == "李滨村"
    assert search(crowded, "村", within="360100", klass="海域") == []
    assert [r["name"] for r in search(crowded, "村", within="610000", at="2005-06-01")] == ["李旧村"]
    results = search(crowded, "村", limit=20)
    assert len(results) == 20 and all("村" in r["name"] for r in results)


def test_near_ranks_every_match_by_distance_when_few_match(crowded):
    results = search(crowded, "李天村", near=NANCHANG, limit=3)
    assert results[0]["name"] == "李天村"  # the exact name, however far
