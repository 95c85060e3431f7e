"""Property: the clean demo network with one random defect planted gives exactly that rule, at that place.

The network is 江西's demo submission (data/demo: lines 3642, 3643, 3644 and 307 markers, EPSG:4526)
checked against its six neighbours' demo submissions as stored (浙江, 安徽, 福建, 湖北, 湖南, 广东). For each
rule, hypothesis plants one defect of that kind at a random place with a random size; the check must
return issues of that rule only, located where the defect was planted. Planting keeps everything else
right (e.g. markers that stood on a stretch cut off a line go with it, moved markers get their declared
X/Y recomputed); where a random draw would plant a second, real defect too, it is rejected with
``assume``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.ops
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from boundaries.config import load_config
from boundaries.crs import metric_epsg, transformer
from boundaries.model import Submission
from boundaries.rules.markers import code_sides
from tests.boundaries.conftest_rules import (
    check,
    demo_stored,
    demo_submission,
    distance_m,
    messages,
    to_lonlat,
    to_metric,
)

NEIGHBOURS = ("330000", "340000", "350000", "420000", "430000", "440000")
DECLARED = 4526  # 江西's demo markers: X/Y in the 3° zone 38 with the zone prefix


@dataclass
class Case:
    """A network to check and the defect planted in it."""

    lines: gpd.GeoDataFrame
    markers: gpd.GeoDataFrame
    stored_lines: gpd.GeoDataFrame
    stored_markers: gpd.GeoDataFrame
    rule: str = ""
    where: tuple[float, float] | None = None
    radius_m: float = 0.01
    #: the submitting province, the zone its markers' X/Y are declared in, and the submission to copy
    province: str = "360000"
    declared: int = DECLARED
    template: Submission | None = None
    #: the feature the planted defect's issue names, where one does
    feature: str | None = None


def base() -> Case:
    sub = demo_submission("360000")
    lines, markers = demo_stored(*NEIGHBOURS)
    return Case(sub.lines.copy(), sub.markers.copy(), lines, markers, template=sub)


def run(case: Case, config=None):
    sub = replace(case.template or demo_submission(case.province), lines=case.lines, markers=case.markers, issues=[])
    return check(sub, case.stored_lines, case.stored_markers, config=config)


def only(rule_id: str):
    """The default configuration with every rule but ``rule_id`` disabled."""
    config = load_config()
    for other in config.rules:
        config.rules[other]["enabled"] = other == rule_id
    return config


def test_clean_demo_network_has_no_issue():
    issues = run(base())
    assert issues == [], messages(issues)


# -- geometry helpers ---------------------------------------------------------------------------------------------
def part_metric(geometry, part: int) -> tuple[np.ndarray, int]:
    piece = shapely.get_parts(geometry)[part]
    coords = shapely.get_coordinates(piece)
    epsg = metric_epsg(float(coords[:, 0].mean()))
    return to_metric(coords, epsg)[0], epsg


def with_part(geometry, part: int, lonlat: np.ndarray):
    parts = list(shapely.get_parts(geometry))
    parts[part] = shapely.LineString(lonlat)
    return parts[0] if len(parts) == 1 and geometry.geom_type == "LineString" else shapely.MultiLineString(parts)


def interior_angles(xy: np.ndarray) -> np.ndarray:
    u, w = xy[:-2] - xy[1:-1], xy[2:] - xy[1:-1]
    cos = (u * w).sum(axis=1) / (np.hypot(*u.T) * np.hypot(*w.T))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def draw_part(data, case: Case, min_length: float = 0.0) -> tuple[int, int]:
    choices = [(i, p) for i, g in enumerate(case.lines.geometry) for p, piece in enumerate(shapely.get_parts(g))
               if part_metric(g, p)[0].shape[0] > 4
               and shapely.length(shapely.LineString(part_metric(g, p)[0])) > min_length]
    return data.draw(st.sampled_from(choices), label="line, part")


def markers_stay_on(case: Case, line_index: int, geometry) -> bool:
    """Whether every 单立 marker of the line stays within 5 m of the changed geometry."""
    line_id = case.lines["line_id"].iloc[line_index]
    mine = case.markers[(case.markers["line_id"] == line_id) & (case.markers["marker_type"] == "单立")]
    epsg = metric_epsg(float(mine.geometry.x.mean()))
    metric = shapely.transform(geometry, lambda xy: to_metric(xy, epsg)[0])
    points = shapely.points(to_metric(np.column_stack([mine.geometry.x, mine.geometry.y]), epsg)[0])
    return bool((shapely.distance(points, metric) <= 4.9).all())


def other_lines(case: Case, skip: int | None = None, versions: bool = True) -> np.ndarray:
    """The lines in view but submitted line ``skip``; ``versions=False``: without the stored versions of
    ``skip``'s boundary (the same two codes), which the rules do not count as other lines (a line's end
    on its neighbour's version of it meets nothing)."""
    own = [g for i, g in enumerate(case.lines.geometry) if i != skip]
    stored = case.stored_lines
    if not versions and skip is not None:
        key = {case.lines["left_code"].iloc[skip], case.lines["right_code"].iloc[skip]}
        stored = stored[[{a, b} != key for a, b in zip(stored["left_code"], stored["right_code"], strict=True)]]
    return np.array([*own, *stored.geometry], dtype=object)


