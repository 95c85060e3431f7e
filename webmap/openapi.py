"""The OpenAPI 3.0 definition of ``/ogc`` (OGC API – Features Part 1, requirements class ``oas30``).

Built from :mod:`webmap.ogc`'s own tables (collections, properties, parameters, limits), so that it describes
what the server does: every path, every query parameter, every status code the server answers with, and the
two ways in (HTTP Basic for tools, the session cookie for the viewer). As pygeoapi, each collection has its
own ``/collections/{id}/items`` path, listing its property filters: QGIS reads the page size from
``components.parameters.limit`` and, since 3.28, the property filters from these paths.
"""

from __future__ import annotations

from webmap import ogc
from webmap.crs import CRS84, SUPPORTED

__all__ = ["document"]

_ERROR = {"type": "object", "required": ["code"],
          "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                         "description_zh": {"type": "string"}}}
_LINK = {"type": "object", "required": ["href"],
         "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                        "title": {"type": "string"}}}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_FEATURE = {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
                           "geometry": {"type": "object", "nullable": True},
                           "properties": {"type": "object", "nullable": True}, "links": _LINKS}}
_FEATURES = {"type": "object", "required": ["type", "features"],
             "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"$ref": "#/components/schemas/feature"}},
                            "links": _LINKS, "timeStamp": {"type": "string", "format": "date-time"},
                            "numberMatched": {"type": "integer", "minimum": 0},
                            "numberReturned": {"type": "integer", "minimum": 0}}}


def _query(name: str, description: str, schema: dict, **extra) -> dict:
    """A query parameter as Part 1 writes them (``form``, not exploded: QGIS reads only those)."""
    return {"name": name, "in": "query", "description": description, "required": False, "style": "form",
            "explode": False, "schema": schema, **extra}


_PARAMETERS = {
    "limit": _query("limit", f"Features per page, {ogc.MAX_LIMIT} at most.",
                    {"type": "integer", "minimum": 1, "maximum": ogc.MAX_LIMIT, "default": ogc.DEFAULT_LIMIT}),
    "offset": _query("offset", "Features to skip: the `next` link of a page gives the following one.",
                     {"type": "integer", "minimum": 0, "default": 0}),
    "after": _query("after", "Keyset paging (the `next` links use it): only the features whose id is greater "
                             "than this one, read from the index rather than skipped; with offset, offset only "
                             "numbers the page in its links.",
                    {"type": "integer", "minimum": 0}),
    "bbox": _query("bbox", "The lower and upper corner (W,S,E,N in degrees in CRS84, else in the axis order "
                           "of bbox-crs): the features that intersect this box.",
                   {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}),
    "crs": _query("crs", "The CRS of the coordinates served (Part 2), in its axis order: CRS84 (default), "
                         "EPSG:4490 (lat/lon) or a CGCS2000 Gauss-Krüger zone, EPSG:4491–4554 (northing/easting).",
                  {"type": "string", "format": "uri", "enum": SUPPORTED, "default": CRS84}),
    "bbox-crs": _query("bbox-crs", "The CRS of bbox (its axis order), one of those of crs.",
                       {"type": "string", "format": "uri", "enum": SUPPORTED, "default": CRS84}),
    "province": _query("province", "A province code (GB/T 2260), e.g. 360000 or 36: its features only.",
                       {"type": "string", "pattern": "^[0-9]{2}([0-9]{4})?$"}),
    "zoom": _query("zoom", "For maps: lines simplified to half a screen pixel at this web-map zoom.",
                   {"type": "integer", "minimum": 0, "maximum": 24}),
    "properties": _query("properties", "The properties to return, comma-separated (all by default).",
                         {"type": "array", "items": {"type": "string"}}),
    "history": _query("history", "`true`: superseded versions too (lines and markers).",
                      {"type": "boolean", "default": False}),
    "datetime": _query("datetime", "Legal time (lines and markers): the versions in force at this instant "
                                   "(RFC 3339 date-time or date; legal time counts in days: an instant stands for "
                                   "its UTC day), or on some day of an interval A/B, open with `..` "
                                   "(`../2019-06-30`, `2019-06-30/..`), whatever their status today; applied "
                                   "to valid_from/valid_to (OGC API – Features Part 1 §7.15.6). Other "
                                   "collections answer 400.",
                       {"type": "string"}),
    "collectionId": {"name": "collectionId", "in": "path", "required": True, "description": "A collection.",
                     "schema": {"type": "string", "enum": list(ogc.COLLECTIONS)}},
    "featureId": {"name": "featureId", "in": "path", "required": True, "description": "A feature's id.",
                  "schema": {"type": "string"}},
}
_STATUS = {"400": "A query parameter is malformed or unknown.", "401": "No or wrong credentials.",
           "404": "No such collection or feature.", "500": "The database is not available."}


