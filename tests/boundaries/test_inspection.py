"""Joint inspection rounds (联检, issue 15) on the command line, on both databases, with real boundary lines:
江西 (360000) loads its lines 3643 (with 湖南) and 3642 (with 湖北) and their markers, 湖南 (430000) its side of
3643; a round of 3643 records findings from a GBK table in 度分秒, one side submits, and the marker found moved
keeps its stored (legal) position until the second side confirms."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import geopandas as gpd
import pytest
import shapely

from boundaries import inspection as core
from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import write_shapefiles


def run_cli(capsys, *args) -> tuple[int, dict | list | str]:
    """``quhua ARGS``: the exit code and stdout (parsed with --json); stderr is kept in ``ERR[0]``."""
    from boundaries.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    ERR[0] = captured.err
    return code, json.loads(captured.out) if "--json" in args and code == 0 else captured.out


ERR = [""]


def _dms(value: float, hemisphere: str) -> str:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = ((value - degrees) * 60 - minutes) * 60
    return f"{degrees}°{minutes:02d}′{seconds:06.3f}″{hemisphere}"


def _east_of(point: shapely.Point, metres: float) -> tuple[float, float]:
    """The point ``metres`` east of ``point`` (degrees)."""
    import math

    return point.x + metres / (111_320 * math.cos(math.radians(point.y))), point.y


@pytest.fixture
def loaded(db_url, tmp_path, jx_lines, jx_markers):
    """The database with 江西's lines and markers and 湖南's side of 3643."""
    assert ingest_paths(write_shapefiles(tmp_path / "jx", jx_lines, jx_markers), "360000", db=db_url, user="jx",
                        progress=False).submission_id
    hunan = jx_lines[jx_lines["line_id"] == "3643"].assign(left_code="430000", right_code="360000")
    assert ingest_paths(write_shapefiles(tmp_path / "hn", hunan, None, stem="湖南省"), "430000", db=db_url, user="hn",
                        progress=False).submission_id
    return db_url


def _marker(db: str, marker_id: str, *, history: bool = False) -> gpd.GeoDataFrame:
    with open_store(db) as store:
        return store.query("markers", properties={"marker_id": marker_id}, history=history).features


def _findings_table(path, jx_markers, *, moved_m: float = 35.0, extra_rows: str = "") -> tuple[float, float]:
    """The inspection's marker table as a team types it: GBK CSV, Chinese headers, positions in 度分秒; marker
    002 moved ``moved_m`` east, 003 lost, a new marker 3643900Q set; returns 002's new position."""
    m = jx_markers.set_index("marker_id").geometry
    moved = _east_of(m["3643002Q"], moved_m)
    new = _east_of(m["3643004Q"], 120.0)
    rows = ["界桩编号,界桩状况,经度,纬度,备注",
            f"3643001Q,完好,{_dms(m['3643001Q'].x, 'E')},{_dms(m['3643001Q'].y, 'N')},",
            f"3643002Q,移位,{_dms(moved[0], 'E')},{_dms(moved[1], 'N')},洪水冲移",
            "3643003Q,丢失,,,桩体不见",
            f"3643900Q,新设,{_dms(new[0], 'E')},{_dms(new[1], 'N')},公路改线后新埋"]
    path.write_bytes(("\n".join(rows) + extra_rows + "\n").encode("gbk"))
    return moved


