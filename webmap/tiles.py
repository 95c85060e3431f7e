"""Mapbox Vector Tiles (MVT 2.1) of the boundary lines and markers, for national views that cannot be
GeoJSON in a page (issue 14): ``/tiles/{layer}/{z}/{x}/{y}.mvt`` in WebMercatorQuad (XYZ, EPSG:3857), the
same tiles as OGC API – Tiles under ``/ogc`` (``tileMatrixSets``, ``collections/{id}/tiles``, tileset
metadata and ``…/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}``), and a TileJSON per layer
(``/tiles/{layer}.json``, as QGIS and MapLibre read it).

Each tile holds one layer named after the collection (``lines``: line_id, name, left_code, right_code,
province, status, submission_id; ``markers``: marker_id, marker_type, line_id, x, y, lon, lat, h,
province, submission_id), the store's ``fid`` as the feature id, geometries in the tile's 4096 grid with a
64-unit buffer. Lines are simplified (Douglas–Peucker) to half a screen pixel of the zoom, in degrees
(360° / 256·2^z / 2), before they are projected: on the county network (2.0 million vertices) the z4 tile
over eastern China holds 3,796 lines with 10,460 vertices (316 kB). Only current features; empty tiles
are ``204 No Content``.

Who may read them is the API's matrix (:func:`webmap.auth.can`): every account (HTTP Basic too),
anonymous 401; a surveyor gets the data that concerns their own province (``province=Q`` of another is
403), as the ``/ogc`` items. Responses carry ``Cache-Control: private`` (controlled data: no shared cache)
and an ``ETag`` naming the database state (:func:`webmap.db.db_signature`), the tile and the reader's
scope, so a browser revalidates with a 304 and the server keeps recent tiles in memory.

Encoding. On PostGIS the database does it (``ST_AsMVT``/``ST_AsMVTGeom`` over ``ST_Simplify`` and
``ST_Transform``, through the GiST index): nothing but the tile leaves the database. On the GeoPackage the
features are read through the store (:func:`fetch_features`, the one read, ready to move to the store's
paged query), simplified with shapely, projected with pyproj, clipped to the buffered tile and snapped to
the grid with NumPy, and encoded by the ``mapbox-vector-tile`` package (tilezen's, on PyPI, MIT; 2.2.0 of
2025): SQLite has no MVT encoder, and the protobuf layout (zig-zag deltas, command integers, key/value
tables) is exactly what a maintained encoder exists for. Its own quantiser transforms point by point in
Python, so the grid snapping is done here, vectorised, and the encoder gets integer coordinates
(``y_coord_down``).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from urllib.parse import urlencode

import mapbox_vector_tile
import morecantile
import numpy as np
import shapely
from cachetools import LRUCache
from flask import Blueprint, Response, current_app, request
from pyproj import Transformer

from boundaries.store import Store
from webmap import ogc
from webmap.auth import authorize, current_user, province_scope, requires
from webmap.db import db_signature, get_store, is_postgres

__all__ = ["EXTENT", "MVT", "TILE_LAYERS", "bp", "fetch_features", "init_app", "openapi_paths", "overview_tiles",
           "render_tile", "tile_url", "tolerance_degrees"]

bp = Blueprint("tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"
TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT, BUFFER = 4096, 64  # the tile's grid and the margin drawn beyond its edge (tile units)
MIN_ZOOM, MAX_ZOOM = 0, 20
#: layer → (geometry type as OGC API – Tiles names it, the properties carried in the tile)
TILE_LAYERS = {
    "lines": ("lines", ("line_id", "name", "left_code", "right_code", "province", "status", "submission_id")),
    "markers": ("points", ("marker_id", "marker_type", "line_id", "x", "y", "lon", "lat", "h", "province",
                           "submission_id")),
}
_LOCAL = threading.local()  # a pyproj Transformer per thread (waitress serves from several)
_VERSION = "1"  # part of every ETag: change it when the tiles' content changes for the same data
_CACHE_BYTES = 64 * 1024 * 1024
_WORLD = 20037508.342789244  # half the width of WebMercatorQuad, metres


# -- tiles ------------------------------------------------------------------------------------------------------
def tolerance_degrees(z: int) -> float:
    """Half a screen pixel (256-pixel tiles) at zoom ``z``, in degrees of longitude: the simplification."""
    return 360.0 / (256 * 2**z) / 2


def _bounds(z: int, x: int, y: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The tile's (W, S, E, N) in EPSG:3857 metres, and its buffered box in degrees (the features to read)."""
    merc = TMS.xy_bounds(morecantile.Tile(x, y, z))
    pad = (merc.right - merc.left) * BUFFER / EXTENT
    w, s = TMS.lnglat(max(merc.left - pad, -_WORLD), max(merc.bottom - pad, -_WORLD))
    e, n = TMS.lnglat(min(merc.right + pad, _WORLD), min(merc.top + pad, _WORLD))
    return tuple(merc), (w, s, e, n)


