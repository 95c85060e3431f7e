"""Eight provinces ingesting at once while readers hammer the API of a running ``quhua serve`` (waitress,
real HTTP), on both backends: every submission is stored exactly once, none is lost, and no response ever
shows part of a submission."""

from __future__ import annotations

import base64
import json
import multiprocessing
import threading
import time
import urllib.request
from collections import Counter

import geopandas as gpd

from boundaries.crs import metric_epsg
from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import markers_along, real_boundary, write_shapefiles
from tests.webmap.conftest import PASSWORD, serve
from webmap.users import UserStore

# (submitting province, the neighbour on the other side): eight real provincial boundaries
PAIRS = [("110000", "130000"), ("120000", "130000"), ("140000", "150000"), ("210000", "220000"),
         ("320000", "330000"), ("350000", "440000"), ("450000", "520000"), ("510000", "540000")]
AUTH = {"Authorization": "Basic " + base64.b64encode(f"ana:{PASSWORD}".encode()).decode()}


def _submission(folder, own: str, other: str):
    """The province's side of a real boundary with markers every 20 km, in its own 3° Gauss-Krüger zone;
    the files and the number of markers."""
    code = "".join(sorted((own[:2], other[:2])))
    line = real_boundary(own, other)
    lines = gpd.GeoDataFrame({"line_id": [code], "left_code": [own], "right_code": [other], "name": [code]},
                             geometry=[line], crs=4490)
    markers = markers_along(line, code, every_m=20_000)
    return write_shapefiles(folder, lines, markers, epsg=metric_epsg(line.centroid.x), stem=own), len(markers)


def _ingest(args) -> int | None:
    url, paths, province = args
    return ingest_paths(paths, province, db=url, user=province, progress=False).submission_id


def _import() -> None:
    import boundaries.pipeline  # noqa: F401 - what an ingest needs, loaded before the clock starts


def _ready(_task) -> None:
    """A task that keeps a pool worker busy a moment, so that each worker has started and imported."""
    time.sleep(0.3)


def _get(url: str) -> dict:
    request = urllib.request.Request(url, headers=AUTH)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _by_province(page: dict) -> Counter:
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"])
    return Counter(f["properties"]["province"] for f in page["features"])


def _overview(body: dict, expected: dict[str, int], torn: list) -> set[str]:
    """The provinces the overview shows loaded; each with exactly its one whole submission."""
    loaded = set()
    for row in body["provinces"]:
        figures = (row["submissions"], row["lines"], row["markers"])
        if row["code"] in expected and row["submissions"]:
            loaded.add(row["code"])
            if figures != (1, 1, expected[row["code"]]):
                torn.append(f"overview {row['code']}: {figures}, expected (1, 1, {expected[row['code']]})")
        elif figures != (0, 0, 0):
            torn.append(f"overview {row['code']}: {figures} without a submission")
    return loaded


def _lines(body: dict, expected: dict[str, int], torn: list) -> set[str]:
    lines = _by_province(body)
    torn += [f"lines of {p}: {n}" for p, n in lines.items() if n != 1 or p not in expected]
    return set(lines)


def _markers(body: dict, expected: dict[str, int], torn: list) -> set[str]:
    markers = _by_province(body)
    torn += [f"markers of {p}: {n}, expected {expected.get(p)}" for p, n in markers.items() if n != expected.get(p)]
    return set(markers)


#: what a reader asks for (lines simplified as the map asks for them) → the check of one response
ENDPOINTS = {"/overview.json": _overview, "/ogc/collections/lines/items?limit=1000&zoom=6": _lines,
             "/ogc/collections/markers/items?limit=10000": _markers}


def _reader(base: str, endpoints: list[str], expected: dict[str, int], done: threading.Event, rounds: list,
            torn: list) -> None:
    """The endpoints in turn, again and again until a round that began after the last ingest: each response
    whole, each at least as far along as the one before (a commit is never undone)."""
    seen: set[str] = set()
    last = False
    while not last:
        last = done.is_set()
        for endpoint in endpoints:
            try:
                provinces = ENDPOINTS[endpoint](_get(base + endpoint), expected, torn)
            except Exception as err:
                torn.append(f"{endpoint}: {err!r}")
                return
            if not seen <= provinces:
                torn.append(f"{endpoint} went back: {sorted(seen)} then {sorted(provinces)}")
            seen = provinces
            rounds.append(len(provinces))
        time.sleep(0.01)


def test_eight_provinces_ingest_while_readers_use_the_api(db_url, tmp_path):
    built = {own: _submission(tmp_path / own, own, other) for own, other in PAIRS}
    expected = {own: n for own, (_paths, n) in built.items()}
    with open_store(db_url) as store:
        store.init()
        UserStore(store).add("ana", PASSWORD, "analyst")
    done, rounds, torn = threading.Event(), [], []
    with serve(db_url, tmp_path / "server", threads=8) as base, \
            multiprocessing.get_context("spawn").Pool(8, initializer=_import) as pool:
        pool.map(_ready, range(8), chunksize=1)  # the workers are up: the ingests start together
        readers = [threading.Thread(target=_reader, args=(base, endpoints, expected, done, rounds, torn))
                   for endpoints in (list(ENDPOINTS), *([e] for e in ENDPOINTS))]
        for reader in readers:
            reader.start()
        try:
            ids = pool.map(_ingest, [(db_url, paths, own) for own, (paths, _n) in built.items()], chunksize=1)
            pool.close()
            pool.join()
        finally:
            done.set()
            for reader in readers:
                reader.join()
        final = _get(base + "/overview.json")
        markers = _by_province(_get(base + "/ogc/collections/markers/items?limit=10000"))
    assert sorted(ids) == list(range(1, 9))  # each stored, exactly once
    with open_store(db_url) as store:
        submissions = store.read_layer("submissions")
        lines = store.read_layer("lines")
    assert sorted(submissions.province) == sorted(expected)
    assert len(lines) == 8 and lines.line_id.is_unique
    assert final["loaded"] == 8 and markers == Counter(expected)  # none lost, and the cache saw the last one
    assert torn == []  # no reader ever saw part of a submission
    assert len(rounds) >= 12 and rounds.count(8) >= 6, rounds  # readers went on meanwhile, each to the end
