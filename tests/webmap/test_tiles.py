"""Vector tiles (webmap/tiles.py) on both databases: GDAL's MVT driver decodes them with the stored features
and attributes, the access matrix of the API holds cell by cell (sessions and HTTP Basic), caching headers,
empty tiles, and the OGC API – Tiles resources that lead to the same tiles."""

from __future__ import annotations

import base64
import gzip

import morecantile
import pyogrio
import pytest
import shapely

from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD, login
from webmap import ogc, tiles

TMS = morecantile.tms.get("WebMercatorQuad")
MVT = "application/vnd.mapbox-vector-tile"


def _basic(name: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()}


def _current(db: str, layer: str):
    with open_store(db) as store:
        return store.read_layer(layer)


def _tile_of(line: shapely.Geometry, z: int) -> tuple[int, int, int]:
    """The tile at zoom ``z`` holding the middle of ``line``."""
    point = line.interpolate(0.5, normalized=True)
    tile = TMS.tile(point.x, point.y, z)
    return z, tile.x, tile.y


def _read_tile(body: bytes, z: int, x: int, y: int, folder, layer: str = "lines"):
    """The tile as GDAL's MVT driver reads it (georeferenced by its z/x/y), in EPSG:4326 lon/lat."""
    path = folder / f"{z}-{x}-{y}.mvt"
    path.write_bytes(body)
    frame = pyogrio.read_dataframe(f"MVT:{path}", layer=layer, X=str(x), Y=str(y), Z=str(z))
    return frame.to_crs(4326)


@pytest.fixture
def line_3642(web_db):
    lines = _current(web_db, "lines")
    return lines[lines["line_id"] == "3642"].iloc[0]


def test_gdal_decodes_a_tile_with_the_stored_features_and_attributes(client, web_db, line_3642, tmp_path):
    z, x, y = _tile_of(line_3642.geometry, 9)
    response = client.get(f"/tiles/lines/{z}/{x}/{y}.mvt", headers=_basic("ana"))
    assert response.status_code == 200 and response.mimetype == MVT
    frame = _read_tile(response.data, z, x, y, tmp_path)
    stored = _current(web_db, "lines")
    box = shapely.box(*TMS.bounds(morecantile.Tile(x, y, z)))
    expected = stored[stored.intersects(box)]
    assert sorted(frame["line_id"]) == sorted(expected["line_id"])
    got = frame[frame["line_id"] == "3642"].iloc[0]
    for name in ("name", "left_code", "right_code", "province", "status"):
        assert got[name] == line_3642[name], name
    assert got["name"] == "江西—湖北线" and int(got["submission_id"]) == int(line_3642["submission_id"])
    # the drawn line lies on the stored one, within the tile's pixel at z9 (about 300 m)
    clipped = shapely.clip_by_rect(line_3642.geometry, *box.bounds)
    assert shapely.hausdorff_distance(got.geometry, clipped) < 360 / 256 / 2**9


def test_lines_are_simplified_for_the_zoom(client, line_3642, tmp_path):
    """At z5 the tile holds a few vertices per line, at z12 close to the stored ones: a national view stays
    small (the county network's figures are in README, from scripts/bench_tiles.py)."""
    counts = {}
    for z in (5, 12):
        z, x, y = _tile_of(line_3642.geometry, z)
        body = client.get(f"/tiles/lines/{z}/{x}/{y}.mvt", headers=_basic("ana")).data
        frame = _read_tile(body, z, x, y, tmp_path)
        counts[z] = int(shapely.get_num_coordinates(frame[frame["line_id"] == "3642"].geometry.values).sum())
    stored = shapely.get_num_coordinates(line_3642.geometry)
    assert counts[5] < stored / 10, (counts, stored)
    assert counts[5] < counts[12]


def test_markers_tile_carries_the_declared_coordinates(client, web_db, tmp_path):
    markers = _current(web_db, "markers")
    marker = markers[markers["marker_id"] == "3642003Q"].iloc[0]
    tile = TMS.tile(marker.geometry.x, marker.geometry.y, 14)
    response = client.get(f"/tiles/markers/14/{tile.x}/{tile.y}.mvt", headers=_basic("boss"))
    assert response.status_code == 200
    frame = _read_tile(response.data, 14, tile.x, tile.y, tmp_path, "markers")
    got = frame[frame["marker_id"] == "3642003Q"].iloc[0]
    assert got["line_id"] == "3642" and got["marker_type"] == marker["marker_type"]
    assert got["x"] == pytest.approx(marker["x"]) and got["y"] == pytest.approx(marker["y"])
    assert got.geometry.distance(marker.geometry) < 360 / 256 / 2**14 / 16  # the 4096 grid at z14: ~2 m


