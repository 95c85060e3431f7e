"""One store per request, from the app's ``QUHUA_DB``; its connection is kept for the thread's next request.

A request that only reads (GET, HEAD) reads one snapshot of the database: a read-only ``REPEATABLE READ``
transaction on PostgreSQL, a read transaction on the GeoPackage (SQLite in WAL mode). So a page or an API
response built from several queries shows the database as it was at one moment — a submission stored by
another process meanwhile is seen whole or not at all, never some of its layers — and writers are not held
up by it.

Each server thread keeps its open connections (:class:`_Pool`) instead of opening one per request and
closing it after: opening a GeoPackage registers its SQL functions and sets WAL mode, and closing the last
connection of a GeoPackage folds the write-ahead log into the file — under load those two were a sixth of
the server's time (py-spy, scripts/load.py); a PostgreSQL connection costs a handshake and a backend. When a
request ends, its transaction is rolled back (reads only) or was committed by the code that wrote; a
connection that fails then, or whose GeoPackage file was replaced, is closed and not reused.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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


class _Stores(OrderedDict):
    """One thread's open stores; closed when the thread ends and drops them (not left to each connection's
    own finaliser, which warns)."""

    def __del__(self) -> None:
        for store in self.values():
            try:
                store.close()
            except Exception:  # a connection already gone has nothing left to close
                pass


class _Pool(threading.local):
    """The open stores of one thread, by database (at most ``KEPT``, the least recently used closed first;
    when the thread ends, its stores are dropped and closed: :class:`_Stores`)."""

    KEPT = 4

    def __init__(self) -> None:
        self.stores: OrderedDict[tuple, Store] = _Stores()

    @staticmethod
    def _key(url: str) -> tuple:
        if url.startswith(("postgresql://", "postgres://")):
            return (url,)
        try:  # the same path may name another file later (deleted and created again): another connection
            stat = os.stat(url)
        except OSError:
            return (url, None)
        return (url, stat.st_dev, stat.st_ino)

    def take(self, url: str) -> tuple[tuple, Store]:
        key = self._key(url)
        store = self.stores.pop(key, None)
        return key, store if store is not None else open_store(url)

    def give_back(self, key: tuple, store: Store) -> None:
        """Keep ``store`` for the thread's next request if its database exists and its connection is sound
        (its transaction rolled back), else close it."""
        try:
            keep = key[-1] is not None and store.end_snapshot()
        except Exception:  # a broken connection (server restarted, file gone): not reused
            keep = False
        if not keep:
            store.close()
            return
        self.stores[key] = store
        while len(self.stores) > self.KEPT:
            self.stores.popitem(last=False)[1].close()


_POOL = _Pool()


def get_store() -> Store:
    """The request's store (opened on first use; a read-only request reads one snapshot)."""
    if "store" not in g:
        key, store = _POOL.take(current_app.config["QUHUA_DB"])
        g.store, g.store_key = store, key
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
    """At teardown, end the request's read transaction and keep its store for the thread's next request."""

    @app.teardown_appcontext
    def _close(_exc=None) -> None:
        store = g.pop("store", None)
        if store is not None:
            _POOL.give_back(g.pop("store_key"), store)
