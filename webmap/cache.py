"""Small caches of what the viewer derives from the database: whole values per state of the database
(:func:`cached`, invalidated when :func:`webmap.db.db_signature` changes) and values per stored row
(:func:`per_row`, which never need invalidating)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from boundaries.store import Store

__all__ = ["cached", "fingerprint", "per_province", "per_row", "remember"]

_LOCK = threading.Lock()
_ENTRIES: OrderedDict[tuple, Any] = OrderedDict()
_MAX = 256
_COMPUTING: dict[tuple, threading.Lock] = {}


def remember(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``key`` (the least recently used of :data:`_MAX` entries dropped first).

    Requests that ask for the same entry while it is being computed wait for that one computation instead of
    each running their own (after an ingest, every reader of the overview would otherwise rebuild it at once
    and hold all the server's threads)."""
    with _LOCK:
        if key in _ENTRIES:
            _ENTRIES.move_to_end(key)
            return _ENTRIES[key]
        computing = _COMPUTING.setdefault(key, threading.Lock())
    with computing:
        with _LOCK:
            if key in _ENTRIES:
                return _ENTRIES[key]
        try:
            value = compute()
            with _LOCK:
                _ENTRIES[key] = value
                while len(_ENTRIES) > _MAX:
                    _ENTRIES.popitem(last=False)
        finally:
            with _LOCK:
                _COMPUTING.pop(key, None)
    return value


def cached(name: str, store: Store, compute: Callable[[], Any], *key: object) -> Any:
    """``compute()`` once per (name, key, state of the store's database) (:func:`remember`)."""
    from webmap.db import db_signature  # imports Flask, which the API's core (webmap.ogc, per_row) does not

    return remember((name, key, db_signature(store)), compute)


def per_province(name: str, store: Store, provinces, compute: Callable[[], Any], *key: object) -> Any:
    """``compute()`` once per (name, key, state of what concerns ``provinces``: each one's
    :meth:`~boundaries.store._sql.SqlStore.province_token`), so that an ingest elsewhere keeps it; per state
    of the whole database (:func:`cached`) in a database whose writes never named their provinces."""
    tokens = tuple(store.province_token(p) for p in sorted(set(provinces)))
    if not tokens or None in tokens:
        return cached(name, store, compute, tuple(sorted(set(provinces))), *key)
    return remember((name, key, store.url, tokens), compute)


def fingerprint(frame, columns: tuple[str, ...] = ()) -> str:
    """A digest of a frame's content: its rows' geometry (vertex count, coordinate sums, bounds) and
    ``columns``, not its fids. What a rendering depends on, so that it is kept while an ingest stores new
    rows of the same content (a province submitting the same boundary again) or elsewhere."""
    digest = hashlib.blake2b(digest_size=16)
    if frame is None:
        return "none"
    digest.update(np.asarray(_geometry_summary(np.asarray(frame.geometry.values, dtype=object)), dtype=float))
    for column in columns:
        digest.update(json.dumps(frame[column].astype(str).tolist(), ensure_ascii=False).encode())
    return digest.hexdigest()


class _RowValues:
    """Values per stored row, least recently used dropped first once their total weight passes ``limit``."""

    def __init__(self, limit: int, weigh: Callable[[Any], int]):
        self.limit, self.weigh, self.total = limit, weigh, 0
        self.values: OrderedDict[tuple, Any] = OrderedDict()

    def known(self, keys: list[tuple]) -> dict[int, Any]:
        """Position → value of the keys already held (under the caller's lock)."""
        found = {}
        for i, key in enumerate(keys):
            if key in self.values:
                self.values.move_to_end(key)
                found[i] = self.values[key]
        return found

    def keep(self, items) -> None:
        for key, value in items:
            if key not in self.values:
                self.values[key] = value
                self.total += self.weigh(value)
        while self.total > self.limit and self.values:
            self.total -= self.weigh(self.values.popitem(last=False)[1])


#: figures (a length, a simplified line): a million rows; texts (a feature's GeoJSON geometry, up to a
#: megabyte for a whole provincial boundary at full resolution): 64 MiB of characters
_FIGURES = _RowValues(1_000_000, lambda _value: 1)
_TEXTS = _RowValues(64 * 2**20, lambda text: len(text) if text else 1)


def _geometry_summary(geometry: np.ndarray) -> list[list[float]]:
    """Per geometry: vertex count, coordinate sums (x, y) and bounds — cheap to compute, and different
    when any vertex moves."""
    counts = shapely.get_num_coordinates(geometry)
    coordinates = shapely.get_coordinates(geometry)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    sums = (np.add.reduceat(coordinates, starts, axis=0) if len(coordinates) else np.zeros((len(counts), 2)))
    sums[counts == 0] = 0.0  # reduceat gives an empty row its next row's first value
    return np.column_stack([counts, sums, shapely.bounds(geometry)]).reshape(len(counts), 7).tolist()


def _row_keys(name: str, frame) -> tuple[np.ndarray, list[tuple]]:
    geometry = np.asarray(frame.geometry.values, dtype=object)
    rows = zip(frame["fid"], _geometry_summary(geometry), strict=True)
    return geometry, [(name, int(fid), int(summary[0]), *summary[1:]) for fid, summary in rows]


def per_row(name: str, frame, compute: Callable[[np.ndarray], Any], *, texts: bool = False) -> list:
    """``compute(geometries)`` for each row of ``frame`` (stored features, with their ``fid``), remembered per
    row: a stored feature's geometry never changes (a new version is a new row), so figures recomputed
    after every ingest anywhere (lengths, the overview's simplified lines) and the API's GeoJSON texts
    compute only the rows they have not seen. The key holds the row's vertex count, coordinate sums and
    bounds besides its fid, so that another database's row of the same fid never takes its value.
    ``texts``: the values are strings, kept within a budget of characters rather than of rows."""
    geometry, keys = _row_keys(name, frame)
    pool = _TEXTS if texts else _FIGURES
    with _LOCK:
        found = pool.known(keys)
    new = [i for i in range(len(keys)) if i not in found]
    if new:
        values = compute(geometry[new])
        found.update(zip(new, values, strict=True))
        with _LOCK:
            pool.keep((keys[i], found[i]) for i in new)
    return [found[i] for i in range(len(keys))]
