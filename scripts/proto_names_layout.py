"""Prototype of a compact layout for the gazetteer's search keys, measured against the current key tables.

    .venv/bin/python scripts/proto_names_layout.py GPKG [--pg postgresql://…/db] [--queries 50]

Not used by quhua: it reads a gazetteer that ``quhua names import`` wrote (``scripts/bench_names.py --keep``
leaves one), builds the candidate layouts beside it and prints, for each, its size per name and the latency
of the look-ups the search makes (p50 / p95, ms), and whether it finds the same names as the key tables
(as sets: the order a look-up returns them in is discussed in the report).

- GeoPackage: one contentless FTS5 table (``detail=none``: a posting list of rowids per term, no positions)
  of every name's keys as terms — ``n``/``a``/``r``/``p``/``i`` + the name, alias, proper part, pinyin,
  initials; ``g`` + each one- and two-character piece; and the filters as terms too: ``c`` + each even
  prefix of the division code (``within``), ``k`` + the class index, ``x`` + the 0.1° grid cell (``near``).
  A filtered look-up is an AND of posting lists (FTS5 skips through the longer one with its doclist index).
- PostGIS: the same terms as one ``tsvector`` column of a copy of ``names`` (``array_to_tsvector``: verbatim
  lexemes, no positions) with a GIN index (compressed posting lists; ``:*`` prefix look-ups), a look-up one
  ``@@`` of a ``tsquery`` ANDing the key with the filters' terms. (A key dictionary + ``int4[]`` GIN, the
  other idea of issue 16, is not built here: the tsvector needs no dictionary and answers prefixes.)
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from placenames.store import SearchFilter, _grams, _keys, _record, cell_of, ring  # noqa: E402

_KIND = {"name": "n", "alias": "a", "proper": "r", "pinyin": "p", "initials": "i"}
_CODE_PREFIXES = (2, 4, 6, 8, 10, 12)


def _token(text: str) -> str:
    """A key as one FTS5 term (unicode61 keeps letters and digits together; anything else escaped)."""
    return re.sub(r"[^\w]|_", lambda m: f"Q{ord(m.group()):x}Q", text.lower())


def terms(record) -> list[str]:
    from placenames.model import CLASSES

    out = [_KIND[kind] + _token(key) for key, kind in _keys(record)]
    out += ["g" + _token(g) for g in _grams(record)]
    code = record.code or ""
    out += [f"c{code[:n]}" for n in _CODE_PREFIXES if len(code) >= n]
    out.append(f"k{CLASSES.index(record.klass) if record.klass in CLASSES else 'x'}")
    out.append(f"x{cell_of(record.lon, record.lat)}")
    return out


NAME_SQL = ("SELECT fid, name, pinyin, class, subclass, code, aliases, status, valid_from, valid_to, source, "
            "source_id, approved_by, approved_on, superseded_by, lon, lat, importance, population FROM names")


def build_fts(gpkg: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    src = sqlite3.connect(gpkg)
    con = sqlite3.connect(out)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("CREATE VIRTUAL TABLE name_terms USING fts5(terms, content='', detail=none, "
                "tokenize='unicode61 remove_diacritics 0')")
    t0 = time.perf_counter()
    cursor = src.execute(NAME_SQL + " ORDER BY fid")
    while rows := cursor.fetchmany(50_000):
        con.executemany("INSERT INTO name_terms (rowid, terms) VALUES (?, ?)",
                        [(row[0], " ".join(terms(_record(row)))) for row in rows])
    con.commit()
    con.execute("INSERT INTO name_terms (name_terms) VALUES ('optimize')")
    con.commit()
    con.execute("VACUUM")
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def timed(fn, items) -> tuple[list[float], list]:
    times, results = [], []
    for item in items:
        t0 = time.perf_counter()
        results.append(fn(item))
        times.append((time.perf_counter() - t0) * 1000)
    return times, results


def agreeing(old: list, new: list, limit: int) -> int:
    """How many look-ups found the same names both ways (as sets), or hit the limit both ways (then each
    kept a different part of the matches)."""
    return sum({x[0] for x in a} == {x[0] for x in b} or len(a) == len(b) == limit
               for a, b in zip(old, new, strict=True))


def show(label: str, times: list[float], same: str) -> None:
    p50, p95 = np.percentile(times, [50, 95])
    print(f"  {label:<34s} {p50:7.2f} {p95:7.2f}   {same}")


def sample(con, count: int, seed: int = 7) -> list:
    n = con.execute("SELECT max(fid) FROM names").fetchone()[0]
    rng = random.Random(seed)
    ids = rng.sample(range(1, n + 1), count)
    return [_record(row) for row in con.execute(NAME_SQL + f" WHERE fid IN ({', '.join(map(str, ids))})")]


def compare_sqlite(gpkg: Path, fts: Path, count: int) -> None:
    con = sqlite3.connect(gpkg)
    con.execute(f"ATTACH '{fts}' AS f")
    records = sample(con, count)
    limit = 2000

    def old(sql, params):
        return con.execute(sql + " LIMIT ?", [*params, limit]).fetchall()

    def new(match, extra=""):
        # the names' own filter (current), by rowid, on the terms' candidates
        return con.execute("SELECT t.rowid FROM f.name_terms t CROSS JOIN names n ON n.fid = t.rowid "
                           f"WHERE name_terms MATCH ? AND n.status = 'current' {extra} LIMIT ?",
                           [match, limit]).fetchall()

    def within(code):
        return SearchFilter(within=code.ljust(6, "0")).key_sql()

    cases = {
        "whole name (exact)": (lambda r: old("SELECT name_id FROM name_keys WHERE key = ? AND kind = 'name' AND "
                                             "current = 1", [r.name]),
                               lambda r: new(f'"n{_token(r.name)}"')),
        "2 characters (gram)": (lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1",
                                              [r.name[:2]]),
                                lambda r: new(f'"g{_token(r.name[:2])}"')),
        "generic alone (gram 村…)": (lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1",
                                                  [r.name[-1]]),
                                     lambda r: new(f'"g{_token(r.name[-1])}"')),
        "generic --within county": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND " + within(r.code[:6])[0],
                          [r.name[-1], *within(r.code[:6])[1]]),
            lambda r: new(f'"g{_token(r.name[-1])}" "c{r.code[:6]}"')),
        "generic --within province": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND " + within(r.code[:2])[0],
                          [r.name[-1], *within(r.code[:2])[1]]),
            lambda r: new(f'"g{_token(r.name[-1])}" "c{r.code[:2]}"')),
        "syllable prefix --within county": (
            lambda r: old("SELECT name_id FROM name_keys WHERE key >= ? AND key < ? AND kind = 'pinyin' AND "
                          "current = 1 AND code >= ? AND code < ?",
                          [_syllable(r), _syllable(r) + "\U0010ffff", r.code[:6], r.code[:6] + "~"]),
            lambda r: new(f'"p{_syllable(r)}" * "c{r.code[:6]}"')),
        "pinyin prefix (syllable)": (
            lambda r: old("SELECT name_id FROM name_keys WHERE key >= ? AND key < ? AND kind = 'pinyin' AND "
                          "current = 1", [_syllable(r), _syllable(r) + "\U0010ffff"]),
            lambda r: new(f'"p{_syllable(r)}" *')),
        "generic --class (rare)": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1 AND klass = 7",
                          [r.name[-1]]),
            lambda r: new(f'"g{_token(r.name[-1])}" "k7"')),
        "generic --near (3 rings)": (
            lambda r: old(f"SELECT name_id FROM name_grams INDEXED BY name_grams_cell WHERE cell IN "
                          f"({', '.join(str(c) for k in range(4) for c in ring((r.lon, r.lat), k))}) "
                          "AND gram = ? AND current = 1", [r.name[-1]]),
            lambda r: new(f'"g{_token(r.name[-1])}" AND ('
                          + " OR ".join(f'"x{c}"' for k in range(4) for c in ring((r.lon, r.lat), k)) + ")")),
    }
    print(f"{'look-up (ms)':<36s} {'p50':>7s} {'p95':>7s}")
    for label, (old_fn, new_fn) in cases.items():
        t_old, r_old = timed(old_fn, records)
        t_new, r_new = timed(new_fn, records)
        same = agreeing(r_old, r_new, limit)
        show(f"key tables  {label}", t_old, "")
        show(f"FTS5        {label}", t_new, f"same names {same}/{len(records)}; "
             f"median {int(np.median([len(a) for a in r_old]))} found")


def _syllable(record) -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_names import _first_syllable

    return _first_syllable(record.pinyin)


def sqlite_breakdown(path: Path, n: int) -> None:
    con = sqlite3.connect(path)
    total = path.stat().st_size
    rows = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    print(f"FTS5 file {total / 1e6:,.1f} MB, {total / n:,.0f} B a name: "
          + ", ".join(f"{name} {size / n:,.0f} B" for name, size in rows if size > total / 100))


def _lexeme(term: str) -> str:
    return "'" + term.replace("'", "''") + "'"


def run_pg(url: str, count: int) -> None:
    """PostGIS: the same terms as a ``tsvector`` of verbatim lexemes (``array_to_tsvector``: no parsing,
    no positions) in a copy of ``names``, with a GIN index (``tsvector_ops``: prefix look-ups too); a
    look-up is one ``@@`` of a ``tsquery`` ANDing the key with the filters' terms, then ``status``."""
    import psycopg

    con = psycopg.connect(url, autocommit=True)
    n = con.execute("SELECT count(*) FROM names").fetchone()[0]
    t0 = time.perf_counter()
    con.execute("DROP TABLE IF EXISTS proto_terms, proto_names")
    con.execute("CREATE UNLOGGED TABLE proto_terms (fid bigint, terms text[])")
    with con.cursor() as read, con.cursor() as write:
        read.execute(NAME_SQL.replace("SELECT", "SELECT").replace("FROM names", "FROM names ORDER BY fid"))
        with write.copy("COPY proto_terms (fid, terms) FROM STDIN") as copy:
            while rows := read.fetchmany(50_000):
                for row in rows:
                    copy.write_row((row[0], terms(_record(row))))
    con.execute("CREATE TABLE proto_names AS SELECT n.*, array_to_tsvector(t.terms) AS terms FROM names n "
                "JOIN proto_terms t USING (fid) ORDER BY fid")
    con.execute("DROP TABLE proto_terms")
    con.execute("SET maintenance_work_mem = '256MB'")
    con.execute("CREATE INDEX proto_names_terms ON proto_names USING gin (terms) WITH (fastupdate = off)")
    con.execute("ALTER TABLE proto_names ADD PRIMARY KEY (fid)")
    con.execute("VACUUM ANALYZE proto_names")
    seconds = time.perf_counter() - t0
    size = dict(con.execute("SELECT relname, pg_relation_size(oid) "
                            "+ coalesce(pg_relation_size(nullif(reltoastrelid, 0)), 0) FROM pg_class "
                            "WHERE relname IN ('names', 'proto_names', 'proto_names_terms')"))
    column = size["proto_names"] - size["names"]
    print(f"PostGIS {n:,} names: terms built in {seconds:.1f} s; the tsvector column {column / n:,.0f} B a name, "
          f"its GIN index {size['proto_names_terms'] / n:,.0f} B a name (the key tables and their indexes: "
          "bench_names' breakdown)")
    records = [_record(row) for row in con.execute(
        NAME_SQL + " WHERE fid = ANY(%s)", [random.Random(7).sample(range(1, n + 1), count)]).fetchall()]
    limit = 2000

    def old(sql, params):
        return con.execute(sql.replace("?", "%s") + " LIMIT %s", [*params, limit]).fetchall()

    def new(query):
        return con.execute("SELECT fid FROM proto_names WHERE terms @@ %s::tsquery AND status = 'current' "
                           "LIMIT %s", [query, limit]).fetchall()

    def within(code):
        return SearchFilter(within=code.ljust(6, "0")).key_sql()

    def cells(r, rings=4):
        return "(" + " | ".join(_lexeme(f"x{c}") for k in range(rings) for c in ring((r.lon, r.lat), k)) + ")"

    g = lambda text: _lexeme("g" + _token(text))  # noqa: E731
    cases = {
        "whole name (exact)": (lambda r: old("SELECT name_id FROM name_keys WHERE key = ? AND kind = 'name' AND "
                                             "current = 1", [r.name]),
                               lambda r: new(_lexeme("n" + _token(r.name)))),
        "2 characters (gram)": (lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1",
                                              [r.name[:2]]), lambda r: new(g(r.name[:2]))),
        "generic alone (gram 村…)": (lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1",
                                                  [r.name[-1]]), lambda r: new(g(r.name[-1]))),
        "generic --within county": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND " + within(r.code[:6])[0],
                          [r.name[-1], *within(r.code[:6])[1]]),
            lambda r: new(f"{g(r.name[-1])} & {_lexeme('c' + r.code[:6])}")),
        "generic --within province": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND " + within(r.code[:2])[0],
                          [r.name[-1], *within(r.code[:2])[1]]),
            lambda r: new(f"{g(r.name[-1])} & {_lexeme('c' + r.code[:2])}")),
        "syllable prefix --within county": (
            lambda r: old("SELECT name_id FROM name_keys WHERE key >= ? AND key < ? AND kind = 'pinyin' AND "
                          "current = 1 AND code >= ? AND code < ?",
                          [_syllable(r), _syllable(r) + "\U0010ffff", r.code[:6], r.code[:6] + "~"]),
            lambda r: new(f"{_lexeme('p' + _syllable(r))}:* & {_lexeme('c' + r.code[:6])}")),
        "pinyin prefix (syllable)": (
            lambda r: old("SELECT name_id FROM name_keys WHERE key >= ? AND key < ? AND kind = 'pinyin' AND "
                          "current = 1", [_syllable(r), _syllable(r) + "\U0010ffff"]),
            lambda r: new(f"{_lexeme('p' + _syllable(r))}:*")),
        "generic --class (rare)": (
            lambda r: old("SELECT name_id FROM name_grams WHERE gram = ? AND current = 1 AND klass = 7",
                          [r.name[-1]]), lambda r: new(f"{g(r.name[-1])} & 'k7'")),
        "generic --near (4 rings)": (
            lambda r: old("SELECT name_id FROM name_grams WHERE cell = ANY(%s) AND gram = ? AND current = 1",
                          [[c for k in range(4) for c in ring((r.lon, r.lat), k)], r.name[-1]]),
            lambda r: new(f"{g(r.name[-1])} & {cells(r)}")),
    }
    print(f"{'look-up (ms)':<36s} {'p50':>7s} {'p95':>7s}")
    for label, (old_fn, new_fn) in cases.items():
        t_old, r_old = timed(old_fn, records)
        t_new, r_new = timed(new_fn, records)
        same = agreeing(r_old, r_new, limit)
        show(f"key tables  {label}", t_old, "")
        show(f"GIN         {label}", t_new, f"same names {same}/{len(records)}; "
             f"median {int(np.median([len(a) for a in r_old]))} found")
    con.execute("DROP TABLE proto_names")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gpkg", nargs="?", help="a GeoPackage gazetteer (quhua names import)")
    parser.add_argument("--pg", help="a PostgreSQL database with a gazetteer")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    if args.gpkg:
        gpkg = Path(args.gpkg)
        n = sqlite3.connect(gpkg).execute("SELECT count(*) FROM names").fetchone()[0]
        fts = gpkg.with_suffix(".terms.sqlite")
        seconds = build_fts(gpkg, fts)
        print(f"{n:,} names: FTS5 terms built in {seconds:.1f} s ({n / seconds:,.0f} names/s, from the names)")
        sqlite_breakdown(fts, n)
        compare_sqlite(gpkg, fts, args.queries)
    if args.pg:
        run_pg(args.pg, args.queries)


if __name__ == "__main__":
    main()
