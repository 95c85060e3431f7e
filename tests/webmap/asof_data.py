"""A database of two dated surveys of 江西's real lines (issue 15) for the viewer's legal-time tests: the first
in force from 2017-05-01, the second (the planted changes of :mod:`tests.boundaries.planted`) from
2021-03-15, 湖南's own version of line 3643 (as resurveyed) from 2021-06-01, and the accounts of the viewer's
tests."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.boundaries import planted
from tests.conftest import empty_database, write_shapefiles
from tests.webmap.conftest import ACCOUNTS, PASSWORD
from webmap.users import UserStore

FIRST, SECOND, HUNAN = "2017-05-01", "2021-03-15", "2021-06-01"


def _ingest(paths: list[Path], province: str, db: str, valid_from: str) -> int:
    result = ingest_paths(paths, province, db=db, user="jx" if province == "360000" else "hn", progress=False,
                          valid_from=valid_from)
    assert result.submission_id is not None, result.report
    return result.submission_id


def fill(db: str, root: Path, jx_lines, jx_markers) -> None:
    """The surveys and the accounts (see the module's docstring)."""
    lines, markers = planted.resurvey(jx_lines, jx_markers)
    _ingest(write_shapefiles(root / "first", jx_lines, jx_markers), "360000", db, FIRST)
    _ingest(write_shapefiles(root / "second", lines, markers), "360000", db, SECOND)
    hunan = lines[lines["line_id"] == "3643"].assign(left_code="430000", right_code="360000", name="湖南—江西线")
    _ingest(write_shapefiles(root / "hn", hunan, None, stem="湖南省"), "430000", db, HUNAN)
    with open_store(db) as store:
        users = UserStore(store)
        for name, (role, province) in ACCOUNTS.items():
            users.add(name, PASSWORD, role, province)


@contextmanager
def surveyed_database(request, backend: str, folder: Path, jx_lines, jx_markers):
    """An empty database of ``backend`` filled by :func:`fill`; its URL."""
    with empty_database(request, backend, folder) as db:
        fill(db, folder, jx_lines, jx_markers)
        yield db
