"""Which written form of a name is standard Chinese: simplified Han characters, not Japanese or Korean.

Sources such as GeoNames list a Chinese place's forms in many scripts side by side: simplified (赣州市),
traditional (贛州), Japanese (カン州市 with kana, 広州 with a shinjitai kanji), Korean (간저우 시). The
standard name (标准名称) is written in simplified characters (通用规范汉字表). Conversion uses OpenCC
(a maintained library: its ``t2s`` table converts traditional to simplified, its ``jp2t`` table maps
Japanese shinjitai to traditional forms); nothing here is a hand-written character table.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["is_han", "is_simplified", "simplified_form"]

#: Han ideographs (CJK unified, extensions A–H, compatibility) and 〇, the only characters of a standard name
_HAN = re.compile(r"^[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+$")


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def is_han(text: str) -> bool:
    """Whether ``text`` is Han characters only (no kana, hangul, Latin letters, digits or spaces).

    >>> is_han("赣州市"), is_han("カン州市"), is_han("간저우 시"), is_han("Ganzhou")
    (True, False, False, False)
    """
    return bool(_HAN.match(text))


@cache
def _in_gb2312(char: str) -> bool:
    """Whether GB 2312, the core simplified repertoire, has the character."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def is_simplified(text: str) -> bool:
    """Han characters only, none of them traditional (a character OpenCC's t2s would change, unless GB 2312
    has it: 乾 of 乾县 is simplified Chinese too) or Japanese-only.

    >>> is_simplified("乾县"), is_simplified("贛州"), is_simplified("県"), is_simplified("フフホト市")
    (True, False, False, False)
    """
    return is_han(text) and all(_in_gb2312(c) or (_converter("t2s").convert(c) == c and not _japanese_only(c))
                                for c in text)


@cache
def _japanese_only(char: str) -> bool:
    """A Japanese shinjitai kanji that Chinese does not write (駅 for 驿, 県 for 县, 沢 for 泽, 広 for 广):
    OpenCC's jp2t maps it to a traditional form whose simplified form is another character, and GB 2312
    (the core simplified repertoire) does not have it — so 学 (jp2t 學, simplified 学) and 芸 (jp2t 藝, but
    a Chinese character of its own, in GB 2312) are not."""
    traditional = _converter("jp2t").convert(char)
    return not (traditional == char or _converter("t2s").convert(traditional) == char or _in_gb2312(char))


def simplified_form(text: str) -> str | None:
    """The simplified-character form of a Han name (traditional converted by OpenCC's t2s, a character of
    GB 2312 kept as it is: t2s would make 乾佑 干佑), or None when it is no Chinese form: it has other
    characters than Han (kana, hangul, letters) or a Japanese-only kanji.

    >>> simplified_form("赣州市"), simplified_form("貢州"), simplified_form("長沙市"), simplified_form("乾佑")
    ('赣州市', '贡州', '长沙市', '乾佑')
    >>> simplified_form("カン州市"), simplified_form("広州市"), simplified_form("沢村"), simplified_form("간저우")
    (None, None, None, None)
    """
    text = text.strip()
    if not is_han(text) or any(_japanese_only(c) for c in text):
        return None
    converted = _converter("t2s").convert(text)
    if len(converted) != len(text):
        return converted
    return "".join(old if _in_gb2312(old) else new for old, new in zip(text, converted, strict=True))
