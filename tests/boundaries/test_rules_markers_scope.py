"""Which boundaries a province may write markers on (marker.foreign_boundary), rules that find their defect
whatever else is enabled, and one defect reported once: on the national demo's real lines (data/demo)."""

from __future__ import annotations

import pytest
import shapely

from boundaries.config import load_config
from boundaries.demo import demo_dir
from tests.boundaries.conftest_rules import (
    check,
    demo_stored,
    demo_submission,
    line,
    markers_frame,
    messages,
    offset_point,
    rules_of,
    submission,
)
from tests.boundaries.test_rules import jx_lines, jx_markers

#: The row of issue 12: a marker of the 湖北–湖南 line 4243, submitted by 江西.
FOREIGN_ROW = "4243950Q,4243,单立,113.909128,29.038540"


def _only(rule_id: str):
    config = load_config()
    for other in config.rules:
        config.rules[other]["enabled"] = other == rule_id
    return config


def test_markers_of_another_provinces_boundary_are_errors_by_line_and_by_place():
    lines, markers = demo_stored("420000", "430000")
    hubei = markers[markers["marker_id"] == "4243160Q"].geometry.iloc[0]
    lon, lat = (float(v) for v in FOREIGN_ROW.split(",")[3:])
    rows = [{"marker_id": "4243950Q", "line_id": "4243", "lonlat": (lon, lat)},
            {"marker_id": "4243160Q", "line_id": "4243", "lonlat": (hubei.x, hubei.y)},
            # an own id and line, but standing on 4243 far from every 江西 line
            {"marker_id": "3642950Q", "line_id": "3642", "lonlat": (hubei.x, hubei.y + 1e-6)}]
    sub = submission("360000", lines=demo_submission("360000").lines, markers=markers_frame(rows))
    issues = check(sub, lines, markers, config=_only("marker.foreign_boundary"))
    assert rules_of(issues) == ["marker.foreign_boundary"] * 3, messages(issues)
    by_id = {i.feature: i for i in issues}
    assert "its line 4243 (420000|430000) has neither side in province 360000" in by_id["4243950Q"].message_en
    assert "from line 4243 (420000|430000), more than 500 m from every line of province 360000" in \
        by_id["3642950Q"].message_en
    assert "两侧均不在本省 360000" in by_id["4243160Q"].message
    # with every rule: still an error each, said once per marker
    issues = check(sub, lines, markers)
    assert sorted(i.feature for i in issues if i.rule == "marker.foreign_boundary") == sorted(by_id)
    assert not [i for i in issues if i.rule == "marker.off_line"], messages(issues)  # merged as a detail
    # the province's own markers near the three-province junction are not foreign
    own = check(submission("360000", lines=demo_submission("360000").lines,
                           markers=demo_submission("360000").markers), lines, markers,
                config=_only("marker.foreign_boundary"))
    assert own == [], messages(own)


def test_foreign_marker_by_line_code_without_the_line_anywhere():
    sub = submission("360000", markers=markers_frame([{"marker_id": "4243950Q", "line_id": "4243",
                                                        "lonlat": (113.909128, 29.038540)}]))
    issues = check(sub, config=_only("marker.foreign_boundary"))
    assert rules_of(issues) == ["marker.foreign_boundary"], messages(issues)
    assert "names the boundary of 420000 and 430000" in issues[0].message_en


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_ingest_of_a_foreign_marker_row_is_refused_and_stores_nothing(request, capsys, tmp_path, backend):
    import json

    from boundaries.store import open_store
    from tests.conftest import empty_database, run_cli

    entries = json.loads((demo_dir() / "manifest.json").read_text(encoding="utf-8"))["submissions"]
    hubei = [demo_dir() / p for p in next(e for e in entries if e["province"] == "420000")["paths"]]
    table = tmp_path / "界桩成果表.csv"
    table.write_text("marker_id,line_id,marker_type,lon,lat\n" + FOREIGN_ROW + "\n", encoding="utf-8")
    with empty_database(request, backend, tmp_path) as db:
        assert run_cli(capsys, "--db", db, "ingest", "--province", "420000", "--json", *hubei)[0] == 0
        code, report = run_cli(capsys, "--db", db, "--lang", "en", "ingest", "--province", "360000", "--json",
                               table)
        assert code == 1 and [i["rule"] for i in report["issues"]] == ["marker.foreign_boundary"], report
        with open_store(db) as store:
            stored = store.read_layer("markers")
        assert "4243950Q" not in set(stored["marker_id"]) and set(stored["province"]) == {"420000"}


