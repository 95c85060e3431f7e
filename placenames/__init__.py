"""quhua's gazetteer (地名): standard names with romanisation, class, division, history; search and rules.

Public API (the viewer calls these):

- :func:`placenames.search` — ``search(db, query, near=, within=, klass=, at=, limit=)`` → list of dicts.
- :func:`placenames.show` — ``show(db, id)`` → a name's dict with its ``extent`` (GeoJSON geometry or null)
  and its ``history``.
- :func:`placenames.importers.import_names`, :func:`placenames.importers.import_divisions`.
- :func:`placenames.rules.check_names` — the naming rules, reported like SPEC §6.
"""

from __future__ import annotations

__all__ = ["search", "show"]


def _store(db):
    from placenames.store import open_name_store

    return open_name_store(db)  # a database URL/path, or a boundaries Store (whose connection it shares)


def search(db, query: str, **options) -> list[dict]:
    """Search the gazetteer of database ``db`` (a URL/path or a ``boundaries`` Store; options as
    :func:`placenames.lookup.search`). An empty gazetteer finds nothing."""
    from placenames.lookup import search as _search

    with _store(db) as store:
        return _search(store, query, **options) if store.has_names() else []


def show(db, name_id: int | str) -> dict | None:
    """One name with its aliases, its extent and its history (the names it replaced and that replaced it);
    None if unknown."""
    with _store(db) as store:
        if not str(name_id).isdigit() or not store.has_names():
            return None
        found = store.get([int(name_id)], extents=True)
        if not found:
            return None
        return {**found[0].to_json(extent=True), "history": [r.to_json() for r in store.history(int(name_id))]}
