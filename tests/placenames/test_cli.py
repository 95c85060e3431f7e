"""``quhua names …`` and ``quhua divisions import`` as users run them."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest

from tests.conftest import run_cli


def test_divisions_import_then_names_search_show_check_export(capsys, tmp_path, db_url, jiangxi_divisions):
    db = db_url
    source = tmp_path / "江西区划.geojson"
    pyogrio.write_dataframe(jiangxi_divisions.rename(columns={"code": "adcode", "name": "名称"})
                            .drop(columns=["level", "parent"]), source)
    code, out = run_cli(capsys, "--db", db, "divisions", "import", source)
    assert code == 0 and "112 个区划，首次载入 112 个" in out

    code, results = run_cli(capsys, "--db", db, "names", "search", "gz", "--json")
    assert code == 0 and results[0]["name"] == "赣州市" and results[0]["score"] >= results[-1]["score"]

    code, record = run_cli(capsys, "--db", db, "names", "show", results[0]["id"], "--json")
    assert code == 0 and record["pinyin"] == "Ganzhou Shi" and record["history"][0]["name"] == "赣州市"
    from boundaries.cli import main

    assert main(["--db", db, "names", "show", "999999"]) == 2
    assert "没有编号为 999999 的地名" in capsys.readouterr().err

    code, report = run_cli(capsys, "--db", db, "names", "check", "--json")
    assert code == 0 and report["accepted"] is True and report["summary"]["names"] == 112

    out = tmp_path / "names.geojson"
    assert run_cli(capsys, "--db", db, "export", "names", "--province", "360000", "-o", out)[0] == 0
    names = gpd.read_file(out)
    assert len(names) == 112 and {"name", "pinyin", "class", "code", "aliases"} <= set(names.columns)
    assert run_cli(capsys, "--db", db, "export", "divisions", "-o", tmp_path / "d.gpkg")[0] == 0
    assert len(gpd.read_file(tmp_path / "d.gpkg")) == 112


def test_import_with_bad_rows_exits_1(capsys, tmp_path, db_url):
    path = tmp_path / "bad.csv"
    path.write_text("name,class,lon,lat\n好地方,居民点,115.9,28.7\n坏地方,城市,115.9,28.7\n", encoding="utf-8")
    from boundaries.cli import main

    assert main(["--db", db_url, "names", "import", str(path)]) == 1  # in Chinese by default
    err = capsys.readouterr().err
    assert "bad.csv：1 行有误，未入库" in err and "\n  第 3 行：类别 '城市' 不属于普查的十二类" in err
    assert main(["--lang", "en", "--db", db_url, "names", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv: 1 bad row(s), nothing stored" in err and "\n  line 3: class '城市' is none of the census" in err
    assert run_cli(capsys, "--db", db_url, "names", "search", "好地方", "--json")[1] == []  # nothing stored


def test_a_rename_through_the_cli_shows_history_and_dated_search(capsys, tmp_path, db_url):
    db, path = db_url, tmp_path / "村.csv"
    path.write_text("id,name,class,lon,lat,code,valid_from\nv1,老街村,群众自治组织,115.88,28.68,360102,2001-01-01\n",
                    encoding="utf-8")
    assert run_cli(capsys, "--db", db, "names", "import", path) == (0, "新增 1 个地名，更新 0 个（村.csv）\n")
    path.write_text("id,name,class,lon,lat,code,valid_from\nv1,新华村,群众自治组织,115.88,28.68,360102,2016-05-01\n",
                    encoding="utf-8")
    assert run_cli(capsys, "--db", db, "names", "import", path)[0] == 0

    code, now = run_cli(capsys, "--db", db, "names", "search", "xhc", "--json")
    assert code == 0 and [r["name"] for r in now] == ["新华村"]
    code, then = run_cli(capsys, "--db", db, "names", "search", "老街", "--at", "2015-01-01", "--json")
    assert [(r["name"], r["status"]) for r in then] == [("老街村", "historical")]

    code, text = run_cli(capsys, "--db", db, "names", "show", now[0]["id"])
    assert "2001-01-01 – 2016-05-01  老街村  [historical]" in text and "新华村" in text


def test_init_creates_the_gazetteer_tables(capsys, db_url):
    from placenames.store import open_name_store

    code, out = run_cli(capsys, "--db", db_url, "init")
    assert code == 0 and "gazetteer tables ready (names, name_extents, divisions)" in out
    with open_name_store(db_url) as store:
        assert store.has_names() and len(store.divisions()) == 0 and store.extents().empty
        assert store._has_table("name_extents")


def test_unusable_files_are_refused_with_a_message_not_a_traceback(capsys, tmp_path, db_url):
    """A GeoJSON GDAL cannot parse, and a division shapefile without a .prj: exit 2, the file and the fix named."""
    import shapely

    from boundaries.cli import main

    undecodable = tmp_path / "地名.csv"
    undecodable.write_bytes(b"name,class,lon,lat\n\x80\xff," + "居民点,115.9,28.7\n".encode())
    assert main(["--db", db_url, "names", "import", str(undecodable)]) == 2
    assert "地名.csv：文本既不是 UTF-8 也不是 GB18030/GBK；请另存为 UTF-8 后重新导入" in capsys.readouterr().err
    broken = tmp_path / "地名.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    assert main(["--db", db_url, "names", "import", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "地名.geojson：GDAL 无法读取" in err and "Traceback" not in err
    shapefile = tmp_path / "区划.shp"
    with pytest.warns(UserWarning, match="crs"):  # as a surveyor's file without its .prj
        gpd.GeoDataFrame({"code": ["360102"], "name": ["东湖区"]}, geometry=[shapely.box(115.8, 28.6, 115.9, 28.7)]
                         ).to_file(shapefile, engine="pyogrio")
    assert main(["--db", db_url, "divisions", "import", str(shapefile)]) == 2
    assert "区划.shp：没有坐标系；请以 EPSG:4490 另存" in capsys.readouterr().err
    assert main(["--lang", "en", "--db", db_url, "divisions", "import", str(shapefile)]) == 2
    assert "区划.shp: no coordinate system; save it with EPSG:4490" in capsys.readouterr().err


def test_names_import_shows_its_steps_on_stderr_in_the_users_language(capsys, tmp_path, db_url):
    """A long import is not silent: a bar of its steps (reading, counties, storing) on stderr; stdout keeps
    only the result."""
    from boundaries.cli import main

    path = tmp_path / "地名.csv"
    path.write_text("name,class,lon,lat\n八一广场,交通运输设施,115.9,28.68\n", encoding="utf-8")
    assert main(["--db", db_url, "names", "import", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "新增 1 个地名，更新 0 个（地名.csv）\n"
    assert "导入地名" in err and "3/3" in err and "完成" in err
    assert main(["--lang", "en", "--db", db_url, "names", "import", str(path)]) == 0
    err = capsys.readouterr().err
    assert "names import" in err and "3/3" in err and "done" in err and "导入" not in err
