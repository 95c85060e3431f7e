"""quhua's gazetteer (地名): standard names with romanisation, class, division, history; search and rules.

Public API (the viewer calls these):

- :func:`placenames.search` — ``search(db, query, near=, within=, klass=, at=, limit=)`` → list of dicts
  (with ``at``: each with ``county_at``, the county in force then).
- :func:`placenames.show` — ``show(db, id, at=None)`` → a name's dict with its ``extent`` (GeoJSON geometry or
  null) and its ``history`` (with ``at``: the record in force then).
- :mod:`placenames.history` — divisions with dated history: ``import_division_file``, ``division_history``,
  ``abolished_codes``.
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
    :func:`placenames.lookup.search`). An empty gazetteer finds nothing. With ``at``, each result also
    has ``county_at``: the county-level division in force on that date whose polygon holds its point
    (``{"code", "name"}``, or null)."""
    from placenames.lookup import search as _search

    with _store(db) as store:
        if not store.has_names():
            return []
        results = _search(store, query, **options)
        if options.get("at"):
            _county_at(store, results, str(options["at"]))
        return results


def _county_at(store, records: list[dict], at: str) -> None:
    found = store.division_at_points([(r["lon"], r["lat"]) for r in records], at)
    for record, county in zip(records, found, strict=True):
        record["county_at"] = None if county is None else {"code": county[0], "name": county[1]}


def show(db, name_id: int | str, at: str | None = None) -> dict | None:
    """One name with its aliases, its extent and its history (the names it replaced and that replaced it);
    None if unknown. With ``at`` (``YYYY-MM-DD``): the record of its history in force on that date instead
    (``in_force`` false if none was: the name asked for is then given), with ``county_at`` as in
    :func:`search`."""
    with _store(db) as store:
        if not str(name_id).isdigit() or not store.has_names():
            return None
        found = store.get([int(name_id)], extents=True)
        if not found:
            return None
        history = store.history(int(name_id))
        record = found[0]
        out = {}
        if at:
            then = [r for r in history if (r.valid_from or "") <= at and (r.valid_to is None or r.valid_to > at)]
            if then:
                record = store.get([then[-1].id], extents=True)[0]
            out = {"at": at, "in_force": bool(then)}
        out = {**record.to_json(extent=True), **out, "history": [r.to_json() for r in history]}
        if at:
            _county_at(store, [out], at)
        return out
