#!/usr/bin/env python
"""A bounded load test of the viewer on loopback: readers while provinces ingest through the web upload.

Usage: ``python scripts/load.py [--db DEMO.gpkg] [--readers 50] [--duration 60] [--ingesters 4] [--threads 4]``

``quhua serve`` (waitress) runs on 127.0.0.1 over a copy of the national demo (loaded fresh without
``--db``). For ``--duration`` seconds, ``--readers`` logged-in clients read in turn the overview, province
pages, OGC API items pages and name searches, each waiting for its answer (30 s at most) before the next;
meanwhile ``--ingesters`` provinces' surveyors upload their demo submission, check it and confirm it, again
and again (each check and ingest runs in the server's worker processes; the time recorded is until its
outcome page). Afterwards every confirmed upload must be one whole submission in the database.

Printed: requests per second, p50 / p95 / max latency and errors per kind of request, the server's memory
before and after, and the verification. Only 127.0.0.1 is ever contacted; the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import PASSWORD, prepare_db, running_server  # scripts/ is not a package

TIMEOUT_S = 30.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CONFIRM = re.compile(r'action="(/upload/[^"]+/confirm)"')


def _demo_entries(count: int) -> list[dict]:
    from boundaries.demo import demo_dir

    entries = json.loads((demo_dir() / "manifest.json").read_text(encoding="utf-8"))["submissions"]
    return entries[:count]


def _upload_files(entry: dict) -> list[Path]:
    from boundaries.demo import demo_dir

    files = []
    for path in (demo_dir() / p for p in entry["paths"]):
        files += sorted(f for f in path.parent.iterdir() if f.stem == path.stem) if path.suffix == ".shp" else [path]
    return files


def _add_accounts(db: str, entries: list[dict]) -> None:
    from boundaries.store import open_store
    from webmap.users import UserStore

    with open_store(db) as store:
        users = UserStore(store)
        for entry in entries:
            users.add(f"load{entry['province']}", PASSWORD, "surveyor", province=entry["province"])


def _session(base: str, user: str):
    import requests

    session = requests.Session()
    token = _CSRF.search(session.get(base + "/login", timeout=TIMEOUT_S).text).group(1)
    answer = session.post(base + "/login", data={"username": user, "password": PASSWORD, "csrf_token": token},
                          timeout=TIMEOUT_S)
    answer.raise_for_status()
    return session


def _record(results, kind: str, started: float, ok: bool) -> None:
    results[kind].append((time.perf_counter() - started, ok))


def reader(base: str, urls: list[tuple[str, str]], offset: int, deadline: float, results) -> None:
    """Read the URLs in turn, from ``offset``, until the deadline; every answer is timed."""
    session = _session(base, "bench")
    i = offset
    while time.monotonic() < deadline:
        kind, url = urls[i % len(urls)]
        i += 1
        started = time.perf_counter()
        try:
            ok = session.get(base + url, timeout=TIMEOUT_S).status_code == 200
        except OSError:
            ok = False
        _record(results, kind, started, ok)


def _job_outcome(session, base: str, started, timeout: float):
    """The page a started upload job ends on: ``started`` is the 303 to the job's page (the check or ingest
    runs in a worker, webmap/jobs.py); its status is polled until it has finished."""
    if started.status_code != 303:
        return started
    url = base + started.headers["Location"]
    deadline = time.monotonic() + timeout
    while not session.get(url + "/status.json", timeout=TIMEOUT_S).json()["finished"]:
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.2)
    return session.get(url, timeout=TIMEOUT_S, allow_redirects=False)


def ingester(base: str, entry: dict, deadline: float, results, confirmed: list) -> None:
    """Upload, check and confirm the province's submission again and again until the deadline."""
    session = _session(base, f"load{entry['province']}")
    files = _upload_files(entry)
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            token = _CSRF.search(session.get(base + "/upload", timeout=TIMEOUT_S).text).group(1)
            handles = [("files", (f.name, f.read_bytes())) for f in files]
            answer = session.post(base + "/upload", data={"csrf_token": token, "province": entry["province"]},
                                  files=handles, timeout=TIMEOUT_S, allow_redirects=False)
            report = _job_outcome(session, base, answer, TIMEOUT_S * 4)
            _record(results, "upload check", started, report.status_code == 200)
            action = _CONFIRM.search(report.text)
            if action is None:
                continue
            started = time.perf_counter()
            token = _CSRF.search(report.text).group(1)
            answer = session.post(base + action.group(1), data={"csrf_token": token}, timeout=TIMEOUT_S,
                                  allow_redirects=False)
            stored = _job_outcome(session, base, answer, TIMEOUT_S * 4)
            ok = stored.status_code == 302 and "/province/" in stored.headers.get("Location", "")
            _record(results, "upload confirm", started, ok)
            if ok:
                confirmed.append(entry["province"])
        except (OSError, TimeoutError):
            _record(results, "upload check", started, False)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _verify(db: str, confirmed: list[str], before: dict[str, int]) -> list[str]:
    """Problems found: a confirmed upload not stored once, or a stored submission not whole."""
    from boundaries.store import open_store

    with open_store(db) as store:
        submissions = store.read_layer("submissions")
        lines = store.read_layer("lines", history=True)
        markers = store.read_layer("markers", history=True)
    problems = []
    for province in set(confirmed):
        stored = int((submissions.province == province).sum()) - before.get(province, 0)
        if stored != confirmed.count(province):
            problems.append(f"{province}: {confirmed.count(province)} confirmed, {stored} stored")
    for row in submissions.itertuples():
        whole = (lines.submission_id == row.fid).sum() == row.lines
        if not whole or (markers.submission_id == row.fid).sum() != row.markers:
            problems.append(f"submission {row.fid} is not whole")
    return problems


