"""Legal time (issue 15): ``valid_from``/``valid_to`` are the dates a version holds in law, ``recorded_at``/
``retired_at`` when quhua stored and superseded it; ``ingest --valid-from``, ``export --at``,
``Store.query(at=)``/``get(at=)``, ``Store.revise`` and schema migration 4, on both databases, with the real
江西 lines and the planted second survey of :mod:`tests.boundaries.planted`."""

from __future__ import annotations

import json
from datetime import date

import geopandas as gpd
import pytest
import shapely

from boundaries.errors import InputError
from boundaries.store import MIGRATIONS, open_store
from tests.boundaries import planted
from tests.boundaries.conftest import cli, ingest_jx
from tests.conftest import run_cli


def _export(capsys, db, tmp_path, layer, *extra) -> gpd.GeoDataFrame:
    out = tmp_path / f"{layer}-{'-'.join(extra) or 'now'}.geojson"
    code, _ = run_cli(capsys, "--db", db, "export", layer, "-o", out, *extra)
    assert code == 0
    return gpd.read_file(out)


def test_export_at_three_dates_gives_the_versions_in_force_then(surveyed, capsys, tmp_path, jx_lines):
    before = _export(capsys, surveyed, tmp_path, "lines", "--at", "2016-12-31")
    first = _export(capsys, surveyed, tmp_path, "lines", "--at", "2019-06-30")
    second = _export(capsys, surveyed, tmp_path, "lines", "--at", "2022-01-01")
    assert len(before) == 0  # nothing held before the first agreement
    assert sorted(first["line_id"]) == sorted(second["line_id"]) == ["3642", "3643"]
    old = first.set_index("line_id").geometry["3643"]
    new = second.set_index("line_id").geometry["3643"]
    original = jx_lines.set_index("line_id").geometry["3643"]
    # the first survey as delivered (through its zone's shapefile: micrometres), the second 30 m off it
    assert shapely.hausdorff_distance(old, original) < 1e-7 and shapely.hausdorff_distance(new, old) > 2e-4
    assert str(first.set_index("line_id")["valid_from"]["3643"])[:10] == "2017-05-01"
    assert str(first.set_index("line_id")["valid_to"]["3643"])[:10] == "2021-03-15"  # its legal end is exported
    assert first.set_index("line_id")["status"]["3643"] == "superseded"  # whatever its status today
    markers_then = _export(capsys, surveyed, tmp_path, "markers", "--at", "2019-06-30")
    markers_now = _export(capsys, surveyed, tmp_path, "markers", "--at", "2022-01-01")
    assert set(planted.LOST_IDS) <= set(markers_then["marker_id"])
    assert not set(planted.LOST_IDS) & set(markers_now["marker_id"])
    assert planted.ADDED_ID in set(markers_now["marker_id"]) - set(markers_then["marker_id"])
    # the day a version ends belongs to its successor
    on_the_day = _export(capsys, surveyed, tmp_path, "markers", "--at", "2021-03-15")
    assert sorted(on_the_day["marker_id"]) == sorted(markers_now["marker_id"])
    # without --at: what is current, as before
    assert sorted(_export(capsys, surveyed, tmp_path, "markers")["marker_id"]) == sorted(markers_now["marker_id"])


def test_query_and_get_at_a_date_on_both_databases(surveyed):
    with open_store(surveyed) as store:
        then = store.query("lines", at="2019-06-30", properties={"line_id": "3643"}).features
        assert len(then) == 1 and then["status"].iloc[0] == "superseded"
        fid = int(then["fid"].iloc[0])
        assert len(store.get("lines", fid)) == 0  # superseded: not current
        assert len(store.get("lines", fid, at=date(2019, 6, 30))) == 1
        assert len(store.get("lines", fid, at="2022-01-01")) == 0
        # an interval: every version in force on some day of it (OGC datetime), open ends allowed
        assert len(store.query("lines", at=("2019-01-01", "2022-01-01"), properties={"line_id": "3643"}).features) == 2
        assert len(store.query("lines", at=(None, "2018-01-01")).features) == 2
        assert len(store.query("lines", at=("2021-03-15", None)).features) == 2
        assert store.query("markers", at="2019-06-30", count=True).number_matched == 110
        recorded = then["recorded_at"].iloc[0]
        assert recorded[:4] == str(date.today().year) and recorded > then["valid_from"].iloc[0]
        with pytest.raises(InputError, match="YYYY-MM-DD"):
            store.query("lines", at="30/06/2019")
        with pytest.raises(InputError, match="ends before it starts"):
            store.query("lines", at=("2022-01-01", "2019-01-01"))


