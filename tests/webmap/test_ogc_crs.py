"""OGC API – Features Part 2 (CRS by reference): CGCS2000 (EPSG:4490, lat/lon) and its Gauss-Krüger zones
(EPSG:4491–4554, northing/easting), ``crs``, ``bbox-crs``, ``Content-Crs`` and ``storageCrs``, checked
against the markers' own surveyed coordinates, through the core functions and GDAL's OAPIF driver."""

from __future__ import annotations

import json

import numpy as np
import pytest

from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD
from webmap import ogc

BASE = "http://example.test/ogc"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
#: CGCS2000 / 3-degree Gauss-Krüger CM 114E: the zone 江西's markers 3642… were surveyed in (x north, y east)
GK_114E = EPSG + "4547"


@pytest.fixture(scope="module")
def store(web_db):
    with open_store(web_db) as s:
        yield s


def _markers(store, **args) -> tuple[dict, dict]:
    headers, status, content = ogc.items(store, BASE, "markers", {"limit": "1000", "line_id": "3642", **args})
    assert status == 200, content
    return headers, {f["properties"]["marker_id"]: f for f in json.loads(content)["features"]}


def test_collections_offer_cgcs2000_and_its_gauss_kruger_zones():
    collection = json.loads(ogc.collection(BASE, "markers")[2])
    assert collection["storageCrs"] == EPSG + "4490"
    assert collection["crs"][0] == ogc.CRS84 and len(collection["crs"]) == 2 + 64
    assert {EPSG + "4491", EPSG + "4554", GK_114E} <= set(collection["crs"])
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in ogc.CONFORMANCE


def test_gauss_kruger_coordinates_are_the_surveyed_ones(store):
    headers, markers = _markers(store, crs=GK_114E)
    assert headers["Content-Crs"] == f"<{GK_114E}>" and len(markers) == 39
    served = np.array([m["geometry"]["coordinates"] for m in markers.values()])
    surveyed = np.array([[m["properties"]["x"], m["properties"]["y"]] for m in markers.values()])
    assert np.abs(served - surveyed).max() < 0.01  # northing, easting: within 1 cm of the survey
    assert 3.2e6 < served[:, 0].min() and served[:, 1].max() < 1e6  # northing first; easting without zone


def test_cgcs2000_is_latitude_first(store):
    headers, lat_lon = _markers(store, crs=EPSG + "4490")
    _h, lon_lat = _markers(store)
    assert headers["Content-Crs"] == f"<{EPSG}4490>" and _h["Content-Crs"] == f"<{ogc.CRS84}>"
    for marker_id, feature in lon_lat.items():
        assert lat_lon[marker_id]["geometry"]["coordinates"] == feature["geometry"]["coordinates"][::-1]


def test_bbox_crs_selects_the_same_markers_in_any_crs(store):
    _h, in_degrees = _markers(store, bbox="113.9,29.0,114.0,29.1")
    _h, in_lat_lon = _markers(store, bbox="29.0,113.9,29.1,114.0", **{"bbox-crs": EPSG + "4490"})
    x, y = (np.array([m["properties"][k] for m in in_degrees.values()]) for k in ("x", "y"))
    box = f"{x.min() - 1},{y.min() - 1},{x.max() + 1},{y.max() + 1}"
    _h, in_metres = _markers(store, bbox=box, **{"bbox-crs": GK_114E})
    assert 0 < len(in_degrees) < 39 and set(in_degrees) == set(in_lat_lon)
    assert set(in_degrees) <= set(in_metres)


def test_one_feature_in_a_crs(store):
    _h, markers = _markers(store)
    feature = markers["3642003Q"]
    headers, status, content = ogc.item(store, BASE, "markers", str(feature["id"]), {"crs": GK_114E})
    x, y = json.loads(content)["geometry"]["coordinates"]
    assert status == 200 and headers["Content-Crs"] == f"<{GK_114E}>"
    assert abs(x - feature["properties"]["x"]) < 0.01 and abs(y - feature["properties"]["y"]) < 0.01


@pytest.mark.parametrize("args", [{"crs": EPSG + "3857"}, {"bbox-crs": EPSG + "4326", "bbox": "1,2,3,4"},
                                  {"crs": "EPSG:4490"}], ids=["web-mercator", "bbox-crs-4326", "not-a-uri"])
def test_other_crs_are_400(store, args):
    _h, status, content = ogc.items(store, BASE, "markers", args)
    assert status == 400 and "4491" in json.loads(content)["description"]


def test_gdal_oapif_reads_in_a_gauss_kruger_zone(server):
    """GDAL's OAPIF driver asked for EPSG:4547 (its CRS open option) gets the surveyed coordinates."""
    import pyogrio

    pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": f"ana:{PASSWORD}", "GDAL_HTTP_AUTH": "BASIC"})
    try:
        markers = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="markers", CRS="EPSG:4547")
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_USERPWD": None, "GDAL_HTTP_AUTH": None})
    assert markers.crs.to_epsg() == 4547 and len(markers) == 110
    mine = markers[markers["line_id"] == "3642"]
    # GDAL gives easting as x, northing as y (its GIS-friendly order); the survey's x is the northing
    assert np.abs(mine.geometry.y - mine["x"].astype(float)).max() < 0.01
    assert np.abs(mine.geometry.x - mine["y"].astype(float)).max() < 0.01
