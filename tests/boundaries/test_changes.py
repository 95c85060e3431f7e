"""The change report (issue 15) checked against the planted second survey of the real 江西 lines
(:mod:`tests.boundaries.planted`: a marker moved 37.5 m, two lost, one added, a 1.2 km stretch shifted 30 m),
from the core, ``quhua changes`` and its JSON and XLSX files, on both databases."""

from __future__ import annotations

import json

import openpyxl
import pytest

from boundaries.changes import change_report
from boundaries.store import open_store
from tests.boundaries import planted
from tests.boundaries.conftest import cli


def _check_figures(report: dict, jx_lines) -> None:
    """The report's figures are the planted changes."""
    assert report["summary"] == {"markers_added": 1, "markers_removed": 2, "markers_moved": 1,
                                 "markers_unchanged": 107, "lines_added": 0, "lines_removed": 0, "lines_changed": 1}
    assert [m["marker_id"] for m in report["markers"]["added"]] == [planted.ADDED_ID]
    assert [m["marker_id"] for m in report["markers"]["removed"]] == list(planted.LOST_IDS)
    (moved,) = report["markers"]["moved"]
    assert moved["marker_id"] == planted.MOVED_ID and moved["zone_epsg"] == 4547
    assert moved["moved_m"] == pytest.approx(planted.MOVED_M, abs=0.002)  # planted in EPSG:4547 itself
    (line,) = report["lines"]["changed"]
    assert (line["line_id"], line["province"], line["zone_epsg"]) == ("3643", "360000", 4547)
    (stretch,) = line["stretches"]
    assert stretch["deviation_m"] == pytest.approx(planted.SHIFT_M, abs=0.05)
    assert line["max_deviation_m"] == pytest.approx(planted.SHIFT_M, abs=0.05)
    # the old line deviates along the shifted 1.2 km less the ends where the new one is within 5 m of it;
    # along the new line the stretch also holds the two 30 m steps to and from the parallel
    assert planted.STRETCH_M - 20 <= stretch["old_m"] <= planted.STRETCH_M
    steps = 2 * planted.SHIFT_M
    assert planted.STRETCH_M + steps - 15 <= stretch["length_m"] <= planted.STRETCH_M + steps
    _new, start = planted.shifted_line(jx_lines.set_index("line_id").geometry[planted.LINE_ID])
    assert stretch["from_m"] == pytest.approx(start, abs=10)


def test_the_core_report_finds_the_planted_changes(surveyed, jx_lines):
    with open_store(surveyed) as store:
        report = change_report(store, "360000", "2019-06-30", "2022-01-01")
        _check_figures(report, jx_lines)
        assert (report["from"], report["to"], report["tolerance_m"]) == ("2019-06-30", "2022-01-01", 5.0)
        # nothing changed between two days of the same agreement
        calm = change_report(store, "360000", "2018-01-01", "2020-01-01")
        assert calm["summary"]["markers_unchanged"] == 110 and not calm["lines"]["changed"]
        assert sum(v for k, v in calm["summary"].items() if k != "markers_unchanged") == 0
        # before the first agreement nothing held: everything is added
        first = change_report(store, "360000", "2016-01-01", "2019-06-30")
        assert (first["summary"]["markers_added"], first["summary"]["lines_added"]) == (110, 2)
        # a larger tolerance than the shift: the line has changed, but no stretch beyond it
        loose = change_report(store, "360000", "2019-06-30", "2022-01-01", tolerance_m=40)
        assert loose["lines"]["changed"][0]["stretches"] == []


def test_quhua_changes_between_dates_and_between_submissions(surveyed, capsys, tmp_path, jx_lines):
    out = tmp_path / "report.json"
    code, text, err = cli(capsys, "--db", surveyed, "changes", "--province", "360000", "--from", "2019-06-30",
                          "--to", "2022-01-01", "-o", out)
    assert code == 0, err
    assert "移位\t3643005Q" in text and "37.500 m（EPSG:4547）" in text
    assert "丢失或撤除 2" in text and str(out) in err
    _check_figures(json.loads(out.read_text(encoding="utf-8")), jx_lines)
    code, text, _ = cli(capsys, "--db", surveyed, "--lang", "en", "changes", "--province", "360000",
                        "--from-submission", "1", "--to-submission", "2", "--json")
    report = json.loads(text)
    assert code == 0 and (report["from"], report["to"]) == ("2017-05-01", "2021-03-15")
    _check_figures(report, jx_lines)


