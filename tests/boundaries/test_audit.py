"""The audit log of every write (issue 12, item 9), on both databases: ``quhua ingest`` (stored or
rejected), ``config set``, account changes and gazetteer imports each leave one row — who (``--user``), when
(UTC), what, from where (``cli``), outcome —, written in the ingest's own transaction (kill -9 before the
commit leaves neither submission nor row); ``quhua audit`` lists them newest first, filtered and paged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely

from boundaries.store import open_store
from tests.conftest import run_cli, write_shapefiles

QUHUA = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]


@pytest.fixture
def good(tmp_path, jx_lines, jx_markers):
    return write_shapefiles(tmp_path / "good", jx_lines, jx_markers)


@pytest.fixture
def bad(tmp_path, jx_lines, jx_markers):
    """Marker 3642003Q 1 km off its line: marker.off_line, nothing stored."""
    markers = jx_markers.copy()
    index = markers.index[markers["marker_id"] == "3642003Q"][0]
    markers.loc[index, "geometry"] = shapely.affinity.translate(markers.loc[index, "geometry"], 0, 0.01)
    return write_shapefiles(tmp_path / "bad", jx_lines, markers)


def _audit(capsys, db: str, *args: str) -> dict:
    code, page = run_cli(capsys, "--db", db, "audit", "--json", *args)
    assert code == 0
    return page


def test_ingests_stored_and_rejected_are_recorded_with_who_when_what_where(capsys, db_url, good, bad):
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    code, report = run_cli(capsys, "--db", db_url, "ingest", "--province", "360000", "--user", "张三", "--json", *good)
    assert code == 0
    assert run_cli(capsys, "--db", db_url, "ingest", "--province", "360000", "--user", "李四", "--json", *bad)[0] == 1
    page = _audit(capsys, db_url)
    assert page["total"] == 2
    rejected, stored = page["rows"]  # newest first
    assert (stored["user"], stored["action"], stored["address"], stored["province"], stored["outcome"]) == (
        "张三", "ingest", "cli", "360000", "stored")
    assert stored["submission_id"] == 1 and stored["created_at"] >= before and stored["created_at"].endswith("Z")
    assert {p.name for p in good} <= set(stored["detail"]["files"])
    assert stored["detail"]["lines"] == 2 and stored["detail"]["markers"] == report["summary"]["markers"]
    assert (rejected["user"], rejected["outcome"], rejected["submission_id"]) == ("李四", "rejected", None)
    assert rejected["detail"]["errors"] >= 1
    assert _audit(capsys, db_url, "--user", "张三")["total"] == 1
    assert _audit(capsys, db_url, "--province", "430000")["total"] == 0
    assert [r["user"] for r in _audit(capsys, db_url, "--limit", "1", "--offset", "1")["rows"]] == ["张三"]


def test_config_accounts_and_gazetteer_imports_are_recorded(capsys, db_url, tmp_path, monkeypatch):
    from boundaries.config import load_config

    config = tmp_path / "qa.toml"
    config.write_text(load_config().to_toml(), encoding="utf-8")
    assert run_cli(capsys, "--db", db_url, "config", "set", str(config), "--province", "360000",
                   "--user", "王五")[0] == 0
    monkeypatch.setenv("QUHUA_PASSWORD", "a long password")
    assert run_cli(capsys, "--db", db_url, "users", "add", "jx", "--role", "surveyor", "--province", "360000",
                   "--user", "admin")[0] == 0
    assert run_cli(capsys, "--db", db_url, "users", "remove", "nobody", "--user", "admin")[0] == 2
    names = tmp_path / "names.csv"
    names.write_text("name,class,lon,lat,code\n南昌市,行政区域,115.8582,28.6829,360100\n", encoding="utf-8")
    assert run_cli(capsys, "--db", db_url, "names", "import", str(names), "--user", "赵六")[0] == 0
    rows = {r["action"]: r for r in _audit(capsys, db_url)["rows"]}
    assert set(rows) == {"config set", "user add", "user remove", "names import"}
    assert (rows["config set"]["user"], rows["config set"]["province"]) == ("王五", "360000")
    assert rows["config set"]["detail"] == {"file": "qa.toml"}
    assert rows["user add"]["detail"] == {"account": "jx", "role": "surveyor"} and rows["user add"]["user"] == "admin"
    assert rows["user remove"]["outcome"] == "not found"
    assert rows["names import"]["detail"]["inserted"] == 1 and rows["names import"]["user"] == "赵六"
    assert all(r["address"] == "cli" for r in rows.values())
    code, text = run_cli(capsys, "--db", db_url, "audit", "--action", "user add")
    assert code == 0 and "添加账户" in text and "admin" in text
    code, text = run_cli(capsys, "--db", db_url, "--lang", "en", "audit", "--action", "user add")
    assert "add account" in text


@pytest.mark.parametrize("point", ["issues", "audit"])
def test_kill_9_before_the_commit_leaves_neither_submission_nor_audit_row(capsys, db_url, good, point):
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    env = {**os.environ, "QUHUA_TEST_KILL_AT": point}
    done = subprocess.run([*QUHUA, "--db", db_url, "ingest", "--province", "360000", "--json", *map(str, good)],
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL
    with open_store(db_url) as store:
        assert len(store.read_layer("submissions")) == 0 and store.read_audit().total == 0
    assert run_cli(capsys, "--db", db_url, "ingest", "--province", "360000", "--json", *good)[0] == 0
    page = _audit(capsys, db_url)
    with open_store(db_url) as store:
        stored = list(store.read_layer("submissions")["fid"])  # PostgreSQL does not give back the killed one's id
    assert page["total"] == 1 and [page["rows"][0]["submission_id"]] == stored


def test_an_old_database_gets_the_audit_table_on_its_first_write(capsys, tmp_path, good):
    """A GeoPackage made before the audit log (by quhua at commit e4da53e, tests/fixtures/README.md): the
    audit log reads empty, and the first ingest upgrades the schema and records itself."""
    import shutil

    from boundaries.store import gpkg

    db = str(tmp_path / "old.gpkg")
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "quhua-e4da53e.gpkg", db)
    with open_store(db) as store:
        assert not gpkg.has_table(store.connection(), "audit")
        assert store.read_audit().total == 0
    assert run_cli(capsys, "--db", db, "ingest", "--province", "360000", "--json", *good)[0] == 0
    assert json.loads(json.dumps(_audit(capsys, db)))["total"] == 1
