"""The access matrix of the README ("Who may do what"), every cell over HTTP on both databases.

Accounts (tests/webmap/conftest.py): ``jx`` surveyor of 360000 (lines 3643 with 湖南 and 3642 with 湖北),
``hn`` surveyor of 430000 (its side of 3643), ``boss`` official, ``ana`` analyst. ``-`` is anonymous.
"""

from __future__ import annotations

import json

import pytest

from tests.webmap.conftest import csrf_of, login

ROLES = ("-", "jx", "hn", "boss", "ana")
LOGIN, BASIC = 302, 401  # anonymous: pages send to the login form, the API and downloads challenge
#: url → the status for each of ROLES
MATRIX = {
    "/": (200, 200, 200, 200, 200),
    "/overview.json": (200, 200, 200, 200, 200),
    "/rules": (200, 200, 200, 200, 200),
    "/province/360000": (LOGIN, 200, 403, 200, 200),
    "/province/430000": (LOGIN, 403, 200, 200, 200),
    "/province/650000": (LOGIN, 403, 403, 200, 200),
    "/province/360000/diff?line=3643&a=1&b=2": (LOGIN, 200, 403, 200, 200),
    "/download/360000/lines.geojson": (BASIC, 200, 403, 200, 200),
    "/download/360000/markers.geojson": (BASIC, 200, 403, 200, 200),
    "/download/360000/issues.geojson": (BASIC, 200, 403, 200, 200),
    "/download/430000/lines.geojson": (BASIC, 403, 200, 200, 200),
    "/download/650000/markers.geojson": (BASIC, 403, 403, 200, 200),
    "/download/submission/1/markers.geojson": (BASIC, 200, 403, 200, 200),
    "/download/submission/3/lines.geojson": (BASIC, 403, 200, 200, 200),
    "/upload": (LOGIN, 200, 200, 403, 403),
    "/audit": (LOGIN, 403, 403, 200, 403),
    "/audit?province=360000&action=ingest&page=2": (LOGIN, 403, 403, 200, 403),
    "/names": (LOGIN, 200, 200, 200, 200),
    "/names/search.json?q=nanchang": (BASIC, 200, 200, 200, 200),
    "/ogc": (BASIC, 200, 200, 200, 200),
    "/ogc/conformance": (BASIC, 200, 200, 200, 200),
    "/ogc/collections": (BASIC, 200, 200, 200, 200),
    "/ogc/collections/markers": (BASIC, 200, 200, 200, 200),
    "/ogc/collections/lines/items": (BASIC, 200, 200, 200, 200),
    "/ogc/collections/lines/items?province=360000": (BASIC, 200, 403, 200, 200),
    "/ogc/collections/lines/items?province=430000": (BASIC, 403, 200, 200, 200),
    "/ogc/collections/markers/items?province=360000": (BASIC, 200, 403, 200, 200),
    "/ogc/collections/markers/items?province=650000": (BASIC, 403, 403, 200, 200),
    "/ogc/collections/issues/items?province=36": (BASIC, 200, 403, 200, 200),
    "/ogc/collections/names/items": (BASIC, 200, 200, 200, 200),
    "/ogc/collections/names/items?province=360000": (BASIC, 200, 200, 200, 200),
}
CELLS = [(url, role, row[i]) for url, row in MATRIX.items() for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("url,role,status", CELLS, ids=[f"{r}:{u}" for u, r, _ in CELLS])
def test_every_cell_of_the_matrix(client, url, role, status):
    if role != "-":
        assert login(client, role).status_code == 302
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 403:
        body = response.json["description_zh"] if response.is_json else response.get_data(as_text=True)
        assert "无权访问" in body  # said in Chinese (and the English below or in the JSON)


def _basic(name: str) -> dict:
    import base64

    from tests.webmap.conftest import PASSWORD

    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()}


@pytest.mark.parametrize("url,role,status", [c for c in CELLS if c[0].startswith(("/ogc", "/download"))
                                             and c[1] != "-"], ids=lambda v: str(v))
def test_the_api_cells_with_http_basic(client, url, role, status):
    """GDAL and QGIS send HTTP Basic: the same answers as with a session."""
    assert client.get(url, headers=_basic(role)).status_code == status


def _features(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200
    return json.loads(response.data)["features"]


def test_a_surveyor_reads_the_neighbours_version_of_their_shared_line(client):
    login(client, "jx")
    lines = _features(client, "/ogc/collections/lines/items?province=360000")
    assert {(f["properties"]["line_id"], f["properties"]["province"]) for f in lines} == {
        ("3643", "360000"), ("3642", "360000"), ("3643", "430000")}  # 湖南's side of 3643 too


def test_a_surveyor_without_a_province_filter_reads_only_their_own(client):
    login(client, "hn")
    lines = _features(client, "/ogc/collections/lines/items?limit=1000")
    assert {f["properties"]["line_id"] for f in lines} == {"3643"}  # not 江西–湖北 3642
    assert all("430000" in (f["properties"]["left_code"], f["properties"]["right_code"]) for f in lines)
    markers = _features(client, "/ogc/collections/markers/items?limit=1000")
    assert markers and {f["properties"]["line_id"] for f in markers} == {"3643"}
    page = json.loads(client.get("/ogc/collections/lines/items").data)
    assert any("province=430000" in link["href"] for link in page["links"] if link["rel"] == "self")


def test_one_feature_outside_the_surveyors_province_is_not_found(client):
    login(client, "boss")
    other = [f for f in _features(client, "/ogc/collections/lines/items") if f["properties"]["line_id"] == "3642"]
    shared = [f for f in _features(client, "/ogc/collections/lines/items") if f["properties"]["line_id"] == "3643"]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").get_data(as_text=True))})
    login(client, "hn")
    assert client.get(f"/ogc/collections/lines/items/{other[0]['id']}").status_code == 404
    assert client.get(f"/ogc/collections/lines/items/{shared[0]['id']}").status_code == 200


def test_the_403_page_in_english(client):
    login(client, "jx")
    response = client.get("/province/650000?lang=en")
    assert response.status_code == 403 and "may not access" in response.get_data(as_text=True)


def test_a_surveyor_uploads_for_their_own_province_only(client):
    login(client, "jx")
    token = csrf_of(client.get("/upload").get_data(as_text=True))
    response = client.post("/upload", data={"csrf_token": token, "province": "430000"})
    assert response.status_code == 403 and "无权访问" in response.get_data(as_text=True)
