"""A longer fuzzing run of ``quhua ingest`` than CI's (tests/boundaries/test_fuzz.py), with hang detection.

    PYTHONPATH=$PWD python scripts/fuzz.py --cases 2000 [--seed 1] [--timeout 20] [--db URL]

Each case is a real seed submission (tests/boundaries/fuzzing.py) with one file mutated at random, ingested
in a child process killed after ``--timeout`` seconds (a hang). Prints how many cases, how many ended in
each outcome (exit 0/1/2 by rule, broken invariants, hangs) and each broken case with what reproduces it.
Exit 1 when any case broke an invariant or hung. Writes only under a temporary folder and ``--db``
(default: a GeoPackage there).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.boundaries.fuzzing import OPERATIONS, run_case, seeds


def _case(rng: random.Random) -> tuple[str, int, list[tuple[str, float, int]]]:
    mutations = [(rng.choice(OPERATIONS), rng.random(), rng.randrange(256)) for _ in range(rng.randint(1, 4))]
    return rng.choice(sorted(seeds())), rng.randrange(6), mutations


def _child(conn, folder, db, case) -> None:
    outcome = run_case(Path(folder), db, *case)
    conn.send((outcome.exit_code, outcome.rule, outcome.problem))


def _run(folder: Path, db: str, case, timeout: float):
    """``(exit code, rule, problem)`` of one case in a forked child; a hang if it outlives ``timeout``."""
    parent, child = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=_child, args=(child, str(folder), db, case))
    process.start()
    ready = parent.poll(timeout)
    result = parent.recv() if ready else None
    process.join(5 if ready else 0)
    if process.is_alive():
        process.kill()
        process.join()
    if result is None:
        return (None, None, f"hang (no answer in {timeout:.0f} s)" if not ready else "child died")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--db", help="database to ingest into (default: a GeoPackage in a temporary folder)")
    args = parser.parse_args(argv)
    multiprocessing.set_start_method("fork")
    seeds()  # built once, inherited by every child
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    broken = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="quhua-fuzz-") as tmp:
        db = args.db or str(Path(tmp) / "fuzz.gpkg")
        for i in range(args.cases):
            case = _case(rng)
            code, rule, problem = _run(Path(tmp) / f"case{i}", db, case, args.timeout)
            counts["broken" if problem else f"exit {code}" + (f" {rule}" if rule else "")] += 1
            if problem:
                broken.append((case, problem))
    elapsed = time.monotonic() - start
    print(f"{args.cases} cases in {elapsed:.0f} s (seed {args.seed}):")
    for outcome, n in sorted(counts.items()):
        print(f"  {n:6d}  {outcome}")
    for case, problem in broken:
        print(f"BROKEN seed={case[0]} member={case[1]} mutations={case[2]}: {problem}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
