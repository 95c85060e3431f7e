"""Searching the gazetteer: Chinese from one character up, pinyin in any spelling, initials, small typos.

Scores: an exact standard name 100, an exact alias or proper part (北京 for 北京市) 95, exact pinyin 90,
exact initials 75, a name starting with the query 70, pinyin starting with it 65, a name containing it 50,
a close pinyin spelling up to 45 (typos, rapidfuzz ratio ≥ 75). Prominence is added (a province over a
city over a village: +10 … +1), and with ``near`` up to 30 points are taken for distance (1 per 10 km), so
that nearer wins among equals. Results come best first.
"""

from __future__ import annotations

import math
from datetime import date

from placenames.model import NameRecord, importance
from placenames.romanize import has_chinese, pinyin_key
from placenames.store import NameStore

__all__ = ["search"]

_CANDIDATES = 2000
_EXACT = {"name": 100, "alias": 95, "proper": 95, "pinyin": 90, "initials": 75}


def _chinese_scores(store: NameStore, query: str, filtered: bool = False) -> dict[int, float]:
    """Exact, starting and containing matches; with filters (``within``, ``near`` …) more of the last, since
    the filters are applied to the candidates afterwards."""
    scores: dict[int, float] = {}
    for name_id, _key, kind in store.candidates(query, ("name", "alias", "proper"), "exact", _CANDIDATES):
        scores[name_id] = max(scores.get(name_id, 0), _EXACT[kind])
    for name_id, key, _kind in store.candidates(query, ("name", "alias", "proper"), "prefix", _CANDIDATES):
        scores.setdefault(name_id, 70 - min(10, len(key) - len(query)))
    gram = query[:2]
    candidates = store.gram_candidates(gram, _CANDIDATES * (5 if filtered else 1))
    if len(query) > 2:  # the grams find names containing the first two characters; keep those with all
        candidates = [r.id for r in store.get(candidates) if query in r.name or any(query in a for a in r.aliases)]
    for name_id in candidates:
        scores.setdefault(name_id, 50)
    return scores


def _pinyin_scores(store: NameStore, query: str) -> dict[int, float]:
    key = pinyin_key(query)
    scores: dict[int, float] = {}
    if not key:
        return scores
    for name_id, _key, kind in store.candidates(key, ("pinyin", "initials"), "exact", _CANDIDATES):
        scores[name_id] = max(scores.get(name_id, 0), _EXACT[kind])
    for name_id, found, kind in store.candidates(key, ("pinyin", "initials"), "prefix", _CANDIDATES):
        scores.setdefault(name_id, (65 if kind == "pinyin" else 55) - min(10, len(found) - len(key)))
    if not scores and len(key) >= 4:  # nothing spelled so: look for a close spelling
        scores = _typo_scores(store, key)
    return scores


def _typo_scores(store: NameStore, key: str) -> dict[int, float]:
    """Names whose pinyin is a close spelling (rapidfuzz ratio ≥ 75) among those sharing the first letters."""
    from rapidfuzz import fuzz, process

    found = store.candidates(key[:3] if len(key) >= 6 else key[:2], ("pinyin",), "prefix", _CANDIDATES * 2)
    matches = process.extract(key, [f for _, f, _ in found], scorer=fuzz.ratio, score_cutoff=75, limit=200)
    scores: dict[int, float] = {}
    for _text, ratio, index in matches:
        name_id = found[index][0]
        scores[name_id] = max(scores.get(name_id, 0), 45 * ratio / 100)
    return scores


def _valid(record: NameRecord, at: str | None) -> bool:
    if at is None:
        return record.status == "current"
    return (record.valid_from or "0000") <= at and (record.valid_to is None or record.valid_to > at)


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def search(store: NameStore, query: str, *, near: tuple[float, float] | None = None, within: str | None = None,
           klass: str | None = None, at: str | date | None = None, limit: int = 10) -> list[dict]:
    """Names matching ``query``, best first, as SPEC §8 objects with a ``score``.

    ``within`` keeps names whose division code lies in that division (``360000`` → codes starting 36);
    ``at`` (``YYYY-MM-DD``) searches the names valid on that date instead of the current ones.
    """
    query = query.strip()
    if not query:
        return []
    at = at.isoformat() if isinstance(at, date) else at
    filtered = bool(near or within or klass or at)
    scores = _chinese_scores(store, query, filtered) if has_chinese(query) else _pinyin_scores(store, query)
    prefix = within.rstrip("0") if within else None
    if prefix and len(prefix) % 2:
        prefix += "0"
    # fetch only the best-scored candidates: a common syllable or character matches thousands of names
    cap = 5000 if filtered else max(200, 20 * limit)
    best = sorted(scores, key=lambda i: -scores[i])[:cap]
    results = []
    for record in store.get(best):
        if not _valid(record, at) or (klass and record.klass != klass):
            continue
        if prefix and not (record.code or "").startswith(prefix):
            continue
        score = scores[record.id] + importance(record.klass, record.code)
        if near is not None:
            score -= min(30.0, _km(near[0], near[1], record.lon, record.lat) / 10)
        results.append((score, record))
    results.sort(key=lambda item: (-item[0], item[1].id))
    return [{**record.to_json(), "score": round(score, 2)} for score, record in results[:limit]]
