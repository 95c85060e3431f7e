"""Issue 16.3: a township-scale synthetic network checked on Dask with local workers, beside the single process.

    python scripts/bench_dask.py [--n 707] [--workers 2] [--partition-vertices 400000] [--worker-memory 4GB]
                                 [--repeat 2] [--no-single] [--data DIR]

Builds ``scripts/synth_grid.py``'s n × n grid once (n = 707: about 1.0 M lines and 20 M vertices, every planted
defect) into a GeoPackage in ``--data`` (kept and reused; the grid is built in a child process, so its Python
lists are freed before anything is measured). Then, interleaved ``--repeat`` times, each in a fresh child
process: the single-process rules (:func:`boundaries.rules.run_rules`) and
:func:`boundaries.distributed.run_rules_distributed` on a LocalCluster of ``--workers`` worker processes. Each
child reads the GeoPackage (pyogrio, projected to EPSG:4490; not timed: the same in both; not through
``quhua check``'s reader, which refuses a 707 km grid as lying beyond 江西, its submitting province), then
times the rules alone (on Dask: planning, sending, the workers' rules and the merge; the cluster's start
apart), and reports its own peak resident memory (``VmHWM``) and, on Dask, each worker's. Prints medians
and min–max side by side, the ratio, and whether the two reports are identical (a SHA-256 of every issue as
reported).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _peak_mb() -> float:
    """This process's peak resident memory (Linux ``VmHWM``: per process image, where ``ru_maxrss`` would
    carry a spawned worker's parent's peak across its exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int, path: Path) -> dict:
    """The grid as a GeoPackage (in this process: run it as a child)."""
    from synth_grid import make_grid, write_gpkg

    began = time.perf_counter()
    lines, markers = make_grid(n)
    vertices = int(lines.geometry.count_coordinates().sum())
    write_gpkg(lines, markers, path)
    return {"lines": len(lines), "markers": len(markers), "vertices": vertices,
            "seconds": time.perf_counter() - began, "peak_mb": _peak_mb()}


def _submission(path: Path):
    """The grid's lines and markers in EPSG:4490 with the fields and sources quhua's reader gives them."""
    import numpy as np
    import pyogrio

    from boundaries.model import Submission

    lines = pyogrio.read_dataframe(path, layer="lines").to_crs(4490)
    markers = pyogrio.read_dataframe(path, layer="markers").to_crs(4490)
    lines = lines.assign(name=None, source_file=f"{path.name}:lines", source_row=np.arange(1, len(lines) + 1))
    markers = markers.assign(line_id=None, x=np.nan, y=np.nan, lon=np.nan, lat=np.nan, h=np.nan,
                             source_file=f"{path.name}:markers", source_row=np.arange(1, len(markers) + 1))
    return Submission("360000", lines=lines.drop(columns="defect"), markers=markers.drop(columns="defect"),
                      declared_crs="EPSG:4548",
                      layers=[{"source": f"{path.name}:markers", "layer": "markers", "crs": "EPSG:4548"}])


