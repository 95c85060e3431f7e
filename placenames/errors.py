"""The gazetteer's exception family: one base, derived from the core's :class:`QuhuaError`."""

from __future__ import annotations

from boundaries.errors import QuhuaError

__all__ = ["ImportRowsError", "PlacenamesError", "UnknownNameError"]


class PlacenamesError(QuhuaError):
    """A gazetteer error the user can act on (exit 2 unless said otherwise)."""

    rule = "name.input"


class ImportRowsError(PlacenamesError):
    """Rows of an import file are invalid; nothing was stored (exit 1). ``problems`` are (line, message)."""

    exit_code = 1
    rule = "name.import"

    def __init__(self, file: str, problems: list[tuple[int, str]]):
        shown = "; ".join(f"line {line}: {msg}" for line, msg in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{file}: {len(problems)} bad row(s), nothing stored — {shown}{more}", file=file)
        self.problems = problems


class UnknownNameError(PlacenamesError):
    """No name with that id."""

    rule = "name.unknown"
