"""Fixtures of the viewer's tests: a real database filled through ``ingest_paths`` from real boundary
geometry (see tests/fixtures/README.md), accounts of every role, Flask's test client, and a waitress
server on a free loopback port for GDAL and the browser.

Every test that reaches the database runs on both backends: ``backend`` is parametrised ``gpkg`` and
``postgis`` (the PostgreSQL server of ``$QUHUA_TEST_PG``, as tests/conftest.py's ``db_url``; in CI a missing
server fails), the gazetteer included.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import shapely

from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import _database_url, clone_database, drop_database, write_shapefiles
from tests.webmap.browser import browser  # noqa: F401 - the shared Chromium fixture of the browser tests
from webmap import create_app
from webmap.users import UserStore

PASSWORD = "correct horse 1"
#: account → (role, province)
ACCOUNTS = {"jx": ("surveyor", "360000"), "hn": ("surveyor", "430000"), "boss": ("official", None),
            "ana": ("analyst", None)}


def _with_duplicate_vertex(line: shapely.LineString) -> shapely.LineString:
    """The line with one vertex repeated 1 mm further on (a ``line.duplicate_vertex`` warning)."""
    xy = shapely.get_coordinates(line)
    return shapely.LineString(np.insert(xy, 5, xy[5] + [1e-8, 0], axis=0))


def _nudged(line: shapely.LineString, metres: float = 2.0) -> shapely.LineString:
    """The line with its 100th vertex moved ``metres`` east (a resurvey within the 5 m tolerance)."""
    xy = shapely.get_coordinates(line)
    xy[100, 0] += metres / (111_320 * np.cos(np.radians(xy[100, 1])))
    return shapely.LineString(xy)


#: A few gazetteer names (coordinates rounded from public knowledge of the places; codes GB/T 2260).
NAMES_CSV = """name,class,lon,lat,code,aliases
北京市,行政区域,116.4074,39.9042,110000,京
南昌市,行政区域,115.8582,28.6829,360100,洪都
长沙市,行政区域,112.9388,28.2282,430100,星城
"""


def _names(path: Path, db: str) -> None:
    """Load :data:`NAMES_CSV` through the gazetteer's importer."""
    from placenames.importers import import_names
    from placenames.store import open_name_store

    path.write_text(NAMES_CSV, encoding="utf-8")
    with open_name_store(db) as store:  # closed: a PostgreSQL database is copied as a template afterwards
        import_names(store, path, "csv")


def _ingest(paths: list[Path], province: str, db: str, user: str) -> int:
    result = ingest_paths(paths, province, db=db, user=user, progress=False)
    assert result.submission_id is not None, result.report
    return result.submission_id


