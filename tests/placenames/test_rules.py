"""The naming rules on real divisions: duplicates, homophones, rare characters, codes, points outside."""

from __future__ import annotations

from placenames.model import NameRecord
from placenames.romanize import romanize
from placenames.rules import check_names


def _add(store, *records):
    with store.write():
        store.upsert(list(records))


def _name(name, klass, code, lon=115.88, lat=28.68):
    return NameRecord(name=name, pinyin=romanize(name), klass=klass, lon=lon, lat=lat, code=code, source="test")


def _rules(report):
    return sorted({i["rule"] for i in report["issues"]})


def test_real_jiangxi_divisions_follow_the_rules(gazetteer):
    report = check_names(gazetteer, within="360000")
    errors = [i for i in report["issues"] if i["severity"] == "error" and i["rule"] != "name.duplicate_township"]
    assert errors == []


def test_county_name_repeated_nationwide(gazetteer):
    _add(gazetteer, _name("南昌县", "行政区域", "440199", lon=113.3, lat=23.1))
    report = check_names(gazetteer)
    hits = [i for i in report["issues"] if i["rule"] == "name.duplicate_county"]
    assert {i["lon"] for i in hits} >= {113.3} and len(hits) == 2 and not report["accepted"]


def test_village_duplicates_within_a_county_and_homophones(gazetteer):
    _add(gazetteer, _name("李家村", "群众自治组织", "360102"), _name("李家村", "群众自治组织", "360102"),
         _name("里家村", "群众自治组织", "360102"), _name("李家村", "群众自治组织", "360103"))
    report = check_names(gazetteer, within="360100")
    dup = [i for i in report["issues"] if i["rule"] == "name.duplicate_village"]
    homophones = [i for i in report["issues"] if i["rule"] == "name.homophone"]
    assert len(dup) == 2  # the two in 东湖区; the one in 西湖区 is another county
    assert homophones and all(i["severity"] == "warning" for i in homophones)


def test_rare_characters_malformed_codes_and_points_outside(gazetteer):
    _add(gazetteer, _name("𬌗岭", "陆地地形", "360102"), _name("远方村", "居民点", "360102", lon=117.9, lat=25.0))
    report = check_names(gazetteer)
    assert {"name.rare_character", "name.outside_division"} <= set(_rules(report))
    outside = [i for i in report["issues"] if i["rule"] == "name.outside_division"]
    assert [(i["lon"], i["lat"]) for i in outside] == [(117.9, 25.0)]


def test_english_messages(gazetteer):
    _add(gazetteer, _name("南昌县", "行政区域", "440199", lon=113.3, lat=23.1))
    issue = next(i for i in check_names(gazetteer, lang="en")["issues"] if i["rule"] == "name.duplicate_county")
    assert "repeats the name" in issue["message"]


def test_a_municipality_at_province_and_city_level_is_one_place(two_cities):
    report = check_names(two_cities)
    assert [i for i in report["issues"] if i["rule"] == "name.duplicate_county"] == []
    assert report["summary"]["names"] == 30  # 上海市 twice, its 16 districts, 广州市 and its 11


def test_a_malformed_division_code(gazetteer):
    _add(gazetteer, _name("青云谱", "居民点", "36010"))
    (issue,) = [i for i in check_names(gazetteer)["issues"] if i["rule"] == "name.code_format"]
    assert issue["severity"] == "error" and "36010" in issue["message"] and issue["layer"] == "names"