def fetch_features(store: Store, layer: str, bbox: tuple[float, ...], province: str | None):
    """The current features of ``layer`` intersecting ``bbox`` (degrees) that concern ``province`` (None:
    all), with the tile's properties, in fid order: the one place tiles read features from the store."""
    frame = store.read_layer(layer, province=province, bbox=bbox)
    return frame[["fid", *TILE_LAYERS[layer][1], "geometry"]]


def _mercator() -> Transformer:
    if not hasattr(_LOCAL, "transformer"):
        _LOCAL.transformer = Transformer.from_crs(4490, 3857, always_xy=True)
    return _LOCAL.transformer


def _plain(value):
    """A property value as MVT carries it: None (and NaN) are left out, NumPy scalars become Python's."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _encode_frame(frame, layer: str, z: int, x: int, y: int) -> bytes:
    """The GeoPackage's tile: simplify (lines), project, clip to the buffered tile, snap to the grid, encode."""
    (left, bottom, right, top), _ = _bounds(z, x, y)
    geometry = np.asarray(frame.geometry.values, dtype=object)
    if TILE_LAYERS[layer][0] == "lines":
        geometry = shapely.simplify(geometry, tolerance_degrees(z), preserve_topology=False)
    geometry = shapely.transform(geometry, lambda xy: np.column_stack(_mercator().transform(xy[:, 0], xy[:, 1])))
    pad = (right - left) * BUFFER / EXTENT
    geometry = shapely.clip_by_rect(geometry, left - pad, bottom - pad, right + pad, top + pad)
    scale = EXTENT / (right - left)
    geometry = shapely.transform(geometry, lambda xy: np.round(
        np.column_stack([(xy[:, 0] - left) * scale, (top - xy[:, 1]) * scale])))
    names = TILE_LAYERS[layer][1]
    features = []
    for fid, shape, *values in zip(frame["fid"], geometry, *(frame[n] for n in names), strict=True):
        if shape is None or shape.is_empty:
            continue
        properties = {n: v for n, v in zip(names, map(_plain, values), strict=True) if v is not None}
        features.append({"geometry": shape, "properties": properties, "id": int(fid)})
    if not features:
        return b""
    return mapbox_vector_tile.encode([{"name": layer, "features": features}],
                                     default_options={"extents": EXTENT, "y_coord_down": True})


def _postgis_tile(store: Store, layer: str, z: int, x: int, y: int, province: str | None) -> bytes:
    """The PostGIS tile, built by the database (``ST_AsMVT``); the same features, properties and
    simplification as :func:`_encode_frame`. The province filter is the store's own clause."""
    from boundaries.store._sql import _province_clause

    names = TILE_LAYERS[layer][1]
    simplify = TILE_LAYERS[layer][0] == "lines"
    geom = "ST_Simplify(geom, %s, true)" if simplify else "geom"
    _, box = _bounds(z, x, y)
    where, params = ["status = 'current'", "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)"], list(box)
    if province:
        clause, clause_params = _province_clause(layer, province)
        where.append(clause.replace("?", "%s"))
        params += clause_params
    columns = ", ".join(f'"{n}"' for n in names)
    # Projected as WGS 84 (ST_SetSRID 4326): CGCS2000 and WGS 84 agree to centimetres and PROJ's 4490 → 3857
    # is that same null datum shift (identical coordinates), but looking the 4490 pipeline up costs each new
    # connection — and every request opens one — 150–300 ms, against 35 ms for 4326 → 3857.
    sql = (f"SELECT ST_AsMVT(t, %s, {EXTENT}, 'geom', 'fid') FROM (SELECT fid, {columns}, "
           f"ST_AsMVTGeom(ST_Transform(ST_SetSRID({geom}, 4326), 3857), ST_TileEnvelope(%s, %s, %s), {EXTENT}, "
           f'{BUFFER}, true) AS geom FROM "{layer}" WHERE {" AND ".join(where)} ORDER BY fid) AS t '
           "WHERE geom IS NOT NULL")
    head = [layer] + ([tolerance_degrees(z)] if simplify else []) + [z, x, y]
    row = store.connection().execute(sql, head + params).fetchone()
    return bytes(row[0]) if row and row[0] else b""