def set_declared(case: Case, k: int, lonlat) -> None:
    """Move marker ``k`` and write its declared X (northing) / Y (easting) in the case's zone, and its
    declared lon/lat where it has them, for the new place."""
    markers = case.markers
    markers.loc[markers.index[k], "geometry"] = shapely.Point(lonlat)
    easting, northing = transformer(4490, case.declared).transform(lonlat[0], lonlat[1])
    markers.loc[markers.index[k], ["x", "y"]] = [round(northing, 3), round(easting, 3)]
    if pd.notna(markers["lon"].iloc[k]) and np.isfinite(float(markers["lon"].iloc[k])):
        markers.loc[markers.index[k], ["lon", "lat"]] = [float(lonlat[0]), float(lonlat[1])]


def draw_marker(data, case: Case) -> int:
    singles = np.flatnonzero((case.markers["marker_type"] == "单立").to_numpy())
    return int(data.draw(st.sampled_from(singles.tolist()), label="marker"))


def marker_lonlat(case: Case, k: int) -> np.ndarray:
    point = case.markers.geometry.iloc[k]
    return np.array([point.x, point.y])


def distance_to(lonlat, geometries) -> float:
    epsg = metric_epsg(float(lonlat[0]))
    point = shapely.points(to_metric(lonlat, epsg)[0])[0]
    metric = shapely.transform(np.asarray(geometries, dtype=object), lambda xy: to_metric(xy, epsg)[0])
    return float(shapely.distance(point, metric).min())


# -- one planter per rule -------------------------------------------------------------------------------------------
def plant_invalid_geometry(data, case: Case) -> Case:
    i = data.draw(st.integers(0, len(case.lines) - 1), label="line")
    start = shapely.get_coordinates(case.lines.geometry.iloc[i])[0]
    case.lines.loc[case.lines.index[i], "geometry"] = shapely.LineString([start, start])
    return replace(case, feature=case.lines["line_id"].iloc[i], rule="line.invalid_geometry", where=tuple(start))


def plant_self_intersection(data, case: Case) -> Case:
    i, p = draw_part(data, case)
    xy, epsg = part_metric(case.lines.geometry.iloc[i], p)
    k = data.draw(st.integers(1, len(xy) - 3), label="vertex")
    size = data.draw(st.floats(5.0, 20.0), label="loop size")
    step = xy[k + 1] - xy[k]
    assume(np.hypot(*step) > 3 * size)
    u = step / np.hypot(*step)
    n = np.array([-u[1], u[0]])
    loop = [xy[k] + size * (u + n), xy[k] + size * u, xy[k] + size * n]  # crosses its own first leg
    new = np.vstack([xy[: k + 1], loop, xy[k + 1:]])
    assume(interior_angles(new).min() >= 15.0)
    geometry = with_part(case.lines.geometry.iloc[i], p, to_lonlat(new, epsg))
    assume(markers_stay_on(case, i, geometry))
    case.lines.loc[case.lines.index[i], "geometry"] = geometry
    return replace(case, feature=case.lines["line_id"].iloc[i],
                   rule="line.self_intersection", where=tuple(to_lonlat(xy[k], epsg)[0]),
                   radius_m=2 * size)


