"""Legal dates (issue 15): what --at / --valid-from accept, and the bilingual error on a bad value."""

from __future__ import annotations

from datetime import date

import pytest

from boundaries.errors import InputError
from boundaries.legaltime import legal_date, legal_instant


def test_an_iso_date_and_a_datetime_give_their_utc_day():
    assert legal_date("2019-06-30") == date(2019, 6, 30)
    assert legal_date("2019-06-30T23:30:00-02:00") == date(2019, 7, 1)
    assert legal_instant("2019-06-30") == "2019-06-30T00:00:00.000Z"


def test_a_bad_date_names_the_value_and_the_form_in_both_languages():
    with pytest.raises(InputError) as caught:
        legal_date("2019-02-30", what="--at")
    assert "'2019-02-30'" in str(caught.value) and "YYYY-MM-DD" in str(caught.value)
    assert "不是日期" in caught.value.message_zh
