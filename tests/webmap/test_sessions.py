"""Logging in and staying logged in, over HTTP on both databases: HTTP Basic verified once and remembered
briefly, the configured base URL in OGC links, the Secure cookie setting, clean refusals of bad tokens."""

from __future__ import annotations

import base64

import pytest

import webmap.users
from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD
from webmap import create_app
from webmap.users import UserStore


def _basic(name: str, password: str = PASSWORD) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture
def own_app(db_copy, tmp_path):
    """An app on a database of its own (the tests change accounts)."""
    return create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "test-secret",
                       "UPLOAD_DIR": str(tmp_path / "uploads")})


@pytest.fixture
def hash_checks(monkeypatch) -> list[str]:
    """The password hashes verified (werkzeug's check_password_hash, still called for real)."""
    calls: list[str] = []
    real = webmap.users.check_password_hash

    def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(webmap.users, "check_password_hash", counting)
    return calls


def test_http_basic_verifies_the_password_once(own_app, hash_checks):
    client = own_app.test_client()
    for _ in range(10):
        assert client.get("/ogc/collections", headers=_basic("ana")).status_code == 200
    assert len(hash_checks) == 1
    assert client.get("/ogc/collections", headers=_basic("ana", "wrong password")).status_code == 401
    assert client.get("/ogc/collections", headers=_basic("ana", "wrong password")).status_code == 401
    assert len(hash_checks) == 3  # a wrong password is never remembered


def test_a_changed_password_or_removed_account_takes_effect_at_once(own_app, db_copy):
    client = own_app.test_client()
    assert client.get("/ogc", headers=_basic("ana")).status_code == 200
    with open_store(db_copy) as store:  # as `quhua users add` in another process
        UserStore(store).add("ana", "another password", "analyst")
    assert client.get("/ogc", headers=_basic("ana")).status_code == 401
    assert client.get("/ogc", headers=_basic("ana", "another password")).status_code == 200
    with open_store(db_copy) as store:
        UserStore(store).remove("ana")
    assert client.get("/ogc", headers=_basic("ana", "another password")).status_code == 401


def test_a_role_change_takes_effect_at_once(own_app, db_copy):
    client = own_app.test_client()
    assert client.get("/ogc/collections/lines/items?province=430000", headers=_basic("jx")).status_code == 403
    with open_store(db_copy) as store:
        UserStore(store).add("jx", PASSWORD, "analyst")
    assert client.get("/ogc/collections/lines/items?province=430000", headers=_basic("jx")).status_code == 200


def test_ogc_links_use_the_configured_base_url_not_the_host_header(db_copy, tmp_path):
    app = create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "s", "UPLOAD_DIR": str(tmp_path),
                      "BASE_URL": "https://quhua.example.gov.cn/"})
    response = app.test_client().get("/ogc", headers=_basic("ana") | {"Host": "evil.example.com"})
    hrefs = [link["href"] for link in response.json["links"]]
    assert hrefs and all(h.startswith("https://quhua.example.gov.cn/ogc") for h in hrefs)
    assert "evil" not in response.get_data(as_text=True)


def test_secure_cookie_setting(db_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("QUHUA_COOKIE_SECURE", "1")
    app = create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "s", "UPLOAD_DIR": str(tmp_path)})
    client = app.test_client()
    response = client.get("/login")
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
