"""Every page and route through Flask's test client: what each role may see, and every refusal."""

from __future__ import annotations

import json

import pytest

from tests.webmap.conftest import csrf_of, login

PAGES = ["/province/360000", "/province/430000", "/names", "/upload", "/ogc", "/ogc/collections",
         "/ogc/collections/lines/items", "/download/360000/lines.geojson", "/download/submission/1/lines.geojson",
         "/province/360000/diff?line=3643&a=1&b=2"]


def test_overview_is_public_and_counts_the_provinces(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 / 31 个省级行政区已入库" in html
    assert 'data-code="360000"' in html and "已入库（有问题）" in html  # 江西 has a warning
    assert "2026" in html and "jx" in html  # last submission and by whom
    assert "/static/vendor/leaflet/leaflet.js" in html and "cdn" not in html.lower()


def test_overview_in_english(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "2 of 31 provinces loaded" in html and "Jiangxi" in html and "Loaded, with issues" in html
    assert "lang=en" in client.get_cookie("lang").value or client.get_cookie("lang").value == "en"
    assert "2 of 31 provinces loaded" in client.get("/").get_data(as_text=True)  # the cookie remembers


@pytest.mark.parametrize("url", PAGES, ids=lambda u: u.split("?")[0])
def test_anonymous_users_see_only_the_overview(client, url):
    response = client.get(url)
    if url.startswith(("/ogc", "/download")):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    else:
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role_user", ["boss", "ana", "jx"])
@pytest.mark.parametrize("url", [p for p in PAGES if p not in ("/upload", "/province/430000")],
                         ids=lambda u: u.split("?")[0])
def test_every_role_reads(as_user, role_user, url):
    """Pages of 江西 for its surveyor and the readers of every province (test_access.py: the whole matrix)."""
    response = as_user(role_user).get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("role_user", ["boss", "ana"])
def test_officials_and_analysts_upload_nothing(as_user, role_user):
    client = as_user(role_user)
    assert client.get("/upload").status_code == 403
    token = csrf_of(client.get("/names").get_data(as_text=True))
    assert client.post("/upload", data={"csrf_token": token}).status_code == 403


def test_the_upload_link_only_for_surveyors(as_user, client):
    assert 'href="/upload"' in as_user("jx").get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").get_data(as_text=True))})
    assert 'href="/upload"' not in as_user("boss").get("/").get_data(as_text=True)


def test_wrong_password_is_refused(client):
    response = login(client, "ana", "wrong password")
    assert response.status_code == 401 and "错误" in response.get_data(as_text=True)
    assert client.get("/names").status_code == 302


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "ana", "password": "correct horse 1"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_login_does_not_redirect_off_site(client):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x", data={"username": "ana", "password": "correct horse 1",
                                                                   "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_logout_needs_post_and_ends_the_session(as_user):
    client = as_user("ana")
    assert client.get("/logout").status_code == 405
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/names").get_data(as_text=True))})
    assert client.get("/names").status_code == 302


def test_session_cookie_is_signed_and_http_only(as_user):
    client = as_user("ana")
    cookie = client.get_cookie("session")
    assert cookie.http_only and "." in cookie.value  # itsdangerous signature
    client.set_cookie("session", cookie.value[:-3] + "xyz")
    assert client.get("/names").status_code == 302  # a tampered cookie is no session


def test_province_page(as_user):
    html = as_user("boss").get("/province/360000").get_data(as_text=True)
    assert "江西" in html and "入库历史" in html
    assert "/ogc/collections/lines/items?province=360000" in html  # geometry comes from the API
    assert "leaflet-measure" in html and "Control.FullScreen" in html and "markercluster" in html
    assert 'id="diff-form"' in html and "3643" in html
    assert "/download/360000/markers.geojson" in html and "/download/submission/2/lines.geojson" in html
    assert len(html) < 200_000


@pytest.mark.parametrize("code", ["999999", "36000", "abc", "360001"])
def test_unknown_province_is_404(as_user, code):
    response = as_user("boss").get(f"/province/{code}")
    assert response.status_code == 404 and "error" in response.get_data(as_text=True)


def test_diff_of_two_submissions(as_user):
    response = as_user("boss").get("/province/360000/diff?line=3643&a=1&b=2")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    deviation = float(html.split('id="max-deviation">')[1].split(" m")[0])
    assert 1.0 < deviation <= 2.0 and "714" in html  # the resurvey moved one vertex 2 m east


@pytest.mark.parametrize("query,status", [("line=3643&a=1", 400), ("line=3643&a=x&b=2", 400),
                                          ("line=9999&a=1&b=2", 404)])
def test_diff_refusals(as_user, query, status):
    assert as_user("boss").get(f"/province/360000/diff?{query}").status_code == status


def test_downloads_are_rfc7946_geojson(as_user):
    client = as_user("ana")
    response = client.get("/download/360000/markers.geojson")
    data = json.loads(response.data)
    assert response.mimetype == "application/geo+json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert len(data["features"]) == 110 and data["features"][0]["properties"]["marker_id"].startswith("36")
    history = json.loads(client.get("/download/submission/1/lines.geojson").data)
    assert {f["properties"]["status"] for f in history["features"]} == {"current", "superseded"}


@pytest.mark.parametrize("url", ["/download/360000/users.geojson", "/download/36x/lines.geojson",
                                 "/download/submission/99/lines.geojson", "/download/submission/1/report.geojson"])
def test_download_refusals(as_user, url):
    response = as_user("ana").get(url)
    assert response.status_code == 404 and response.is_json


def test_rules_page_explains_every_rule(client):
    html = client.get("/rules").get_data(as_text=True)
    assert 'id="marker.off_line"' in html and 'id="line.neighbor_mismatch"' in html


def test_unknown_page_is_a_404_page(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "<h1" in response.get_data(as_text=True)


def test_names_page_and_search(as_user):
    client = as_user("ana")
    assert 'id="name-search"' in client.get("/names").get_data(as_text=True)
    response = client.get("/names/search.json?q=")
    assert response.status_code in (200, 503)
    if response.status_code == 503:  # the gazetteer has not been installed: a clear error, never a 200
        assert "gazetteer" in response.get_json()["description"]


def test_security_headers(client):
    headers = client.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("url", "zh", "en"), [
    ("/province/999999", "不是省级行政区代码", "is not a province code"),
    ("/no-such-page", "此地址没有对应的页面或数据", "The requested URL was not found"),
])
def test_error_pages_speak_the_readers_language_only(as_user, url, zh, en):
    official = as_user("boss")
    chinese = official.get(url).get_data(as_text=True)
    assert zh in chinese and en not in chinese  # no English detail line under the Chinese
    english = official.get(url + "?lang=en").get_data(as_text=True)
    assert en in english and zh not in english