def plant_duplicate_vertex(data, case: Case) -> Case:
    i, p = draw_part(data, case)
    xy, epsg = part_metric(case.lines.geometry.iloc[i], p)
    k = data.draw(st.integers(0, len(xy) - 2), label="vertex")
    gap = data.draw(st.floats(0.001, 0.009), label="gap m")
    step = xy[k + 1] - xy[k]
    new = np.vstack([xy[: k + 1], xy[k] + gap * step / np.hypot(*step), xy[k + 1:]])
    lonlat = shapely.get_coordinates(shapely.get_parts(case.lines.geometry.iloc[i])[p])
    new_lonlat = np.vstack([lonlat[: k + 1], to_lonlat(new[k + 1], epsg), lonlat[k + 1:]])
    case.lines.loc[case.lines.index[i], "geometry"] = with_part(case.lines.geometry.iloc[i], p, new_lonlat)
    return replace(case, feature=case.lines["line_id"].iloc[i],
                   rule="line.duplicate_vertex", where=tuple(lonlat[k]), radius_m=0.02)


def plant_spike(data, case: Case) -> Case:
    i, p = draw_part(data, case)
    xy, epsg = part_metric(case.lines.geometry.iloc[i], p)
    k = data.draw(st.integers(0, len(xy) - 2), label="vertex")
    angle = data.draw(st.floats(2.0, 9.0), label="angle°")
    length = np.hypot(*(xy[k + 1] - xy[k]))
    assume(5.0 < length < 80.0)
    u = (xy[k + 1] - xy[k]) / length
    side = data.draw(st.sampled_from([1.0, -1.0]), label="side")
    tip = (xy[k] + xy[k + 1]) / 2 + side * (length / 2) / np.tan(np.radians(angle / 2)) * np.array([-u[1], u[0]])
    new = np.vstack([xy[: k + 1], tip, xy[k + 1:]])
    assume((interior_angles(new) < 10.0).sum() == 1)
    lonlat = shapely.get_coordinates(shapely.get_parts(case.lines.geometry.iloc[i])[p])
    new_lonlat = np.vstack([lonlat[: k + 1], to_lonlat(tip, epsg), lonlat[k + 1:]])
    geometry = with_part(case.lines.geometry.iloc[i], p, new_lonlat)
    assume(shapely.is_simple(geometry))
    triangle = shapely.LineString(new_lonlat[k: k + 3])
    assume(not shapely.intersects(triangle, other_lines(case, skip=i, versions=False)).any())
    assume(markers_stay_on(case, i, geometry))
    case.lines.loc[case.lines.index[i], "geometry"] = geometry
    return replace(case, feature=case.lines["line_id"].iloc[i], rule="line.spike", where=tuple(to_lonlat(tip, epsg)[0]))


def plant_dangle(data, case: Case) -> Case:
    i, p = draw_part(data, case, min_length=5000.0)
    geometry = case.lines.geometry.iloc[i]
    piece = shapely.get_parts(geometry)[p]
    ends = shapely.get_coordinates(piece)[[0, -1]]
    others = other_lines(case, skip=i, versions=False)
    meets = [bool(shapely.dwithin(shapely.points(e), others, 1e-7).any()) for e in ends]
    assume(any(meets) and not shapely.is_closed(piece))
    end = data.draw(st.sampled_from([e for e, m in zip((0, 1), meets, strict=True) if m]), label="end")
    trim = data.draw(st.floats(2.0, 800.0), label="trim m")
    xy, epsg = part_metric(geometry, p)
    metric = shapely.LineString(xy)
    cut = (shapely.ops.substring(metric, trim, metric.length) if end == 0
           else shapely.ops.substring(metric, 0, metric.length - trim))
    lonlat = to_lonlat(shapely.get_coordinates(cut), epsg)
    new_geometry = with_part(geometry, p, lonlat)
    case.lines.loc[case.lines.index[i], "geometry"] = new_geometry
    # markers that stood on the cut-off stretch go with it (the junction marker among them)
    line_id = case.lines["line_id"].iloc[i]
    gone = [k for k in range(len(case.markers)) if case.markers["line_id"].iloc[k] == line_id
            and case.markers["marker_type"].iloc[k] == "单立"
            and distance_to(marker_lonlat(case, k), [new_geometry]) > 4.0]
    case.markers = case.markers.drop(case.markers.index[gone]).reset_index(drop=True)
    where = lonlat[0] if end == 0 else lonlat[-1]
    return replace(case, feature=case.lines["line_id"].iloc[i], rule="line.dangle", where=tuple(where))


