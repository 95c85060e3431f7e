"""A tiny cache of figures derived from the database, invalidated when the database file changes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from webmap.db import db_signature

__all__ = ["cached"]

_LOCK = threading.Lock()
_ENTRIES: OrderedDict[tuple, Any] = OrderedDict()
_MAX = 32


def cached(name: str, url: str, compute: Callable[[], Any], *key: object) -> Any:
    """``compute()`` once per (name, key, state of the database at ``url``)."""
    full = (name, key, db_signature(url))
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