@pytest.mark.parametrize("args, message", [
    (("--from", "2022-01-01", "--to", "2019-06-30"), "must be after --from"),
    (("--from", "2019-06-31", "--to", "2022-01-01"), "--from '2019-06-31' is not a date"),
    (("--from", "2019-06-30"), "give --from and --to"),
    (("--from-submission", "7", "--to", "2022-01-01"), "no stored submission 7"),
    (("--from", "2019-06-30", "--to", "2022-01-01", "-o", "report.docx"), "as .json, .xlsx or .pdf"),
])
def test_bad_arguments_are_clear_errors_exit_2(surveyed, capsys, tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith(".docx") else a for a in args]
    code, text, err = cli(capsys, "--db", surveyed, "--lang", "en", "changes", "--province", "360000", *args)
    assert code == 2 and message in err and "Traceback" not in err and not text
    code, _, err = cli(capsys, "--db", surveyed, "changes", "--province", "360000", *args)
    assert code == 2 and any("\u4e00" <= c <= "\u9fff" for c in err)  # the Chinese message by default
    assert not list(tmp_path.glob("report.*"))


def test_the_xlsx_workbook_has_the_marker_table_with_conditions(surveyed, capsys, tmp_path, jx_markers):
    out = tmp_path / "变化.xlsx"
    assert cli(capsys, "--db", surveyed, "changes", "--province", "360000", "--from", "2019-06-30", "--to",
               "2022-01-01", "-o", out)[0] == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["汇总", "界桩成果表", "界线变化"]
    rows = list(book["界桩成果表"].values)
    header, body = rows[0], rows[1:]
    assert header[:8] == ("界桩编号", "类型", "所在界线", "X（纵坐标）", "Y（横坐标）", "经度", "纬度", "状况")
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    assert len(body) == 111  # 109 in force on the later date and the two lost
    assert by_id[planted.ADDED_ID]["状况"] == "新设" and by_id[planted.MOVED_ID]["状况"] == "移位"
    assert by_id[planted.MOVED_ID]["移动距离（米）"] == pytest.approx(37.5, abs=0.002)
    assert {by_id[i]["状况"] for i in planted.LOST_IDS} == {"丢失或撤除"}
    assert by_id["3643001Q"]["状况"] == "未变"
    # the declared coordinates (X northing, Y easting of the zone, as delivered) and lon/lat
    first = jx_markers.set_index("marker_id").to_crs(4547).geometry["3643001Q"]
    assert by_id["3643001Q"]["X（纵坐标）"] == pytest.approx(first.y, abs=0.001)
    assert by_id["3643001Q"]["Y（横坐标）"] == pytest.approx(first.x, abs=0.001)
    lines = list(book["界线变化"].values)
    assert lines[1][0] == "3643" and lines[1][3] == "EPSG:4547" and lines[1][4] == pytest.approx(30, abs=0.05)
    summary = dict(list(book["汇总"].values))
    assert summary["移位界桩"] == 1 and summary["丢失或撤除的界桩"] == 2 and summary["新增界桩"] == 1


def test_formula_text_in_the_workbook_is_neutralised(surveyed, tmp_path):
    """Text a spreadsheet would run as a formula (a marker type, a line name from a submission) is written as
    text, as the CSV export does; numbers stay numbers."""
    from boundaries.changes import write_xlsx

    with open_store(surveyed) as store:
        report = change_report(store, "360000", "2019-06-30", "2022-01-01")
    report["markers"]["added"][0]["marker_type"] = '=HYPERLINK("http://x")'
    report["lines"]["changed"][0]["name"] = "@SUM(1)"
    write_xlsx(report, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    rows = {r[0]: r for r in list(book["界桩成果表"].values)[1:]}
    assert rows[planted.ADDED_ID][1] == "'=HYPERLINK(\"http://x\")" and isinstance(rows[planted.ADDED_ID][3], float)
    assert list(book["界线变化"].values)[1][1] == "'@SUM(1)"


def test_the_pdf_report_lists_the_changes_and_has_a_signature_box_for_each_side(surveyed, capsys, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    out = tmp_path / "变化.pdf"
    assert cli(capsys, "--db", surveyed, "changes", "--province", "360000", "--from", "2019-06-30", "--to",
               "2022-01-01", "-o", out)[0] == 0
    reader = pypdf.PdfReader(out)
    first, *rest = [page.extract_text() for page in reader.pages]
    assert "江西（360000）界线界桩变化报告" in first and "法定时间 2019-06-30 → 2022-01-01" in first
    assert "丢失或撤除 2" in first and "移位 1" in first and "1259.3" in first and "30.00" in first
    # both sides of the changed line sign: 江西 and 湖南
    assert "江西（360000）" in first and "湖南（430000）" in first and first.count("代表（签字）") == 2
    table = "".join(rest)
    assert planted.MOVED_ID in table and "37.500" in table and planted.ADDED_ID in table
    assert all(i in table for i in planted.LOST_IDS) and "3643001Q" not in table  # unchanged: not listed
    assert cli(capsys, "--db", surveyed, "--lang", "en", "changes", "--province", "360000", "--from", "2019-06-30",
               "--to", "2022-01-01", "-o", tmp_path / "en.pdf")[0] == 0
    english = pypdf.PdfReader(tmp_path / "en.pdf").pages[0].extract_text()
    assert "Changes of the boundary lines and markers of province 360000" in english and "Signatures" in english