def county(case: Case, geometry):
    """A county-level line of the submitting province (its 01xx counties 02 and 03)."""
    left, right = f"{case.province[:2]}0102", f"{case.province[:2]}0103"
    return {"line_id": left + right, "left_code": left, "right_code": right, "name": "县界",
            "source_file": case.lines["source_file"].iloc[0], "source_row": 99, "geometry": geometry}


def add_line(case: Case, row: dict) -> None:
    extra = gpd.GeoDataFrame([row], geometry="geometry", crs=4490)
    case.lines = gpd.GeoDataFrame(pd.concat([case.lines, extra], ignore_index=True), crs=4490)


def plant_overlap(data, case: Case) -> Case:
    i, p = draw_part(data, case)
    lonlat = shapely.get_coordinates(shapely.get_parts(case.lines.geometry.iloc[i])[p])
    start = data.draw(st.integers(0, len(lonlat) - 4), label="first vertex")
    count = data.draw(st.integers(3, 20), label="vertices")
    piece = lonlat[start: start + count]
    copy = shapely.LineString(piece)
    xy, epsg = to_metric(piece)
    metric = shapely.LineString(xy)
    assume(metric.length > 2.0)
    add_line(case, county(case, copy))
    middle = to_lonlat(shapely.get_coordinates(metric.interpolate(0.5, normalized=True)), epsg)[0]
    return replace(case, rule="line.overlap", where=tuple(middle), radius_m=0.5 * metric.length)


def plant_crossing(data, case: Case) -> Case:
    i, p = draw_part(data, case, min_length=5000.0)
    xy, epsg = part_metric(case.lines.geometry.iloc[i], p)
    metric = shapely.LineString(xy)
    s = data.draw(st.floats(0.05, 0.95), label="fraction") * metric.length
    reach = data.draw(st.floats(1100.0, 3000.0), label="reach m")
    a = shapely.get_coordinates(metric.interpolate(s - 1.0))[0]
    b = shapely.get_coordinates(metric.interpolate(s + 1.0))[0]
    u = (b - a) / np.hypot(*(b - a))
    n = np.array([-u[1], u[0]])
    centre = shapely.get_coordinates(metric.interpolate(s))[0]
    ends = to_lonlat(np.array([centre + reach * n, centre - reach * n]), epsg)
    across = shapely.LineString(ends)
    others = other_lines(case)
    hits = shapely.get_parts(shapely.intersection(across, shapely.union_all(others)))
    assume(len(hits) == 1 and hits[0].geom_type == "Point")
    assume(min(distance_to(e, others) for e in ends) > 1010.0)
    add_line(case, county(case, across))
    return replace(case, rule="line.crossing", where=(hits[0].x, hits[0].y), radius_m=0.5)


def neighbour_of(case: Case, line_id: str) -> str:
    """The other province of the submitting province's line ``line_id`` (by the line's codes)."""
    row = case.lines[case.lines["line_id"] == line_id].iloc[0]
    return row["right_code"] if row["left_code"][:2] == case.province[:2] else row["left_code"]