def test_a_submission_without_a_date_holds_from_its_ingest_day(db_url, capsys, jx_submission):
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    code, out = ingest_jx(capsys, db_url, jx_submission)
    assert code == 0 and "the ingest's day: no --valid-from given" in out
    today = date.today().isoformat()
    with open_store(db_url) as store:
        lines = store.read_layer("lines")
        assert set(lines["valid_from"]) == {today + "T00:00:00.000Z"}
        assert len(store.query("lines", at=today).features) == 2
        report = json.loads(store.read_layer("submissions")["report"].iloc[0])
        assert (report["valid_from"], report["valid_from_given"]) == (today, False)
        assert store.read_audit(action="ingest").rows[0]["detail"]["valid_from"] == today


def test_a_date_before_the_stored_version_is_refused_and_nothing_is_written(surveyed, capsys, two_surveys):
    first, _second = two_surveys
    code, _, err = cli(capsys, "--db", surveyed, "--lang", "en", "ingest", *first, "--province", "360000",
                       "--valid-from", "2020-01-01")
    assert code == 2 and "2020-01-01 is before 2021-03-15" in err and "--valid-from" in err
    code, _, err = cli(capsys, "--db", surveyed, "ingest", *first, "--province", "360000", "--valid-from", "2020-01-01")
    assert code == 2 and "早于" in err
    with open_store(surveyed) as store:
        assert len(store.read_layer("submissions")) == 2
        assert len(store.read_layer("lines", history=True)) == 4


@pytest.mark.parametrize("bad", ["2019-02-30", "30.06.2019", "yesterday"])
def test_bad_dates_are_clear_bilingual_errors_exit_2(db_url, capsys, jx_submission, tmp_path, bad):
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    code, _, err = cli(capsys, "--db", db_url, "--lang", "en", "ingest", *jx_submission, "--province", "360000",
                       "--valid-from", bad)
    assert code == 2 and f"--valid-from '{bad}' is not a date: write it as YYYY-MM-DD" in err
    code, _, err = cli(capsys, "--db", db_url, "export", "lines", "--at", bad, "-o", tmp_path / "x.geojson")
    assert code == 2 and "不是日期" in err and "Traceback" not in err and not (tmp_path / "x.geojson").exists()
    with open_store(db_url) as store:
        assert len(store.read_layer("submissions")) == 0


