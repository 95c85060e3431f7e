"""A tiny cache of figures derived from the database, invalidated when the database changes
(:func:`webmap.db.db_signature`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from boundaries.store import Store
from webmap.db import db_signature

__all__ = ["cached"]

_LOCK = threading.Lock()
_ENTRIES: OrderedDict[tuple, Any] = OrderedDict()
_MAX = 32


def cached(name: str, store: Store, compute: Callable[[], Any], *key: object) -> Any:
    """``compute()`` once per (name, key, state of the store's database)."""
    full = (name, key, db_signature(store))
    with _LOCK:
        if full in _ENTRIES:
            _ENTRIES.move_to_end(full)
            return _ENTRIES[full]
    value = compute()
    with _LOCK:
        _ENTRIES[full] = value
        while len(_ENTRIES) > _MAX:
            _ENTRIES.popitem(last=False)
    return value
