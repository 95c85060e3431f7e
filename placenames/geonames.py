"""GeoNames as distributed: which of a place's names is the standard Chinese name, and why a row is skipped.

A row of a GeoNames dump (``CN.txt``, ``cities500.txt``) lists a place's names in every script, untagged,
in column ``alternatenames``. ``alternateNamesV2.txt`` (tab-separated: alternateNameId, geonameid,
isolanguage, alternate name, isPreferredName, isShortName, isColloquial, isHistoric, from, to) tags each
name with its language. The standard name is chosen:

1. among the names tagged ``zh-CN``, ``zh-Hans`` or ``zh`` (in that order; preferred names first,
   colloquial and historic ones never), when the alternate-names file is given and tags any;
2. otherwise among the untagged names that are Chinese: Han characters only, no Japanese-only kanji
   (:mod:`placenames.hanzi`); the one whose romanisation agrees with GeoNames' own ``asciiname`` (呼和浩特市
   for Hohhot, 长沙街道 rather than 开平 for Changsha), written in simplified characters in the file, longest
   (with its generic part: 赣州市 over 赣州).

Either way a traditional form becomes simplified (OpenCC), and every other name is kept as an alias. A row
with no Chinese form is skipped, with its reason (:data:`SKIP_REASONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from placenames.hanzi import is_simplified, simplified_form
from placenames.romanize import has_chinese, pinyin_key, romanize

__all__ = ["COLUMNS", "SKIP_REASONS", "Skipped", "alternate_names", "standard_name"]

COLUMNS = ["geonameid", "name", "asciiname", "alternatenames", "latitude", "longitude", "feature_class",
           "feature_code", "country_code", "cc2", "admin1", "admin2", "admin3", "admin4", "population",
           "elevation", "dem", "timezone", "modified"]
#: Language tags of alternateNamesV2.txt that mark a Chinese name, best first.
ZH_TAGS = ("zh-CN", "zh-Hans", "zh")
#: Why a row gives no name: reason → (English, Chinese).
SKIP_REASONS = {
    "no_chinese_form": ("no Chinese (Han) form among its names", "名称中没有汉字形式"),
    "only_japanese_korean": ("only Japanese or Korean forms (kana, hangul or Japanese-only kanji)",
                             "只有日文或朝鲜文形式（假名、谚文或日本汉字）"),
}


@dataclass(frozen=True)
class Skipped:
    """A row of the file that gives no name: its line, GeoNames id, GeoNames name and the reason's key."""

    line: int
    geonameid: str
    name: str
    reason: str

    def to_json(self, lang: str = "zh") -> dict:
        english, chinese = SKIP_REASONS[self.reason]
        return {"line": self.line, "geonameid": self.geonameid, "name": self.name, "reason": self.reason,
                "message": english if lang == "en" else chinese}


def alternate_names(path: Path, ids: set[str]) -> dict[str, list[tuple[str, str, bool]]]:
    """The Chinese-tagged names of ``alternateNamesV2.txt`` (or the older ``alternateNames.txt``) for the
    places ``ids``: geonameid → ``(name, tag, preferred)``, colloquial and historic names left out. The file
    is read line by line (the whole world's is 700 MB); lines without a ``zh`` tag are passed over unsplit."""
    out: dict[str, list[tuple[str, str, bool]]] = {}
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if "\tzh" not in line:
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4 or parts[2] not in ZH_TAGS or parts[1] not in ids:
                continue
            flags = [*parts[4:8], "", "", "", ""]
            if flags[2] == "1" or flags[3] == "1":  # colloquial (呼市) or historic
                continue
            out.setdefault(parts[1], []).append((parts[3], parts[2], flags[0] == "1"))
    return out


def standard_name(forms: list[str], ascii_name: str,
                  tagged: list[tuple[str, str, bool]] = ()) -> tuple[str | None, str | None]:
    """``(standard name, None)`` chosen from a place's ``forms`` and its ``tagged`` Chinese names as the
    module says, or ``(None, reason)`` with a key of :data:`SKIP_REASONS`.

    >>> standard_name(["Hohhot", "フフホト市", "呼和浩特", "呼和浩特市", "후허하오터 시"], "Hohhot")
    ('呼和浩特市', None)
    >>> standard_name(["カン州市", "貢州", "赣州", "赣州市"], "Ganzhou"), standard_name(["Lhasa"], "Lhasa")
    (('赣州市', None), (None, 'no_chinese_form'))
    """
    chosen = [(-preferred, ZH_TAGS.index(tag), form) for form, tag, preferred in tagged if simplified_form(form)]
    if chosen:
        return simplified_form(min(chosen)[2]), None
    han = [(form, simplified_form(form)) for form in dict.fromkeys(f.strip() for f in forms if f.strip())]
    chinese = [(form, simple) for form, simple in han if simple]
    if not chinese:
        asian = any(has_chinese(f) or any("\u3040" <= c <= "\u30ff" or "\uac00" <= c <= "\ud7af" for c in f)
                    for f, _ in han)
        return None, "only_japanese_korean" if asian else "no_chinese_form"
    if len({simple for _, simple in chinese}) == 1:
        return chinese[0][1], None
    ascii_key = pinyin_key(ascii_name)

    def rank(item: tuple[str, str]) -> tuple:
        form, simple = item
        key = pinyin_key(romanize(simple))
        agrees = bool(ascii_key) and (key.startswith(ascii_key) or ascii_key.startswith(key))
        return agrees, is_simplified(form), len(simple)

    return max(chinese, key=rank)[1], None
