"""Planted changes on the real 江西 demo lines for the legal-time and change-report tests (issue 15).

A second survey of 江西's lines as a later agreement would record it: on the 江西—湖南 line (3643) one marker
moved 37.5 m east, two markers gone, one new marker, and a 1.2 km stretch shifted 30 m sideways; the
江西—湖北 line (3642) unchanged. Built in EPSG:4547 (the lines' Gauss-Krüger zone) from the conftest's real
geometry, so the figures a report gives can be checked against what was planted.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

ZONE = 4547
MOVED_ID, MOVED_M = "3643005Q", 37.5
LOST_IDS = ("3643010Q", "3643011Q")
ADDED_ID = "3643999Q"
STRETCH_M, SHIFT_M = 1200.0, 30.0
LINE_ID = "3643"


def _stretch_start(line: shapely.LineString) -> float:
    """Where the shifted stretch starts (metres along the line): the straightest 1.2 km near the middle,
    so that its parallel at 30 m is one simple curve 30 m from the old line."""
    best, start = None, None
    for s in np.arange(0.3, 0.7, 0.02) * line.length:
        piece = shapely.ops.substring(line, s, s + STRETCH_M)
        straightness = piece.length / shapely.distance(shapely.Point(piece.coords[0]), shapely.Point(piece.coords[-1]))
        if best is None or straightness < best:
            best, start = straightness, s
    return float(start)


def shifted_line(line_4490: shapely.Geometry) -> tuple[shapely.Geometry, float]:
    """The line with a 1.2 km stretch replaced by its parallel 30 m to the left; and where it starts."""
    metric = gpd.GeoSeries([line_4490], crs=4490).to_crs(ZONE).iloc[0]
    if metric.geom_type == "MultiLineString":
        metric = max(metric.geoms, key=lambda g: g.length)
    start = _stretch_start(metric)
    before = shapely.ops.substring(metric, 0, start)
    stretch = shapely.segmentize(shapely.ops.substring(metric, start, start + STRETCH_M), 5.0)
    after = shapely.ops.substring(metric, start + STRETCH_M, metric.length)
    moved = shapely.offset_curve(stretch, SHIFT_M)
    assert moved.geom_type == "LineString"
    coords = [*before.coords, *moved.coords, *after.coords]
    new = gpd.GeoSeries([shapely.LineString(coords)], crs=ZONE).to_crs(4490).iloc[0]
    return new, start


def _along(line: shapely.LineString, point: shapely.Point, metres: float) -> shapely.Point:
    """The point of ``line`` farther along than ``point`` and exactly ``metres`` from it (a marker moved along
    its line stays on it; bisection on the distance along)."""
    start = line.project(point)
    lo, hi = start, start + 2 * metres
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if line.interpolate(mid).distance(point) < metres else (lo, mid)
    return line.interpolate((lo + hi) / 2)


def resurvey(lines: gpd.GeoDataFrame, markers: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The later survey: the planted changes on line 3643 (see the module's docstring)."""
    lines = lines.copy()
    i = lines.index[lines["line_id"] == LINE_ID][0]
    new_line, _start = shifted_line(lines.geometry[i])
    lines.loc[i, "geometry"] = new_line
    markers = markers[~markers["marker_id"].isin(LOST_IDS)].copy()
    metric = markers.to_crs(ZONE)
    line_m = gpd.GeoSeries([new_line], crs=4490).to_crs(ZONE).iloc[0]
    j = metric.index[metric["marker_id"] == MOVED_ID][0]
    metric.loc[j, "geometry"] = _along(line_m, metric.geometry[j], MOVED_M)
    markers = metric.to_crs(4490)
    added = gpd.GeoSeries([line_m.interpolate(0.5, normalized=True)], crs=ZONE).to_crs(4490)
    extra = gpd.GeoDataFrame({"marker_id": [ADDED_ID], "marker_type": ["单立"], "line_id": [LINE_ID]},
                             geometry=added.values, crs=4490)
    return lines, gpd.GeoDataFrame(pd.concat([markers, extra], ignore_index=True), crs=4490)
