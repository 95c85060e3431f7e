"""``near`` among thousands of matches of mixed prominence: PostGIS reads a gram's rows in its rings once and
ranks the matches in the database (``best_near``), the GeoPackage ranks them all in Python — the same results
on both, and the same as PostGIS's look-up before (the shared ring look-up, every match ranked in Python).

The crowd: 6,000 names within 0.25° of a point of 北京, every one containing 村, of four kinds that rank
differently — villages (importance 2), hamlets (3), county-level 行政区域 names starting with 村 (6: also
prefix matches) and GeoNames-like seats with a feature code and a population (6 and below one point more) —
so that a farther name often outranks a nearer one.
"""

from __future__ import annotations

import random

import pytest

from placenames.lookup import _km, search
from placenames.model import NameRecord, prominence
from placenames.postgis import PostgisNameStore
from placenames.romanize import romanize
from placenames.store import NameStore, SqlNameStore, open_name_store
from tests.conftest import empty_database

_CROWD = 6000
_CHARS = "东南西北中上下前后大小新老高低长安平和兴隆福寿康宁永丰太华明光"
POINT = (116.40, 39.90)
QUERIES = ["村", "东", "东村", "村东", "dong"]
POINTS = [POINT, (116.52, 39.81), (116.31, 40.02)]


def _crowd() -> list[NameRecord]:
    rng = random.Random(16)
    records = []
    for i in range(_CROWD):
        a, b = rng.choice(_CHARS), rng.choice(_CHARS)
        more = {}
        if i % 4 == 0:
            name, klass = f"{a}{b}村", "群众自治组织"
        elif i % 4 == 1:
            name, klass = f"{a}{b}村庄", "居民点"
        elif i % 4 == 2:
            name, klass = f"村{a}{b}", "行政区域"
        else:
            name, klass = f"{a}村{b}", "居民点"
            more = {"subclass": "PPLA3", "population": rng.randrange(1_000, 2_000_000)}
        records.append(NameRecord(name=name, pinyin=romanize(name), klass=klass,
                                  lon=POINT[0] + rng.uniform(-0.25, 0.25), lat=POINT[1] + rng.uniform(-0.25, 0.25),
                                  code="110105", source="crowd", source_id=str(i), **more))
    return records


@pytest.fixture(scope="module")
def stores(request, tmp_path_factory):
    """The crowd in a GeoPackage and in a PostGIS database."""
    with empty_database(request, "gpkg", tmp_path_factory.mktemp("gpkg")) as gpkg, \
            empty_database(request, "postgis", tmp_path_factory.mktemp("pg")) as pg:
        opened = {backend: open_name_store(url) for backend, url in (("gpkg", gpkg), ("postgis", pg))}
        for store in opened.values():
            with store.write():
                store.upsert(_crowd())
        yield opened
        for store in opened.values():
            store.close()


def _results(store, query, near, limit):
    return [(r["name"], r["lon"], r["lat"], r["score"]) for r in search(store, query, near=near, limit=limit)]


@pytest.mark.parametrize("limit", [3, 10])
def test_near_gives_the_same_results_on_both_databases_and_as_before(stores, limit, monkeypatch):
    now = {(q, p): _results(stores["postgis"], q, p, limit) for q in QUERIES for p in POINTS}
    assert now == {(q, p): _results(stores["gpkg"], q, p, limit) for q in QUERIES for p in POINTS}
    # PostGIS's look-up before: the shared ring look-up, every match's point read and ranked in Python
    monkeypatch.setattr(PostgisNameStore, "best_near", NameStore.best_near)
    monkeypatch.setattr(PostgisNameStore, "_nearest", SqlNameStore._nearest)
    assert now == {(q, p): _results(stores["postgis"], q, p, limit) for q in QUERIES for p in POINTS}
    # the data is what the test is about: prominence reorders, a farther name often before a nearer one
    assert all(len(results) == limit for results in now.values())
    assert any(_km(*p, *r[0][1:3]) > _km(*p, *r[-1][1:3]) for (_, p), r in now.items())


def test_postgis_ranks_in_the_database_as_the_search_does_in_python(stores):
    store = stores["postgis"]
    ids = [row[0] for row in store.con.execute("SELECT fid FROM names").fetchall()]
    scores = {fid: 50.0 + fid % 3 for fid in ids}
    best = store.best_near(scores, POINT, 10)
    ranked = sorted((-(scores[fid] + prominence(rank, population) - min(30.0, _km(*POINT, lon, lat) / 10)), fid)
                    for fid, lon, lat, rank, population in store.points(ids))
    assert 10 <= len(best) <= 12 and {fid for _, fid in ranked[:10]} <= set(best)
