"""CSV exports neutralise spreadsheet formulas (OWASP CSV injection): a cell that starts with = + - @, a tab
or a carriage return gets a leading apostrophe, so Excel/WPS/LibreOffice show it as text."""

from __future__ import annotations

import csv

from tests.conftest import run_cli, write_shapefiles

HOSTILE = ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x.example\",\"点此\")", "@SUM(1+1)*cmd|' /C calc'!A0",
           "+1+1", "-2+3", "\t=1+1", "\r=1+1"]


def test_csv_export_of_hostile_line_names_is_inert(capsys, tmp_path, db_url, jx_lines, jx_markers):
    lines = jx_lines.copy()
    lines["name"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(lines))]
    names = HOSTILE[:len(lines)]
    paths = write_shapefiles(tmp_path / "江西", lines, jx_markers, encoding="UTF-8", cpg=True)
    assert run_cli(capsys, "--db", db_url, "ingest", "--province", "360000", *paths)[0] in (0, 1)
    out = tmp_path / "lines.csv"
    assert run_cli(capsys, "--db", db_url, "export", "lines", "--format", "csv", "-o", out)[0] == 0
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["name"] for r in rows) == sorted("'" + n for n in names)
    for row in rows:  # no other cell starts a formula either (the WKT, ids, numbers stay as they were)
        assert not any(v[:1] in ("=", "+", "@", "\t", "\r") for v in row.values() if v), row
    assert all("LINESTRING (" in r["WKT"] for r in rows)