def _responses(content: dict, *errors: str) -> dict:
    """``200`` with ``content`` (media type → schema reference) and the error codes the route answers with."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}
    responses = {"200": {"description": "Success.",
                         "content": {kind: {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                                     for kind, schema in content.items()}}}
    for code in ("401", *errors, "500"):
        responses[code] = {"description": _STATUS[code], "content": error}
    return responses


def _get(summary: str, tag: str, content: dict, *errors: str, parameters: list | None = None) -> dict:
    operation = {"summary": summary, "tags": [tag], "operationId": summary.replace(" ", "_"),
                 "responses": _responses(content, *errors)}
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _collection_paths(cid: str) -> dict:
    """``/collections/{cid}/items`` and ``…/items/{featureId}`` with the collection's property filters."""
    filters = [_query(name, f"Only the features whose {name} equals this value.", schema)
               for name, schema in ogc.PROPERTIES[cid].items() if name not in ogc.ITEMS_PARAMETERS]
    paths = {
        f"/collections/{cid}/items": _get(f"get {cid} features", cid, {ogc.GEOJSON: "featureCollection"},
                                          "400", "404",
                                          parameters=[_ref(p) for p in ogc.ITEMS_PARAMETERS] + filters),
        f"/collections/{cid}/items/{{featureId}}": _get(f"get {cid} feature", cid, {ogc.GEOJSON: "feature"},
                                                        "400", "404", parameters=[_ref("featureId"), _ref("crs")]),
    }
    for path in paths.values():  # Part 2: the CRS of the coordinates, as <URI>
        path["get"]["responses"]["200"]["headers"] = {"Content-Crs": {
            "description": "The CRS of the coordinates, e.g. <http://www.opengis.net/def/crs/EPSG/0/4490>.",
            "schema": {"type": "string"}}}
    return paths


def document(base: str) -> dict:
    """The OpenAPI 3.0 document of the API served at ``base`` (…/ogc)."""
    paths = {
        "/": _get("get landing page", "capabilities", {ogc.JSON: "landingPage"}),
        "/api": _get("get API definition", "capabilities", {ogc.OPENAPI: "any"}),
        "/api.html": _get("get API documentation", "capabilities", {"text/html": "any"}),
        "/conformance": _get("get conformance", "capabilities", {ogc.JSON: "conformance"}),
        "/collections": _get("get collections", "capabilities", {ogc.JSON: "collections"}),
        "/collections/{collectionId}": _get("describe collection", "capabilities", {ogc.JSON: "collection"},
                                            "404", parameters=[_ref("collectionId")]),
        "/collections/{collectionId}/queryables": _get("get queryables", "capabilities",
                                                       {ogc.SCHEMA: "any"}, "404",
                                                       parameters=[_ref("collectionId")]),
    }
    for cid in ogc.available_collections():
        paths.update(_collection_paths(cid))
    from webmap.tiles import openapi_paths  # OGC API – Tiles (webmap.tiles)

    paths.update(openapi_paths())
    return {
        "openapi": "3.0.3",
        "info": {"title": "quhua 区划 OGC API – Features", "version": "1.0.0",
                 "description": "The national boundary lines (界线), markers (界桩), place names (地名) and QA "
                                "issues, as OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0).",
                 "contact": {"name": "quhua"}},
        "servers": [{"url": base}],
        "tags": [{"name": "capabilities", "description": "What the API offers."}]
        + [{"name": cid, "description": ogc.COLLECTIONS[cid][1]} for cid in ogc.available_collections()]
        + [{"name": "tiles", "description": "Vector tiles (OGC API – Tiles, Mapbox Vector Tiles)."}],
        "security": [{"basicAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic",
                              "description": "A quhua account (GDAL, QGIS, scripts)."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "The viewer's session after logging in at /login."}},
            "parameters": _PARAMETERS,
            "schemas": {"exception": _ERROR, "link": _LINK, "feature": _FEATURE, "featureCollection": _FEATURES,
                        "landingPage": {"type": "object", "required": ["links"],
                                        "properties": {"title": {"type": "string"}, "links": _LINKS}},
                        "conformance": {"type": "object", "required": ["conformsTo"],
                                        "properties": {"conformsTo": {"type": "array",
                                                                      "items": {"type": "string"}}}},
                        "collection": {"type": "object", "required": ["id", "links"],
                                       "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                                      "links": _LINKS}},
                        "collections": {"type": "object", "required": ["links", "collections"],
                                        "properties": {"links": _LINKS, "collections": {
                                            "type": "array", "items": {"$ref": "#/components/schemas/collection"}}}},
                        "any": {}},
        },
    }
