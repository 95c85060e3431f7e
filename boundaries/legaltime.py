"""Legal time (DOMAIN.md, "Legal time differs from database time"): the dates on which a line or marker
version holds in law — from the agreement (协议书) or the confirmed inspection round — as opposed to the
database time at which quhua recorded it.

``lines``/``markers`` keep both: ``valid_from``/``valid_to`` are legal time (a date, stored as midnight UTC
of that day so that both databases compare it as the same instant), ``recorded_at``/``retired_at`` the
database time (the ingest, and the write that superseded the row). A version holds on day D when
``valid_from <= D < valid_to`` (``valid_to`` empty: still in force).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from boundaries.errors import InputError

__all__ = ["legal_date", "legal_instant", "today_instant"]


def legal_date(text: str | date, *, what: str = "date") -> date:
    """An ISO date (``2019-06-30``; an ISO date-time keeps its UTC day), or :class:`InputError` (exit 2)
    naming the value and the form expected, in both languages."""
    if isinstance(text, datetime):
        return text.astimezone(UTC).date() if text.tzinfo else text.date()
    if isinstance(text, date):
        return text
    value = str(text).strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC).date() if parsed.tzinfo else parsed.date()
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2019-06-30",
                         message_zh=f"{what} {value!r} 不是日期：请写成 YYYY-MM-DD，例如 2019-06-30") from None


def legal_instant(text: str | date, *, what: str = "date") -> str:
    """The stored form of a legal date: midnight UTC of that day, as the DATETIME columns hold it."""
    return legal_date(text, what=what).isoformat() + "T00:00:00.000Z"


def today_instant() -> str:
    """Today (UTC) as a legal date: what a version gets when its submission gives no date."""
    return legal_instant(datetime.now(UTC).date())
