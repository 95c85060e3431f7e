"""The gazetteer's exception family: one base, derived from the core's :class:`QuhuaError`."""

from __future__ import annotations

from boundaries.errors import QuhuaError

__all__ = ["DivisionDateError", "ImportRowsError", "PlacenamesError", "RowProblem", "UnknownNameError"]


class PlacenamesError(QuhuaError):
    """A gazetteer error the user can act on (exit 2 unless said otherwise)."""

    rule = "name.input"


class RowProblem(ValueError):
    """What is wrong with one row of an import file, in English (``str``) and Chinese (``zh``)."""

    def __init__(self, message: str, zh: str):
        super().__init__(message)
        self.zh = zh


class ImportRowsError(PlacenamesError):
    """Rows of an import file are invalid; nothing was stored (exit 1).

    ``problems`` are (line, message) in English, ``problems_zh`` the same in Chinese."""

    exit_code = 1
    rule = "name.import"

    def __init__(self, file: str, problems: list[tuple[int, str, str]]):
        more = len(problems) - 10
        english = "".join(f"\n  line {line}: {msg}" for line, msg, _ in problems[:10])
        chinese = "".join(f"\n  第 {line} 行：{zh}" for line, _, zh in problems[:10])
        super().__init__(f"{file}: {len(problems)} bad row(s), nothing stored; fix them and import again:{english}"
                         + (f"\n  (and {more} more)" if more > 0 else ""), file=file,
                         message_zh=f"{file}：{len(problems)} 行有误，未入库；改正后重新导入：{chinese}"
                         + (f"\n  （另有 {more} 行）" if more > 0 else ""))
        self.problems = [(line, msg) for line, msg, _ in problems]
        self.problems_zh = [(line, zh) for line, _, zh in problems]


class UnknownNameError(PlacenamesError):
    """No name with that id."""

    rule = "name.unknown"


class DivisionDateError(PlacenamesError):
    """A division import whose changes would end records before they began; nothing was stored (exit 1)."""

    exit_code = 1
    rule = "division.date"
