"""Time and peak memory of ingesting the national demo, beside GDAL's own copy of the same files.

    .venv/bin/python scripts/bench_ingest.py [--rules]

quhua's ingest reads every province's shapefiles (encoding detection, field aliases, Gauss-Krüger →
CGCS2000), records the submission and writes lines and markers into a fresh GeoPackage, one transaction per
province. Without ``--rules`` the QA rules are switched off, which is what the issue's target compares
(within 3× of GDAL's plain copy); with ``--rules`` every rule runs too. GDAL's side is ``ogr2ogr`` (from
Debian's ``gdal-bin``) appending each file to a GeoPackage with reprojection to EPSG:4490 — the plain
copy, with none of quhua's reading or checking. Each side runs in a child process so that its peak
resident memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"


def _submissions() -> list[dict]:
    return json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))["submissions"]


def _quhua_worker(db: Path, rules: bool) -> dict:
    from boundaries.config import load_config
    from boundaries.pipeline import check
    from boundaries.readers import read_submission
    from boundaries.store import open_store

    config = load_config()
    if not rules:
        for settings in config.rules.values():
            settings["enabled"] = False
    features = 0
    start = time.perf_counter()
    with open_store(str(db)) as store:
        store.init()
        for entry in _submissions():
            submission = read_submission([DEMO / p for p in entry["paths"]], entry["province"])
            report, sid = store.ingest(submission, lambda s, sub=submission: check(sub, s, config), user="bench")
            if sid is None:
                raise SystemExit(f"{entry['province']} not accepted: {report['summary']}")
            features += len(submission.lines) + len(submission.markers)
    return {"seconds": time.perf_counter() - start, "features": features}


def _gdal_sources(path: Path) -> list[str]:
    """What ogr2ogr opens for a manifest path: each shapefile of a folder, a zip through /vsizip/."""
    if path.is_dir():
        return [str(p) for p in sorted(path.glob("*.shp"))]
    return [f"/vsizip/{path}" if path.suffix == ".zip" else str(path)]


def _ogr2ogr_worker(db: Path) -> dict:
    start = time.perf_counter()
    for entry in _submissions():
        for path in entry["paths"]:
            for source in _gdal_sources(DEMO / path):
                subprocess.run(["ogr2ogr", "-f", "GPKG", "-append", "-t_srs", "EPSG:4490", str(db), source],
                               check=True, capture_output=True)
    return {"seconds": time.perf_counter() - start}


def _pyogrio_worker(db: Path) -> dict:
    """GDAL's copy without process start-up: read each layer and append it to a GeoPackage in-process."""
    import pyogrio

    start = time.perf_counter()
    for entry in _submissions():
        for path in entry["paths"]:
            for source in _gdal_sources(DEMO / path):
                frame = pyogrio.read_dataframe(source).to_crs(4490)
                layer = "lines" if frame.geom_type.iloc[0].endswith("LineString") else "markers"
                pyogrio.write_dataframe(frame, db, layer=layer, append=db.exists(), promote_to_multi=True)
    return {"seconds": time.perf_counter() - start}


def _run_child(kind: str, rules: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, __file__, "--worker", kind, "--db", str(Path(tmp) / "bench.gpkg")]
        if rules:
            args.append("--rules")
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["size_mb"] = (Path(tmp) / "bench.gpkg").stat().st_size / 1e6
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", action="store_true", help="also run every QA rule during the ingest")
    parser.add_argument("--worker", choices=["quhua", "ogr2ogr", "pyogrio"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        workers = {"quhua": lambda: _quhua_worker(args.db, args.rules), "ogr2ogr": lambda: _ogr2ogr_worker(args.db),
                   "pyogrio": lambda: _pyogrio_worker(args.db)}
        result = workers[args.worker]()
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    entries = _submissions()
    print(f"national demo: {len(entries)} province submissions")
    quhua = _run_child("quhua", args.rules)
    label = "quhua ingest" + (" with every rule" if args.rules else " (rules off)")
    print(f"{label:32s} {quhua['seconds']:7.2f} s  peak {quhua['peak_mb']:6.0f} MB  "
          f"{quhua['features']} features  db {quhua['size_mb']:.1f} MB")
    inproc = _run_child("pyogrio", False)
    print(f"{'GDAL in-process (pyogrio) copy':32s} {inproc['seconds']:7.2f} s  peak {inproc['peak_mb']:6.0f} MB  "
          f"db {inproc['size_mb']:.1f} MB")
    print(f"ratio quhua / GDAL in-process: {quhua['seconds'] / inproc['seconds']:.2f}×")
    if shutil.which("ogr2ogr") is None:
        print("ogr2ogr not found: apt-get install gdal-bin to compare with GDAL's plain copy")
        return
    gdal = _run_child("ogr2ogr", False)
    print(f"{'ogr2ogr copy to GeoPackage':32s} {gdal['seconds']:7.2f} s  "
          f"(one process per file; peak of the driver script {gdal['peak_mb']:.0f} MB)  db {gdal['size_mb']:.1f} MB")
    print(f"ratio quhua / ogr2ogr: {quhua['seconds'] / gdal['seconds']:.2f}×")


if __name__ == "__main__":
    main()
