"""The OGC API answered through the stores' query interface (issue 14), on both backends, on real data: the
national demo (30 provinces' lines, 9,228 markers, their issues) and the gazetteer's GeoNames places plus
jittered copies of them (20,000 names and more). Every page, bbox, province and property filter and single
feature must give what the API gave when it read whole layers and paged in Python (computed here from the
whole layer), and a page must not read the whole layer."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import shapely

from boundaries.demo import load_demo
from boundaries.store import open_store
from placenames.demo import geonames_cities
from placenames.store import open_name_store
from tests.conftest import _database_url, clone_database, drop_database
from webmap import create_app, ogc
from webmap.users import UserStore

PASSWORD = "correct horse 1"
SYNTHETIC = 20_000


def synthetic_names(count: int, seed: int = 14) -> list:
    """GeoNames' Chinese places, then copies of them moved up to 0.2° (their own source ids) up to ``count``."""
    real = geonames_cities()
    rng = np.random.default_rng(seed)
    out = list(real)
    while len(out) < count:
        base = real[len(out) % len(real)]
        dx, dy = rng.uniform(-0.2, 0.2, 2)
        out.append(dataclasses.replace(base, lon=round(base.lon + dx, 6), lat=round(base.lat + dy, 6),
                                       source_id=f"{base.source_id}-{len(out)}", aliases=list(base.aliases)))
    return out[:count]


@pytest.fixture(scope="module")
def demo(request, backend, tmp_path_factory):
    """The national demo and :data:`SYNTHETIC` names in a database of ``backend``, an analyst account."""
    folder = tmp_path_factory.mktemp(f"query-{backend}")
    if backend == "gpkg":
        db = str(folder / "demo.gpkg")
    else:
        server = request.getfixturevalue("postgis_template")
        db = clone_database(_database_url(server, "quhua_template"), "quhua_query")
    try:
        for _line in load_demo(db):
            pass
        with open_name_store(db) as names:
            with names.write():
                names.upsert(synthetic_names(SYNTHETIC))
        with open_store(db) as store:
            UserStore(store).add("ana", PASSWORD, "analyst")
        yield db
    finally:
        if backend != "gpkg":
            drop_database(db)


@pytest.fixture(scope="module")
def client(demo, tmp_path_factory):
    app = create_app({"QUHUA_DB": demo, "TESTING": True, "SECRET_KEY": "test",
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"ana:{PASSWORD}".encode()).decode()}

    class Client:
        def get(self, url):
            response = app.test_client().get(url, headers=auth)
            assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
            return response.get_json()

    return Client()


@pytest.fixture(scope="module")
def whole(demo):
    """The layers as the API read them before: whole, in fid order (names as ``names_layer`` made them)."""
    with open_store(demo) as store:
        layers = {layer: store.read_layer(layer) for layer in ("lines", "markers", "issues")}
        with open_name_store(store) as names:
            frame = names.all_names()
    frame = frame[frame.status == "current"].rename(columns={"fid": "id"}).sort_values("id")
    layers["names"] = frame.assign(geometry=shapely.points(frame.lon, frame.lat))
    return layers


def _ids(page: dict) -> list[int]:
    return [f["id"] for f in page["features"]]


def _fid(frame: pd.DataFrame) -> list[int]:
    return [int(i) for i in (frame["fid"] if "fid" in frame else frame["id"])]


def _walk(client, url: str) -> tuple[list[int], int, int]:
    """Every id reached by following ``next`` links from ``url``; numberMatched; pages."""
    ids, pages = [], 0
    page = client.get(url)
    matched = page["numberMatched"]
    while True:
        ids += _ids(page)
        pages += 1
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            return ids, matched, pages
        parts = urlsplit(following[0])
        page = client.get(f"{parts.path}?{parts.query}")


def test_following_next_links_reads_every_marker_once_in_fid_order(client, whole):
    ids, matched, pages = _walk(client, "/ogc/collections/markers/items?limit=1000")
    assert matched == len(whole["markers"]) == 9228 and pages == 10
    assert ids == _fid(whole["markers"])