def render_tile(store: Store, layer: str, z: int, x: int, y: int, province: str | None = None) -> bytes:
    """The MVT bytes of tile ``z/x/y`` of ``layer`` (current features concerning ``province``, None: all);
    empty bytes when no feature falls in it."""
    if is_postgres(store):
        return _postgis_tile(store, layer, z, x, y, province)
    _, box = _bounds(z, x, y)
    frame = fetch_features(store, layer, box, province)
    return _encode_frame(frame, layer, z, x, y) if len(frame) else b""


# -- HTTP -------------------------------------------------------------------------------------------------------
def _json_error(status: int, code: str, description: str) -> Response:
    headers, status, body = ogc.json_response({"code": code, "description": description}, status)
    return Response(body, status=status, headers=headers)


def _scope(layer: str) -> str | None:
    """The province whose data this reader gets: ``province=`` if given and allowed (403 otherwise), else
    a surveyor's own, else None (all); raises ValueError for a bad ``province``."""
    asked = request.args.get("province")
    province = ogc.parse_items_query({"province": asked})["province"] if asked else None
    if province:
        authorize("province", province)
        return province
    return province_scope(current_user())


def _tile_response(layer: str, z: int, x: int, y: int) -> Response:
    if layer not in TILE_LAYERS:
        return _json_error(404, "NotFound", f"no tiles of {layer!r}; the tiled layers are {', '.join(TILE_LAYERS)}")
    unknown = sorted(set(request.args) - {"province", "f"})
    if unknown:
        return _json_error(400, "InvalidParameterValue", f"unknown parameter {', '.join(unknown)}; tiles take "
                                                         "province (and f=mvt) only")
    if request.args.get("f", "mvt") != "mvt":
        return _json_error(400, "InvalidParameterValue", "f: tiles are served as mvt only")
    if not (MIN_ZOOM <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        return _json_error(404, "NotFound", f"no tile {z}/{x}/{y} in WebMercatorQuad (zoom {MIN_ZOOM}…{MAX_ZOOM}, "
                                            f"x and y 0…2^zoom−1)")
    try:
        province = _scope(layer)
    except ogc.QueryError as err:
        return _json_error(400, "InvalidParameterValue", str(err))
    store = get_store()
    gzipped = "gzip" in request.accept_encodings
    state = repr((db_signature(store), _VERSION, layer, z, x, y, province)).encode()
    etag = hashlib.sha256(state).hexdigest()[:32] + ("-gz" if gzipped else "")
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, max-age=60",
               "Vary": "Cookie, Authorization, Accept-Encoding"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    cache, lock = current_app.extensions["quhua.tiles"]
    with lock:
        body = cache.get(etag)
    if body is None:
        began = time.perf_counter()
        body = render_tile(store, layer, z, x, y, province)
        if body and gzipped:  # 2.8× smaller for a national tile (316 → 112 kB at z4), 24 ms
            body = gzip.compress(body, 6)
        headers["Server-Timing"] = f"tile;dur={(time.perf_counter() - began) * 1000:.1f}"
        with lock:
            cache[etag] = body
    if not body:
        return Response(status=204, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(body, status=200, mimetype=MVT, headers=headers)


@bp.route("/tiles/<layer>/<int:z>/<int:x>/<int:y>.mvt")
@requires("api")
def tile(layer: str, z: int, x: int, y: int):
    """One vector tile (XYZ order, as Leaflet, QGIS and GDAL's MVT driver ask)."""
    return _tile_response(layer, z, x, y)


@bp.route("/ogc/collections/<cid>/tiles/<tileMatrixSetId>/<int:tileMatrix>/<int:tileRow>/<int:tileCol>")
@requires("api")
def ogc_tile(cid: str, tileMatrixSetId: str, tileMatrix: int, tileRow: int, tileCol: int):
    """The same tile by OGC API – Tiles' ``{tileMatrix}/{tileRow}/{tileCol}``."""
    if tileMatrixSetId != TMS.id:
        return _json_error(404, "NotFound", f"no tile matrix set {tileMatrixSetId!r}; the one served is {TMS.id}")
    return _tile_response(cid, tileMatrix, tileCol, tileRow)


def overview_tiles(lines) -> str | None:
    """The XYZ template the overview draws its lines from instead of embedding ``lines`` (the simplified
    national lines), or None: tiles when the reader may read every province's lines (anonymous readers and
    surveyors keep the embedded, generalised lines: tiles are controlled data) and ``lines`` has more
    vertices than ``TILES_ABOVE_VERTICES``."""
    user = current_user()
    if user is None or province_scope(user) is not None:
        return None
    vertices = int(shapely.get_num_coordinates(np.asarray(lines.geometry.values)).sum()) if len(lines) else 0
    if vertices <= current_app.config["TILES_ABOVE_VERTICES"]:
        return None
    return tile_url("lines", request.script_root)


# -- metadata: TileJSON and OGC API – Tiles ---------------------------------------------------------------------
def _root() -> str:
    return (current_app.config.get("BASE_URL") or request.url_root).rstrip("/")


def tile_url(layer: str, root: str = "", **params) -> str:
    """The XYZ template of ``layer``'s tiles (``{z}/{x}/{y}`` left for the client), with query ``params``."""
    query = ("?" + urlencode(params)) if params else ""
    return f"{root}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt{query}"


def _fields(layer: str) -> dict[str, str]:
    return {n: ogc.PROPERTIES[layer].get(n, {}).get("type", "string") for n in TILE_LAYERS[layer][1]}


@bp.route("/tiles/<layer>.json")
@requires("api")
def tilejson(layer: str):
    """TileJSON 3.0.0 of a tiled layer."""
    if layer not in TILE_LAYERS:
        return _json_error(404, "NotFound", f"no tiles of {layer!r}; the tiled layers are {', '.join(TILE_LAYERS)}")
    return {"tilejson": "3.0.0", "name": layer, "description": ogc.COLLECTIONS[layer][1], "scheme": "xyz",
            "tiles": [tile_url(layer, _root())], "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM,
            "bounds": ogc._CHINA_EXTENT, "attribution": "quhua 区划",
            "vector_layers": [{"id": layer, "fields": _fields(layer), "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM}]}


_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
_MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"


@bp.route("/ogc/tileMatrixSets")
@requires("api")
def tile_matrix_sets():
    """The tiling schemes: WebMercatorQuad only."""
    base = _root() + "/ogc"
    return {"tileMatrixSets": [{"id": TMS.id, "title": TMS.title, "uri": TMS.uri, "links": [
        {"rel": "self", "type": ogc.JSON, "href": f"{base}/tileMatrixSets/{TMS.id}"}]}]}


@bp.route("/ogc/tileMatrixSets/<tileMatrixSetId>")
@requires("api")
def tile_matrix_set(tileMatrixSetId: str):
    """The WebMercatorQuad definition (OGC Two Dimensional Tile Matrix Set 2.0, from morecantile)."""
    if tileMatrixSetId != TMS.id:
        return _json_error(404, "NotFound", f"no tile matrix set {tileMatrixSetId!r}; the one served is {TMS.id}")
    return Response(TMS.model_dump_json(exclude_none=True), mimetype=ogc.JSON)


def _limits() -> list[dict]:
    """The tiles of each zoom that cover China (``tileMatrixSetLimits``)."""
    w, s, e, n = ogc._CHINA_EXTENT
    out = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        first, last = TMS.tile(w, n, z), TMS.tile(e, s, z)
        out.append({"tileMatrix": str(z), "minTileRow": first.y, "maxTileRow": last.y,
                    "minTileCol": first.x, "maxTileCol": last.x})
    return out


def _tileset(base: str, cid: str) -> dict:
    kind, _ = TILE_LAYERS[cid]
    href = f"{base}/collections/{cid}/tiles/{TMS.id}"
    return {"title": f"{ogc.COLLECTIONS[cid][0]} ({TMS.id})", "dataType": "vector", "crs": _MERCATOR,
            "tileMatrixSetURI": TMS.uri,
            "links": [{"rel": "self", "type": ogc.JSON, "href": href},
                      {"rel": _TILING_SCHEME, "type": ogc.JSON, "href": f"{base}/tileMatrixSets/{TMS.id}"},
                      {"rel": "item", "type": MVT, "templated": True,
                       "href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"}],
            "_geometry": kind}


@bp.route("/ogc/collections/<cid>/tiles")
@requires("api")
def tilesets(cid: str):
    """The tilesets of a collection (one: WebMercatorQuad)."""
    if cid not in TILE_LAYERS:
        return _json_error(404, "NotFound", f"no tiles of {cid!r}; the tiled collections are "
                                            f"{', '.join(TILE_LAYERS)}")
    base = _root() + "/ogc"
    tileset = _tileset(base, cid)
    tileset.pop("_geometry")
    return {"links": [{"rel": "self", "type": ogc.JSON, "href": f"{base}/collections/{cid}/tiles"}],
            "tilesets": [tileset]}


@bp.route("/ogc/collections/<cid>/tiles/<tileMatrixSetId>")
@requires("api")
def tileset(cid: str, tileMatrixSetId: str):
    """A tileset's metadata: its tile URL template, the zooms and tiles with data, the layer's schema."""
    if cid not in TILE_LAYERS or tileMatrixSetId != TMS.id:
        return _json_error(404, "NotFound", f"no tileset {cid}/{tileMatrixSetId}; the tiled collections are "
                                            f"{', '.join(TILE_LAYERS)} in {TMS.id}")
    base = _root() + "/ogc"
    doc = _tileset(base, cid)
    kind = doc.pop("_geometry")
    doc["tileMatrixSetLimits"] = _limits()
    doc["layers"] = [{"id": cid, "dataType": "vector", "geometryType": kind, "minTileMatrix": str(MIN_ZOOM),
                      "maxTileMatrix": str(MAX_ZOOM),
                      "propertiesSchema": {"type": "object", "properties": {
                          n: dict(ogc.PROPERTIES[cid].get(n, {"type": "string"})) for n in TILE_LAYERS[cid][1]}}}]
    doc["links"].append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json",
                         "href": f"{base}/collections/{cid}/tiles"})
    return doc


def _path(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def openapi_paths() -> dict:
    """The OpenAPI 3.0 paths of the OGC API – Tiles resources (relative to ``/ogc``), for webmap.openapi."""
    collection = _path("collectionId", "A collection with tiles.", {"type": "string", "enum": list(TILE_LAYERS)})
    tms = _path("tileMatrixSetId", "The tiling scheme.", {"type": "string", "enum": [TMS.id]})
    cells = [_path("tileMatrix", "The zoom level.", {"type": "integer", "minimum": MIN_ZOOM, "maximum": MAX_ZOOM}),
             _path("tileRow", "The row, from the north.", {"type": "integer", "minimum": 0}),
             _path("tileCol", "The column, from the west.", {"type": "integer", "minimum": 0})]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}
    errors = {"401": {"description": "No or wrong credentials.", "content": error},
              "404": {"description": "No such collection, tiling scheme or tile.", "content": error}}

    def get(summary: str, parameters: list, content: dict, **extra) -> dict:
        responses = {"200": {"description": "Success.", "content": content}, **extra, **errors}
        return {"get": {"summary": summary, "tags": ["tiles"], "operationId": summary.replace(" ", "_"),
                        "parameters": parameters, "responses": responses}}

    json_any = {ogc.JSON: {"schema": {"type": "object"}}}
    return {
        "/tileMatrixSets": get("get tile matrix sets", [], json_any),
        "/tileMatrixSets/{tileMatrixSetId}": get("get tile matrix set", [tms], json_any),
        "/collections/{collectionId}/tiles": get("get collection tilesets", [collection], json_any),
        "/collections/{collectionId}/tiles/{tileMatrixSetId}": get("get collection tileset", [collection, tms],
                                                                   json_any),
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": get(
            "get collection tile", [collection, tms, *cells],
            {MVT: {"schema": {"type": "string", "format": "binary"}}},
            **{"204": {"description": "No feature in this tile."},
               "400": {"description": "An unknown query parameter or a bad province.", "content": error},
               "403": {"description": "The account may not read this province's data.", "content": error}}),
    }


def init_app(app) -> None:
    """The tile routes and the in-process cache of recent tiles (64 MiB, keyed by ETag)."""
    app.extensions["quhua.tiles"] = (LRUCache(maxsize=_CACHE_BYTES, getsizeof=lambda b: len(b) + 100),
                                     threading.Lock())
    app.register_blueprint(bp)