def _line_ids(client, url: str, headers: dict | None = None) -> set[str] | int:
    response = client.get(url, headers=headers or {})
    if response.status_code == 204:
        return set()
    if response.status_code != 200:
        return response.status_code
    import mapbox_vector_tile

    return {f["properties"]["line_id"] for f in mapbox_vector_tile.decode(response.data)["lines"]["features"]}


@pytest.fixture
def tile_3642(line_3642):
    """A z10 tile on the middle of 江西—湖北 (3642), far from 湖南: no line of 43 in it."""
    return _tile_of(line_3642.geometry, 10)


@pytest.mark.parametrize("who", ["session", "basic"])
def test_the_access_matrix_cell_by_cell(app, who, tile_3642, web_db):
    """Anonymous 401 (with a Basic challenge); 湖南's surveyor gets no line of 江西—湖北 (3642): its tile is
    empty for them, full for 江西's surveyor and for official and analyst; ``province=`` of another province
    is 403 for a surveyor."""
    z, x, y = tile_3642
    url = f"/tiles/lines/{z}/{x}/{y}.mvt"

    def ids(name, query=""):
        client = app.test_client()
        if who == "session":
            assert login(client, name).status_code == 302
            return _line_ids(client, url + query)
        return _line_ids(client, url + query, _basic(name))

    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert "3642" in ids("jx") and "3642" in ids("boss") and "3642" in ids("ana")
    assert ids("hn") == set()  # 204: nothing of 湖南's in it
    assert ids("hn", "?province=360000") == 403 and ids("jx", "?province=430000") == 403
    assert ids("hn", "?province=430000") == set()
    assert "3642" not in ids("ana", "?province=430000") and "3642" in ids("ana", "?province=360000")


def test_a_surveyor_sees_the_neighbours_version_of_a_shared_line(app, web_db):
    """湖南's surveyor reads 3643 (湖南—江西) in both versions, 江西's and their own, and no other line."""
    lines = _current(web_db, "lines")
    line = lines[lines["line_id"] == "3643"].iloc[0]
    z, x, y = _tile_of(line.geometry, 8)
    client = app.test_client()
    response = client.get(f"/tiles/lines/{z}/{x}/{y}.mvt", headers=_basic("hn"))
    import mapbox_vector_tile

    features = mapbox_vector_tile.decode(response.data)["lines"]["features"]
    assert {(f["properties"]["line_id"], f["properties"]["province"]) for f in features} == {
        ("3643", "360000"), ("3643", "430000")}