def test_an_offset_page_is_the_same_slice_as_before(client, whole):
    page = client.get("/ogc/collections/names/items?limit=100&offset=12345")
    assert page["numberMatched"] == len(whole["names"]) == SYNTHETIC
    assert _ids(page) == _fid(whole["names"])[12345:12445]
    next_link = parse_qs(urlsplit(next(lk["href"] for lk in page["links"] if lk["rel"] == "next")).query)
    assert next_link["offset"] == ["12445"] and next_link["after"] == [str(_ids(page)[-1])]
    last = client.get(f"/ogc/collections/names/items?limit=100&offset={SYNTHETIC - 30}")
    assert _ids(last) == _fid(whole["names"])[-30:] and "next" not in {lk["rel"] for lk in last["links"]}


@pytest.mark.parametrize("layer,box", [("markers", (113.5, 24.5, 118.5, 30.1)), ("lines", (113.5, 24.5, 118.5, 30.1)),
                                       ("names", (115.0, 28.0, 116.5, 29.5)), ("issues", (73.0, 18.0, 135.0, 54.0))])
def test_bbox_pages_match_the_whole_layer_filtered(client, whole, layer, box):
    frame = whole[layer]
    expected = _fid(frame[shapely.intersects(np.asarray(frame.geometry, dtype=object), shapely.box(*box))])
    assert 0 < len(expected) < len(frame) or layer == "issues"
    bbox = ",".join(str(v) for v in box)
    ids, matched, _pages = _walk(client, f"/ogc/collections/{layer}/items?bbox={bbox}&limit=500")
    assert matched == len(expected) and ids == expected


def test_province_and_property_filters_match_the_whole_layer_filtered(client, whole):
    lines = whole["lines"]
    hubei = lines[(lines.province == "420000") | lines.left_code.str.startswith("42")
                  | lines.right_code.str.startswith("42")]
    page = client.get("/ogc/collections/lines/items?province=420000&limit=1000")
    assert _ids(page) == _fid(hubei) and page["numberMatched"] == len(hubei) > 2
    line_id = whole["markers"].line_id.iloc[500]
    markers = whole["markers"][whole["markers"].line_id == line_id]
    page = client.get(f"/ogc/collections/markers/items?line_id={line_id}&limit=1000")
    assert _ids(page) == _fid(markers) and page["numberMatched"] == len(markers) > 3
    names = whole["names"]
    chosen = names[(names.name == names.name.iloc[7]) & (names.source == "geonames")]
    page = client.get(f"/ogc/collections/names/items?name={names.name.iloc[7]}&source=geonames")
    assert _ids(page) == _fid(chosen) and len(chosen) >= 2  # the place and its jittered copies
    big = names[names.population.fillna(0) > 0].population.iloc[0]
    page = client.get(f"/ogc/collections/names/items?population={int(big)}&limit=1000")
    assert _ids(page) == _fid(names[names.population == big])


def test_one_feature_by_id_is_the_one_the_page_gave(client, whole):
    for layer in ("lines", "markers", "names"):
        feature = client.get(f"/ogc/collections/{layer}/items?limit=1&offset=37")["features"][0]
        alone = client.get(f"/ogc/collections/{layer}/items/{feature['id']}")
        feature["properties"].pop("agreement", None)  # the map's styling, on pages only (as before)
        assert alone["id"] == feature["id"] and alone["properties"] == feature["properties"]
        assert alone["geometry"] == feature["geometry"]


def test_a_page_reads_the_page_not_the_layer(demo):
    """At 20,000 names, an items page of 100 fetches 101 rows (one more to know a next page follows), with
    a bbox too; one feature fetches one row; a count is asked of the database, not made of rows."""
    with open_store(demo) as store:
        statements = []
        if not demo.startswith("postgresql"):
            store.connection().set_trace_callback(statements.append)
        for args in ({"limit": "100", "offset": "5000"}, {"limit": "100", "bbox": "100,20,125,45"}):
            before = store.rows_read
            _headers, status, content = ogc.items(store, "http://t/ogc", "names", args)
            page = json.loads(content)
            assert status == 200 and page["numberReturned"] == 100 and page["numberMatched"] > 1000
            assert store.rows_read - before == 101, args
        pages = [s for s in statements if s.startswith("SELECT fid") and "FROM names" in s]
        before = store.rows_read
        assert ogc.item(store, "http://t/ogc", "names", "777")[1] == 200
        assert store.rows_read - before == 1
        before = store.rows_read
        assert ogc.items(store, "http://t/ogc", "markers", {"limit": "10"})[1] == 200
        assert store.rows_read - before == 11
        if statements:  # the GeoPackage: the SQL itself says LIMIT
            assert len(pages) == 2 and all("LIMIT 101" in s for s in pages), pages
