"""quhua's gazetteer (地名): standard names with romanisation, class, division, history; search and rules.

Public API (the viewer calls these):

- :func:`placenames.search` — ``search(db, query, near=, within=, klass=, at=, limit=)`` → list of dicts.
- :func:`placenames.show` — ``show(db, id)`` → a name's dict with its ``history``.
- :func:`placenames.importers.import_names`, :func:`placenames.importers.import_divisions`.
- :func:`placenames.rules.check_names` — the naming rules, reported like SPEC §6.
"""

from __future__ import annotations

__all__ = ["search", "show"]


def search(db: str, query: str, **options) -> list[dict]:
    """Search the gazetteer of database ``db`` (see :func:`placenames.lookup.search`)."""
    from placenames.lookup import search as _search
    from placenames.store import open_name_store

    return _search(open_name_store(db), query, **options)


def show(db: str, name_id: int) -> dict:
    """One name with its aliases and its history (the names it replaced and that replaced it)."""
    from placenames.errors import UnknownNameError
    from placenames.store import open_name_store

    store = open_name_store(db)
    found = store.get([int(name_id)])
    if not found:
        raise UnknownNameError(f"no place name with id {name_id}; find ids with `quhua names search`")
    return {**found[0].to_json(), "history": [r.to_json() for r in store.history(int(name_id))]}