def test_caching_headers_and_revalidation(client, tile_3642):
    z, x, y = tile_3642
    url = f"/tiles/lines/{z}/{x}/{y}.mvt"
    first = client.get(url, headers=_basic("ana"))
    assert first.status_code == 200
    assert "private" in first.headers["Cache-Control"] and "Authorization" in first.headers["Vary"]
    again = client.get(url, headers=_basic("ana") | {"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # another reader's scope is another ETag: 湖南's surveyor cannot revalidate into the analyst's tile
    other = client.get(url, headers=_basic("hn") | {"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 204 and other.headers["ETag"] != first.headers["ETag"]
    packed = client.get(url, headers=_basic("ana") | {"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.data) == first.data


def test_an_empty_tile_is_204_and_bad_tiles_are_refused(client):
    tile = TMS.tile(87.6, 43.8, 8)  # 乌鲁木齐: no line stored there
    assert client.get(f"/tiles/lines/8/{tile.x}/{tile.y}.mvt", headers=_basic("ana")).status_code == 204
    for url, status in (("/tiles/lines/3/8/0.mvt", 404), ("/tiles/lines/21/0/0.mvt", 404),
                        ("/tiles/names/3/6/3.mvt", 404), ("/tiles/lines/3/6/3.mvt?bbox=1,2,3,4", 400),
                        ("/tiles/lines/3/6/3.mvt?province=99", 400)):
        response = client.get(url, headers=_basic("ana"))
        assert response.status_code == status, url
        assert response.is_json and response.json["description"], url


def test_ogc_api_tiles_leads_to_the_same_tiles(client, tile_3642):
    headers = _basic("ana")
    assert set(tiles.TILE_LAYERS) == set(ogc.TILED)
    conformance = client.get("/ogc/conformance", headers=headers).json["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    landing = client.get("/ogc", headers=headers).json
    schemes = next(link["href"] for link in landing["links"] if link["rel"].endswith("/tiling-schemes"))
    tms = client.get(schemes, headers=headers).json["tileMatrixSets"][0]
    definition = client.get(tms["links"][0]["href"], headers=headers).json
    assert definition["crs"].endswith("EPSG/0/3857") and len(definition["tileMatrices"]) == 25
    collection = client.get("/ogc/collections/lines", headers=headers).json
    tilesets = next(link["href"] for link in collection["links"] if link["rel"].endswith("/tilesets-vector"))
    tileset_url = client.get(tilesets, headers=headers).json["tilesets"][0]["links"][0]["href"]
    tileset = client.get(tileset_url, headers=headers).json
    assert tileset["dataType"] == "vector" and tileset["layers"][0]["id"] == "lines"
    assert set(tileset["layers"][0]["propertiesSchema"]["properties"]) == set(tiles.TILE_LAYERS["lines"][1])
    limits = {lim["tileMatrix"]: lim for lim in tileset["tileMatrixSetLimits"]}
    z, x, y = tile_3642
    assert limits[str(z)]["minTileCol"] <= x <= limits[str(z)]["maxTileCol"]
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    url = template.format(tileMatrix=z, tileRow=y, tileCol=x)
    via_ogc = client.get(url, headers=headers)
    assert via_ogc.status_code == 200 and via_ogc.data == client.get(f"/tiles/lines/{z}/{x}/{y}.mvt",
                                                                     headers=headers).data
    assert "tiles" not in {link["rel"] for link in client.get("/ogc/collections/names", headers=headers).json["links"]}
    tilejson = client.get("/tiles/lines.json", headers=headers).json
    assert tilejson["tiles"][0].endswith("/tiles/lines/{z}/{x}/{y}.mvt")
    assert tilejson["vector_layers"][0]["fields"]["submission_id"] == "integer"
    assert client.get("/ogc/collections/lines/tiles").status_code == 401


def test_gdal_reads_the_tiles_over_http_with_basic_auth(server, line_3642, tmp_path):
    """GDAL's MVT driver fetches a tile from ``quhua serve`` itself (``MVT:`` + URL), with HTTP Basic."""
    z, x, y = _tile_of(line_3642.geometry, 9)
    options = {"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"ana:{PASSWORD}"}
    pyogrio.set_gdal_config_options(options)
    try:
        frame = pyogrio.read_dataframe(f"MVT:{server}/tiles/lines/{z}/{x}/{y}.mvt", layer="lines",
                                       X=str(x), Y=str(y), Z=str(z))
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(options))
    assert "3642" in set(frame["line_id"]) and frame.crs.to_epsg() == 3857


@pytest.mark.parametrize(("threshold", "user", "tiled"), [
    (0, "boss", True), (0, "ana", True), (0, "jx", False), (0, None, False), (None, "boss", False)])
def test_the_overview_draws_large_lines_from_tiles_for_who_may_read_them(web_db, tmp_path, threshold, user,
                                                                         tiled):
    """Above ``TILES_ABOVE_VERTICES`` (default 50,000; the test lines have fewer) an official's or analyst's
    overview loads the lines as tiles instead of embedding them; anonymous readers and surveyors (who may
    not read every province's tiles) keep the embedded, generalised lines."""
    from webmap import create_app

    config = {"QUHUA_DB": web_db, "TESTING": True, "SECRET_KEY": "test", "UPLOAD_DIR": str(tmp_path)}
    if threshold is not None:
        config["TILES_ABOVE_VERTICES"] = threshold
    client = create_app(config).test_client()
    if user:
        assert login(client, user).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert ("quhua.tileLayer" in html) == tiled and ("vectorgrid/Leaflet.VectorGrid" in html) == tiled
    assert ('"line_id": "3642"' in html) == (not tiled)