def plant_line_neighbor_mismatch(data, case: Case) -> Case:
    i, p = draw_part(data, case, min_length=20_000.0)
    geometry = case.lines.geometry.iloc[i]
    xy, epsg = part_metric(geometry, p)
    metric = shapely.LineString(xy)
    amplitude = data.draw(st.floats(6.0, 200.0), label="offset m")
    centre = data.draw(st.floats(0.2, 0.8), label="fraction") * metric.length
    half = 3000.0
    along = shapely.line_locate_point(metric, shapely.points(xy))
    a = shapely.get_coordinates(metric.interpolate(centre - half))[0]
    b = shapely.get_coordinates(metric.interpolate(centre + half))[0]
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
    weight = np.where(np.abs(along - centre) < half, np.cos((along - centre) / half * np.pi / 2) ** 2, 0)
    assume(weight.max() > 0.98)
    theirs = with_part(geometry, p, to_lonlat(xy + weight[:, None] * amplitude * normal, epsg))
    row = case.lines.iloc[[i]].copy()
    row["geometry"] = [theirs]
    province = neighbour_of(case, row["line_id"].iloc[0])
    # the neighbour's version replaces any stored one of the boundary (a resubmission of a stored line)
    key = {row["left_code"].iloc[0], row["right_code"].iloc[0]}
    same = [{a, b} == key for a, b in zip(case.stored_lines["left_code"], case.stored_lines["right_code"],
                                          strict=True)]
    case.stored_lines = case.stored_lines[~np.array(same, dtype=bool)].reset_index(drop=True)
    stored_row = row.drop(columns=["source_row"]).assign(province=province, submission_id=99, status="current",
                                                         fid=999)
    case.stored_lines = gpd.GeoDataFrame(pd.concat([case.stored_lines, stored_row], ignore_index=True), crs=4490)
    peak = to_lonlat(shapely.get_coordinates(metric.interpolate(centre)), epsg)[0]
    return replace(case, feature=case.lines["line_id"].iloc[i],
                   rule="line.neighbor_mismatch", where=tuple(peak), radius_m=1500.0)


def plant_attribute(data, case: Case) -> Case:
    i = data.draw(st.integers(0, len(case.lines) - 1), label="line")
    how = data.draw(st.sampled_from(["missing", "malformed", "equal"]), label="how")
    left = case.lines["left_code"].iloc[i]
    value = {"missing": None, "malformed": "4300", "equal": left}[how]
    case.lines.loc[case.lines.index[i], "right_code"] = value
    parts = shapely.get_parts(case.lines.geometry.iloc[i])
    lengths = [shapely.LineString(part_metric(case.lines.geometry.iloc[i], p)[0]).length for p in range(len(parts))]
    xy, epsg = part_metric(case.lines.geometry.iloc[i], int(np.argmax(lengths)))
    middle = to_lonlat(shapely.get_coordinates(shapely.LineString(xy).interpolate(0.5, normalized=True)), epsg)[0]
    return replace(case, feature=case.lines["line_id"].iloc[i],
                   rule="line.attribute", where=tuple(middle), radius_m=0.01)


def own_line_of(case: Case, k: int):
    line_id = case.markers["line_id"].iloc[k]
    return case.lines.geometry[case.lines["line_id"] == line_id].iloc[0]


def beside_own_line(case: Case, k: int, metres: float) -> np.ndarray:
    """(lon, lat) ``metres`` left (negative: right) of marker ``k``'s own line, square from its foot."""
    here = marker_lonlat(case, k)
    epsg = metric_epsg(float(here[0]))
    metric = shapely.transform(own_line_of(case, k), lambda xy: to_metric(xy, epsg)[0])
    point = shapely.points(to_metric(here, epsg)[0])[0]
    nearest = shapely.get_coordinates(shapely.ops.nearest_points(metric, point)[0])[0]
    s = shapely.line_locate_point(metric, shapely.Point(nearest))
    a = shapely.get_coordinates(metric.interpolate(s - 1.0))[0]
    b = shapely.get_coordinates(metric.interpolate(s + 1.0))[0]
    n = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
    return to_lonlat(nearest + metres * n, epsg)[0]


