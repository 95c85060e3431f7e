"""The API definition (OpenAPI 3.0, ``service-desc``/``service-doc``), the queryables and property filters,
through Flask's client and through real clients: OWSLib and GDAL's OAPIF driver against ``quhua serve``."""

from __future__ import annotations

import json
import re

import pytest

from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD
from webmap import ogc, openapi

BASE = "http://example.test/ogc"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def test_landing_links_the_openapi_document_qgis_needs():
    links = {link["rel"]: link for link in json.loads(ogc.landing(BASE)[2])["links"]}
    assert links["service-desc"] == {"href": f"{BASE}/api", "rel": "service-desc", "type": OPENAPI,
                                     "title": "the API definition"}
    assert links["service-doc"]["href"] == f"{BASE}/api.html" and links["service-doc"]["type"] == "text/html"
    assert any(c.endswith("-1/1.0/conf/oas30") for c in ogc.CONFORMANCE)
    assert not any("/html" in c for c in ogc.CONFORMANCE)  # no HTML pages of features


def test_openapi_document_is_valid_and_describes_every_route(app):
    from openapi_spec_validator import validate

    doc = openapi.document(BASE)
    validate(doc)  # OpenAPI 3.0 (raises on any error)
    names = {"cid": "collectionId", "fid": "featureId"}  # Flask's <converter:name> as OpenAPI's {name}
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + names.get(m[1], m[1]) + "}", rule.rule.removeprefix("/ogc"))
              or "/" for rule in app.url_map.iter_rules() if rule.rule.startswith("/ogc")}
    generic = {re.sub(r"^/collections/\w+/items", "/collections/{collectionId}/items", p) for p in doc["paths"]}
    assert routes == generic, "every /ogc route is described, and nothing else"
    for cid in ogc.available_collections():
        assert f"/collections/{cid}/items" in doc["paths"]
    limit = doc["components"]["parameters"]["limit"]["schema"]  # QGIS pages with these
    assert (limit["default"], limit["maximum"]) == (100, 10_000)
    items = doc["paths"]["/collections/markers/items"]["get"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in items["parameters"]}
    assert {"bbox", "limit", "offset", "province", "marker_id", "line_id"} <= names
    assert set(items["responses"]) == {"200", "400", "401", "404", "500"}
    assert doc["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http", "scheme": "basic", "description": "A quhua account (GDAL, QGIS, scripts)."}


@pytest.fixture(scope="module")
def store(web_db):
    with open_store(web_db) as s:
        yield s


@pytest.mark.parametrize("cid", list(ogc.COLLECTIONS))
def test_queryables_are_the_properties_served(store, cid):
    headers, status, content = ogc.queryables(BASE, cid)
    schema = json.loads(content)
    assert status == 200 and headers["Content-Type"] == "application/schema+json"
    assert schema["type"] == "object" and schema["$id"] == f"{BASE}/collections/{cid}/queryables"
    page = json.loads(ogc.items(store, BASE, cid, {"limit": "1000", "history": "true"})[2])
    served = {key for feature in page["features"] for key in feature["properties"]}
    assert served <= set(schema["properties"]), served - set(schema["properties"])
    if page["features"]:
        assert served == set(schema["properties"])


def test_name_extents_of_a_gazetteer_without_extents_is_an_empty_page(store):
    _headers, status, content = ogc.items(store, BASE, "name_extents", {})
    assert status == 200 and json.loads(content)["numberMatched"] == 0 and json.loads(content)["features"] == []


def test_property_filters(store):
    page = json.loads(ogc.items(store, BASE, "markers", {"line_id": "3642", "limit": "1000"})[2])
    assert page["numberMatched"] == 39 and {f["properties"]["line_id"] for f in page["features"]} == {"3642"}
    one = json.loads(ogc.items(store, BASE, "markers", {"marker_id": "3642003Q"})[2])
    assert [f["properties"]["marker_id"] for f in one["features"]] == ["3642003Q"]
    assert json.loads(ogc.items(store, BASE, "lines", {"submission_id": "3"})[2])["numberMatched"] == 1
    assert json.loads(ogc.items(store, BASE, "names", {"code": "360100"})[2])["features"][0]["properties"][
        "name"] == "南昌市"


@pytest.mark.parametrize("args", [{"colour": "red"}, {"submission_id": "one"}, {"startindex": "5"}],
                         ids=["unknown", "not-an-integer", "not-ours"])
def test_unknown_or_malformed_parameters_are_400(store, args):
    _h, status, content = ogc.items(store, BASE, "lines", args)
    assert status == 400 and json.loads(content)["code"] == "InvalidParameterValue"
    assert next(iter(args)) in json.loads(content)["description"]


def test_routes_through_flask(as_user):
    client = as_user("ana")
    api = client.get("/ogc/api")
    assert api.status_code == 200 and api.headers["Content-Type"] == OPENAPI
    assert api.get_json(force=True)["servers"] == [{"url": "http://localhost/ogc"}]
    html = client.get("/ogc/api.html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "/collections/{collectionId}/queryables" in html.get_data(as_text=True)
    assert client.get("/ogc/collections/markers/queryables").get_json(force=True)["properties"]["marker_id"]
    assert client.get("/ogc/collections/users/queryables").status_code == 404
    extents = client.get("/ogc/collections/name_extents/items")
    assert extents.status_code == 200 and extents.get_json()["features"] == []


def test_the_new_routes_are_protected_as_the_others(client):
    for path in ("/ogc/api", "/ogc/api.html", "/ogc/collections/lines/queryables"):
        assert client.get(path).status_code == 401, path


def test_owslib_reads_collections_queryables_and_items(server, web_db):
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    api = Features(f"{server}/ogc", auth=Authentication("ana", PASSWORD))
    assert api.api()["openapi"].startswith("3.0")
    assert {"lines", "markers", "issues", "names", "name_extents"} <= set(api.feature_collections())
    assert "marker_id" in api.collection_queryables("markers")["properties"]
    page = api.collection_items("markers", limit=20, line_id="3642", bbox=[113, 25, 117, 30])
    assert page["numberMatched"] == 39 and len(page["features"]) == 20
    assert api.collection_items("name_extents")["features"] == []


def test_gdal_oapif_reads_with_an_attribute_filter_and_an_empty_layer(server):
    """GDAL's OAPIF driver with an attribute filter (it reads the API definition for the parameters it may
    send), and the empty ``name_extents`` layer (a 500 before)."""
    import pyogrio

    pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": f"ana:{PASSWORD}", "GDAL_HTTP_AUTH": "BASIC"})
    try:
        markers = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="markers", where="line_id = '3642'")
        extents = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="name_extents")
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": None, "GDAL_HTTP_AUTH": None})
    assert len(markers) == 39 and set(markers["line_id"]) == {"3642"}
    assert len(extents) == 0
