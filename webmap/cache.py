"""A tiny cache of figures derived from the database, invalidated when the database changes
(:func:`webmap.db.db_signature`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from boundaries.store import Store
from webmap.db import db_signature

__all__ = ["cached", "per_row"]

_LOCK = threading.Lock()
_ENTRIES: OrderedDict[tuple, Any] = OrderedDict()
_MAX = 256
_COMPUTING: dict[tuple, threading.Lock] = {}


def cached(name: str, store: Store, compute: Callable[[], Any], *key: object) -> Any:
    """``compute()`` once per (name, key, state of the store's database).

    Requests that ask for the same entry while it is being computed wait for that one computation instead of
    each running their own (after an ingest, every reader of the overview would otherwise rebuild it at once
    and hold all the server's threads)."""
    full = (name, key, db_signature(store))
    with _LOCK:
        if full in _ENTRIES:
            _ENTRIES.move_to_end(full)
            return _ENTRIES[full]
        computing = _COMPUTING.setdefault(full, threading.Lock())
    with computing:
        with _LOCK:
            if full in _ENTRIES:
                return _ENTRIES[full]
        try:
            value = compute()
            with _LOCK:
                _ENTRIES[full] = value
                while len(_ENTRIES) > _MAX:
                    _ENTRIES.popitem(last=False)
        finally:
            with _LOCK:
                _COMPUTING.pop(full, None)
    return value


#: (what, row fid, vertex count, coordinate sums, bounds) → a value derived from a stored row's geometry
_ROWS: dict[tuple, Any] = {}
_ROWS_KEPT = 1_000_000


def _row_keys(name: str, frame) -> tuple[np.ndarray, list[tuple]]:
    geometry = np.asarray(frame.geometry.values, dtype=object)
    counts = shapely.get_num_coordinates(geometry)
    coordinates = shapely.get_coordinates(geometry)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    sums = (np.add.reduceat(coordinates, starts, axis=0) if len(coordinates) else np.zeros((len(counts), 2)))
    sums[counts == 0] = 0.0  # reduceat gives an empty row its next row's first value
    rows = zip(frame["fid"], counts, sums.tolist(), shapely.bounds(geometry).tolist(), strict=True)
    return geometry, [(name, int(fid), int(n), *total, *box) for fid, n, total, box in rows]


def per_row(name: str, frame, compute: Callable[[np.ndarray], np.ndarray]) -> list:
    """``compute(geometries)`` for each row of ``frame`` (stored features, with their ``fid``), remembered per
    row: a stored feature's geometry never changes (a new version is a new row), so figures recomputed
    after every ingest anywhere (lengths, the overview's simplified lines) compute only the rows they have
    not seen. The key holds the row's vertex count, coordinate sums and bounds besides its fid, so that
    another database's row of the same fid never takes its value."""
    geometry, keys = _row_keys(name, frame)
    with _LOCK:
        if len(_ROWS) > _ROWS_KEPT:
            _ROWS.clear()
        new = [i for i, key in enumerate(keys) if key not in _ROWS]
    if new:
        values = compute(geometry[new])
        with _LOCK:
            _ROWS.update((keys[i], value) for i, value in zip(new, values, strict=True))
    with _LOCK:
        return [_ROWS[key] for key in keys]
