"""Logging in and staying logged in, over HTTP on both databases: HTTP Basic verified once and remembered
briefly, the configured base URL in OGC links, the Secure cookie setting, clean refusals of bad tokens."""

from __future__ import annotations

import base64
import time

import pytest

import webmap.users
from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD, csrf_of, login
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


def test_a_5000_character_upload_token_is_a_clean_400(as_user):
    client = as_user("jx")
    token = csrf_of(client.get("/upload").get_data(as_text=True))
    response = client.post(f"/upload/{'a' * 5000}/confirm", data={"csrf_token": token})
    assert response.status_code == 400 and "上传令牌无效" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["ana", "nobody-of-that-name"])
def test_an_unknown_name_costs_a_hash_as_a_wrong_password_does(own_app, hash_checks, name):
    """Equal work: the same number of hash verifications, so timing does not tell names apart."""
    assert login(own_app.test_client(), name, "wrong password").status_code == 401
    assert own_app.test_client().get("/ogc", headers=_basic(name, "wrong password 2")).status_code == 401
    assert len(hash_checks) == 2


def test_five_wrong_passwords_lock_the_account_for_the_window(own_app, caplog):
    client = own_app.test_client()
    for _ in range(5):
        assert login(client, "ana", "wrong password").status_code == 401
    refused = login(client, "ana")
    assert refused.status_code == 429 and "登录失败次数过多" in refused.get_data(as_text=True)
    assert client.get("/ogc", headers=_basic("ana")).status_code == 429  # HTTP Basic too
    assert "failed login: user 'ana' from 127.0.0.1" in caplog.text and "login throttled" in caplog.text
    assert login(client, "boss").status_code == 302  # another account from the same address


def test_wrong_passwords_over_http_basic_lock_the_account(own_app):
    client = own_app.test_client()
    for _ in range(5):
        assert client.get("/ogc", headers=_basic("jx", "wrong password")).status_code == 401
    assert client.get("/ogc", headers=_basic("jx")).status_code == 429
    body = client.get("/ogc", headers=_basic("jx")).json
    assert "try again in 15 minutes" in body["description"] and "15 分钟后再试" in body["description_zh"]


def test_twenty_failures_from_one_address_lock_the_address(own_app):
    client = own_app.test_client()
    for i in range(20):
        assert login(client, f"guess{i}", "wrong password").status_code == 401
    assert login(client, "boss").status_code == 429
    elsewhere = own_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert login(elsewhere, "boss").status_code == 302


def test_a_cookie_saved_before_logout_no_longer_works(as_user, client):
    as_user("boss")
    saved = client.get_cookie("session").value
    assert client.get("/province/430000").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/names").get_data(as_text=True))})
    client.set_cookie("session", saved)
    response = client.get("/province/430000")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("setting", ["SESSION_IDLE", "SESSION_MAX"])
def test_sessions_expire_when_idle_and_at_most_after_their_lifetime(db_copy, tmp_path, setting):
    app = create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "s", "UPLOAD_DIR": str(tmp_path),
                      setting: 1.5})
    client = app.test_client()
    assert login(client, "ana").status_code == 302
    assert client.get("/names").status_code == 200
    if setting == "SESSION_MAX":
        time.sleep(1.0)
        assert client.get("/names").status_code == 200  # still within its lifetime
    time.sleep(1.6)
    assert client.get("/names").status_code == 302
