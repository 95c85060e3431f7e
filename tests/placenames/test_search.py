"""Search on real names: Chinese from one character, pinyin any way, initials, typos, filters, ranking."""

from __future__ import annotations

from placenames.lookup import search


def _names(results):
    return [r["name"] for r in results]


def test_exact_chinese_name_ranks_the_city_first(gazetteer):
    results = search(gazetteer, "南昌市")
    assert results[0]["name"] == "南昌市" and results[0]["class"] == "行政区域" and results[0]["code"] == "360100"
    assert set(results[0]) >= {"id", "name", "pinyin", "class", "code", "lon", "lat", "aliases", "status",
                               "valid_from", "valid_to", "source", "score"}


def test_one_and_two_characters_find_names(gazetteer):
    one = search(gazetteer, "赣", limit=50)
    assert one and all("赣" in r["name"] or any("赣" in a for a in r["aliases"]) for r in one)
    assert "赣州市" in _names(one)
    assert search(gazetteer, "九江")[0]["name"] == "九江市"  # proper part: the city before its district


def test_pinyin_with_and_without_spaces_tones_and_initials(gazetteer):
    for query in ("Nanchang Shi", "nanchangshi", "nán chāng", "NANCHANG"):
        assert search(gazetteer, query)[0]["name"] == "南昌市", query
    assert search(gazetteer, "jj")[0]["name"] == "九江市"
    assert search(gazetteer, "gz")[0]["name"] == "赣州市"


def test_small_typos(gazetteer):
    assert search(gazetteer, "jingdezhne")[0]["name"] == "景德镇市"
    assert search(gazetteer, "shangrao shi")[0]["name"] == "上饶市"


def test_within_class_and_near(gazetteer):
    within = search(gazetteer, "镇", within="360400", limit=100)  # 九江
    assert within and all(r["code"].startswith("3604") for r in within)
    assert all(r["class"] == "行政区域" for r in search(gazetteer, "县", klass="行政区域", limit=30))
    # four towns in 江西's extent are called 大桥镇: the one near the given point comes first
    same = [r for r in search(gazetteer, "大桥镇", limit=20) if r["name"] == "大桥镇"]
    assert len(same) == 4
    for target in same:
        near = search(gazetteer, "大桥镇", near=(target["lon"], target["lat"]), limit=20)
        assert near[0]["id"] == target["id"]


def test_nothing_for_an_unknown_name(gazetteer):
    assert search(gazetteer, "亚特兰蒂斯") == []


def test_the_issues_examples_initials_and_typo(two_cities):
    assert search(two_cities, "sh")[0]["name"] == "上海市"
    assert search(two_cities, "guangzhuo")[0]["name"] == "广州市"  # zhou typed zhuo
    assert search(two_cities, "Guǎngzhōu Shì")[0]["name"] == "广州市"
    assert search(two_cities, "PY")[0]["name"] == "番禺区"  # the reading table's Panyu, not Fanyu
    assert search(two_cities, "fanyu") == []


def test_one_character_starting_before_containing_and_the_province_first_among_equals(two_cities):
    results = search(two_cities, "海", limit=20)
    assert _names(results) == ["海珠区", "上海市", "上海市"]  # 海珠区 starts with 海; the others contain it
    assert [r["code"] for r in results[1:]] == ["310000", "310100"]  # the province before its city level


def test_json_has_the_spec_fields_and_scores_best_first(two_cities):
    results = search(two_cities, "区", limit=30)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and len(results) == 27  # 16 + 11 districts
