"""The one place the viewer calls the gazetteer (``placenames``), through its public functions only.

Expected API (SPEC §8, the ``quhua names search/show`` commands as functions):
``placenames.search(store, query, *, near=None, within=None, cls=None, limit=10) -> list[dict]`` — name
records (``id``, ``name``, ``pinyin``, ``class``, ``code``, ``lon``, ``lat``, ``aliases``, ``status``, …,
``score``), best first; ``placenames.show(store, name_id) -> dict | None`` — one record with its
``aliases`` and ``history``.
"""

from __future__ import annotations

from boundaries.store import Store
from webmap.errors import NotFound, WebError

__all__ = ["GazetteerUnavailable", "search_names", "show_name"]


class GazetteerUnavailable(WebError):
    """The gazetteer package (or its search) is not installed here (503)."""

    status = 503


def _function(name: str):
    try:
        import placenames
    except ImportError as err:
        raise GazetteerUnavailable("地名库尚未安装", "the gazetteer (placenames) is not installed") from err
    function = getattr(placenames, name, None)
    if function is None:
        raise GazetteerUnavailable("地名库尚未提供检索功能", f"the gazetteer does not offer {name}() yet")
    return function


def search_names(store: Store, query: str, *, limit: int = 20, within: str | None = None) -> list[dict]:
    """The gazetteer's search, best first (an empty query finds nothing)."""
    if not query.strip():
        return []
    return list(_function("search")(store, query.strip(), within=within, limit=limit))


def show_name(store: Store, name_id: str) -> dict:
    """One name with aliases and history; 404 when unknown."""
    record = _function("show")(store, name_id)
    if not record:
        raise NotFound(f"没有编号为 {name_id} 的地名", f"no name with id {name_id}")
    return record
