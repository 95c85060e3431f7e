"""``quhua users`` and ``quhua serve`` (waitress)."""

from __future__ import annotations

import urllib.request

import click
import pytest
from click.testing import CliRunner

from boundaries.cli import cli
from boundaries.store import open_store
from webmap.auth import can
from webmap.cli import serve, users
from webmap.users import UserStore


@pytest.fixture(scope="module")
def quhua() -> click.Group:
    """The ``quhua`` group with the viewer's commands (as the entry points add them once installed)."""
    return click.Group("quhua", commands={**cli.commands, "serve": serve, "users": users}, params=cli.params,
                       callback=cli.callback, context_settings=cli.context_settings)


def test_users_add_list_remove(quhua, db_url):
    """On both backends: the table is created on first use (with the database), add replaces."""
    db = db_url
    runner = CliRunner()
    assert runner.invoke(quhua, ["--db", db, "users", "list"]).output == ""
    added = runner.invoke(quhua, ["--db", db, "users", "add", "wang", "--role", "surveyor", "--province", "360000",
                                  "--password", "a long secret"])
    assert added.exit_code == 0, added.output
    assert "wang: surveyor for 360000" in added.output
    assert "wang\tsurveyor\t360000" in runner.invoke(quhua, ["--db", db, "users", "list"]).output
    with open_store(db) as store:
        user = UserStore(store).authenticate("wang", "a long secret")
        hashed = store.connection().execute("SELECT password_hash FROM users").fetchone()[0]
    assert user is not None and can(user, "upload", "360000") and not can(user, "upload", "430000")
    assert "a long secret" not in hashed and hashed.startswith(("scrypt:", "pbkdf2:"))
    replaced = runner.invoke(quhua, ["--db", db, "users", "add", "wang", "--role", "analyst",
                                     "--password", "another secret"])
    assert replaced.exit_code == 0, replaced.output
    assert runner.invoke(quhua, ["--db", db, "users", "add", "李四", "--role", "official",
                                 "--password", "a third secret"]).exit_code == 0
    assert runner.invoke(quhua, ["--db", db, "users", "list"]).output == "wang\tanalyst\t\n李四\tofficial\t\n"
    with open_store(db) as store:
        users = UserStore(store)
        assert users.authenticate("wang", "a long secret") is None
        assert users.authenticate("wang", "another secret") == users.get("wang")
        assert users.get("nobody") is None and users.authenticate("nobody", "another secret") is None
    assert runner.invoke(quhua, ["--db", db, "users", "remove", "wang"]).exit_code == 0
    assert runner.invoke(quhua, ["--db", db, "users", "remove", "wang"]).exit_code == 1
    assert runner.invoke(quhua, ["--db", db, "users", "list"]).output == "李四\tofficial\t\n"


@pytest.mark.parametrize("args,message", [
    (["--role", "surveyor", "--password", "a long secret"], "needs --province"),
    (["--role", "surveyor", "--province", "999999", "--password", "a long secret"], "not a province code"),
    (["--role", "official", "--password", "short"], "at least 8"),
    (["--role", "boss", "--password", "a long secret"], "Invalid value for '--role'"),
], ids=["no-province", "bad-province", "short-password", "bad-role"])
def test_users_add_refusals(quhua, tmp_path, args, message):
    result = CliRunner().invoke(quhua, ["--db", str(tmp_path / "q.gpkg"), "users", "add", "x", *args])
    assert result.exit_code != 0
    assert message in result.output + str(result.exception)


def test_serve_runs_waitress(server):
    with urllib.request.urlopen(server + "/healthz") as response:
        assert response.headers["Server"] == "waitress"
        assert response.read() == b'{"status":"ok"}\n'



@pytest.mark.parametrize("args,zh", [
    (("surveyor", None), "测绘人员（surveyor）须用 --province 代码 指定其报送的省份"),
    (("surveyor", "999999"), "--province '999999' 不是省级行政区划代码"),
    (("boss", None), "--role 'boss'：请从 surveyor、official、analyst 中选择"),
], ids=["no-province", "bad-province", "bad-role"])
def test_account_refusals_carry_chinese(tmp_path, args, zh):
    from boundaries.errors import QuhuaError

    with open_store(str(tmp_path / "q.gpkg")) as store, pytest.raises(QuhuaError) as err:
        UserStore(store).add("x", "a long secret", *args)
    assert zh in err.value.text("zh") and err.value.text("en") == err.value.message
    with open_store(str(tmp_path / "q.gpkg")) as store, pytest.raises(QuhuaError) as err:
        UserStore(store).add("x", "short", "official")
    assert err.value.text("zh") == "请给出用户名和至少 8 个字符的密码"
