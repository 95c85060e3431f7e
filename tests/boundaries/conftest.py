"""Fixtures of the legal-time and change-report tests (issue 15): two dated surveys of the real 江西 lines
(:mod:`tests.boundaries.planted`) in a database of each backend."""

from __future__ import annotations

import pytest

from tests.boundaries import planted
from tests.conftest import run_cli, write_shapefiles


@pytest.fixture
def two_surveys(tmp_path, jx_lines, jx_markers):
    """The first survey (as loaded) and the second (the planted changes), as delivered shapefiles."""
    lines, markers = planted.resurvey(jx_lines, jx_markers)
    return (write_shapefiles(tmp_path / "first", jx_lines, jx_markers),
            write_shapefiles(tmp_path / "second", lines, markers))


def cli(capsys, *args) -> tuple[int, str, str]:
    """``quhua ARGS``: the exit code, stdout and stderr."""
    from boundaries.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ingest_jx(capsys, db, paths, *extra) -> tuple[int, str]:
    code, out, _err = cli(capsys, "--db", db, "--lang", "en", "ingest", *paths, "--province", "360000", *extra)
    return code, out


@pytest.fixture
def surveyed(db_url, capsys, two_surveys) -> str:
    """A database holding the first survey in force from 2017-05-01 and the second from 2021-03-15."""
    first, second = two_surveys
    assert run_cli(capsys, "--db", db_url, "init")[0] == 0
    assert ingest_jx(capsys, db_url, first, "--valid-from", "2017-05-01")[0] == 0
    assert ingest_jx(capsys, db_url, second, "--valid-from", "2021-03-15")[0] == 0
    return db_url