def test_off_line_finds_a_far_marker_with_out_of_region_disabled():
    far = {"marker_id": "3643900Q", "lonlat": offset_point(line("3643"), 0.33, -20_000.0)}
    config = load_config()
    config.rules["marker.out_of_region"]["enabled"] = False
    issues = check(submission(lines=jx_lines(), markers=jx_markers(far)), config=config)
    assert rules_of(issues) == ["marker.off_line"], messages(issues)
    # everything enabled: one error for the one defect, the other finding as its detail
    issues = check(submission(lines=jx_lines(), markers=jx_markers(far)))
    assert rules_of(issues) == ["marker.out_of_region"] and "marker.off_line" in issues[0].message_en


def test_contradicting_line_code_and_unknown_line_are_errors():
    rows = [{"marker_id": "3642901Q", "line_id": "3643", "lonlat": offset_point(line("3643"), 0.4, 0.0)},
            {"marker_id": "3643902Q", "line_id": "3645", "lonlat": offset_point(line("3643"), 0.6, 0.0)}]
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*rows)))
    by_id = {i.feature: i for i in issues}
    assert by_id["3642901Q"].rule == "marker.id_format"
    assert "line code 3642 in the id contradicts its line 3643" in by_id["3642901Q"].message_en
    assert by_id["3643902Q"].rule == "marker.id_format"  # its id says 3643, its line 3645
    assert "marker.unknown_line" in by_id["3643902Q"].message_en or any(
        i.rule == "marker.unknown_line" for i in issues), messages(issues)


def test_foreign_by_place_in_the_last_metre_of_distance_m():
    """marker.foreign_boundary takes marker.off_line's measurement as settled where it puts a marker within
    ``distance_m`` − 1 m of a line of the province, and searches the others: two markers in the wedge
    between 3643 (江西–湖南) and the neighbour's 4243 (湖北–湖南), each in the last metre of the 500 m. Half
    a metre beyond 500 m of its own line and within 500 m of 4243: foreign; half a metre within: not."""
    from tests.boundaries.conftest_rules import to_metric
    from tests.boundaries.test_rules import stored_neighbour_lines

    beyond, within = (113.93563921, 29.04594207), (113.93564874, 29.04594635)

    def metres(lonlat, line_id):  # in the marker's zone, as the rules measure
        xy, epsg = to_metric(lonlat)
        return shapely.distance(shapely.Point(xy[0]), shapely.transform(line(line_id),
                                                                        lambda c: to_metric(c, epsg)[0]))

    assert 500.0 < metres(beyond, "3643") < 501.0 and 499.0 < metres(beyond, "4243") < 500.0
    assert 499.0 < metres(within, "3643") < 500.0 and 498.5 < metres(within, "4243") < 499.5
    assert metres(beyond, "3642") > 505.0 and metres(within, "3642") > 505.0
    rows = [{"marker_id": "3643950Q", "lonlat": beyond}, {"marker_id": "3643951Q", "lonlat": within}]
    sub = submission("360000", lines=jx_lines(), markers=markers_frame(rows))
    issues = check(sub, stored_neighbour_lines("4243"), config=_only("marker.foreign_boundary"))
    assert [i.feature for i in issues] == ["3643950Q"], messages(issues)
    assert ("it stands 499.5 m from line 4243 (420000|430000), more than 500 m from every line of province "
            "360000") in issues[0].message_en
    issues = check(sub, stored_neighbour_lines("4243"))  # with every rule: off its line, each; the first foreign
    assert [(i.rule, i.feature) for i in issues] == [("marker.off_line", "3643951Q"),
                                                     ("marker.foreign_boundary", "3643950Q")], messages(issues)
    assert "stands 499.5 m from its line 3643 (limit 5 m)" in issues[0].message_en
    assert "(details: marker.off_line: single post marker 3643950Q stands 500.5 m from its line 3643" in \
        issues[1].message_en
