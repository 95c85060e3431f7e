"""Legal dates of the gazetteer (``--at``, ``--valid-from``, a division file's 变更日期), read without pandas
or geopandas so that ``quhua names search`` starts light (tests/boundaries/test_cli_help.py)."""

from __future__ import annotations

import datetime
import re

__all__ = ["parse_date"]

_DATE_FORMS = (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
               re.compile(r"^(\d{4})(\d{2})(\d{2})$"), re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"))


def parse_date(value) -> str | None:
    """A date as ``YYYY-MM-DD`` (from that form, ``YYYY/MM/DD``, ``YYYYMMDD``, ``YYYY年M月D日``, or a date
    GDAL read), None for an empty value (None, NaN, NaT, blank); ValueError for anything else, or a day that
    does not exist.

    >>> parse_date("2016年7月1日"), parse_date("20160701"), parse_date(None)
    ('2016-07-01', '2016-07-01', None)
    """
    if value is None or value != value:  # NaN and pandas' NaT are not equal to themselves
        return None
    if isinstance(value, datetime.date):  # pandas' Timestamp is a datetime
        return value.strftime("%Y-%m-%d")
    text = str(value).strip()
    if not text:
        return None
    for form in _DATE_FORMS:
        found = form.match(text)
        if found:
            year, month, day = (int(g) for g in found.groups())
            return datetime.date(year, month, day).isoformat()  # ValueError for 2016-02-30
    raise ValueError(text)
