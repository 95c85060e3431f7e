#!/usr/bin/env python
"""As-of queries and the change report on the national demo (issue 15), side by side with the query of what
is current.

Usage: ``python scripts/bench_asof.py [--db postgresql://…] [--runs 15] [--province 360000]``
(default: a GeoPackage in a temporary folder).

What it does:

1. loads the national demo (``data/demo``: every province's submission) with the legal date 2017-01-01,
   then the chosen province's submission again from 2021-01-01 (every one of its lines and markers gets a
   second version: the history an as-of query has to choose from);
2. times, interleaved (current, as of, current, …), ``Store.query`` of the province's markers and lines as
   they are now and as of 2019-06-30 (the first versions, superseded since), and prints the medians and
   min–max in milliseconds and the ratio as-of / current;
3. times ``change_report`` between 2019-06-30 and 2022-01-01 for the province (every line and marker of it
   has a new version; the geometry is the same, so this is the cost of reading both states and comparing
   them, without deviating stretches to trace).

Figures are of one run on this machine (say the load when quoting them); nothing is timed in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ms(samples: list[float]) -> str:
    median, low, high = (v * 1000 for v in (statistics.median(samples), min(samples), max(samples)))
    return f"median {median:7.1f} ms  (min {low:.1f}, max {high:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a postgresql:// URL of an empty database (default: a temporary GeoPackage)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--province", default="360000")
    args = parser.parse_args()

    from boundaries.changes import change_report
    from boundaries.demo import demo_dir
    from boundaries.pipeline import ingest_paths
    from boundaries.store import open_store

    folder = tempfile.TemporaryDirectory(prefix="bench-asof-")
    db = args.db or os.path.join(folder.name, "asof.gpkg")
    root = demo_dir()
    entries = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["submissions"]
    started = time.perf_counter()
    for entry in entries:
        ingest_paths([root / p for p in entry["paths"]], entry["province"], db=db, user="bench", progress=False,
                     valid_from="2017-01-01")
    mine = next(e for e in entries if e["province"] == args.province)
    ingest_paths([root / p for p in mine["paths"]], args.province, db=db, user="bench", progress=False,
                 valid_from="2021-01-01")
    print(f"loaded {len(entries)} submissions and {args.province} again in {time.perf_counter() - started:.0f} s "
          f"({db})")
    with open_store(db) as store:
        print(f"versions: {len(store.read_layer('lines', history=True))} lines, "
              f"{len(store.read_layer('markers', history=True))} markers")
        for layer in ("markers", "lines"):
            now, then = [], []
            for _ in range(args.runs):
                for samples, at in ((now, None), (then, "2019-06-30")):
                    t0 = time.perf_counter()
                    page = store.query(layer, province=args.province, at=at, count=False)
                    samples.append(time.perf_counter() - t0)
            counted = len(store.query(layer, province=args.province, count=False).features)
            print(f"{layer:8s} current  {_ms(now)}   ({counted} features)")
            print(f"{layer:8s} as of    {_ms(then)}   ({len(page.features)} features)   "
                  f"ratio as-of/current {statistics.median(then) / statistics.median(now):.2f}")
        reports = []
        for _ in range(max(3, args.runs // 5)):
            t0 = time.perf_counter()
            report = change_report(store, args.province, "2019-06-30", "2022-01-01")
            reports.append(time.perf_counter() - t0)
        print(f"change report {args.province} 2019-06-30 → 2022-01-01: {_ms(reports)}   {report['summary']}")
    folder.cleanup()


if __name__ == "__main__":
    main()