def _reader_urls(db: str) -> list[tuple[str, str]]:
    from boundaries.store import open_store

    with open_store(db) as store:
        provinces = sorted(store.read_layer("lines")["province"].unique())
    urls = []
    for i, code in enumerate(provinces[:8]):
        urls += [("overview", "/"), ("province page", f"/province/{code}"),
                 ("ogc items", f"/ogc/collections/lines/items?province={code}&limit=100"),
                 ("ogc items", f"/ogc/collections/markers/items?limit=100&offset={i * 100}"),
                 ("name search", f"/names/search.json?q={['北京', 'gz', '赣州', 'xian'][i % 4]}")]
    return urls


def _print(results, duration: float) -> None:
    print(f"{'request':<16} {'count':>6} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>7}")
    for kind in sorted(results):
        times = sorted(t for t, _ok in results[kind])
        errors = sum(not ok for _t, ok in results[kind])
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{kind:<16} {len(times):>6} {len(times) / duration:>7.1f} {statistics.median(times) * 1000:>8.0f} "
              f"{p95 * 1000:>8.0f} {times[-1] * 1000:>8.0f} {errors:>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a GeoPackage holding the national demo (copied); default: load data/demo")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--ingesters", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads of the server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = prepare_db(args.db, Path(folder))
        entries = _demo_entries(args.ingesters)
        _add_accounts(db, entries)
        urls = _reader_urls(db)
        from boundaries.store import open_store

        with open_store(db) as store:
            before = store.read_layer("submissions")["province"].value_counts().to_dict()
        env = {**os.environ, "QUHUA_UPLOAD_DIR": str(Path(folder) / "uploads")}
        with running_server(db, "--threads", str(args.threads), env=env) as (base, server):
            rss_before = _rss_mb(server.pid)
            results, confirmed = defaultdict(list), []
            deadline = time.monotonic() + args.duration
            threads = [threading.Thread(target=reader, args=(base, urls, i, deadline, results))
                       for i in range(args.readers)]
            threads += [threading.Thread(target=ingester, args=(base, e, deadline, results, confirmed))
                        for e in entries]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            rss_after = _rss_mb(server.pid)
        print(f"{args.readers} readers, {args.ingesters} provinces uploading, {elapsed:.0f} s, "
              f"waitress {args.threads} threads")
        _print(results, elapsed)
        print(f"server memory {rss_before:.0f} MB → {rss_after:.0f} MB")
        problems = _verify(db, confirmed, before)
        print(f"{len(confirmed)} uploads confirmed; " + ("every one stored once and whole" if not problems
                                                         else "PROBLEMS: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
