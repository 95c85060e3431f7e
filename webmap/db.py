"""One store per request, opened from the app's ``QUHUA_DB`` and closed when the request ends.

A request that only reads (GET, HEAD) reads one snapshot of the database: a read-only ``REPEATABLE READ``
transaction on PostgreSQL, a read transaction on the GeoPackage (SQLite in WAL mode). So a page or an API
response built from several queries shows the database as it was at one moment — a submission stored by
another process meanwhile is seen whole or not at all, never some of its layers — and writers are not held
up by it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app, g, has_request_context, request

from boundaries.store import Store, open_store

__all__ = ["db_signature", "get_store", "init_app", "is_postgres", "safe_url"]


def is_postgres(store: Store) -> bool:
    """Whether the store is the PostGIS server database (else the GeoPackage)."""
    return store.url.startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """The database URL without its password, to be shown or logged."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def get_store() -> Store:
    """The request's store (opened on first use; a read-only request reads one snapshot)."""
    if "store" not in g:
        store = open_store(current_app.config["QUHUA_DB"])
        g.store = store
        if has_request_context() and request.method in ("GET", "HEAD") and store.exists():
            _begin_snapshot(store)
    return g.store


def _begin_snapshot(store: Store) -> None:
    con = store.connection()
    if is_postgres(store):
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        con.execute("BEGIN")  # deferred: the snapshot is taken by the first read, right after


def db_signature(store: Store) -> tuple:
    """Changes whenever the stored submissions change: a cache key for figures derived from them.

    GeoPackage: the file's time and size, and its write-ahead log's when that holds anything (SQLite creates
    an empty one when a connection opens and removes it when the last one closes: neither is a change).
    PostGIS: the number of submissions, the largest id and the latest time (ids are drawn from a sequence
    before the commit, so the count catches an ingest that commits after a later one), and the count and
    newest row version (``xmin``) of the gazetteer's divisions. Read in the request's snapshot, the key
    names exactly the state the figures are computed from.
    """
    if is_postgres(store):
        if not store.exists():
            return (store.url, None)
        con = store.connection()
        row = con.execute("SELECT count(*), max(fid), max(created_at) FROM submissions").fetchone()
        # the overview also draws the gazetteer's division polygons: the newest row version among them
        divisions = (con.execute("SELECT count(*), max(xmin::text::bigint) FROM divisions").fetchone()
                     if con.execute("SELECT to_regclass('divisions') IS NOT NULL").fetchone()[0] else None)
        return (store.url, *row, divisions)
    parts = []
    for path in (Path(store.url), Path(f"{store.url}-wal")):
        stat = path.stat() if path.exists() else None
        parts.append((stat.st_mtime_ns, stat.st_size) if stat and stat.st_size else None)
    return (store.url, *parts)


def init_app(app: Flask) -> None:
    """Close the request's store at teardown (ending its read transaction)."""

    @app.teardown_appcontext
    def _close(_exc=None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()