def pytest_generate_tests(metafunc):
    """``backend``: both database backends."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["gpkg", "postgis"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request) -> str:
    """``gpkg`` or ``postgis``."""
    return request.param


def _fill(db: str, root: Path, jx_lines, jx_markers) -> None:
    """江西 loads its two lines (one with a duplicate vertex: a warning), then resubmits 3643 with one vertex
    moved 2 m (history); 湖南 loads its side of 3643 as first surveyed (within 5 m: the neighbours agree);
    the accounts of :data:`ACCOUNTS`; and a few gazetteer names."""
    lines = jx_lines.copy()
    lines.loc[lines["line_id"] == "3642", "geometry"] = _with_duplicate_vertex(lines.geometry.iloc[1])
    _ingest(write_shapefiles(root / "jx1", lines, jx_markers), "360000", db, "jx")
    again = jx_lines[jx_lines["line_id"] == "3643"]
    hunan = again.assign(left_code="430000", right_code="360000", name="湖南—江西线")
    again = again.assign(geometry=[_nudged(again.geometry.iloc[0])])
    _ingest(write_shapefiles(root / "jx2", again, jx_markers[jx_markers["line_id"] == "3643"]), "360000", db, "jx")
    _ingest(write_shapefiles(root / "hn", hunan, None, stem="湖南省"), "430000", db, "hn")
    _names(root / "names.csv", db)
    with open_store(db) as store:
        users = UserStore(store)
        for name, (role, province) in ACCOUNTS.items():
            users.add(name, PASSWORD, role, province)


def _is_postgres(db: str) -> bool:
    return db.startswith("postgresql://")


def copy_database(source: str, folder: Path) -> str:
    """A copy of a test database: the GeoPackage's files, or ``CREATE DATABASE … TEMPLATE`` (the source must
    have no open connection)."""
    if _is_postgres(source):
        return clone_database(source, "quhua_web")
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "copy.gpkg"
    for suffix in ("", "-wal", "-shm"):
        if Path(source + suffix).exists():
            shutil.copy(source + suffix, str(db) + suffix)
    return str(db)


def drop_copy(db: str) -> None:
    """Drop a PostGIS test database (a GeoPackage goes with its tmp folder)."""
    if _is_postgres(db):
        drop_database(db)


def filled_database(request, backend: str, root: Path, name: str, fill):
    """A database of the backend (the GeoPackage ``root/name.gpkg``, or a copy of the PostGIS template)
    filled by ``fill(db)``: yielded, then dropped."""
    if backend == "gpkg":
        db = str(root / f"{name}.gpkg")
    else:
        server = request.getfixturevalue("postgis_template")
        db = copy_database(_database_url(server, "quhua_template"), root)
    try:
        fill(db)
        yield db
    finally:
        drop_copy(db)


@pytest.fixture(scope="session")
def web_source(request, backend, tmp_path_factory, jx_lines, jx_markers) -> str:
    """The filled test database of the backend, never opened after filling: the tests use copies of it."""
    root = tmp_path_factory.mktemp(f"web-{backend}")
    yield from filled_database(request, backend, root, "quhua", lambda db: _fill(db, root, jx_lines, jx_markers))


@pytest.fixture(scope="session")
def web_db(web_source, tmp_path_factory) -> str:
    """The database the read-only tests share (a copy of ``web_source``)."""
    db = copy_database(web_source, tmp_path_factory.mktemp("web-db"))
    yield db
    drop_copy(db)


@pytest.fixture
def db_copy(web_source, tmp_path) -> str:
    """A copy of the test database of its own, for a test that stores something."""
    db = copy_database(web_source, tmp_path / "db")
    yield db
    drop_copy(db)


@pytest.fixture(scope="session")
def app(web_db, tmp_path_factory):
    return create_app({"QUHUA_DB": web_db, "TESTING": True, "SECRET_KEY": "test-secret",
                       "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log ``client`` in as ``name`` through the login form."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


@pytest.fixture
def as_user(client):
    """``as_user(name)`` → the client, logged in."""

    def log_in(name: str):
        response = login(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return log_in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: ``quhua serve`` before the entry point is installed: the core's CLI with the viewer's commands added.
SERVE = ("from boundaries.cli import cli; from webmap.cli import serve, users; "
         "cli.add_command(serve); cli.add_command(users); cli()")


@contextmanager
def serve(db: str, folder: Path, *, threads: int = 4, env: dict | None = None):
    """``quhua serve`` (waitress) on ``db`` on a free loopback port in its own process (``env``: more
    environment variables, e.g. ``QUHUA_CHECK_CPU_SECONDS``); yields its base URL.

    A separate process, because GDAL holds the GIL while it fetches: a server thread in the test process
    would never answer it."""
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, QUHUA_UPLOAD_DIR=str(folder / "uploads"), **(env or {}))
    log = folder / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-c", SERVE, "--db", db, "serve", "--port", str(port),
                                    "--threads", str(threads)], env=env, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"quhua serve did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(web_db, tmp_path_factory) -> str:
    """``quhua serve`` on the shared test database, for the whole session."""
    with serve(web_db, tmp_path_factory.mktemp("server")) as base:
        yield base


@pytest.fixture
def good_submission(tmp_path, jx_lines, jx_markers):
    """江西 resubmits line 3642 with its markers (no duplicate vertex this time)."""
    return write_shapefiles(tmp_path / "good", jx_lines[jx_lines["line_id"] == "3642"],
                            jx_markers[jx_markers["line_id"] == "3642"])


@pytest.fixture
def bad_submission(tmp_path, jx_lines, jx_markers):
    """Line 3642 with marker 3642003Q moved 0.01° (about 1 km) off the line: marker.off_line."""
    markers = jx_markers[jx_markers["line_id"] == "3642"].copy()
    index = markers.index[markers["marker_id"] == "3642003Q"][0]
    markers.loc[index, "geometry"] = shapely.affinity.translate(markers.loc[index, "geometry"], 0, 0.01)
    return write_shapefiles(tmp_path / "bad", jx_lines[jx_lines["line_id"] == "3642"], markers)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in headless Chromium (test-artifacts/)")