def test_a_full_round_one_side_keeps_the_legal_position_both_move_it(loaded, tmp_path, capsys, jx_markers):
    db = loaded
    before = _marker(db, "3643002Q").geometry.iloc[0]
    lost_before = _marker(db, "3643003Q").geometry.iloc[0]
    code, out = run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--from", "2026-05-10", "--to",
                        "2026-05-20", "--team-a", "江西省民政厅勘界队", "--team-b", "湖南省民政厅勘界队",
                        "--user", "张三", "--json")
    assert code == 0
    assert (out["province_a"], out["province_b"], out["status"]) == ("360000", "430000", "planned")
    rid = str(out["fid"])
    table = tmp_path / "联检界桩状况.csv"
    moved = _findings_table(table, jx_markers)
    code, out = run_cli(capsys, "--db", db, "inspect", "import", rid, table, "--user", "张三", "--json")
    assert code == 0, out
    assert out["status"] == "in_progress" and out["started_by"] == "张三"
    findings = {f["marker_id"]: f for f in out["findings"]}
    assert {k: f["condition"] for k, f in findings.items()} == {
        "3643001Q": "intact", "3643002Q": "moved", "3643003Q": "lost", "3643900Q": "new"}
    assert findings["3643002Q"]["shift_m"] == pytest.approx(35.0, abs=0.1)  # 度分秒 read to the centimetre
    assert findings["3643001Q"]["shift_m"] < 0.05
    assert findings["3643900Q"]["line_id"] == "3643" and findings["3643002Q"]["remarks"] == "洪水冲移"

    # confirmation before submission is refused (exit 2), nothing written
    code, _ = run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "430000", "--user", "李四")
    assert code == 2 and "只有已提交的轮次才能确认" in ERR[0]
    assert run_cli(capsys, "--db", db, "inspect", "submit", rid, "--side", "360000", "--user", "张三")[0] == 0
    # a side that is not the round's is refused
    assert run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "420000", "--user", "王五")[0] == 2
    code, out = run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "430000", "--user", "李四")
    assert code == 0 and "一方已提交" in out and "待确认: 360000" in out

    # one side only: the stored position, the export and the history are unchanged
    assert _marker(db, "3643002Q").geometry.iloc[0].equals(before)
    assert _marker(db, "3643900Q").empty
    export = tmp_path / "markers.geojson"
    assert run_cli(capsys, "--db", db, "export", "markers", "--province", "360000", "-o", export)[0] == 0
    exported = {f["properties"]["marker_id"]: f["geometry"]["coordinates"]
                for f in json.loads(export.read_text(encoding="utf-8"))["features"]}
    assert exported["3643002Q"] == pytest.approx([before.x, before.y], abs=1e-7) and "3643900Q" not in exported
    # the same side cannot confirm twice
    assert run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "430000", "--user", "李四")[0] == 2

    code, out = run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "360000", "--user", "赵六")
    assert code == 0 and "双方已确认" in out
    record = json.loads(json.dumps(run_cli(capsys, "--db", db, "inspect", "show", rid, "--json")[1]))
    assert record["status"] == "confirmed"
    assert (record["confirmed_a_by"], record["confirmed_b_by"]) == ("赵六", "李四")
    day = record["round_date"]
    now = _marker(db, "3643002Q")
    assert len(now) == 1 and now.geometry.iloc[0].x == pytest.approx(moved[0], abs=1e-7)
    assert now["valid_from"].astype(str).iloc[0].startswith(day)
    history = _marker(db, "3643002Q", history=True)
    old = history[history["status"] == "superseded"]
    assert len(old) == 1 and old.geometry.iloc[0].equals(before)  # the old version kept in history
    assert str(old["valid_to"].iloc[0]).startswith(day)
    # database time beside legal time: when the round's confirmation stored and retired the versions
    assert str(now["recorded_at"].iloc[0])[:10] == str(old["retired_at"].iloc[0])[:10] == _today_utc()
    assert int(old["superseded_by"].iloc[0]) == record["submission_id"] == int(now["submission_id"].iloc[0])
    assert not _marker(db, "3643900Q").empty  # the newly set marker is stored
    assert _marker(db, "3643003Q").geometry.iloc[0].equals(lost_before)  # a lost marker keeps its legal position
    assert len(_marker(db, "3643003Q")) == 1 and len(_marker(db, "3643001Q", history=True)) == 1
    with open_store(db) as store:
        submission = store.get("submissions", record["submission_id"])
        assert submission["markers"].iloc[0] == 2  # moved + newly set
        actions = [r["action"] for r in store.read_audit(limit=20).rows]
    assert actions[:5] == ["inspect confirm", "inspect confirm", "inspect submit", "inspect findings", "inspect new"]

    # filing; findings of a filed round cannot change
    assert run_cli(capsys, "--db", db, "inspect", "file", rid, "--user", "民政部")[0] == 0
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, table, "--user", "张三")[0] == 2
    code, out = run_cli(capsys, "--db", db, "inspect", "list", "--province", "430000", "--json")
    assert [r["status"] for r in out] == ["filed"]
    five_years_on = f"{int(day[:4]) + 5}{day[4:]}"
    for today, is_due in ((f"{int(day[:4]) + 4}-12-31", False), (five_years_on, True)):
        code, out = run_cli(capsys, "--db", db, "inspect", "due", "--today", today, "--json")
        due = {r["line_id"]: r for r in out}
        assert (due["3643"]["last_confirmed"], due["3643"]["due"], due["3643"]["is_due"]) == (day, five_years_on,
                                                                                           is_due)
        assert due["3642"]["last_confirmed"] is None and due["3642"]["last_round"] is None


