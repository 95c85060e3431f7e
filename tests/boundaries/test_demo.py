"""The national demo end to end: every province's delivery ingested, exported, and given back unchanged."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest

from boundaries.demo import demo_dir, load_demo
from boundaries.store import open_store
from tests.conftest import run_cli

MANIFEST = json.loads((demo_dir() / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    summaries = list(load_demo(str(db)))
    return db, summaries


def test_every_province_submission_is_accepted(demo_db):
    _db, summaries = demo_db
    assert len(summaries) == len(MANIFEST["submissions"]) == 30
    assert all("0 errors" in line and "submission" in line for line in summaries), summaries


def test_export_gives_back_the_same_features(demo_db, tmp_path, capsys):
    db, _ = demo_db
    for layer in ("lines", "markers"):
        assert run_cli(capsys, "--db", db, "export", layer, "-o", tmp_path / f"{layer}.geojson")[0] == 0
    lines = gpd.read_file(tmp_path / "lines.geojson")
    markers = gpd.read_file(tmp_path / "markers.geojson")
    expected_lines = sorted(i for s in MANIFEST["submissions"] for i in s["line_ids"])
    assert sorted(lines.line_id) == expected_lines
    assert len(markers) == sum(s["markers"] for s in MANIFEST["submissions"])
    assert markers.marker_id.str.fullmatch(r"\d{4}\d{3}[QAB]").all()
    # lengths per province to 0.1 %, geodesic as the manifest measured them
    geod = lines.crs.get_geod()
    lines["km"] = [geod.geometry_length(g) / 1000 for g in lines.geometry]
    km = lines.groupby("province").km.sum()
    for entry in MANIFEST["submissions"]:
        assert km[entry["province"]] == pytest.approx(entry["length_km"], rel=1e-3), entry["name"]


def test_declared_coordinates_survive_the_round_trip(demo_db):
    db, _ = demo_db
    markers = open_store(str(db)).read_layer("markers")
    assert np.isfinite(markers[["x", "y"]].to_numpy()).all()
    assert markers.x.between(2_000_000, 6_000_000).all()  # northings of China, in metres


def test_demo_database_opens_in_gdal(demo_db):
    db, _ = demo_db
    info = pyogrio.read_info(db, layer="lines")
    assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "MultiLineString"
    assert info["features"] == len(sorted(i for s in MANIFEST["submissions"] for i in s["line_ids"]))
