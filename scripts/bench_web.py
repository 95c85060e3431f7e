#!/usr/bin/env python
"""Per-page transfer size and server time of the viewer on the national demo (issue 5: the largest
province page must transfer under 2 MB in total and answer within 0.5 s).

Usage: ``python scripts/bench_web.py [--db DEMO.gpkg] [--repeat 5]``

Without ``--db`` the bundled demo (``data/demo``) is loaded into a temporary GeoPackage first; with it,
a copy is used (an account ``bench`` is added to the copy, never to your database).

* **server** — median time of the page's HTML response through the app (Flask's client, no network);
  **api** — the same for each map-data request the page then makes, summed.
* **transfer** — every byte a browser receives for the page: HTML, scripts, styles, images and the API
  requests for the first view, measured in headless Chromium against ``quhua serve`` (waitress). Without
  Chromium, HTML + its assets + the first API requests are summed instead (marked ``≈``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
SERVE = ("from boundaries.cli import cli; from webmap.cli import serve; cli.add_command(serve); cli()")
PASSWORD = "bench-password"


def prepare_db(source: str | None, folder: Path) -> str:
    """A copy of ``source`` (or the demo loaded fresh) with a ``bench`` official account."""
    from boundaries.store import open_store
    from webmap.users import UserStore

    db = folder / "bench.gpkg"
    if source:
        for suffix in ("", "-wal", "-shm"):
            if Path(source + suffix).exists():
                shutil.copy(source + suffix, str(db) + suffix)
    else:
        from boundaries.demo import load_demo

        for line in load_demo(str(db)):
            print(line, file=sys.stderr)
    with open_store(str(db)) as store:
        UserStore(store).add("bench", PASSWORD, "official")
    return str(db)


def pages(db: str) -> list[str]:
    """The overview, every loaded province, the names page and the rules."""
    from boundaries.store import open_store

    with open_store(db) as store:
        lines = store.read_layer("lines")
    return ["/", *(f"/province/{code}" for code in sorted(lines["province"].unique())), "/names", "/rules"]


def server_times(db: str, urls: list[str], repeat: int) -> dict[str, float]:
    """Median seconds of each URL's response through the app, logged in."""
    import re

    from webmap import create_app

    app = create_app({"QUHUA_DB": db, "SECRET_KEY": "bench"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    out = {}
    for url in urls:
        client.get(url)  # warm the caches, as a running server would be
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        out[url] = statistics.median(times)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(db: str, *args: str, env: dict | None = None, cwd: Path | None = None):
    """``quhua serve ARGS`` on a free loopback port (run in ``cwd``: another quhua tree with its PYTHONPATH in
    ``env``), until it answers /healthz (30 s at most); yields its base URL and process, and stops it
    afterwards."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, "--db", str(db), "serve", "--port", str(port), *args],
                              stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def browser_transfer(db: str, urls: list[str]) -> dict[str, tuple[int, int, list[str]]]:
    """Bytes received by Chromium per page (total, HTML) and the API URLs it fetched for the first view."""
    from playwright.sync_api import sync_playwright

    with running_server(db) as (base, _server):
        out = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            login = browser.new_context()
            page = login.new_page()
            page.goto(base + "/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login-form button")
            page.wait_for_url("**/")
            session = login.storage_state()
            login.close()
            for url in urls:
                out[url] = _cold_visit(browser, session, base, url)
            browser.close()
        return out


def _cold_visit(browser, session: dict, base: str, url: str) -> tuple[int, int, list[str]]:
    """One page in a fresh context (empty cache, the session's cookie): bytes received, HTML bytes, API URLs."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, storage_state=session)
    page = context.new_page()
    received: list[tuple[str, int]] = []
    page.on("response", lambda response: received.append((response.url, len(response.body()))))
    page.goto(base + url, wait_until="networkidle")
    context.close()
    html = next((n for u, n in received if u == base + url), 0)
    return sum(n for _u, n in received), html, [u for u, _n in received if "/ogc/" in u]


def api_times(db: str, urls: list[str], repeat: int) -> float:
    """Summed median seconds of the API requests a page makes."""
    paths = [u.split("://", 1)[1].split("/", 1)[1] for u in urls]
    return sum(server_times(db, ["/" + p], repeat)["/" + p] for p in paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a GeoPackage holding the national demo (copied); default: load data/demo")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = prepare_db(args.db, Path(folder))
        urls = pages(db)
        times = server_times(db, urls, args.repeat)
        browser = Path(CHROMIUM).exists()
        transfer = browser_transfer(db, urls) if browser else {}
        print(f"{'page':<22} {'html kB':>8} {'transfer kB':>12} {'server ms':>10} {'api ms':>8}")
        worst = (0.0, 0.0)
        for url in urls:
            total, html, api = transfer.get(url, (0, 0, []))
            api_ms = api_times(db, api, args.repeat) * 1000 if api else 0.0
            print(f"{url:<22} {html / 1024:>8.1f} {total / 1024:>12.1f} {times[url] * 1000:>10.1f} {api_ms:>8.1f}")
            if url.startswith("/province/"):
                worst = (max(worst[0], total), max(worst[1], times[url] * 1000 + api_ms))
        if browser:
            print(f"province pages: at most {worst[0] / 1024 / 1024:.2f} MB transferred (limit 2 MB), "
                  f"{worst[1]:.0f} ms server time for the page and its map data (limit 500 ms)")
        else:
            print(f"no Chromium at {CHROMIUM}: transfer not measured")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
