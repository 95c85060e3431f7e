"""Searching the gazetteer: Chinese from one character up, pinyin in any spelling, initials, small typos.

Scores: an exact standard name 100, an exact alias or proper part (北京 for 北京市) 95, exact pinyin 90,
exact initials 75, a name starting with the query 70, pinyin starting with it 65, a name containing it 50,
a close pinyin spelling up to 45 (typos, rapidfuzz ratio ≥ 75), a name that sounds like a Chinese query of
two characters or more 45 (长纱 for 长沙: the same pinyin, tones aside, with any reading of a polyphonic
character; looked up when the characters themselves match fewer names than asked for). Prominence is
added (the capital over a province over a city over a county over a district over a village: +11 … +1,
and below one point more for the population where the source gives it:
:func:`~placenames.model.prominence`), and with ``near`` up to 30 points are taken for distance (1 per
10 km), so that nearer wins among equals. Results come best first.

The filters (``within``, ``klass``, ``at``) are conditions of the store's key look-ups, and ``near`` makes
them return the nearest matches first: a filtered search finds the right names however many names
elsewhere match the query (a one-character query such as 村 matches a tenth of a national gazetteer).
"""

from __future__ import annotations

import math
from datetime import date

from placenames.model import EARTH_KM, KM_PER_POINT, NEAR_POINTS, prominence
from placenames.romanize import has_chinese, homophone_keys, pinyin_key
from placenames.store import NameStore, SearchFilter

__all__ = ["search"]

_CANDIDATES = 2000
_EXACT = {"name": 100, "alias": 95, "proper": 95, "pinyin": 90, "initials": 75}
_HOMOPHONE = 45


def _chinese_scores(store: NameStore, query: str, where: SearchFilter, wanted: int) -> dict[int, float]:
    """Exact, starting and containing matches; names that sound the same when fewer than ``wanted``."""
    scores: dict[int, float] = {}
    for name_id, _key, kind in store.candidates(query, ("name", "alias", "proper"), "exact", _CANDIDATES, where):
        scores[name_id] = max(scores.get(name_id, 0), _EXACT[kind])
    for name_id, key, _kind in store.candidates(query, ("name", "alias", "proper"), "prefix", _CANDIDATES, where):
        scores.setdefault(name_id, 70 - min(10, len(key) - len(query)))
    candidates = store.gram_candidates(query[:2], _CANDIDATES, where)
    if len(query) > 2:  # the grams find names containing the first two characters; keep those with all
        candidates = store.containing(candidates, query)
    for name_id in candidates:
        scores.setdefault(name_id, 50)
    if len(scores) < wanted and len(query) >= 2:
        for key in homophone_keys(query):
            for name_id, _key, _kind in store.candidates(key, ("pinyin",), "exact", _CANDIDATES, where):
                scores.setdefault(name_id, _HOMOPHONE)
    return scores


def _pinyin_scores(store: NameStore, query: str, where: SearchFilter) -> dict[int, float]:
    key = pinyin_key(query)
    scores: dict[int, float] = {}
    if not key:
        return scores
    for name_id, _key, kind in store.candidates(key, ("pinyin", "initials"), "exact", _CANDIDATES, where):
        scores[name_id] = max(scores.get(name_id, 0), _EXACT[kind])
    for name_id, found, kind in store.candidates(key, ("pinyin", "initials"), "prefix", _CANDIDATES, where):
        scores.setdefault(name_id, (65 if kind == "pinyin" else 55) - min(10, len(found) - len(key)))
    if not scores and len(key) >= 4:  # nothing spelled so: look for a close spelling
        scores = _typo_scores(store, key, where)
    return scores


def _typo_scores(store: NameStore, key: str, where: SearchFilter) -> dict[int, float]:
    """Names whose pinyin is a close spelling (rapidfuzz ratio ≥ 75) among those sharing the first letters."""
    from rapidfuzz import fuzz, process

    found = store.candidates(key[:3] if len(key) >= 6 else key[:2], ("pinyin",), "prefix", _CANDIDATES * 2, where)
    matches = process.extract(key, [f for _, f, _ in found], scorer=fuzz.ratio, score_cutoff=75, limit=200)
    scores: dict[int, float] = {}
    for _text, ratio, index in matches:
        name_id = found[index][0]
        scores[name_id] = max(scores.get(name_id, 0), 45 * ratio / 100)
    return scores


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return EARTH_KM * 2 * math.asin(math.sqrt(a))


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
    where = SearchFilter(within=within or None, klass=klass or None, at=at or None,
                         near=tuple(near) if near is not None else None, near_count=max(20, 2 * limit))
    scores = (_chinese_scores(store, query, where, limit) if has_chinese(query)
              else _pinyin_scores(store, query, where))
    # rank from the names' points and prominence; read whole records only for the results. Without `near`
    # the best-matching candidates suffice (prominence adds less than 12); with it every candidate counts.
    # With `near` the store may rank them itself and return the best (PostGIS, in SQL: best_near).
    if near is None:
        best = sorted(scores, key=lambda i: -scores[i])[:max(500, 50 * limit)]
    else:
        best = store.best_near(scores, near, limit) if len(scores) > limit else list(scores)
    ranked = []
    for name_id, lon, lat, rank, population in store.points(list(best)):
        score = scores[name_id] + prominence(rank, population)
        if near is not None:
            score -= min(float(NEAR_POINTS), _km(near[0], near[1], lon, lat) / KM_PER_POINT)
        ranked.append((-score, name_id))
    ranked.sort()
    top = ranked[:limit]
    records = {r.id: r for r in store.get([name_id for _, name_id in top])}
    return [{**records[name_id].to_json(), "score": round(-score, 2)} for score, name_id in top]