def measure(mode: str, path: Path, workers: int, partition_vertices: int, worker_memory: str | None) -> dict:
    """One measurement (in this process: run it as a child)."""
    import hashlib

    from synth_grid import MARKER_ID_PATTERN

    from boundaries.config import load_config
    from boundaries.rules import CheckContext, run_rules
    from boundaries.store import empty_layer

    submission = _submission(path)
    config = load_config()
    config.marker_id_pattern = MARKER_ID_PATTERN
    context = CheckContext(submission, empty_layer("lines"), empty_layer("markers"), config.settings())
    out = {"mode": mode, "read_peak_mb": _peak_mb()}
    if mode == "single":
        began = time.perf_counter()
        issues = run_rules(context, config)
        out["seconds"] = time.perf_counter() - began
    else:
        from boundaries.distributed import open_scheduler, run_rules_distributed

        began = time.perf_counter()
        with open_scheduler(f"local:{workers}", worker_memory=worker_memory) as scheduler:
            out["start_s"] = time.perf_counter() - began
            parts = []
            began = time.perf_counter()
            issues = run_rules_distributed(context, config, scheduler, partition_vertices=partition_vertices,
                                           progress=lambda step, done, total, what: parts.append(total))
            out["seconds"] = time.perf_counter() - began
            out["partitions"] = max(parts, default=0)
            out["worker_peak_mb"] = sorted(scheduler.client.run(_peak_mb).values())
            limits = [w["memory_limit"] for w in scheduler.client.scheduler_info()["workers"].values()]
            out["worker_limit_mb"] = round(min(limits) / 2**20)
    digest = hashlib.sha256()
    for issue in issues:
        digest.update(json.dumps([issue.to_json("zh"), issue.message_en], ensure_ascii=False).encode())
    out |= {"issues": len(issues), "sha256": digest.hexdigest(), "peak_mb": _peak_mb()}
    return out


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spread(values: list[float], unit: str = "s", digits: int = 1) -> str:
    if not values:
        return "–"
    return (f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"
            if len(values) > 1 else f"{values[0]:.{digits}f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=707, help="grid cells per side (707: about 20 M vertices)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partition-vertices", type=int, default=400_000)
    parser.add_argument("--worker-memory", default=None, help="each worker's memory limit (default: auto)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-single", action="store_true", help="Dask only (when one process does not fit)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/quhua-bench-dask"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child[0], Path(args.child[1])
        result = build(args.n, path) if kind == "build" else measure(
            kind, path, args.workers, args.partition_vertices, args.worker_memory)
        print(json.dumps(result))
        return
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.data / f"synth_{args.n}.gpkg"
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        print(f"building the {args.n} × {args.n} grid into {path} …", file=sys.stderr)
        meta_path.write_text(json.dumps(_child("--n", str(args.n), "--child", "build", str(path))))
    meta = json.loads(meta_path.read_text())
    print(f"grid {args.n} × {args.n}: {meta['lines']:,} lines, {meta['vertices']:,} vertices, {meta['markers']:,} "
          f"markers (built in {meta['seconds']:.0f} s, {meta['peak_mb']:.0f} MB)", file=sys.stderr)
    common = ["--n", str(args.n), "--workers", str(args.workers), "--partition-vertices",
              str(args.partition_vertices)] + (["--worker-memory", args.worker_memory] if args.worker_memory else [])
    runs: dict[str, list[dict]] = {"single": [], "dask": []}
    for k in range(args.repeat):
        for mode in ("dask",) if args.no_single else ("single", "dask"):
            runs[mode].append(_child(*common, "--child", mode, str(path)))
            print(f"run {k + 1} {mode}: {json.dumps(runs[mode][-1])}", file=sys.stderr)
    single, dask = runs["single"], runs["dask"]
    print(f"\n{meta['vertices'] / 1e6:.1f} M vertices, {meta['lines']:,} lines; {args.workers} local workers, "
          f"partitions of at most {args.partition_vertices:,} vertices ({dask[0]['partitions']} partitions), "
          f"{args.repeat} interleaved runs; median (min–max)")
    print(f"{'':28} {'single process':>28} {'Dask':>28}")
    print(f"{'rules, wall':28} {_spread([r['seconds'] for r in single]):>28} "
          f"{_spread([r['seconds'] for r in dask]):>28}")
    print(f"{'cluster start':28} {'':>28} {_spread([r['start_s'] for r in dask]):>28}")
    print(f"{'peak memory, whole process':28} {_spread([r['peak_mb'] for r in single], 'MB', 0):>28} "
          f"{_spread([r['peak_mb'] for r in dask], 'MB', 0):>28}  (Dask: the client)")
    print(f"{'peak memory per worker':28} {'':>28} "
          f"{_spread([m for r in dask for m in r['worker_peak_mb']], 'MB', 0):>28}  "
          f"(limit {dask[0]['worker_limit_mb']} MB)")
    if single:
        ratio = statistics.median(r["seconds"] for r in single) / statistics.median(r["seconds"] for r in dask)
        same = {r["sha256"] for r in single} == {r["sha256"] for r in dask} and len({r["sha256"] for r in dask}) == 1
        print(f"single / Dask time: {ratio:.2f}×; issues {dask[0]['issues']:,}, reports identical: {same}")


if __name__ == "__main__":
    main()