def plant_off_line(data, case: Case) -> Case:
    k = draw_marker(data, case)
    metres = data.draw(st.floats(6.0, 400.0), label="metres") * data.draw(st.sampled_from([1, -1]), label="side")
    moved = beside_own_line(case, k, metres)
    distance = distance_to(moved, [own_line_of(case, k)])
    assume(5.5 < distance < 4900.0)
    assume(distance_to(moved, other_lines(case)) < 4900.0)
    set_declared(case, k, moved)
    return replace(case, feature=case.markers["marker_id"].iloc[k], rule="marker.off_line", where=tuple(moved))


def plant_pair_side(data, case: Case) -> Case:
    """A 单立 marker becomes a 同号双立 pair standing the wrong way round: A on the larger code's side."""
    k = draw_marker(data, case)
    here = marker_lonlat(case, k)
    row = case.lines[case.lines["line_id"] == case.markers["line_id"].iloc[k]].iloc[0]
    larger_on_left = row["left_code"] > row["right_code"]
    metres = data.draw(st.floats(20.0, 150.0), label="metres")
    posts = {letter: beside_own_line(case, k, metres if on_left else -metres)
             for letter, on_left in (("A", larger_on_left), ("B", not larger_on_left))}
    for post in posts.values():  # standing clear of every other stretch of the line (no tight meander)
        assume(abs(distance_to(post, [own_line_of(case, k)]) - metres) < 1.0)
    number = case.markers["marker_id"].iloc[k][:-1]
    twin = case.markers.iloc[[k]].copy()
    case.markers = gpd.GeoDataFrame(pd.concat([case.markers, twin], ignore_index=True), crs=4490)
    for index, letter in ((k, "A"), (len(case.markers) - 1, "B")):
        case.markers.loc[case.markers.index[index], ["marker_id", "marker_type"]] = [number + letter, "同号双立"]
        set_declared(case, index, posts[letter])
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.pair_side", where=tuple(here), radius_m=metres + 1.0)


def plant_out_of_region(data, case: Case) -> Case:
    k = draw_marker(data, case)
    here = marker_lonlat(case, k)
    xy, epsg = to_metric(here)
    metres = data.draw(st.floats(7_000.0, 30_000.0), label="metres")
    angle = data.draw(st.floats(0, 2 * np.pi), label="direction")
    moved = to_lonlat(xy[0] + metres * np.array([np.cos(angle), np.sin(angle)]), epsg)[0]
    province_lines = [*case.lines.geometry, *case.stored_lines.geometry[
        case.stored_lines["left_code"].str.startswith(case.province[:2])
        | case.stored_lines["right_code"].str.startswith(case.province[:2])]]
    assume(distance_to(moved, province_lines) > 5100.0)
    set_declared(case, k, moved)
    return replace(case, feature=case.markers["marker_id"].iloc[k], rule="marker.out_of_region", where=tuple(moved))


def plant_duplicate_id(data, case: Case) -> Case:
    k = draw_marker(data, case)
    m = draw_marker(data, case)
    assume(k != m)
    first, later = min(k, m), max(k, m)
    case.markers.loc[case.markers.index[later], "marker_id"] = case.markers["marker_id"].iloc[first]
    return replace(case, feature=case.markers["marker_id"].iloc[later],
                   rule="marker.duplicate_id", where=tuple(marker_lonlat(case, later)))


def plant_duplicate_position(data, case: Case) -> Case:
    k = draw_marker(data, case)
    here = marker_lonlat(case, k)
    xy, epsg = to_metric(here)
    metres = data.draw(st.floats(0.05, 0.95), label="metres")
    angle = data.draw(st.floats(0, 2 * np.pi), label="direction")
    near = to_lonlat(xy[0] + metres * np.array([np.cos(angle), np.sin(angle)]), epsg)[0]
    row = case.markers.iloc[[k]].copy()
    row["marker_id"] = row["marker_id"].iloc[0][:4] + "999Q"
    assume(row["marker_id"].iloc[0] not in set(case.markers["marker_id"]))
    case.markers = gpd.GeoDataFrame(pd.concat([case.markers, row], ignore_index=True), crs=4490)
    set_declared(case, len(case.markers) - 1, near)
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.duplicate_position", where=tuple(here), radius_m=1.0)


