"""kill -9 during an ingest, at points spread over its run: the database holds the submission whole or not at
all, the superseded versions stay consistent, and the next ingest goes through (SPEC §2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import geopandas as gpd

from boundaries.store import open_store
from boundaries.store._sql import KILL_POINTS
from tests.conftest import markers_along, real_boundary, write_shapefiles

QUHUA = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]
#: when the ingest is killed, in multiples of how long checking the same files takes (an ingest checks, then
#: writes): before, during and after the write
KILL_AT = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _submission(folder, every_m: float):
    line = real_boundary("360000", "430000")
    lines = gpd.GeoDataFrame({"line_id": ["3643"], "left_code": ["360000"], "right_code": ["430000"],
                              "name": ["赣湘线"]}, geometry=[line], crs=4490)
    return write_shapefiles(folder, lines, markers_along(line, "3643", every_m=every_m))


def _ingest(db: str, paths, command: str = "ingest", kill_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "QUHUA_TEST_KILL_AT": kill_at or ""}
    return subprocess.Popen([*QUHUA, "--db", db, command, "--province", "360000", "--json", *map(str, paths)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)


def _consistent(db: str) -> int:
    """Assert that every stored submission is whole and 3643 has exactly one current version; the count."""
    with open_store(db) as store:
        submissions = store.read_layer("submissions")
        lines = store.read_layer("lines", history=True)
        markers = store.read_layer("markers", history=True)
    assert set(lines.submission_id) | set(markers.submission_id) <= set(submissions.fid)
    for row in submissions.itertuples():
        assert (lines.submission_id == row.fid).sum() == row.lines
        assert (markers.submission_id == row.fid).sum() == row.markers
    current = lines[lines.status == "current"]
    assert list(current.line_id) == ["3643"]
    assert (markers.status == "current").sum() == (markers.submission_id == current.submission_id.iloc[0]).sum()
    return len(submissions)


def test_kill_9_at_each_point_of_the_transaction_stores_nothing(db_url, tmp_path):
    assert _ingest(db_url, _submission(tmp_path / "v1", every_m=2_000)).wait(timeout=300) == 0
    second = _submission(tmp_path / "v2", every_m=800)
    for point in KILL_POINTS:  # from the checked report to the last issue row, before the commit
        assert _ingest(db_url, second, kill_at=point).wait(timeout=300) == -signal.SIGKILL
        assert _consistent(db_url) == 1, f"killed after {point}"
    assert _ingest(db_url, second).wait(timeout=300) == 0
    assert _consistent(db_url) == 2


def test_kill_9_during_ingest_leaves_every_submission_whole_or_absent(db_url, tmp_path):
    first = _submission(tmp_path / "v1", every_m=2_000)
    second = _submission(tmp_path / "v2", every_m=800)  # a resubmission: supersedes v1's line and markers
    assert _ingest(db_url, first).wait(timeout=300) == 0
    assert _consistent(db_url) == 1
    started = time.monotonic()
    assert _ingest(db_url, second, "check").wait(timeout=300) == 0
    duration = time.monotonic() - started
    stored = 1
    for fraction in KILL_AT:
        process = _ingest(db_url, second)
        time.sleep(duration * fraction)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        stored = _consistent(db_url)  # either v2 landed whole (then later ones supersede it) or nothing did
    assert _ingest(db_url, second).wait(timeout=300) == 0  # the database is usable after the kills
    assert _consistent(db_url) == stored + 1