def test_revise_writes_a_new_legal_version_inside_the_callers_transaction(surveyed):
    with open_store(surveyed) as store:
        old = store.query("markers", properties={"marker_id": planted.MOVED_ID}).features
        moved = shapely.affinity.translate(old.geometry.iloc[0], 0.0001, 0)
        change = gpd.GeoDataFrame({"marker_id": [planted.MOVED_ID], "marker_type": ["双立"]}, geometry=[moved],
                                  crs=4490)
        with store.transaction():
            (fid,) = store.revise("markers", change, valid_from="2024-09-01", submission_id=None, user="inspector")
        now = store.get("markers", fid)
        assert now.geometry.iloc[0].equals(moved) and now["marker_type"].iloc[0] == "双立"
        assert now["line_id"].iloc[0] == "3643" and now["valid_from"].iloc[0].startswith("2024-09-01")
        assert now["province"].iloc[0] == "360000"  # kept from the version it replaces
        closed = store.get("markers", int(old["fid"].iloc[0]), history=True)
        assert closed["status"].iloc[0] == "superseded" and closed["valid_to"].iloc[0].startswith("2024-09-01")
        assert closed["retired_at"].iloc[0] is not None
        then = store.query("markers", at="2024-08-31", properties={"marker_id": planted.MOVED_ID}).features
        assert then.geometry.iloc[0].equals(old.geometry.iloc[0])
        entry = store.read_audit(action="revise").rows[0]
        assert entry["user"] == "inspector" and entry["detail"]["ids"] == [planted.MOVED_ID]
        # one unknown id: the whole transaction rolls back, the good revision in it too
        two = gpd.GeoDataFrame({"marker_id": ["3643001Q", "9999999Q"]}, geometry=[None, None], crs=4490)
        with pytest.raises(InputError, match="9999999Q has no current version to revise"), store.transaction():
            store.revise("markers", two, valid_from="2025-01-01", submission_id=None, user="inspector")
        assert store.query("markers", properties={"marker_id": "3643001Q"}).features["valid_from"].iloc[0] \
            .startswith("2021-03-15")
        with pytest.raises(InputError, match="before 2024-09-01"), store.transaction():
            store.revise("markers", change, valid_from="2023-01-01", submission_id=None, user="inspector")
        assert len(store.query("markers", history=True, properties={"marker_id": planted.MOVED_ID}).features) == 3
        # a marker newly set by a round: its province and position given
        point = shapely.affinity.translate(old.geometry.iloc[0], 0.001, 0)
        new = gpd.GeoDataFrame({"marker_id": ["3643998Q"], "marker_type": ["单立"], "line_id": ["3643"],
                                "province": ["360000"]}, geometry=[point], crs=4490)
        with store.transaction():
            (added,) = store.revise("markers", new, valid_from="2024-09-01", submission_id=None, user="inspector")
        row = store.get("markers", added)
        assert row["province"].iloc[0] == "360000" and row.geometry.iloc[0].equals(point)
        assert len(store.query("markers", at="2024-08-31", properties={"marker_id": "3643998Q"}).features) == 0
        assert len(store.query("markers", at="2024-09-01", properties={"marker_id": "3643998Q"}).features) == 1


def _as_version_3(store) -> None:
    """What quhua before schema version 4 left: no recorded_at/retired_at, valid_from/valid_to the stored times."""
    for table in ("lines", "markers"):
        store.execute(f"UPDATE {table} SET valid_from = recorded_at, valid_to = retired_at")
        for column in ("recorded_at", "retired_at"):
            store.execute(f'ALTER TABLE {table} DROP COLUMN "{column}"')
    store.execute("UPDATE quhua_meta SET value = '3' WHERE key = 'schema_version'")


def test_migration_4_keeps_the_history_of_an_older_database(db_url, capsys, two_surveys):
    first, second = two_surveys
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    assert ingest_jx(capsys, db_url, first)[0] == 0
    assert ingest_jx(capsys, db_url, second)[0] == 0
    with open_store(db_url) as store:
        with store.transaction():
            _as_version_3(store)
        stored = store.fetch("SELECT valid_from FROM lines ORDER BY fid")
    with open_store(db_url) as store:  # read before the upgrade (the viewer only reads): as it will be after
        old = store.read_layer("lines", history=True).sort_values("fid")
        assert old["recorded_at"].iloc[0].startswith(str(stored[0][0])[:10]) and len(old["recorded_at"].iloc[0]) == 24
        assert old["valid_from"].iloc[0].endswith("T00:00:00.000Z")
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    with open_store(db_url) as store:
        assert store.version() == max(MIGRATIONS) == 4
        lines = store.read_layer("lines", history=True).sort_values("fid")
        assert list(lines["recorded_at"]) == list(old["recorded_at"])
        assert list(lines["valid_from"]) == [r[:10] + "T00:00:00.000Z" for r in lines["recorded_at"]]
        superseded = lines[lines["status"] == "superseded"]
        assert len(superseded) == 2 and all(superseded["retired_at"].notna())
        assert list(superseded["valid_to"]) == [r[:10] + "T00:00:00.000Z" for r in superseded["retired_at"]]
        # both loaded the same day: as of that day the second survey is in force, the first never was
        today = lines["valid_from"].iloc[0][:10]
        assert sorted(store.query("lines", at=today).features["submission_id"]) == [2, 2]