def plant_id_format(data, case: Case) -> Case:
    k = draw_marker(data, case)
    old = case.markers["marker_id"].iloc[k]
    new = data.draw(st.sampled_from([old[:-1] + letter for letter in "ABCDE"] + [old[:-2] + old[-1], "J" + old]),
                    label="new id")
    assume(new not in set(case.markers["marker_id"]))
    case.markers.loc[case.markers.index[k], "marker_id"] = new
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.id_format", where=tuple(marker_lonlat(case, k)))


def plant_coordinate_mismatch(data, case: Case) -> Case:
    k = draw_marker(data, case)
    metres = data.draw(st.floats(0.6, 200.0), label="metres")
    angle = data.draw(st.floats(0, 2 * np.pi), label="direction")
    case.markers.loc[case.markers.index[k], "x"] += metres * np.cos(angle)
    case.markers.loc[case.markers.index[k], "y"] += metres * np.sin(angle)
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.coordinate_mismatch", where=tuple(marker_lonlat(case, k)))


def plant_axis_swapped(data, case: Case) -> Case:
    k = draw_marker(data, case)
    index = case.markers.index[k]
    case.markers.loc[index, ["x", "y"]] = case.markers.loc[index, ["y", "x"]].to_numpy()
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.axis_swapped", where=tuple(marker_lonlat(case, k)))


def plant_marker_neighbor_mismatch(data, case: Case) -> Case:
    k = draw_marker(data, case)
    metres = data.draw(st.floats(1.2, 4.5), label="metres")
    angle = data.draw(st.floats(0, 2 * np.pi), label="direction")
    xy, epsg = to_metric(marker_lonlat(case, k))
    theirs = to_lonlat(xy[0] + metres * np.array([np.cos(angle), np.sin(angle)]), epsg)[0]
    row = case.markers.iloc[[k]].drop(columns=["source_row"]).copy()
    row["geometry"] = [shapely.Point(theirs)]
    row = row.assign(province=neighbour_of(case, row["line_id"].iloc[0]), submission_id=99, status="current",
                     fid=999)
    # the neighbour's version replaces any stored one of that id
    case.stored_markers = case.stored_markers[case.stored_markers["marker_id"] != row["marker_id"].iloc[0]]
    case.stored_markers = gpd.GeoDataFrame(pd.concat([case.stored_markers, row], ignore_index=True), crs=4490)
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.neighbor_mismatch", where=tuple(marker_lonlat(case, k)))


def plant_lone_post(data, case: Case) -> Case:
    """A 单立 marker becomes a 同号双立 pair standing right (A on the smaller code's side), one post dropped."""
    k = draw_marker(data, case)
    row = case.lines[case.lines["line_id"] == case.markers["line_id"].iloc[k]].iloc[0]
    smaller_on_left = row["left_code"] < row["right_code"]
    metres = data.draw(st.floats(20.0, 150.0), label="metres")
    letter = data.draw(st.sampled_from("AB"), label="kept post")
    on_left = smaller_on_left if letter == "A" else not smaller_on_left
    post = beside_own_line(case, k, metres if on_left else -metres)
    assume(abs(distance_to(post, [own_line_of(case, k)]) - metres) < 1.0)
    number = case.markers["marker_id"].iloc[k][:-1]
    case.markers.loc[case.markers.index[k], ["marker_id", "marker_type"]] = [number + letter, "同号双立"]
    set_declared(case, k, post)
    return replace(case, feature=case.markers["marker_id"].iloc[k], rule="marker.lone_post", where=tuple(post))


def plant_unknown_line(data, case: Case) -> Case:
    """A marker (and its id) on a line code no line of the submission or the database has."""
    k = draw_marker(data, case)
    line_id = data.draw(st.sampled_from(["3698", "3699", "9936"]), label="line")
    old = case.markers["marker_id"].iloc[k]
    case.markers.loc[case.markers.index[k], ["marker_id", "line_id"]] = [line_id + old[4:], line_id]
    return replace(case, feature=case.markers["marker_id"].iloc[k],
                   rule="marker.unknown_line", where=tuple(marker_lonlat(case, k)))


