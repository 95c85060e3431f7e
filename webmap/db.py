"""One store per request, opened from the app's ``QUHUA_DB`` and closed when the request ends.

A request that only reads (GET, HEAD) reads one snapshot of the database: a read-only ``REPEATABLE READ``
transaction on PostgreSQL, a read transaction on the GeoPackage (SQLite in WAL mode). So a page or an API
response built from several queries shows the database as it was at one moment — a submission stored by
another process meanwhile is seen whole or not at all, never some of its layers — and writers are not held
up by it.
"""

from __future__ import annotations

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
            store.begin_snapshot()  # the dialect's: REPEATABLE READ, READ ONLY / a deferred SQLite BEGIN
    return g.store


def db_signature(store: Store) -> tuple:
    """Changes whenever the stored submissions or the gazetteer's divisions change: a cache key for figures
    derived from them.

    The number of submissions, the largest id and the latest time (ids are drawn before the commit, so the
    count catches an ingest that commits after a later one), and a summary of the divisions: on PostGIS
    their count and newest row version (``xmin``), on the GeoPackage their count, largest id and total
    geometry size. Read with the database's own queries in the request's snapshot (the first read of a
    GeoPackage request starts it), so the key names exactly the state the figures are computed from —
    a file's time, read outside the snapshot, could name a later state than the figures show.
    """
    if not store.exists():
        return (store.url, None)
    row = tuple(store.fetch("SELECT count(*), max(fid), max(created_at) FROM submissions")[0])
    if is_postgres(store):
        summary = "SELECT count(*), max(xmin::text::bigint) FROM divisions"
    else:
        summary = "SELECT count(*), max(fid), total(length(geom)) FROM divisions"
    divisions = tuple(store.fetch(summary)[0]) if store.has_table("divisions") else None
    return (store.url, *row, divisions)


def init_app(app: Flask) -> None:
    """Close the request's store at teardown (ending its read transaction)."""

    @app.teardown_appcontext
    def _close(_exc=None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()
