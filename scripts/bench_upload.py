#!/usr/bin/env python
"""Does an upload's check stall the viewer? ``/healthz`` latency while heavy uploads are checked, beside a
baseline quhua that checks in the request thread.

Usage: ``python scripts/bench_upload.py [--uploads 8] [--threads 4] [--baseline DIR]``

The upload: 江西's side of the real 江西–湖南 line densified to a vertex every 0.0001° (about 69,000 vertices,
1.4 MB) with a marker every 800 m, against 湖南's stored side of it (``line.neighbor_mismatch`` compares them
vertex by vertex): valid, accepted, a few CPU seconds to check. ``quhua serve`` (waitress, ``--threads``) runs
on 127.0.0.1 over a fresh GeoPackage, once from this tree and once from ``--baseline`` (a checkout of quhua
before the checks moved to worker processes, e.g. ``git archive e4da53e | tar -x -C /tmp/base``). The
``--uploads`` surveyors' sessions, logged in beforehand, upload at once; meanwhile /healthz is asked ten
times a second (30 s timeout, a timeout counted as 30 s). Printed per tree: /healthz p50 / p95 / max, the
seconds until every upload's report was there, and the ratios. Only 127.0.0.1 is contacted; the run stops by itself.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password"
sys.path.insert(0, str(ROOT / "scripts"))
from bench_web import running_server  # noqa: E402 - scripts/ is not a package

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _prepare(folder: Path) -> tuple[str, list[Path]]:
    """A GeoPackage with 湖南's side of 3643 and a surveyor ``jx``; the heavy submission's files."""
    import geopandas as gpd
    import shapely

    from boundaries.pipeline import ingest_paths
    from boundaries.store import open_store
    from tests.conftest import markers_along, real_boundary, write_shapefiles
    from webmap.users import UserStore

    db = str(folder / "bench.gpkg")
    line = real_boundary("360000", "430000")
    hunan = gpd.GeoDataFrame({"line_id": ["3643"], "left_code": ["430000"], "right_code": ["360000"],
                              "name": ["湖南—江西线"]}, geometry=[line], crs=4490)
    assert ingest_paths(write_shapefiles(folder / "hn", hunan, None, stem="湖南省"), "430000", db=db,
                        progress=False).submission_id
    with open_store(db) as store:
        UserStore(store).add("jx", PASSWORD, "surveyor", "360000")
    dense = gpd.GeoDataFrame({"line_id": ["3643"], "left_code": ["360000"], "right_code": ["430000"],
                              "name": ["江西—湖南线"]}, geometry=[shapely.segmentize(line, 0.0001)], crs=4490)
    paths = write_shapefiles(folder / "jx", dense, markers_along(line, "3643", every_m=800))
    files = [p for shp in paths for p in sorted(shp.parent.glob(shp.stem + ".*"))]
    return db, files


def _session(base: str):
    """A logged-in session (before the clock starts: a login's password hash costs ~0.5 s of CPU)."""
    import requests

    session = requests.Session()
    token = _CSRF.search(session.get(base + "/login", timeout=30).text).group(1)
    session.post(base + "/login", data={"username": "jx", "password": PASSWORD, "csrf_token": token}, timeout=60)
    return session


def _upload(session, base: str, files: list[Path], done: list[float], started: float) -> None:
    token = _CSRF.search(session.get(base + "/upload", timeout=300).text).group(1)
    answer = session.post(base + "/upload", data={"csrf_token": token}, allow_redirects=False, timeout=600,
                          files=[("files", (f.name, f.read_bytes())) for f in files])
    if answer.status_code == 303:  # a worker checks it: wait for its report
        job = base + answer.headers["Location"]
        while not session.get(job + "/status.json", timeout=60).json()["finished"]:
            time.sleep(0.2)
        answer = session.get(job, timeout=60)
    assert answer.status_code == 200 and 'id="verdict"' in answer.text, answer.text[:300]
    done.append(time.monotonic() - started)


def run(tree: Path, uploads: int, threads: int, db_source: str, files: list[Path], folder: Path) -> dict:
    """Serve ``tree`` over a copy of the database; the /healthz latencies while ``uploads`` are checked."""
    import shutil

    db = folder / f"{tree.name or 'tree'}-{time.monotonic_ns()}.gpkg"
    shutil.copy(db_source, db)
    env = {**os.environ, "PYTHONPATH": str(tree), "QUHUA_UPLOAD_DIR": str(folder / f"up-{db.stem}")}
    with running_server(db, "--threads", str(threads), env=env, cwd=tree) as (base, _server):
        done: list[float] = []
        sessions = [_session(base) for _ in range(uploads)]
        started = time.monotonic()
        workers = [threading.Thread(target=_upload, args=(session, base, files, done, started))
                   for session in sessions]
        for worker in workers:
            worker.start()
        latencies, slowest_at = [], (0.0, 0.0)
        while any(w.is_alive() for w in workers):
            asked = time.monotonic()
            try:
                urllib.request.urlopen(base + "/healthz", timeout=30)
                latencies.append(time.monotonic() - asked)
            except OSError:
                latencies.append(30.0)
            slowest_at = max(slowest_at, (latencies[-1], asked - started))
            time.sleep(0.1)
        for worker in workers:
            worker.join()
        latencies.sort()
        return {"p50": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))],
                "max": latencies[-1], "max_at": slowest_at[1], "asked": len(latencies), "reports": len(done),
                "all_done_s": max(done) if done else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="waitress threads")
    parser.add_argument("--baseline", type=Path, help="a quhua tree that checks in the request thread")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db, files = _prepare(folder)
        trees = [("this tree (worker processes)", ROOT)]
        if args.baseline:
            trees.append(("baseline (request thread)", args.baseline.resolve()))
        results = {label: run(tree, args.uploads, args.threads, db, files, folder) for label, tree in trees}
    print(f"{args.uploads} uploads of a 69,000-vertex line at once, waitress {args.threads} threads")
    print(f"{'server':<30} {'healthz p50 ms':>15} {'p95 ms':>8} {'max ms':>8} {'max at s':>8} {'asked':>6} "
          f"{'reports':>8} {'all done s':>10}")
    for label, r in results.items():
        print(f"{label:<30} {r['p50'] * 1000:>15.0f} {r['p95'] * 1000:>8.0f} {r['max'] * 1000:>8.0f} "
              f"{r['max_at']:>8.1f} {r['asked']:>6} {r['reports']:>8} {r['all_done_s']:>10.1f}")
    if len(results) == 2:
        ours, base = results.values()
        print(f"baseline / this tree: healthz max {base['max'] / ours['max']:.0f}×, "
              f"p95 {base['p95'] / ours['p95']:.0f}×, all reports {base['all_done_s'] / ours['all_done_s']:.2f}×")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
