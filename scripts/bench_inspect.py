"""Joint inspection rounds on a real database: how long each step takes, and what the overview's calendar costs.

    python scripts/bench_inspect.py --db quhua-demo.gpkg [--pg postgresql://…/db] [--repeat 5]

On a copy of each database (the GeoPackage copied; on PostGIS a database made from ``--pg`` with
``CREATE DATABASE … TEMPLATE``, dropped afterwards) it picks the inter-provincial line with the most stored
markers and runs ``--repeat`` rounds of it through the core (what ``quhua inspect`` and the web pages call):
plan, import a GBK findings table in which every marker is 重测 (re-surveyed) 1 m east, submit, the first
side's confirmation (nothing applied) and the second's (every marker revised: old row closed, new inserted,
one transaction). Then the overview (``/`` as an anonymous reader, its map cached) with and without its
calendar table, interleaved. Prints medians and min–max in milliseconds, and the ratios.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _stats(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms ({min(values) * 1000:.1f}–{max(values) * 1000:.1f})"


def _busiest_line(store) -> tuple[str, int]:
    rows = store.fetch("SELECT line_id, count(*) FROM markers WHERE status = 'current' AND line_id IS NOT NULL "
                       "GROUP BY line_id ORDER BY count(*) DESC")
    lines = {r[0] for r in store.fetch("SELECT line_id FROM lines WHERE status = 'current' AND "
                                       "substr(left_code, 1, 2) <> substr(right_code, 1, 2)")}
    return next((line, int(n)) for line, n in rows if line in lines)


def bench_rounds(db: str, repeat: int, folder: Path) -> dict[str, list[float]]:
    from boundaries import inspection as core
    from boundaries.store import open_store

    times: dict[str, list[float]] = {k: [] for k in ("new", "import", "submit", "confirm 1", "confirm 2")}
    with open_store(db) as store:
        line, count = _busiest_line(store)
        print(f"  line {line}: {count} markers", file=sys.stderr)
        for _ in range(repeat):
            markers = store.query("markers", properties={"line_id": line}).features
            table = folder / "findings.csv"
            rows = ["界桩编号,界桩状况,经度,纬度,备注"]
            for row in markers.drop_duplicates("marker_id").itertuples():
                lon = row.geometry.x + 1.0 / (111_320 * math.cos(math.radians(row.geometry.y)))
                rows.append(f"{row.marker_id},重测,{lon:.9f},{row.geometry.y:.9f},复测")
            table.write_bytes("\n".join(rows).encode("gbk"))
            start = time.perf_counter()
            record = core.create_round(store, [line], user="bench")
            times["new"].append(time.perf_counter() - start)
            start = time.perf_counter()
            core.record_findings(store, record["fid"], core.read_findings_table(table), user="bench",
                                 source=table.name)
            times["import"].append(time.perf_counter() - start)
            a, b = core.round_provinces(record)
            for key, step, side in (("submit", core.submit, a), ("confirm 1", core.confirm, a),
                                    ("confirm 2", core.confirm, b)):
                start = time.perf_counter()
                step(store, record["fid"], side=side, user="bench")
                times[key].append(time.perf_counter() - start)
    return times


def bench_overview(db: str, repeat: int, folder: Path) -> tuple[list[float], list[float]]:
    """``/`` with the calendar and without it (the template's ``inspection_due_html`` giving nothing)."""
    from webmap import create_app

    app = create_app({"QUHUA_DB": db, "TESTING": True, "SECRET_KEY": "bench", "UPLOAD_DIR": str(folder / "up")})
    client = app.test_client()
    assert client.get("/").status_code == 200  # the map and the calendar computed once: cached from here
    processors = app.template_context_processors[None]
    real = next(p for p in processors if getattr(p, "__name__", "") == "_due_for_templates")
    with_calendar: list[float] = []
    without: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        assert client.get("/").status_code == 200
        with_calendar.append(time.perf_counter() - start)
        index = processors.index(real)
        processors[index] = lambda: {"inspection_due_html": lambda: ""}
        start = time.perf_counter()
        assert client.get("/").status_code == 200
        without.append(time.perf_counter() - start)
        processors[index] = real
    return with_calendar, without


def due_compute(db: str, repeat: int) -> list[float]:
    from boundaries import inspection as core
    from boundaries.store import open_store

    out = []
    with open_store(db) as store:
        for _ in range(repeat):
            start = time.perf_counter()
            rows = core.due_table(store)
            out.append(time.perf_counter() - start)
    print(f"  calendar: {len(rows)} inter-provincial lines", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a GeoPackage filled with `quhua demo` (copied, not changed)")
    parser.add_argument("--pg", help="a PostGIS database filled likewise (used as a template, not changed)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        folder = Path(tmp)
        targets = []
        copy = folder / "copy.gpkg"
        shutil.copy(args.db, copy)
        targets.append(("GeoPackage", str(copy)))
        if args.pg:
            from tests.conftest import clone_database

            targets.append(("PostGIS", clone_database(args.pg, "bench_inspect")))
        results = {}
        try:
            for name, db in targets:
                print(f"{name}:", file=sys.stderr)
                results[name] = (bench_rounds(db, args.repeat, folder), due_compute(db, args.repeat),
                                 bench_overview(db, args.repeat, folder))
        finally:
            if args.pg:
                from tests.conftest import drop_database

                drop_database(targets[-1][1])
    for name, (steps, due, (with_calendar, without)) in results.items():
        print(f"\n{name} (median, min–max of {args.repeat})")
        for step, values in steps.items():
            print(f"  {step:<10} {_stats(values)}")
        print(f"  calendar computed       {_stats(due)}")
        print(f"  / with calendar         {_stats(with_calendar)}")
        print(f"  / without calendar      {_stats(without)}")
        print(f"  ratio with ÷ without    {statistics.median(with_calendar) / statistics.median(without):.2f}×")
    if len(results) == 2:
        (_, (g, *_)), (_, (p, *_)) = results.items()
        print("\nPostGIS ÷ GeoPackage per step: " + ", ".join(
            f"{k} {statistics.median(p[k]) / statistics.median(g[k]):.2f}×" for k in g))


if __name__ == "__main__":
    main()