def plant_foreign_boundary(data, case: Case) -> Case:
    """A stored marker of a boundary with neither side in 江西 (e.g. 湖北–湖南), resubmitted by 江西."""
    stored = case.stored_markers
    prefix = case.province[:2]
    foreign = np.flatnonzero([(sides := code_sides(i)) is not None and prefix not in (sides[0][:2], sides[1][:2])
                              and kind == "单立" for i, kind in zip(stored["line_id"], stored["marker_type"],
                                                                     strict=True)])
    m = int(data.draw(st.sampled_from(foreign.tolist()), label="stored marker"))
    row = stored.iloc[[m]][["marker_id", "marker_type", "line_id", "x", "y", "lon", "lat", "h", "geometry"]].copy()
    row = row.assign(source_file=case.markers["source_file"].iloc[0], source_row=len(case.markers) + 1)
    point = row.geometry.iloc[0]
    case.markers = gpd.GeoDataFrame(pd.concat([case.markers, row], ignore_index=True), crs=4490)
    set_declared(case, len(case.markers) - 1, np.array([point.x, point.y]))
    return replace(case, feature=case.markers["marker_id"].iloc[-1],
                   rule="marker.foreign_boundary", where=(point.x, point.y))


PLANTERS = {
    "line.invalid_geometry": plant_invalid_geometry,
    "line.self_intersection": plant_self_intersection,
    "line.duplicate_vertex": plant_duplicate_vertex,
    "line.spike": plant_spike,
    "line.dangle": plant_dangle,
    "line.overlap": plant_overlap,
    "line.crossing": plant_crossing,
    "line.neighbor_mismatch": plant_line_neighbor_mismatch,
    "line.attribute": plant_attribute,
    "marker.off_line": plant_off_line,
    "marker.out_of_region": plant_out_of_region,
    "marker.duplicate_id": plant_duplicate_id,
    "marker.duplicate_position": plant_duplicate_position,
    "marker.id_format": plant_id_format,
    "marker.pair_side": plant_pair_side,
    "marker.coordinate_mismatch": plant_coordinate_mismatch,
    "marker.axis_swapped": plant_axis_swapped,
    "marker.neighbor_mismatch": plant_marker_neighbor_mismatch,
    "marker.lone_post": plant_lone_post,
    "marker.unknown_line": plant_unknown_line,
    "marker.foreign_boundary": plant_foreign_boundary,
}


@pytest.mark.parametrize("rule_id", list(PLANTERS))
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_one_planted_defect_gives_exactly_its_rule_at_its_place(rule_id, data):
    case = PLANTERS[rule_id](data, base())
    issues = run(case)
    assert issues, f"{rule_id} planted but nothing found"
    assert {i.rule for i in issues} == {rule_id}, messages(issues)
    for issue in issues:
        assert distance_m((issue.lon, issue.lat), case.where) <= case.radius_m, messages(issues)
        assert case.feature is None or issue.feature == case.feature, messages(issues)


@pytest.mark.parametrize("rule_id", list(PLANTERS))
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_each_rule_finds_its_defect_with_every_other_rule_disabled(rule_id, data):
    """Rules are independent: the planted defect's rule finds it alone, at its place; so does every rule
    whose finding of the same defect the full check gave as a detail of the issue it kept."""
    case = PLANTERS[rule_id](data, base())
    kept = run(case)
    assert {i.rule for i in kept} == {rule_id}, messages(kept)
    detail_rules = {r for i in kept for r in re.findall(r"(?:details: |; )([a-z]+\.[a-z_]+): ", i.message_en)}
    for alone in sorted({rule_id} | detail_rules):
        issues = run(case, only(alone))
        assert issues and {i.rule for i in issues} == {alone}, f"{alone} alone: {messages(issues)}"
        features = {i.feature for i in kept}
        near = [i for i in issues if i.feature in features or i.layer == "lines"]
        assert near, f"{alone} alone: {messages(issues)}"
        for issue in near:
            assert distance_m((issue.lon, issue.lat), case.where) <= case.radius_m, f"{alone}: {messages(issues)}"
