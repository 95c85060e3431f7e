"""The gazetteer's layers for ``quhua export`` and the OGC API (entry-point group ``quhua.layers``).

Each entry is a layer provider: called as ``layer(store, province=, bbox=, history=)`` it reads the whole
(filtered) layer, as ``quhua export`` wants; ``layer.query(store, offset=, limit=, …)`` answers one page
with the count, and ``layer.get(store, id)`` one feature, both pushed down to the database as
:meth:`boundaries.store.Store.query` and :meth:`~boundaries.store.Store.get` are (see
:meth:`placenames.store.SqlNameStore.query_names`).
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from boundaries.store import Page
from placenames.store import open_name_store

__all__ = ["NamesLayer", "divisions_layer", "extents_layer", "names_layer"]


class NamesLayer:
    """``names`` (points) or ``name_extents`` (the extents' polygons and lines) with the fields of SPEC §8."""

    def __init__(self, extents: bool = False):
        self.extents = extents

    def query(self, store, **query) -> Page:
        """A page: the arguments of :meth:`boundaries.store.Store.query` (``properties`` by SPEC §8 field,
        ``id`` for the fid)."""
        with open_name_store(store) as names_store:
            if self.extents:
                query.pop("sortby", None)
                return names_store.query_extents(**query)
            return names_store.query_names(**query)

    def temporal_extent(self, store) -> tuple[str | None, str | None, bool]:
        """The names' legal time as the OGC ``extent.temporal`` wants it: the earliest ``valid_from``, the
        latest ``valid_to`` (RFC 3339 instants, midnight UTC of the day) and whether names are still in force
        (an open end); of the names with an extent for ``name_extents``."""
        with open_name_store(store) as names_store:
            if not names_store.has_names():
                return None, None, False
            return names_store.names_time(extents=self.extents)

    def get(self, store, identifier, *, province=None, history=False, at=None) -> gpd.GeoDataFrame:
        """One feature by id (a frame of one row, or none)."""
        if not str(identifier).isdigit():
            return self.query(store, limit=0, count=False).features
        filters = {"properties": {"id": int(identifier)}, "province": province, "history": history, "at": at}
        return self.query(store, count=False, **filters).features

    def __call__(self, store, *, province=None, bbox=None, history=False, at=None) -> gpd.GeoDataFrame:
        """The whole layer (current names unless ``history``; those valid on ``at`` with it) within
        ``province`` and ``bbox``."""
        return self.query(store, province=province, bbox=bbox, history=history, count=False, at=at).features


names_layer = NamesLayer()
extents_layer = NamesLayer(extents=True)


def divisions_layer(store, *, province=None, bbox=None, history=False, at=None) -> gpd.GeoDataFrame:
    """Division polygons with code, name, level, parent and their dated history (the current records; every
    record with ``history``; with ``at``, a day ``YYYY-MM-DD`` or an interval ``(start, end)``, those in
    force then)."""
    with open_name_store(store) as names_store:
        frame = names_store.divisions(at=at, history=history)
    if province:
        frame = frame[frame["code"].fillna("").str.startswith(str(province)[:2])]
    if bbox is not None:
        frame = frame[frame.intersects(shapely.box(*bbox))]
    return frame.reset_index(drop=True)
