"""One store per request, opened from the app's ``QUHUA_DB`` and closed when the request ends."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g

from boundaries.store import Store, open_store

__all__ = ["db_signature", "get_store", "init_app"]


def get_store() -> Store:
    """The request's store (opened on first use)."""
    if "store" not in g:
        g.store = open_store(current_app.config["QUHUA_DB"])
    return g.store


def db_signature(url: str) -> tuple:
    """Changes whenever the database changes: a cache key for figures derived from it.

    The file's time and size, and its write-ahead log's when that holds anything (SQLite creates an empty
    one when a connection opens and removes it when the last one closes: neither is a change).
    """
    parts = []
    for path in (Path(url), Path(f"{url}-wal")):
        stat = path.stat() if path.exists() else None
        parts.append((stat.st_mtime_ns, stat.st_size) if stat and stat.st_size else None)
    return (url, *parts)


def init_app(app: Flask) -> None:
    """Close the request's store at teardown."""

    @app.teardown_appcontext
    def _close(_exc=None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()
