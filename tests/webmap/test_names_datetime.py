"""The gazetteer's OGC collections (names, name_extents) answer ``datetime`` on the names' own validity
(issue 15), over HTTP on both databases, after a real 撤县设区 recorded by ``quhua divisions import``:
赣县 (360721) became 赣州市赣县区 (360704) on 2016-10-08.

The ``datetime`` parameter itself (parsing, 400s, lines and markers) is helper [asof]'s part of
webmap/ogc.py; until it is in this tree these tests are skipped, and once it is they need ``names`` and
``name_extents`` among ``ogc.TEMPORAL``."""

from __future__ import annotations

import base64

import pytest

from boundaries.store import open_store
from placenames.demo import load_divisions
from tests.conftest import run_cli
from webmap import create_app, ogc
from webmap.users import UserStore

pytestmark = pytest.mark.skipif("datetime" not in ogc.ITEMS_PARAMETERS,
                                reason="the OGC datetime parameter arrives with helper [asof]'s webmap/ogc.py")
PASSWORD = "correct horse 1"


@pytest.fixture
def client(capsys, db_url, tmp_path):
    counties = load_divisions("3607")
    counties = counties[counties.level == "county"].drop(columns=["level", "parent"]).reset_index(drop=True)
    before = counties.copy()
    before.loc[before.code == "360704", ["code", "name"]] = ["360721", "赣县"]
    before.to_file(tmp_path / "before.geojson")
    counties.to_file(tmp_path / "after.geojson")
    assert run_cli(capsys, "--db", db_url, "divisions", "import", tmp_path / "before.geojson",
                   "--valid-from", "2000-01-01")[0] == 0
    assert run_cli(capsys, "--db", db_url, "divisions", "import", tmp_path / "after.geojson",
                   "--valid-from", "2016-10-08")[0] == 0
    with open_store(db_url) as store:
        UserStore(store).add("ana", PASSWORD, "analyst")
    app = create_app({"QUHUA_DB": db_url, "TESTING": True, "SECRET_KEY": "test",
                      "UPLOAD_DIR": str(tmp_path / "uploads")})
    auth = {"Authorization": "Basic " + base64.b64encode(f"ana:{PASSWORD}".encode()).decode()}
    return lambda url: app.test_client().get(url, headers=auth)


def _names(client, query: str) -> set[str]:
    """Which of 赣县 and 赣县区 the names collection gives (赣州's 18 counties' names are there)."""
    response = client(f"/ogc/collections/names/items?source=divisions&limit=1000&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    names = {f["properties"]["name"] for f in response.get_json()["features"]}
    assert "瑞金市" in names  # unchanged throughout
    return names & {"赣县", "赣县区"}


def test_names_items_as_of_a_date_and_an_interval(client):
    assert _names(client, "datetime=2015-01-01") == {"赣县"}
    assert _names(client, "datetime=2017-01-01T08:00:00Z") == {"赣县区"}
    assert _names(client, "datetime=2015-01-01/2017-01-01") == {"赣县", "赣县区"}
    assert _names(client, "datetime=../2016-10-07") == {"赣县"}
    assert _names(client, "") == {"赣县区"}  # without datetime: the current names
    assert client("/ogc/collections/names/items?datetime=2016-13-01").status_code == 400


def test_the_names_collections_give_their_legal_time(client):
    """``extent.temporal`` of names: from the first valid_from (the divisions' first load, 2000-01-01), open
    while names are in force; name_extents: none of these names has an extent."""
    response = client("/ogc/collections")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    temporal = {c["id"]: c["extent"].get("temporal") for c in response.get_json()["collections"]}
    assert temporal["names"]["interval"] == [["2000-01-01T00:00:00Z", None]]
    assert temporal["name_extents"]["interval"] == [[None, None]]
    assert client("/ogc/collections/name_extents/items?datetime=2015-01-01").status_code == 200
