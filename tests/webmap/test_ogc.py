"""OGC API – Features Part 1 Core (SPEC §9): the core functions without a server, the routes through
Flask's client, and GDAL's OAPIF driver (as QGIS uses it) against the app under waitress."""

from __future__ import annotations

import json

import pytest

from boundaries.store import open_store
from webmap import ogc
from webmap.ogc import CONFORMANCE

BASE = "http://example.test/ogc"


@pytest.fixture(scope="module")
def store(web_db):
    with open_store(web_db) as s:
        yield s


def test_landing_links_conformance_and_data():
    headers, status, content = ogc.landing(BASE)
    rels = {link["rel"]: link["href"] for link in json.loads(content)["links"]}
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert rels["conformance"] == f"{BASE}/conformance" and rels["data"] == f"{BASE}/collections"


def test_conformance_declares_core_and_geojson():
    _h, _s, content = ogc.conformance()
    assert set(json.loads(content)["conformsTo"]) == set(CONFORMANCE)
    assert any(c.endswith("/conf/core") for c in CONFORMANCE) and any(c.endswith("/conf/geojson") for c in CONFORMANCE)


def test_collections_list_the_layers():
    _h, _s, content = ogc.collections(BASE)
    ids = [c["id"] for c in json.loads(content)["collections"]]
    assert ids[:2] == ["lines", "markers"] and "issues" in ids
    assert all(c["extent"]["spatial"]["bbox"] for c in json.loads(content)["collections"])


def test_unknown_collection_is_404():
    assert ogc.collection(BASE, "users")[1] == 404
    assert ogc.items(None, BASE, "submissions", {})[1] == 404


def test_items_page_with_number_matched_and_next_link(store):
    headers, status, content = ogc.items(store, BASE, "markers", {"limit": "50", "province": "360000"})
    page = json.loads(content)
    assert status == 200 and headers["Content-Type"] == "application/geo+json"
    assert page["numberMatched"] == 110 and page["numberReturned"] == 50 and len(page["features"]) == 50
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert "offset=50" in links["next"] and "province=360000" in links["next"]
    last = json.loads(ogc.items(store, BASE, "markers", {"limit": "50", "offset": "100"})[2])
    assert last["numberReturned"] == 10 and "next" not in {link["rel"] for link in last["links"]}
    assert "prev" in {link["rel"] for link in last["links"]}


def test_items_by_bbox(store):
    everything = json.loads(ogc.items(store, BASE, "markers", {"limit": "1000"})[2])
    south = json.loads(ogc.items(store, BASE, "markers", {"bbox": "113,25,115,27", "limit": "1000"})[2])
    assert 0 < south["numberMatched"] < everything["numberMatched"]
    assert all(25 <= f["geometry"]["coordinates"][1] <= 27 for f in south["features"])


def test_items_zoom_simplifies_lines_only_for_maps(store):
    full = json.loads(ogc.items(store, BASE, "lines", {"province": "360000"})[2])
    small = json.loads(ogc.items(store, BASE, "lines", {"province": "360000", "zoom": "5"})[2])
    count = lambda page: sum(len(str(f["geometry"]["coordinates"])) for f in page["features"])  # noqa: E731
    assert count(small) < count(full) / 5
    assert {f["id"] for f in small["features"]} == {f["id"] for f in full["features"]}


BAD = [{"limit": "0"}, {"limit": "x"}, {"limit": "100000"}, {"offset": "-1"}, {"bbox": "1,2,3"},
       {"bbox": "120,30,110,40"}, {"province": "990000"}, {"zoom": "99"},
       {"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}]


@pytest.mark.parametrize("args", BAD, ids=lambda a: "&".join(f"{k}={v}" for k, v in a.items()))
def test_bad_parameters_are_400(store, args):
    _h, status, content = ogc.items(store, BASE, "lines", args)
    assert status == 400 and json.loads(content)["code"] == "InvalidParameterValue"


def test_single_item(store):
    first = json.loads(ogc.items(store, BASE, "lines", {"limit": "1"})[2])["features"][0]
    _h, status, content = ogc.item(store, BASE, "lines", str(first["id"]))
    assert status == 200 and json.loads(content)["properties"]["line_id"] == first["properties"]["line_id"]
    assert ogc.item(store, BASE, "lines", "99999")[1] == 404


def test_routes_through_flask(as_user):
    client = as_user("ana")
    landing = client.get("/ogc")
    assert landing.status_code == 200 and landing.is_json
    assert client.get("/ogc/conformance").get_json()["conformsTo"]
    assert client.get("/ogc/collections/lines").get_json()["id"] == "lines"
    page = client.get("/ogc/collections/lines/items?province=360000")
    assert page.mimetype == "application/geo+json"
    agreement = {f["properties"]["line_id"]: f["properties"]["agreement"] for f in page.get_json()["features"]}
    assert agreement == {"3643": "agreed", "3642": "single"}  # 湖南 submitted 3643 as well, identical
    fid = page.get_json()["features"][0]["id"]
    assert client.get(f"/ogc/collections/lines/items/{fid}").status_code == 200
    bad = client.get("/ogc/collections/lines/items?bbox=nonsense")
    assert bad.status_code == 400 and bad.is_json


def test_http_basic_auth_for_tools(client):
    import base64

    good = base64.b64encode(b"ana:correct horse 1").decode()
    bad = base64.b64encode(b"ana:nope").decode()
    assert client.get("/ogc/collections", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/ogc/collections", headers={"Authorization": f"Basic {bad}"}).status_code == 401


def test_gdal_oapif_reads_the_layers(server, monkeypatch):
    """GDAL's OAPIF driver (and so QGIS) reads the collections as layers, paging through ``next``."""
    import pyogrio

    pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": "ana:correct horse 1", "GDAL_HTTP_AUTH": "BASIC"})
    try:
        layers = {name for name, _type in pyogrio.list_layers(f"OAPIF:{server}/ogc")}
        assert {"lines", "markers", "issues"} <= layers
        lines = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="lines")
        markers = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="markers")
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": None, "GDAL_HTTP_AUTH": None})
    assert sorted(lines["line_id"]) == ["3642", "3643", "3643"]
    assert len(markers) == 110 and markers.geometry.geom_type.eq("Point").all()
    assert markers.crs.to_epsg() == 4490  # GDAL asks for the storageCrs, CGCS2000 (Part 2), x = lon
    assert 113 < markers.geometry.x.min() < markers.geometry.x.max() < 118
