"""Per-rule cost of quhua's QA rules in two source trees side by side (before/after a change), interleaved.

    .venv/bin/python scripts/bench_rules.py --tree base=/tmp/rules-base --tree new=. \\
        --set synth100=/tmp/w/synth100.pkl:/tmp/w/synth.toml --set county=/tmp/w/county.pkl:/tmp/w/county.toml \\
        [--rounds 3] [--json OUT]

Each measurement is a fresh child process (``python scripts/bench_rules.py --child PICKLE CONFIG`` with
``PYTHONPATH`` set to the tree), run round after round over every tree and set so that a busy moment of a
shared machine slows them alike. The child unpickles a Submission (``bench_check.py`` writes them), runs
``run_rules`` on it with an empty store and records, per rule, wall seconds (``time.perf_counter``) and the
process's CPU seconds (``time.process_time``, all threads: the rules use both cores). Work shared by several
rules is counted in the first rule that asks for it. The issues found are compared between trees (rule,
feature, message, in order): a difference is printed. Prints medians, min–max and ratios (base / new).

``--warmup N`` (default 1) runs N rounds first that are not counted. Why this script's figures were above
``bench_check.py``'s for the same rules (county network 0.64–0.98 s against 0.55–0.59 s): not its child, which
was right. The two children time the same code: no import in the timed part (``sys.modules`` is the same
before and after ``run_rules``), the cyclic GC paused by ``run_rules`` in both, the same threads, and the
per-rule ``process_time`` calls here cost microseconds. Run alternately on the same machine they measure the
same within the noise (5 pairs, load 3.9–4.3: medians 1.97 s here and 1.89 s there, min–max overlapping,
page faults within 1.5 %), and a county run right after an N=300 run is as fast as one after another county
run. What differed was the conditions: the load of the other work on the machine when each was run (read it
from the figures printed with every round), and the first round, which here was the slowest of both trees
in two runs out of three (a cold start: files and libraries read back into the page cache), where
bench_check's children start after its own process has used the same libraries on the same data. The
uncounted warm-up round takes that cold start out of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def child(pickled: str, config_path: str) -> None:
    import dataclasses
    import hashlib
    import pickle

    from boundaries.config import load_config
    from boundaries.rules import REGISTRY, CheckContext, run_rules
    from boundaries.store import empty_layer

    submission = pickle.loads(Path(pickled).read_bytes())
    config = load_config(config_path)
    context = CheckContext(submission, empty_layer("lines"), empty_layer("markers"), config.settings())
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def timed(rule_id, func):
        def run(ctx, params):
            w, c = time.perf_counter(), time.process_time()
            found = list(func(ctx, params))
            wall[rule_id] = wall.get(rule_id, 0.0) + time.perf_counter() - w
            cpu[rule_id] = cpu.get(rule_id, 0.0) + time.process_time() - c
            return found
        return run

    for rule_id, entry in list(REGISTRY.items()):
        if entry.func is not None:
            REGISTRY[rule_id] = dataclasses.replace(entry, func=timed(rule_id, entry.func))
    w, c = time.perf_counter(), time.process_time()
    issues = run_rules(context, config)
    wall_s, cpu_s = time.perf_counter() - w, time.process_time() - c
    text = "\n".join(f"{i.rule}|{i.severity}|{i.feature}|{i.lon!r}|{i.lat!r}|{i.message}|{i.message_en}"
                     for i in issues)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    print(json.dumps({"wall": wall_s, "cpu": cpu_s, "per_wall": wall, "per_cpu": cpu, "issues": len(issues),
                      "digest": digest}))


def measure(tree: Path, pickled: str, config: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, str(HERE), "--child", pickled, config], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH of a source tree")
    parser.add_argument("--set", action="append", required=True, help="NAME=PICKLE:CONFIG")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted (a cold start)")
    parser.add_argument("--json", help="write every measurement here")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    sets = {name: spec.split(":", 1) for name, spec in (s.split("=", 1) for s in args.set)}
    print(f"bench_rules — {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    runs: dict = {s: {t: [] for t in trees} for s in sets}
    for r in range(args.warmup):
        for s, (pickled, config) in sets.items():
            for t, path in trees.items():
                result = measure(Path(path).resolve(), pickled, config)
                print(f"  warm-up {r + 1} {s} {t}: {result['wall']:.3f} s wall (not counted)", flush=True)
    for r in range(args.rounds):
        for s, (pickled, config) in sets.items():
            for t, path in trees.items():
                result = measure(Path(path).resolve(), pickled, config)
                runs[s][t].append(result)
                print(f"  round {r + 1} {s} {t}: {result['wall']:.3f} s wall, {result['cpu']:.3f} s CPU, "
                      f"{result['issues']} issues {result['digest']}, load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    names = list(trees)
    for s in sets:
        print(f"\n{s}: medians (min–max), seconds; ratio = {names[0]} / other")
        digests = {t: {m["digest"] for m in runs[s][t]} for t in names}
        if len({d for ds in digests.values() for d in ds}) > 1:
            print(f"  ISSUES DIFFER: {digests}")
        head = "".join(f"{t + ' wall':>24}{t + ' cpu':>24}" for t in names)
        print(f"  {'rule':28}{head}  ratio wall / cpu")
        rules = sorted({r for t in names for m in runs[s][t] for r in m["per_wall"]},
                       key=lambda r: -statistics.median([m["per_wall"].get(r, 0) for m in runs[s][names[0]]]))
        for rule in ["ALL", *rules]:
            cells, med = "", {}
            for t in names:
                w = [m["wall"] if rule == "ALL" else m["per_wall"].get(rule, 0.0) for m in runs[s][t]]
                c = [m["cpu"] if rule == "ALL" else m["per_cpu"].get(rule, 0.0) for m in runs[s][t]]
                med[t] = (statistics.median(w), statistics.median(c))
                cells += f"{_stats(w):>24}{_stats(c):>24}"
            ratios = " / ".join(f"{med[names[0]][k] / max(med[t][k], 1e-9):.2f}×" for t in names[1:] for k in (0, 1))
            print(f"  {rule:28}{cells}  {ratios}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