def test_bad_imports_are_listed_and_nothing_is_stored(loaded, tmp_path, capsys, jx_markers):
    db = loaded
    code, out = run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--user", "张三", "--json")
    rid = str(out["fid"])
    table = tmp_path / "bad.csv"
    _findings_table(table, jx_markers, extra_rows="\n3643777Q,完好,,,\n3643005Q,歪了,,,\n3643006Q,重测,,,")
    code, _ = run_cli(capsys, "--db", db, "inspect", "import", rid, table, "--user", "张三")
    err = ERR[0]
    assert code == 1
    assert "3 条界桩状况有误" in err and "第 6 行：界桩 3643777Q 不是界线 3643 上已入库的界桩" in err
    assert "第 7 行：界桩 3643005Q：未知的界桩状况 '歪了'" in err
    assert "第 8 行：界桩 3643006Q 为“重测”：请填写新坐标" in err
    code, _ = run_cli(capsys, "--lang", "en", "--db", db, "inspect", "import", rid, table, "--user", "张三")
    assert "row 7: marker 3643005Q: unknown condition '歪了'" in ERR[0]
    code, out = run_cli(capsys, "--db", db, "inspect", "show", rid, "--json")
    assert out["findings"] == [] and out["status"] == "planned"  # nothing half-written
    no_column = tmp_path / "nocol.csv"
    no_column.write_text("界桩编号,备注\n3643001Q,好\n", encoding="utf-8")
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, no_column)[0] == 2
    assert "缺少“界桩状况”列" in ERR[0]
    assert run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--line", "3642")[0] == 2
    assert "同两个省份之间" in ERR[0]
    assert run_cli(capsys, "--db", db, "inspect", "new", "--line", "9999")[0] == 2
    assert run_cli(capsys, "--db", db, "inspect", "show", "77")[0] == 2


def test_x_y_tables_in_a_gauss_krueger_zone_and_xlsx(loaded, tmp_path, capsys, jx_markers):
    import pandas as pd

    db = loaded
    rid = str(run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    m = jx_markers.set_index("marker_id").geometry
    moved = gpd.GeoSeries([shapely.Point(_east_of(m["3643002Q"], 12.0))], crs=4490).to_crs(4547).iloc[0]
    frame = pd.DataFrame({"界桩编号": ["3643002Q"], "状况": ["重测"], "纵坐标": [round(moved.y, 3)],
                          "横坐标": [round(moved.x, 3)]})
    path = tmp_path / "重测.xlsx"
    frame.to_excel(path, index=False)
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, path)[0] == 2  # X/Y without --crs
    code, out = run_cli(capsys, "--db", db, "inspect", "import", rid, path, "--crs", "EPSG:4547", "--json")
    assert code == 0 and out["findings"][0]["condition"] == "resurveyed"
    assert out["findings"][0]["shift_m"] == pytest.approx(12.0, abs=0.01)


def _jpeg_with_gps(lon: float, lat: float) -> bytes:
    from PIL import Image

    def rational(value):
        d = int(value)
        m = int((value - d) * 60)
        s = ((value - d) * 60 - m) * 60
        return (float(d), float(m), round(s, 4))

    image = Image.new("RGB", (64, 48), (120, 160, 90))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: rational(lat), 3: "E", 4: rational(lon)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_photos_exif_position_and_bad_photos(loaded, tmp_path, capsys, jx_markers):
    from PIL import Image

    db = loaded
    rid = str(run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    point = jx_markers.set_index("marker_id").geometry["3643001Q"]
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(_jpeg_with_gps(*_east_of(point, 40.0)))
    code, out = run_cli(capsys, "--db", db, "inspect", "photo", rid, photo, "--marker", "3643001Q", "--json")
    assert code == 0 and out["media_type"] == "image/jpeg" and out["distance_m"] == pytest.approx(40.0, abs=0.5)
    png = tmp_path / "sketch.png"
    Image.new("RGB", (10, 10)).save(png)
    code, out = run_cli(capsys, "--db", db, "inspect", "photo", rid, png)
    assert code == 0 and "照片没有 EXIF 位置" in out
    fake = tmp_path / "fake.jpg"
    fake.write_text("<html>not a photo</html>")
    assert run_cli(capsys, "--db", db, "inspect", "photo", rid, fake)[0] == 2
    assert "不是 JPEG 或 PNG 照片" in ERR[0]
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png.read_bytes()[:30])
    assert run_cli(capsys, "--db", db, "inspect", "photo", rid, truncated)[0] == 2
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 10))
    assert run_cli(capsys, "--db", db, "inspect", "photo", rid, big)[0] == 2
    assert "超过 10 MiB 的上限" in ERR[0]
    from boundaries.inspection import get_round, photo_content

    with open_store(db) as store:
        photos = get_round(store, rid)["photos"]
        assert [p["name"] for p in photos] == ["IMG_0001.jpg", "sketch.png"]  # the bad ones stored nothing
        content, media_type, _name, _round = photo_content(store, photos[0]["fid"])
    assert content == photo.read_bytes() and media_type == "image/jpeg"


