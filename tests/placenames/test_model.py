"""The name record and the facts read from division codes."""

from __future__ import annotations

import pytest

from placenames.model import CLASSES, NameRecord, division_level, importance, valid_code


@pytest.mark.parametrize(("code", "level"), [("360000", "province"), ("360100", "city"), ("360102", "county"),
                                             ("360102001", "township"), ("360102001001", "village")])
def test_division_level_from_the_code(code, level):
    assert division_level(code) == level


@pytest.mark.parametrize("code", ["36010", "3601021", "990100", "36O100", None, ""])
def test_malformed_codes(code):
    assert not valid_code(code)


def test_a_province_outranks_a_city_a_county_and_a_village():
    ranks = [importance("行政区域", c) for c in ("360000", "360100", "360102", "360102001", "360102001001")]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 5
    assert importance("行政区域", "360100") > importance("居民点", "360100")


def test_the_census_has_twelve_classes_and_the_json_says_class():
    assert len(CLASSES) == 12 and "纪念地旅游景点" in CLASSES
    record = NameRecord(name="滕王阁", pinyin="Tengwangge", klass="纪念地旅游景点", lon=115.8838, lat=28.6811)
    out = record.to_json()
    assert out["class"] == "纪念地旅游景点" and "klass" not in out and next(iter(out)) == "id"
