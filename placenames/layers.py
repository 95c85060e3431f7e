"""The gazetteer's layers for ``quhua export`` (entry-point group ``quhua.layers``)."""

from __future__ import annotations

import geopandas as gpd
import shapely

from placenames.store import open_name_store

__all__ = ["divisions_layer", "extents_layer", "names_layer"]


def _filter(frame: gpd.GeoDataFrame, province, bbox) -> gpd.GeoDataFrame:
    if province:
        frame = frame[frame["code"].fillna("").str.startswith(str(province)[:2])]
    if bbox is not None:
        frame = frame[frame.intersects(shapely.box(*bbox))]
    return frame.reset_index(drop=True)


def names_layer(store, *, province=None, bbox=None, history=False) -> gpd.GeoDataFrame:
    """Names as points with the fields of SPEC §8 (current ones unless ``history``)."""
    with open_name_store(store) as names_store:
        names = names_store.all_names()
    if not history:
        names = names[names.status == "current"]
    names = names.rename(columns={"fid": "id"}).drop(columns=["importance"])
    frame = gpd.GeoDataFrame(names, geometry=gpd.points_from_xy(names.lon, names.lat), crs=4490)
    return _filter(frame, province, bbox)


def extents_layer(store, *, province=None, bbox=None, history=False) -> gpd.GeoDataFrame:
    """The names that have an extent, as their polygons and lines, with the fields of SPEC §8 (current ones
    unless ``history``; ``bbox`` keeps the extents that reach into it)."""
    with open_name_store(store) as names_store:
        extents = names_store.extents().astype({"fid": "int64"})  # an empty one is of floats or objects
        names = names_store.all_names(extents.fid).astype({"fid": "int64"})  # the few with an extent
    if not history:
        names = names[names.status == "current"]
    frame = extents.merge(names.drop(columns=["importance"]), on="fid").rename(columns={"fid": "id"})
    return _filter(frame, province, bbox)


def divisions_layer(store, *, province=None, bbox=None, history=False) -> gpd.GeoDataFrame:
    """Division polygons with code, name, level and parent."""
    with open_name_store(store) as names_store:
        return _filter(names_store.divisions(), province, bbox)
