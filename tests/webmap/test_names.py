"""``/names``: search as you type and a page per name, through the gazetteer's public functions.

Until the gazetteer (``placenames``) offers ``search``/``show``, the pages answer 503 with a clear message;
the rendering is tested with a stand-in of those two functions (the database is real).
"""

from __future__ import annotations

import pytest

import placenames

BEIJING = {"id": "110000", "name": "北京市", "pinyin": "Beijing Shi", "class": "行政区域", "code": "110000",
           "lon": 116.4074, "lat": 39.9042, "aliases": ["京", "Peking"], "status": "current",
           "valid_from": "1949-10-01", "valid_to": None, "source": "GB/T 2260", "score": 1.0,
           "history": [{"name": "北平市", "valid_to": "1949-09-27"}]}


@pytest.fixture
def gazetteer(monkeypatch):
    """Stand-in for ``placenames.search``/``show`` with the signatures webmap.gazetteer documents."""
    calls = []

    def search(store, query, *, near=None, within=None, cls=None, limit=10):
        calls.append((query, within, limit))
        return [BEIJING] if query in ("北京", "bj", "beijing") else []

    def show(store, name_id):
        return BEIJING if name_id == "110000" else None

    monkeypatch.setattr(placenames, "search", search, raising=False)
    monkeypatch.setattr(placenames, "show", show, raising=False)
    return calls


def test_search_json(as_user, gazetteer):
    client = as_user("ana")
    body = client.get("/names/search.json?q=bj&limit=5").get_json()
    assert body["results"][0]["name"] == "北京市" and gazetteer == [("bj", None, 5)]
    assert client.get("/names/search.json?q=nowhere").get_json()["results"] == []
    assert client.get("/names/search.json?q=%20").get_json()["results"] == []


def test_name_page(as_user, gazetteer):
    html = as_user("ana").get("/names/110000").get_data(as_text=True)
    assert "北京市" in html and "Beijing Shi" in html and "Peking" in html and "北平市" in html


def test_unknown_name_is_404(as_user, gazetteer):
    assert as_user("ana").get("/names/999").status_code == 404


def test_without_the_gazetteer_a_clear_503(as_user, monkeypatch):
    monkeypatch.delattr(placenames, "search", raising=False)
    response = as_user("ana").get("/names/search.json?q=bj")
    assert response.status_code == 503 and "gazetteer" in response.get_json()["description"]


def test_names_need_a_login(client):
    assert client.get("/names/search.json?q=bj").status_code == 401
    assert client.get("/names").status_code == 302


def test_the_real_gazetteer_searches_the_test_database(as_user):
    """With the gazetteer installed, the JSON and the pages come from its search over the names loaded."""
    client = as_user("ana")
    results = client.get("/names/search.json?q=nc").get_json()["results"]
    assert results and results[0]["name"] == "南昌市"
    html = client.get(f"/names/{results[0]['id']}").get_data(as_text=True)
    assert "南昌市" in html and "Nanchang Shi" in html and "洪都" in html


def test_names_collection_in_the_api(as_user):
    page = as_user("ana").get("/ogc/collections/names/items?limit=10").get_json()
    assert page["numberMatched"] == 3 and {f["properties"]["name"] for f in page["features"]} >= {"北京市"}


def _after_imports(db: str, folder, *files: str):
    """A logged-in test client of the viewer on ``db`` after importing the CSV texts ``files`` in turn."""
    from placenames.importers import import_names
    from placenames.store import open_name_store
    from tests.webmap.conftest import login
    from webmap import create_app

    path = folder / "names.csv"
    for text in files:
        path.write_text(text, encoding="utf-8")
        with open_name_store(db) as store:
            import_names(store, path, "csv")
    client = create_app({"QUHUA_DB": db, "TESTING": True, "SECRET_KEY": "t",
                         "UPLOAD_DIR": str(folder / "up")}).test_client()
    login(client, "ana")
    return client


def test_a_name_page_draws_the_names_extent(db_copy, tmp_path):
    """A lake imported with its polygon: the page lists its bounds and the map draws the polygon; the API
    serves it in the collection ``name_extents``."""
    client = _after_imports(db_copy, tmp_path, "id,name,class,lon,lat,extent\nw1,象湖,陆地水系,115.853,28.603,"
                            '"POLYGON ((115.84 28.59, 115.87 28.59, 115.87 28.62, 115.84 28.62, 115.84 28.59))"\n')
    (hit,) = client.get("/names/search.json?q=象湖").get_json()["results"]
    assert hit["bbox"] == [115.84, 28.59, 115.87, 28.62]
    html = client.get(f"/names/{hit['id']}").get_data(as_text=True)
    assert 'id="name-extent">面 115.84, 28.59, 115.87, 28.62<' in html
    assert "[[[115.84, 28.59], [115.87, 28.59]" in html  # the polygon, drawn by folium
    english = client.get(f"/names/{hit['id']}?lang=en").get_data(as_text=True)
    assert 'id="name-extent">polygon 115.84' in english
    # and in the API, for QGIS: the collection of extents, the polygon with the name's fields
    ids = [c["id"] for c in client.get("/ogc/collections").get_json()["collections"]]
    assert "names" in ids and "name_extents" in ids
    page = client.get("/ogc/collections/name_extents/items").get_json()
    (feature,) = page["features"]
    assert feature["id"] == hit["id"] and feature["properties"]["name"] == "象湖"
    assert feature["geometry"]["type"] == "Polygon" and feature["geometry"]["coordinates"][0][0] == [115.84, 28.59]
    outside = client.get("/ogc/collections/name_extents/items?bbox=116,29,117,30").get_json()
    assert outside["numberMatched"] == 0


def test_a_name_page_lists_the_names_history_with_links(db_copy, tmp_path):
    """A renamed village: its page lists the former name, dated and linked, and the current one."""
    client = _after_imports(db_copy, tmp_path, *(
        f"id,name,class,lon,lat,code,valid_from\nv1,{name},群众自治组织,115.88,28.68,360102,{since}\n"
        for name, since in (("老街村", "2001-01-01"), ("新街村", "2015-06-01"))))
    (hit,) = client.get("/names/search.json?q=新街村").get_json()["results"]
    html = client.get(f"/names/{hit['id']}").get_data(as_text=True)
    history = html[html.index('id="name-history"'):html.index("</table>", html.index('id="name-history"'))]
    rows = history.split("<tr")[2:]  # after the heading row
    assert "2001-01-01 – 2015-06-01" in rows[0] and "老街村</a>" in rows[0] and "历史" in rows[0]
    assert 'class="this-name"' in rows[1] and "2015-06-01 – " in rows[1] and "现行" in rows[1]
    old_id = rows[0].split('href="/names/')[1].split('"')[0]
    assert "老街村" in client.get(f"/names/{old_id}").get_data(as_text=True)