def test_the_schema_is_versioned_under_its_own_key(loaded, capsys):
    from boundaries.inspection import MIGRATIONS, VERSION_KEY

    with open_store(loaded) as store:
        assert store.version(VERSION_KEY) == 0
        before = store.version()
    run_cli(capsys, "--db", loaded, "inspect", "list")
    run_cli(capsys, "--db", loaded, "inspect", "new", "--line", "3642")
    with open_store(loaded) as store:
        assert store.version(VERSION_KEY) == max(MIGRATIONS) and store.version() == before


def test_gdal_reads_the_geopackage_with_its_inspection_tables(tmp_path, capsys, jx_lines, jx_markers):
    """The inspection tables are GeoPackage attributes tables: GDAL lists and reads them (photos' bytes too)."""
    import pyogrio

    db_url = str(tmp_path / "quhua.gpkg")
    assert ingest_paths(write_shapefiles(tmp_path / "jx", jx_lines, jx_markers), "360000", db=db_url, user="jx",
                        progress=False).submission_id
    hunan = jx_lines[jx_lines["line_id"] == "3643"].assign(left_code="430000", right_code="360000")
    ingest_paths(write_shapefiles(tmp_path / "hn", hunan, None, stem="湖南省"), "430000", db=db_url, user="hn",
                 progress=False)
    rid = str(run_cli(capsys, "--db", db_url, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    table = tmp_path / "t.csv"
    _findings_table(table, jx_markers)
    assert run_cli(capsys, "--db", db_url, "inspect", "import", rid, table)[0] == 0
    photo = tmp_path / "p.jpg"
    photo.write_bytes(_jpeg_with_gps(114.0, 26.0))
    assert run_cli(capsys, "--db", db_url, "inspect", "photo", rid, photo)[0] == 0
    layers = {name for name, _ in pyogrio.list_layers(db_url)}
    assert {"inspection_rounds", "inspection_findings", "inspection_photos", "markers"} <= layers
    findings = pyogrio.read_dataframe(db_url, layer="inspection_findings")
    assert sorted(findings["condition"]) == ["intact", "lost", "moved", "new"]
    assert pyogrio.read_dataframe(db_url, layer="inspection_photos")["size"].tolist() == [photo.stat().st_size]


def test_both_sides_confirming_at_once_apply_the_round_once(loaded, tmp_path, capsys, jx_markers):
    """Two officials confirm at the same moment, each in their own connection: the round is locked for the
    step (PostgreSQL: FOR UPDATE; the GeoPackage: its one writer), so the second sees the first and applies
    the positions — once."""
    import threading

    db = loaded
    rid = str(run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    table = tmp_path / "t.csv"
    moved = _findings_table(table, jx_markers)
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, table)[0] == 0
    assert run_cli(capsys, "--db", db, "inspect", "submit", rid, "--side", "360000")[0] == 0
    barrier, errors = threading.Barrier(2), []

    def confirm(side):
        try:
            with open_store(db) as store:
                barrier.wait()
                core.confirm(store, rid, side=side, user=f"official-{side}")
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=confirm, args=(side,)) for side in ("360000", "430000")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with open_store(db) as store:
        record = core.get_round(store, rid)
    assert record["status"] == "confirmed" and record["confirmed_a_by"] and record["confirmed_b_by"]
    current = _marker(db, "3643002Q")
    assert len(current) == 1 and current.geometry.iloc[0].x == pytest.approx(moved[0], abs=1e-6)
    assert len(_marker(db, "3643002Q", history=True)) == 2 and len(_marker(db, "3643900Q")) == 1


def test_a_marker_both_provinces_hold_is_moved_in_both(loaded, tmp_path, capsys, jx_markers):
    """湖南 also loaded the markers of 3643 (the same ids): the confirmed move revises each province's row,
    so neither keeps a current row at the old position."""
    db = loaded
    hunan = jx_markers[jx_markers["line_id"] == "3643"]
    assert ingest_paths(write_shapefiles(tmp_path / "hn-m", None, hunan, stem="湖南省"), "430000", db=db, user="hn",
                        progress=False).submission_id
    assert sorted(_marker(db, "3643002Q")["province"]) == ["360000", "430000"]
    rid = str(run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    table = tmp_path / "t.csv"
    moved = _findings_table(table, jx_markers)
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, table)[0] == 0
    assert run_cli(capsys, "--db", db, "inspect", "submit", rid, "--side", "430000")[0] == 0
    for side in ("430000", "360000"):
        assert run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", side)[0] == 0
    current = _marker(db, "3643002Q")
    assert sorted(current["province"]) == ["360000", "430000"]
    assert [round(g.x, 6) for g in current.geometry] == [round(moved[0], 6)] * 2
    history = _marker(db, "3643002Q", history=True)
    assert sorted(history[history["status"] == "superseded"]["province"]) == ["360000", "430000"]
    assert _marker(db, "3643900Q")["province"].tolist() == ["430000"]  # newly set: for the submitting side


def _today_utc() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()


# -- kill -9 inside the confirmation that completes a round ----------------------------------------------------
QUHUA = [sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())"]
#: inside the confirmation's transaction: old rows closed, new positions inserted, audit row written
POINTS = ("confirm.superseded", "confirm.markers", "confirm.audit")


def _confirm(db: str, rid: str, kill_at: str = "") -> int:
    env = {**os.environ, "QUHUA_TEST_KILL_AT": kill_at}
    return subprocess.run([*QUHUA, "--db", db, "inspect", "confirm", rid, "--side", "360000", "--user", "赵六"],
                          capture_output=True, env=env, timeout=300).returncode


def _state(db: str, rid: str) -> tuple:
    with open_store(db) as store:
        record = core.get_round(store, rid)
        submissions = len(store.read_layer("submissions"))
        actions = [r["action"] for r in store.read_audit(limit=50).rows].count("inspect confirm")
    moved = _marker(db, "3643002Q", history=True)
    return (record["status"], record["confirmed_a_by"], record["confirmed_b_by"], submissions, actions,
            len(moved), sorted(moved["status"]), len(_marker(db, "3643900Q", history=True)))


def test_kill_9_inside_the_completing_confirmation_changes_nothing(loaded, tmp_path, capsys, jx_markers):
    db = loaded
    before = _marker(db, "3643002Q").geometry.iloc[0]
    rid = str(run_cli(capsys, "--db", db, "inspect", "new", "--line", "3643", "--json")[1]["fid"])
    table = tmp_path / "t.csv"
    moved = _findings_table(table, jx_markers)
    assert run_cli(capsys, "--db", db, "inspect", "import", rid, table)[0] == 0
    assert run_cli(capsys, "--db", db, "inspect", "submit", rid, "--side", "360000")[0] == 0
    assert run_cli(capsys, "--db", db, "inspect", "confirm", rid, "--side", "430000", "--user", "李四")[0] == 0
    waiting = _state(db, rid)
    assert waiting == ("submitted", None, "李四", 2, 1, 1, ["current"], 0)
    for point in POINTS:
        assert _confirm(db, rid, point) == -signal.SIGKILL, point
        assert _state(db, rid) == waiting, f"killed at {point}"
        assert _marker(db, "3643002Q").geometry.iloc[0].equals(before)
    assert _confirm(db, rid) == 0  # the database is usable, and the round applies once
    assert _state(db, rid) == ("confirmed", "赵六", "李四", 3, 2, 2, ["current", "superseded"], 1)
    assert _marker(db, "3643002Q").geometry.iloc[0].x == pytest.approx(moved[0], abs=1e-7)
